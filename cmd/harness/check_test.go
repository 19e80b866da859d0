package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/jobs"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/internal/badengine"
	"github.com/gauntlet-kv/gauntlet/internal/cgroup"
)

// TestMain lets the test binary stand in for the harness as a kill-mode
// child, a check worker, a bench run's child, or the harness itself.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if dir := os.Getenv(cgroup.EnvJoin); dir != "" {
			joinCgroup(dir) // as main does: bench --memory
		}
		checkDrivers = testDrivers
		benchDrivers = runTestDrivers
		checkerTable = append(checkerTable, deleteChecker()) // TestCheckFakeChecker's, for its workers
		os.Exit(runWith(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// staleDelete is the model with a bug: Delete is acknowledged and ignored.
type staleDelete struct{ *model.Store }

func (s staleDelete) Delete(context.Context, []byte) error { return nil }

func (s staleDelete) DeleteTracked(context.Context, []byte) (engine.Dependency, error) {
	return nil, errors.New("unused")
}

func testDrivers() engine.Drivers {
	return append(append(drivers(), badengine.Drivers()...), badengine.StaleCache(), engine.Driver{
		Name: "stale-delete", Doc: "the model, ignoring deletes (a known bug)",
		Open: func(dir string, _ engine.Options) (engine.Engine, error) {
			s, err := model.Open(dir)
			if err != nil {
				return nil, err
			}
			return staleDelete{s}, nil
		},
	}, engine.Driver{
		Name: "stale-delete-seed-1", Doc: "the model, ignoring deletes in a process started with --seed 1 (a bug one job of several finds)",
		Open: func(dir string, _ engine.Options) (engine.Engine, error) {
			s, err := model.Open(dir)
			if err != nil {
				return nil, err
			}
			if i := slices.Index(os.Args, "--seed"); i >= 0 && i+1 < len(os.Args) && os.Args[i+1] == "1" {
				return staleDelete{s}, nil
			}
			return s, nil
		},
	})
}

// onTmpfs points TMPDIR, where checkers run their engines, at a tmpfs if
// the machine has one: the model engine writes and fsyncs a snapshot on
// every Sync and Close, and shrinking a violation replays hundreds of
// cases, which takes ~12s on a virtual disk and half a second in memory.
// Workers of a check with --jobs inherit it. It returns the new TMPDIR.
func onTmpfs(t *testing.T) string {
	dir := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "gauntlet-test-"); err == nil {
			dir = d
			t.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	if dir == "" {
		dir = t.TempDir()
	}
	t.Setenv("TMPDIR", dir)
	return dir
}

// runWith mirrors run, adding the check and internal verbs if newRoot does
// not have them yet.
func runWith(args []string, stdout, stderr io.Writer) int {
	return runWithContext(context.Background(), args, stdout, stderr)
}

func runWithContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	for _, c := range []*cobra.Command{newCheckCmd(), newInternalCmd()} {
		if found, _, err := root.Find([]string{c.Name()}); err != nil || found == root {
			c.SetFlagErrorFunc(root.FlagErrorFunc())
			root.AddCommand(c)
		}
	}
	root.SetArgs(args)
	return exitFor(root.ExecuteContext(ctx), stderr)
}

func runCheckCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCheckCLIContext(t, context.Background(), args...)
}

func runCheckCLIContext(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	checkDrivers = testDrivers
	t.Cleanup(func() { checkDrivers = drivers })
	var out, errb bytes.Buffer
	code := runWithContext(ctx, args, &out, &errb)
	if !slices.Contains(args, "--status-interval") {
		// A check off a terminal prints a status line every 10 s; on a
		// loaded machine a short check lives that long, and tests that
		// read stderr want what the check said, not its progress.
		return code, out.String(), statusLine.ReplaceAllString(errb.String(), "")
	}
	return code, out.String(), errb.String()
}

// statusLine matches a progress status line (internal/progress).
var statusLine = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d (check|gate|nightly|mutants|bench) .*\n`)

func readResult(t *testing.T, path string) checkers.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r checkers.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCheckConformancePasses(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCheckCLI(t, "check", "conformance", "--engine", "model", "--seed", "3", "--cases", "50", "--out", out)
	if code != exitPass {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "conformance on model (seed 3): pass — 50 cases") {
		t.Errorf("summary:\n%s", stdout)
	}
	r := readResult(t, filepath.Join(out, "conformance-model-3.json"))
	if r.Verdict != checkers.Pass || r.Cases != 50 || r.Ops == 0 {
		t.Errorf("result JSON: %+v", r)
	}
}

func TestCheckViolationExit1AndReplay(t *testing.T) {
	onTmpfs(t)
	out := t.TempDir()
	code, stdout, stderr := runCheckCLI(t, "check", "conformance", "--engine", "stale-delete", "--seed", "1", "--cases", "200", "--out", out)
	if code != exitViolation {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	trace := filepath.Join(out, "conformance-stale-delete-1.trace")
	want := "harness check conformance --engine stale-delete --replay " + trace
	if !strings.Contains(stderr, "harness: conformance checker failed on stale-delete (seed 1): 1 violation; minimized to") || !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want the replay command %q", stderr, want)
	}
	if strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr is not one line: %q", stderr)
	}
	r := readResult(t, filepath.Join(out, "conformance-stale-delete-1.json"))
	if r.Verdict != checkers.Fail || len(r.Violations) != 1 || len(r.Violations[0].Ops) > 10 {
		t.Fatalf("result: %+v", r)
	}
	// The replay command reproduces it.
	code, stdout, _ = runCheckCLI(t, "check", "conformance", "--engine", "stale-delete", "--replay", trace, "--out", out)
	if code != exitViolation || !strings.Contains(stdout, r.Violations[0].Summary) {
		t.Fatalf("replay: exit %d\n%s", code, stdout)
	}
}

func TestCheckCrashKillMode(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCheckCLI(t, "check", "crash", "--engine", "model", "--seed", "2", "--cases", "3", "--out", out)
	if code != exitPass {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if r := readResult(t, filepath.Join(out, "crash-kill-model-2.json")); r.Cases != 3 || r.Verdict != checkers.Pass {
		t.Fatalf("result: %+v", r)
	}
}

func TestCheckUsageErrors(t *testing.T) {
	out := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"check"}, "name the checker"},
		{[]string{"check", "nosuch"}, "name the checker"},
		{[]string{"check", "conformance", "--engine", "nope"}, `unknown engine "nope"`},
		{[]string{"check", "conformance", "--engine", "model", "--faults", "--out", out}, "--faults needs an engine on a device"},
		{[]string{"check", "crash", "--engine", "model", "--mode", "block", "--out", out}, "--mode block needs an engine on a device"},
		{[]string{"check", "crash", "--engine", "model", "--mode", "nap", "--out", out}, `--mode "nap": use block or kill`},
		{[]string{"check", "conformance", "--replay", filepath.Join(out, "missing.trace"), "--out", out}, "--replay"},
		{[]string{"check", "conformance", "--cases", "-1", "--out", out}, "--cases -1"},
		{[]string{"check", "conformance", "--jobs", "-1", "--out", out}, "--jobs -1: give a number of worker processes, or 0 for one per CPU"},
		{[]string{"check", "conformance", "--jobs", "2", "--replay", filepath.Join(out, "bad.trace"), "--out", out}, "a replay runs one trace: drop --jobs"},
		{[]string{"check", "crash", "--engine", "model", "--jobs", "0", "--replay", filepath.Join(out, "bad.trace"), "--out", out}, "drop --jobs"},
		{[]string{"check", "conformance", "--seed", "x"}, "invalid argument"},
	}
	bad := filepath.Join(out, "bad.trace")
	os.WriteFile(bad, []byte("# gauntlet-trace v1\n# seed=1\nput \"k\"\n"), 0o644)
	cases = append(cases, struct {
		args []string
		want string
	}{[]string{"check", "conformance", "--replay", bad, "--out", out}, "trace line 3"})
	for _, c := range cases {
		code, stdout, stderr := runCheckCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q, want exit 2 and %q\n%s", c.args, code, stderr, c.want, stdout)
		}
	}
}

// TestCheckShardstore runs both checkers on shardstore through the CLI: a
// device target with the check defaults, block mode by default, faults
// allowed, the effective options echoed in the summary.
func TestCheckShardstore(t *testing.T) {
	out := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "conformance", "--engine", "shardstore", "--seed", "2", "--cases", "20", "--faults", "--out", out},
			"conformance on shardstore:size=1MiB,extent=64KiB,cache=16KiB,memtable=1KiB,value-cache=1KiB,row-cache=4KiB (seed 2): pass — 20 cases"},
		{[]string{"check", "crash", "--engine", "shardstore:size=2MiB,sched=fifo", "--seed", "3", "--cases", "20", "--out", out},
			"crash on shardstore:size=2MiB,extent=64KiB,cache=16KiB,memtable=1KiB,value-cache=1KiB,row-cache=4KiB,sched=fifo (seed 3): pass — 20 cases"},
	} {
		code, stdout, stderr := runCheckCLI(t, c.args...)
		if code != exitPass || !strings.Contains(stdout, c.want) {
			t.Errorf("%v: exit %d, want 0 and %q\n%s%s", c.args, code, c.want, stdout, stderr)
		}
	}
	if r := readResult(t, filepath.Join(out, "crash-block-shardstore-3.json")); r.Cases != 20 || r.Verdict != checkers.Pass {
		t.Errorf("crash result: %+v", r)
	}
	// A device too small for its extents is a usage error.
	code, _, stderr := runCheckCLI(t, "check", "conformance", "--engine", "shardstore:size=128KiB", "--out", out)
	if code != exitUsage || !strings.Contains(stderr, "holding at least 4 extents") {
		t.Errorf("size=128KiB: exit %d, stderr %q, want exit 2", code, stderr)
	}
}

// TestCheckJobs runs a check as two worker processes: the cases are split,
// worker w runs seed S+w into job-<w>, worker 0 runs exactly what one job
// on seed S would, and the merged Result sums them.
func TestCheckJobs(t *testing.T) {
	onTmpfs(t)
	out := t.TempDir()
	code, stdout, stderr := runCheckCLI(t, "check", "conformance", "--engine", "model", "--seed", "5", "--jobs", "2", "--cases", "40", "--out", out)
	if code != exitPass {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "conformance on model (seeds 5-6, 2 jobs): pass — 40 cases") {
		t.Errorf("summary:\n%s", stdout)
	}
	if strings.Count(stdout, "result: ") != 1 || strings.Contains(stdout, "(seed 5)") || stderr != "" {
		t.Errorf("workers' output reached the parent's:\nstdout:\n%sstderr:\n%s", stdout, stderr)
	}
	r := readResult(t, filepath.Join(out, "conformance-model-5.json"))
	j0 := readResult(t, filepath.Join(out, "job-0", "conformance-model-5.json"))
	j1 := readResult(t, filepath.Join(out, "job-1", "conformance-model-6.json"))
	if r.Jobs != 2 || r.Seed != 5 || r.Cases != 40 || r.Verdict != checkers.Pass || r.Ops != j0.Ops+j1.Ops || r.Reason != "" {
		t.Errorf("merged result: %+v", r)
	}
	if j0.Seed != 5 || j0.Cases != 20 || j1.Seed != 6 || j1.Cases != 20 || j0.Jobs != 0 || j1.Jobs != 0 {
		t.Errorf("job results: %+v, %+v", j0, j1)
	}
	one := t.TempDir()
	if code, stdout, stderr := runCheckCLI(t, "check", "conformance", "--engine", "model", "--seed", "5", "--cases", "20", "--out", one); code != exitPass {
		t.Fatalf("one job: exit %d\n%s%s", code, stdout, stderr)
	}
	if s := readResult(t, filepath.Join(one, "conformance-model-5.json")); s.Cases != j0.Cases || s.Ops != j0.Ops {
		t.Errorf("worker 0 ran %d cases, %d ops; --jobs 1 on its seed ran %d, %d", j0.Cases, j0.Ops, s.Cases, s.Ops)
	}

	// Kill mode: each worker runs its own kill loop, its children included.
	code, stdout, stderr = runCheckCLI(t, "check", "crash", "--engine", "model", "--seed", "2", "--jobs", "2", "--cases", "3", "--out", out)
	if code != exitPass || !strings.Contains(stdout, "crash on model (seeds 2-3, 2 jobs): pass — 3 cases") {
		t.Fatalf("kill mode: exit %d\n%s%s", code, stdout, stderr)
	}
	if a, b := readResult(t, filepath.Join(out, "job-0", "crash-kill-model-2.json")), readResult(t, filepath.Join(out, "job-1", "crash-kill-model-3.json")); a.Cases != 2 || b.Cases != 1 {
		t.Errorf("kill mode: jobs ran %d and %d cases, want 2 and 1", a.Cases, b.Cases)
	}
}

// TestCheckJobsViolation: a violation found by a worker exits 1 with the
// replay command of its trace, under the worker's job directory, and the
// command reproduces it.
func TestCheckJobsViolation(t *testing.T) {
	onTmpfs(t)
	out := t.TempDir()
	code, stdout, stderr := runCheckCLI(t, "check", "conformance", "--engine", "stale-delete", "--seed", "1", "--jobs", "2", "--cases", "200", "--out", out)
	if code != exitViolation {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	prefix := "harness: conformance checker failed on stale-delete (seeds 1-2, 2 jobs): "
	_, replay, ok := strings.Cut(stderr, "; minimized to ")
	_, replay, _ = strings.Cut(replay, ": ")
	replay = strings.TrimSpace(replay)
	if !strings.HasPrefix(stderr, prefix) || !ok || strings.Count(stderr, "\n") != 1 ||
		!strings.HasPrefix(replay, "harness check conformance --engine stale-delete --replay "+filepath.Join(out, "job-")) {
		t.Fatalf("stderr %q: want one line %q... with the replay command of a trace under %s", stderr, prefix, filepath.Join(out, "job-*"))
	}
	r := readResult(t, filepath.Join(out, "conformance-stale-delete-1.json"))
	if r.Verdict != checkers.Fail || r.Jobs != 2 || len(r.Violations) == 0 || r.Violations[0].Replay != replay || !strings.Contains(r.Reason, "found a violation first") {
		t.Fatalf("merged result: %+v", r)
	}
	code, stdout, _ = runCheckCLI(t, append(strings.Fields(replay)[1:], "--out", out)...)
	if code != exitViolation || !strings.Contains(stdout, r.Violations[0].Summary) {
		t.Fatalf("%s: exit %d, want 1 and %q\n%s", replay, code, r.Violations[0].Summary, stdout)
	}
}

// TestCheckJobsFirstViolationStopsOthers: the job that finds a violation
// stops the other, which would otherwise run for its whole budget; the
// stopped job still writes what it did, and the merge counts it.
func TestCheckJobsFirstViolationStopsOthers(t *testing.T) {
	onTmpfs(t)
	out := t.TempDir()
	code, stdout, stderr := runCheckCLI(t, "check", "conformance", "--engine", "stale-delete-seed-1", "--seed", "1", "--jobs", "2", "--budget", "10m", "--out", out)
	if code != exitViolation {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	r := readResult(t, filepath.Join(out, "conformance-stale-delete-seed-1-1.json"))
	want := "job 0 (seed 1) found a violation first: the other job still running stopped early"
	if r.Verdict != checkers.Fail || len(r.Violations) != 1 || r.Violations[0].TraceFile != filepath.Join(out, "job-0", "conformance-stale-delete-seed-1-1.trace") || r.Reason != want {
		t.Fatalf("merged result: %+v, want one violation from job 0 and reason %q", r, want)
	}
	j1 := readResult(t, filepath.Join(out, "job-1", "conformance-stale-delete-seed-1-2.json"))
	if j1.Verdict != checkers.Interrupted || !strings.HasPrefix(j1.Reason, "stopped after") {
		t.Fatalf("job 1: %+v, want a run interrupted early", j1)
	}
	if j0 := readResult(t, filepath.Join(out, "job-0", "conformance-stale-delete-seed-1-1.json")); r.Cases != j0.Cases+j1.Cases {
		t.Errorf("merged %d cases, jobs ran %d and %d", r.Cases, j0.Cases, j1.Cases)
	}
}

// TestCheckJobsInterrupted: a parent told to stop (by its context here, as
// by SIGINT or SIGTERM) forwards it to the workers, and still merges and
// writes what they did, as interrupted (exit 130): workers already running
// write their Results, workers stopped while still starting count for
// nothing.
func TestCheckJobsInterrupted(t *testing.T) {
	t.Run("starting", func(t *testing.T) {
		out := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		code, stdout, stderr := runCheckCLIContext(t, ctx, "check", "conformance", "--engine", "model", "--seed", "1", "--jobs", "2", "--budget", "10m", "--out", out)
		if code != exitInterrupted {
			t.Fatalf("exit %d, want 130\n%s%s", code, stdout, stderr)
		}
		r := readResult(t, filepath.Join(out, "conformance-model-1.json"))
		if r.Verdict != checkers.Interrupted || r.Jobs != 2 || !strings.HasPrefix(r.Reason, "stopped after") || !strings.HasSuffix(r.Reason, ": interrupted by SIGINT") {
			t.Fatalf("merged result: %+v, want a run interrupted by SIGINT", r)
		}
	})
	t.Run("running", func(t *testing.T) {
		// The workers' checkers make their work directories under TMPDIR
		// once their runs have begun: cancel when both exist.
		out := t.TempDir()
		tmp := onTmpfs(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			for ctx.Err() == nil {
				if m, _ := filepath.Glob(filepath.Join(tmp, "gauntlet-conformance-*")); len(m) == 2 {
					cancel()
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		code, stdout, stderr := runCheckCLIContext(t, ctx, "check", "conformance", "--engine", "model", "--seed", "1", "--jobs", "2", "--budget", "10m", "--out", out)
		if code != exitInterrupted {
			t.Fatalf("exit %d, want 130\n%s%s", code, stdout, stderr)
		}
		r := readResult(t, filepath.Join(out, "conformance-model-1.json"))
		j0 := readResult(t, filepath.Join(out, "job-0", "conformance-model-1.json"))
		j1 := readResult(t, filepath.Join(out, "job-1", "conformance-model-2.json"))
		want := fmt.Sprintf("stopped after %d cases: interrupted by SIGINT", j0.Cases+j1.Cases)
		if r.Verdict != checkers.Interrupted || r.Cases != j0.Cases+j1.Cases || r.Reason != want {
			t.Fatalf("merged result: %+v, want interrupted and %q", r, want)
		}
		for _, j := range []checkers.Result{j0, j1} {
			if j.Verdict != checkers.Interrupted || !strings.HasPrefix(j.Reason, "stopped after") {
				t.Errorf("job result: %+v, want a run interrupted early", j)
			}
		}
	})
}

// TestCheckJobsWorkerCommand: each worker gets the same flags, its seed,
// its job directory and its share of the cases; GOMAXPROCS=1 unless set.
func TestCheckJobsWorkerCommand(t *testing.T) {
	f := checkFlags{engine: "pebble:sync=true", seed: 7, budget: 90 * time.Second, cases: 5, mode: "kill", out: "o", jobs: 2}
	want := [][]string{
		{"check", "crash", "--worker", "--jobs", "1", "--engine", "pebble:sync=true", "--seed", "7", "--budget", "1m30s", "--out", filepath.Join("o", "job-0"), "--cases", "3", "--mode", "kill"},
		{"check", "crash", "--worker", "--jobs", "1", "--engine", "pebble:sync=true", "--seed", "8", "--budget", "1m30s", "--out", filepath.Join("o", "job-1"), "--cases", "2", "--mode", "kill"},
	}
	for w := range want {
		if got := jobArgs("crash", f, 2, w); !slices.Equal(got, want[w]) {
			t.Errorf("worker %d: %q, want %q", w, got, want[w])
		}
	}
	f = checkFlags{engine: "shardstore", seed: 1, faults: true, out: "o"}
	if got := jobArgs("conformance", f, 3, 2); slices.Contains(got, "--cases") || !slices.Contains(got, "--faults") || got[8] != "3" {
		t.Errorf("no --cases: %q, want none, seed 3 and --faults", got)
	}
	if n := checkJobs(checkFlags{jobs: 0}); n != runtime.NumCPU() {
		t.Errorf("--jobs 0: %d jobs, want %d", n, runtime.NumCPU())
	}
	if n := checkJobs(checkFlags{jobs: 8, cases: 3}); n != 3 {
		t.Errorf("--jobs 8 --cases 3: %d jobs, want 3", n)
	}
	gomaxprocs := func() string { // the last setting wins
		v := ""
		for _, e := range jobs.Env() {
			if k, val, _ := strings.Cut(e, "="); k == "GOMAXPROCS" {
				v = val
			}
		}
		return v
	}
	t.Setenv("GOMAXPROCS", "")
	if v := gomaxprocs(); v != "1" {
		t.Errorf("GOMAXPROCS unset: workers get %q, want 1", v)
	}
	t.Setenv("GOMAXPROCS", "3")
	if v := gomaxprocs(); v != "3" {
		t.Errorf("GOMAXPROCS=3: workers get %q, want 3", v)
	}
}

// TestCheckStatusLinesCountCases: off a terminal, a check's status lines
// give its cases, ops and recent ops/s while it runs, so a log shows a
// check that stopped making cases (the lines used to give only the time).
func TestCheckStatusLinesCountCases(t *testing.T) {
	line := regexp.MustCompile(`check (conformance|crash) on model: \ds of 2s: ([0-9.]+k?) cases, ([0-9.]+[kM]?) ops, ([0-9.]+[kM]?) ops/s`)
	for _, checker := range []string{"conformance", "crash"} {
		code, _, stderr := runCheckCLI(t, "check", checker, "--engine", "model", "--budget", "2s", "--status-interval", "250ms", "--out", t.TempDir())
		if code != exitPass {
			t.Fatalf("check %s: exit %d\n%s", checker, code, stderr)
		}
		m := line.FindAllStringSubmatch(stderr, -1)
		if len(m) < 2 {
			t.Fatalf("check %s: %d status lines with counts, want at least 2:\n%s", checker, len(m), stderr)
		}
		if last := m[len(m)-1]; last[2] == "0" || last[3] == "0" || last[4] == "0" {
			t.Errorf("check %s: the last status line counts nothing: %q", checker, last[0])
		}
	}
}
