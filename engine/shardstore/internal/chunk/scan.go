package chunk

import (
	"context"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// ScanResult is one frame (or corrupt region) found by Store.Scan.
type ScanResult struct {
	ScanEntry
	// Locator names the frame; valid when Err is nil and Frame.Kind is
	// KindData.
	Locator Locator
}

// Scan walks the frames of extent e below its write pointer, for
// reclamation: fn sees every frame with its locator, and every region that
// did not decode (a corrupt frame), until it returns false. The extent's
// generation must not change during the scan; if it does, Scan returns an
// error wrapping extent.ErrStale.
func (s *Store) Scan(ctx context.Context, e extent.ID, fn func(ScanResult) bool) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if !s.geo.Valid(e) || e == 0 {
		return fmt.Errorf("chunk: scan extent %d: no such data extent: %w", e, engine.ErrInvalidArgument)
	}
	gen := s.table.Generation(e)
	_, frames := s.sched.Unissued(e, gen)
	info := s.table.Info(e)
	if info.Generation != gen {
		return fmt.Errorf("chunk: scan extent %d: reset to generation %d during the scan: %w", e, info.Generation, extent.ErrStale)
	}
	// Bytes below the first unissued write are on the device.
	issued := info.WritePointer
	if len(frames) > 0 {
		issued = frames[0].Offset
	}
	buf := make([]byte, 0, info.WritePointer)
	if issued > 0 {
		b, err := s.readDirect(s.geo.Base(e), 0, int(issued))
		if err != nil {
			return fmt.Errorf("chunk: scan extent %d: %w", e, err)
		}
		buf = append(buf, b...)
	}
	for _, w := range frames {
		if w.Offset != int64(len(buf)) {
			panic(fmt.Sprintf("chunk: scan extent %d: unissued write at %d, have %d bytes", e, w.Offset, len(buf)))
		}
		buf = append(buf, w.Frame...)
	}
	end := info.WritePointer
	if mutant.On(mutant.ScanDropsLastByte) {
		end-- // the write pointer taken for the last byte written
	}
	buf = buf[:min(int64(len(buf)), end)]
	if g := s.table.Generation(e); g != info.Generation {
		return fmt.Errorf("chunk: scan extent %d: reset to generation %d during the scan: %w", e, g, extent.ErrStale)
	}
	var err error
	ScanBytes(buf, 0, s.opts.ChunkPayloadMax, func(se ScanEntry) bool {
		if err = ctx.Err(); err != nil {
			return false
		}
		r := ScanResult{ScanEntry: se}
		if se.Err == nil {
			r.Locator = Locator{Extent: e, Generation: info.Generation, Offset: uint32(se.Offset), Length: uint32(len(se.Frame.Payload))}
		}
		return fn(r)
	})
	return err
}

// Reset frees extent e: its write pointer returns to zero and its
// generation increments, so every locator into it is rejected from now on,
// and its cached pages are dropped. The returned dependency is persistent
// once a superblock recording the new generation is; the extent's next
// appends wait for it. The caller (reclamation) must make sure nothing it
// needs still lives in e, durably, before calling Reset. An extent a stream
// has open cannot be reset.
func (s *Store) Reset(ctx context.Context, e extent.ID) (dep.Dependency, error) {
	if err := s.checkOpen(); err != nil {
		return dep.Dependency{}, err
	}
	if !s.geo.Valid(e) || e == 0 {
		return dep.Dependency{}, fmt.Errorf("chunk: reset extent %d: no such data extent: %w", e, engine.ErrInvalidArgument)
	}
	for st := range s.streams {
		if x, open := s.OpenExtent(Stream(st)); open && x == e {
			return dep.Dependency{}, fmt.Errorf("chunk: reset extent %d: open for the %v stream: %w", e, Stream(st), engine.ErrInvalidArgument)
		}
	}
	if err := s.g.Admit(ctx, 1); err != nil {
		return dep.Dependency{}, err
	}
	// s.mu from the table's reset until the reset's dependency is in
	// s.resets: the extent is free, and so allocatable, as soon as the
	// table says so, and an append that allocated it in between found no
	// reset to depend on. Its new generation's data could then reach the
	// device before any slot recorded the reset, under a superblock that
	// still trusted the old generation's frames there
	// (TestCrashSuperblockWithData found it). placeLocked allocates and
	// reads s.resets under s.mu too.
	s.mu.Lock()
	gen := s.table.Reset(e)
	s.sb.Reset(e, gen)
	n := s.g.NewNode(dep.Dependency{}, dep.Chain{})
	s.sb.WaitGeneration(e, gen, n)
	s.resets[e] = n.Dependency()
	s.other = s.other.And(n.Dependency())
	s.mu.Unlock()
	// The old generation's pages go after s.mu is released: no read can
	// take them for the new generation's (the generation is in their
	// key), so the drop only frees their room, and appends wait on s.mu.
	if !mutant.On(mutant.CacheNotDrainedOnReset) {
		s.cache.DropExtent(e)
	}
	s.resetCount.Add(1)
	engine.Emit(s.opts.Observer, engine.EventExtentReset)
	s.sched.Kick()
	return n.Dependency(), nil
}
