package iosched

import (
	"context"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
)

// Flush starts a device flush (with a superblock write if it is dirty) now,
// instead of at the next cadence, and returns once a flush that started
// after the call has finished. It makes durable the writes issued before it;
// a queued write whose dependencies are not durable yet is not issued, so to
// wait for particular writes, wait on their dependencies instead.
func (s *Scheduler) Flush(ctx context.Context) error {
	stop := conc.AfterFunc(ctx, s.Kick)
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	target := s.syncDone + 1
	if s.flushing {
		target++ // the round under way prepared its slot and took its writes before the call
	}
	s.syncTarget = max(s.syncTarget, target)
	s.cond.Broadcast()
	for s.syncDone < target {
		if s.err != nil {
			return s.err
		}
		if s.done {
			return fmt.Errorf("iosched: closed: %w", engine.ErrClosed)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		s.cond.Wait()
	}
	return nil
}

// flush flushes the device after the superblock write sb (if any) and the
// round's writes, and completes everything the flush made durable.
func (s *Scheduler) flush(sb *sbWrite) error {
	writes := s.takeUnflushed()
	if sb != nil || len(writes) > 0 {
		if err := s.flushDevice(); err != nil {
			return err
		}
	}
	nodes := make([]*dep.Node, 0, len(writes))
	for _, w := range writes {
		if w.Node != nil {
			nodes = append(nodes, w.Node)
		}
	}
	s.g.MarkDurable(nodes...)
	if sb != nil {
		s.meta.Persisted(sb.token)
	}
	clear(writes) // (outside mu: the writes need not stay reachable)
	s.flushed(writes[:0], sb != nil)
	// Let the writers this flush completed run on this P now, before the
	// next round blocks it in a device write: they were readied onto its
	// run queue, and a P held by a goroutine in a system call runs nothing
	// else until the runtime takes it back (tens of µs or more, and
	// waking the other CPU of a small virtual machine costs as much).
	// Yielding lets them put their next writes before the next round
	// starts, so it carries them all (BenchmarkDurablePut with 16
	// clients; figures in docs/PERFORMANCE.md).
	conc.Yield()
	return nil
}

// takeUnflushed takes the list of writes issued since the last flush,
// which the coming flush makes durable, and restarts the cadence.
func (s *Scheduler) takeUnflushed() []*Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	writes := s.unflushed
	s.unflushed, s.spare = s.spare, nil
	s.unflBytes = 0
	s.haveUnfl = false
	s.cadenceDue = false
	return writes
}

// flushDevice flushes the device and counts it.
func (s *Scheduler) flushDevice() error {
	t0 := s.opts.Clock.Now()
	if err := s.dev.Flush(); err != nil {
		return fmt.Errorf("iosched: flush: %w", err)
	}
	s.countFlush(s.opts.Clock.Since(t0))
	return nil
}

// flushed records a completed flush, keeps spare (the emptied list of its
// writes) for the one after next, and wakes the Flush callers.
func (s *Scheduler) flushed(spare []*Write, super bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if super {
		s.stats.SuperblockWrites++
	}
	s.spare = spare
	s.syncDone++
	s.flushing = false
	s.cond.Broadcast()
}
