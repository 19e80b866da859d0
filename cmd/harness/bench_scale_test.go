package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/bench"
)

// TestBenchRecordsValues: --records and --values reach every workload that
// loads records, each run's load and values show them, and a fill keeps
// loading none.
func TestBenchRecordsValues(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "bench", "--engine", "model", "--workload", "ycsb-a,fill",
		"--records", "300", "--values", "100B", "--ops", "200", "--threads", "2", "--warmup", "0s",
		"--dir", t.TempDir(), "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("bench exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	rep, err := bench.ReadReport(filepath.Join(out, bench.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 2 || rep.Config.Records != 300 || rep.Config.Values != "100B" {
		t.Fatalf("%d runs, config records %d values %q", len(rep.Runs), rep.Config.Records, rep.Config.Values)
	}
	a, fill := rep.Runs[0], rep.Runs[1]
	if a.Workload != "ycsb-a,records=300,values=100B" || a.PreloadOps != 300 {
		t.Errorf("ycsb-a ran as %q and loaded %d records; want records=300,values=100B and 300", a.Workload, a.PreloadOps)
	}
	if w := a.ByOp["put"]; w.Count == 0 || a.BytesWritten != 100*w.Count {
		t.Errorf("ycsb-a wrote %d bytes in %d puts; want 100 B each", a.BytesWritten, w.Count)
	}
	if fill.Workload != "fill,values=100B" || fill.PreloadOps != 0 || fill.BytesWritten != 100*fill.Ops {
		t.Errorf("fill ran as %q, loaded %d, wrote %d bytes in %d inserts; want no load and 100 B each", fill.Workload, fill.PreloadOps, fill.BytesWritten, fill.Ops)
	}
}

func TestBenchSuite(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--suite", "huge"}, `--suite "huge": no such suite`},
		{[]string{"bench", "--suite", "standard", "--quick"}, "give one of them"},
		{[]string{"bench", "--records", "-3", "--engine", "model", "--workload", "ycsb-a"}, "--records -3"},
		{[]string{"bench", "--values", "big", "--engine", "model", "--workload", "ycsb-a"}, `--values "big"`},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 naming %q", tc.args, code, stderr, tc.want)
		}
	}
	// The standard suite fills in what the flags leave out, and no more.
	cmd := newBenchCmd()
	if err := cmd.ParseFlags([]string{"--threads", "3", "--engine", "model"}); err != nil {
		t.Fatal(err)
	}
	cfg := bench.Config{Threads: 3, Engines: []string{"model"}}
	st, _ := bench.LookupSuite("standard")
	applySuite(cmd, &cfg, st)
	if cfg.Threads != 3 || cfg.Records != 1_000_000 || cfg.Duration != 30*time.Second || !slices.Equal(cfg.Engines, []string{"model"}) ||
		!slices.Contains(cfg.Workloads, "ycsb-e") || !slices.Contains(cfg.Workloads, bench.OutOfCacheWorkload) {
		t.Errorf("standard suite applied: %+v", cfg)
	}
}
