//go:build !interleave

package conc

import "time"

// DefaultClock returns the wall clock (package time).
func DefaultClock() Clock { return wallClock{} }

type wallClock struct{}

func (wallClock) Now() Time                            { return time.Now() }
func (wallClock) Since(t Time) Duration                { return time.Since(t) }
func (wallClock) Sleep(d Duration)                     { time.Sleep(d) }
func (wallClock) AfterFunc(d Duration, f func()) Timer { return time.AfterFunc(d, f) }

func (wallClock) After(d Duration) Chan[Time] {
	c := NewChan[Time](1)
	time.AfterFunc(d, func() { c.TrySend(time.Now()) })
	return c
}

func (wallClock) NewTicker(d Duration) *Ticker {
	t := time.NewTicker(d)
	c := NewChan[Time](1)
	var mu Mutex
	stopped := false
	done := make(chan struct{})
	Go("conc.ticker", func() {
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
	})
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
