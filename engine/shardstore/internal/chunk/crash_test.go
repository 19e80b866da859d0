package chunk

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

var (
	crashSeeds = flag.Int("crash.seeds", 400, "seeds for TestCrashDependencyClosed")
	crashSeed  = flag.Uint64("crash.seed", 0, "run TestCrashDependencyClosed with this one seed (replay)")
)

// hookDevice calls before(op) ahead of every WriteAt and Flush it forwards.
type hookDevice struct {
	*disk.Mem
	mu     sync.Mutex
	ops    int
	before func(op int)
}

func (h *hookDevice) tick() {
	h.mu.Lock()
	h.ops++
	op := h.ops
	h.mu.Unlock()
	if h.before != nil {
		h.before(op)
	}
}

func (h *hookDevice) WriteAt(p []byte, off int64) (int, error) {
	h.tick()
	return h.Mem.WriteAt(p, off)
}
func (h *hookDevice) Flush() error { h.tick(); return h.Mem.Flush() }

type putRecord struct {
	loc     Locator
	val     []byte
	d       dep.Dependency
	parents []int // indexes of the puts it depends on
}

// crashState is a crash image and what was known when it was taken.
type crashState struct {
	op         int
	img        *disk.Mem
	puts       int          // puts made before it
	persistent map[int]bool // puts whose dependency was persistent
	reset      map[extent.ID]bool
}

// TestCrashDependencyClosed runs random appends with random dependencies on
// disk.Mem, takes crash images at random device operations — every distinct
// crash state when there are few, sampled torn ones otherwise — recovers
// each, and checks:
//
//   - dependency closure: a chunk readable after the crash has every chunk
//     it depends on readable too (unless that one's extent was reset);
//   - persistence: a chunk whose dependency was persistent at the crash is
//     readable after it;
//   - no wrong data: every read returns the value put or an error.
//
// Replay one seed with -crash.seed=N.
func TestCrashDependencyClosed(t *testing.T) {
	seeds := make([]uint64, 0, *crashSeeds)
	if *crashSeed != 0 {
		seeds = append(seeds, *crashSeed)
	} else {
		for i := 1; i <= *crashSeeds; i++ {
			seeds = append(seeds, uint64(i))
		}
	}
	if testing.Short() && *crashSeed == 0 {
		seeds = seeds[:20]
	}
	states, enumerated := 0, 0
	for _, seed := range seeds {
		n, e := crashRun(t, seed)
		states += n
		enumerated += e
		if t.Failed() {
			t.Logf("replay: go test ./engine/shardstore/internal/chunk -run TestCrashDependencyClosed -crash.seed=%d", seed)
			return
		}
	}
	t.Logf("%d seeds, %d crash states checked (%d from exhaustive enumeration)", len(seeds), states, enumerated)
}

func crashRun(t *testing.T, seed uint64) (checked, enumerated int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 0xC0FFEE))
	opts := testOptions()
	opts.ExtentBytes = 16 << 10 // small extents: rollover and resets happen
	opts.ChunkPayloadMax = 3000
	opts.Seed = seed
	if rng.IntN(2) == 0 {
		opts.Scheduler.Policy = "fifo"
	}
	mem := disk.NewMem(256<<10, testSector)
	if err := Format(mem, opts); err != nil {
		t.Fatal(err)
	}
	dev := &hookDevice{Mem: mem}
	nops := 10 + rng.IntN(40)
	// Crash points: a few device operations, chosen up front.
	points := map[int]bool{}
	for i := 0; i < 4; i++ {
		points[1+rng.IntN(3*nops)] = true
	}
	var mu sync.Mutex // guards puts, reset, states
	var puts []putRecord
	reset := map[extent.ID]bool{}
	var states []crashState
	crng := rand.New(rand.NewPCG(seed, 0xDEAD))
	dev.before = func(op int) {
		if !points[op] {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		st := crashState{op: op, puts: len(puts), persistent: map[int]bool{}, reset: map[extent.ID]bool{}}
		for i, p := range puts {
			if p.d.IsPersistent() {
				st.persistent[i] = true
			}
		}
		for e := range reset {
			st.reset[e] = true
		}
		if imgs, err := mem.CrashStates(64); err == nil {
			for _, img := range imgs {
				s := st
				s.img = img
				states = append(states, s)
				enumerated++
			}
			return
		}
		for i := 0; i < 16; i++ {
			s := st
			s.img = mem.Crash(crng, disk.CrashTorn)
			states = append(states, s)
		}
	}
	s, err := Open(dev, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < nops; i++ {
		switch r := rng.IntN(20); {
		case r < 14:
			var parents []int
			d := dep.Dependency{}
			mu.Lock()
			for k := rng.IntN(3); k > 0 && len(puts) > 0; k-- {
				j := rng.IntN(len(puts))
				parents = append(parents, j)
				d = d.And(puts[j].d)
			}
			mu.Unlock()
			v := value(rng, rng.IntN(2500))
			l, _, pd, err := s.Append(ctx, Stream(rng.IntN(2)*2), v, d) // data or index stream
			if err != nil {
				t.Fatalf("seed %d: put: %v", seed, err)
			}
			mu.Lock()
			puts = append(puts, putRecord{loc: l, val: v, d: pd, parents: parents})
			mu.Unlock()
		case r < 16:
			if err := s.Sync(ctx); err != nil {
				t.Fatalf("seed %d: sync: %v", seed, err)
			}
		case r < 18:
			s.Seal(Stream(rng.IntN(2) * 2))
		default:
			// Reset a sealed extent that holds chunks.
			mu.Lock()
			var cands []extent.ID
			for _, p := range puts {
				e := p.loc.Extent
				if reset[e] {
					continue
				}
				open := false
				for st := range streamCount {
					if x, ok := s.OpenExtent(st); ok && x == e {
						open = true
					}
				}
				if !open {
					cands = append(cands, e)
				}
			}
			mu.Unlock()
			if len(cands) == 0 {
				continue
			}
			e := cands[rng.IntN(len(cands))]
			mu.Lock()
			reset[e] = true
			mu.Unlock()
			if _, err := s.Reset(ctx, e); err != nil {
				t.Fatalf("seed %d: reset %d: %v", seed, e, err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("seed %d: close: %v", seed, err)
	}
	// A clean shutdown persists everything not in a reset extent.
	mu.Lock()
	defer mu.Unlock()
	final := crashState{op: -1, img: mem.Crash(crng, disk.CrashTorn), puts: len(puts), persistent: map[int]bool{}, reset: reset}
	for i, p := range puts {
		if !reset[p.loc.Extent] && p.d.Err() == nil {
			if !p.d.IsPersistent() {
				t.Fatalf("seed %d: put %d (%v) not persistent after Close", seed, i, p.loc)
			}
			final.persistent[i] = true
		}
	}
	states = append(states, final)
	for _, st := range states {
		checkCrashState(t, seed, opts, st, puts)
		if t.Failed() {
			return checked, enumerated
		}
		checked++
	}
	return checked, enumerated
}

func checkCrashState(t *testing.T, seed uint64, opts Options, st crashState, puts []putRecord) {
	ctx := context.Background()
	s, err := Open(st.img, opts)
	if err != nil {
		t.Errorf("seed %d, crash at op %d: recovery failed: %v", seed, st.op, err)
		return
	}
	defer s.Close()
	readable := make([]bool, st.puts)
	for i := 0; i < st.puts; i++ {
		p := puts[i]
		got, err := s.GetChunk(ctx, p.loc)
		if err == nil {
			if !bytes.Equal(got, p.val) {
				t.Errorf("seed %d, crash at op %d: put %d (%v) read back wrong data", seed, st.op, i, p.loc)
				return
			}
			readable[i] = true
		} else if !errors.Is(err, extent.ErrBeyondWritePointer) && !errors.Is(err, extent.ErrStale) &&
			!(p.d.Err() != nil && IsFrameError(err, ReasonLocator)) {
			t.Errorf("seed %d, crash at op %d: put %d (%v): unexpected error %v", seed, st.op, i, p.loc, err)
			return
		}
		if st.persistent[i] && !readable[i] && !st.reset[p.loc.Extent] {
			t.Errorf("seed %d, crash at op %d: put %d (%v) was persistent before the crash, lost after it: %v", seed, st.op, i, p.loc, err)
			return
		}
	}
	for i := 0; i < st.puts; i++ {
		if !readable[i] {
			continue
		}
		for _, j := range puts[i].parents {
			if !readable[j] && !st.reset[puts[j].loc.Extent] {
				t.Errorf("seed %d, crash at op %d: put %d (%v) survived without put %d (%v) it depends on",
					seed, st.op, i, puts[i].loc, j, puts[j].loc)
				return
			}
		}
	}
}
