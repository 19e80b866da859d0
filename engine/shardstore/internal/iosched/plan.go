package iosched

import (
	"fmt"
	"github.com/gauntlet-kv/gauntlet/engine"
	"slices"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// io is the consecutive appends of one extent taken in one round: one
// region of the device, written as one or more device writes.
type io struct {
	q      *extQueue
	writes []*Write
}

// A plan is what one round issues, as its policy builds it: regions in the
// order they go to the device, holding at most about budget bytes of
// frames (the region that reaches the budget ends the round). The
// scheduler keeps one and reuses it, its ios array included, round after
// round: the round it returns is carried out before the next is planned.
type plan struct {
	ios     []io
	bytes   int64 // frame bytes in ios
	budget  int64 // Options.RoundBytesMax
	now     conc.Time
	readyFn func(q *extQueue) int // see ready
	// sweep is where the elevator policy's next sweep starts: the extent
	// after the last one its previous round took from.
	sweep extent.ID
}

// ready counts the writes at the head of q that may be issued now (see
// Scheduler.readyHead).
func (p *plan) ready(q *extQueue) int { return p.readyFn(q) }

// full reports whether the plan has its round's bytes.
func (p *plan) full() bool { return p.bytes >= p.budget }

// add appends region x, of size frame bytes, to the plan.
func (p *plan) add(x io, size int) {
	p.ios = append(p.ios, x)
	p.bytes += int64(size)
}

// take removes the ready writes from the queues and groups them into
// regions by policy. Called with s.mu held.
func (s *Scheduler) take() []io {
	s.blockedHeads = false
	if len(s.active) == 0 {
		return nil
	}
	p := &s.plan
	p.ios, p.bytes, p.budget, p.now = p.ios[:0], 0, s.opts.RoundBytesMax, s.opts.Clock.Now()
	// A copy: dequeue removes drained queues from s.active, and policies
	// may reorder it.
	qs := slices.Clone(s.active)
	s.policy.plan(p, qs)
	if len(p.ios) > 0 {
		engine.Emit(s.opts.Observer, s.planEvent)
	}
	for _, x := range p.ios {
		x.q.taken += len(x.writes)
	}
	for _, q := range qs {
		s.dequeue(q, q.taken)
		q.taken = 0
	}
	return p.ios
}

// readyHead counts the writes at the head of q that may be issued now: the
// appends of an extent go in offset order, so the first whose dependencies
// are not durable holds back the ones after it. Called with s.mu held.
func (s *Scheduler) readyHead(q *extQueue, now conc.Time) int {
	for n, w := range q.pending {
		if !s.ready(w, now) {
			s.blockedHeads = true
			return n
		}
	}
	return len(q.pending)
}

// ready reports whether w's dependencies are durable, and keeps the time it
// waited on them: from the first look that found it blocked to the first
// that found it ready. A write whose dependency failed is ready: it is
// abandoned. Called with s.mu held.
func (s *Scheduler) ready(w *Write, now conc.Time) bool {
	if w.Node == nil { // abandoned earlier: padding, ready
		return true
	}
	ok, err := w.Node.Ready()
	if err != nil {
		s.abandon(w, err)
		ok = true
	}
	if !ok {
		if !w.blocked {
			w.blocked, w.blockedSince = true, now
		}
		return false
	}
	if w.blocked {
		w.blocked = false
		w.depWait = now.Sub(w.blockedSince)
		s.stats.DepWaitNanos += int64(w.depWait)
	}
	return true
}

// abandon turns w, whose dependency failed with err, into padding and fails
// its node: the write can never be made durable, but its bytes are still
// written so that the extent has no hole.
func (s *Scheduler) abandon(w *Write, err error) {
	if w.Abandon != nil {
		w.Abandon(w)
		w.Abandon = nil
	}
	s.g.MarkFailed(w.Node, fmt.Errorf("iosched: extent %d at %d: a dependency failed: %w", w.Extent, w.Offset, err))
	w.Node = nil
}
