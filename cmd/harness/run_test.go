package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun runs the short nightly with a tiny budget: the bench of every
// engine, every check, and the report, which names each engine and each
// check's verdict; its path is the last line printed.
func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCLI(t, "run", "--budget", "1s", "--workload", "ycsb-c,records=100", "--out", out, "--dir", t.TempDir(), "--quiet")
	if code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	path := filepath.Join(out, "report.html")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if last := lines[len(lines)-1]; last != "report: "+path {
		t.Fatalf("last line %q, want the report's path %s", last, path)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range append([]string{"shardstore"}, runPeers...) {
		if !strings.Contains(string(page), "<td>"+e+"</td>") {
			t.Errorf("report lacks a bench row of %s", e)
		}
	}
	for _, c := range []string{"conformance", "crash block", "linearize"} {
		if !strings.Contains(string(page), c+` on shardstore: <span class="badge pass">pass</span>`) {
			t.Errorf("report lacks the %s check's verdict", c)
		}
	}
	if !strings.Contains(string(page), "harness run --budget 1s") {
		t.Error("report lacks the command that made it")
	}
}

// TestRunCheckFails: a check that finds a violation makes run exit 1,
// and the report is still written, with the violation in it.
func TestRunCheckFails(t *testing.T) {
	benchDrivers, checkDrivers = runTestDrivers, testDrivers
	t.Cleanup(func() { benchDrivers, checkDrivers = drivers, drivers })
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCLI(t, "run", "--engine", "stale-delete", "--peers", "", "--budget", "1s",
		"--workload", "ycsb-c,records=100", "--out", out, "--quiet")
	if code != exitViolation {
		t.Fatalf("run exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "harness: run: the conformance") || !strings.HasSuffix(stdout, "report: "+filepath.Join(out, "report.html")+"\n") {
		t.Fatalf("stderr %q, stdout ends %q: want the failed check named and the report's path last", stderr, stdout[max(0, len(stdout)-200):])
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `conformance on stale-delete: <span class="badge fail">fail</span>`) || !strings.Contains(string(page), "harness check conformance --engine stale-delete") {
		t.Error("report lacks the failed check and its replay command")
	}
}
