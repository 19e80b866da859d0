package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/internal/progress"
	"github.com/gauntlet-kv/gauntlet/mutants"
)

// addStatusInterval adds --status-interval, the time between two plain
// status lines when stderr is not a terminal.
func addStatusInterval(cmd *cobra.Command) {
	cmd.Flags().Duration("status-interval", progress.IntervalDefault,
		"off a terminal, the time between two status lines on stderr (ops/s and p50/p99, or cells); a terminal gets a bar")
}

// statusInterval is cmd's --status-interval, or the default for a verb
// without it (a bench run inside another verb).
func statusInterval(cmd *cobra.Command) time.Duration {
	if f := cmd.Flags().Lookup("status-interval"); f != nil {
		if d, err := time.ParseDuration(f.Value.String()); err == nil && d > 0 {
			return d
		}
	}
	return progress.IntervalDefault
}

// newMeter is the progress of a long verb on w (stderr): a bar on a
// terminal, a status line every interval elsewhere; nil when quiet.
func newMeter(w io.Writer, quiet bool, interval time.Duration) *progress.Meter {
	if quiet {
		return nil
	}
	return progress.New(w, progress.Options{Terminal: isTerminal(w), Interval: interval})
}

// cellsMeter shows a mutants run's cells on m: done of total, the counts
// so far; off a terminal it also logs each cell as it finishes, the
// record a log keeps.
func cellsMeter(m *progress.Meter, log io.Writer, label string, tty bool) func(mutants.Progress) {
	started := false
	return func(p mutants.Progress) {
		if !started {
			m.Start(label, int64(p.Total))
			started = true
		}
		counts := fmt.Sprintf("killed %d, survived %d", p.Counts[mutants.Killed], p.Counts[mutants.Survived])
		for _, o := range []mutants.Outcome{mutants.TimedOut, mutants.Unknown, mutants.Waits} {
			if n := p.Counts[o]; n > 0 {
				counts += fmt.Sprintf(", %s %d", o, n)
			}
		}
		m.Update(progress.Snapshot{Done: int64(p.Done), Total: int64(p.Total), Text: counts + fmt.Sprintf(", %d/%d cells", p.Done, p.Total)})
		if !tty {
			c := p.Last
			what := string(c.Outcome)
			if c.Outcome == mutants.Killed {
				what = fmt.Sprintf("killed after %d cases", c.Cases)
			}
			fmt.Fprintf(log, "cell %d/%d: %s × %s: %s (%s)\n", p.Done, p.Total, c.Subject, c.Detector, what, c.Elapsed.Round(10*time.Millisecond))
		}
		if p.Done == p.Total {
			m.Clear()
			started = false
		}
	}
}

// checkMeter shows a check's time against its budget and, when live is
// set, its cases and ops so far with the ops/s of the last few seconds
// (a log then shows a check that stopped making progress while it is
// stuck), and returns the function that stops it, to call before the
// result is printed. A worker shows nothing: its parent does.
func checkMeter(w io.Writer, f checkFlags, label string, live *checkers.Live) (stop func()) {
	m := newMeter(w, f.quiet || f.worker, f.statusInterval)
	if m == nil {
		return func() {}
	}
	total := f.budget.Milliseconds()
	m.Start(label, total)
	start := time.Now()
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		const tick = 250 * time.Millisecond
		t := time.NewTicker(tick)
		defer t.Stop()
		// The last rateWindow ticks' op counts: the rate is over that
		// window, not the whole run, so a stall shows at once.
		const rateWindow = 8
		var ops []int64
		var at []time.Time
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				el := now.Sub(start)
				text := el.Round(time.Second).String() + " elapsed"
				if f.budget > 0 {
					text = el.Round(time.Second).String() + " of " + f.budget.String()
				}
				if live != nil {
					c, o := live.Counts()
					ops, at = append(ops, o), append(at, now)
					if len(ops) > rateWindow {
						ops, at = ops[1:], at[1:]
					}
					text += fmt.Sprintf(": %s cases, %s ops", progress.Rate(float64(c)), progress.Rate(float64(o)))
					if d := at[len(at)-1].Sub(at[0]); d > 0 {
						text += fmt.Sprintf(", %s ops/s", progress.Rate(float64(ops[len(ops)-1]-ops[0])/d.Seconds()))
					}
				}
				m.Update(progress.Snapshot{Done: el.Milliseconds(), Total: total, Text: text})
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		m.Close()
	}
}
