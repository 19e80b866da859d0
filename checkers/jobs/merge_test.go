package jobs

import (
	"bytes"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
)

// TestMerge: cases, ops and violations sum, the gravest verdict wins, and
// the reason says why the run ended.
func TestMerge(t *testing.T) {
	pass := func(seed uint64, cases int64) checkers.Result {
		return checkers.Result{Checker: "c", Engine: "model", Seed: seed, Verdict: checkers.Pass, Cases: cases, Ops: 10 * cases}
	}
	fail := pass(2, 3)
	fail.Verdict, fail.Violations = checkers.Fail, []checkers.Violation{{Summary: "boom"}}
	unknown := pass(3, 1)
	unknown.Verdict, unknown.Reason = checkers.Unknown, "no space left"
	stopped := pass(4, 2)
	stopped.Verdict = checkers.Interrupted
	base := Merged{Checker: "c", Seed: 1, Engine: "model:x=1", Jobs: 2, Elapsed: time.Second, Cases: checkers.CasesUnlimited, Budget: time.Minute}
	with := func(f func(*Merged)) Merged { m := base; f(&m); return m }
	for _, c := range []struct {
		name    string
		results []checkers.Result
		m       Merged
		verdict checkers.Verdict
		cases   int64
		reason  string
	}{
		{"pass", []checkers.Result{pass(1, 5), pass(2, 7)}, base, checkers.Pass, 12, "budget 1m0s spent after 12 cases"},
		{"planned cases", []checkers.Result{pass(1, 5), pass(2, 7)}, with(func(m *Merged) { m.Cases = 12 }), checkers.Pass, 12, ""},
		{"first violation", []checkers.Result{fail, stopped}, with(func(m *Merged) { m.First, m.Stopped = &First{Worker: 1, Seed: 2}, 1 }),
			checkers.Fail, 5, "job 1 (seed 2) found a violation first: the other job still running stopped early"},
		{"unknown over interrupted", []checkers.Result{stopped, unknown}, base, checkers.Unknown, 3, "seed 3: no space left"},
		{"interrupted", []checkers.Result{pass(1, 5), stopped}, with(func(m *Merged) { m.Interrupted = syscall.SIGTERM }),
			checkers.Interrupted, 7, "stopped after 7 cases: interrupted by SIGTERM"},
		{"stopped before running", []checkers.Result{pass(1, 5)}, with(func(m *Merged) { m.Interrupted, m.EarlyStopped = os.Interrupt, true }),
			checkers.Interrupted, 5, "stopped after 5 cases: interrupted by SIGINT"},
		{"a job interrupted", []checkers.Result{pass(1, 5), stopped}, base, checkers.Interrupted, 7, "stopped after 7 cases: a job was interrupted"},
	} {
		r := Merge(c.results, c.m)
		if r.Verdict != c.verdict || r.Cases != c.cases || r.Ops != 10*c.cases || r.Reason != c.reason || r.Jobs != 2 || r.Seed != 1 || r.Elapsed != time.Second {
			t.Errorf("%s: %+v, want %s, %d cases, reason %q", c.name, r, c.verdict, c.cases, c.reason)
		}
	}
	if r := Merge(nil, base); r.Engine != "model:x=1" || r.Verdict != checkers.Pass {
		t.Errorf("no results: %+v, want the engine of the config", r)
	}
	if r := Merge([]checkers.Result{fail, pass(1, 1)}, base); len(r.Violations) != 1 || r.Violations[0].Summary != "boom" {
		t.Errorf("violations: %+v", r.Violations)
	}
}

func TestVerdictCode(t *testing.T) {
	for _, c := range []struct {
		v          checkers.Verdict
		code, want int
	}{
		{checkers.Pass, 0, ExitPass}, {checkers.Fail, 0, ExitViolation}, {checkers.Unknown, 0, ExitInternal},
		{checkers.Interrupted, ExitTerminated, ExitTerminated}, {checkers.Interrupted, ExitPass, ExitInterrupted},
	} {
		if got := VerdictCode(c.v, c.code); got != c.want {
			t.Errorf("VerdictCode(%s, %d) = %d, want %d", c.v, c.code, got, c.want)
		}
	}
}

// TestPrefixWriter: whole lines only, each prefixed; a last line without
// a newline on flush.
func TestPrefixWriter(t *testing.T) {
	var b bytes.Buffer
	p := &prefixWriter{mu: &sync.Mutex{}, w: &b, prefix: "job 1: "}
	p.Write([]byte("one\ntw"))
	if b.String() != "job 1: one\n" {
		t.Errorf("after a line and a half: %q", b.String())
	}
	p.Write([]byte("o\nthree"))
	p.flush()
	if want := "job 1: one\njob 1: two\njob 1: three\n"; b.String() != want {
		t.Errorf("%q, want %q", b.String(), want)
	}
	if got := lastLines("a\n\n b \nc\n\n", 2); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("lastLines: %q", got)
	}
}
