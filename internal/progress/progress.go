// Package progress shows how far long work has got, two ways. On a
// terminal it draws a bar redrawn in place, with the elapsed time and an
// estimate of the time left (github.com/schollz/progressbar/v3, which
// handles widths, throttling and clearing). Elsewhere (a pipe, a CI log) it
// prints one plain status line every Interval, as YCSB clients do, with
// the rate over that interval, so a log shows a stall while it happens
// rather than after the run:
//
//	13:04:10 [2/6] ycsb-a on shardstore: 12.3k ops/s, p50 81µs, p99 1.20ms; 40%, 6s left
//
// A Meter follows one task at a time (Start, Update, Clear), is safe for
// concurrent use, and its clock and ticker can be injected, so the
// cadence of the status lines is testable without sleeping.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// IntervalDefault is the default time between two plain status lines.
const IntervalDefault = 10 * time.Second

// Options configure a Meter. The zero value prints plain status lines
// every IntervalDefault.
type Options struct {
	// Terminal draws a bar in place instead of plain status lines.
	Terminal bool
	// Interval is the time between two plain status lines (default
	// IntervalDefault).
	Interval time.Duration
	// Tick, if set, replaces the Interval ticker: a status line for each
	// value received (tests).
	Tick <-chan time.Time
	// Now, if set, replaces time.Now (tests): a task's start. A status
	// line is stamped with its tick's time.
	Now func() time.Time
}

// Snapshot is a task's state.
type Snapshot struct {
	// Done of Total units (Total 0: unknown, no percentage or estimate).
	Done, Total int64
	// Ops, if HasOps, counts operations so far: a plain status line
	// shows their rate over the interval since the last line.
	Ops    int64
	HasOps bool
	// Text is the rest of the status: "p50 81µs, p99 1.20ms",
	// "3 killed, 1 survived".
	Text string
}

// Meter shows one task's progress at a time.
type Meter struct {
	w io.Writer
	o Options

	mu      sync.Mutex
	label   string
	active  bool
	started time.Time
	snap    Snapshot
	lastAt  time.Time // the last plain line, for the interval's rate
	lastOps int64
	bar     *progressbar.ProgressBar

	stop chan struct{}
	done chan struct{}
}

// New returns a Meter writing to w. Close it when the work is over.
func New(w io.Writer, o Options) *Meter {
	if o.Interval <= 0 {
		o.Interval = IntervalDefault
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Meter{w: w, o: o, stop: make(chan struct{}), done: make(chan struct{})}
	if o.Terminal {
		close(m.done)
		return m
	}
	tick := o.Tick
	var ticker *time.Ticker
	if tick == nil {
		ticker = time.NewTicker(o.Interval)
		tick = ticker.C
	}
	go func() {
		defer close(m.done)
		if ticker != nil {
			defer ticker.Stop()
		}
		for {
			select {
			case <-m.stop:
				return
			case at := <-tick:
				m.line(at)
			}
		}
	}()
	return m
}

// Start begins a task named label: the bar, or the lines, name it.
func (m *Meter) Start(label string, total int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.label, m.active, m.started, m.snap = label, true, m.o.Now(), Snapshot{Total: total}
	m.lastAt, m.lastOps = m.started, 0
	if m.o.Terminal {
		if m.bar != nil {
			m.bar.Clear()
		}
		n := total
		if n <= 0 {
			n = -1 // unknown: a spinner
		}
		m.bar = progressbar.NewOptions64(n,
			progressbar.OptionSetWriter(m.w),
			progressbar.OptionSetDescription(label),
			progressbar.OptionSetWidth(20),
			progressbar.OptionSetPredictTime(true), // the ETA
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetRenderBlankState(true),
			// A bar of unknown length (a spinner) would otherwise be
			// redrawn by a goroutine of the library's, which takes no
			// lock Clear takes and ends only when the bar finishes: with
			// it off, every call on the bar is made under m.mu.
			progressbar.OptionSetSpinnerChangeInterval(0),
		)
	}
}

// Update records the task's state: the bar is redrawn (throttled), the
// next plain line shows it.
func (m *Meter) Update(s Snapshot) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.active {
		return
	}
	if s.Total == 0 {
		s.Total = m.snap.Total
	}
	m.snap = s
	if m.bar != nil {
		desc := m.label
		if t := m.text(nil); t != "" {
			desc += ": " + t
		}
		m.bar.Describe(desc)
		m.bar.Set64(min(s.Done, max(s.Total, s.Done)))
	}
}

// Clear ends the task: the bar is erased, no more lines are printed for
// it.
func (m *Meter) Clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.active = false
	if m.bar != nil {
		m.bar.Clear()
		m.bar = nil
	}
}

// Close ends the task and stops the ticker.
func (m *Meter) Close() {
	m.Clear()
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}

// text is the snapshot as words; rate, if set, is prepended.
func (m *Meter) text(rate *float64) string {
	out := ""
	if rate != nil {
		out = Rate(*rate) + " ops/s"
	}
	if m.snap.Text != "" {
		if out != "" {
			out += ", "
		}
		out += m.snap.Text
	}
	return out
}

// line prints the plain status line of the task under way, if any, at
// now, the tick's time.
func (m *Meter) line(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.active {
		return
	}
	var rate *float64
	if m.snap.HasOps {
		r := 0.0
		if d := now.Sub(m.lastAt).Seconds(); d > 0 {
			r = float64(m.snap.Ops-m.lastOps) / d
		}
		rate = &r
		m.lastOps = m.snap.Ops
	}
	m.lastAt = now
	s := fmt.Sprintf("%s %s: %s", now.Format("15:04:05"), m.label, m.text(rate))
	if t := m.snap.Total; t > 0 {
		frac := min(1, float64(m.snap.Done)/float64(t))
		s += fmt.Sprintf("; %.0f%%", frac*100)
		if frac > 0 {
			el := now.Sub(m.started)
			left := time.Duration(float64(el) * (1 - frac) / frac)
			s += ", " + left.Round(time.Second).String() + " left"
		}
	}
	fmt.Fprintln(m.w, s)
}

// Rate formats an ops/s figure in three digits: 812, 12.3k, 1.45M.
func Rate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.3gM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.3gk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}
