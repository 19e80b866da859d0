package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/reports"
)

// nightlyArgs is a tiny night on the model: one workload, three
// repetitions, a 1 MiB probe, every check of the model.
func nightlyArgs(t *testing.T, out string, extra ...string) []string {
	return append([]string{"nightly", "--engine", "model", "--peers", "", "--workload", "ycsb-c,records=100", "--repeat", "3",
		"--budget", "1s", "--probe-bytes", "1048576", "--jobs", "2", "--dir", t.TempDir(), "--out", out, "--quiet"}, extra...)
}

func nightFolders(t *testing.T, out string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(out, "20*"))
	return m
}

// TestNightlyTwice runs two nights: two history lines, two folders each
// with its report, and the second's report has the trend plot of both.
// The first night's bench is made 100 times faster before the second
// runs, so the second finds its ops/s significantly worse (4 repetitions
// a side: p = 0.029), records it, rings it and exits 1.
func TestNightlyTwice(t *testing.T) {
	out := filepath.Join(t.TempDir(), "nightly")
	for night := 1; night <= 2; night++ {
		if night == 2 {
			fasterNight(t, nightFolders(t, out)[0])
		}
		code, stdout, stderr := runCheckCLI(t, nightlyArgs(t, out, "--repeat", "4")...)
		want := exitPass
		if night == 2 {
			want = exitViolation
		}
		if code != want || night == 2 && !strings.Contains(stderr, "significantly worse than the night before") {
			t.Fatalf("night %d: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", night, code, want, stdout, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if !strings.HasPrefix(lines[len(lines)-1], "report: "+out) || !strings.Contains(stdout, "history: "+filepath.Join(out, reports.HistoryFile)) {
			t.Fatalf("night %d: stdout lacks the history and the report's path last:\n%s", night, stdout)
		}
	}
	h, err := reports.ReadHistory(filepath.Join(out, reports.HistoryFile))
	if err != nil || len(h.Records) != 2 {
		t.Fatalf("history: %v, %d nights, want 2", err, len(h.Records))
	}
	for _, r := range h.Records {
		if len(r.Bench) != 1 || r.Bench[0].Engine != "model" || r.Bench[0].OpsPerSec <= 0 || r.Bench[0].P99us <= 0 || len(r.Checks) < 2 {
			t.Errorf("night %s: %+v", r.Night, r)
		}
		for _, c := range r.Checks {
			if c.Verdict != "pass" {
				t.Errorf("night %s: %s %s on the model", r.Night, c.Detector, c.Verdict)
			}
		}
	}
	folders := nightFolders(t, out)
	if len(folders) != 2 {
		t.Fatalf("folders %v, want 2", folders)
	}
	second := filepath.Join(out, h.Records[1].Night)
	for _, f := range []string{"report.html", "trends.svg", "trends.png", reports.NightFile, "compare.json", "checks/gate.json", "bench/bench.json", "coverage/coverage.json"} {
		if _, err := os.Stat(filepath.Join(second, f)); err != nil {
			t.Errorf("the second night's folder lacks %s", f)
		}
	}
	page, _ := os.ReadFile(filepath.Join(second, "report.html"))
	if !bytes.Contains(page, []byte(`<section id="coverage">`)) {
		t.Error("the second night's report has no coverage section")
	}
	if svg, _ := os.ReadFile(filepath.Join(second, "trends.svg")); !bytes.Contains(svg, []byte("worse than the night before")) {
		t.Error("the trend plot does not ring the regression")
	}
	if r := h.Records[1].Regressions; len(r) == 0 || r[0].Engine != "model" || r[0].Metric != "ops/s" || r[0].P >= 0.1 {
		t.Errorf("the second night's regressions: %+v, want model's ops/s", r)
	}
	if len(h.Records[0].Regressions) != 0 {
		t.Errorf("the first night has regressions: %+v", h.Records[0].Regressions)
	}
	for _, want := range []string{"Trends over 2 nights", `<section id="trends">`, "Night: " + reports.NightFile, "Device limits (probe)", "<h2 id=\"compare-1\">Compare: ", "figures worse on the last night", `">Checks: <span`} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("the second night's report lacks %q", want)
		}
	}
	if bytes.Contains(page, []byte(`">Gate: <span`)) {
		t.Error("the night's checks are titled as a gate")
	}
}

// TestNightlyInterrupted: a night interrupted after its bench leaves the
// history byte for byte as it was, and its folder, with a report, says
// partial; exit 130.
func TestNightlyInterrupted(t *testing.T) {
	out := filepath.Join(t.TempDir(), "nightly")
	os.MkdirAll(out, 0o755)
	path := filepath.Join(out, reports.HistoryFile)
	h, _ := reports.ReadHistory(path)
	prior := reports.HistoryRecord{Schema: reports.HistorySchema, Night: "2026-12-04T1300Z", Commit: "abc", Engine: "model", Repeat: 3,
		Bench: []reports.HistoryBench{{Engine: "model", Workload: "ycsb-c,records=100", OpsPerSec: 1, P99us: 1, P999us: 1}}}
	if err := h.Append(prior); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nightlyStep = func(step string) {
		if step == "checks" {
			cancel()
		}
	}
	t.Cleanup(func() { nightlyStep = nil })
	code, stdout, stderr := runCheckCLIContext(t, ctx, nightlyArgs(t, out)...)
	if code != 130 {
		t.Fatalf("exit %d, want 130\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "nightly interrupted by SIGINT") || !strings.Contains(stderr, "the history "+path+" is unchanged") {
		t.Errorf("stderr %q", stderr)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatalf("the history changed:\n%s\nthen\n%s", before, after)
	}
	folders := nightFolders(t, out)
	if len(folders) != 1 {
		t.Fatalf("folders %v, want the partial night's", folders)
	}
	rec, err := reports.ReadNight(filepath.Join(folders[0], reports.NightFile))
	if err != nil || !rec.Partial || rec.Reason != "interrupted by SIGINT" || len(rec.Bench) != 1 {
		t.Fatalf("night.json: %v %+v: want partial, interrupted, with the bench's figures", err, rec)
	}
	page, _ := os.ReadFile(filepath.Join(folders[0], "report.html"))
	if !bytes.Contains(page, []byte("PARTIAL night: interrupted by SIGINT")) {
		t.Error("the partial night's report does not say partial")
	}
}

// TestNightlyBadHistory: a corrupt line in the middle or a record of
// another layout stops the night before it runs: one line naming the file
// and line, exit 2. A cut last line is a warning, not an error.
func TestNightlyBadHistory(t *testing.T) {
	good := `{"schema":"gauntlet.history/v1","date":"2026-12-04T13:00:00Z","night":"a","commit":"abc","engine":"model","repeat":3,"elapsed_ns":1,"bench":null,"checks":null}`
	for _, c := range []struct{ name, body, want string }{
		{"corrupt line", good + "\n{\"sche\n" + good + "\n", ":2: not JSON"},
		{"wrong version", good + "\n" + `{"schema":"gauntlet.history/v0"}` + "\n", `:2: schema "gauntlet.history/v0" is not one this harness reads`},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			path := filepath.Join(out, reports.HistoryFile)
			os.WriteFile(path, []byte(c.body), 0o644)
			code, _, stderr := runCheckCLI(t, nightlyArgs(t, out)...)
			if code != exitUsage || !strings.HasPrefix(stderr, "harness: nightly: "+path+c.want) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q: want 2 and one line naming %s%s", code, stderr, path, c.want)
			}
			if len(nightFolders(t, out)) != 0 {
				t.Error("a night ran on a bad history")
			}
		})
	}
}

func TestNightlyBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"nightly", "--repeat", "2"}, "nightly: --repeat 2: the comparison with the night before needs at least 3 repetitions"},
		{[]string{"nightly", "--budget", "0s"}, "nightly: --budget 0s: give the night some time"},
		{[]string{"nightly", "--engine", "pebble", "--mutants"}, "the mutant catalogue is shardstore's, not pebble's"},
		{[]string{"nightly", "--mutant", "canary"}, "nightly: --mutant canary without --mutants: add --mutants"},
		{[]string{"nightly", "--mutants", "--mutant", "no-such-bug"}, "mutants: --mutant no-such-bug: no such mutant (harness mutants list names them)"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q, want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// fasterNight multiplies every run's ops/s in a night's bench.json by 100.
func fasterNight(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, "bench", "bench.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	for _, r := range rep["runs"].([]any) {
		run := r.(map[string]any)
		run["ops_per_sec"] = run["ops_per_sec"].(float64) * 100
		if all, ok := run["all"].(map[string]any); ok {
			all["ops_per_sec"] = all["ops_per_sec"].(float64) * 100
		}
		if ops, ok := run["by_op"].(map[string]any); ok {
			for _, o := range ops {
				o.(map[string]any)["ops_per_sec"] = o.(map[string]any)["ops_per_sec"].(float64) * 100
			}
		}
	}
	b, _ = json.Marshal(rep)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
