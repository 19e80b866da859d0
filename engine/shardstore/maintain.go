package shardstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/superblock"
)

var depNone dep.Dependency

var (
	_ engine.Engine           = (*Store)(nil)
	_ engine.Tracker          = (*Store)(nil)
	_ engine.Lister           = (*Store)(nil)
	_ engine.Maintainer       = (*Store)(nil)
	_ engine.InvariantChecker = (*Store)(nil)
	_ engine.Statser          = (*Store)(nil)
	_ engine.Limiter          = (*Store)(nil)
)

// Maintain runs a background operation now.
func (s *Store) Maintain(ctx context.Context, op engine.MaintenanceOp) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	switch op {
	case engine.IndexFlush:
		return s.syncRetry(ctx, false)
	case engine.Compact:
		s.maintMu.Lock()
		defer s.maintMu.Unlock()
		v, err := s.compactVersion(ctx, true)
		if errors.Is(err, engine.ErrNoSpace) {
			// As in syncRetry: reclaim, then compact again, or, if only
			// the publish failed (the merged run is in place), publish.
			_ = s.reclaimLocked(ctx, reclaimAll)
			if v, err = s.compactVersion(ctx, true); err == nil && v == nil || errors.Is(err, engine.ErrNoSpace) {
				// Merged and not published, or not merged for want of
				// an extent the ladder keeps for index flushes: the sync
				// publishes what is in memory (indexFlushRoom guarantees it
				// can), and compaction waits for space.
				return s.sync(ctx)
			}
		}
		if err != nil || v == nil {
			return err
		}
		return v.root.Wait(ctx)
	case engine.Reclaim:
		return s.reclaim(ctx, reclaimAll)
	case engine.SuperblockFlush:
		return s.cs.WriteSlot(ctx)
	case engine.CacheFlush:
		s.cs.DropCache()
		s.rows.drop()
		return nil
	}
	return fmt.Errorf("shardstore: maintenance operation %q: want one of %v: %w", op, engine.MaintenanceOps(), errors.ErrUnsupported)
}

// CheckInvariants checks, with background work paused:
//
//   - every run is sorted, without duplicate keys, and finds each of its
//     keys (its bloom filter has no false negatives);
//   - every chunk of a run or metadata that a version names lies in an
//     index (or metadata) extent at its current generation, below the
//     write pointer;
//   - the current entry of every key names chunks in data extents at their
//     current generation, below the write pointer;
//   - the live-byte accounting equals a recount from the index;
//   - free extents have a zero write pointer;
//   - the chunk store has not stopped on a device error;
//   - the superblock sequence is above every one recovery saw on the device;
//   - the buffer cache's map, clock ring, capacity and counts agree, and
//     the IO scheduler's counters do not contradict each other.
//
// It returns every violation found, joined.
func (s *Store) CheckInvariants() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	// Exclusively: writes change the memtable and the live bytes holding
	// mu shared.
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("shardstore: invariant: "+format, args...))
	}
	infos := s.cs.Extents()
	// checkLoc checks locator l of what (the index, or the key); the
	// message is formatted only for a violation (this runs after every
	// checker op, over every key).
	checkLoc := func(what string, key []byte, l chunk.Locator, owners ...extent.Owner) {
		name := func() string {
			if key != nil {
				return fmt.Sprintf("%s %q", what, key)
			}
			return what
		}
		if int(l.Extent) >= len(infos) || l.Extent == 0 {
			bad("%s: locator %v names no extent", name(), l)
			return
		}
		info := infos[l.Extent]
		switch {
		case !slices.Contains(owners, info.Owner):
			bad("%s: locator %v in a %v extent", name(), l, info.Owner)
		case info.Generation != l.Generation:
			bad("%s: locator %v: extent at generation %d", name(), l, info.Generation)
		case l.End() > info.WritePointer:
			bad("%s: locator %v ends past the write pointer %d", name(), l, info.WritePointer)
		}
	}
	for _, r := range s.runs {
		for i, e := range r.r.Entries {
			if i > 0 && string(r.r.Entries[i-1].Key) >= string(e.Key) {
				bad("run %d: keys out of order at %d", r.id, i)
			}
			if _, ok := r.r.Get(e.Key); !ok {
				bad("run %d: key %q not found by lookup", r.id, e.Key)
			}
		}
	}
	for _, l := range s.indexLocsLocked() {
		checkLoc("index", nil, l, extent.Index, extent.Metadata)
	}
	live := make([]int64, len(s.live))
	for _, e := range s.allLocked() {
		for _, l := range e.Locs {
			checkLoc("key", e.Key, l, extent.Data)
			if int(l.Extent) < len(live) {
				live[l.Extent] += l.FrameBytes()
			}
		}
	}
	for i := range live {
		if live[i] != s.live[i].Load() {
			bad("extent %d: %d live bytes accounted, %d referenced", i, s.live[i].Load(), live[i])
		}
	}
	for i, info := range infos {
		if info.Owner == extent.Free && info.WritePointer != 0 {
			bad("free extent %d has write pointer %d", i, info.WritePointer)
		}
	}
	// A wrong free count refuses puts with ErrNoSpace early, or lets them
	// take extents reclamation needs: no answer shows it at once.
	if err := s.cs.CheckFree(); err != nil {
		bad("%v", err)
	}
	// A reused sequence repeats chunk UUIDs: harmless until a later crash
	// lets a slot verify against an earlier round's identical frames.
	if err := s.cs.CheckSequence(); err != nil {
		bad("%v", err)
	}
	// A page outside the clock ring is never evicted: memory grows, no
	// answer changes.
	if err := s.cs.CheckCache(); err != nil {
		bad("%v", err)
	}
	if err := s.cs.CheckStats(); err != nil {
		bad("%v", err)
	}
	unflushed := 0
	for _, m := range append([]*memtable{s.mem}, s.imms...) {
		if err := m.t.Check(); err != nil {
			bad("%v", err)
		}
		unflushed += m.t.Bytes()
	}
	if n := s.unflushed.Load(); n != int64(unflushed) {
		bad("unflushed index bytes counted %d, the memtables hold %d", n, unflushed)
	}
	if n := s.mem.t.ValueBytes(); n > int(max(0, s.opts.ValueCacheBytes)) {
		bad("memtable keeps %d bytes of values, over the value cache's %d", n, s.opts.ValueCacheBytes)
	}
	if err := s.cs.Err(); err != nil {
		bad("chunk store stopped: %v", err)
	}
	return errors.Join(errs...)
}

// Stats returns the engine's counters.
func (s *Store) Stats() engine.Stats {
	cst := s.cs.Stats()
	m := cst.Metrics()
	st := &s.stats
	s.simMetrics(m) // sim.go
	m["bytes_data"] = float64(st.dataBytes.Load())
	m["bytes_evacuated"] = float64(st.evacBytes.Load())
	m["bytes_index"] = float64(st.idxBytes.Load())
	m["bytes_metadata"] = float64(st.metaBytes.Load())
	m["index_flushes"] = float64(st.indexFlushes.Load())
	m["index_publishes"] = float64(st.publishes.Load())
	m["compactions"] = float64(st.compactions.Load())
	m["compaction_errors"] = float64(st.compactErrs.Load())
	m["reclaims"] = float64(st.reclaims.Load())
	m["reclaim_errors"] = float64(st.reclaimErrs.Load())
	m["chunks_evacuated"] = float64(st.relocated.Load())
	m["get_stale_retries"] = float64(st.staleRetries.Load())
	m["writes_no_space"] = float64(st.writesNoSpace.Load())
	m["reclaim_barriers"] = float64(st.reclaimBarriers.Load())
	m["reclaim_wait_seconds"] = float64(st.reclaimWaitNs.Load()) / 1e9
	m["reclaim_wait_max_seconds"] = float64(st.reclaimWaitMaxNs.Load()) / 1e9
	m["reclaim_barrier_seconds"] = float64(st.barrierNs.Load()) / 1e9
	m["reclaim_evacuate_seconds"] = float64(st.evacuateNs.Load()) / 1e9
	m["reclaim_flush_seconds"] = float64(st.flushNs.Load()) / 1e9
	m["value_cache_hits"] = float64(st.valueHits.Load())
	rh, rm, rb := s.rows.stats()
	m["row_cache_hits"], m["row_cache_misses"], m["row_cache_bytes"] = float64(rh), float64(rm), float64(rb)
	s.mu.RLock()
	s.mem.mu.RLock()
	m["value_cache_bytes"] = float64(s.mem.t.ValueBytes())
	s.mem.mu.RUnlock()
	m["index_runs"] = float64(len(s.runs))
	entries := 0
	for _, r := range s.runs {
		entries += len(r.r.Entries)
	}
	m["index_run_entries"] = float64(entries)
	s.mu.RUnlock()
	out := engine.Stats{
		UserBytesWritten:   st.userBytes.Load(),
		DeviceBytesWritten: cst.Scheduler.IOBytes + cst.SuperblockWrites*superblock.SlotBytes(s.cs.Geometry().Count, s.cs.Geometry().SectorSize),
		Flushes:            cst.Scheduler.Flushes,
		Metrics:            m,
	}
	if ds, ok := s.dev.(interface{ Stats() disk.Stats }); ok {
		out.DeviceBytesRead = ds.Stats().BytesRead
	}
	m["write_amplification"] = out.WriteAmplification()
	return out
}
