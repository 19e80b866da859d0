package shardstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// TestListBatches lists ranges of a store whose keys span the memtable,
// sealed memtables and several runs, with tombstones and overwrites, over
// many of List's batches (128 keys, doubling), and compares every listing
// with a reference map: each key once, in order, nothing deleted, nothing
// missing, and an early stop after exactly the keys fn accepted. Replay:
// go test -run TestListBatches ./engine/shardstore (seeded, seed printed).
func TestListBatches(t *testing.T) {
	const seed = 7
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	o := testOptions()
	o.MemtableBytes = 8 << 10 // a flush every ~150 keys: many runs
	s, err := Open(disk.NewMem(64<<20, 512), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ref := map[string]bool{}
	key := func(i int) []byte { return fmt.Appendf(nil, "k%05d", i) }
	for range 6000 {
		i := rng.IntN(3000)
		if rng.IntN(4) == 0 {
			if err := s.Delete(ctx, key(i)); err != nil {
				t.Fatal(err)
			}
			delete(ref, string(key(i)))
			continue
		}
		if err := s.Put(ctx, key(i), []byte("v")); err != nil {
			t.Fatal(err)
		}
		ref[string(key(i))] = true
	}
	// Several runs whatever the flushes' timing did: compaction merges four
	// runs of a level into one, so the puts above can leave a single run;
	// each flush below adds one at level 0.
	for i := 0; ; i++ {
		s.mu.RLock()
		n := len(s.runs)
		s.mu.RUnlock()
		if n >= 3 {
			break
		}
		if i == 20 {
			t.Fatalf("%d index runs after %d more flushes: the test wants keys spread over several", n, i)
		}
		k := fmt.Appendf(nil, "k%05d", 3000+i)
		if err := s.Put(ctx, k, []byte("v")); err != nil {
			t.Fatal(err)
		}
		ref[string(k)] = true
		if err := s.Maintain(ctx, engine.IndexFlush); err != nil {
			t.Fatal(err)
		}
	}
	// A run of tombstones in the memtable longer than a batch: a batch
	// that merges no present key must still go on.
	for i := 1000; i < 1200; i++ {
		if err := s.Delete(ctx, key(i)); err != nil {
			t.Fatal(err)
		}
		delete(ref, string(key(i)))
	}
	sorted := make([]string, 0, len(ref))
	for k := range ref {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	for round := range 200 {
		var start, end []byte
		switch {
		case round < 2:
			start = key(990 + 10*round) // into the tombstones
		case rng.IntN(4) > 0:
			start = key(rng.IntN(3100))
		}
		if rng.IntN(3) == 0 {
			end = key(rng.IntN(3100))
		}
		stopAfter := -1
		if rng.IntN(2) == 0 {
			stopAfter = rng.IntN(1500)
		}
		var want []string
		for _, k := range sorted {
			if (start == nil || k >= string(start)) && (end == nil || k < string(end)) {
				want = append(want, k)
			}
		}
		if stopAfter >= 0 && stopAfter < len(want) {
			want = want[:stopAfter+1] // fn sees the key it refuses
		}
		var got []string
		err := s.List(ctx, start, end, func(k []byte) bool {
			got = append(got, string(k))
			return stopAfter < 0 || len(got) <= stopAfter
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: List(%q, %q) stopping after %d: %d keys, want %d (first difference at %d)",
				round, start, end, stopAfter, len(got), len(want), firstDiff(got, want))
		}
		// ListN: batches sized by n (one, or several when n is past the
		// first), ending at n keys or at end.
		n := 1 + rng.IntN(3000)
		if rng.IntN(2) == 0 {
			n = 1 + rng.IntN(150)
		}
		want = want[:0]
		for _, k := range sorted {
			if (start == nil || k >= string(start)) && (end == nil || k < string(end)) && len(want) < n {
				want = append(want, k)
			}
		}
		got = got[:0]
		if err := s.ListN(ctx, start, end, n, func(k []byte) bool {
			got = append(got, string(k))
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: ListN(%q, %q, %d): %d keys, want %d (first difference at %d)",
				round, start, end, n, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
