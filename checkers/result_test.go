package checkers_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
)

func TestResultSummaryAndJSON(t *testing.T) {
	r := checkers.Result{
		Checker: "crash", Engine: "shardstore:extent=64KiB", Seed: 8731, Verdict: checkers.Fail,
		Cases: 120, Ops: 5000, Elapsed: 2 * time.Second,
		Violations: []checkers.Violation{{
			Summary: `get "k17" = "v3", want "v5" (persistent since op 3)`,
			Ops:     []string{`put "k17" 5 seed=1`, "sync", "dirty-reboot seed=9", `get "k17"`},
			OpIndex: 3, OriginalOps: 61,
			Replay: "harness check crash --engine shardstore --replay out/crash-8731.trace",
		}},
	}
	s := r.Summary()
	for _, want := range []string{
		"crash on shardstore:extent=64KiB (seed 8731): fail — 120 cases, 5000 ops in 2s (2500 ops/s)",
		`violation 1: get "k17" = "v3", want "v5"`,
		`   >   3  get "k17"`,
		"minimized from 61 to 4 ops",
		"replay: harness check crash --engine shardstore --replay out/crash-8731.trace",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back checkers.Result
	if err := json.Unmarshal(b, &back); err != nil || back.Verdict != checkers.Fail || len(back.Violations) != 1 || back.Violations[0].OpIndex != 3 || back.Elapsed != r.Elapsed {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	if strings.Contains(string(b), `"jobs"`) {
		t.Errorf("a one-job result encodes jobs: %s", b)
	}
	r.Jobs, r.Seed, r.Violations = 4, 7, nil
	if s := r.Summary(); !strings.HasPrefix(s, "crash on shardstore:extent=64KiB (seeds 7-10, 4 jobs): fail — 120 cases") {
		t.Errorf("summary of a run over jobs: %s", s)
	}
	if b, _ := r.JSON(); !strings.Contains(string(b), `"jobs": 4`) {
		t.Errorf("JSON of a run over jobs lacks jobs: %s", b)
	}
	empty, _ := checkers.Result{Verdict: checkers.Pass}.JSON()
	if !strings.Contains(string(empty), `"violations": []`) {
		t.Errorf("a passing result must encode violations as [], got %s", empty)
	}
}

func TestSummaryOneScreen(t *testing.T) {
	v := checkers.Violation{Summary: "op 69: bad", OpIndex: 69, Replay: "harness check ..."}
	for i := range 70 {
		v.Ops = append(v.Ops, fmt.Sprintf("get \"k%d\"", i))
	}
	s := checkers.Result{Checker: "crash", Engine: "e", Verdict: checkers.Fail, Violations: []checkers.Violation{v}}.Summary()
	if n := strings.Count(s, "\n"); n > 30 {
		t.Errorf("summary of %d lines:\n%s", n, s)
	}
	for _, want := range []string{"     0  get \"k0\"", "     3  get \"k3\"", "(46 ops: see the trace)", "    50  get \"k50\"", "   >  69  get \"k69\""} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "k4\"") || strings.Contains(s, "k49\"") {
		t.Errorf("summary shows elided ops:\n%s", s)
	}
}

func TestResultEnd(t *testing.T) {
	interrupt := errors.New("interrupted by SIGINT")
	for _, c := range []struct {
		r         checkers.Result
		planned   int64
		interrupt error
		verdict   checkers.Verdict
		reason    string
	}{
		{checkers.Result{Verdict: checkers.Pass, Cases: 3}, 10, interrupt, checkers.Interrupted, "stopped after 3 of 10 cases: interrupted by SIGINT"},
		{checkers.Result{Verdict: checkers.Pass, Cases: 3}, checkers.CasesUnlimited, interrupt, checkers.Interrupted, "stopped after 3 cases: interrupted by SIGINT"},
		{checkers.Result{Verdict: checkers.Pass, Cases: 3}, 10, nil, checkers.Pass, "budget 1m0s spent after 3 of 10 cases"},
		// Done before the signal: a pass.
		{checkers.Result{Verdict: checkers.Pass, Cases: 10}, 10, interrupt, checkers.Pass, ""},
		{checkers.Result{Verdict: checkers.Fail, Cases: 3}, 10, interrupt, checkers.Fail, ""},
		{checkers.Result{Verdict: checkers.Unknown, Cases: 3, Reason: "case 4: no space"}, 10, interrupt, checkers.Unknown, "case 4: no space"},
	} {
		r := c.r
		r.End(c.planned, time.Minute, c.interrupt)
		if r.Verdict != c.verdict || r.Reason != c.reason {
			t.Errorf("%+v.End(%d, %v) = %s %q, want %s %q", c.r, c.planned, c.interrupt, r.Verdict, r.Reason, c.verdict, c.reason)
		}
	}
}

func TestSummaryNotReproduced(t *testing.T) {
	v := checkers.Violation{Summary: "reopen after the kill: corrupt", Ops: []string{`put "k" size=1 seed=1`, "# kill -9 inside Close"}, OpIndex: 1, OriginalOps: 9,
		NotReproduced: "the kill landed inside Close", Replay: "harness check crash --replay t"}
	s := checkers.Result{Checker: "crash", Engine: "e", Verdict: checkers.Fail, Violations: []checkers.Violation{v}}.Summary()
	for _, want := range []string{"replay did not reproduce the violation (the kill landed inside Close): ops not minimized", "retry: harness check crash --replay t"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "minimized from") || strings.Contains(s, "replay: ") {
		t.Errorf("summary of a violation not reproduced claims a minimization or a replay:\n%s", s)
	}
}

func TestFileStem(t *testing.T) {
	for _, c := range []struct {
		checker, mode, engine string
		want                  string
	}{
		{"crash", "kill", "pebble:sync=true,memtable=64MiB", "crash-kill-pebble-7"},
		{"crash", "block", "shardstore:size=1MiB", "crash-block-shardstore-7"},
		{"conformance", "", "model", "conformance-model-7"},
		{"conformance", "", "a/b c", "conformance-a_b_c-7"},
	} {
		if got := checkers.FileStem(c.checker, c.mode, c.engine, 7); got != c.want {
			t.Errorf("FileStem(%q, %q, %q, 7) = %q, want %q", c.checker, c.mode, c.engine, got, c.want)
		}
	}
}
