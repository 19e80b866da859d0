package reports_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/reports"
)

// run is one repetition with the given throughput and p99 (µs).
func cmpRun(spec, workload string, rep int, opsPerSec, p99 float64) bench.Run {
	name, _, _ := strings.Cut(spec, ":")
	s := bench.OpSummary{Count: 1000, OpsPerSec: opsPerSec, P50us: p99 / 10, P99us: p99, P999us: p99 * 2}
	return bench.Run{Engine: name, Spec: spec, Workload: workload, Repetition: rep, OpsPerSec: opsPerSec, Ops: 1000,
		All: s, ByOp: map[string]bench.OpSummary{"read": s, "update": s}}
}

func cmpReport(runs ...bench.Run) *bench.Report {
	return &bench.Report{Schema: bench.SchemaVersion, Runs: runs}
}

// TestCompareSignificance: six repetitions a side separate a 20%
// throughput gain from noise; an interleaved p99 is not a difference; a
// p99 that doubles is a regression.
func TestCompareSignificance(t *testing.T) {
	var a, b []bench.Run
	for i := range 6 {
		f := float64(i)
		a = append(a, cmpRun("shardstore:sched=coalesce", "ycsb-a", i+1, 100e3+f*500, 800+f*10))
		b = append(b, cmpRun("shardstore:sched=coalesce", "ycsb-a", i+1, 120e3+f*500, 805+f*10))
		a = append(a, cmpRun("shardstore:sched=coalesce", "ycsb-c", i+1, 50e3+f*100, 100+f))
		b = append(b, cmpRun("shardstore:sched=coalesce", "ycsb-c", i+1, 50e3+f*100+50, 200+f))
	}
	c, err := reports.CompareReports(cmpReport(a...), cmpReport(b...), reports.Side{Label: "A", Path: "a.json"}, reports.Side{Label: "B", Path: "b.json"}, reports.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	get := func(workload, op, metric string) reports.Row {
		for _, r := range c.Rows {
			if r.Workload == workload && r.Op == op && r.Metric == metric {
				return r
			}
		}
		t.Fatalf("no row %s %s %s", workload, op, metric)
		return reports.Row{}
	}
	if r := get("ycsb-a", "all", "ops/s"); r.Verdict != "better" || r.P >= 0.05 || r.DeltaPct < 19 || r.DeltaPct > 21 {
		t.Errorf("ycsb-a ops/s: %+v, want significantly better by about 20%%", r)
	}
	if r := get("ycsb-a", "all", "p99"); r.Verdict != "same" || r.Significant {
		t.Errorf("ycsb-a p99 (interleaved samples): %+v, want not significant", r)
	}
	if r := get("ycsb-c", "read", "p99"); r.Verdict != "worse" {
		t.Errorf("ycsb-c read p99 (doubled): %+v, want worse", r)
	}
	if r := get("ycsb-c", "all", "ops/s"); r.Verdict != "same" {
		t.Errorf("ycsb-c ops/s (0.1%% apart, overlapping): %+v, want same", r)
	}
	if len(c.Regressions()) == 0 {
		t.Error("no regressions, want ycsb-c's latencies")
	}
	var buf bytes.Buffer
	if err := c.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"A: a.json", "ops/s (higher is better)", "p99 (lower is better)", "~ (p=", "+19.75% better (p=0.002 n=6+6)", "+97.56% worse", "significantly worse"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	js, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := reports.ValidateCompareJSON(js); err != nil {
		t.Fatalf("comparison does not match its schema: %v", err)
	}
	bad := bytes.Replace(js, []byte(`"verdict": "better"`), []byte(`"verdict": "faster"`), 1)
	if err := reports.ValidateCompareJSON(bad); err == nil || !strings.Contains(err.Error(), "verdict") {
		t.Errorf("a bad verdict validated: %v", err)
	}
}

// TestCompareFewRepetitions: three a side can never reach α=0.05 with a
// rank test; the comparison says so instead of calling it the same.
func TestCompareFewRepetitions(t *testing.T) {
	var a, b []bench.Run
	for i := range 3 {
		a = append(a, cmpRun("pebble", "ycsb-a", i+1, 100e3+float64(i), 800))
		b = append(b, cmpRun("pebble", "ycsb-a", i+1, 200e3+float64(i), 800))
	}
	c, err := reports.CompareReports(cmpReport(a...), cmpReport(b...), reports.Side{Label: "A", Path: "a"}, reports.Side{Label: "B", Path: "b"}, reports.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Rows[0]
	if r.Significant || len(r.Warnings) == 0 {
		t.Errorf("3+3 repetitions: %+v, want not significant with a warning about the sample size", r)
	}
}

// TestCompareEngines: one result of two engines, the base named as the
// user typed it, not as the resolved spec spells it.
func TestCompareEngines(t *testing.T) {
	var runs []bench.Run
	for i := range 6 {
		runs = append(runs, cmpRun("shardstore:cache=64MiB,sched=fifo", "ycsb-a", i+1, 90e3+float64(i)*100, 900))
		runs = append(runs, cmpRun("shardstore:cache=64MiB,sched=coalesce", "ycsb-a", i+1, 100e3+float64(i)*100, 900))
	}
	c, err := reports.CompareEngines(cmpReport(runs...), "bench.json", "shardstore:sched=coalesce", reports.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.A.Engine != "shardstore:cache=64MiB,sched=coalesce" || c.Rows[0].EngineB != "shardstore:cache=64MiB,sched=fifo" {
		t.Errorf("base %q, other %q", c.A.Engine, c.Rows[0].EngineB)
	}
	if r := c.Rows[0]; r.Metric != "ops/s" || r.Verdict != "worse" {
		t.Errorf("fifo against coalesce: %+v, want worse", r)
	}
	var buf bytes.Buffer
	if err := c.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if tbl := buf.String()[strings.Index(buf.String(), "\nops/s"):]; !strings.Contains(tbl, "\nshardstore:sched=fifo ") || strings.Contains(tbl, "cache=64MiB") {
		t.Errorf("the tables should name the engine by what sets it apart (sched=fifo), not its whole spec:\n%s", tbl)
	}
	if _, err := reports.CompareEngines(cmpReport(runs...), "bench.json", "pebble", reports.CompareOptions{}); err == nil || !strings.Contains(err.Error(), "--base pebble: no such engine in bench.json") {
		t.Errorf("unknown base: %v", err)
	}
	if _, err := reports.CompareEngines(cmpReport(runs[:1]...), "bench.json", "", reports.CompareOptions{}); err == nil || !strings.Contains(err.Error(), "holds one engine") {
		t.Errorf("one engine: %v", err)
	}
}

// TestCompareNothingInCommon and failed runs: a run that failed measures
// its failure and is left out; two results with nothing in common are one
// line naming both.
func TestCompareNothingInCommon(t *testing.T) {
	failed := cmpRun("bbolt", "ycsb-a", 1, 5, 9e6)
	failed.Error = "disk full"
	a := cmpReport(cmpRun("pebble", "ycsb-a", 1, 1e5, 800), failed)
	b := cmpReport(cmpRun("bbolt", "ycsb-a", 1, 1e4, 900))
	_, err := reports.CompareReports(a, b, reports.Side{Path: "x/bench.json"}, reports.Side{Path: "y/bench.json"}, reports.CompareOptions{})
	if err == nil || !strings.Contains(err.Error(), "x/bench.json and y/bench.json have no engine × workload in common") {
		t.Errorf("err %v", err)
	}
}
