package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// deleteChecker is a checker written for this test, as a new checker
// package would be: each case puts a key, deletes it and gets it, which
// must find nothing. Its one mode, "quick", names its files.
func deleteChecker() checkers.Checker {
	run := func(ctx context.Context, c checkers.Config, cases int) (checkers.Result, error) {
		res := checkers.Result{Checker: "delete", Engine: c.Target.Name, Seed: c.Seed, Verdict: checkers.Pass}
		ops := []workloads.Op{
			{Kind: workloads.OpPut, Key: []byte("k"), Size: 3, Seed: c.Seed},
			{Kind: workloads.OpDelete, Key: []byte("k")},
			{Kind: workloads.OpGet, Key: []byte("k")},
		}
		for i := 0; i < cases && ctx.Err() == nil; i++ {
			dir, err := os.MkdirTemp("", "gauntlet-delete-*")
			if err != nil {
				return res, err
			}
			defer os.RemoveAll(dir)
			in, err := c.Target.Start(dir, c.Faults)
			if err != nil {
				return res, err
			}
			e := in.Engine
			e.Put(ctx, ops[0].Key, []byte("v"))
			e.Delete(ctx, ops[1].Key)
			_, err = e.Get(ctx, ops[2].Key)
			in.Close()
			res.Cases++
			res.Ops += int64(len(ops))
			if errors.Is(err, engine.ErrNotFound) {
				continue
			}
			trace := filepath.Join(c.OutDir, checkers.FileStem("delete", c.Mode, c.Target.Name, c.Seed)+".trace")
			fh, err := os.Create(trace)
			if err != nil {
				return res, err
			}
			h := workloads.Header{Seed: c.Seed, Workload: "put, delete, get", Attrs: []workloads.Attr{
				{Key: "checker", Value: "delete"}, {Key: "engine", Value: c.Engine}, {Key: "mode", Value: c.Mode}}}
			if err := workloads.WriteTrace(fh, h, ops); err != nil {
				return res, err
			}
			fh.Close()
			res.Verdict = checkers.Fail
			res.Violations = append(res.Violations, checkers.Violation{
				Summary: `get "k" after its delete found it`, OpIndex: 2, Expected: "not found", Actual: fmt.Sprint(err),
				Ops: []string{"put k", "delete k", "get k"}, TraceFile: trace, Replay: c.Replay(trace),
			})
			break
		}
		if ctx.Err() != nil {
			res.Verdict = checkers.Interrupted
		}
		return res, nil
	}
	return checkers.Checker{
		Name:    "delete",
		Short:   "Check that a deleted key is gone",
		Doc:     "check delete puts a key, deletes it and gets it: nothing may be found.\nIt verifies nothing else.",
		Example: "  harness check delete --engine model --cases 3",
		Modes:   []checkers.Mode{{Name: "quick"}},
		Run: func(ctx context.Context, c checkers.Config) (checkers.Result, error) {
			return run(ctx, c, min(c.Cases, 50))
		},
		Replay: func(ctx context.Context, c checkers.Config, tr workloads.Trace) (checkers.Result, error) {
			if len(tr.Ops) != 3 {
				return checkers.Result{}, fmt.Errorf("%d ops, want 3: %w", len(tr.Ops), checkers.ErrBadTrace)
			}
			c.Seed = tr.Header.Seed
			return run(ctx, c, 1)
		},
	}
}

// TestCheckFakeChecker: a checker added to the table with one line runs
// through harness check like the built-in ones: its help, its mode in the
// Result's file name, pass and violation with their exit codes, the replay
// command, and --jobs.
func TestCheckFakeChecker(t *testing.T) {
	saved := checkerTable
	t.Cleanup(func() { checkerTable = saved })
	checkerTable = append(slices.Clip(checkerTable), deleteChecker()) // the one line a new checker adds

	onTmpfs(t)
	out := t.TempDir()
	code, stdout, stderr := runCheckCLI(t, "check", "delete", "--help")
	if code != exitPass || !strings.Contains(stdout, "check delete puts a key") || !strings.Contains(stdout, "--mode string") || strings.Contains(stdout, "--faults") {
		t.Errorf("help: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ = runCheckCLI(t, "check", "--help"); !strings.Contains(stdout, "check conformance|crash|linearize|durable|differential|interleave|delete") || !strings.Contains(stdout, "Check that a deleted key is gone") {
		t.Errorf("check's help does not list the new checker:\n%s", stdout)
	}

	code, stdout, stderr = runCheckCLI(t, "check", "delete", "--engine", "model", "--seed", "4", "--cases", "3", "--out", out)
	if code != exitPass || !strings.Contains(stdout, "delete on model (seed 4): pass — 3 cases") {
		t.Fatalf("pass: exit %d\n%s%s", code, stdout, stderr)
	}
	if r := readResult(t, filepath.Join(out, "delete-quick-model-4.json")); r.Verdict != checkers.Pass || r.Cases != 3 || r.Ops != 9 {
		t.Errorf("result: %+v", r)
	}

	code, stdout, stderr = runCheckCLI(t, "check", "delete", "--engine", "stale-delete", "--cases", "3", "--out", out)
	trace := filepath.Join(out, "delete-quick-stale-delete-1.trace")
	replay := "harness check delete --engine stale-delete --mode quick --replay " + trace
	if code != exitViolation || !strings.Contains(stderr, "harness: delete checker failed on stale-delete (seed 1): 1 violation; minimized to 3 ops: "+replay) {
		t.Fatalf("violation: exit %d, want 1 and the replay command %q\n%s%s", code, replay, stdout, stderr)
	}
	code, stdout, stderr = runCheckCLI(t, append(strings.Fields(replay)[1:], "--out", out)...)
	if code != exitViolation || !strings.Contains(stdout, "replaying "+trace) || !strings.Contains(stdout, `get "k" after its delete found it`) {
		t.Fatalf("replay: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	if r := readResult(t, filepath.Join(out, "delete-quick-stale-delete-1-replay.json")); r.Verdict != checkers.Fail {
		t.Errorf("replay result: %+v", r)
	}

	// As workers: the test binary's workers have it in their table too
	// (TestMain).
	code, stdout, stderr = runCheckCLI(t, "check", "delete", "--engine", "model", "--jobs", "2", "--cases", "4", "--out", out)
	if code != exitPass || !strings.Contains(stdout, "delete on model (seeds 1-2, 2 jobs): pass — 4 cases") {
		t.Fatalf("--jobs 2: exit %d\n%s%s", code, stdout, stderr)
	}
	if r := readResult(t, filepath.Join(out, "job-1", "delete-quick-model-2.json")); r.Cases != 2 {
		t.Errorf("job 1: %+v", r)
	}

	// Flags it does not take are refused with a reason; a mode it does not
	// have is a usage error.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--faults"}, "check delete: --faults: fault injection is for the conformance and crash checkers"},
		{[]string{"--mode", "slow"}, `check delete: --mode "slow": use quick`},
	} {
		args := append([]string{"check", "delete", "--engine", "model", "--cases", "1", "--out", out}, c.args...)
		if code, _, stderr := runCheckCLI(t, args...); code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}
