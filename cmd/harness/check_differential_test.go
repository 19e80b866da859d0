package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
)

// TestCheckDifferential: harness check differential takes a list of option
// sets in --engine, runs them through the checker table and writes a
// Result naming all of them; a list of one, or of two engines, is a
// one-line usage error.
func TestCheckDifferential(t *testing.T) {
	out := t.TempDir()
	spec := "shardstore:sched=fifo,shardstore:sched=coalesce,io-depth=1"
	code, stdout, stderr := runCheckCLI(t, "check", "differential", "--engine", spec, "--cases", "5", "--out", out, "--quiet")
	if code != exitPass || !strings.Contains(stdout, "differential on "+spec+" (seed 1): pass — 5 cases") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if r := readResult(t, filepath.Join(out, "differential-shardstore-1.json")); r.Verdict != checkers.Pass || r.Engine != spec || r.Cases != 5 {
		t.Errorf("result: %+v", r)
	}
	for _, c := range []struct{ engine, want string }{
		{"shardstore:sched=fifo", "give at least two option sets"},
		{"shardstore,model", "the option sets compared must be of one engine"},
		{"shardstore,shardstore:sched=nope", "sched"},
	} {
		code, _, stderr := runCheckCLI(t, "check", "differential", "--engine", c.engine, "--cases", "1", "--out", out)
		if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("--engine %s: exit %d, stderr %q, want a one-line usage error saying %q", c.engine, code, stderr, c.want)
		}
	}
}
