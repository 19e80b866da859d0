//go:build mutants

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/mutants"
	"github.com/gauntlet-kv/gauntlet/reports"
)

// TestMutantsEndToEnd runs harness mutants as a user would, on the canary
// and the baseline: the cells are worker processes (this test binary, built
// with the switch), the canary must die on its first case under every
// detector asked for, the unmutated engine must pass, and the report must
// validate against its schema.
func TestMutantsEndToEnd(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI(t, "mutants", "--mutant", "canary", "--detector", "conformance", "--detector", "crash/block",
		"--cell-budget", "3s", "--jobs", "2", "--seed", "1", "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("harness mutants: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "mutants.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := reports.ValidateMutantsJSON(b); err != nil {
		t.Fatalf("mutants.json: %v", err)
	}
	var r mutants.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	got := map[string][]mutants.Outcome{}
	for _, row := range r.Mutants {
		for _, c := range row.Cells {
			got[row.Name] = append(got[row.Name], c.Outcome)
		}
	}
	want := map[string][]mutants.Outcome{
		mutants.Baseline: {mutants.Survived, mutants.Survived},
		"canary":         {mutants.Killed, mutants.Killed},
	}
	for name, w := range want {
		if strings.Join(outcomes(got[name]), ",") != strings.Join(outcomes(w), ",") {
			t.Errorf("%s: outcomes %v, want %v\n%s", name, got[name], w, stdout)
		}
	}
	for _, row := range r.Mutants {
		if row.Name != "canary" {
			continue
		}
		for _, c := range row.Cells {
			// Every get of a value is wrong: caught in the first few cases
			// (the first may hold no get of a written key).
			if c.Cases < 1 || c.Cases > 5 || c.Replay == "" || !strings.Contains(c.Replay, "--replay") {
				t.Errorf("canary × %s: killed after %d cases with replay %q, want within the first five cases and a replay command", c.Detector, c.Cases, c.Replay)
			}
		}
	}
	for _, f := range []string{"mutants.png", "mutants.svg"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", f, err)
		}
	}
	if !regexp.MustCompile(`canary  K [1-5]c `).MatchString(stdout) {
		t.Errorf("the summary's matrix should show the canary killed within its first cases:\n%s", stdout)
	}
}

func outcomes(os []mutants.Outcome) []string {
	s := make([]string, len(os))
	for i, o := range os {
		s[i] = string(o)
	}
	return s
}

// TestGateFailsOnCanary: the gate, on shardstore with a seeded bug, fails
// with the replay command of a minimized trace.
func TestGateFailsOnCanary(t *testing.T) {
	out := filepath.Join(t.TempDir(), "gate")
	code, stdout, stderr := runCLI(t, "gate", "--engine", "shardstore:mutant=canary", "--budget", "6s", "--out", out)
	if code != exitViolation {
		t.Fatalf("gate on the canary: exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	head := strings.Split(stdout, "\n")
	// Every detector the gate runs kills the canary: "checks: 0 of N".
	if !strings.HasPrefix(head[0], "gate: FAIL — shardstore:mutant=canary") || !strings.HasPrefix(head[1], "checks: 0 of ") || !strings.Contains(head[1], " passed; conformance: fail: ") ||
		!strings.HasPrefix(head[4], "replay: ") || !strings.Contains(head[4], "--replay") {
		t.Errorf("head:\n%s", stdout)
	}
}

// TestNightlyMutants: a night with --mutants scores the catalogue after
// the bench and the checks (here the canary, which every detector
// kills, a bug conformance catches in its first cases, and the unmutated
// engine, which every detector passes; the canary is not scored), records
// the score in the history line, and puts the mutants section in the
// night's report.
func TestNightlyMutants(t *testing.T) {
	out := filepath.Join(t.TempDir(), "nightly")
	code, stdout, stderr := runCLI(t, "nightly", "--engine", "shardstore:size=1MiB,extent=64KiB", "--peers", "", "--workload", "ycsb-c,records=100",
		"--repeat", "3", "--budget", "20s", "--probe=false", "--jobs", "2", "--dir", t.TempDir(), "--out", out, "--quiet",
		"--mutants", "--mutant", "list-end-inclusive")
	if code != exitPass {
		t.Fatalf("nightly --mutants: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "nightly: mutation score 1/1 (100.0%)") {
		t.Errorf("stdout does not give the score:\n%s", stdout)
	}
	h, err := reports.ReadHistory(filepath.Join(out, reports.HistoryFile))
	if err != nil || len(h.Records) != 1 {
		t.Fatalf("history: %v, %d nights, want 1", err, len(h.Records))
	}
	if s := h.Records[0].MutationScore; s == nil || *s != 100 {
		t.Errorf("the history line's mutation score: %v, want 100", s)
	}
	night := filepath.Join(out, h.Records[0].Night)
	b, err := os.ReadFile(filepath.Join(night, "mutants", "mutants.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := reports.ValidateMutantsJSON(b); err != nil {
		t.Fatalf("mutants.json: %v", err)
	}
	page, _ := os.ReadFile(filepath.Join(night, "report.html"))
	if !strings.Contains(string(page), `<section id="mutants">`) {
		t.Error("the night's report has no mutants section")
	}
}
