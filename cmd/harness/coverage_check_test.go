package main

import (
	"strings"
	"testing"
)

// TestCheckRequireStates: a run that reaches the required states passes;
// one whose configuration cannot reach a state (no --faults: no fault
// cell; a huge cache: no eviction) exits 1 naming what it missed, and an
// unknown state is a usage error naming it.
func TestCheckRequireStates(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCheckCLI(t, "check", "conformance", "--engine", "shardstore", "--cases", "30", "--out", out, "--quiet",
		"--require-states", "extent-reset,chunk-evacuated,phase:recovery")
	if code != exitPass || !strings.Contains(stdout, "required states reached: extent-reset, chunk-evacuated, phase:recovery") {
		t.Fatalf("exit %d, want 0\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCheckCLI(t, "check", "conformance", "--engine", "shardstore:cache=64MiB", "--cases", "30", "--out", out, "--quiet",
		"--require-states", "extent-reset,cache-eviction,*×eio-read×*")
	if code != exitViolation || !strings.Contains(stderr, "did not reach required states: cache-eviction, *×eio-read×*") {
		t.Fatalf("exit %d, want 1 naming cache-eviction and the cell\n%s%s", code, stdout, stderr)
	}
	code, _, stderr = runCheckCLI(t, "check", "conformance", "--engine", "shardstore", "--cases", "1", "--out", out, "--quiet", "--require-states", "extnet-reset")
	if code != exitUsage || !strings.Contains(stderr, "unknown state extnet-reset") {
		t.Fatalf("exit %d, want 2 naming extnet-reset\n%s", code, stderr)
	}
}

// TestAdaptiveFlag: --adaptive is refused, exit 2 with the reason, where
// nothing can be steered: a checker without a steered generator, kill
// mode, a replay; --adaptive-warmup without --adaptive or below 0.
func TestAdaptiveFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "linearize", "--engine", "shardstore", "--adaptive", "--cases", "1"}, "--adaptive is for the conformance and crash checkers"},
		{[]string{"check", "crash", "--engine", "shardstore", "--mode", "kill", "--adaptive", "--cases", "1"}, "--mode kill reports no engine states"},
		{[]string{"check", "conformance", "--replay", "x.trace", "--adaptive"}, "--adaptive with a replay"},
		{[]string{"check", "conformance", "--engine", "shardstore", "--adaptive-warmup", "10", "--cases", "1"}, "--adaptive-warmup 10 without --adaptive"},
		{[]string{"check", "conformance", "--engine", "shardstore", "--adaptive", "--adaptive-warmup", "-1", "--cases", "1"}, "--adaptive-warmup -1: give a number of cases, 0 or more"},
	} {
		code, _, stderr := runCheckCLI(t, append(c.args, "--out", t.TempDir())...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("harness %s: exit %d, want 2 saying %q\n%s", strings.Join(c.args, " "), code, c.want, stderr)
		}
	}
}

// TestBatchFlag: --batch is refused, exit 2 with the reason, where it
// cannot apply (a checker without it, kill mode); where it applies, a run
// passes on shardstore and its Result says so.
func TestBatchFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "linearize", "--engine", "shardstore", "--batch", "--cases", "1"}, "--batch is for the conformance and crash checkers"},
		{[]string{"check", "crash", "--engine", "shardstore", "--mode", "kill", "--batch", "--cases", "1"}, "--batch: --mode kill applies its ops in a child process"},
	} {
		code, _, stderr := runCheckCLI(t, append(c.args, "--out", t.TempDir())...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("harness %s: exit %d, want 2 saying %q\n%s", strings.Join(c.args, " "), code, c.want, stderr)
		}
	}
	code, stdout, stderr := runCheckCLI(t, "check", "crash", "--engine", "shardstore", "--batch", "--cases", "100", "--jobs", "2", "--out", t.TempDir())
	if code != 0 || !strings.Contains(stdout, "pass") {
		t.Fatalf("crash --batch --jobs 2 on shardstore: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
