package shardstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/lsm"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// The write path. A write is a put or a delete:
//
//	Put, PutTracked → put       checks the key and value
//	Delete, DeleteTracked → delete
//	  → write                   admitted only if its index flush could
//	                            complete (admitWrite, space.go); tried once
//	                            more after reclaiming if it found no space
//	  → writeEntry              appends the value's chunks (appendValue) and
//	                            inserts the entry into the memtable
//
// A write's dependency (writeDep) is its memtable's ticket: persistent once
// the root covering the memtable's run is.

// Put stores value under key.
func (s *Store) Put(ctx context.Context, key, value []byte) error {
	_, err := s.put(ctx, key, value)
	return err
}

// PutTracked stores value under key and returns the dependency that is
// persistent once the put is durable: its chunks, the index run holding
// its entry, the metadata naming that run and a superblock covering all
// of them.
func (s *Store) PutTracked(ctx context.Context, key, value []byte) (engine.Dependency, error) {
	t, err := s.put(ctx, key, value)
	if err != nil {
		return nil, err
	}
	return &writeDep{s: s, t: t}, nil
}

// PutBatch stores every pair, checked first, as consecutive puts: shardstore
// has no batch of its own to use, and needs none (the IO scheduler
// already coalesces the appends of concurrent puts into shared device
// writes and flushes).
func (s *Store) PutBatch(ctx context.Context, kvs []engine.KV) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := engine.CheckBatch(kvs, ValueMax); err != nil {
		return fmt.Errorf("shardstore: %w", err)
	}
	for _, kv := range kvs {
		if _, err := s.put(ctx, kv.Key, kv.Value); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes key.
func (s *Store) Delete(ctx context.Context, key []byte) error {
	_, err := s.delete(ctx, key)
	return err
}

// DeleteTracked removes key and returns the dependency that is persistent
// once the delete is durable.
func (s *Store) DeleteTracked(ctx context.Context, key []byte) (engine.Dependency, error) {
	t, err := s.delete(ctx, key)
	if err != nil {
		return nil, err
	}
	return &writeDep{s: s, t: t}, nil
}

// put is Put, returning the ticket of the memtable the put entered.
func (s *Store) put(ctx context.Context, key, value []byte) (*ticket, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if err := engine.CheckKey(key); err != nil {
		return nil, err
	}
	if err := engine.CheckValue(value, ValueMax); err != nil {
		return nil, err
	}
	t, err := s.write(ctx, key, value, lsm.KindPut)
	if err != nil {
		return nil, err
	}
	s.stats.userBytes.Add(int64(len(key) + len(value)))
	return t, nil
}

// delete is Delete, returning the ticket of the memtable the tombstone
// entered.
func (s *Store) delete(ctx context.Context, key []byte) (*ticket, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if err := engine.CheckKey(key); err != nil {
		return nil, err
	}
	return s.write(ctx, key, nil, lsm.KindDelete)
}

// writeTriesMax bounds a write's attempts when each finds no space.
const writeTriesMax = 8

// write writes an entry if admitWrite admits it and, if the write found
// no space, reclaims what deletes and overwrites freed and tries again,
// for as long as reclamation frees extents (up to writeTriesMax tries):
// concurrent writers take the extents one write's reclamation freed, and
// a write that tried once more failed with ErrNoSpace on a device a fifth
// dead (the shard workload, four clients).
func (s *Store) write(ctx context.Context, key, value []byte, kind lsm.Kind) (*ticket, error) {
	ctx = engine.EnterContext(ctx, s.opts.Observer, engine.PhaseForegroundWrite)
	defer engine.Leave(s.opts.Observer, engine.PhaseForegroundWrite)
	for try := 1; ; try++ {
		var t *ticket
		err := s.admitWrite(key)
		if err == nil {
			t, err = s.writeEntry(ctx, key, value, kind)
		}
		if try >= writeTriesMax || !errors.Is(err, engine.ErrNoSpace) {
			return t, err
		}
		engine.Emit(s.opts.Observer, engine.EventNoSpace)
		s.stats.writesNoSpace.Add(1)
		before := s.stats.reclaims.Load()
		start := s.opts.Clock.Now()
		rerr := s.reclaim(ctx, reclaimNeeded) // what it freed shows in the retry
		waited := int64(s.opts.Clock.Since(start))
		s.stats.reclaimWaitNs.Add(waited)
		addMax(&s.stats.reclaimWaitMaxNs, waited)
		if stop := s.reclaimStopped(ctx, rerr); stop != nil {
			// The device failed (a power cut inside the reclamation's index
			// flush, found by the crash checker, seed 4001), the caller gave
			// up, or the store is closing: that is why the write failed,
			// not space, which the store may well have (a write refused for
			// space on a nearly empty store breaks the Space contract).
			return nil, fmt.Errorf("shardstore: write %q: reclaiming space for it: %w", key, stop)
		}
		if try > 1 && s.stats.reclaims.Load() == before {
			return t, err // nothing left to free: the device is full
		}
	}
}

// reclaimStopped returns why a reclamation run for a write could not go
// on, if not for want of space: the device's error, the context's, or the
// store's closing (rerr is the reclamation's error).
func (s *Store) reclaimStopped(ctx context.Context, rerr error) error {
	if err := s.cs.Err(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if errors.Is(rerr, engine.ErrClosed) {
		return rerr
	}
	return nil
}

// admitWrite refuses a write with engine.ErrNoSpace unless the index
// flush it needs could complete (indexFlushRoom).
func (s *Store) admitWrite(key []byte) error {
	if !s.indexFlushRoom() {
		s.wantMaintenance()
		return fmt.Errorf("shardstore: write %q: no room for the index flush it needs: %w", key, engine.ErrNoSpace)
	}
	return nil
}

// writeEntry appends a put's value (appendValue) and makes the entry the
// newest for its key in the memtable, under the put gate (Store.gate). It
// returns the ticket of the memtable the entry entered.
func (s *Store) writeEntry(ctx context.Context, key, value []byte, kind lsm.Kind) (*ticket, error) {
	// key is the caller's: the memtable copies it if it keeps it.
	if !mutant.On(mutant.PutWithoutGate) {
		s.gate.RLock()
		defer s.gate.RUnlock()
	}
	e := lsm.Entry{Key: key, Kind: kind}
	var written dep.Dependency
	if kind == lsm.KindPut {
		var err error
		if e.Locs, written, err = s.appendValue(ctx, key, value); err != nil {
			return nil, err
		}
	}
	var keep []byte
	if kind == lsm.KindPut && len(value) <= ValueCacheValueMax && s.opts.ValueCacheBytes > 0 {
		keep = value
	}
	rs := s.rows.beginWrite(key)
	s.mu.RLock()
	size := s.setKeepLocked(e, keep, written)
	t := s.mem.ticket
	s.mu.RUnlock()
	rs.endWrite()
	if size >= s.opts.MemtableBytes {
		s.requestIndexFlush()
	} else {
		s.armIndexFlushTimer()
	}
	return t, nil
}

// chunkFitMin is the smallest chunk a large value is cut to so that it
// fills the rest of the data stream's open extent. Without the cut, a
// value's chunks of ChunkPayloadMax left up to a chunk unwritten at the
// end of each extent: 4 MiB extents held three 1 MiB chunks, and their
// unwritten quarter made every sealed extent a reclamation candidate.
const chunkFitMin = 64 << 10

// appendValue appends value as data chunks, each payload the key prefix
// (appendKeyPrefix) and a part of the value, and returns their locators
// and written dependency. The chunks of a value larger than one chunk are
// consecutive in the data stream (valueMu), the first cut to fill the
// open extent's room, so a deleted value frees its extents whole.
func (s *Store) appendValue(ctx context.Context, key, value []byte) ([]chunk.Locator, dep.Dependency, error) {
	var pb [64]byte // a key prefix, for keys up to 62 bytes without allocating
	prefix := appendKeyPrefix(pb[:0], key)
	per := s.opts.ChunkPayloadMax - len(prefix)
	if mutant.On(mutant.ValueSplitDropsTail) && len(value) >= per {
		value = value[:len(value)/per*per]
	}
	multi := len(value) > per
	if multi {
		s.valueMu.Lock()
		defer s.valueMu.Unlock()
	}
	locs := make([]chunk.Locator, 0, len(value)/per+2)
	var written dep.Dependency
	for off := 0; ; {
		n := min(per, len(value)-off)
		if multi {
			room := s.cs.Room(chunk.StreamData) - int64(chunk.FrameSize(len(prefix)))
			if room >= chunkFitMin && int64(n) > room {
				n = int(room)
			}
		}
		part := value[off : off+n]
		loc, w, _, err := s.cs.AppendPrefixed(ctx, chunk.StreamData, prefix, part, dep.Dependency{})
		if err != nil {
			if errors.Is(err, engine.ErrNoSpace) {
				s.wantMaintenance()
			}
			return nil, dep.Dependency{}, fmt.Errorf("shardstore: put %q: %w", key, err)
		}
		s.stats.dataBytes.Add(int64(len(prefix) + len(part)))
		locs = append(locs, loc)
		written = written.And(w)
		if off += n; off >= len(value) {
			if multi && s.cs.FreeExtents() < s.reclaimHigh() {
				// Reclaim now, not at the next index flush: a large value
				// takes extents faster than the flush cadence frees them.
				s.wantMaintenance()
			}
			return locs, written, nil
		}
	}
}

// writeDep is the Dependency of a put or delete: persistent once the root
// covering its memtable is.
type writeDep struct {
	s *Store
	t *ticket
}

func (d *writeDep) IsPersistent() bool {
	d.s.tmu.Lock()
	done, root, err := d.t.done, d.t.root, d.t.err
	d.s.tmu.Unlock()
	if mutant.On(mutant.PersistentChecksFirstNode) {
		return done && err == nil // the ticket only, not the root it names
	}
	return done && err == nil && root.IsPersistent()
}

func (d *writeDep) Wait(ctx context.Context) error {
	root, err := d.s.waitTicket(ctx, d.t)
	if err != nil {
		return err
	}
	return root.Wait(ctx)
}

// waitTicket asks for an index flush of t's memtable and waits until its run
// is published; it returns the root dependency to wait on.
func (s *Store) waitTicket(ctx context.Context, t *ticket) (dep.Dependency, error) {
	s.tmu.Lock()
	if t.done {
		s.tmu.Unlock()
		return t.root, t.err
	}
	stop := conc.AfterFunc(ctx, func() {
		s.tmu.Lock()
		s.tcond.Broadcast()
		s.tmu.Unlock()
	})
	defer stop()
	defer s.tmu.Unlock()
	for !t.done {
		if !t.sealed && !s.indexFlushWanted {
			s.indexFlushWanted = true
			if s.expectDone == nil && !s.closing {
				// The IO scheduler's next round for waiters waits for
				// this flush's run, metadata and root (indexFlushLoop).
				s.expectDone = s.cs.Expect()
			}
			s.tcond.Broadcast()
		}
		if err := ctx.Err(); err != nil {
			return dep.Dependency{}, err
		}
		if s.closing && !t.sealed {
			return dep.Dependency{}, fmt.Errorf("shardstore: %w", engine.ErrClosed)
		}
		s.tcond.Wait()
	}
	return t.root, t.err
}
