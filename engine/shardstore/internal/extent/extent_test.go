package extent

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestAppendResetCheckRead(t *testing.T) {
	geo, err := NewGeometry(10*64<<10+100, 64<<10, 512)
	if err != nil || geo.Count != 10 || geo.Base(3) != 3*64<<10 {
		t.Fatalf("NewGeometry = %+v, %v", geo, err)
	}
	tb := NewTable(geo)
	e, gen, err := tb.Allocate(Data)
	if err != nil || e != 1 || gen != 0 {
		t.Fatalf("Allocate = %d, %d, %v; want extent 1 (0 is the superblock)", e, gen, err)
	}
	if off, err := tb.Append(e, gen, 100); err != nil || off != 0 {
		t.Fatalf("Append = %d, %v", off, err)
	}
	if off, _ := tb.Append(e, gen, 50); off != 100 {
		t.Fatalf("second Append at %d, want 100", off)
	}
	if _, err := tb.Append(e, gen, 64<<10); !errors.Is(err, ErrFull) {
		t.Fatalf("overfull Append = %v", err)
	}
	if err := tb.CheckRead(e, gen, 100, 50); err != nil {
		t.Fatal(err)
	}
	if err := tb.CheckRead(e, gen, 100, 51); !errors.Is(err, ErrBeyondWritePointer) {
		t.Fatalf("read past the write pointer = %v", err)
	}
	if g := tb.Reset(e); g != 1 {
		t.Fatalf("Reset gave generation %d", g)
	}
	if err := tb.CheckRead(e, gen, 0, 10); !errors.Is(err, ErrStale) {
		t.Fatalf("read of the old generation = %v", err)
	}
	if _, err := tb.Append(e, gen, 10); !errors.Is(err, ErrStale) {
		t.Fatalf("append at the old generation = %v", err)
	}
	if info := tb.Info(e); info != (Info{Generation: 1, Owner: Free}) {
		t.Fatalf("after reset %+v", info)
	}
	if _, err := NewGeometry(2*64<<10, 64<<10, 512); err == nil {
		t.Fatal("a two-extent device accepted")
	}
	if _, err := NewGeometry(1<<20, 1000, 3); err == nil {
		t.Fatal("bad sizes accepted")
	}
	for i := 0; i < 9; i++ {
		tb.Allocate(Index)
	}
	if _, _, err := tb.Allocate(Data); !errors.Is(err, ErrNoFreeExtent) {
		t.Fatalf("Allocate on a full table = %v", err)
	}
}

// TestFreeCountMatchesTable: the free count kept by Allocate, Reset and
// Restore equals a count of the free extents after every step of a random
// sequence of them.
func TestFreeCountMatchesTable(t *testing.T) {
	geo, err := NewGeometry(64*4096, 4096, 512)
	if err != nil {
		t.Fatal(err)
	}
	tb := NewTable(geo)
	rng := rand.New(rand.NewPCG(7, 7))
	owners := []Owner{Free, Data, Index, Metadata}
	for step := range 5000 {
		id := ID(1 + rng.IntN(int(geo.Count)-1))
		switch rng.IntN(3) {
		case 0:
			tb.Allocate(owners[1+rng.IntN(3)])
		case 1:
			tb.Reset(id)
		case 2:
			tb.Restore(id, Info{Generation: uint32(rng.IntN(5)), Owner: owners[rng.IntN(4)]})
		}
		want := 0
		for _, info := range tb.Snapshot() {
			if info.Owner == Free {
				want++
			}
		}
		if got := tb.FreeCount(); got != want {
			t.Fatalf("step %d: FreeCount %d, table holds %d free extents (seed 7, deterministic)", step, got, want)
		}
	}
}

// TestCheckFree: CheckFree passes a table whose count follows its
// allocations and resets, and names both numbers when the count is wrong
// (a free count left unset at NewTable was caught only by a unit test
// before: the AST mutant ext146).
func TestCheckFree(t *testing.T) {
	geo, err := NewGeometry(16*4096, 4096, 512)
	if err != nil {
		t.Fatal(err)
	}
	tb := NewTable(geo)
	id, _, err := tb.Allocate(Data)
	if err != nil {
		t.Fatal(err)
	}
	tb.Reset(id)
	if err := tb.CheckFree(); err != nil {
		t.Fatalf("a consistent table: %v", err)
	}
	tb.free.Add(-1)
	if err := tb.CheckFree(); err == nil || !strings.Contains(err.Error(), "free count 14, but 15 extents are free") {
		t.Fatalf("a count one short: %v, want it named", err)
	}
}
