// Package jobs runs a check as worker processes and merges their Results:
// the supervisor behind harness check --jobs, usable by any verb that
// splits a check over processes (a mutants runner, harness gate, harness
// merge).
//
// It knows nothing of a command line: the caller gives the executable, the
// arguments of each worker, and where each writes its Result; Run starts
// them, supervises them and returns the merged Result.
//
// # Semantics
//
// Worker w runs seed Seed+w and writes one checkers.Result as JSON to
// Results[w]. It reports its verdict by its exit code as well, the
// harness's: 0 pass, 1 violation, 3 unknown (or an internal error), 130 and
// 143 interrupted by SIGINT and SIGTERM. The first worker to end other than
// by a pass or a signal (a violation, an unknown, a crash) stops the others
// with SIGINT, which a worker turns into cancellation that still writes its
// Result. A SIGINT or SIGTERM to this process, or the end of Run's context
// (as SIGINT), is forwarded to every worker the same way. A worker's stdout
// is kept apart and shown (on Stderr) only if it fails other than by its
// verdict; its stderr goes to Stderr a whole line at a time, each line
// prefixed "job <w>: ".
//
// Merge then joins the Results: cases, ops and violations summed, the wall
// time as Elapsed, the gravest verdict. A worker whose exit code and Result
// disagree, that wrote no Result, or a corrupt one, or one for another
// checker or seed, makes Run fail with an error naming it.
package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
)

// The harness's exit codes, by which a worker reports its verdict.
const (
	ExitPass        = 0
	ExitViolation   = 1
	ExitUsage       = 2
	ExitInternal    = 3
	ExitInterrupted = 130 // SIGINT
	ExitTerminated  = 143 // SIGTERM
)

// Config is a check split over worker processes.
type Config struct {
	// Exe is the executable each worker runs (the harness).
	Exe string
	// Args are the arguments of each worker: len(Args) workers.
	Args [][]string
	// Env is the workers' environment (Env makes the usual one).
	Env []string
	// Results are the paths of the Result JSON each worker writes. Each is
	// removed before the workers start, so that a Result left by an
	// earlier run does not pass for this one's.
	Results []string
	// Checker and Seed are what the workers' Results must say: worker w's
	// is for Checker on seed Seed+w.
	Checker string
	Seed    uint64
	// Engine names the engine in a merged Result when no worker ran
	// anything.
	Engine string
	// Cases is the number of cases planned over all workers
	// (checkers.CasesUnlimited: until the budget); Budget the budget of
	// each, for the merged Result's reason.
	Cases  int64
	Budget time.Duration
	// Stderr receives the workers' stderr, prefixed.
	Stderr io.Writer
}

// Outcome is a run of workers: their merged Result, and the signal this
// process got (or its context's end, as SIGINT) before any worker failed,
// if any.
type Outcome struct {
	Result      checkers.Result
	Interrupted os.Signal
}

// Env is a workers' environment: this process's, marked (checkers.ChildEnv), with
// GOMAXPROCS=1 unless the user set GOMAXPROCS. A checker is one sequence of
// ops: a second P only adds cross-core wakeups.
func Env() []string {
	env := append(os.Environ(), checkers.ChildEnv+"=1")
	if os.Getenv("GOMAXPROCS") == "" {
		env = append(env, "GOMAXPROCS=1")
	}
	return env
}

// job is one worker process.
type job struct {
	w      int
	seed   uint64
	result string // the Result JSON it writes
	cmd    *exec.Cmd
	stdout bytes.Buffer // its summary: shown only if it fails unexpectedly
	output tailBuffer   // stdout and stderr, for the last lines of a failure
	errw   *prefixWriter

	running   bool // started, and its end not yet seen
	signalled bool // the parent sent it a signal
	waitErr   error
	started   bool
}

// exitCode is the job's exit status: -1 if it did not start or a signal
// ended it.
func (j *job) exitCode() int {
	if !j.started {
		return -1
	}
	return j.cmd.ProcessState.ExitCode()
}

// stoppedEarly says whether a signal the parent sent ended the job before
// it could catch it (it was still starting): it ran nothing.
func (j *job) stoppedEarly() bool {
	if !j.started || !j.signalled {
		return false
	}
	ws, ok := j.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && (ws.Signal() == syscall.SIGINT || ws.Signal() == syscall.SIGTERM)
}

// failure describes a job that ended other than by pass or violation, in
// one line: its worker number, seed, status and last lines of output.
func (j *job) failure(what string) error {
	status := what
	if status == "" {
		switch {
		case !j.started:
			status = fmt.Sprintf("did not start: %v", j.waitErr)
		case j.exitCode() >= 0:
			status = fmt.Sprintf("exited with status %d", j.exitCode())
		default:
			status = j.waitErr.Error() // "signal: killed"
		}
	}
	last := "no output"
	if l := lastLines(j.output.String(), 3); len(l) > 0 {
		last = "last output: " + strings.Join(l, " | ")
	}
	return fmt.Errorf("check: job %d (seed %d) %s; %s", j.w, j.seed, status, last)
}

// wroteUnknown reports whether the job wrote a Result with verdict
// unknown: an exit 3 that is the check's, not a crash of the worker.
func (j *job) wroteUnknown() bool {
	b, err := os.ReadFile(j.result)
	if err != nil {
		return false
	}
	var r checkers.Result
	return json.Unmarshal(b, &r) == nil && r.Verdict == checkers.Unknown
}

// Run runs the workers of c to their end and merges their Results. An
// error is a worker that failed other than by its verdict (see the package
// documentation), or workers that could not be prepared.
func Run(ctx context.Context, c Config) (Outcome, error) {
	n := len(c.Args)
	if len(c.Results) != n {
		return Outcome{}, fmt.Errorf("jobs: %d workers, %d result paths", n, len(c.Results))
	}
	stderr := c.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	var errMu sync.Mutex
	jobs := make([]*job, n)
	for w := range jobs {
		j := &job{w: w, seed: c.Seed + uint64(w), result: c.Results[w]}
		if err := os.MkdirAll(filepath.Dir(j.result), 0o755); err != nil {
			return Outcome{}, fmt.Errorf("check: %w", err)
		}
		if err := os.Remove(j.result); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Outcome{}, fmt.Errorf("check: %w", err)
		}
		j.cmd = exec.Command(c.Exe, c.Args[w]...)
		j.cmd.Env = c.Env
		j.errw = &prefixWriter{mu: &errMu, w: stderr, prefix: fmt.Sprintf("job %d: ", w)}
		j.cmd.Stdout = io.MultiWriter(&j.stdout, &j.output)
		j.cmd.Stderr = io.MultiWriter(j.errw, &j.output)
		jobs[w] = j
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	start := time.Now()
	done := make(chan *job, n)
	for _, j := range jobs {
		if err := j.cmd.Start(); err != nil {
			j.waitErr = err
			done <- j
			continue
		}
		j.started, j.running = true, true
		go func() {
			j.waitErr = j.cmd.Wait()
			done <- j
		}()
	}
	signalAll := func(sig os.Signal) (running int) {
		for _, j := range jobs {
			if j.running {
				running++
				j.signalled = true
				j.cmd.Process.Signal(sig) // an exited job's error is of no interest
			}
		}
		return running
	}
	var (
		first       *job      // the first job to end with a violation or a failure
		stopped     int       // the jobs it stopped
		interrupted os.Signal // what the parent got before any job failed
		ctxDone     = ctx.Done()
	)
	interrupt := func(sig os.Signal) {
		if interrupted == nil && first == nil {
			interrupted = sig
		}
		signalAll(sig)
	}
	for left := n; left > 0; {
		select {
		case j := <-done:
			left--
			j.running = false
			j.errw.flush()
			// The first job to end other than by a pass or a signal
			// (a violation, an unknown, a crash) stops the others.
			if code := j.exitCode(); code != ExitPass && code != ExitInterrupted && code != ExitTerminated && first == nil && !j.stoppedEarly() {
				first = j
				if interrupted == nil {
					stopped = signalAll(os.Interrupt)
				}
			}
		case sig := <-sigs:
			interrupt(sig)
		case <-ctxDone:
			ctxDone = nil
			interrupt(os.Interrupt)
		}
	}
	elapsed := time.Since(start)

	// A job that failed other than by its verdict (pass, violation,
	// unknown, interrupted: each with its Result) is an internal error:
	// the first to end so, else the first in order. Its summary, if it
	// printed one, goes to stderr.
	for _, j := range append([]*job{first}, jobs...) {
		if j == nil || j.stoppedEarly() {
			continue
		}
		if code := j.exitCode(); !slices.Contains([]int{ExitPass, ExitViolation, ExitInterrupted, ExitTerminated}, code) && !(code == ExitInternal && j.wroteUnknown()) {
			if j.stdout.Len() > 0 {
				j.errw.Write(j.stdout.Bytes())
				j.errw.flush()
			}
			return Outcome{}, j.failure("")
		}
	}
	var results []checkers.Result
	earlyStopped := false
	for _, j := range jobs {
		if j.stoppedEarly() {
			earlyStopped = true
			continue // stopped before it ran anything
		}
		code := j.exitCode()
		b, err := os.ReadFile(j.result)
		if err != nil {
			return Outcome{}, j.failure(fmt.Sprintf("exited with status %d but wrote no result %s", code, j.result))
		}
		var r checkers.Result
		if err := json.Unmarshal(b, &r); err != nil {
			return Outcome{}, j.failure(fmt.Sprintf("wrote a corrupt result %s (%v)", j.result, err))
		}
		if r.Checker != c.Checker || r.Seed != j.seed {
			return Outcome{}, j.failure(fmt.Sprintf("wrote a result %s for %s seed %d", j.result, r.Checker, r.Seed))
		}
		if VerdictCode(r.Verdict, code) != code {
			return Outcome{}, j.failure(fmt.Sprintf("exited with status %d but its result %s says %s", code, j.result, r.Verdict))
		}
		if j == first {
			// The violation that stopped the others comes first: it is
			// the one the exit message names.
			results = append([]checkers.Result{r}, results...)
		} else {
			results = append(results, r)
		}
	}
	m := Merged{
		Checker: c.Checker, Seed: c.Seed, Engine: c.Engine, Jobs: n, Elapsed: elapsed,
		Cases: c.Cases, Budget: c.Budget, Interrupted: interrupted, Stopped: stopped, EarlyStopped: earlyStopped,
	}
	if first != nil {
		m.First = &First{Worker: first.w, Seed: first.seed}
	}
	return Outcome{Result: Merge(results, m), Interrupted: interrupted}, nil
}

// VerdictCode is the exit status a worker with verdict v should have; for
// an interrupted one, code if it is either signal's.
func VerdictCode(v checkers.Verdict, code int) int {
	switch v {
	case checkers.Fail:
		return ExitViolation
	case checkers.Unknown:
		return ExitInternal
	case checkers.Interrupted:
		if code == ExitTerminated {
			return code
		}
		return ExitInterrupted
	}
	return ExitPass
}
