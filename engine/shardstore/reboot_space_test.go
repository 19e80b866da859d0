package shardstore

import (
	"context"
	"errors"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// TestRebootsSealExtents is the regression test of a bug the conformance
// checker found and minimized to 11 ops: on a 1 MiB device of 64 KiB
// extents, five clean reboots, each after one tiny put or delete, then
// Compact failed with ErrNoSpace ("metadata stream: no free extent").
// Each reopen seals the extents the data, index and metadata streams were
// appending to, so every reboot took three extents; all but one held only
// old runs, old metadata and overwritten data, but nothing reclaimed them:
// background reclamation starts after an index flush, and an index flush
// or compaction that found no free extent just failed. Now Sync, Close,
// index-flush and compaction reclaim and retry once, and a reopen that
// leaves few free extents starts reclamation.
func TestRebootsSealExtents(t *testing.T) {
	for _, op := range []string{"compact", "sync", "index-flush", "close"} {
		t.Run(op, func(t *testing.T) {
			ctx := context.Background()
			o := Options{ExtentBytes: 64 << 10, CacheBytes: 16 << 10, MemtableBytes: 1 << 10, Seed: 1}
			mem := disk.NewMem(1<<20, 512)
			open := func() *Store {
				s, err := Open(mem, o)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			s := open()
			// The minimized trace: put k0, put k0, put k0, put k1, delete
			// k0, each followed by a clean reboot.
			for i, k := range []string{"k0", "k0", "k0", "k1", "k0"} {
				var err error
				if i == 4 {
					err = s.Delete(ctx, []byte(k))
				} else {
					err = s.Put(ctx, []byte(k), nil)
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatalf("close: %v", err)
				}
				s = open()
			}
			var err error
			switch op {
			case "compact":
				err = s.Maintain(ctx, engine.Compact)
			case "index-flush":
				err = s.Put(ctx, []byte("k2"), nil)
				if err == nil {
					err = s.Maintain(ctx, engine.IndexFlush)
				}
			case "sync":
				err = s.Put(ctx, []byte("k2"), nil)
				if err == nil {
					err = s.Sync(ctx)
				}
			case "close":
				err = s.Put(ctx, []byte("k2"), nil)
			}
			if err != nil {
				t.Fatalf("%s after five reboots: %v", op, err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			s = open()
			defer s.Close()
			if _, err := s.Get(ctx, []byte("k1")); err != nil {
				t.Errorf("get k1: %v", err)
			}
			if _, err := s.Get(ctx, []byte("k0")); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("get k0: %v, want not found", err)
			}
			if err := s.CheckInvariants(); err != nil {
				t.Error(err)
			}
		})
	}
}
