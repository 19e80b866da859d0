package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/coverage"
	"github.com/gauntlet-kv/gauntlet/reports"
)

// TestCoverageVerb: harness coverage on a check Result of shardstore with
// faults prints the events reached and never reached and the fault ×
// phase matrix, writes a coverage.json that matches its schema and the
// figures, and harness report then has a coverage section.
func TestCoverageVerb(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCheckCLI(t, "check", "conformance", "--engine", "shardstore", "--faults", "--cases", "40", "--out", out, "--quiet")
	if code != exitPass {
		t.Fatalf("check: exit %d\n%s%s", code, stdout, stderr)
	}
	res := filepath.Join(out, "conformance-shardstore-1.json")
	code, stdout, stderr = runCheckCLI(t, "coverage", res, "--out", out)
	if code != exitPass {
		t.Fatalf("coverage: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"conformance (pass, 40 cases", "events reached", "extent-reset", "never reached: ", "compaction-while-reclaiming", "eio-write", "fault cells reached: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "coverage.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := reports.ValidateCoverageJSON(b); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"coverage-faults.png", "coverage-faults.svg", "coverage-events.png", "coverage-events.svg"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("figure %s: %v", f, err)
		}
	}
	rs, err := reports.ReadResults(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Coverage) != 1 || len(rs.Checks) != 1 {
		t.Fatalf("read %d coverage documents and %d checks, want 1 and 1", len(rs.Coverage), len(rs.Checks))
	}
	var html strings.Builder
	if err := reports.WriteHTML(&html, rs, reports.HTMLOptions{Dir: out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), `<section id="coverage">`) || !strings.Contains(html.String(), "events never reached: ") {
		t.Error("the report has no coverage section")
	}
	code, _, stderr = runCheckCLI(t, "coverage", filepath.Join(out, "missing.json"), "--out", out)
	if code != exitInternal || !strings.Contains(stderr, "missing.json") {
		t.Errorf("a missing file: exit %d, %s", code, stderr)
	}
}

// TestCoverageCode: --code runs the checkers in a harness built with Go's
// coverage of the named packages and records, per checker, the share of
// their statements it executed, and the functions none executed. In a
// kill-mode crash check the workload runs only in child processes the
// parent kills, and recovery only in the children that reopen after the
// kill: both count (the killed child writes its counters before it dies;
// Store.Put runs nowhere else). A package pattern go cannot build and an
// unknown mode are usage errors.
func TestCoverageCode(t *testing.T) {
	out := t.TempDir()
	const pkg = "github.com/gauntlet-kv/gauntlet/engine/shardstore"
	code, stdout, stderr := runCheckCLI(t, "coverage", "--engine", "shardstore", "--checkers", "conformance,crash/kill", "--budget", "2s",
		"--code", "./engine/shardstore", "--out", out)
	if code != exitPass || !strings.Contains(stdout, "code (statements executed): engine/shardstore ") || !strings.Contains(stdout, "crash kill (pass") {
		t.Fatalf("coverage --code: exit %d\n%s%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "coverage.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc coverage.Doc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Checkers) != 2 || doc.Checkers[0].Code[pkg] <= 0 || doc.Checkers[0].Code[pkg] > 100 || doc.Checkers[1].Code[pkg] <= 0 {
		t.Fatalf("code coverage of %s: %+v", pkg, doc.Checkers)
	}
	t.Logf("statements of %s executed: conformance %.1f%%, crash kill %.1f%%; functions neither executed: %d",
		pkg, doc.Checkers[0].Code[pkg], doc.Checkers[1].Code[pkg], len(doc.CodeNever))
	// Store.Put runs in conformance too: the kill-mode run's own
	// counters must hold it, and its reopening children's recovery.
	kill, err := exec.Command("go", "tool", "covdata", "func", "-i", filepath.Join(out, "crash-kill", "gocover"), "-pkg", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("covdata func: %v\n%s", err, kill)
	}
	for _, fn := range []string{"*Store.Put", "openChunks"} {
		for _, l := range strings.Split(string(kill), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[1] == fn && f[2] == "0.0%" {
				t.Errorf("kill mode's counters have %s at 0%%: the killed or reopening children's counters are lost", fn)
			}
		}
	}

	code, _, stderr = runCheckCLI(t, "coverage", "--engine", "shardstore", "--checkers", "conformance", "--budget", "1s",
		"--code", "./no/such/package", "--out", t.TempDir())
	if code != exitUsage || !strings.Contains(stderr, "--code ./no/such/package") {
		t.Fatalf("a package go cannot build: exit %d, want 2 naming it\n%s", code, stderr)
	}
	code, _, stderr = runCheckCLI(t, "coverage", "--checkers", "crash/sideways", "--out", t.TempDir())
	if code != exitUsage || !strings.Contains(stderr, `crash has no mode "sideways"`) {
		t.Fatalf("an unknown mode: exit %d, want 2\n%s", code, stderr)
	}
}
