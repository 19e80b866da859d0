package checkers_test

import (
	"encoding/json"
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
