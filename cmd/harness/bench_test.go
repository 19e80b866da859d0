package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/reports"
)

// benchEngines are the engines the end-to-end test runs: the model and every
// peer in the table.
func benchEngines() []string {
	var out []string
	for _, name := range []string{"model", "pebble", "badger", "bbolt"} {
		if _, err := drivers().Lookup(name); err == nil {
			out = append(out, name)
		}
	}
	return out
}

func TestBenchEndToEnd(t *testing.T) {
	out := t.TempDir()
	engines := strings.Join(benchEngines(), ",")
	code, stdout, stderr := runCLI(t, "bench", "--engine", engines, "--workload", "ycsb-a,records=500,ycsb-c,records=500",
		"--ops", "2000", "--threads", "2", "--warmup", "0s", "--dir", t.TempDir(), "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("bench exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, bench.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := reports.ValidateBenchJSON(b); err != nil {
		t.Fatalf("report does not validate against its schema: %v", err)
	}
	rep, err := bench.ReadReport(filepath.Join(out, bench.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * len(benchEngines()); len(rep.Runs) != want {
		t.Fatalf("%d runs, want %d", len(rep.Runs), want)
	}
	for _, run := range rep.Runs {
		if run.Ops != 2000 || run.Errors != 0 {
			t.Errorf("%s/%s: %d ops, %d errors; want 2000, 0", run.Workload, run.Engine, run.Ops, run.Errors)
		}
		// The .hgrm files hold exactly the counts the workers made.
		for op, file := range run.Histograms {
			if got := hgrmTotal(t, filepath.Join(out, file)); got != run.ByOp[op].Count+run.ByOp[op].Errors {
				t.Errorf("%s: histogram total %d, the workers counted %d", file, got, run.ByOp[op].Count)
			}
		}
		if !strings.Contains(stdout, run.Engine) {
			t.Errorf("summary lacks engine %s", run.Engine)
		}
	}
	pngs, svgs := 0, 0
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		path := filepath.Join(out, e.Name())
		switch filepath.Ext(e.Name()) {
		case ".png":
			f, _ := os.Open(path)
			cfg, err := png.DecodeConfig(f)
			f.Close()
			if err != nil || cfg.Width < 400 || cfg.Height < 300 {
				t.Errorf("%s: not a readable PNG (%v, %dx%d)", e.Name(), err, cfg.Width, cfg.Height)
			}
			pngs++
		case ".svg":
			b, _ := os.ReadFile(path)
			if len(b) < 1000 || !bytes.Contains(b[:200], []byte("<svg")) && !bytes.HasPrefix(b, []byte("<?xml")) {
				t.Errorf("%s: not an SVG", e.Name())
			}
			svgs++
		}
	}
	// latency per (workload, op): a get, a put, c get; throughput per
	// workload; the two engine bar charts.
	if pngs < 7 || svgs != pngs {
		t.Errorf("%d PNG and %d SVG plots, want at least 7 of each", pngs, svgs)
	}
	bf, err := os.ReadFile(filepath.Join(out, BenchfmtFile))
	if err != nil || !bytes.Contains(bf, []byte("BenchmarkYCSB/A_records_500/model")) {
		t.Errorf("bench.txt lacks the benchstat line for YCSB A on the model: %v\n%s", err, bf)
	}
}

// hgrmTotal reads the total count from an .hgrm file's footer.
func hgrmTotal(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#[Max") {
			// #[Max = ..., Total count = N]
			_, after, _ := strings.Cut(line, "Total count")
			after = strings.Trim(after, " =]")
			var n int64
			for _, c := range after {
				if c < '0' || c > '9' {
					break
				}
				n = n*10 + int64(c-'0')
			}
			return n
		}
	}
	t.Fatalf("%s: no total count line", path)
	return 0
}

func TestBenchUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--engine", "nope", "--workload", "ycsb-a"}, `unknown engine "nope"`},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-z"}, `ycsb-z`},
		{[]string{"bench", "--engine", "model"}, "no workload given"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--threads", "x"}, `invalid argument "x" for "--threads"`},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--out", "/proc/nope"}, "--out /proc/nope"},
		{[]string{"probe"}, "--dir is required"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and one line containing %q", c.args, code, stderr, c.want)
		}
	}
}
