package shardstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/lsm"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/reclaim"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// reclaimRatioBackground is the dead-byte ratio below which background
// reclamation leaves an extent alone: moving three live bytes to free one
// is a poor trade to make before a write needs the space, and taking any
// dead byte moved a nearly full device whole, extent after extent (a
// store reopened with one 64 MiB value on a 96 MiB device, which sealed
// every extent with a few bytes' tail, did so until a get of the value
// failed four times on extents reset under it).
const reclaimRatioBackground = 0.25

// reclaimRatioNeeded is the dead-byte ratio below which a write that found
// no space leaves an extent alone: moving fifteen live bytes to free one
// is not worth a put's wait, and on a device full of live data it was all
// there was to take. A fill of 64 KiB values on a 4 GiB device, once full,
// went on at 3 puts a second, each freeing a 64 KiB tail by copying whole
// 4 MiB extents (write amplification 2,022×: 6.8 GiB written for 55
// puts) where it should have been refused. The promise a full store keeps
// (OnDevice's RoomBytes, a quarter of capacity) leaves extents far more
// dead than this whenever it applies.
const reclaimRatioNeeded = 1.0 / 16

// reclaimBatchMax is how many data extents one pass evacuates before the
// one index flush that makes their relocations durable and lets them be
// reset. One flush per extent capped reclamation at about 20 extents a
// second on this machine, below what a storage node's writes free; with
// the device busy a flush waits behind the queued writes, and 16 extents
// a flush still left puts without space (332 of 2,279 in a minute).
const reclaimBatchMax = 64

// reclaimMode says how far a reclamation pass goes.
type reclaimMode int

const (
	// reclaimBackground frees extents until reclaimHigh are free, taking
	// extents at least reclaimRatioBackground dead.
	reclaimBackground reclaimMode = iota
	// reclaimNeeded is a write's: it found no space. Extents at least
	// reclaimRatioNeeded dead, best first, until the low watermark
	// (Options.ReclaimFreeExtents) is free.
	reclaimNeeded
	// reclaimAll reclaims every extent with a dead byte, once each
	// (Maintain, and a sync that found no space).
	reclaimAll
)

// reclaimHigh is the free extents background reclamation keeps: the low
// watermark, or a thirty-second of the device if that is more, so that a
// device of many extents has writes' worth of free extents ready (a put
// that finds none waits for reclamation in its own path).
func (s *Store) reclaimHigh() int {
	return max(s.opts.ReclaimFreeExtents, int(s.cs.Geometry().Count/32))
}

// reclaim runs a reclamation pass (see reclaimMode).
func (s *Store) reclaim(ctx context.Context, mode reclaimMode) error {
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	return s.reclaimLocked(ctx, mode)
}

// reclaimLocked is reclaim with maintMu held, on an open or closing store.
// Candidates are taken best first (reclaim.Choose: the highest dead ratio);
// data extents are evacuated in batches of up to reclaimBatchMax, each
// batch made durable by one index flush before its extents are reset.
func (s *Store) reclaimLocked(ctx context.Context, mode reclaimMode) error {
	ctx = engine.EnterContext(ctx, s.opts.Observer, engine.PhaseReclamation)
	defer engine.Leave(s.opts.Observer, engine.PhaseReclamation)
	low, high := s.opts.ReclaimFreeExtents, s.reclaimHigh()
	goal := high
	if mode == reclaimNeeded {
		goal = low
	}
	tried := map[extent.ID]bool{}
	// safe holds the extents of a candidate list taken before the last
	// put-gate barrier: every put that appended to one of them began
	// before the barrier, so its entry is in the memtable (evacuateData).
	safe := map[extent.ID]bool{}
	var errs []error
	var pending []extent.ID // evacuated data extents awaiting the flush and reset
	finish := func() bool {
		if len(pending) == 0 {
			return true
		}
		err := s.resetData(ctx, pending)
		pending = pending[:0]
		if err != nil {
			errs = append(errs, err)
			return !(errors.Is(err, engine.ErrClosed) || ctx.Err() != nil || s.cs.Err() != nil)
		}
		return true
	}
	for range s.cs.Geometry().Count {
		free := s.cs.Stats().FreeExtents + len(pending)
		if mode != reclaimAll && free >= goal {
			break
		}
		listed := s.candidates()
		cands := slices.DeleteFunc(slices.Clone(listed), func(c reclaim.Candidate) bool { return tried[c.ID] })
		minRatio := 0.0
		switch mode {
		case reclaimBackground:
			minRatio = reclaimRatioBackground
		case reclaimNeeded:
			minRatio = reclaimRatioNeeded
		}
		c, ok := reclaim.Choose(cands, minRatio)
		if !ok {
			break
		}
		tried[c.ID] = true
		var err error
		switch c.Owner {
		case extent.Data:
			if !safe[c.ID] {
				// One barrier for every extent listed before it: a
				// barrier per victim held new puts behind each put under
				// way (each up to 8 MiB waiting on the queue) 16 times a
				// batch.
				clear(safe)
				for _, l := range listed {
					safe[l.ID] = true
				}
				start := s.opts.Clock.Now()
				s.gate.Lock()
				s.gate.Unlock() //nolint:staticcheck // an empty critical section is the point
				s.stats.barrierNs.Add(int64(s.opts.Clock.Since(start)))
				s.stats.reclaimBarriers.Add(1)
			}
			var reset bool
			start := s.opts.Clock.Now()
			reset, err = s.evacuateData(ctx, c.ID)
			s.stats.evacuateNs.Add(int64(s.opts.Clock.Since(start)))
			if err == nil && reset {
				s.stats.reclaims.Add(1)
			} else if err == nil {
				pending = append(pending, c.ID)
				if len(pending) >= reclaimBatchMax && !finish() {
					return errors.Join(errs...)
				}
			}
		case extent.Index, extent.Metadata:
			if !finish() {
				return errors.Join(errs...)
			}
			if err = s.reclaimIndex(ctx, c.ID); err == nil {
				s.stats.reclaims.Add(1)
				engine.Emit(s.opts.Observer, engine.EventReclaim)
			}
		}
		if errors.Is(err, engine.ErrNoSpace) && s.cs.Err() == nil {
			// Not now: evacuating or rewriting e needs an extent the
			// reservation ladder keeps for index flushes (see indexFlushRoom).
			// What the batch evacuated so far may free one.
			if !finish() {
				return errors.Join(errs...)
			}
			continue
		}
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, engine.ErrClosed) || ctx.Err() != nil || s.cs.Err() != nil {
				break
			}
			continue
		}
	}
	finish()
	return errors.Join(errs...)
}

// candidates lists the owned extents no stream appends to, with their
// live bytes: referenced data chunks, runs and metadata of any version a
// crash could bring back or a reader may use.
func (s *Store) candidates() []reclaim.Candidate {
	// The extent table first, the open extents after: a stream that
	// seals its extent and opens a free one in between then shows the new
	// one open (or, read first, free). In the other order the new extent
	// was read as owned, not open, and reclaimed under a put appending to
	// it (found by checkers/interleave: TestReclaimSkipsNewlyOpenExtent).
	infos := s.cs.Extents()
	open := map[extent.ID]bool{}
	for st := chunk.StreamData; st <= chunk.StreamMetadata; st++ {
		if e, ok := s.cs.OpenExtent(st); ok {
			open[e] = true
		}
	}
	s.mu.Lock()
	s.pruneVersionsLocked()
	live := make([]int64, len(s.live))
	for i := range s.live {
		live[i] = s.live[i].Load()
	}
	for _, l := range s.indexLocsLocked() {
		live[l.Extent] += l.FrameBytes()
	}
	s.mu.Unlock()
	var out []reclaim.Candidate
	for i, info := range infos {
		id := extent.ID(i)
		if open[id] || info.Owner == extent.Free || info.Owner == extent.Super {
			continue
		}
		out = append(out, reclaim.Candidate{ID: id, Owner: info.Owner, WritePointer: info.WritePointer, LiveBytes: live[id], Size: s.cs.Geometry().ExtentBytes})
	}
	return out
}

// indexLocsLocked returns the chunks of every run and metadata that is
// current or named by a version not yet superseded by a durable one.
// Called with mu held.
func (s *Store) indexLocsLocked() []chunk.Locator {
	var out []chunk.Locator
	seen := map[*run]bool{}
	addRuns := func(rs []*run) {
		for _, r := range rs {
			if !seen[r] {
				seen[r] = true
				out = append(out, r.locs...)
			}
		}
	}
	addRuns(s.runs)
	for _, v := range s.versions {
		addRuns(v.runs)
		out = append(out, v.metaLocs...)
	}
	return out
}

// evacuateData is the first half of reclaiming data extent e: scan its
// chunks, look each up in the index (reverse lookup: is this locator the
// current value of the key its key prefix names?), copy the live ones to
// the evacuation stream and point the index at the copies. resetData makes
// that durable and resets e. Called with maintMu held, after a barrier on
// the put gate taken once e was sealed (reclaimLocked): a put that
// appended to e has its entry in the memtable once it releases the gate,
// and no later put appends to e.
func (s *Store) evacuateData(ctx context.Context, e extent.ID) (reset bool, err error) {
	s.mu.RLock()
	live := s.live[e].Load()
	s.mu.RUnlock()
	if live == 0 {
		// No entry names a chunk of e, and none can come to (e is sealed;
		// evacuations go elsewhere): nothing to read. A storage node's
		// deleted shards leave most reclaimed extents wholly dead.
		return false, nil
	}
	if !s.evacuationRoom(int(min(live, int64(s.opts.ChunkPayloadMax)))) {
		// Not even e's first live chunk could be moved: say so before
		// reading e whole. On a full device every sealed extent is a
		// candidate (its unwritten tail is dead), and a put that found no
		// space read them all, twice, before failing: a fill of 64 KiB
		// values with eight clients on a 4 GiB device made no progress
		// for a minute once the device filled (the standard suite).
		return false, fmt.Errorf("shardstore: reclaim extent %d: no room to evacuate its %d live bytes: %w", e, live, engine.ErrNoSpace)
	}
	type frame struct {
		loc     chunk.Locator
		payload []byte
	}
	var frames []frame
	corrupt := 0
	err = s.cs.Scan(ctx, e, func(r chunk.ScanResult) bool {
		switch {
		case r.Err != nil:
			corrupt++
			engine.Emit(s.opts.Observer, engine.EventFrameSkipped)
		case r.Frame.Kind == chunk.KindData:
			frames = append(frames, frame{r.Locator, r.Frame.Payload})
		}
		return true
	})
	if err != nil && mutant.On(mutant.ReclaimForgetsAfterReadError) && !errors.Is(err, extent.ErrStale) {
		// Nothing on e could be read: taken for nothing live.
		if _, err := s.cs.Reset(ctx, e); err != nil {
			return false, fmt.Errorf("shardstore: reclaim extent %d: %w", e, err)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("shardstore: reclaim extent %d: %w", e, err)
	}
	for _, f := range frames {
		bad, err := s.evacuate(ctx, e, f.loc, f.payload)
		if err != nil {
			return false, err
		}
		if bad {
			corrupt++
		}
	}
	if corrupt > 0 {
		s.mu.RLock()
		live := s.live[e].Load()
		s.mu.RUnlock()
		if live != 0 {
			return false, fmt.Errorf("shardstore: reclaim extent %d: %d live bytes remain after evacuation (%d corrupt frames): not reset: %w", e, live, corrupt, engine.ErrCorruption)
		}
	}
	return false, nil
}

// resetData is the second half of reclaiming the data extents es, each
// evacuated by evacuateData: the relocations, and every put or delete that
// made a chunk of them dead, are made durable by one index flush — else a
// crash could bring back an index naming chunks that no longer exist — and
// each extent with no live byte left is reset. Called with maintMu held.
func (s *Store) resetData(ctx context.Context, es []extent.ID) error {
	// (The mutant takes the relocations in the memtable for durable.)
	if !mutant.On(mutant.ResetBeforeIndexDurable) {
		start := s.opts.Clock.Now()
		err := s.sync(ctx)
		s.stats.flushNs.Add(int64(s.opts.Clock.Since(start)))
		if err != nil {
			return fmt.Errorf("shardstore: reclaim extents %v: index flush: %w", es, err)
		}
	}
	var errs []error
	for _, e := range es {
		s.mu.RLock()
		live := s.live[e].Load()
		s.mu.RUnlock()
		if live != 0 {
			errs = append(errs, fmt.Errorf("shardstore: reclaim extent %d: %d live bytes remain after evacuation: not reset: %w", e, live, engine.ErrCorruption))
			continue
		}
		if _, err := s.cs.Reset(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("shardstore: reclaim extent %d: %w", e, err))
			if errors.Is(err, engine.ErrClosed) || ctx.Err() != nil || s.cs.Err() != nil {
				break
			}
			continue
		}
		s.stats.reclaims.Add(1)
		engine.Emit(s.opts.Observer, engine.EventReclaim)
	}
	return errors.Join(errs...)
}

// reclaimIndex reclaims index or metadata extent e: runs with chunks in e
// are rewritten and a new version is published (the metadata is rewritten
// in any case); once that version's root is durable no version a crash can
// bring back names e, and e is reset. Called with maintMu held; pubMu keeps
// index flushes from publishing meanwhile.
func (s *Store) reclaimIndex(ctx context.Context, e extent.ID) error {
	inE := func(locs []chunk.Locator) bool {
		return slices.ContainsFunc(locs, func(l chunk.Locator) bool { return l.Extent == e })
	}
	s.pubMu.Lock()
	s.mu.Lock()
	s.pruneVersionsLocked()
	referenced := slices.ContainsFunc(s.indexLocsLocked(), func(l chunk.Locator) bool { return l.Extent == e })
	var moved []*run
	for _, r := range s.runs {
		if inE(r.locs) {
			moved = append(moved, r)
		}
	}
	s.mu.Unlock()
	if referenced {
		for _, old := range moved {
			nr := &run{id: old.id, r: old.r, level: old.level}
			if err := s.writeRunChunks(ctx, nr, true); err != nil {
				s.pubMu.Unlock()
				return fmt.Errorf("shardstore: reclaim index extent %d: %w", e, err)
			}
			s.mu.Lock()
			if i := slices.Index(s.runs, old); i >= 0 {
				s.runs[i] = nr
			}
			s.mu.Unlock()
		}
		var deps = depNone
		s.mu.RLock()
		for _, r := range s.runs {
			deps = deps.And(r.written)
		}
		s.mu.RUnlock()
		v, _, err := s.publish(ctx, deps)
		s.pubMu.Unlock()
		if err != nil {
			return fmt.Errorf("shardstore: reclaim index extent %d: %w", e, err)
		}
		if err := v.root.Wait(ctx); err != nil {
			return fmt.Errorf("shardstore: reclaim index extent %d: %w", e, err)
		}
		s.pubMu.Lock()
	}
	defer s.pubMu.Unlock()
	s.mu.Lock()
	s.pruneVersionsLocked()
	still := slices.ContainsFunc(s.indexLocsLocked(), func(l chunk.Locator) bool { return l.Extent == e })
	s.mu.Unlock()
	if still {
		return fmt.Errorf("shardstore: reclaim index extent %d: still named by a version not yet superseded", e)
	}
	if _, err := s.cs.Reset(ctx, e); err != nil {
		return fmt.Errorf("shardstore: reclaim index extent %d: %w", e, err)
	}
	return nil
}

// evacuate copies the chunk at loc in data extent e to the evacuation
// stream if it is live (the current entry of the key its key prefix names
// has loc), and points the index at the copy. It reports a payload whose
// key prefix does not parse as bad. Called with maintMu held.
func (s *Store) evacuate(ctx context.Context, e extent.ID, loc chunk.Locator, payload []byte) (bad bool, err error) {
	key, _, err := parseChunk(payload)
	if err != nil {
		return true, nil
	}
	s.mu.RLock()
	cur, ok := s.lookupLocked(key)
	s.mu.RUnlock()
	if !ok || liveAt(cur, loc) < 0 {
		return false, nil // dead: overwritten or deleted
	}
	if !s.evacuationRoom(len(payload)) {
		// A relocation is a write to the memtable: admitted only if
		// its index flush can complete (see indexFlushRoom).
		return false, fmt.Errorf("shardstore: reclaim extent %d: no room for the index flush of an evacuation: %w", e, engine.ErrNoSpace)
	}
	nl, w, _, err := s.cs.Append(ctx, chunk.StreamEvacuate, payload, depNone)
	if err != nil {
		return false, fmt.Errorf("shardstore: reclaim extent %d: evacuate %v: %w", e, loc, err)
	}
	s.stats.evacBytes.Add(int64(len(payload)))
	s.mu.Lock()
	// The key may have been written since the lookup: look again.
	again, ok := cur, true
	if !mutant.On(mutant.EvacuationOverwritesWrite) {
		again, ok = s.lookupLocked(key)
	}
	if i := liveAt(again, loc); ok && i >= 0 {
		ne := lsm.Entry{Key: again.Key, Kind: again.Kind, Locs: slices.Clone(again.Locs)}
		ne.Locs[i] = nl
		s.setLocked(ne, w)
		s.stats.relocated.Add(1)
		engine.Emit(s.opts.Observer, engine.EventChunkEvacuated)
	}
	s.mu.Unlock()
	return false, nil
}

// liveAt returns the index of loc in e's locators if e is a put that names
// it (the chunk at loc is live), or -1.
func liveAt(e lsm.Entry, loc chunk.Locator) int {
	if e.Kind != lsm.KindPut {
		return -1
	}
	if mutant.On(mutant.EvacuateWrongChunk) {
		// Matched by extent: any chunk of the key's in loc's extent.
		return slices.IndexFunc(e.Locs, func(l chunk.Locator) bool { return l.Extent == loc.Extent })
	}
	return slices.Index(e.Locs, loc)
}
