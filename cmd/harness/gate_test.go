package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gauntlet-kv/gauntlet/reports"
)

// readGate reads and validates a gate.json.
func readGate(t *testing.T, out string) reports.Gate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "gate.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := reports.ValidateGateJSON(b); err != nil {
		t.Fatalf("gate.json: %v", err)
	}
	var g reports.Gate
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGatePassesAndFails: the gate passes an honest engine and fails one
// with a known bug, naming the detector and printing the replay command
// in its five-line head.
func TestGatePassesAndFails(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pass")
	code, stdout, stderr := runCheckCLI(t, "gate", "--engine", "model", "--budget", "3s", "--jobs", "2", "--out", out)
	if code != exitPass {
		t.Fatalf("gate on the model: exit %d\n%s\n%s", code, stdout, stderr)
	}
	head := strings.SplitN(stdout, "\n", 6)
	if len(head) < 6 || !strings.HasPrefix(head[0], "gate: PASS — model") || head[1] != "checks: 3 of 3 passed" ||
		!strings.HasPrefix(head[2], "perf: not compared") || !strings.HasPrefix(head[3], "mutants: not scored") {
		t.Errorf("head of a pass:\n%s", stdout)
	}
	if g := readGate(t, out); g.Verdict != "pass" || len(g.Checks) != 3 || g.Checks[0].Cases == 0 {
		t.Errorf("gate.json of a pass: %+v", g)
	}

	out = filepath.Join(t.TempDir(), "fail")
	code, stdout, stderr = runCheckCLI(t, "gate", "--engine", "stale-delete", "--budget", "4s", "--jobs", "2", "--out", out)
	if code != exitViolation {
		t.Fatalf("gate on stale-delete: exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	head = strings.SplitN(stdout, "\n", 6)
	if !strings.HasPrefix(head[0], "gate: FAIL — stale-delete") || !strings.Contains(head[1], "conformance: fail: ") ||
		!strings.HasPrefix(head[4], "replay: harness check conformance") || !strings.Contains(head[4], "--replay ") {
		t.Errorf("head of a fail:\n%s", stdout)
	}
	g := readGate(t, out)
	if g.Verdict != "fail" || len(g.Failures) == 0 {
		t.Fatalf("gate.json of a fail: %+v", g)
	}
	for _, c := range g.Checks {
		if c.Outcome == "fail" {
			if c.Trace == "" || c.TraceOps == 0 {
				t.Errorf("%s failed without its minimized trace: %+v", c.Detector, c)
			} else if _, err := os.Stat(c.Trace); err != nil {
				t.Errorf("%s: trace %s: %v", c.Detector, c.Trace, err)
			}
		}
	}
	if !strings.Contains(stderr, "gate: conformance found a violation") {
		t.Errorf("stderr should end on the failure, one line:\n%s", stderr)
	}
}

// TestGateBadInput: bad flags and a bad perf baseline are one line, exit
// 2, before any check runs.
func TestGateBadInput(t *testing.T) {
	trunc := filepath.Join(t.TempDir(), "bench.json")
	os.WriteFile(trunc, []byte(`{"schema": "gauntlet.bench/v1", "runs": [`), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"gate", "--budget", "0s"}, "gate: --budget 0s: give the checks some time"},
		{[]string{"gate", "--engine", "nope"}, `unknown engine "nope"`},
		{[]string{"gate", "--min-mutation-score", "120"}, "gate: --min-mutation-score 120: want a percentage from 0 to 100"},
		{[]string{"gate", "--engine", "pebble", "--min-mutation-score", "90"}, "the mutant catalogue is shardstore's, not pebble's"},
		{[]string{"gate", "--perf-baseline", trunc}, "compare: " + trunc + ": bench report: not JSON"},
		{[]string{"gate", "--perf-baseline", "/nonexistent"}, "compare: /nonexistent: no such file"},
		{[]string{"gate", "--alpha", "0.9"}, "gate: --alpha 0.9"},
	} {
		out := t.TempDir()
		code, _, stderr := runCheckCLI(t, append(c.args, "--out", out)...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and one line with %q", c.args, code, stderr, c.want)
		}
		if _, err := os.Stat(filepath.Join(out, "gate.json")); err == nil {
			t.Errorf("%q: wrote a verdict", c.args)
		}
	}
}

// TestGatePerf: with a baseline, the gate re-runs its bench with the same
// configuration and compares; one repetition can show no significant
// difference, and the gate says what it compared.
func TestGatePerf(t *testing.T) {
	base := filepath.Join(t.TempDir(), "base")
	code, _, stderr := runCLI(t, "bench", "--engine", "model", "--workload", "ycsb-c,records=100", "--ops", "2000",
		"--warmup", "0s", "--dir", t.TempDir(), "--out", base, "--quiet")
	if code != 0 {
		t.Fatalf("bench: exit %d: %s", code, stderr)
	}
	out := filepath.Join(t.TempDir(), "gate")
	code, stdout, stderr := runCheckCLI(t, "gate", "--engine", "model", "--budget", "2s", "--perf-baseline", base, "--out", out)
	if code != exitPass {
		t.Fatalf("gate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if head := strings.Split(stdout, "\n"); !strings.HasPrefix(head[2], "perf: no figure of 3 significantly worse than "+filepath.Join(base, "bench.json")) {
		t.Errorf("perf line: %q", head[2])
	}
	if !strings.Contains(stdout, "== perf against the baseline") || !strings.Contains(stdout, "~ (p=1.000 n=1+1)") {
		t.Errorf("details lack the comparison:\n%s", stdout)
	}
	g := readGate(t, out)
	if g.Perf == nil || g.Perf.Compared != 3 || len(g.Perf.Regressions) != 0 {
		t.Errorf("gate.json perf: %+v", g.Perf)
	}
	if _, err := os.Stat(filepath.Join(out, "bench", "bench.json")); err != nil {
		t.Errorf("the gate's own bench result: %v", err)
	}
}

// TestGateSignalIsNotPass: a gate stopped by SIGINT or SIGTERM while its
// checks run writes gate.json with verdict interrupted and exits 130 or
// 143, never pass and 0 (a CI job killed by its timeout must not turn
// green).
func TestGateSignalIsNotPass(t *testing.T) {
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, exitInterrupted}, {syscall.SIGTERM, exitTerminated}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			tmp, out := onTmpfs(t), t.TempDir()
			p := startHarness(t, tmp, "gate", "--engine", "model", "--budget", "10m", "--jobs", "2", "--out", out)
			// A worker makes its work directory once its check has begun.
			waitForGlob(t, p, filepath.Join(tmp, "gauntlet-*"), 1)
			if err := p.cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			if code := p.wait(t); code != c.code {
				t.Fatalf("exit %d after %v, want %d\n%s%s", code, c.sig, c.code, &p.stdout, &p.stderr)
			}
			g := readGate(t, out)
			if g.Verdict != "interrupted" || len(g.Failures) == 0 || !strings.Contains(g.Failures[len(g.Failures)-1], "interrupted by ") {
				t.Fatalf("gate.json after %v: verdict %q, failures %q", c.sig, g.Verdict, g.Failures)
			}
			cut := 0
			for _, ch := range g.Checks {
				if ch.Outcome == "interrupted" {
					cut++
				}
			}
			if cut == 0 {
				t.Errorf("no check is marked interrupted: %+v", g.Checks)
			}
			if head := strings.SplitN(p.stdout.String(), "\n", 3); len(head) < 3 || !strings.HasPrefix(head[0], "gate: INTERRUPTED") || !strings.Contains(head[1], ": interrupted") {
				t.Errorf("the head does not say the gate and its checks were interrupted:\n%s", &p.stdout)
			}
		})
	}
}

// TestGateRequireStates: --require-states fails a gate whose checks pass
// but never reach a named state (the model has no observer: it reaches
// none), naming the state; shardstore's checks reach extent-reset and
// pass; a misspelt state is refused before any check runs.
func TestGateRequireStates(t *testing.T) {
	out := filepath.Join(t.TempDir(), "model")
	code, stdout, stderr := runCheckCLI(t, "gate", "--engine", "model", "--budget", "2s", "--jobs", "2", "--require-states", "extent-reset", "--out", out)
	if code != exitViolation || !strings.Contains(stdout, "no check reached the required states extent-reset") {
		t.Fatalf("gate on the model requiring extent-reset: exit %d, want 1 naming the state\n%s\n%s", code, stdout, stderr)
	}
	if g := readGate(t, out); g.Verdict != "fail" {
		t.Errorf("gate.json: verdict %q, want fail", g.Verdict)
	}

	out = filepath.Join(t.TempDir(), "shardstore")
	code, stdout, stderr = runCheckCLI(t, "gate", "--engine", "shardstore", "--budget", "6s", "--jobs", "2", "--require-states", "extent-reset,phase:recovery", "--out", out)
	if code != exitPass || !strings.Contains(stdout, "required states reached: extent-reset, phase:recovery") {
		t.Fatalf("gate on shardstore requiring extent-reset: exit %d, want 0\n%s\n%s", code, stdout, stderr)
	}

	code, _, stderr = runCheckCLI(t, "gate", "--engine", "model", "--budget", "2s", "--require-states", "extnet-reset", "--out", t.TempDir())
	if code != exitUsage || !strings.Contains(stderr, "extnet-reset") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("a misspelt state: exit %d, want 2 with one line naming it\n%s", code, stderr)
	}
}
