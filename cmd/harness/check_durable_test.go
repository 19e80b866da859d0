package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
)

// TestCheckDurable runs the durable checker through the CLI: a pass on
// shardstore with its Result, a re-check of a failing durable history
// (exit 1, the command that re-checks it), and a directory engine refused.
func TestCheckDurable(t *testing.T) {
	onTmpfs(t)
	out := t.TempDir()
	code, stdout, stderr := runCheckCLI(t, "check", "durable", "--engine", "shardstore", "--clients", "3", "--cases", "5", "--seed", "2", "--out", out)
	if code != exitPass || !strings.Contains(stdout, "(seed 2): pass — 5 cases") || !strings.Contains(stdout, "crash states checked") {
		t.Fatalf("pass: exit %d\n%s%s", code, stdout, stderr)
	}
	if r := readResult(t, filepath.Join(out, "durable-block-shardstore-2.json")); r.Verdict != checkers.Pass || r.Cases != 5 || r.Checker != "durable" {
		t.Errorf("result: %+v", r)
	}

	history := filepath.Join("..", "..", "checkers", "linearize", "testdata", "durable-lost-synced.history")
	code, stdout, stderr = runCheckCLI(t, "check", "durable", "--history", history, "--out", out)
	if code != exitViolation || !strings.Contains(stdout, "re-checking "+history) || !strings.Contains(stdout, `no order reaches recover "k1" → not found`) ||
		!strings.HasSuffix(strings.TrimSpace(stderr), "harness check durable --history "+history) {
		t.Fatalf("re-check: exit %d, want 1\n%s%s", code, stdout, stderr)
	}

	code, _, stderr = runCheckCLI(t, "check", "durable", "--engine", "model", "--cases", "1", "--out", out)
	if want := "check durable: engine model opens on a directory: the durable checker needs an engine on a device (shardstore)"; code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("directory engine: exit %d, stderr %q; want 2 and %q", code, stderr, want)
	}
}
