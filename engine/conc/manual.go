package conc

import "sort"

// ManualClock is a Clock whose time moves only when Advance is called. Timers
// and tickers fire, in deadline order, during Advance; Sleep blocks until
// Advance moves past its deadline. Tests use it to drive cadences (the
// superblock flush interval) deterministically.
type ManualClock struct {
	mu     Mutex
	cond   *Cond
	now    Time
	seq    uint64
	timers []*manualTimer
}

type manualTimer struct {
	c        *ManualClock
	deadline Time
	seq      uint64
	f        func()
	period   Duration // > 0 for tickers
	stopped  bool
}

// NewManualClock returns a ManualClock reading start.
func NewManualClock(start Time) *ManualClock {
	c := &ManualClock{now: start}
	c.cond = NewCond(&c.mu)
	return c
}

// Now returns the clock's time.
func (c *ManualClock) Now() Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Since returns Now().Sub(t).
func (c *ManualClock) Since(t Time) Duration { return c.Now().Sub(t) }

// Sleep blocks until Advance has moved the clock d past the call.
func (c *ManualClock) Sleep(d Duration) {
	c.mu.Lock()
	deadline := c.now.Add(d)
	for c.now.Before(deadline) {
		c.cond.Wait()
	}
	c.mu.Unlock()
}

// After returns a Chan that receives the time once Advance passes d.
func (c *ManualClock) After(d Duration) Chan[Time] {
	ch := NewChan[Time](1)
	c.AfterFunc(d, func() { ch.TrySend(c.Now()) })
	return ch
}

// AfterFunc runs f (synchronously, inside Advance) once the clock passes d.
func (c *ManualClock) AfterFunc(d Duration, f func()) Timer {
	return c.add(d, 0, f)
}

// NewTicker returns a Ticker that fires every d of manual time.
func (c *ManualClock) NewTicker(d Duration) *Ticker {
	if d <= 0 {
		panic("conc: non-positive ticker period")
	}
	ch := NewChan[Time](1)
	t := c.add(d, d, func() { ch.TrySend(c.Now()) })
	return &Ticker{C: ch, stop: func() { t.Stop() }}
}

func (c *ManualClock) add(d, period Duration, f func()) *manualTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &manualTimer{c: c, deadline: c.now.Add(d), seq: c.seq, f: f, period: period}
	c.timers = append(c.timers, t)
	return t
}

// Stop cancels the timer; it reports whether it was still pending.
func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.stopped {
		return false
	}
	t.stopped = true
	for i, u := range t.c.timers {
		if u == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock forward by d, running every timer whose deadline
// falls within, in deadline order (ties in creation order), each with the
// clock reading its deadline.
func (c *ManualClock) Advance(d Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		sort.Slice(c.timers, func(i, j int) bool {
			a, b := c.timers[i], c.timers[j]
			if !a.deadline.Equal(b.deadline) {
				return a.deadline.Before(b.deadline)
			}
			return a.seq < b.seq
		})
		if len(c.timers) == 0 || c.timers[0].deadline.After(end) {
			break
		}
		t := c.timers[0]
		if t.deadline.After(c.now) {
			c.now = t.deadline
		}
		if t.period > 0 {
			t.deadline = t.deadline.Add(t.period)
		} else {
			c.timers = c.timers[1:]
			t.stopped = true
		}
		c.cond.Broadcast()
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = end
	c.cond.Broadcast()
	c.mu.Unlock()
}
