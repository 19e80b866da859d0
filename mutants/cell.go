package mutants

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
)

// Outcome is what one detector did to one mutant.
type Outcome string

// The outcomes (see the package documentation).
const (
	Killed     Outcome = "killed"
	Survived   Outcome = "survived"
	TimedOut   Outcome = "timed-out"
	Unknown    Outcome = "unknown"
	NotViable  Outcome = "not-viable"
	NotCovered Outcome = "not-covered"
	Waits      Outcome = "waits"
	// NotRun: a cell no score depends on first, left when a run with
	// rounds spent its budget on the survivors (see Run).
	NotRun Outcome = "not-run"
)

// Detector is one way of running a checker.
type Detector struct {
	Checker string `json:"checker"`
	Mode    string `json:"mode,omitempty"`
	Faults  bool   `json:"faults,omitempty"`
}

// String names d as the matrix's columns do: "crash/block",
// "conformance+faults".
func (d Detector) String() string {
	s := d.Checker
	if d.Mode != "" {
		s += "/" + d.Mode
	}
	if d.Faults {
		s += "+faults"
	}
	return s
}

// ParseDetector reads a Detector as String writes it.
func ParseDetector(s string) (Detector, error) {
	var d Detector
	s, d.Faults = strings.CutSuffix(s, "+faults")
	d.Checker, d.Mode, _ = strings.Cut(s, "/")
	if d.Checker == "" || strings.ContainsAny(d.Checker+d.Mode, "/+ ") {
		return Detector{}, fmt.Errorf("detector %q: want checker[/mode][+faults], e.g. crash/block or conformance+faults", s)
	}
	return d, nil
}

// Detectors lists every way of running the checkers: each mode of each
// (or the checker alone), and each again with faults where the checker
// takes them.
func Detectors(cs []checkers.Checker) []Detector {
	var ds []Detector
	for _, c := range cs {
		if c.Tags != "" || c.Engines {
			// A checker that needs build tags (interleave) runs in a
			// binary built with them; the cells' binary has -tags mutants
			// only, so such a checker is not a detector (yet): its tests
			// (checkers/interleave, -tags "interleave mutants") score the
			// concurrency mutants instead. One that compares option sets
			// of one engine (differential) detects no mutant: a mutant is
			// on in every option set (one switch per process), and a cell
			// gives one spec.
			continue
		}
		modes := []checkers.Mode{{Device: true}}
		if len(c.Modes) > 0 {
			modes = c.Modes
		}
		for _, m := range modes {
			ds = append(ds, Detector{Checker: c.Name, Mode: m.Name})
			// Faults are injected into a device: a mode that runs
			// engines on a directory (crash kill) takes none.
			if c.Faults && m.Device {
				ds = append(ds, Detector{Checker: c.Name, Mode: m.Name, Faults: true})
			}
		}
	}
	return ds
}

// Subject is one mutant as the runner runs it.
type Subject struct {
	// Name keys the subject's cells: a catalogue name, an AST mutant's ID,
	// or "none" for the baseline.
	Name string `json:"name"`
	// Engine is the engine spec the detectors run.
	Engine string `json:"engine"`
	// Exe is the harness executable built with the mutant; Prepare, if
	// set, builds it when the subject's first cell starts (an AST
	// mutant's overlay build), and a NotViable error from it makes every
	// cell of the subject not viable.
	Exe string `json:"-"`
	// Env is added to the workers' environment (GOCOVERDIR for a
	// coverage run).
	Env []string `json:"-"`
	// Cleanup, if set, runs once the subject's last cell has finished
	// (an AST mutant's binary is removed: each is the size of the
	// harness).
	Cleanup func()                                    `json:"-"`
	Prepare func(ctx context.Context) (string, error) `json:"-"`
	// Expect are the detectors that should kill it (empty: none named).
	Expect []Detector `json:"expect,omitempty"`
	// Skip, if not empty, is the outcome of every cell without running
	// it (Waits, NotCovered, NotViable), and SkipWhy says why.
	Skip    Outcome `json:"skip,omitempty"`
	SkipWhy string  `json:"skip_why,omitempty"`
}

// ErrNotViable marks a subject whose harness does not build.
var ErrNotViable = errors.New("mutant does not compile")

// Cell is one detector run against one subject: the unit a run schedules,
// saves and resumes.
type Cell struct {
	Schema   string   `json:"schema"`
	Commit   string   `json:"commit"`
	Subject  string   `json:"subject"`
	Detector Detector `json:"detector"`
	Seed     uint64   `json:"seed"`
	Outcome  Outcome  `json:"outcome"`
	// Why explains an outcome other than killed or survived.
	Why string `json:"why,omitempty"`
	// Budget is what the cell was given; Elapsed what it took (the
	// worker's wall time, shrinking included), Detected the time to the
	// first violation when the checker reports it.
	Budget   time.Duration `json:"budget_ns"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Detected time.Duration `json:"detected_ns,omitempty"`
	// Cases and Ops the checker ran (to and with the first detection, for
	// a kill: the checkers stop at their first violation).
	Cases int64 `json:"cases"`
	Ops   int64 `json:"ops"`
	// Runs is how many seeds the cell took when a run gave survivors
	// further rounds (Config.Rounds): this is its killing run, or its
	// last, of Runs (absent: one). TotalCases and TotalElapsed are the
	// cases and time of those runs, to the detection for a kill.
	Runs         int           `json:"runs,omitempty"`
	TotalCases   int64         `json:"total_cases,omitempty"`
	TotalElapsed time.Duration `json:"total_elapsed_ns,omitempty"`
	// For a kill: the violation's summary, its minimized length, the
	// length before shrinking, the trace and the command that replays it.
	Violation   string `json:"violation,omitempty"`
	TraceOps    int    `json:"trace_ops,omitempty"`
	OriginalOps int    `json:"original_ops,omitempty"`
	Trace       string `json:"trace,omitempty"`
	Replay      string `json:"replay,omitempty"`
}

// Effort is the cases and time the cell took over all its runs: to the
// detection for a kill (the time apart from shrinking, when the checker
// reports it), its whole budget for a survivor.
func (c Cell) Effort() (cases int64, elapsed time.Duration) {
	if c.Runs > 1 {
		return c.TotalCases, c.TotalElapsed
	}
	if c.Outcome == Killed && c.Detected > 0 {
		return c.Cases, c.Detected
	}
	return c.Cases, c.Elapsed
}

// CellSchema versions the cell files.
const CellSchema = "gauntlet.mutants.cell/v1"

// cellRun is what running one cell needs.
type cellRun struct {
	exe     string
	subject Subject
	det     Detector
	seed    uint64
	budget  time.Duration
	cases   int
	// adaptive adds --adaptive for a detector that takes it.
	adaptive bool
	dir      string // the worker's --out
	grace    time.Duration
	// replay renders the command that replays a trace of this cell.
	replay func(trace string) string
}

// run runs the cell's worker and reads its outcome. An error is the
// runner's own failure (a bad command line, no Result): the run stops.
func (c cellRun) run(ctx context.Context) (Cell, error) {
	cell := Cell{Schema: CellSchema, Subject: c.subject.Name, Detector: c.det, Seed: c.seed, Budget: c.budget}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return cell, err
	}
	stem := checkers.FileStem(c.det.Checker, c.det.Mode, c.subject.Engine, c.seed)
	resultPath := filepath.Join(c.dir, stem+".json")
	os.Remove(resultPath) // a Result left by an earlier try must not pass for this one's
	args := []string{"check", c.det.Checker, "--worker", "--engine", c.subject.Engine,
		"--seed", strconv.FormatUint(c.seed, 10), "--budget", c.budget.String(), "--out", c.dir}
	if c.det.Mode != "" {
		args = append(args, "--mode", c.det.Mode)
	}
	if c.det.Faults {
		args = append(args, "--faults")
	}
	if c.cases > 0 {
		args = append(args, "--cases", strconv.Itoa(c.cases))
	}
	if c.adaptive && (c.det.Checker == "conformance" || c.det.Checker == "crash" && c.det.Mode == "block") {
		args = append(args, "--adaptive")
	}
	cctx, cancel := context.WithTimeout(ctx, c.budget+c.grace)
	defer cancel()
	cmd := exec.Command(c.exe, args...)
	cmd.Env = append(append(os.Environ(), checkers.ChildEnv+"=1"), c.subject.Env...)
	// A group of its own, which the stop below signals; its kill-mode
	// children have groups of their own and die with it (crash.HarnessChild).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return cell, fmt.Errorf("mutants: start %s: %w", c.exe, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	stopped := false
	select {
	case err = <-done:
	case <-cctx.Done():
		stopped = true
		// SIGINT first: the worker turns it into a Result that says
		// interrupted; its process group gets SIGKILL if it does not end.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			err = <-done
		}
	}
	cell.Elapsed = time.Since(start)
	if ctx.Err() != nil {
		return cell, ctx.Err() // the run was stopped: this cell did not finish
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		return cell, fmt.Errorf("mutants: %s: %w", c.exe, err)
	}
	res, rerr := readResult(resultPath)
	switch {
	case stopped && rerr == nil && res.Verdict == checkers.Fail && len(res.Violations) > 0:
		// Found, then stopped while minimizing: the Result the worker
		// wrote when it found the violation. Killed: a hang costs an op
		// timeout per shrink step and would otherwise score as timed-out.
		c.killed(&cell, res)
		cell.Why = fmt.Sprintf("stopped %s after its budget of %s while minimizing: the trace is the failing case as found", c.grace.Round(time.Second), c.budget)
		return cell, nil
	case stopped:
		cell.Outcome = TimedOut
		cell.Why = fmt.Sprintf("still running %s after its budget of %s; stopped", c.grace.Round(time.Second), c.budget)
		if rerr == nil {
			cell.Cases, cell.Ops = res.Cases, res.Ops
		}
		return cell, nil
	case crashed(out.String()) != "" && (rerr != nil || res.Verdict != checkers.Fail):
		// The engine panicked under the check: the bug showed itself as
		// a crash, which fails any CI job the check runs in. Killed, and
		// said so (no trace: the process died with it).
		cell.Outcome, cell.Why = Killed, "crashed: "+crashed(out.String())
		if rerr == nil {
			cell.Cases, cell.Ops = res.Cases, res.Ops
		}
		return cell, nil
	case crashed(out.String()) != "" && rerr == nil && res.Verdict == checkers.Fail && len(res.Violations) > 0:
		// The check wrote the violation it found (an op stuck past its
		// deadline: see machine.OnStuck), then its watchdog stopped the
		// process with a panic. Killed, with that violation.
		c.killed(&cell, res)
		cell.Why = "the check wrote its violation, then crashed: " + crashed(out.String())
		return cell, nil
	case code == 2 && c.subject.Prepare != nil:
		// A harness built with its own mutant (an AST mutant) refused a
		// command line the baseline's harness runs (a baseline that
		// refuses it ends the run, below): the mutant broke the engine's
		// own option checks, so the engine refuses its valid spec.
		// Killed: every check of it stops there.
		cell.Outcome, cell.Why = Killed, "refused a command line the unmutated harness accepts: "+lastLine(out.String())
		return cell, nil
	case code == 2:
		return cell, fmt.Errorf("mutants: %s refused the command line (%s %s): %s", c.det, c.exe, strings.Join(args, " "), lastLine(out.String()))
	case rerr != nil && code == 0:
		return cell, fmt.Errorf("mutants: %s on %s passed but wrote no readable Result: %v", c.det, c.subject.Name, rerr)
	case rerr != nil:
		// The worker died without a Result: a panic that escaped the
		// checker, a kill. Not a kill the checker earned.
		cell.Outcome, cell.Why = Unknown, fmt.Sprintf("worker exited %d without a Result: %s", code, lastLine(out.String()))
		return cell, nil
	}
	cell.Cases, cell.Ops = res.Cases, res.Ops
	switch {
	case code == 1 && res.Verdict == checkers.Fail && len(res.Violations) > 0:
		c.killed(&cell, res)
	case code == 0 && res.Verdict == checkers.Pass:
		cell.Outcome = Survived
	case res.Verdict == checkers.Unknown && crashed(res.Reason) != "":
		// A kill-mode child (the process running the workload) panicked.
		cell.Outcome, cell.Why = Killed, "crashed: "+crashed(res.Reason)
	case res.Verdict == checkers.Unknown:
		cell.Outcome, cell.Why = Unknown, res.Reason
	default:
		return cell, fmt.Errorf("mutants: %s on %s exited %d but its Result says %s", c.det, c.subject.Name, code, res.Verdict)
	}
	return cell, nil
}

// killed fills cell from the first violation of res, a Result that
// failed: the cell is killed, with the violation's trace and the replay
// command of this run (c.replay) or else the one the worker printed.
func (c cellRun) killed(cell *Cell, res checkers.Result) {
	v := res.Violations[0]
	cell.Outcome, cell.Cases, cell.Ops, cell.Detected = Killed, res.Cases, res.Ops, res.Detected
	cell.Violation, cell.TraceOps, cell.OriginalOps, cell.Trace = v.Summary, len(v.Ops), v.OriginalOps, v.TraceFile
	cell.Replay = v.Replay
	if v.TraceFile != "" && c.replay != nil {
		cell.Replay = c.replay(v.TraceFile)
	}
}

// readResult reads a worker's Result.
func readResult(path string) (checkers.Result, error) {
	var r checkers.Result
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// crashed returns the first line of a Go panic or fatal runtime error in
// a process's output, or "" if there is none. A Go program that panics
// exits 2, the code a worker also uses for a refused command line, so the
// output tells them apart.
func crashed(out string) string {
	for _, l := range strings.Split(out, "\n") {
		for _, p := range []string{"panic: ", "fatal error: "} {
			if i := strings.Index(l, p); i >= 0 && (i == 0 || strings.Contains(l[:i], "): ") || strings.HasSuffix(l[:i], ": ")) {
				return strings.TrimSpace(l[i:])
			}
		}
	}
	return ""
}

// lastLine is the last non-empty line of s: what a failing worker said.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
