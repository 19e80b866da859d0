package jobs

import (
	"fmt"
	"github.com/gauntlet-kv/gauntlet/coverage"
	"os"
	"syscall"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
)

// Merged says how the workers whose Results Merge joins were run.
type Merged struct {
	Checker string
	Seed    uint64 // the first worker's
	Engine  string // the engine, if no worker ran anything
	Jobs    int
	Elapsed time.Duration // the wall time of them all
	// Cases planned over all workers (checkers.CasesUnlimited: until the
	// budget), and each worker's Budget, for the reason of a run that
	// spent it.
	Cases  int64
	Budget time.Duration
	// Interrupted is the signal the parent got before any worker failed;
	// EarlyStopped says it stopped a worker before it ran anything.
	Interrupted  os.Signal
	EarlyStopped bool
	// First is the worker that found a violation (or failed) first, and
	// Stopped the number of workers it stopped.
	First   *First
	Stopped int
}

// First names a worker.
type First struct {
	Worker int
	Seed   uint64
}

// Merge joins workers' Results into one: cases, ops and violations summed
// (in the order given: the violation that stopped the others first), the
// wall time of m. The verdict is the gravest of the workers': fail, then
// unknown, then interrupted (a worker stopped by a signal, or one the
// parent's signal stopped before it ran anything), else pass.
func Merge(results []checkers.Result, m Merged) checkers.Result {
	res := checkers.Result{Checker: m.Checker, Seed: m.Seed, Jobs: m.Jobs, Verdict: checkers.Pass, Elapsed: m.Elapsed}
	grave := map[checkers.Verdict]int{checkers.Pass: 0, checkers.Interrupted: 1, checkers.Unknown: 2, checkers.Fail: 3}
	for _, r := range results {
		res.Engine = r.Engine
		res.Cases += r.Cases
		res.Ops += r.Ops
		res.Violations = append(res.Violations, r.Violations...)
		if r.Coverage != nil {
			if res.Coverage == nil {
				res.Coverage = &coverage.Report{}
			}
			res.Coverage.Merge(r.Coverage)
		}
		// The workers started together: the first detection is the
		// soonest of theirs.
		if r.Detected > 0 && (res.Detected == 0 || r.Detected < res.Detected) {
			res.Detected = r.Detected
		}
		if grave[r.Verdict] > grave[res.Verdict] {
			res.Verdict = r.Verdict
			if r.Verdict == checkers.Unknown {
				res.Reason = fmt.Sprintf("seed %d: %s", r.Seed, r.Reason)
			}
		}
	}
	if res.Engine == "" {
		res.Engine = m.Engine // no worker ran anything
	}
	if res.Verdict == checkers.Pass && m.Interrupted != nil && m.EarlyStopped {
		res.Verdict = checkers.Interrupted
	}
	switch {
	case res.Verdict == checkers.Unknown:
	case m.Interrupted != nil && (res.Verdict == checkers.Fail || res.Verdict == checkers.Interrupted):
		res.Reason = fmt.Sprintf("stopped after %s: interrupted by %s", checkers.CasesOf(res.Cases, m.Cases), SignalName(m.Interrupted))
	case res.Verdict == checkers.Interrupted:
		res.Reason = fmt.Sprintf("stopped after %s: a job was interrupted", checkers.CasesOf(res.Cases, m.Cases))
	case res.Verdict == checkers.Fail && m.First != nil:
		res.Reason = fmt.Sprintf("job %d (seed %d) found a violation first", m.First.Worker, m.First.Seed)
		switch {
		case m.Stopped == 1:
			res.Reason += ": the other job still running stopped early"
		case m.Stopped > 1:
			res.Reason += fmt.Sprintf(": the %d other jobs still running stopped early", m.Stopped)
		}
	case res.Verdict != checkers.Pass || res.Cases >= m.Cases:
	default:
		res.Reason = fmt.Sprintf("budget %s spent after %s", m.Budget, checkers.CasesOf(res.Cases, m.Cases))
	}
	return res
}

// SignalName is the signal's conventional name: SIGINT, SIGTERM.
func SignalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}
