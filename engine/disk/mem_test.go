package disk

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fill returns n bytes that identify (tag, offset of each byte), so two
// different writes never agree on a byte range by accident.
func fill(tag int, off int64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		x := uint64(tag)*0x9e3779b97f4a7c15 + uint64(off+int64(i))*0xbf58476d1ce4e5b9
		x ^= x >> 29
		b[i] = byte(x) | 1 // never 0, so never equal to a fresh device
	}
	return b
}

func mustWrite(t testing.TB, d Device, p []byte, off int64) {
	t.Helper()
	if n, err := d.WriteAt(p, off); err != nil || n != len(p) {
		t.Fatalf("WriteAt(len %d, off %d) = %d, %v", len(p), off, n, err)
	}
}

func mustRead(t testing.TB, d Device, off int64, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	if got, err := d.ReadAt(p, off); err != nil || got != n {
		t.Fatalf("ReadAt(len %d, off %d) = %d, %v", n, off, got, err)
	}
	return p
}

func mustFlush(t testing.TB, d Device) {
	t.Helper()
	if err := d.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// allPolicies crashes m in every way the tests look at: each enumerated
// state of both modes, and n random crashes of every policy.
func allCrashes(t *testing.T, m *Mem, rng *rand.Rand, n int) []*Mem {
	t.Helper()
	var out []*Mem
	for _, enum := range []func(int) ([]*Mem, error){m.CrashStates, m.CrashStatesWhole} {
		states, err := enum(1 << 14)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, states...)
	}
	for range n {
		for _, p := range []CrashPolicy{CrashNone, CrashRandom, CrashTorn} {
			out = append(out, m.Crash(rng, p))
		}
	}
	return out
}

func TestMemReadWrite(t *testing.T) {
	m := NewMem(64<<10, 512)
	if m.Size() != 64<<10 || m.SectorSize() != 512 {
		t.Fatalf("Size, SectorSize = %d, %d", m.Size(), m.SectorSize())
	}
	if got := mustRead(t, m, 1000, 3000); !bytes.Equal(got, make([]byte, 3000)) {
		t.Fatal("a fresh Mem is not zero")
	}
	a := fill(1, 1000, 3000)
	mustWrite(t, m, a, 1000)
	mustWrite(t, m, fill(2, 0, 10), 64<<10-10) // last bytes
	if got := mustRead(t, m, 1000, 3000); !bytes.Equal(got, a) {
		t.Fatal("read after write differs")
	}
	if got := mustRead(t, m, 999, 1); got[0] != 0 {
		t.Fatal("byte before the write changed")
	}
	if m.Pending() != 2 {
		t.Fatalf("Pending = %d, want 2", m.Pending())
	}
	mustFlush(t, m)
	if m.Pending() != 0 {
		t.Fatalf("Pending after Flush = %d, want 0", m.Pending())
	}
	if got := mustRead(t, m, 1000, 3000); !bytes.Equal(got, a) {
		t.Fatal("read after flush differs")
	}
	img := m.Image()
	if !bytes.Equal(img[1000:4000], a) || !bytes.Equal(img[64<<10-10:], fill(2, 0, 10)) {
		t.Fatal("Image differs from what was written")
	}
	want := Stats{Reads: 4, Writes: 2, Flushes: 1, BytesRead: 3000 + 3000 + 1 + 3000, BytesWritten: 3010}
	if got := m.Stats(); got != want {
		t.Fatalf("Stats = %+v, want %+v", got, want)
	}
}

func TestMemOutOfRange(t *testing.T) {
	m := NewMem(4096, 512)
	for _, tc := range []struct {
		off int64
		n   int
	}{{-1, 1}, {4096, 1}, {4095, 2}, {0, 4097}, {1 << 62, 1}, {-4096, 4096}} {
		if _, err := m.ReadAt(make([]byte, tc.n), tc.off); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("ReadAt(len %d, off %d) = %v, want ErrOutOfRange", tc.n, tc.off, err)
		}
		if _, err := m.WriteAt(make([]byte, tc.n), tc.off); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("WriteAt(len %d, off %d) = %v, want ErrOutOfRange", tc.n, tc.off, err)
		}
	}
	if m.Pending() != 0 || m.Stats() != (Stats{}) {
		t.Fatalf("rejected IOs counted: Pending %d, Stats %+v", m.Pending(), m.Stats())
	}
	// Empty IOs at the very end fit.
	if _, err := m.ReadAt(nil, 4096); err != nil {
		t.Fatalf("empty read at end: %v", err)
	}
	if _, err := m.WriteAt(nil, 4096); err != nil || m.Pending() != 0 {
		t.Fatalf("empty write at end: %v, Pending %d", err, m.Pending())
	}
}

func TestMemClosed(t *testing.T) {
	m := NewMem(4096, 512)
	mustWrite(t, m, fill(1, 0, 512), 0)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadAt after Close = %v", err)
	}
	if _, err := m.WriteAt(make([]byte, 1), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteAt after Close = %v", err)
	}
	if err := m.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v", err)
	}
	if err := m.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	// A closed Mem can be crashed (the engine closed, then the power went):
	// the pending write is still pending, and the states are open.
	states, err := m.CrashStates(10)
	if err != nil || len(states) != 2 {
		t.Fatalf("CrashStates of a closed Mem = %d states, %v; want 2", len(states), err)
	}
	mustWrite(t, states[1], fill(2, 0, 512), 0)
}

func TestMemRequireAligned(t *testing.T) {
	m := NewMem(8192, 512)
	m.RequireAligned(true)
	for _, tc := range []struct {
		off int64
		n   int
	}{{1, 512}, {0, 511}, {512, 1}} {
		_, err := m.WriteAt(make([]byte, tc.n), tc.off)
		if !errors.Is(err, ErrMisaligned) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d length %d", tc.off, tc.n)) {
			t.Errorf("WriteAt(len %d, off %d) = %v, want ErrMisaligned naming the IO", tc.n, tc.off, err)
		}
	}
	mustWrite(t, m, make([]byte, 1024), 512)
	m.RequireAligned(false)
	mustWrite(t, m, make([]byte, 3), 7)
}

// A write that returned before a Flush is in every crash state, whatever
// the policy, unless a pending write overwrote it.
func TestMemFlushedSurvivesEveryCrash(t *testing.T) {
	forSeeds(t, func(t *testing.T, rng *rand.Rand) {
		const ss = 512
		m := NewMem(32*ss, ss)
		durable := fill(1, 0, 4*ss)
		mustWrite(t, m, durable, 0) // sectors 0-3
		mustWrite(t, m, fill(2, 4*ss, 100), 4*ss+7)
		mustFlush(t, m)
		// Pending: writes to sectors 5-31 and one overwrite of sector 3.
		for i := range 4 {
			off := int64(5*ss + rng.IntN(26*ss))
			n := 1 + rng.IntN(int(32*ss-off))
			n = min(n, ss)
			mustWrite(t, m, fill(10+i, off, n), off)
		}
		over := fill(99, 3*ss, ss)
		mustWrite(t, m, over, 3*ss)

		states := allCrashes(t, m, rng, 50)
		sawOver, sawOld := false, false
		for i, st := range states {
			img := st.Image()
			if !bytes.Equal(img[:3*ss], durable[:3*ss]) {
				t.Fatalf("state %d lost flushed sectors 0-2", i)
			}
			if !bytes.Equal(img[4*ss+7:4*ss+107], fill(2, 4*ss, 100)) {
				t.Fatalf("state %d lost the flushed sub-sector write", i)
			}
			switch s3 := img[3*ss : 4*ss]; {
			case bytes.Equal(s3, durable[3*ss:]):
				sawOld = true
			case bytes.Equal(s3, over):
				sawOver = true
			default:
				t.Fatalf("state %d: sector 3 is neither the flushed nor the pending version", i)
			}
			if st.Pending() != 0 {
				t.Fatalf("state %d has %d pending writes", i, st.Pending())
			}
		}
		if !sawOld || !sawOver {
			t.Fatalf("sector 3 overwritten by a pending write: saw flushed %v, saw pending %v; want both", sawOld, sawOver)
		}
	})
}

// A pending write is kept by some crashes and lost by others.
func TestMemUnflushedSometimes(t *testing.T) {
	forSeeds(t, func(t *testing.T, rng *rand.Rand) {
		m := NewMem(16*512, 512)
		mustWrite(t, m, fill(1, 0, 16*512), 0)
		mustFlush(t, m)
		off := int64(rng.IntN(16)) * 512
		w := fill(2, off, 512)
		mustWrite(t, m, w, off)

		for _, enum := range []func(int) ([]*Mem, error){m.CrashStates, m.CrashStatesWhole} {
			states, err := enum(100)
			if err != nil {
				t.Fatal(err)
			}
			if len(states) != 2 {
				t.Fatalf("%d states, want 2", len(states))
			}
			if got := mustRead(t, states[0], off, 512); bytes.Equal(got, w) {
				t.Fatal("state 0 is not the durable contents")
			}
			if got := mustRead(t, states[1], off, 512); !bytes.Equal(got, w) {
				t.Fatal("state 1 lacks the pending write")
			}
		}
		for _, policy := range []CrashPolicy{CrashNone, CrashRandom, CrashTorn} {
			kept := 0
			const crashes = 64
			for range crashes {
				if bytes.Equal(mustRead(t, m.Crash(rng, policy), off, 512), w) {
					kept++
				}
			}
			switch {
			case policy == CrashNone && kept != 0:
				t.Fatalf("CrashNone kept the pending write %d times", kept)
			case policy != CrashNone && (kept == 0 || kept == crashes):
				t.Fatalf("%v kept the pending write in %d of %d crashes; want some, not all", policy, kept, crashes)
			}
		}
	})
}

// k pending writes to k different sectors give exactly 2^k distinct states.
func TestMemCrashStatesCount(t *testing.T) {
	forSeeds(t, func(t *testing.T, rng *rand.Rand) {
		for k := range 11 {
			const ss, sectors = 512, 64
			m := NewMem(sectors*ss, ss)
			if rng.IntN(2) == 0 {
				mustWrite(t, m, fill(100, 0, sectors*ss), 0)
				mustFlush(t, m)
			}
			for i, s := range rng.Perm(sectors)[:k] {
				// A whole sector or a piece of one.
				lo := rng.IntN(ss)
				hi := lo + 1 + rng.IntN(ss-lo)
				if rng.IntN(2) == 0 {
					lo, hi = 0, ss
				}
				off := int64(s*ss + lo)
				mustWrite(t, m, fill(i, off, hi-lo), off)
			}
			durable, current := m.Durable().Image(), m.Image()
			for _, mode := range []struct {
				name string
				enum func(int) ([]*Mem, error)
			}{{"torn", m.CrashStates}, {"whole", m.CrashStatesWhole}} {
				states, err := mode.enum(1 << k)
				if err != nil {
					t.Fatalf("k=%d %s: %v", k, mode.name, err)
				}
				if len(states) != 1<<k {
					t.Fatalf("k=%d %s: %d states, want %d", k, mode.name, len(states), 1<<k)
				}
				seen := map[string]bool{}
				for _, st := range states {
					seen[string(st.Image())] = true
				}
				if len(seen) != 1<<k {
					t.Fatalf("k=%d %s: %d distinct images among %d states", k, mode.name, len(seen), len(states))
				}
				if !bytes.Equal(states[0].Image(), durable) || !seen[string(current)] {
					t.Fatalf("k=%d %s: the durable contents must come first and the current contents must be a state", k, mode.name)
				}
				if k > 0 {
					if _, err := mode.enum(1<<k - 1); !errors.Is(err, ErrTooManyStates) || !strings.Contains(err.Error(), fmt.Sprint(1<<k)) {
						t.Fatalf("k=%d %s with limit %d: %v, want ErrTooManyStates saying %d", k, mode.name, 1<<k-1, err, 1<<k)
					}
				}
			}
		}
	})
}

// Disjoint multi-sector writes: whole-write enumeration counts writes,
// torn enumeration counts sector-writes.
func TestMemCrashStatesMultiSector(t *testing.T) {
	m := NewMem(64*512, 512)
	mustWrite(t, m, fill(1, 0, 3*512), 0)             // sectors 0-2
	mustWrite(t, m, fill(2, 10*512, 2*512), 10*512)   // sectors 10-11
	mustWrite(t, m, fill(3, 20*512+5, 600), 20*512+5) // sectors 20-21, unaligned
	whole, err := m.CrashStatesWhole(1000)
	if err != nil || len(whole) != 8 {
		t.Fatalf("CrashStatesWhole: %d states, %v; want 8", len(whole), err)
	}
	torn, err := m.CrashStates(1000)
	if err != nil || len(torn) != 1<<7 {
		t.Fatalf("CrashStates: %d states, %v; want 128", len(torn), err)
	}
	// Every whole-write state is a torn state.
	tornSet := map[string]bool{}
	for _, st := range torn {
		tornSet[string(st.Image())] = true
	}
	for i, st := range whole {
		if !tornSet[string(st.Image())] {
			t.Fatalf("whole-write state %d is not among the torn states", i)
		}
	}
}

func TestMemCrashStatesTooMany(t *testing.T) {
	m := NewMem(64*512, 512)
	for i := range 11 {
		mustWrite(t, m, fill(i, int64(i)*512, 512), int64(i)*512)
	}
	_, err := m.CrashStates(1000)
	if !errors.Is(err, ErrTooManyStates) || !strings.Contains(err.Error(), "2048 distinct crash states") {
		t.Fatalf("CrashStates(1000) = %v, want ErrTooManyStates saying 2048", err)
	}

	// 21 whole-sector writes to one sector: 22 states either way in
	// principle, but whole-write enumeration visits 2^21 subsets and
	// refuses.
	m = NewMem(4*512, 512)
	for i := range 21 {
		mustWrite(t, m, fill(i, 512, 512), 512)
	}
	states, err := m.CrashStates(100)
	if err != nil || len(states) != 22 {
		t.Fatalf("CrashStates: %d states, %v; want 22", len(states), err)
	}
	if _, err := m.CrashStatesWhole(1 << 30); !errors.Is(err, ErrTooManyStates) || !strings.Contains(err.Error(), "2^21") {
		t.Fatalf("CrashStatesWhole = %v, want ErrTooManyStates saying 2^21", err)
	}
}

// Overlapping writes: where two kept sector-writes overlap the later wins,
// and only the right combinations exist.
func TestMemCrashOverlap(t *testing.T) {
	const ss = 512
	m := NewMem(4*ss, ss)
	x := fill(1, 0, 2*ss)
	mustWrite(t, m, x, 0)
	mustFlush(t, m)
	a := fill(2, 0, 2*ss) // sectors 0-1
	b := fill(3, ss, ss)  // sector 1
	mustWrite(t, m, a, 0)
	mustWrite(t, m, b, ss)
	x0, x1, a0, a1 := string(x[:ss]), string(x[ss:]), string(a[:ss]), string(a[ss:])
	b1 := string(b)

	key := func(st *Mem) string { return string(st.Image()[:2*ss]) }
	set := func(pairs ...[2]string) map[string]bool {
		s := map[string]bool{}
		for _, p := range pairs {
			s[p[0]+p[1]] = true
		}
		return s
	}
	// Whole writes: {}, {A}, {B}, {A,B}; with both, B wins sector 1.
	wantWhole := set([2]string{x0, x1}, [2]string{a0, a1}, [2]string{x0, b1}, [2]string{a0, b1})
	// Torn: each sector independently; sector 1 is X, A or B (B if kept).
	wantTorn := set([2]string{x0, x1}, [2]string{a0, a1}, [2]string{x0, b1}, [2]string{a0, b1},
		[2]string{a0, x1}, [2]string{x0, a1})

	check := func(name string, states []*Mem, want map[string]bool, exact bool) {
		t.Helper()
		got := map[string]bool{}
		for _, st := range states {
			if !want[key(st)] {
				t.Fatalf("%s: a state that no subset of writes in order gives", name)
			}
			got[key(st)] = true
		}
		if exact && len(got) != len(states) {
			t.Fatalf("%s: %d states but %d distinct", name, len(states), len(got))
		}
		if len(got) != len(want) {
			t.Fatalf("%s: saw %d of the %d possible states", name, len(got), len(want))
		}
	}
	whole, err := m.CrashStatesWhole(100)
	if err != nil {
		t.Fatal(err)
	}
	check("CrashStatesWhole", whole, wantWhole, true)
	torn, err := m.CrashStates(100)
	if err != nil {
		t.Fatal(err)
	}
	check("CrashStates", torn, wantTorn, true)

	forSeeds(t, func(t *testing.T, rng *rand.Rand) {
		var random, tornRandom []*Mem
		for range 200 {
			random = append(random, m.Crash(rng, CrashRandom))
			tornRandom = append(tornRandom, m.Crash(rng, CrashTorn))
		}
		check("CrashRandom", random, wantWhole, false)
		check("CrashTorn", tornRandom, wantTorn, false)
	})
}

// A torn write never leaves a sector holding bytes of two versions.
func TestMemTornNeverMixesSector(t *testing.T) {
	forSeeds(t, func(t *testing.T, rng *rand.Rand) {
		const ss, sectors = 512, 24
		m := NewMem(sectors*ss, ss)
		mustWrite(t, m, fill(0, 0, sectors*ss), 0)
		mustFlush(t, m)
		// versions[s] lists every content sector s may hold.
		versions := make([]map[string]bool, sectors)
		for s := range versions {
			versions[s] = map[string]bool{string(fill(0, int64(s*ss), ss)): true}
		}
		type span struct{ first, last int }
		var writes []span
		for i := 1; i <= 6; i++ {
			first := rng.IntN(sectors - 1)
			last := first + 1 + rng.IntN(min(6, sectors-1-first))
			mustWrite(t, m, fill(i, int64(first*ss), (last-first+1)*ss), int64(first*ss))
			for s := first; s <= last; s++ {
				versions[s][string(fill(i, int64(s*ss), ss))] = true
			}
			writes = append(writes, span{first, last})
		}
		torn := 0
		for range 300 {
			img := m.Crash(rng, CrashTorn).Image()
			for s := range sectors {
				if !versions[s][string(img[s*ss:(s+1)*ss])] {
					t.Fatalf("sector %d holds bytes of no single version: a torn sector", s)
				}
			}
			// Was the last write (which nothing overwrites) torn?
			w := writes[len(writes)-1]
			n := 0
			for s := w.first; s <= w.last; s++ {
				if bytes.Equal(img[s*ss:(s+1)*ss], fill(6, int64(s*ss), ss)) {
					n++
				}
			}
			if n > 0 && n < w.last-w.first+1 {
				torn++
			}
		}
		if torn == 0 {
			t.Fatal("CrashTorn never tore a multi-sector write in 300 crashes")
		}
		// CrashRandom never tears the last write.
		for range 100 {
			img := m.Crash(rng, CrashRandom).Image()
			w := writes[len(writes)-1]
			n := 0
			for s := w.first; s <= w.last; s++ {
				if bytes.Equal(img[s*ss:(s+1)*ss], fill(6, int64(s*ss), ss)) {
					n++
				}
			}
			if n != 0 && n != w.last-w.first+1 {
				t.Fatalf("CrashRandom kept %d of the %d sectors of a write", n, w.last-w.first+1)
			}
		}
	})
}

// A write smaller than a sector is kept or lost whole, and bytes around it
// keep their durable value.
func TestMemSubSectorWrite(t *testing.T) {
	m := NewMem(2*512, 512)
	old := fill(1, 0, 1024)
	mustWrite(t, m, old, 0)
	mustFlush(t, m)
	w := fill(2, 700, 100)
	mustWrite(t, m, w, 700)
	states, err := m.CrashStates(10)
	if err != nil || len(states) != 2 {
		t.Fatalf("%d states, %v; want 2", len(states), err)
	}
	want := bytes.Clone(old)
	copy(want[700:], w)
	if !bytes.Equal(states[0].Image(), old) || !bytes.Equal(states[1].Image(), want) {
		t.Fatal("sub-sector write states wrong")
	}
}

// Crash leaves the original alone, and crash states, clones and the original
// are independent devices even though they share pages.
func TestMemCrashIndependence(t *testing.T) {
	forSeeds(t, func(t *testing.T, rng *rand.Rand) {
		m := NewMem(256<<10, 512) // several pages
		mustWrite(t, m, fill(1, 0, 200<<10), 0)
		mustFlush(t, m)
		mustWrite(t, m, fill(2, 70<<10, 1000), 70<<10)
		before, pending := m.Image(), m.Pending()

		c1 := m.Crash(rng, CrashTorn)
		c2 := m.Crash(rng, CrashNone)
		clone := m.Clone()
		img1, img2 := c1.Image(), c2.Image()
		if !bytes.Equal(m.Image(), before) || m.Pending() != pending {
			t.Fatal("Crash changed the original")
		}
		if clone.Pending() != pending || !bytes.Equal(clone.Image(), before) {
			t.Fatal("Clone differs from the original")
		}
		// Write everywhere through each device; no other may change.
		for i, d := range []*Mem{m, c1, c2, clone} {
			mustWrite(t, d, fill(10+i, 0, 256<<10), 0)
		}
		for i, d := range []*Mem{m, c1, c2, clone} {
			if !bytes.Equal(d.Image(), fill(10+i, 0, 256<<10)) {
				t.Fatalf("device %d sees another device's write", i)
			}
		}
		// The clone had the same pending write; its durable contents are
		// the original's.
		if !bytes.Equal(clone.Durable().Image(), img2) {
			t.Fatal("clone's durable contents differ from the original's")
		}
		_ = img1
		mustFlush(t, clone)
		if m.Pending() == 0 {
			t.Fatal("flushing a clone flushed the original")
		}
	})
}

func TestMemCrashDeterministic(t *testing.T) {
	m := NewMem(64*512, 512)
	for i := range 20 {
		mustWrite(t, m, fill(i, int64(i)*700, 1500), int64(i)*700)
	}
	for _, p := range []CrashPolicy{CrashRandom, CrashTorn} {
		a := m.Crash(rand.New(rand.NewPCG(7, 7)), p).Image()
		b := m.Crash(rand.New(rand.NewPCG(7, 7)), p).Image()
		if !bytes.Equal(a, b) {
			t.Fatalf("%v: same seed, different states", p)
		}
	}
}

func TestMemConcurrent(t *testing.T) {
	const workers, ops, region = 4, 300, 8192
	m := NewMem(workers*region, 512)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			base := int64(w * region)
			rng := rand.New(rand.NewPCG(uint64(w), 0))
			for i := range ops {
				off := base + int64(rng.IntN(region-100))
				mustWrite(t, m, fill(w, off, 100), off)
				mustRead(t, m, base, region)
				switch i % 50 {
				case 0:
					mustFlush(t, m)
				case 25:
					m.Crash(rng, CrashTorn)
				}
			}
			mustWrite(t, m, fill(w, base, region), base)
		})
	}
	wg.Wait()
	img := m.Image()
	for w := range workers {
		if !bytes.Equal(img[w*region:(w+1)*region], fill(w, int64(w*region), region)) {
			t.Fatalf("worker %d's region is wrong", w)
		}
	}
	if st := m.Stats(); st.Writes != workers*(ops+1) {
		t.Fatalf("Stats.Writes = %d, want %d", st.Writes, workers*(ops+1))
	}
}

func TestNewMemPanics(t *testing.T) {
	for _, tc := range []struct {
		size int64
		ss   int
	}{{1000, 512}, {-512, 512}, {512, 0}} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "disk: NewMem") {
					t.Errorf("NewMem(%d, %d) panic = %v", tc.size, tc.ss, r)
				}
			}()
			NewMem(tc.size, tc.ss)
		}()
	}
}

func BenchmarkMemWriteFlush(b *testing.B) {
	for _, size := range []int{512, 4096, 64 << 10} {
		for _, per := range []int{1, 16} {
			b.Run(fmt.Sprintf("write=%d/writes-per-flush=%d", size, per), func(b *testing.B) {
				const devBytes = 64 << 20
				m := NewMem(devBytes, 512)
				p := fill(1, 0, size)
				b.SetBytes(int64(size))
				off := int64(0)
				i := 0
				for b.Loop() {
					if _, err := m.WriteAt(p, off); err != nil {
						b.Fatal(err)
					}
					off = (off + int64(size)) % devBytes
					if i++; i%per == 0 {
						m.Flush()
					}
				}
			})
		}
	}
}

func BenchmarkMemCrash(b *testing.B) {
	m := NewMem(64<<20, 512)
	m.WriteAt(fill(1, 0, 64<<20), 0)
	m.Flush()
	for i := range 64 {
		m.WriteAt(fill(2, 0, 4096), int64(i)*1<<20)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for b.Loop() {
		m.Crash(rng, CrashTorn)
	}
}

// TestMemReleaseReuse checks that a Mem built on the storage of released
// ones (recycled pages holding stale bytes, a recycled undo-log arena)
// behaves exactly like a fresh zeroed one, before and after crashes, and
// that releasing a Mem leaves the clones and crash states sharing its pages
// intact.
func TestMemReleaseReuse(t *testing.T) {
	const ss = 512
	const size = 3*memPageBytesMin + 8*ss // a partial last page
	rng := rand.New(rand.NewPCG(7, 7))
	reused := 0
	for round := range 20 {
		old := NewMem(size, ss)
		mustWrite(t, old, fill(round, 0, size), 0) // every page, no zero byte
		mustFlush(t, old)
		mustWrite(t, old, fill(round+100, 1000, 70000), 1000) // pending, in the arena
		keep := old.Clone()
		keepImg := keep.Image()
		crashed := old.Crash(nil, CrashNone)
		crashedImg := crashed.Image()
		mustWrite(t, old, fill(round+200, 0, size), 0) // old owns every page again
		released := map[*byte]bool{}
		for _, pg := range old.pages {
			released[&pg[:1][0]] = true
		}
		old.Release()
		old.Release() // a second Release does nothing

		m := NewMem(size, ss)
		if !bytes.Equal(m.Image(), make([]byte, size)) {
			t.Fatalf("round %d: a new Mem is not zeroed", round)
		}
		cur, dur := make([]byte, size), make([]byte, size)
		for i := range 40 {
			off := rng.Int64N(size)
			n := 1 + rng.IntN(min(3*ss*8, int(size-off)))
			p := fill(1000*round+i, off, n)
			mustWrite(t, m, p, off)
			copy(cur[off:], p)
			switch rng.IntN(6) {
			case 0:
				mustFlush(t, m)
				copy(dur, cur)
			case 1:
				if got := m.Clone().Image(); !bytes.Equal(got, cur) {
					t.Fatalf("round %d, write %d: a clone differs from its original", round, i)
				}
			case 2:
				if got := m.Durable().Image(); !bytes.Equal(got, dur) {
					t.Fatalf("round %d, write %d: Durable differs from the flushed contents", round, i)
				}
			}
			if got := mustRead(t, m, 0, size); !bytes.Equal(got, cur) {
				t.Fatalf("round %d, write %d: contents differ from what was written to a zeroed device", round, i)
			}
		}
		if got := m.Crash(rng, CrashNone).Image(); !bytes.Equal(got, dur) {
			t.Fatalf("round %d: crash state differs from the flushed contents", round)
		}
		if !bytes.Equal(keep.Image(), keepImg) || !bytes.Equal(crashed.Image(), crashedImg) {
			t.Fatalf("round %d: releasing a Mem changed its clone or crash state", round)
		}
		for _, pg := range m.pages {
			if pg != nil && released[&pg[:1][0]] {
				reused++
			}
		}
		m.Release()
	}
	// The pool may drop storage (a garbage collection, the race detector),
	// but not every page of every round.
	if reused == 0 {
		t.Fatal("no page of a released Mem was reused")
	}
}

func TestMemReleased(t *testing.T) {
	m := NewMem(4096, 512)
	mustWrite(t, m, fill(1, 0, 100), 0)
	m.Release()
	if _, err := m.WriteAt(make([]byte, 512), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteAt after Release: %v, want ErrClosed", err)
	}
	if _, err := m.ReadAt(make([]byte, 512), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadAt after Release: %v, want ErrClosed", err)
	}
	if err := m.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Release: %v, want ErrClosed", err)
	}
	for name, f := range map[string]func(){
		"Clone":       func() { m.Clone() },
		"Durable":     func() { m.Durable() },
		"Crash":       func() { m.Crash(nil, CrashNone) },
		"CrashStates": func() { m.CrashStates(16) },
		"Image":       func() { m.Image() },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "after Release") {
					t.Errorf("%s after Release: panic %v, want one saying so", name, r)
				}
			}()
			f()
		}()
	}
	// Released after Close (a closed Mem can still be crashed, a released
	// one cannot).
	c := NewMem(4096, 512)
	c.Close()
	c.Release()
}

// TestMemReleaseConcurrent releases a Mem while goroutines do IO on it, as
// an abandoned engine's goroutines may: each IO succeeds or returns
// ErrClosed, and the recycled storage is not written after Release (a new
// Mem stays zeroed).
func TestMemReleaseConcurrent(t *testing.T) {
	const size = 4 * memPageBytesMin
	for round := range 10 {
		m := NewMem(size, 512)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range 4 {
			wg.Go(func() {
				<-start
				for i := range 200 {
					off := int64((w*200+i)*512) % size
					if _, err := m.WriteAt(fill(w, off, 512), off); err != nil && !errors.Is(err, ErrClosed) {
						t.Errorf("WriteAt: %v", err)
						return
					}
					if err := m.Flush(); err != nil && !errors.Is(err, ErrClosed) {
						t.Errorf("Flush: %v", err)
						return
					}
				}
			})
		}
		close(start)
		m.Release()
		fresh := NewMem(size, 512)
		mustWrite(t, fresh, []byte{1}, 0) // takes a recycled page, if any
		wg.Wait()
		if img := fresh.Image(); img[0] != 1 || !bytes.Equal(img[1:], make([]byte, size-1)) {
			t.Fatalf("round %d: a new Mem on recycled storage was written by a released one's users", round)
		}
		fresh.Release()
	}
}

// TestMemStopAfter: an armed Mem takes exactly k writes and flushes, then
// refuses every later one with ErrPowerCut without changing anything, so
// its crash states are those of a crash between IO k and IO k+1.
func TestMemStopAfter(t *testing.T) {
	m := NewMem(4096, 512)
	m.StopAfter(2)
	mustWrite(t, m, fill(1, 0, 512), 0) // IO 1
	if err := m.Flush(); err != nil {   // IO 2: the first write is durable
		t.Fatal(err)
	}
	if m.PowerCut() {
		t.Fatal("PowerCut before any IO was refused")
	}
	if _, err := m.WriteAt(fill(2, 512, 512), 512); !errors.Is(err, ErrPowerCut) {
		t.Fatalf("write after the cut: %v, want ErrPowerCut", err)
	}
	if err := m.Flush(); !errors.Is(err, ErrPowerCut) {
		t.Fatalf("flush after the cut: %v, want ErrPowerCut", err)
	}
	if !m.PowerCut() || m.CutTime().IsZero() {
		t.Fatal("PowerCut false or CutTime zero after a refused write")
	}
	got := make([]byte, 1024)
	if _, err := m.ReadAt(got, 0); err != nil {
		t.Fatalf("read after the cut: %v", err)
	}
	if !bytes.Equal(got[:512], fill(1, 0, 512)) || !bytes.Equal(got[512:], make([]byte, 512)) {
		t.Fatal("the refused write changed the contents")
	}
	if s := m.Stats(); s.Writes != 1 || s.Flushes != 1 {
		t.Fatalf("stats %+v: refused IOs were counted", s)
	}
	if n := m.Pending(); n != 0 {
		t.Fatalf("%d pending writes after the cut, want 0", n)
	}

	// Cut between a write and the flush that would cover it: the write
	// is pending, so a crash may keep it or not.
	m2 := NewMem(4096, 512)
	m2.StopAfter(1)
	mustWrite(t, m2, fill(3, 0, 512), 0)
	if err := m2.Flush(); !errors.Is(err, ErrPowerCut) {
		t.Fatalf("flush: %v, want ErrPowerCut", err)
	}
	states, err := m2.CrashStates(16)
	if err != nil || len(states) != 2 {
		t.Fatalf("crash states after a cut before the flush: %d, %v; want 2 (kept, lost)", len(states), err)
	}
	// Disarming restores power; crash states start powered.
	m2.StopAfter(-1)
	mustWrite(t, m2, fill(4, 512, 512), 512)
	if m2.PowerCut() {
		t.Fatal("PowerCut after disarming")
	}
	mustWrite(t, states[0], fill(5, 0, 512), 0)

	// Disarm before the cut restores power; after it, the device keeps
	// refusing writes for the crash that follows.
	m3 := NewMem(4096, 512)
	m3.StopAfter(1)
	if m3.Disarm() {
		t.Fatal("Disarm reported a cut before any IO")
	}
	mustWrite(t, m3, fill(6, 0, 512), 0)
	mustWrite(t, m3, fill(6, 512, 512), 512)
	m3.StopAfter(0)
	if _, err := m3.WriteAt(fill(7, 0, 512), 0); !errors.Is(err, ErrPowerCut) {
		t.Fatalf("write after the cut: %v, want ErrPowerCut", err)
	}
	if !m3.Disarm() {
		t.Fatal("Disarm after the cut reported none")
	}
	if _, err := m3.WriteAt(fill(7, 0, 512), 0); !errors.Is(err, ErrPowerCut) {
		t.Fatalf("write after Disarm of a cut device: %v, want ErrPowerCut", err)
	}
}

// TestMemCut: Cut freezes a Mem that writers are using concurrently: every
// write and flush after it is refused with ErrPowerCut, the pending writes
// and the contents stay exactly those at the cut, and the crash states are
// drawn from them; StopAfter(-1) restores power.
func TestMemCut(t *testing.T) {
	m := NewMem(64<<10, 512)
	mustWrite(t, m, fill(1, 0, 512), 0)
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	const writers = 4
	var wg sync.WaitGroup
	cut := make(chan struct{})
	refused := make([]int, writers)
	for w := range writers {
		wg.Go(func() {
			// Each writer writes its own sectors until refused, then tries
			// a few more IOs, which must all be refused too.
			for i := 0; ; i++ {
				off := int64(1+w*16+i%16) * 512
				if i == 8 {
					<-cut // some writes land before the cut, some are refused after
				}
				_, err := m.WriteAt(fill(10+w, off, 512), off)
				if err != nil {
					if !errors.Is(err, ErrPowerCut) {
						t.Errorf("writer %d: %v, want ErrPowerCut", w, err)
					}
					refused[w]++
					if refused[w] == 3 {
						if err := m.Flush(); !errors.Is(err, ErrPowerCut) {
							t.Errorf("writer %d: flush after the cut: %v, want ErrPowerCut", w, err)
						}
						return
					}
				}
			}
		})
	}
	for m.Pending() < writers*8 {
		runtime.Gosched()
	}
	if !m.CutTime().IsZero() {
		t.Fatal("CutTime set before the cut")
	}
	before := time.Now()
	pending := m.Cut()
	at := m.CutTime()
	if at.Before(before) || at.After(time.Now()) {
		t.Fatalf("CutTime %v is not the instant of the cut (after %v)", at, before)
	}
	image := m.Image()
	close(cut)
	wg.Wait()
	if !m.PowerCut() {
		t.Fatal("PowerCut false after Cut")
	}
	if pending < writers*8 || m.Pending() != pending {
		t.Fatalf("Cut saw %d pending writes, %d pending after the refused IOs; want the same, at least %d", pending, m.Pending(), writers*8)
	}
	if !bytes.Equal(m.Image(), image) {
		t.Fatal("the contents changed after the cut")
	}
	got := make([]byte, 512)
	if _, err := m.ReadAt(got, 0); err != nil || !bytes.Equal(got, fill(1, 0, 512)) {
		t.Fatalf("read after the cut: %v (or wrong bytes)", err)
	}
	// A crash from the cut keeps the durable sector and any subset of
	// the writes pending at the cut: with all kept it is the image.
	if d := m.Crash(nil, CrashNone).Image(); !bytes.Equal(d[:512], fill(1, 0, 512)) || !bytes.Equal(d[512:1024], make([]byte, 512)) {
		t.Fatal("the durable state after the cut lost the flushed sector or kept a pending write")
	}
	all := m.Clone()
	all.StopAfter(-1)
	if err := all.Flush(); err != nil || !bytes.Equal(all.Image(), image) {
		t.Fatalf("a clone with power restored: flush %v, or contents differ from the cut's", err)
	}
	if m.Cut(); !m.CutTime().Equal(at) {
		t.Fatal("a second Cut moved CutTime")
	}
	m.StopAfter(-1)
	if m.PowerCut() || !m.CutTime().IsZero() {
		t.Fatal("PowerCut or CutTime still set after StopAfter(-1)")
	}
	mustWrite(t, m, fill(2, 0, 512), 0)
}

// DiffBytes counts what a byte-by-byte comparison of the two images counts,
// whether the Mems share pages (crash states, clones) or not (a fresh Mem
// given the same writes).
func TestMemDiffBytes(t *testing.T) {
	naive := func(a, b []byte) int64 {
		var d int64
		for i := range a {
			if a[i] != b[i] {
				d++
			}
		}
		return d
	}
	forSeeds(t, func(t *testing.T, rng *rand.Rand) {
		const ss, sectors = 512, 64
		m := NewMem(sectors*ss, ss)
		fresh := NewMem(sectors*ss, ss)
		for i := range 1 + rng.IntN(6) {
			off := int64(rng.IntN(sectors*ss - 1))
			n := 1 + rng.IntN(min(3*ss, sectors*ss-int(off)))
			p := fill(i, off, n)
			if rng.IntN(4) == 0 {
				p = make([]byte, n) // zeros: equal to a page never written
			}
			mustWrite(t, m, p, off)
			if rng.IntN(2) == 0 {
				mustWrite(t, fresh, p, off)
			}
			if rng.IntN(3) == 0 {
				mustFlush(t, m)
			}
		}
		img := m.Image()
		others := append(allCrashes(t, m, rng, 2), m.Clone(), fresh, m)
		for i, o := range others {
			want := naive(img, o.Image())
			if got := m.DiffBytes(o); got != want {
				t.Fatalf("state %d of %d: DiffBytes %d, images differ in %d bytes", i, len(others), got, want)
			}
			if got := o.DiffBytes(m); got != want {
				t.Fatalf("state %d of %d: reversed DiffBytes %d, images differ in %d bytes", i, len(others), got, want)
			}
		}
	})
}
