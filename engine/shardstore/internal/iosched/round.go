package iosched

import "github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"

// holdFrameMin is the smallest write the scheduler holds back while less
// than an IO's worth is queued and nobody waits (see holdLarge). Large
// writes (a fill of 64 KiB values) then go to the device in IOs of
// IOBytesMax rather than one or two frames a round. Small writes are not
// held: a stream of held 1 KiB puts stalled its readers (harness bench
// ycsb-a; docs/PERFORMANCE.md), and their rounds are cheap.
const holdFrameMin = 16 << 10

// sbWrite is a prepared superblock write.
type sbWrite struct {
	p     []byte
	off   int64
	token any
}

// run is the scheduler's goroutine: it takes rounds and carries them out
// until the scheduler closes or the device fails.
func (s *Scheduler) run() {
	defer s.stopWorkers()
	for {
		s.mu.Lock()
		ios, flush, exit := s.next()
		s.mu.Unlock()
		if exit {
			return
		}
		if err := s.round(ios, flush); err != nil {
			s.fail(err)
			return
		}
		// ios is the plan's array, reused by the next round: an idle
		// scheduler keeps no written frames reachable.
		clear(ios)
	}
}

// round issues ios, and then flushes the device if flush.
func (s *Scheduler) round(ios []io, flush bool) error {
	// The round's writes are issued: the next flush covers them. The
	// superblock slot is prepared after that, before they are written,
	// so that its write goes to the device with them and the one flush
	// after them makes both durable: the write pointers it records cover
	// every write issued so far, and the roots it names may depend on
	// them (dep.Dependency.IsIssued). A crash before the flush completes
	// may keep the slot and lose some of those writes; recovery then
	// finds a frame past the previous slot's write pointers that does not
	// verify and falls back to that slot.
	s.reportIssued(ios)
	var sb *sbWrite
	if flush {
		if p, off, token, ok := s.meta.Prepare(); ok {
			sb = &sbWrite{p: p, off: off, token: token}
		}
	}
	if err := s.issue(ios, sb); err != nil {
		return err
	}
	if flush {
		return s.flush(sb)
	}
	return nil
}

// reportIssued marks the writes of ios issued and reports each extent's
// new end to the superblock.
func (s *Scheduler) reportIssued(ios []io) {
	for _, x := range ios {
		for _, w := range x.writes {
			if w.Node != nil {
				dep.MarkIssued(w.Node)
			}
		}
		frames := make([][]byte, len(x.writes))
		for i, w := range x.writes {
			frames[i] = w.Frame
		}
		s.meta.DataIssued(x.q.id, x.writes[0].Gen, x.writes[0].Offset, frames)
	}
}

// A step is what the scheduler's goroutine does after one look at its
// state (see look).
type step uint8

const (
	stepRound step = iota // carry out the round: issue its writes, flush if it says so
	stepWait              // nothing is due: wait for a change
	stepHold              // only the waiters want a round, and Expect announced their writes: wait for them
	stepAgain             // look again at once (Metadata.Confirm asked for one more round)
	stepExit              // stopped: closed and drained, or failed
)

// next waits for work and takes it: the regions to issue and whether to
// flush after them. Called with s.mu held.
func (s *Scheduler) next() (ios []io, flush, exit bool) {
	held := false
	for {
		st, ios, flush := s.look()
		switch st {
		case stepRound:
			return ios, flush, false
		case stepExit:
			return nil, false, true
		case stepAgain:
			continue
		case stepHold:
			// One hold however many looks it lasts.
			if !held {
				held = true
				s.stats.ExpectHolds++
			}
		}
		s.cond.Wait()
	}
}

// due is what one look at the scheduler's state found: why a round may be
// due.
type due struct {
	metaDirty  bool // a superblock write would change what is persisted
	metaUrgent bool // a waiter needs a superblock write
	sync       bool // a Flush caller waits for a flush
	waiters    bool // goroutines wait on the dependency graph
	// urgent: somebody waits, so what is ready goes now, and a flush
	// after it.
	urgent bool
}

// look decides the scheduler's next step from its state and, for a round,
// takes the round's writes from the queues. It does not wait: next does.
// Called with s.mu held.
func (s *Scheduler) look() (st step, ios []io, flush bool) {
	if s.err != nil {
		return s.exit(), nil, false
	}
	s.evals++
	d := s.lookDue()
	if s.holdForExpect(d) {
		return stepHold, nil, false
	}
	s.holding = s.holdLarge(d)
	if !s.holding {
		ios = s.take()
		d.urgent = d.urgent || s.blockedHeads
	}
	if flush = s.flushDue(d, len(ios) > 0); len(ios) > 0 || flush {
		// The round's slot is prepared as soon as the lock is released,
		// before its writes: from here on a Flush caller must wait for
		// the flush after this one (see Flush), or it would return with
		// changes made before its call, but after the Prepare, not
		// persisted.
		s.flushing = flush
		return stepRound, ios, flush
	}
	if s.closing && len(s.active) == 0 && !d.metaDirty && !s.haveUnfl {
		if s.meta.Confirm() {
			return stepAgain, nil, false
		}
		return s.exit(), nil, false
	}
	s.armCadence(d)
	return stepWait, nil, false
}

// lookDue reads why a round may be due. Called with s.mu held.
func (s *Scheduler) lookDue() due {
	var d due
	d.metaDirty, d.metaUrgent = s.meta.Want()
	d.sync = s.syncDone < s.syncTarget
	d.waiters = s.g.Waiters() > 0
	d.urgent = s.closing || d.sync || d.metaUrgent || s.blockedHeads || d.waiters
	return d
}

// exit marks the scheduler done and wakes everyone waiting on it.
func (s *Scheduler) exit() step {
	s.done = true
	s.cond.Broadcast()
	return stepExit
}

// flushDue reports whether the round ends in a device flush: there is
// something to make durable (written earlier, issuing now, or the
// superblock) and a reason to do it now.
func (s *Scheduler) flushDue(d due, issuing bool) bool {
	pendingWork := s.haveUnfl || issuing
	return (pendingWork || d.metaDirty || d.sync) &&
		(d.urgent || s.cadenceDue || s.unflBytes >= s.opts.FlushBytes)
}

// holdForExpect reports whether a round only the graph's waiters want
// waits for the writes Expect announced, and arms the timer that ends the
// wait at expectUntil.
func (s *Scheduler) holdForExpect(d due) bool {
	// Not while a writer waits for room in the queue or the graph: the
	// expected writes may be the ones waiting, and only a round (a flush)
	// makes room.
	if !(s.expecting > 0 && d.waiters && !s.closing && !d.sync && !d.metaUrgent && !s.blockedHeads &&
		!s.cadenceDue && s.unflBytes < s.opts.FlushBytes && s.reserving == 0 && s.g.Admitters() == 0) {
		return false
	}
	wait := s.expectUntil.Sub(s.opts.Clock.Now())
	if wait <= 0 {
		return false
	}
	if !s.expectTimer {
		s.expectTimer = true
		s.opts.Clock.AfterFunc(wait, func() {
			s.mu.Lock()
			s.expectTimer = false
			s.cond.Broadcast()
			s.mu.Unlock()
		})
	}
	return true
}

// holdLarge reports whether the queued writes wait for more: large writes
// nobody waits for are held back until an IO's worth is queued or the
// cadence is due (see holdFrameMin), so the device gets IOs of
// IOBytesMax, not a frame or two a round. (Queued frames are read from
// the queue meanwhile.)
func (s *Scheduler) holdLarge(d due) bool {
	return !d.urgent && !s.cadenceDue && s.queued.Load() < int64(s.opts.IOBytesMax) && s.lastFrame >= holdFrameMin
}

// armCadence starts the cadence timer if something will need a flush and
// none is armed: when it fires, the next look flushes (cadenceDue).
func (s *Scheduler) armCadence(d due) {
	if (s.haveUnfl || d.metaDirty || len(s.active) > 0) && !s.timerArmed {
		s.timerArmed = true
		s.opts.Clock.AfterFunc(s.opts.FlushInterval, func() {
			s.mu.Lock()
			s.timerArmed = false
			s.cadenceDue = true
			s.cond.Broadcast()
			s.mu.Unlock()
		})
	}
}
