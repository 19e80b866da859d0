package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/reports"
)

// TestCompareCLI runs a real bench with repetitions and compares it with
// itself: every figure is the same distribution, so nothing may be
// flagged, and the JSON must match its schema.
func TestCompareCLI(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench")
	code, _, stderr := runCLI(t, "bench", "--engine", "model", "--workload", "ycsb-c,records=100", "--ops", "3000",
		"--repeat", "4", "--warmup", "0s", "--dir", t.TempDir(), "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("bench: exit %d: %s", code, stderr)
	}
	js := filepath.Join(t.TempDir(), "cmp.json")
	code, stdout, stderr := runCLI(t, "compare", out, filepath.Join(out, "bench.json"), "--json", js, "--fail-on-regression")
	if code != 0 {
		t.Fatalf("compare: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"ops/s (higher is better)", "model", "ycsb-c", "~ (p=1.000 n=4+4)", "0 significantly better in B, 0 significantly worse"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("compare output lacks %q:\n%s", want, stdout)
		}
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := reports.ValidateCompareJSON(b); err != nil {
		t.Error(err)
	}

	// Bad input: one line, exit 2, naming the input.
	trunc := filepath.Join(t.TempDir(), "bench.json")
	whole, _ := os.ReadFile(filepath.Join(out, "bench.json"))
	os.WriteFile(trunc, whole[:len(whole)/2], 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"compare", out}, "holds one engine (model"},
		{[]string{"compare", out, "/nonexistent/x"}, "compare: /nonexistent/x: no such file (give a bench.json or the directory harness bench wrote)"},
		{[]string{"compare", out, trunc}, "compare: " + trunc + ": bench report: not JSON"},
		{[]string{"compare", out, out, "--alpha", "0"}, "compare: --alpha 0: want a significance level between 0 and 0.5"},
		{[]string{"compare", out, out, "--base", "model"}, "--base model compares engines within one result"},
		{[]string{"compare"}, "compare: want one result (two engines in it) or two results, got 0 arguments"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%q: exit %d, stderr %q, want exit 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
}
