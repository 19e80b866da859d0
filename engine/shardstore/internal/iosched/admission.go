package iosched

import (
	"context"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
)

// Reserve reserves room for n bytes of writes, blocking while the queue is
// full. Every reservation is consumed by Enqueue or returned by Unreserve.
func (s *Scheduler) Reserve(ctx context.Context, n int64) error {
	// The common case, room and no cancellation to watch, takes no lock:
	// the scheduler's goroutine takes mu on every round, and a writer that
	// takes it too moves its cache line between CPUs on every put.
	if !s.stopped.Load() && s.tryReserve(n) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && !s.closing && s.tryReserve(n) {
		return nil
	}
	s.reserving++
	engine.Emit(s.opts.Observer, engine.EventQueueBackpressure)
	defer func() { s.reserving-- }() // runs with mu held (deferred unlock after)
	s.cond.Broadcast()               // a round held for Expect must go now
	s.mu.Unlock()
	stop := conc.AfterFunc(ctx, s.Kick)
	defer stop()
	s.mu.Lock()
	for {
		if s.err != nil {
			return s.err
		}
		if s.closing {
			return fmt.Errorf("iosched: closing: %w", engine.ErrClosed)
		}
		if s.tryReserve(n) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		s.cond.Wait()
	}
}

// tryReserve reserves n bytes if the queue has room for them (or is
// empty: a write larger than the bound still goes). It takes no lock:
// bytes are taken out of queued under mu and broadcast there, so a
// reservation never needs to wake anyone.
func (s *Scheduler) tryReserve(n int64) bool {
	for {
		q := s.queued.Load()
		if q != 0 && q+n > s.opts.QueueBytesMax {
			return false
		}
		if s.queued.CompareAndSwap(q, q+n) {
			return true
		}
	}
}

// ExpectMax bounds how long Expect holds back a round for the waiters.
const ExpectMax = conc.Millisecond

// Expect says that writes the goroutines waiting on the dependency graph
// need are about to be enqueued — the index flush a durable put asked for:
// its run, its metadata and the root naming them. Until done is called (or
// ExpectMax passes), a round that would start only because somebody waits
// on the graph waits instead, so that it carries those writes and its
// superblock slot the root: one device flush then completes the waiters.
// Without it the round started at once with the waiters' data, and the
// flush covering their index was the next one. Rounds for any other
// reason (Sync, a full queue, the cadence, closing) are not held.
func (s *Scheduler) Expect() (done func()) {
	s.mu.Lock()
	if s.expecting == 0 {
		s.expectUntil = s.opts.Clock.Now().Add(ExpectMax)
	}
	s.expecting++
	s.mu.Unlock()
	called := false
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if called {
			return
		}
		called = true
		s.expecting--
		s.cond.Broadcast()
	}
}

// Unreserve returns n reserved bytes.
func (s *Scheduler) Unreserve(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued.Add(-n)
	s.cond.Broadcast()
}
