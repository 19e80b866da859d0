package chunk

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

var (
	roundSeeds = flag.Int("round.seeds", 24, "seeds for TestCrashSuperblockWithData")
	roundSeed  = flag.Uint64("round.seed", 0, "run TestCrashSuperblockWithData with this one seed (replay)")
)

// TestCrashSuperblockWithData targets the IO scheduler's write ordering: a
// round's superblock slot is prepared before the round and written
// concurrently with its data writes (Options.IODepth of them in flight),
// all covered by one flush, and it records write pointers over the round's
// own data. That is sound only if recovery catches every crash that kept
// the slot and lost some of that data (superblock.Verify falls back to the
// older slot), and if the slot records nothing else the round's writes
// make true (generations whose new data waits for the slot, and so on).
//
// Several writers put chunks with random dependencies, wait, sync, seal and
// reset extents, so that rounds often carry both data and a slot. Every
// flush epoch (the device writes between two flushes) that holds both a
// superblock write and a data write is crashed at each of its device
// writes and just before its flush: every distinct state when there are
// few, else torn and random samples. Each crash state is recovered and
// checked:
//
//   - dependency closure: a readable chunk's parents are readable (unless
//     reset);
//   - persistence: a chunk persistent before the crash is readable after it
//     (unless reset);
//   - no wrong data: a read returns the value put or an error;
//   - nothing past a write pointer is trusted: every extent, scanned up to
//     its recovered write pointer, holds only valid frames, each a chunk
//     the test put at that locator with that value, or padding.
//
// Writers run concurrently, so a seed fixes what each does, not the
// interleaving. Replay one seed with -round.seed=N.
func TestCrashSuperblockWithData(t *testing.T) {
	seeds := make([]uint64, 0, *roundSeeds)
	if *roundSeed != 0 {
		seeds = append(seeds, *roundSeed)
	} else {
		for i := 1; i <= *roundSeeds; i++ {
			seeds = append(seeds, uint64(i))
		}
	}
	if testing.Short() && *roundSeed == 0 {
		seeds = seeds[:min(len(seeds), 6)]
	}
	var total roundTotals
	for _, seed := range seeds {
		total.add(roundCrashRun(t, seed))
		if t.Failed() {
			t.Logf("replay: go test ./engine/shardstore/internal/chunk -run TestCrashSuperblockWithData -round.seed=%d", seed)
			return
		}
	}
	t.Logf("%d seeds: %d flush epochs with data and a superblock write (of %d), %d crash states checked (%d from exhaustive enumeration)",
		len(seeds), total.mixed, total.epochs, total.states, total.enumerated)
	if total.mixed == 0 {
		t.Fatal("no flush epoch carried both data and a superblock write: the test no longer exercises the ordering it targets")
	}
}

type roundTotals struct{ epochs, mixed, states, enumerated int }

func (r *roundTotals) add(o roundTotals) {
	r.epochs += o.epochs
	r.mixed += o.mixed
	r.states += o.states
	r.enumerated += o.enumerated
}

// roundState is a crash image and what was known when it was taken.
type roundState struct {
	what       string // "write 3 of epoch 7", for messages
	img        *disk.Mem
	puts       int          // puts recorded before it
	persistent map[int]bool // puts whose dependency was persistent
	resetGen   map[extent.ID]uint32
}

// epochDevice crashes the flush epochs that hold both a superblock write
// and a data write. Images are taken before each device write and before
// the flush; they are kept only if the epoch turns out to be mixed.
type epochDevice struct {
	*disk.Mem
	superBytes int64 // device offsets below it are extent 0: the superblock
	snap       func(what string, enumerate bool) []roundState

	mu       sync.Mutex
	epoch    int
	writes   int
	hasSuper bool
	hasData  bool
	pending  []roundState
	kept     []roundState
	epochs   int
	mixed    int
}

func (d *epochDevice) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	d.writes++
	if off < d.superBytes {
		d.hasSuper = true
	} else {
		d.hasData = true
	}
	d.pending = append(d.pending, d.snap(fmt.Sprintf("write %d of epoch %d", d.writes, d.epoch), false)...)
	d.mu.Unlock()
	return d.Mem.WriteAt(p, off)
}

func (d *epochDevice) Flush() error {
	d.mu.Lock()
	if d.writes > 0 {
		d.epochs++
	}
	if d.hasSuper && d.hasData {
		d.mixed++
		d.kept = append(d.kept, d.pending...)
		d.kept = append(d.kept, d.snap(fmt.Sprintf("flush of epoch %d (%d writes)", d.epoch, d.writes), true)...)
	}
	d.epoch++
	d.writes, d.hasSuper, d.hasData, d.pending = 0, false, false, nil
	d.mu.Unlock()
	return d.Mem.Flush()
}

func roundCrashRun(t *testing.T, seed uint64) roundTotals {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 0x5B))
	opts := testOptions()
	opts.ExtentBytes = 16 << 10
	opts.ChunkPayloadMax = 3000
	opts.Seed = seed
	opts.Scheduler.IODepth = 2 + rng.IntN(4)
	opts.Scheduler.IOBytesMax = 1024 << rng.IntN(3) // long regions become several device writes
	if rng.IntN(3) == 0 {
		opts.Scheduler.Policy = "fifo"
	}
	mem := disk.NewMem(256<<10, testSector)
	mem.RequireAligned(true)
	if err := Format(mem, opts); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex // guards puts and resetGen
	var puts []putRecord
	resetGen := map[extent.ID]uint32{} // extent -> generation it was last reset to
	crng := rand.New(rand.NewPCG(seed, 0xDEAD))
	enumerated := 0
	dev := &epochDevice{Mem: mem, superBytes: opts.ExtentBytes}
	// snap is called with dev.mu held, while writes of the epoch may be in
	// flight on other workers: Mem takes each image atomically, and a
	// dependency only becomes persistent after the flush that ends the
	// epoch, so the persistent set read first still holds for the image.
	dev.snap = func(what string, enumerate bool) []roundState {
		mu.Lock()
		defer mu.Unlock()
		st := roundState{what: what, puts: len(puts), persistent: map[int]bool{}, resetGen: map[extent.ID]uint32{}}
		for i, p := range puts {
			if p.d.IsPersistent() {
				st.persistent[i] = true
			}
		}
		for e, g := range resetGen {
			st.resetGen[e] = g
		}
		var out []roundState
		if enumerate {
			if imgs, err := mem.CrashStates(32); err == nil {
				for _, img := range imgs {
					s := st
					s.img = img
					out = append(out, s)
				}
				enumerated += len(out)
				return out
			}
		}
		for _, policy := range []disk.CrashPolicy{disk.CrashTorn, disk.CrashRandom} {
			s := st
			s.img = mem.Crash(crng, policy)
			out = append(out, s)
		}
		return out
	}

	s, err := Open(dev, opts)
	if err != nil {
		t.Fatal(err)
	}
	const writers = 3
	nops := 15 + rng.IntN(25)
	errc := make(chan error, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wrng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- roundWriter(ctx, s, wrng, w, nops, &mu, &puts, resetGen)
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("seed %d: close: %v", seed, err)
	}

	mu.Lock()
	defer mu.Unlock()
	dev.mu.Lock()
	defer dev.mu.Unlock()
	// A clean shutdown persists everything not reset and not failed.
	final := roundState{what: "after Close", img: mem.Crash(crng, disk.CrashTorn), puts: len(puts), persistent: map[int]bool{}, resetGen: resetGen}
	for i, p := range puts {
		if !p.reset(resetGen) && p.d.Err() == nil {
			if !p.d.IsPersistent() {
				t.Fatalf("seed %d: put %d (%v) not persistent after Close", seed, i, p.loc)
			}
			final.persistent[i] = true
		}
	}
	byLoc := make(map[Locator]int, len(puts))
	for i, p := range puts {
		byLoc[p.loc] = i
	}
	states := append(dev.kept, final)
	for _, st := range states {
		checkRoundCrash(t, seed, opts, st, puts, byLoc)
		if t.Failed() {
			break
		}
	}
	return roundTotals{epochs: dev.epochs, mixed: dev.mixed, states: len(states), enumerated: enumerated}
}

// reset reports whether p's extent was reset after p was put, given the
// generations extents were reset to.
func (p putRecord) reset(resetGen map[extent.ID]uint32) bool {
	g, ok := resetGen[p.loc.Extent]
	return ok && p.loc.Generation < g
}

// roundWriter is one writer of roundCrashRun: nops puts (depending on up to
// two earlier puts of any writer), waits, syncs, seals and, for writer 0,
// resets of sealed extents.
func roundWriter(ctx context.Context, s *Store, rng *rand.Rand, w, nops int, mu *sync.Mutex, puts *[]putRecord, resetGen map[extent.ID]uint32) error {
	for i := 0; i < nops; i++ {
		switch r := rng.IntN(20); {
		case r < 13:
			var parents []int
			d := dep.Dependency{}
			mu.Lock()
			for k := rng.IntN(3); k > 0 && len(*puts) > 0; k-- {
				j := rng.IntN(len(*puts))
				parents = append(parents, j)
				d = d.And((*puts)[j].d)
			}
			mu.Unlock()
			v := value(rng, rng.IntN(2500))
			l, _, pd, err := s.Append(ctx, Stream(rng.IntN(2)*2), v, d) // data or index stream
			if err != nil {
				return fmt.Errorf("writer %d: put: %w", w, err)
			}
			mu.Lock()
			*puts = append(*puts, putRecord{loc: l, val: v, d: pd, parents: parents})
			mu.Unlock()
		case r < 15:
			// Wait for a recent put: a waiter makes the next round flush
			// while the other writers keep adding data to it.
			mu.Lock()
			var d dep.Dependency
			if n := len(*puts); n > 0 {
				d = (*puts)[n-1-rng.IntN(min(n, 4))].d
			}
			mu.Unlock()
			if err := d.Settle(ctx); err != nil {
				return fmt.Errorf("writer %d: wait: %w", w, err)
			}
		case r < 17:
			if err := s.Sync(ctx); err != nil {
				return fmt.Errorf("writer %d: sync: %w", w, err)
			}
		case r < 18:
			s.Seal(Stream(rng.IntN(2) * 2))
		default:
			if w != 0 {
				continue
			}
			// Reset an extent that holds chunks and no stream has open.
			mu.Lock()
			var cands []extent.ID
			for _, p := range *puts {
				e := p.loc.Extent
				if p.reset(resetGen) || s.Extent(e).Generation != p.loc.Generation {
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
			if len(cands) == 0 {
				mu.Unlock()
				continue
			}
			e := cands[rng.IntN(len(cands))]
			// Recorded before the reset, so a crash state taken during it
			// does not expect the extent's chunks.
			prev, had := resetGen[e]
			resetGen[e] = s.Extent(e).Generation + 1
			mu.Unlock()
			if _, err := s.Reset(ctx, e); err != nil {
				mu.Lock()
				if had {
					resetGen[e] = prev
				} else {
					delete(resetGen, e)
				}
				mu.Unlock()
				if errors.Is(err, engine.ErrInvalidArgument) {
					continue // a stream opened it meanwhile
				}
				return fmt.Errorf("writer %d: reset %d: %w", w, e, err)
			}
		}
	}
	return nil
}

func checkRoundCrash(t *testing.T, seed uint64, opts Options, st roundState, puts []putRecord, byLoc map[Locator]int) {
	ctx := context.Background()
	where := fmt.Sprintf("seed %d, crash at %s", seed, st.what)
	s, err := Open(st.img, opts)
	if err != nil {
		t.Errorf("%s: recovery failed: %v", where, err)
		return
	}
	defer s.Close()
	readable := make([]bool, st.puts)
	for i := 0; i < st.puts; i++ {
		p := puts[i]
		got, err := s.GetChunk(ctx, p.loc)
		switch {
		case err == nil:
			if !bytes.Equal(got, p.val) {
				t.Errorf("%s: put %d (%v) read back wrong data", where, i, p.loc)
				return
			}
			readable[i] = true
		case errors.Is(err, extent.ErrBeyondWritePointer), errors.Is(err, extent.ErrStale):
		case p.d.Err() != nil && IsFrameError(err, ReasonLocator): // abandoned: padding
		default:
			t.Errorf("%s: put %d (%v): unexpected error %v", where, i, p.loc, err)
			return
		}
		if st.persistent[i] && !readable[i] && !p.reset(st.resetGen) {
			t.Errorf("%s: put %d (%v) was persistent before the crash, lost after it: %v", where, i, p.loc, err)
			return
		}
	}
	for i := 0; i < st.puts; i++ {
		if !readable[i] {
			continue
		}
		for _, j := range puts[i].parents {
			if !readable[j] && !puts[j].reset(st.resetGen) {
				t.Errorf("%s: put %d (%v) survived without put %d (%v) it depends on", where, i, puts[i].loc, j, puts[j].loc)
				return
			}
		}
	}
	// Everything below a recovered write pointer is trusted, so it must
	// all be frames the store wrote there.
	for i, info := range s.Extents() {
		e := extent.ID(i)
		if e == 0 || info.Owner == extent.Free || info.WritePointer == 0 {
			continue
		}
		err := s.Scan(ctx, e, func(r ScanResult) bool {
			if r.Err != nil {
				t.Errorf("%s: extent %d (generation %d, write pointer %d): %d bytes at %d below the write pointer are no frame: %v",
					where, e, info.Generation, info.WritePointer, r.Size, r.Offset, r.Err)
				return false
			}
			if r.Frame.Kind != KindData {
				return true
			}
			j, ok := byLoc[r.Locator]
			if !ok {
				t.Errorf("%s: extent %d: frame %v below the write pointer %d is no chunk put there", where, e, r.Locator, info.WritePointer)
				return false
			}
			if !bytes.Equal(r.Frame.Payload, puts[j].val) {
				t.Errorf("%s: extent %d: frame %v below the write pointer holds another value than put %d", where, e, r.Locator, j)
				return false
			}
			return true
		})
		if err != nil {
			t.Errorf("%s: scan extent %d: %v", where, e, err)
		}
		if t.Failed() {
			return
		}
	}
}
