package shardstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/lsm"
)

// TestFailedPublish is the regression test of two bugs the checkers found
// on a 1 MiB device, where an index flush can write its run and then find
// no free extent for the metadata naming it (engine.ErrNoSpace):
//
//   - The run stayed in memory, named by no durable root. The next Sync,
//     finding the memtable empty, returned the old durable root and
//     succeeded; reclamation trusted it and reset an extent the durable
//     index still named, and Close returned nil without making the run
//     durable, so a clean reboot lost acknowledged writes (conformance
//     checker, with fault injection; crash checker: a key's chunk at a
//     stale generation after a dirty reboot).
//   - The writers of the failed index flush had their dependency failed for
//     good: once a later index flush made their writes durable, the dependency
//     still never reported persistent, not even after a clean shutdown
//     (crash checker: forward progress).
//
// Here the device is tiny and maintenance is held off (maintMu, and the
// internal sync, which does not reclaim and retry as Sync does), so the
// metadata stream runs out of extents after a few dozen synced puts.
func TestFailedPublish(t *testing.T) {
	ctx := context.Background()
	o := Options{ExtentBytes: 4 << 10, ChunkPayloadMax: 1024, CacheBytes: 4 << 10, MemtableBytes: 1 << 20,
		ReserveExtents: 1, ReclaimFreeExtents: 1, Seed: 1}
	mem := disk.NewMem(16*4<<10, 512)
	s, err := Open(mem, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.maintMu.Lock() // no background compaction or reclamation
	var keys []string
	var deps []engine.Dependency
	failed := false
	for i := range 200 {
		k := fmt.Sprintf("k%03d", i)
		// s.writeEntry, not PutTracked: PutTracked admits a write only if
		// its index flush can complete (indexFlushRoom), so it would refuse
		// the put before the publish fails; this test is of what follows a
		// failed publish, which compaction and reclamation can still meet.
		tk, err := s.writeEntry(ctx, []byte(k), []byte("v"), lsm.KindPut)
		if err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
		keys, deps = append(keys, k), append(deps, &writeDep{s: s, t: tk})
		if err := s.sync(ctx); err != nil {
			if !errors.Is(err, engine.ErrNoSpace) {
				t.Fatalf("sync after %s: %v, want ErrNoSpace", k, err)
			}
			t.Logf("sync after %s: %v", k, err)
			failed = true
			break
		}
	}
	if !failed {
		s.maintMu.Unlock()
		t.Fatal("the device never filled: the test no longer reaches a failed publish")
	}
	// lost opens img and returns the acknowledged keys it lacks.
	lost := func(img *disk.Mem) []string {
		r, err := Open(img, o)
		if err != nil {
			t.Fatalf("open a copy of the device: %v", err)
		}
		defer r.Close()
		var out []string
		for _, k := range keys {
			if _, err := r.Get(ctx, []byte(k)); err != nil {
				out = append(out, fmt.Sprintf("%s (%v)", k, err))
			}
		}
		return out
	}
	// Still no space: a Sync may fail again, but if it succeeds, everything
	// is durable.
	if err := s.sync(ctx); err == nil {
		if l := lost(mem.Durable()); len(l) > 0 {
			t.Errorf("Sync succeeded after a failed publish, but a crash loses %v", l)
		}
	} else if !errors.Is(err, engine.ErrNoSpace) {
		t.Errorf("second sync: %v, want success or ErrNoSpace", err)
	}
	s.maintMu.Unlock()
	// Reclamation frees the index extents older runs and metadata left.
	if err := s.Maintain(ctx, engine.Reclaim); err != nil {
		t.Fatalf("reclaim: %v", err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("sync after reclamation: %v", err)
	}
	if l := lost(mem.Durable()); len(l) > 0 {
		t.Errorf("after a successful sync a crash loses %v", l)
	}
	for i, d := range deps {
		if !d.IsPersistent() {
			t.Errorf("the put of %s is durable but its dependency is not persistent", keys[i])
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if l := lost(mem.Clone()); len(l) > 0 {
		t.Errorf("a clean reboot loses %v", l)
	}
}
