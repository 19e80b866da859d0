package mutants

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/crash"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore"
)

// fakeEnv makes this test binary a stand-in for the harness: a `check`
// worker whose verdict the engine spec chooses (fake:mutant=<behaviour>),
// so the runner's handling of every outcome is tested without building a
// harness.
const fakeEnv = "GAUNTLET_MUTANTS_FAKE_HARNESS"

func TestMain(m *testing.M) {
	if os.Getenv(fakeEnv) != "" {
		os.Exit(fakeCheck(os.Args[1:]))
	}
	// A kill-mode child of the catalogue test (crash.TestChild).
	if code, ok := crash.ChildMain(engine.Drivers{shardstore.Driver()}); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// fakeCheck is `harness check` as far as the runner can tell.
func fakeCheck(args []string) int {
	if len(args) < 2 || args[0] != "check" {
		fmt.Fprintln(os.Stderr, "fake harness: want check <checker>")
		return 2
	}
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	engine := fs.String("engine", "", "")
	seed := fs.Uint64("seed", 0, "")
	fs.Duration("budget", 0, "")
	out := fs.String("out", "", "")
	mode := fs.String("mode", "", "")
	fs.Bool("faults", false, "")
	fs.Bool("worker", false, "")
	fs.Int("cases", 0, "")
	if err := fs.Parse(args[2:]); err != nil {
		return 2
	}
	checker := args[1]
	res := checkers.Result{Checker: checker, Engine: *engine, Seed: *seed, Verdict: checkers.Pass, Cases: 40, Ops: 400}
	write := func(code int) int {
		b, _ := res.JSON()
		os.WriteFile(filepath.Join(*out, checkers.FileStem(checker, *mode, *engine, *seed)+".json"), b, 0o644)
		return code
	}
	behaviour := strings.TrimPrefix(*engine, "fake:mutant=")
	behaviour, _, _ = strings.Cut(behaviour, "#") // "#N" tells subjects of one behaviour apart
	// "hang-unless-conformance" is killed by the conformance checker and
	// hangs, past its budget, under any other.
	if b, ok := strings.CutPrefix(behaviour, "hang-unless-"); ok {
		behaviour = "hang"
		if b == checker {
			behaviour = "kill"
		}
	}
	// "killed-by-crash" is killed only by the crash checker.
	if b, ok := strings.CutPrefix(behaviour, "killed-by-"); ok {
		behaviour = "survive"
		if b == checker {
			behaviour = "kill"
		}
	}
	// "kill-from-seed-N" is killed by the crash checker on seeds N and
	// after only: a mutant that survives its first seeds.
	if n, ok := strings.CutPrefix(behaviour, "kill-from-seed-"); ok {
		from, _ := strconv.ParseUint(n, 10, 64)
		behaviour = "survive"
		if checker == "crash" && *seed >= from {
			behaviour = "kill"
		}
	}
	switch behaviour {
	case "kill", "canary":
		res.Verdict, res.Cases, res.Detected = checkers.Fail, 3, 5*time.Millisecond
		res.Violations = []checkers.Violation{{Summary: "get k1 = v2, want v1", Ops: []string{"put k1", "get k1"}, OriginalOps: 17,
			TraceFile: filepath.Join(*out, "trace.txt"), Replay: "harness check " + checker + " --replay trace.txt"}}
		return write(1)
	case "survive", "none":
		return write(0)
	case "unknown":
		res.Verdict, res.Reason = checkers.Unknown, "engine failed to open"
		return write(3)
	case "child-panic":
		res.Verdict, res.Reason = checkers.Unknown, "case 10: the workload process ended (exit status 2): panic: runtime error: index out of range [0] with length 0"
		return write(3)
	case "die":
		fmt.Fprintln(os.Stderr, "panic: runtime error: index out of range")
		return 2 // as a Go panic exits: no Result
	case "exit":
		fmt.Fprintln(os.Stderr, "killed by the OOM killer, say")
		return 3 // no Result
	case "usage":
		fmt.Fprintln(os.Stderr, "check: --mode bogus: want block or kill")
		return 2
	case "found-then-hang":
		// A check that found a violation (its Result written at once,
		// unminimized) and then hangs minimizing it: each shrink step of a
		// hang waits out an op timeout.
		res.Verdict, res.Cases, res.Detected = checkers.Fail, 2, 10*time.Second
		res.Violations = []checkers.Violation{{Summary: "put k1 did not complete within 10s", Ops: []string{"put k1", "put k2", "put k3"}, OriginalOps: 3,
			TraceFile: filepath.Join(*out, "trace.txt"), Replay: "harness check " + checker + " --replay trace.txt", NotMinimized: "stopped"}}
		write(0)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		<-sig
		return 130
	case "found-then-panic":
		// A check that wrote the violation of an op stuck past its
		// deadline, then was stopped by its watchdog's panic.
		res.Verdict, res.Cases, res.Detected = checkers.Fail, 2, 15*time.Second
		res.Violations = []checkers.Violation{{Summary: "op 1: put k1 has run 15s and ignores its deadline", Ops: []string{"put k1", "put k2"}, OriginalOps: 2,
			TraceFile: filepath.Join(*out, "trace.txt"), Replay: "harness check " + checker + " --replay trace.txt", NotMinimized: "stopped"}}
		write(0)
		fmt.Fprintln(os.Stderr, "panic: machine: conformance checker: op 1 (put k1) has not returned in 30s: the engine hangs (stacks follow)")
		fmt.Fprintln(os.Stderr, "\ngoroutine 1 [running]:")
		return 2
	case "hang":
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		<-sig
		res.Verdict = checkers.Interrupted
		return write(130)
	}
	return 2
}

func fakeConfig(t *testing.T, names ...string) Config {
	t.Helper()
	t.Setenv(fakeEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var subjects []Subject
	for _, n := range names {
		subjects = append(subjects, Subject{Name: n, Engine: "fake:mutant=" + n, Exe: exe})
	}
	return Config{
		Subjects:  subjects,
		Detectors: []Detector{{Checker: "conformance"}, {Checker: "crash", Mode: "block"}},
		Seed:      7, CellBudget: time.Second, Jobs: 2, OutDir: t.TempDir(), Commit: "c0ffee",
	}
}

func rows(cfg Config) []Row {
	var rs []Row
	for _, s := range cfg.Subjects {
		rs = append(rs, Row{Name: s.Name})
	}
	return rs
}

func TestRunOutcomes(t *testing.T) {
	cfg := fakeConfig(t, Baseline, Canary, "kill", "survive", "killed-by-crash", "unknown", "die", "child-panic", "exit")
	cells, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := Build(rows(cfg), cfg.Detectors, cells)
	want := map[string]Outcome{Baseline: Survived, Canary: Killed, "kill": Killed, "survive": Survived,
		"killed-by-crash": Killed, "unknown": Unknown, "die": Killed, "child-panic": Killed, "exit": Unknown}
	for _, row := range r.Mutants {
		if row.Outcome != want[row.Name] {
			t.Errorf("%s: outcome %s, want %s (cells %+v)", row.Name, row.Outcome, want[row.Name], row.Cells)
		}
	}
	kc := r.Mutants[4].Cells
	if kc[0].Outcome != Survived || kc[1].Outcome != Killed {
		t.Errorf("killed-by-crash: conformance %s, crash %s", kc[0].Outcome, kc[1].Outcome)
	}
	k := r.Mutants[2].Cells[0]
	if k.Cases != 3 || k.TraceOps != 2 || k.OriginalOps != 17 || k.Detected != 5*time.Millisecond || k.Replay == "" {
		t.Errorf("a kill's cell: %+v", k)
	}
	// A mutant that makes the engine panic is killed by the crash, and
	// says so; a worker that died another way is not a kill.
	for _, i := range []int{6, 7} {
		if d := r.Mutants[i].Cells[0].Why; !strings.HasPrefix(d, "crashed: panic: runtime error: index out of range") {
			t.Errorf("%s: why %q, want the panic", r.Mutants[i].Name, d)
		}
	}
	if d := r.Mutants[8].Cells[0].Why; !strings.Contains(d, "without a Result") || !strings.Contains(d, "OOM") {
		t.Errorf("a worker that died: why %q", d)
	}
	// Scored: kill, survive, killed-by-crash, die, child-panic; unknown
	// and exit apart.
	if c := r.Combined; c.Killed != 4 || c.Survived != 1 || c.Other[Unknown] != 2 {
		t.Errorf("combined %+v", c)
	}
	if s := r.Scores[0]; s.Killed != 3 || s.Survived != 2 || s.String() != "3/5 (60.0%); apart: 2 unknown" {
		t.Errorf("conformance score %+v %q", s, s)
	}
	if r.Trust != "" {
		t.Errorf("trust: %s", r.Trust)
	}
	if sv := r.Survivors(); len(sv) != 1 || sv[0].Name != "survive" {
		t.Errorf("survivors %v", sv)
	}
}

// TestRunDistrust: a canary that survives or a baseline that fails makes
// the scores untrustworthy, whatever they are.
func TestRunDistrust(t *testing.T) {
	cfg := fakeConfig(t, "kill")
	cfg.Subjects = append(cfg.Subjects,
		Subject{Name: Baseline, Engine: "fake:mutant=kill", Exe: cfg.Subjects[0].Exe},
		Subject{Name: Canary, Engine: "fake:mutant=killed-by-crash", Exe: cfg.Subjects[0].Exe})
	cells, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := Build(rows(cfg), cfg.Detectors, cells)
	if !strings.Contains(r.Trust, "conformance did not pass the unmutated engine") || !strings.Contains(r.Trust, "conformance did not kill the canary") {
		t.Errorf("trust %q", r.Trust)
	}
	if c := r.Combined; c.Killed != 1 || c.Survived != 0 {
		t.Errorf("baseline or canary counted in the score: %+v", c)
	}
}

func TestRunResumes(t *testing.T) {
	cfg := fakeConfig(t, "kill", "survive")
	first, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var last Progress
	cfg.Progress = func(p Progress) { last = p }
	// Point the subjects at an executable that cannot run: a resumed run
	// must not start a worker.
	for i := range cfg.Subjects {
		cfg.Subjects[i].Exe = filepath.Join(t.TempDir(), "absent")
	}
	again, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("resumed run started a worker: %v", err)
	}
	for i := range first {
		if again[i].Outcome != first[i].Outcome || again[i].Cases != first[i].Cases {
			t.Errorf("cell %d: resumed %+v, first %+v", i, again[i], first[i])
		}
	}
	if last.Done != 0 {
		t.Errorf("progress reported %d cells run on a resumed run", last.Done)
	}
	// Another commit runs them again.
	cfg.Commit = "decaf"
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Error("cells of another commit were reused")
	}
}

func TestRunCorruptCellIsRunAgain(t *testing.T) {
	cfg := fakeConfig(t, "kill")
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	path := cellPath(cfg, cfg.Subjects[0], cfg.Detectors[0], cfg.Seed)
	if err := os.WriteFile(path, []byte(`{"schema": "gauntlet.mutants.cell/v1", "outco`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := loadCell(cfg, cfg.Subjects[0], cfg.Detectors[0], cfg.Seed); ok {
		t.Error("a truncated cell file was loaded")
	}
	ran := 0
	cfg.Progress = func(p Progress) { ran++ }
	cells, err := Run(context.Background(), cfg)
	if err != nil || ran != 1 || cells[0].Outcome != Killed {
		t.Errorf("after truncating one cell: %d cells ran, %v, %+v", ran, err, cells[0])
	}
	var c Cell
	b, _ := os.ReadFile(path)
	if json.Unmarshal(b, &c) != nil || c.Outcome != Killed {
		t.Errorf("cell not saved again: %s", b)
	}
}

// TestRunTimesOut: a worker that outlives its budget and grace is stopped
// and its cell says timed out.
func TestRunTimesOut(t *testing.T) {
	cfg := fakeConfig(t, "hang")
	cfg.Detectors = cfg.Detectors[:1]
	cfg.CellBudget, cfg.Grace = 100*time.Millisecond, 100*time.Millisecond
	cells, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c := cells[0]; c.Outcome != TimedOut || !strings.Contains(c.Why, "after its budget") {
		t.Errorf("a hung worker: %+v", c)
	}
}

// TestRunFoundThenStopped: a worker stopped at its budget while
// minimizing a violation it found is killed, with the trace it wrote when
// it found it, not timed-out (a hang in a mutant costs an op timeout per
// shrink step, far past any cell's budget).
func TestRunFoundThenStopped(t *testing.T) {
	cfg := fakeConfig(t, "found-then-hang")
	cfg.Detectors = cfg.Detectors[:1]
	cfg.CellBudget, cfg.Grace = 100*time.Millisecond, 100*time.Millisecond
	cells, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := cells[0]
	if c.Outcome != Killed || c.TraceOps != 3 || c.Trace == "" || c.Replay == "" || !strings.Contains(c.Why, "while minimizing") {
		t.Errorf("found, then stopped while minimizing: %+v", c)
	}
}

func TestRunUsageErrorStops(t *testing.T) {
	cfg := fakeConfig(t, "usage", "kill")
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "refused the command line") || !strings.Contains(err.Error(), "--mode bogus") {
		t.Errorf("a refused command line: %v", err)
	}
}

// TestRunInterrupted: a cancelled run stops its workers and saves none of
// the cells they were running.
func TestRunInterrupted(t *testing.T) {
	cfg := fakeConfig(t, "hang")
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() {
		// Cancel once both workers exist: a cell's directory appears
		// before its worker starts.
		for {
			if _, err := os.Stat(filepath.Join(cfg.OutDir, "cells", "hang", "crash_block")); err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		close(started)
		cancel()
	}()
	_, err := Run(ctx, cfg)
	<-started
	if err != context.Canceled {
		t.Errorf("interrupted run: %v", err)
	}
	for _, s := range cfg.Subjects {
		for _, d := range cfg.Detectors {
			if _, ok := loadCell(cfg, s, d, cfg.Seed); ok {
				t.Errorf("%s/%s saved by an interrupted run", s.Name, d)
			}
		}
	}
}

func TestParseDetector(t *testing.T) {
	for _, s := range []string{"conformance", "crash/block", "conformance+faults", "crash/kill+faults"} {
		d, err := ParseDetector(s)
		if err != nil || d.String() != s {
			t.Errorf("ParseDetector(%q) = %v, %v", s, d, err)
		}
	}
	for _, s := range []string{"", "/block", "crash/block/x", "a b"} {
		if _, err := ParseDetector(s); err == nil {
			t.Errorf("ParseDetector(%q) accepted", s)
		}
	}
}

func TestBudgetSharedOut(t *testing.T) {
	// 3 cells, 1 job, 9 s: the first gets 3 s; a killed cell finishing
	// at once leaves the next the rest over the remaining two.
	cfg := fakeConfig(t, "kill", "kill2", "kill3")
	for i := range cfg.Subjects {
		cfg.Subjects[i].Engine = "fake:mutant=kill"
	}
	cfg.Detectors = cfg.Detectors[:1]
	cfg.CellBudget, cfg.Budget, cfg.Jobs = 0, 9*time.Second, 1
	cells, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if b := cells[0].Budget; b != 3*time.Second {
		t.Errorf("first cell's budget %s, want 3s", b)
	}
	if b := cells[2].Budget; b <= 3*time.Second || b > 9*time.Second {
		t.Errorf("last cell's budget %s, want what the quick kills left (more than 3s)", b)
	}
	// Fewer cells than jobs: a cell never gets more than the run has left.
	cfg.Jobs, cfg.Budget, cfg.Subjects = 4, 5*time.Second, cfg.Subjects[:1]
	cfg.OutDir = t.TempDir()
	cells, err = Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if b := cells[0].Budget; b > 5*time.Second {
		t.Errorf("one cell, 4 jobs, a 5s run: the cell's budget %s, want at most 5s", b)
	}
}

// TestRunCleanupOnce: a subject's Cleanup runs once, after its last cell,
// and a Prepare that fails to compile makes every cell not viable.
func TestRunCleanupAndPrepare(t *testing.T) {
	cfg := fakeConfig(t, "kill", "broken")
	cleaned := map[string]int{}
	var prepared atomic.Int32
	exe := cfg.Subjects[0].Exe
	for i := range cfg.Subjects {
		s := &cfg.Subjects[i]
		name := s.Name
		s.Exe = ""
		s.Cleanup = func() { cleaned[name]++ }
		s.Prepare = func(context.Context) (string, error) {
			prepared.Add(1)
			if name == "broken" {
				return "", fmt.Errorf("%w: ./x.go:3: undefined: y", ErrNotViable)
			}
			return exe, nil
		}
	}
	cells, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cleaned["kill"] != 1 || cleaned["broken"] != 1 || prepared.Load() != 2 {
		t.Errorf("cleanups %v, prepares %d: want one each", cleaned, prepared.Load())
	}
	if cells[0].Outcome != Killed || cells[2].Outcome != NotViable || !strings.Contains(cells[3].Why, "undefined: y") {
		t.Errorf("cells %+v", cells)
	}
}

// TestSummaryShowsSurvivorDiff: an AST survivor is listed with the lines
// it changed, which is what a reviewer deciding "equivalent or blind spot"
// reads.
func TestSummaryShowsSurvivorDiff(t *testing.T) {
	dets := []Detector{{Checker: "conformance"}}
	rows := []Row{{Name: "x.go:3:5:conditional-boundary", Diff: "--- x.go\n+++ x.go (x.go:3:5:conditional-boundary)\n@@ -3,1 +3,1 @@\n-\tif n > 0 {\n+\tif n >= 0 {\n",
		Hint: "n is never 0 here"}}
	cells := []Cell{{Subject: rows[0].Name, Detector: dets[0], Outcome: Survived}}
	var b strings.Builder
	if err := Build(rows, dets, cells).WriteSummary(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"survivors (1):", "x.go:3:5:conditional-boundary:\n", "      -\tif n > 0 {\n", "      +\tif n >= 0 {\n", "possibly equivalent: n is never 0 here"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "+++") {
		t.Errorf("summary shows the diff's headers:\n%s", b.String())
	}
}

// TestRoundsGiveSurvivorsSeeds: with Rounds, a mutant that survives its
// first seed runs again on the next ones (its expected detector only)
// until a run kills it; the cell reports the killing run, the runs it took
// and their cases; a killed mutant gets no further run; the same run again
// resumes every run it made.
func TestRoundsGiveSurvivorsSeeds(t *testing.T) {
	cfg := fakeConfig(t, "kill", "kill-from-seed-9")
	crashBlock := Detector{Checker: "crash", Mode: "block"}
	cfg.Subjects[1].Expect = []Detector{crashBlock}
	cfg.CellBudget, cfg.Budget, cfg.Rounds = 0, time.Minute, true
	var ran, resumed int
	var last Cell
	cfg.Progress = func(p Progress) { ran, resumed, last = p.Done, p.Resumed, p.Last }
	cells, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	conf, crash := cells[2], cells[3]
	if crash.Outcome != Killed || crash.Seed != 9 || crash.Runs != 3 || crash.TotalCases != 40+40+3 {
		t.Errorf("kill-from-seed-9 under crash/block: %s on seed %d after %d runs, %d cases; want killed on seed 9, the third run, 83 cases",
			crash.Outcome, crash.Seed, crash.Runs, crash.TotalCases)
	}
	if last.Subject != "kill-from-seed-9" || last.Detector.Checker != "conformance" {
		t.Errorf("the last cell run: %s under %s; want kill-from-seed-9 under conformance (not expected: it runs after the rounds)", last.Subject, last.Detector)
	}
	if conf.Outcome != Survived || conf.Seed != 7 || conf.Runs != 0 {
		t.Errorf("kill-from-seed-9 under conformance (not expected to kill it): %s on seed %d, %d runs; want survived on seed 7 alone", conf.Outcome, conf.Seed, conf.Runs)
	}
	if c := cells[1]; c.Seed != 7 || c.Runs != 0 {
		t.Errorf("kill under crash/block: seed %d, %d runs; want seed 7 alone (killed at once)", c.Seed, c.Runs)
	}
	if cases, _ := crash.Effort(); cases != 83 {
		t.Errorf("Effort: %d cases, want 83", cases)
	}
	if ran != 6 {
		t.Errorf("%d runs, want 6 (4 cells, then seeds 8 and 9 of one)", ran)
	}
	again, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if resumed != 6 || again[3].Seed != 9 || again[3].Runs != 3 {
		t.Errorf("the same run again: %d of 6 runs resumed, crash/block killed on seed %d after %d runs; want all resumed, the same cell", resumed, again[3].Seed, again[3].Runs)
	}
}

// TestRoundsStopAtTheBudget: a mutant nothing kills takes further rounds
// until the budget is spent, and no more.
func TestRoundsStopAtTheBudget(t *testing.T) {
	cfg := fakeConfig(t, "survive")
	cfg.Detectors = cfg.Detectors[:1]
	cfg.CellBudget, cfg.Budget, cfg.Rounds, cfg.Jobs = 0, 6*time.Second, true, 2 // rounds start while 2 s (cellBudgetMin) are left
	cfg.Commit = "unknown"                                                       // nothing saved: each run is run
	start := time.Now()
	cells, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := cells[0]
	if c.Outcome != Survived || c.Runs < 2 {
		t.Errorf("survivor: %s after %d runs; want survived after further rounds", c.Outcome, c.Runs)
	}
	if c.Runs > 1+RoundsMax*cfg.Jobs {
		t.Errorf("%d runs: more than RoundsMax rounds of %d jobs", c.Runs, cfg.Jobs)
	}
	if el := time.Since(start); el > cfg.Budget+10*time.Second {
		t.Errorf("the run took %s, its budget %s", el, cfg.Budget)
	}
}

// TestRoundsLeaveTheRestNotRun: with rounds, a cell no score depends on
// first (a detector the mutant does not expect) runs only if the budget
// has a second left for it after the expected cells; otherwise it is
// not-run, said so, and counted apart.
func TestRoundsLeaveTheRestNotRun(t *testing.T) {
	cfg := fakeConfig(t, "hang")
	cfg.Subjects[0].Expect = []Detector{{Checker: "crash", Mode: "block"}}
	cfg.CellBudget, cfg.Budget, cfg.Rounds, cfg.Jobs, cfg.Grace = 0, 2*time.Second, true, 1, 100*time.Millisecond
	cells, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c := cells[1]; c.Outcome != TimedOut {
		t.Errorf("the expected cell: %s, want timed-out (it hangs past the whole budget)", c.Outcome)
	}
	if c := cells[0]; c.Outcome != NotRun || c.Why == "" {
		t.Errorf("the unexpected cell: %s (%q), want not-run with a reason", c.Outcome, c.Why)
	}
	r := Build(rows(cfg), cfg.Detectors, cells)
	if s := r.Scores[0]; s.Killed+s.Survived != 0 || s.Other[NotRun] != 1 {
		t.Errorf("score of the not-run column: %s, want nothing scored, 1 not-run apart", s)
	}
}

// TestLastRoundStopsAtBudget: the last round (cells no score depends on)
// starts no cell once the run's budget is spent, though its up-front
// count of cells assumed each would take cellBudgetLow: cells that run
// past their budget (here each hangs until stopped, a grace past it)
// leave the rest not-run, and the run ends within a cell of its budget.
func TestLastRoundStopsAtBudget(t *testing.T) {
	var names []string
	for i := range 6 {
		names = append(names, fmt.Sprintf("hang-unless-conformance#%d", i))
	}
	cfg := fakeConfig(t, names...)
	for i := range cfg.Subjects {
		cfg.Subjects[i].Expect = []Detector{{Checker: "conformance"}}
	}
	cfg.CellBudget, cfg.Budget, cfg.Rounds, cfg.Jobs, cfg.Grace = 0, 4*time.Second, true, 1, 2*time.Second
	start := time.Now()
	cells, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	ran, notRun := 0, 0
	for _, c := range cells {
		switch {
		case c.Detector.Checker == "conformance" && c.Outcome != Killed:
			t.Errorf("%s × conformance: %s, want killed", c.Subject, c.Outcome)
		case c.Detector.Checker == "crash" && c.Outcome == NotRun:
			notRun++
		case c.Detector.Checker == "crash":
			ran++
		}
	}
	// Up front the 4 s budget has room for about 3 one-second cells; the
	// first takes its share and the grace (over 3 s), which spends the
	// budget, so at most two crash cells run.
	if ran > 2 || notRun < 4 {
		t.Errorf("crash cells: %d run, %d not run; want at most 2 run, the rest not run", ran, notRun)
	}
	if max := cfg.Budget + cellBudgetLow + cfg.Grace + time.Second; el > max {
		t.Errorf("the run took %s; its budget %s, and one cell may start just before it ends (want at most %s)", el, cfg.Budget, max)
	}
}

// TestRunFoundThenPanicked: a check that wrote its violation (an op stuck
// past its deadline) and was then stopped by its watchdog's panic (exit 2,
// the code of a refused command line too) is killed with that violation;
// the run goes on.
func TestRunFoundThenPanicked(t *testing.T) {
	cfg := fakeConfig(t, "found-then-panic")
	cells, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("the run stopped: %v", err)
	}
	for _, c := range cells {
		if c.Outcome != Killed || !strings.Contains(c.Violation, "ignores its deadline") || !strings.Contains(c.Why, "then crashed: panic: machine") {
			t.Errorf("%s × %s: %s, violation %q, why %q; want killed with the written violation", c.Subject, c.Detector, c.Outcome, c.Violation, c.Why)
		}
	}
}

// TestRunMutantRefusesSpec: a harness built with its own mutant (Prepare)
// that refuses the command line the baseline runs broke the engine's
// option checks: killed, and the run goes on. A shared harness refusing
// it is the runner's error (TestRunUsageErrorStops).
func TestRunMutantRefusesSpec(t *testing.T) {
	cfg := fakeConfig(t, Baseline, "usage")
	exe := cfg.Subjects[1].Exe
	cfg.Subjects[1].Prepare = func(context.Context) (string, error) { return exe, nil }
	cells, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("the run stopped: %v", err)
	}
	n := 0
	for _, c := range cells {
		if c.Subject != "usage" {
			continue
		}
		n++
		if c.Outcome != Killed || !strings.Contains(c.Why, "refused a command line the unmutated harness accepts: check: --mode bogus") {
			t.Errorf("%s × %s: %s, why %q; want killed, saying what it refused", c.Subject, c.Detector, c.Outcome, c.Why)
		}
	}
	if n != len(cfg.Detectors) {
		t.Errorf("%d cells of the mutant, want %d", n, len(cfg.Detectors))
	}
}
