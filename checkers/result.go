// Package checkers holds what every checker shares: the Checker a harness
// runs it as, the Config of a run, the Result of a run, the Violations it
// found, and the Verdict.
//
// Each checker package (conformance, crash) exports a Checker; the harness
// keeps one table of them (cmd/harness), as it keeps one of engines, and
// runs any of them the same way: in process, or split over worker
// processes by package jobs.
//
// A checker verifies one property of an engine (conformance to the model,
// crash consistency, linearizability) over many generated cases. Every run is
// a function of (seed, engine spec, options): the same inputs give the same
// Result, and each Violation carries the minimized op sequence and a one-line
// command that replays it. The cases come from StreamSeed(checker, mode,
// seed), not from the seed itself, so the checkers and modes run at one
// seed explore different cases.
package checkers

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gauntlet-kv/gauntlet/coverage"
	"github.com/gauntlet-kv/gauntlet/internal/shard"
)

// ErrBadTrace marks a trace a checker cannot replay as written: a bad
// attribute, a kill point that contradicts the ops, a value the model
// cannot hold. It is the user's input, not the engine's fault: the CLI
// exits 2.
var ErrBadTrace = errors.New("bad trace")

// ErrBadConfig marks a setting the checker cannot run with on this engine
// (--batch on an engine without PutBatch): the user's input, like
// ErrBadTrace, so the CLI exits 2.
var ErrBadConfig = errors.New("bad setting")

// FileStem names a run's files in an output directory:
// "<checker>[-<mode>]-<engine>-<seed>", e.g. "crash-kill-pebble-7", so runs
// of different engines and modes on the same seed keep their own Result
// and trace. engine is a spec; only its name (before ':') is used.
func FileStem(checker, mode, engine string, seed uint64) string {
	name, _, _ := strings.Cut(engine, ":")
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, name)
	if mode != "" {
		return fmt.Sprintf("%s-%s-%s-%d", checker, mode, name, seed)
	}
	return fmt.Sprintf("%s-%s-%d", checker, name, seed)
}

// Verdict is a checker's conclusion.
type Verdict string

// The verdicts.
const (
	Pass    Verdict = "pass"    // every case held
	Fail    Verdict = "fail"    // at least one violation
	Unknown Verdict = "unknown" // the checker could not decide (the engine failed, a replay did not reproduce)
	// Interrupted: a signal (or a cancelled context) stopped the run
	// before its cases or budget were done; the cases that ran held. It is
	// not a pass: a CI job killed by its timeout must not turn green.
	Interrupted Verdict = "interrupted"
)

// Result is the outcome of one checker run.
type Result struct {
	Checker string `json:"checker"`
	Engine  string `json:"engine"` // the full resolved engine spec
	Seed    uint64 `json:"seed"`
	// Jobs, when more than 1, is the number of worker processes the run
	// was split over: job w ran seed Seed+w, and the Result sums theirs
	// (Elapsed is the wall time of the whole run).
	Jobs    int     `json:"jobs,omitempty"`
	Verdict Verdict `json:"verdict"`
	// Reason explains an Unknown or Interrupted verdict, a run whose
	// budget ended before its cases were done, or which job of several
	// found a violation.
	Reason  string        `json:"reason,omitempty"`
	Cases   int64         `json:"cases"`
	Ops     int64         `json:"ops"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Detected is the time from the start to the first violation, before
	// any shrinking: how fast the checker finds a bug (harness mutants
	// reports it). Zero when nothing was found.
	Detected   time.Duration `json:"detected_ns,omitempty"`
	Violations []Violation   `json:"violations"`
	// Shard names the shard of a fleet run (--shard i/N) this Result is,
	// with its commit and option set, so harness merge can join shards
	// and refuse to mix runs. Nil for a run that is not sharded.
	Shard *shard.Meta `json:"shard,omitempty"`
	// Shards lists the shards harness merge joined into this Result.
	Shards []shard.Meta `json:"shards,omitempty"`
	// Coverage is what the run reached: the engine's states and the
	// fault-space cells (package coverage). Nil for a run that recorded
	// none (a Result written before coverage, a replay).
	Coverage *coverage.Report `json:"coverage,omitempty"`
}

// Violation is one way the engine broke the property.
type Violation struct {
	// Summary is one line: what was expected and what the engine did.
	Summary string `json:"summary"`
	// Ops is the minimized op sequence, one op per line in trace syntax.
	Ops []string `json:"ops"`
	// OpIndex is the index in Ops of the op whose answer was wrong.
	OpIndex  int    `json:"op_index"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	// OriginalOps is the length of the failing sequence before shrinking.
	OriginalOps int `json:"original_ops"`
	// TraceFile is where the minimized trace was written, if it was.
	TraceFile string `json:"trace_file,omitempty"`
	// Replay is a command that reproduces the violation (or, with
	// NotReproduced, retries it).
	Replay string `json:"replay"`
	// Visualization, if set, is a file that renders the violation (the
	// linearize checker's HTML view of the history, from porcupine).
	Visualization string `json:"visualization,omitempty"`
	// NotReproduced, if set, says why a replay of the violation's trace
	// did not reproduce it (a kill that landed inside Close cannot be
	// placed there again exactly); Ops are then the case as it ran.
	NotReproduced string `json:"not_reproduced,omitempty"`
	// NotMinimized, if set, says why a reproduced violation's Ops were not
	// minimized.
	NotMinimized string `json:"not_minimized,omitempty"`
	// Count, in a Result harness merge joined, is how many violations of
	// the shards had this one's signature (the same minimized ops): one
	// bug found from many seeds is one entry, with the shortest repro.
	Count int `json:"count,omitempty"`
}

// OpsPerSec is the checker's throughput.
func (r Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// JSON encodes r, indented.
func (r Result) JSON() ([]byte, error) {
	if r.Violations == nil {
		r.Violations = []Violation{}
	}
	return json.MarshalIndent(r, "", "  ")
}

// A violation's ops in a Summary: all of them up to summaryOpsMax, else the
// first summaryOpsHead and the rest up to the failing op.
const (
	summaryOpsMax  = 24
	summaryOpsHead = 4
)

// SeedLabel names the seeds of the run: "seed 3", or for a run split over
// jobs "seeds 3-6, 4 jobs".
func (r Result) SeedLabel() string {
	if r.Jobs > 1 {
		return fmt.Sprintf("seeds %d-%d, %d jobs", r.Seed, r.Seed+uint64(r.Jobs-1), r.Jobs)
	}
	return fmt.Sprintf("seed %d", r.Seed)
}

// Summary renders r for a terminal: one line of figures and verdict, then
// each violation with its minimized ops and replay command.
func (r Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s (%s): %s — %d cases, %d ops in %s (%.0f ops/s)\n",
		r.Checker, r.Engine, r.SeedLabel(), r.Verdict, r.Cases, r.Ops, r.Elapsed.Round(time.Millisecond), r.OpsPerSec())
	if r.Reason != "" {
		fmt.Fprintf(&b, "  %s\n", r.Reason)
	}
	for i, v := range r.Violations {
		fmt.Fprintf(&b, "  violation %d: %s\n", i+1, v.Summary)
		// One screen: a sequence rapid could not shrink (an engine that is
		// not deterministic) shows its first ops and those before the
		// failing one; the trace file has them all.
		head, tail := len(v.Ops), len(v.Ops)
		if len(v.Ops) > summaryOpsMax {
			head, tail = summaryOpsHead, max(v.OpIndex+1, summaryOpsMax-summaryOpsHead)-(summaryOpsMax-summaryOpsHead)
		}
		for j, op := range v.Ops {
			if j >= head && j < tail {
				if j == head {
					fmt.Fprintf(&b, "     ...  (%d ops: see the trace)\n", tail-head)
				}
				continue
			}
			mark := " "
			if j == v.OpIndex {
				mark = ">"
			}
			fmt.Fprintf(&b, "   %s %3d  %s\n", mark, j, op)
		}
		switch {
		case v.NotReproduced != "":
			fmt.Fprintf(&b, "  replay did not reproduce the violation (%s): ops not minimized\n", v.NotReproduced)
		case v.NotMinimized != "":
			fmt.Fprintf(&b, "  not minimized: %s\n", v.NotMinimized)
		case v.OriginalOps > len(v.Ops):
			fmt.Fprintf(&b, "  minimized from %d to %d ops\n", v.OriginalOps, len(v.Ops))
		}
		if v.Visualization != "" {
			fmt.Fprintf(&b, "  visualization: %s\n", v.Visualization)
		}
		switch {
		case v.Replay != "" && v.NotReproduced != "":
			fmt.Fprintf(&b, "  retry: %s\n", v.Replay)
		case v.Replay != "":
			fmt.Fprintf(&b, "  replay: %s\n", v.Replay)
		}
	}
	return b.String()
}

// End explains a run that passed with fewer than the planned cases: a run
// that interrupt (the cause of a cancelled context, e.g. a signal) stopped
// becomes Interrupted, one whose budget ran out stays a pass and says so.
// A run that did all its cases, or found a violation, is left as it is.
func (r *Result) End(planned int64, budget time.Duration, interrupt error) {
	if r.Verdict != Pass || r.Cases >= planned {
		return
	}
	if interrupt != nil {
		r.Verdict = Interrupted
		r.Reason = fmt.Sprintf("stopped after %s: %v", CasesOf(r.Cases, planned), interrupt)
		return
	}
	r.Reason = fmt.Sprintf("budget %s spent after %s", budget, CasesOf(r.Cases, planned))
}

// CasesUnlimited is a case count large enough that only the budget ends a
// run; the CLI uses it when --cases is not given.
const CasesUnlimited = 1 << 30

// CasesOf says how many of the planned cases ran: "4100 cases" when the
// plan was unlimited, "4100 of 10000 cases" otherwise.
func CasesOf(ran, planned int64) string {
	if planned >= CasesUnlimited {
		return fmt.Sprintf("%d cases", ran)
	}
	return fmt.Sprintf("%d of %d cases", ran, planned)
}
