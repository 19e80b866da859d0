package conc

import "time"

// Time types, re-exported so that engine code need not import package time.
type (
	Time     = time.Time
	Duration = time.Duration
)

// Durations.
const (
	Nanosecond  = time.Nanosecond
	Microsecond = time.Microsecond
	Millisecond = time.Millisecond
	Second      = time.Second
	Minute      = time.Minute
)

// Clock is the engine's only source of time. Production code uses
// DefaultClock; tests that need determinism use a ManualClock; the
// interleave build substitutes the scheduler's virtual clock.
type Clock interface {
	// Now returns the current time.
	Now() Time
	// Since returns the time elapsed since t.
	Since(t Time) Duration
	// Sleep blocks for at least d.
	Sleep(d Duration)
	// After returns a Chan that receives the time once, after d.
	After(d Duration) Chan[Time]
	// AfterFunc runs f in its own task after d, unless the Timer is stopped
	// first.
	AfterFunc(d Duration, f func()) Timer
	// NewTicker returns a Ticker that sends the time every d on its C. Like
	// time.Ticker, it drops ticks a slow receiver misses.
	NewTicker(d Duration) *Ticker
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop cancels the call; it reports whether the call was still pending.
	Stop() bool
}

// Ticker delivers ticks on C until stopped.
type Ticker struct {
	C    Chan[Time]
	stop func()
}

// Stop turns the ticker off. No tick is sent after Stop returns, but one may
// already be queued in C.
func (t *Ticker) Stop() { t.stop() }

// Unix returns the time sec seconds and nsec nanoseconds after January 1,
// 1970 UTC (time.Unix): a fixed start for a ManualClock.
func Unix(sec, nsec int64) Time { return time.Unix(sec, nsec) }
