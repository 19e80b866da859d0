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

// Dead-byte ratios below which an extent is not worth reclaiming: in the
// background, moving more live bytes than it frees is a poor trade; on
// demand (Maintain, or a put that found the device full) any dead byte
// counts.
const (
	reclaimRatioBackground = 0.25
	reclaimRatioForced     = 0
)

// reclaim frees extents: in the background until ReclaimFreeExtents are
// free, or (force) every extent with dead bytes, once each.
func (s *Store) reclaim(ctx context.Context, force bool) error {
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	return s.reclaimLocked(ctx, force)
}

// reclaimLocked is reclaim with maintMu held, on an open or closing store.
func (s *Store) reclaimLocked(ctx context.Context, force bool) error {
	ctx = engine.EnterContext(ctx, s.opts.Observer, engine.PhaseReclamation)
	defer engine.Leave(s.opts.Observer, engine.PhaseReclamation)
	minRatio := reclaimRatioBackground
	if force {
		minRatio = reclaimRatioForced
	}
	tried := map[extent.ID]bool{}
	var errs []error
	for range s.cs.Geometry().Count {
		if !force && s.cs.Stats().FreeExtents >= s.opts.ReclaimFreeExtents {
			break
		}
		cands := slices.DeleteFunc(s.candidates(), func(c reclaim.Candidate) bool { return tried[c.ID] })
		c, ok := reclaim.Choose(cands, minRatio)
		if !ok {
			break
		}
		tried[c.ID] = true
		var err error
		switch c.Owner {
		case extent.Data:
			err = s.reclaimData(ctx, c.ID)
		case extent.Index, extent.Metadata:
			err = s.reclaimIndex(ctx, c.ID)
		}
		if errors.Is(err, engine.ErrNoSpace) && s.cs.Err() == nil {
			// Not now: evacuating or rewriting e needs an extent the
			// reservation ladder keeps for index flushes (see indexFlushRoom).
			// Nothing changed; other candidates may still free one.
			continue
		}
		if err != nil {
			errs = append(errs, err)
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

// reclaimData reclaims data extent e: scan its chunks, look each up in the
// index (reverse lookup: is this locator the current value of the key its
// key prefix names?), copy the live ones to the evacuation stream and point
// the index at the copies, make that index update durable, and only then
// reset e. Called with maintMu held.
func (s *Store) reclaimData(ctx context.Context, e extent.ID) error {
	// Barrier: a put that appended to e has its entry in the memtable
	// once it releases the gate. e is sealed, so no later put appends to
	// it.
	s.gate.Lock()
	s.gate.Unlock() //nolint:staticcheck // an empty critical section is the point
	type frame struct {
		loc     chunk.Locator
		payload []byte
	}
	var frames []frame
	corrupt := 0
	err := s.cs.Scan(ctx, e, func(r chunk.ScanResult) bool {
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
			return fmt.Errorf("shardstore: reclaim extent %d: %w", e, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("shardstore: reclaim extent %d: %w", e, err)
	}
	for _, f := range frames {
		bad, err := s.evacuate(ctx, e, f.loc, f.payload)
		if err != nil {
			return err
		}
		if bad {
			corrupt++
		}
	}
	// The relocations, and every put or delete that made a chunk of e dead,
	// must be durable before e is reset: otherwise a crash could bring back
	// an index naming chunks that no longer exist.
	// (The mutant takes the relocations in the memtable for durable.)
	if !mutant.On(mutant.ResetBeforeIndexDurable) {
		if err := s.sync(ctx); err != nil {
			return fmt.Errorf("shardstore: reclaim extent %d: index flush: %w", e, err)
		}
	}
	s.mu.RLock()
	live := s.live[e].Load()
	s.mu.RUnlock()
	if live != 0 {
		return fmt.Errorf("shardstore: reclaim extent %d: %d live bytes remain after evacuation (%d corrupt frames): not reset: %w", e, live, corrupt, engine.ErrCorruption)
	}
	if _, err := s.cs.Reset(ctx, e); err != nil {
		return fmt.Errorf("shardstore: reclaim extent %d: %w", e, err)
	}
	return nil
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
