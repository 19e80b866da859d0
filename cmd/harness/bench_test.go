package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
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
		// Ranges are checked before anything runs, with the figure typed.
		{[]string{"bench", "--engine", "bbolt:batch-size=-5", "--workload", "ycsb-a"}, "batch-size=-5 is outside 1 to"},
		{[]string{"bench", "--engine", "shardstore:extent=5KiB", "--workload", "ycsb-a"}, "extent size 5120: want a multiple of 4KiB"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and one line containing %q", c.args, code, stderr, c.want)
		}
	}
}

// fillsUp is the model until it has taken limit puts; then every put fails
// with ErrNoSpace, as a disk that fills up mid-run.
type fillsUp struct {
	*model.Store
	limit, puts atomic.Int64
}

func (f *fillsUp) Put(ctx context.Context, k, v []byte) error {
	if f.puts.Add(1) > f.limit.Load() {
		return fmt.Errorf("fillsup: write %d: %w", f.puts.Load(), engine.ErrNoSpace)
	}
	return f.Store.Put(ctx, k, v)
}

// fillsUpTable is an engine table with one engine whose device holds limit
// puts.
func fillsUpTable(limit int64) engine.Drivers {
	return engine.Drivers{{Name: "fillsup", Doc: "fills up", Open: func(dir string, _ engine.Options) (engine.Engine, error) {
		m, err := model.Open(dir)
		if err != nil {
			return nil, err
		}
		f := &fillsUp{Store: m}
		f.limit.Store(limit)
		return f, nil
	}}}
}

// TestBenchDiskFullMidRun: the first workload completes, the second hits a
// full disk on an update. Exit 3, one line naming the failure, and the
// report keeps the completed run and the measured part of the failed one,
// marked partial.
func TestBenchDiskFullMidRun(t *testing.T) {
	table := fillsUpTable(1000)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cfg := bench.Config{Engines: []string{"fillsup"}, Workloads: []string{"ycsb-c,records=100", "ycsb-a,records=100"},
		Dir: t.TempDir(), Ops: 5000, Threads: 1, Preload: true, Out: out}
	err := runBench(cmd, table, cfg, true)
	if err == nil {
		t.Fatal("bench on a disk that fills up returned no error")
	}
	var errb bytes.Buffer
	code := exitFor(err, &errb)
	if code != exitInternal {
		t.Errorf("exit %d, want %d", code, exitInternal)
	}
	if msg := errb.String(); !strings.Contains(msg, "no space left") || !strings.Contains(msg, "partial results in") || strings.Count(msg, "\n") != 1 {
		t.Errorf("error line %q: want one line naming the full disk and where the partial results are", msg)
	}
	rep, rerr := bench.ReadReport(filepath.Join(out, bench.ReportFile))
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !rep.Partial || !strings.Contains(rep.Reason, "no space left") {
		t.Errorf("report partial=%v reason=%q; want partial with the reason", rep.Partial, rep.Reason)
	}
	if len(rep.Runs) != 2 || rep.Runs[0].Ops != 5000 || rep.Runs[0].Error != "" {
		t.Fatalf("want the completed ycsb-c run and the failed ycsb-a run; got %d runs", len(rep.Runs))
	}
	if f := rep.Runs[1]; f.Error == "" || f.Ops == 0 || f.Ops >= 5000 || f.Ended != "" {
		t.Errorf("failed run: error %q, %d ops, ended %q; want the error and the ops measured before it", f.Error, f.Ops, f.Ended)
	}
}

// TestBenchFillStopsAtFullDevice: a fill (insert-only) ends where the
// device is full: exit 0, the run keeps the inserts measured until then
// and says why it ended; a fill whose warm-up fills the device measures
// nothing and says so. Neither is a failure.
func TestBenchFillStopsAtFullDevice(t *testing.T) {
	for _, tc := range []struct {
		name   string
		warmup time.Duration
		ops    int64
		ended  string
	}{
		{"measured", 0, 3000, "the device filled up after 3000 inserts"},
		{"warm-up", time.Hour, 0, "the device filled up during the warm-up, after 3000 inserts: nothing measured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			cmd := &cobra.Command{}
			cmd.SetOut(&stdout)
			cmd.SetErr(&stderr)
			cfg := bench.Config{Engines: []string{"fillsup"}, Workloads: []string{"fill"},
				Dir: t.TempDir(), Ops: 5000, Warmup: tc.warmup, Threads: 1, Out: out}
			if err := runBench(cmd, fillsUpTable(3000), cfg, true); err != nil {
				t.Fatalf("bench: %v\n%s", err, stderr.String())
			}
			rep, err := bench.ReadReport(filepath.Join(out, bench.ReportFile))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Partial || len(rep.Runs) != 1 {
				t.Fatalf("report partial=%v with %d runs", rep.Partial, len(rep.Runs))
			}
			r := rep.Runs[0]
			if r.Error != "" || r.Ops != tc.ops || r.Errors != 0 || !strings.HasPrefix(r.Ended, tc.ended) {
				t.Errorf("run: error %q, %d ops, %d errors, ended %q; want %d ops and ended %q", r.Error, r.Ops, r.Errors, r.Ended, tc.ops, tc.ended)
			}
			if !strings.Contains(stdout.String(), "runs that stopped at a full device (*):") {
				t.Errorf("summary does not say the run stopped at a full device:\n%s", stdout.String())
			}
		})
	}
}

func TestBenchCPUProfile(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "bench", "--engine", "model", "--workload", "ycsb-a,records=200",
		"--ops", "20000", "--warmup", "0s", "--dir", t.TempDir(), "--out", out, "--quiet", "--cpuprofile", "--trace")
	if code != 0 {
		t.Fatalf("bench exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	path := filepath.Join(out, "model-ycsb-a_records_200-r1.cpu.pprof")
	f, err := os.Open(path)
	if err != nil {
		entries, _ := os.ReadDir(out)
		t.Fatalf("no profile: %v (out holds %v)", err, entries)
	}
	defer f.Close()
	// A pprof profile is a gzipped protocol buffer.
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: not a pprof profile: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil || len(b) == 0 {
		t.Fatalf("%s: %d bytes of profile, err %v", path, len(b), err)
	}
	if !bytes.Contains(b, []byte("cpu")) || !bytes.Contains(b, []byte("nanoseconds")) {
		t.Errorf("%s: not a CPU profile", path)
	}
	// --trace: an execution trace of the same run, which starts with a
	// "go 1.N trace" header.
	tr, err := os.ReadFile(filepath.Join(out, "model-ycsb-a_records_200-r1.trace"))
	if err != nil || len(tr) < 1024 || !bytes.HasPrefix(tr, []byte("go 1.")) || !bytes.Contains(tr[:16], []byte(" trace")) {
		t.Errorf("execution trace: %d bytes, err %v, header %q", len(tr), err, tr[:min(len(tr), 16)])
	}
}
