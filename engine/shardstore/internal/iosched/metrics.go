package iosched

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
)

// Stats are the scheduler's counters.
type Stats struct {
	Rounds           int64
	Writes           int64 // appends issued
	IOs              int64 // device writes of appends
	IOBytes          int64 // bytes of those device writes, padding included
	Merges           int64 // appends that joined another's IO
	Flushes          int64
	FlushNanos       int64 // total time in device flushes
	WriteNanos       int64 // total time rounds spent in device writes
	SuperblockWrites int64
	QueueDepth       int64 // appends queued now
	QueueDepthMax    int64
	DepWaitNanos     int64     // total time appends at the head of a queue waited on dependencies
	IOSizeLog2       [32]int64 // IOs by size: bucket i counts sizes in [2^i, 2^(i+1))
	ForegroundWrites int64
	BackgroundWrites int64
	ExpectHolds      int64 // rounds held back for writes the waiters need (Expect)
}

// Stats returns the counters.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Check reports counters that contradict each other, as a report of
// them would (bench prints them): a queue deeper now than its recorded
// maximum, appends issued that are neither foreground nor background, IOs
// missing from the size histogram.
func (st Stats) Check() error {
	var errs []error
	if st.QueueDepthMax < st.QueueDepth {
		errs = append(errs, fmt.Errorf("iosched: stats: %d appends queued, but the most ever queued is %d", st.QueueDepth, st.QueueDepthMax))
	}
	if st.Writes != st.ForegroundWrites+st.BackgroundWrites {
		errs = append(errs, fmt.Errorf("iosched: stats: %d appends issued, %d foreground and %d background", st.Writes, st.ForegroundWrites, st.BackgroundWrites))
	}
	var sized int64
	for _, n := range st.IOSizeLog2 {
		sized += n
	}
	if sized != st.IOs {
		errs = append(errs, fmt.Errorf("iosched: stats: %d IOs, %d in the size histogram", st.IOs, sized))
	}
	return errors.Join(errs...)
}

// countWrites counts a wave's device writes ps, which took d.
func (s *Scheduler) countWrites(ps []*piece, d conc.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.WriteNanos += int64(d)
	for _, p := range ps {
		if p.super {
			continue // counted by the flush that covers it
		}
		s.stats.IOs++
		s.stats.IOBytes += int64(len(p.buf))
		s.stats.IOSizeLog2[min(bits.Len64(uint64(len(p.buf)))-1, 31)]++
	}
}

// countPublished counts the writes of one published region. Called with
// s.mu held.
func (s *Scheduler) countPublished(writes []*Write) {
	s.stats.Writes += int64(len(writes))
	s.stats.Merges += int64(len(writes) - 1)
	if len(writes) > 1 {
		engine.Emit(s.opts.Observer, engine.EventWritesCoalesced)
	}
	for _, w := range writes {
		if w.Class == Foreground {
			s.stats.ForegroundWrites++
		} else {
			s.stats.BackgroundWrites++
		}
	}
}

// countFlush counts a device flush that took d.
func (s *Scheduler) countFlush(d conc.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Flushes++
	s.stats.FlushNanos += int64(d)
}
