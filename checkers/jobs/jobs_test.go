package jobs

import (
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
)

// workerEnv makes the test binary a worker: see worker.
const workerEnv = "GAUNTLET_JOBS_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(worker(os.Args[len(os.Args)-3:]))
	}
	os.Exit(m.Run())
}

// worker stands in for a check worker: args are the verdict it reaches
// ("pass", "fail", or "wait": until SIGINT, then interrupted), its seed
// and its Result's path. "lie" passes by its exit code but writes fail.
func worker(args []string) int {
	verdict, path := args[0], args[2]
	seed, _ := strconv.ParseUint(args[1], 10, 64)
	r := checkers.Result{Checker: "c", Engine: "model", Seed: seed, Cases: 2, Ops: 20, Verdict: checkers.Pass}
	code := ExitPass
	switch verdict {
	case "fail":
		r.Verdict, r.Violations, code = checkers.Fail, []checkers.Violation{{Summary: "boom"}}, ExitViolation
	case "lie":
		r.Verdict = checkers.Fail
	case "wait":
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt)
		select {
		case <-sigs:
			r.Verdict, code = checkers.Interrupted, ExitInterrupted
		case <-time.After(30 * time.Second):
		}
	}
	b, _ := json.Marshal(r)
	os.WriteFile(path, b, 0o644)
	return code
}

func config(t *testing.T, verdicts ...string) Config {
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := Config{Exe: exe, Env: append(Env(), workerEnv+"=1"), Checker: "c", Seed: 1, Engine: "model", Cases: checkers.CasesUnlimited, Budget: time.Minute}
	for w, v := range verdicts {
		path := filepath.Join(dir, "job-"+strconv.Itoa(w), "c.json")
		c.Args = append(c.Args, []string{"-test.run=^$", v, strconv.Itoa(1 + w), path})
		c.Results = append(c.Results, path)
	}
	return c
}

// TestRunFirstViolationStopsOthers: a library caller gets the merged
// Result; the first violation stops the worker still running.
func TestRunFirstViolationStopsOthers(t *testing.T) {
	out, err := Run(context.Background(), config(t, "fail", "wait"))
	if err != nil {
		t.Fatal(err)
	}
	r := out.Result
	want := "job 0 (seed 1) found a violation first: the other job still running stopped early"
	if r.Verdict != checkers.Fail || r.Jobs != 2 || len(r.Violations) != 1 || r.Reason != want || out.Interrupted != nil {
		t.Fatalf("%+v, want fail and %q", r, want)
	}
}

// TestRunInterrupted: the end of Run's context stops the workers as a
// SIGINT would; the merge says so.
func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	out, err := Run(ctx, config(t, "wait", "wait"))
	if err != nil {
		t.Fatal(err)
	}
	if out.Interrupted != os.Interrupt || out.Result.Verdict != checkers.Interrupted || !strings.HasSuffix(out.Result.Reason, "interrupted by SIGINT") {
		t.Fatalf("%+v: want interrupted by SIGINT", out)
	}
}

// TestRunInconsistentWorker: a worker whose exit code and Result disagree
// fails the run with a message naming it.
func TestRunInconsistentWorker(t *testing.T) {
	_, err := Run(context.Background(), config(t, "pass", "lie"))
	if err == nil || !strings.Contains(err.Error(), "check: job 1 (seed 2) exited with status 0 but its result") || !strings.Contains(err.Error(), "says fail") {
		t.Fatalf("err %v", err)
	}
}
