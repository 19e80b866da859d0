package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// TestMain lets the test binary stand in for the harness as a kill-mode
// child.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		checkDrivers = testDrivers
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
	return append(drivers(), engine.Driver{
		Name: "stale-delete", Doc: "the model, ignoring deletes (a known bug)",
		Open: func(dir string, _ engine.Options) (engine.Engine, error) {
			s, err := model.Open(dir)
			if err != nil {
				return nil, err
			}
			return staleDelete{s}, nil
		},
	})
}

// runWith mirrors run, adding the check and internal verbs if newRoot does
// not have them yet.
func runWith(args []string, stdout, stderr interface {
	Write([]byte) (int, error)
}) int {
	root := newRoot(stdout, stderr)
	for _, c := range []*cobra.Command{newCheckCmd(), newInternalCmd()} {
		if found, _, err := root.Find([]string{c.Name()}); err != nil || found == root {
			c.SetFlagErrorFunc(root.FlagErrorFunc())
			root.AddCommand(c)
		}
	}
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitPass
	}
	code := exitInternal
	var ue usageError
	var ve violationError
	switch {
	case errors.As(err, &ue) || isCobraUsage(err):
		code = exitUsage
	case errors.As(err, &ve):
		code = exitViolation
	}
	stderr.Write([]byte("harness: " + describe(err) + "\n"))
	return code
}

func runCheckCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	checkDrivers = testDrivers
	t.Cleanup(func() { checkDrivers = drivers })
	var out, errb bytes.Buffer
	code := runWith(args, &out, &errb)
	return code, out.String(), errb.String()
}

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
	r := readResult(t, filepath.Join(out, "conformance-3.json"))
	if r.Verdict != checkers.Pass || r.Cases != 50 || r.Ops == 0 {
		t.Errorf("result JSON: %+v", r)
	}
}

func TestCheckViolationExit1AndReplay(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCheckCLI(t, "check", "conformance", "--engine", "stale-delete", "--seed", "1", "--cases", "200", "--out", out)
	if code != exitViolation {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	trace := filepath.Join(out, "conformance-1.trace")
	want := "harness check conformance --engine stale-delete --replay " + trace
	if !strings.Contains(stderr, "harness: conformance checker failed on stale-delete (seed 1): 1 violation; minimized to") || !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want the replay command %q", stderr, want)
	}
	if strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr is not one line: %q", stderr)
	}
	r := readResult(t, filepath.Join(out, "conformance-1.json"))
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
	if r := readResult(t, filepath.Join(out, "crash-2.json")); r.Cases != 3 || r.Verdict != checkers.Pass {
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
		{[]string{"check", "linearize"}, "name the checker"},
		{[]string{"check", "conformance", "--engine", "nope"}, `unknown engine "nope"`},
		{[]string{"check", "conformance", "--engine", "model", "--faults", "--out", out}, "--faults needs an engine on a device"},
		{[]string{"check", "crash", "--engine", "model", "--mode", "block", "--out", out}, "--mode block needs an engine on a device"},
		{[]string{"check", "crash", "--engine", "model", "--mode", "nap", "--out", out}, `--mode "nap": use block or kill`},
		{[]string{"check", "conformance", "--replay", filepath.Join(out, "missing.trace"), "--out", out}, "--replay"},
		{[]string{"check", "conformance", "--cases", "-1", "--out", out}, "--cases -1"},
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
			"conformance on shardstore:size=1MiB,extent=64KiB,cache=16KiB,memtable=1KiB (seed 2): pass — 20 cases"},
		{[]string{"check", "crash", "--engine", "shardstore:size=2MiB,sched=fifo", "--seed", "3", "--cases", "20", "--out", out},
			"crash on shardstore:size=2MiB,extent=64KiB,cache=16KiB,memtable=1KiB,sched=fifo (seed 3): pass — 20 cases"},
	} {
		code, stdout, stderr := runCheckCLI(t, c.args...)
		if code != exitPass || !strings.Contains(stdout, c.want) {
			t.Errorf("%v: exit %d, want 0 and %q\n%s%s", c.args, code, c.want, stdout, stderr)
		}
	}
	if r := readResult(t, filepath.Join(out, "crash-3.json")); r.Cases != 20 || r.Verdict != checkers.Pass {
		t.Errorf("crash result: %+v", r)
	}
	// A device too small for its extents is a usage error.
	code, _, stderr := runCheckCLI(t, "check", "conformance", "--engine", "shardstore:size=128KiB", "--out", out)
	if code != exitUsage || !strings.Contains(stderr, "holding at least 4 extents") {
		t.Errorf("size=128KiB: exit %d, stderr %q, want exit 2", code, stderr)
	}
}
