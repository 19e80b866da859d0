package shardstore

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/lsm"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// Compaction policy (tiered by level): a run written from the memtable is
// at level 0, and merging runs makes one at the next level above theirs.
// When compactFanout or more adjacent runs share a level they are merged.
// Levels never decrease from the newest run to the oldest, so runs of a
// level are always adjacent, and each entry is rewritten about
// log4(N / entries per index flush) times. (Tiers computed from run sizes
// instead, as before, broke down under frequent syncs: index flushes of 3
// and of 9 entries fall in different tiers, so no four adjacent runs shared
// one, runs piled up to runsMax and every compaction rewrote everything,
// which took much of BenchmarkDurablePut's CPU; docs/PERFORMANCE.md.)
const (
	compactFanout = 4
	// runsMax: beyond this many runs, merge everything (a backstop; the
	// levels keep the count far lower).
	runsMax = 48
)

// sizeLevel is the level a recovered run is given from its entry count:
// levels are not stored, and log4 of the count is what a run of that size
// would have reached by merging.
func sizeLevel(entries int) int { return bits.Len(uint(max(entries, 1))) / 2 }

// indexFlushLoop is the index flusher: it writes the memtable out as a run when
// a writer waits for durability (group commit: one run, one metadata
// chunk and one superblock root cover every writer that asked meanwhile),
// when the memtable is full, or at the cadence (Options.FlushInterval).
//
// The chain data → run → metadata → superblock takes one device flush: the
// run and the metadata do not wait for the data, and the root depends on
// all three being written, which a superblock slot accepts once they are
// issued (dep.Dependency.IsIssued). Data, run, metadata and the slot
// recording the root and the write pointers covering all three go to the
// device in one round, under one flush; recovery verifies a slot whose
// round did not finish (package superblock).
func (s *Store) indexFlushLoop() {
	ctx := context.Background()
	for {
		s.tmu.Lock()
		for !s.indexFlushWanted && !s.indexFlushDue && !s.closing {
			s.tcond.Wait()
		}
		expected := s.expectDone
		s.expectDone = nil
		if s.closing {
			s.tmu.Unlock()
			if expected != nil {
				expected()
			}
			return
		}
		s.indexFlushWanted, s.indexFlushDue = false, false
		s.tmu.Unlock()
		// No waiting for the previous round's writes here: waiting cost more
		// (fewer, later chains) than the extra runs it saved
		// (BenchmarkDurablePut). The IO scheduler batches whatever chains are
		// queued into its next round anyway.
		_, _ = s.indexFlush(ctx)
		if expected != nil {
			expected() // the run, metadata and root are queued
		}
	}
}

// indexFlush seals the memtable and writes every sealed memtable out as
// one run, then publishes a version including it. It returns what the new
// root depends on.
func (s *Store) indexFlush(ctx context.Context) (dep.Dependency, error) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	ctx = engine.EnterContext(ctx, s.opts.Observer, engine.PhaseIndexFlush)
	defer engine.Leave(s.opts.Observer, engine.PhaseIndexFlush)
	imms := s.sealMemtable()
	empty := true
	for _, x := range imms {
		if x.t.Len() > 0 {
			empty = false
		}
	}
	var root, in dep.Dependency
	var err error
	if empty {
		root, in, err = s.republish(ctx)
	} else {
		root, in, err = s.writeRun(ctx, imms)
	}
	s.resolveTickets(imms, root, err)
	if err != nil && !empty {
		// If the run was written and only its publish failed, the
		// memtables are out of imms and the run is in runs: the next
		// publish covers them.
		s.mu.RLock()
		retried := slices.Contains(s.imms, imms[0])
		s.mu.RUnlock()
		if !retried {
			for _, x := range imms {
				s.unpublished = append(s.unpublished, x.ticket)
			}
		}
	}
	if err == nil && !empty || errors.Is(err, engine.ErrNoSpace) {
		if err == nil {
			s.stats.indexFlushes.Add(1)
			engine.Emit(s.opts.Observer, engine.EventIndexFlush)
		}
		s.wantMaintenance()
	}
	return in, err
}

// sealMemtable puts a fresh memtable in place of the current one and
// returns every sealed memtable, newest first, their tickets marked
// sealed. Called with pubMu held.
func (s *Store) sealMemtable() []*memtable {
	s.mu.Lock()
	m := s.mem
	s.mem = newMemtable()
	s.imms = append([]*memtable{m}, s.imms...)
	imms := slices.Clone(s.imms)
	s.mu.Unlock()
	s.tmu.Lock()
	for _, x := range imms {
		x.ticket.sealed = true
	}
	s.tmu.Unlock()
	return imms
}

// republish is indexFlush with nothing to write: the newest root covers
// the writers, unless a publish failed since it (a run written, or runs
// compacted or rewritten, then no metadata space): the runs in memory are
// then not the ones it names, and they must be published now. Taking the
// old root then made Sync and Close succeed, and reclamation reset
// extents, with the index in no durable root. Called with pubMu held.
func (s *Store) republish(ctx context.Context) (root, in dep.Dependency, err error) {
	s.mu.Lock()
	s.imms = s.imms[:0]
	v := s.versions[len(s.versions)-1]
	root, in = v.root, s.rootIn
	published := slices.Equal(v.runs, s.runs)
	s.mu.Unlock()
	if !published {
		if v, in, err = s.publish(ctx, dep.Dependency{}); err != nil {
			err = fmt.Errorf("shardstore: index flush: %w", err)
		} else {
			root = v.root
		}
	}
	return root, in, err
}

// resolveTickets tells the writers of the memtables imms that their index
// flush is done: durable with root, or failed with err.
func (s *Store) resolveTickets(imms []*memtable, root dep.Dependency, err error) {
	s.tmu.Lock()
	for _, x := range imms {
		// A ticket that failed in an earlier index flush is resolved
		// again: its memtable stayed sealed and was retried, and is now
		// durable with root. (Left failed, its writes' dependencies never
		// became persistent, not even after a clean shutdown.)
		if !x.ticket.done || err == nil && x.ticket.err != nil {
			x.ticket.done, x.ticket.root, x.ticket.err = true, root, err
		}
	}
	s.tcond.Broadcast()
	s.tmu.Unlock()
}

// writeRun merges the sealed memtables imms (newest first) into a run,
// writes it and publishes it. Called with pubMu held.
func (s *Store) writeRun(ctx context.Context, imms []*memtable) (root, in dep.Dependency, err error) {
	sources := make([][]lsm.Entry, len(imms))
	var deps dep.Dependency
	for i, x := range imms {
		sources[i] = x.t.Sorted()
		deps = deps.And(x.deps)
	}
	// Tombstones stay: the runs below may hold the keys they delete.
	entries := lsm.Merge(sources, mutant.On(mutant.FlushDropsTombstones))
	r := &run{r: lsm.NewRun(entries)}
	if err := s.writeRunChunks(ctx, r, false); err != nil {
		return root, in, fmt.Errorf("shardstore: index flush: %w", err)
	}
	s.mu.Lock()
	r.id = s.nextRunID
	s.nextRunID++
	s.runs = append([]*run{r}, s.runs...)
	s.imms = slices.DeleteFunc(s.imms, func(x *memtable) bool { return slices.Contains(imms, x) })
	s.mu.Unlock()
	for _, x := range imms {
		s.unflushed.Add(-int64(x.t.Bytes()))
	}
	pub := deps.And(r.written)
	if mutant.On(mutant.RootWithoutDataDependency) {
		pub = r.written // the run, not the data it names
	}
	v, in, err := s.publish(ctx, pub)
	if err != nil {
		return root, in, fmt.Errorf("shardstore: index flush: %w", err)
	}
	return v.root, in, nil
}

// writeRunChunks encodes r and appends it to the index stream. With
// leave set (compaction, reclamation) it first checks that the memtable's
// index flush can still complete after it (indexFlushRoom), and fails with
// engine.ErrNoSpace if not: admitted writes come first.
func (s *Store) writeRunChunks(ctx context.Context, r *run, leave bool) error {
	b := lsm.EncodeRun(r.r)
	if leave && !s.indexFlushRoomAfter(int64(len(b))) {
		return fmt.Errorf("index run of %d bytes: it would take the room an index flush needs: %w", len(b), engine.ErrNoSpace)
	}
	locs, written, _, err := s.cs.AppendSplit(ctx, chunk.StreamIndex, b, depNone)
	if err != nil {
		return err
	}
	s.stats.idxBytes.Add(int64(len(b)))
	r.locs, r.bytes, r.written = locs, uint64(len(b)), written
	return nil
}

// publish writes metadata naming the current runs and sets the superblock
// root to it once deps and the metadata are written. Called with pubMu
// held. It returns the new version and what its root depends on.
func (s *Store) publish(ctx context.Context, deps dep.Dependency) (*version, dep.Dependency, error) {
	s.mu.RLock()
	runs := slices.Clone(s.runs)
	meta := lsm.Metadata{NextRunID: s.nextRunID}
	for _, r := range runs {
		meta.Runs = append(meta.Runs, lsm.RunInfo{ID: r.id, Entries: uint32(len(r.r.Entries)), Bytes: r.bytes, Locs: r.locs})
		// The root depends on every run it names being written, not only
		// on deps: a run whose own publish failed is named first by a
		// later one, and is not in prevIn (written runs drop out cheaply).
		deps = deps.And(r.written)
	}
	prevIn := s.rootIn
	s.mu.RUnlock()
	b := lsm.EncodeMetadata(meta)
	if (len(b)+s.opts.ChunkPayloadMax-1)/s.opts.ChunkPayloadMax > lsm.RootLocatorsMax {
		return nil, dep.Dependency{}, fmt.Errorf("metadata of %d bytes needs more than %d chunks: %w", len(b), lsm.RootLocatorsMax, engine.ErrNoSpace)
	}
	mlocs, mw, _, err := s.cs.AppendSplit(ctx, chunk.StreamMetadata, b, depNone)
	if err != nil {
		return nil, dep.Dependency{}, err
	}
	s.stats.metaBytes.Add(int64(len(b)))
	in := dep.And(prevIn, deps, mw)
	rd, err := s.cs.SetRoot(ctx, lsm.EncodeRoot(mlocs), in)
	if err != nil {
		return nil, dep.Dependency{}, err
	}
	v := &version{runs: runs, metaLocs: mlocs, root: rd}
	if len(s.unpublished) > 0 {
		s.tmu.Lock()
		for _, t := range s.unpublished {
			t.root, t.err = rd, nil
		}
		s.tcond.Broadcast()
		s.tmu.Unlock()
		s.unpublished = nil
	}
	s.mu.Lock()
	s.rootIn = in
	s.versions = append(s.versions, v)
	s.pruneVersionsLocked()
	s.mu.Unlock()
	s.stats.publishes.Add(1)
	return v, in, nil
}

// pruneVersionsLocked drops the versions older than the newest durable
// one: no crash can bring them back. Called with mu held exclusively.
func (s *Store) pruneVersionsLocked() {
	for i := len(s.versions) - 1; i > 0; i-- {
		if s.versions[i].root.IsPersistent() {
			s.versions = slices.Delete(s.versions, 0, i)
			return
		}
	}
}

// pickCompaction chooses adjacent runs [lo, hi) to merge, given the runs'
// levels newest first, or ok false.
func pickCompaction(levels []int) (lo, hi int, ok bool) {
	for i := 0; i < len(levels); {
		j := i
		for j < len(levels) && levels[j] == levels[i] {
			j++
		}
		if j-i >= compactFanout {
			return i, j, true
		}
		i = j
	}
	if len(levels) > runsMax {
		return 0, len(levels), true
	}
	return 0, 0, false
}

// compact merges runs chosen by pickCompaction (or, if all is set, every
// run) into one and publishes the result. It reports whether it merged
// anything. Called with maintMu held, which keeps reclamation from
// rewriting the runs being merged; index flushes only prepend runs, so the
// merged runs stay adjacent in the list.
func (s *Store) compact(ctx context.Context, all bool) (bool, error) {
	v, err := s.compactVersion(ctx, all)
	return v != nil, err
}

// compactVersion is compact returning the version it published, or nil.
func (s *Store) compactVersion(ctx context.Context, all bool) (*version, error) {
	ctx = engine.EnterContext(ctx, s.opts.Observer, engine.PhaseCompaction)
	defer engine.Leave(s.opts.Observer, engine.PhaseCompaction)
	s.mu.RLock()
	levels := make([]int, len(s.runs))
	for i, r := range s.runs {
		levels[i] = r.level
	}
	runs := slices.Clone(s.runs)
	s.mu.RUnlock()
	lo, hi, ok := pickCompaction(levels)
	if all {
		lo, hi, ok = 0, len(runs), len(runs) > 1
	}
	if !ok {
		return nil, nil
	}
	group := runs[lo:hi]
	sources := make([][]lsm.Entry, len(group))
	for i, r := range group {
		sources[i] = r.r.Entries
	}
	// Tombstones can go only if nothing older than the group can
	// resurface: the group ends with the oldest run.
	merged := lsm.Merge(sources, hi == len(runs) || mutant.On(mutant.CompactionDropsTombstones))
	level := 0
	for _, r := range group {
		level = max(level, r.level+1)
	}
	nr := &run{r: lsm.NewRun(merged), level: level}
	if len(merged) > 0 {
		if err := s.writeRunChunks(ctx, nr, true); err != nil {
			s.stats.compactErrs.Add(1)
			return nil, fmt.Errorf("shardstore: compact: %w", err)
		}
	}
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	s.mu.Lock()
	i := slices.Index(s.runs, group[0])
	if i < 0 || i+len(group) > len(s.runs) || !slices.Equal(s.runs[i:i+len(group)], group) {
		s.mu.Unlock()
		panic("shardstore: compact: the merged runs are no longer adjacent")
	}
	var repl []*run
	if len(merged) > 0 {
		nr.id = s.nextRunID
		s.nextRunID++
		repl = []*run{nr}
	}
	s.runs = slices.Replace(s.runs, i, i+len(group), repl...)
	s.mu.Unlock()
	v, _, err := s.publish(ctx, nr.written)
	if err != nil {
		s.stats.compactErrs.Add(1)
		return nil, fmt.Errorf("shardstore: compact: %w", err)
	}
	s.stats.compactions.Add(1)
	engine.Emit(s.opts.Observer, engine.EventCompaction)
	return v, nil
}

// maintainLoop runs compaction and background reclamation.
func (s *Store) maintainLoop() {
	ctx := context.Background()
	for {
		s.tmu.Lock()
		for !s.maintWanted && !s.closing {
			s.tcond.Wait()
		}
		if s.closing {
			s.tmu.Unlock()
			return
		}
		s.maintWanted = false
		s.tmu.Unlock()
		// The mutant compacts without the lock, racing reclamation.
		locked := !mutant.On(mutant.CompactionWithoutMaintenanceLock)
		if locked {
			s.maintMu.Lock()
		}
		if s.closed.Load() {
			if locked {
				s.maintMu.Unlock()
			}
			continue
		}
		progress := s.stats.publishes.Load() + s.stats.reclaims.Load()
		var errs []error
		for range runsMax {
			did, err := s.compact(ctx, false)
			errs = append(errs, err)
			if !did || err != nil {
				break
			}
		}
		if locked {
			s.maintMu.Unlock()
		}
		if s.cs.FreeExtents() < s.reclaimHigh() {
			if err := s.reclaim(ctx, reclaimBackground); err != nil {
				s.stats.reclaimErrs.Add(1)
				errs = append(errs, err)
			}
		}
		if errors.Is(errors.Join(errs...), engine.ErrNoSpace) && s.stats.publishes.Load()+s.stats.reclaims.Load() == progress {
			// Nothing was published or freed, for want of space: the
			// requests this pass's own failures made (an index flush that
			// finds no space asks for maintenance) would only run it again
			// at once, in vain, spinning until something else changes.
			s.tmu.Lock()
			s.maintWanted = false
			s.tmu.Unlock()
		}
	}
}

// The background tasks' signals, under tmu.

// requestIndexFlush wakes indexFlushLoop for an index flush now.
func (s *Store) requestIndexFlush() {
	s.tmu.Lock()
	s.indexFlushWanted = true
	s.tcond.Broadcast()
	s.tmu.Unlock()
}

// armIndexFlushTimer makes sure an index flush comes within
// Options.FlushInterval (the cadence).
func (s *Store) armIndexFlushTimer() {
	if s.timerSet.Load() {
		// Armed: its index flush seals the memtable after the timer fires,
		// which is after this put entered it. (Read without tmu: every put
		// asks.)
		return
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if s.timerArmed || s.closing {
		return
	}
	s.timerArmed = true
	s.timerSet.Store(true)
	s.clock.AfterFunc(s.opts.FlushInterval, func() {
		s.tmu.Lock()
		s.timerArmed = false
		s.timerSet.Store(false)
		s.indexFlushDue = true
		s.tcond.Broadcast()
		s.tmu.Unlock()
	})
}

// wantMaintenance wakes maintainLoop: compaction, and reclamation if few
// extents are free.
func (s *Store) wantMaintenance() {
	s.tmu.Lock()
	s.maintWanted = true
	s.tcond.Broadcast()
	s.tmu.Unlock()
}
