//go:build interleave

package conc

import "time"

// DefaultClock returns the clock of the code calling it: inside a
// controlled execution (Run), the scheduler's virtual clock, which reads
// a fixed epoch at the start of every execution and moves only when every
// task is blocked and a timer is pending (the scheduler then jumps to the
// earliest); outside one, the wall clock (package time).
func DefaultClock() Clock { return schedClock{} }

// schedClock decides at every call, so that a store opened inside an
// execution runs on virtual time and one opened outside on real time.
type schedClock struct{}

func (schedClock) Now() Time {
	if s := cur(); s != nil {
		return epoch.Add(s.now)
	}
	return time.Now()
}

func (c schedClock) Since(t Time) Duration { return c.Now().Sub(t) }

func (schedClock) Sleep(d Duration) {
	s := cur()
	if s == nil {
		time.Sleep(d)
		return
	}
	s.point()
	t := s.cur
	tm := s.addTimer(d, 0, nil, t)
	for !tm.stopped {
		s.block(tm, "Clock.Sleep", nil)
	}
}

func (schedClock) AfterFunc(d Duration, f func()) Timer {
	s := cur()
	if s == nil {
		return time.AfterFunc(d, f)
	}
	return vtimerRef{s, s.addTimer(d, 0, f, nil)}
}

// vtimerRef is a pending virtual timer.
type vtimerRef struct {
	s  *sched
	tm *vtimer
}

func (r vtimerRef) Stop() bool {
	if r.tm.stopped {
		return false
	}
	r.tm.stopped = true
	return r.s.removeTimer(r.tm)
}

func (c schedClock) After(d Duration) Chan[Time] {
	ch := NewChan[Time](1)
	c.AfterFunc(d, func() { ch.TrySend(c.Now()) })
	return ch
}

func (c schedClock) NewTicker(d Duration) *Ticker {
	if d <= 0 {
		panic("conc: non-positive ticker period")
	}
	s := cur()
	if s == nil {
		return wallTicker(d)
	}
	ch := NewChan[Time](1)
	r := vtimerRef{s, s.addTimer(d, d, func() { ch.TrySend(c.Now()) }, nil)}
	return &Ticker{C: ch, stop: func() { r.Stop() }}
}

// wallTicker is the default build's ticker (wall.go), outside a
// controlled execution.
func wallTicker(d Duration) *Ticker {
	t := time.NewTicker(d)
	c := NewChan[Time](1)
	var mu Mutex
	stopped := false
	done := make(chan struct{})
	go func() {
		for {
			select {
			case now := <-t.C:
				mu.Lock()
				if !stopped {
					c.TrySend(now)
				}
				mu.Unlock()
			case <-done:
				return
			}
		}
	}()
	return &Ticker{C: c, stop: func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			stopped = true
			t.Stop()
			close(done)
		}
	}}
}
