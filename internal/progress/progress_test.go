package progress

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// lines collects what a Meter writes, a line at a time.
type lines struct {
	mu    sync.Mutex
	got   []string
	wrote chan struct{} // a value per write, if set
}

func (l *lines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	if l.wrote != nil {
		l.wrote <- struct{}{}
	}
	return len(b), nil
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

// TestPlainLinesOnEachTick: off a terminal, one line per tick of the
// injected ticker and none between, with the rate over the interval (so
// a stall reads 0 ops/s at once), the percentage and the time left; none
// once the task is cleared.
func TestPlainLinesOnEachTick(t *testing.T) {
	out := lines{wrote: make(chan struct{}, 10)}
	t0 := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)
	now := t0
	var nowMu sync.Mutex
	clock := func() time.Time { nowMu.Lock(); defer nowMu.Unlock(); return now }
	advance := func(d time.Duration) { nowMu.Lock(); now = now.Add(d); nowMu.Unlock() }
	tick := make(chan time.Time) // unbuffered: a send returns once the Meter took the tick
	m := New(&out, Options{Tick: tick, Now: clock})
	// tickLine ticks and waits for the line, so the next Update cannot
	// slip in between the tick and the line it prints.
	tickLine := func() {
		tick <- now
		select {
		case <-out.wrote:
		case <-time.After(10 * time.Second):
			t.Fatal("no status line within 10s of a tick")
		}
	}
	m.Start("ycsb-a on model", 100)

	m.Update(Snapshot{Done: 10, Total: 100, Ops: 5000, HasOps: true, Text: "p50 10µs, p99 1.00ms"})
	if got := out.all(); len(got) != 0 {
		t.Fatalf("lines before any tick: %q", got)
	}
	advance(10 * time.Second)
	tickLine()
	m.Update(Snapshot{Done: 50, Total: 100, Ops: 25000, HasOps: true, Text: "p50 10µs, p99 2.00ms"})
	advance(10 * time.Second)
	tickLine()
	advance(10 * time.Second) // a stall: no op in this interval
	tickLine()
	m.Clear()
	tick <- now // nothing under way: no line
	m.Close()   // waits for the ticker's goroutine, which has handled every tick sent
	want := []string{
		"13:00:10 ycsb-a on model: 500 ops/s, p50 10µs, p99 1.00ms; 10%, 1m30s left",
		"13:00:20 ycsb-a on model: 2k ops/s, p50 10µs, p99 2.00ms; 50%, 20s left",
		"13:00:30 ycsb-a on model: 0 ops/s, p50 10µs, p99 2.00ms; 50%, 30s left",
	}
	got := out.all()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTerminalBar: on a terminal the bar (the library's) is drawn in place
// with the label, the status and an estimate, and cleared at the end.
func TestTerminalBar(t *testing.T) {
	var out strings.Builder
	m := New(&out, Options{Terminal: true})
	m.Start("ycsb-c on model", 100)
	m.Update(Snapshot{Done: 100, Total: 100, Text: "p99 12µs"})
	m.Close()
	s := out.String()
	for _, want := range []string{"ycsb-c on model: p99 12µs", "100%", "\r"} {
		if !strings.Contains(s, want) {
			t.Errorf("bar output lacks %q: %q", want, s)
		}
	}
	if strings.Contains(s, "\n") {
		t.Errorf("the bar wrote a newline (it must redraw in place): %q", s)
	}
}

func TestRate(t *testing.T) {
	for r, want := range map[float64]string{0: "0", 812: "812", 12345: "12.3k", 1450000: "1.45M"} {
		if got := Rate(r); got != want {
			t.Errorf("Rate(%g) = %q, want %q", r, got, want)
		}
	}
}

// TestTerminalSpinner: a task of unknown length is a spinner that runs no
// goroutine of its own (the library's would race with Clear and outlive
// the bar): the race detector and the goroutine count check both.
func TestTerminalSpinner(t *testing.T) {
	var out strings.Builder
	before := runtime.NumGoroutine()
	m := New(&out, Options{Terminal: true})
	for i := range 3 {
		m.Start("opening", 0)
		m.Update(Snapshot{Done: int64(i)})
		if n := runtime.NumGoroutine(); n != before {
			t.Fatalf("%d goroutines with a spinner drawn, %d before", n, before)
		}
	}
	m.Close()
	if !strings.Contains(out.String(), "opening") {
		t.Errorf("the spinner lacks its label: %q", out.String())
	}
}
