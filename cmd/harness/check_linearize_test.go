package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
)

// TestCheckLinearize runs the linearize checker through the CLI: a pass
// with --clients, a violation on the stale-cache engine with exit 1 and
// the command that re-checks its history, the re-check, and the usage
// errors of its flags.
func TestCheckLinearize(t *testing.T) {
	onTmpfs(t)
	out := t.TempDir()
	code, stdout, stderr := runCheckCLI(t, "check", "linearize", "--engine", "model", "--clients", "3", "--cases", "10", "--seed", "2", "--out", out)
	if code != exitPass || !strings.Contains(stdout, "linearize on model (seed 2): pass — 10 cases, 2000 ops") {
		t.Fatalf("pass: exit %d\n%s%s", code, stdout, stderr)
	}
	if r := readResult(t, filepath.Join(out, "linearize-model-2.json")); r.Verdict != checkers.Pass || r.Cases != 10 {
		t.Errorf("result: %+v", r)
	}

	code, stdout, stderr = runCheckCLI(t, "check", "linearize", "--engine", "stale-cache", "--cases", "200", "--out", out)
	history := filepath.Join(out, "linearize-stale-cache-1.history")
	recheck := "harness check linearize --history " + history
	if code != exitViolation || !strings.Contains(stderr, "harness: linearize checker failed on stale-cache (seed 1): 1 violation") || !strings.HasSuffix(strings.TrimSpace(stderr), recheck) {
		t.Fatalf("violation: exit %d, want 1 and %q\n%s%s", code, recheck, stdout, stderr)
	}
	if !strings.Contains(stdout, "visualization: "+filepath.Join(out, "linearize-stale-cache-1.html")) {
		t.Errorf("no visualization in the summary:\n%s", stdout)
	}
	r := readResult(t, filepath.Join(out, "linearize-stale-cache-1.json"))
	if r.Verdict != checkers.Fail || len(r.Violations) != 1 || r.Violations[0].TraceFile != history || r.Violations[0].Visualization == "" {
		t.Errorf("result: %+v", r)
	}
	code, stdout, stderr = runCheckCLI(t, append(strings.Fields(recheck)[1:], "--out", out)...)
	if code != exitViolation || !strings.Contains(stdout, "re-checking "+history) {
		t.Fatalf("re-check: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	if r := readResult(t, filepath.Join(out, "linearize-stale-cache-1-recheck.json")); r.Verdict != checkers.Fail || r.Engine != "stale-cache" {
		t.Errorf("re-check result: %+v", r)
	}

	b, err := os.ReadFile(history)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(out, "truncated.history")
	if err := os.WriteFile(truncated, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"linearize", "--history", truncated}, "harness: check linearize: history " + truncated + ": "},
		{[]string{"linearize", "--history", history, "--engine", "model"}, "check linearize: --engine with --history: a re-check runs no engine"},
		{[]string{"linearize", "--replay", history}, "check linearize: --replay " + history + ": a run of the linearize checker is re-checked from its history, not replayed: use --history FILE"},
		{[]string{"linearize", "--clients", "-1", "--cases", "1"}, "check linearize: --clients -1: give a number of clients"},
		{[]string{"conformance", "--clients", "4", "--cases", "1"}, "check conformance: --clients is for the linearize and durable checkers"},
		{[]string{"conformance", "--history", history}, "check conformance: --history is for the linearize and durable checkers: use --replay FILE"},
	} {
		args := append(append([]string{"check"}, c.args...), "--out", out)
		code, _, stderr := runCheckCLI(t, args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q\nwant 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
}
