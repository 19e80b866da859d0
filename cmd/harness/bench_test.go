package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/internal/cgroup"
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
		if run.Ops != 2000 || run.Errors != 0 || run.Misses != 0 {
			t.Errorf("%s/%s: %d ops, %d errors, %d misses; want 2000, 0, 0", run.Workload, run.Engine, run.Ops, run.Errors, run.Misses)
		}
		// Measured in the run's child process, for every engine.
		if r := run.Resources; r == nil || r.RSSPeakBytes <= 0 || r.CPUUsPerOp <= 0 || r.GoHeapPeakBytes <= 0 {
			t.Errorf("%s/%s: resources %+v; want CPU, RSS and heap figures", run.Workload, run.Engine, r)
		}
		// The .hgrm files hold exactly the counts the workers made.
		for op, file := range run.Histograms {
			if got := hgrmTotal(t, filepath.Join(out, file)); got != run.ByOp[op].Count+run.ByOp[op].Errors+run.ByOp[op].Misses {
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
		{[]string{"bench", "--engine", "shardstore:extent=5KiB", "--workload", "ycsb-a"}, "shardstore: extent=5KiB: want a multiple of 4KiB"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--memory", "lots"}, "--memory lots: want a size of at least 64MiB"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--memory", "1KiB"}, "--memory 1KiB: want a size of at least 64MiB"},
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

// misbehaving is the model until its trigger (an op after at has passed
// since it opened): then it does what its driver's name says, once.
type misbehaving struct {
	*model.Store
	at     time.Duration
	opened time.Time
	once   sync.Once
	act    func()
}

func (m *misbehaving) trigger() {
	if time.Since(m.opened) >= m.at {
		m.once.Do(m.act)
	}
}

func (m *misbehaving) Get(ctx context.Context, k []byte) ([]byte, error) {
	m.trigger()
	return m.Store.Get(ctx, k)
}

func (m *misbehaving) Put(ctx context.Context, k, v []byte) error {
	m.trigger()
	return m.Store.Put(ctx, k, v)
}

// misbehaviours are the test engines that misbehave, by name: what each
// does at its trigger, given its directory.
var misbehaviours = map[string]func(dir string){
	// pebble, when its WAL write fails.
	"panics": func(dir string) {
		panic(fmt.Errorf("write %s: no space left on device", filepath.Join(dir, "000011.log")))
	},
	// the kernel's OOM killer.
	"sigkill": func(string) { syscall.Kill(os.Getpid(), syscall.SIGKILL) },
	// badger writing its mmap'd value log on a full tmpfs: a store to a
	// page the file no longer has.
	"sigbus": func(dir string) {
		f, err := os.Create(filepath.Join(dir, "mapped"))
		if err != nil {
			panic(err)
		}
		f.Truncate(4096)
		b, err := syscall.Mmap(int(f.Fd()), 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
		if err != nil {
			panic(err)
		}
		f.Truncate(0)
		b[0] = 1
	},
	// a deadlock: every op from now on waits forever.
	"hangs": func(string) { select {} },
	// a Ctrl-C or a CI timeout reaching the harness while this runs.
	"sigint-parent":  func(string) { syscall.Kill(os.Getppid(), syscall.SIGINT) },
	"sigterm-parent": func(string) { syscall.Kill(os.Getppid(), syscall.SIGTERM) },
}

// benchTestDrivers is the harness's table plus engines that fill up,
// panic, die of a signal, hang, or signal the harness.
func benchTestDrivers() engine.Drivers {
	table := append(drivers(), engine.Driver{
		Name: "fillsup", Doc: "the model, whose device holds limit puts",
		Options: []engine.OptionDef{{Name: "limit", Kind: engine.KindInt, Default: "1000", Doc: "puts that fit"}},
		Open: func(dir string, o engine.Options) (engine.Engine, error) {
			m, err := model.Open(dir)
			if err != nil {
				return nil, err
			}
			f := &fillsUp{Store: m}
			f.limit.Store(o.Int("limit"))
			return f, nil
		},
	})
	for _, name := range slices.Sorted(maps.Keys(misbehaviours)) {
		act := misbehaviours[name]
		table = append(table, engine.Driver{
			Name: name, Doc: "the model, until it " + name,
			Options: []engine.OptionDef{{Name: "at", Kind: engine.KindDuration, Default: "1500ms", Doc: "when, after it opened"}},
			Open: func(dir string, o engine.Options) (engine.Engine, error) {
				m, err := model.Open(dir)
				if err != nil {
					return nil, err
				}
				return &misbehaving{Store: m, at: o.Duration("at"), opened: time.Now(), act: func() { act(dir) }}, nil
			},
		})
	}
	return table
}

// useBenchTestDrivers makes bench resolve against benchTestDrivers in this
// test (its children do from TestMain).
func useBenchTestDrivers(t *testing.T) {
	benchDrivers = benchTestDrivers
	t.Cleanup(func() { benchDrivers = drivers })
}

// TestBenchDiskFullMidRun: the first workload completes, the second hits a
// full disk on an update. Exit 3, one line naming the failure, and the
// report keeps the completed run and the measured part of the failed one,
// marked partial.
func TestBenchDiskFullMidRun(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cfg := bench.Config{Engines: []string{"fillsup:limit=1000"}, Workloads: []string{"ycsb-c,records=100", "ycsb-a,records=100"},
		Dir: t.TempDir(), Ops: 5000, Threads: 1, Preload: true, Out: out}
	err := runBench(cmd, benchTestDrivers(), cfg, true)
	if err == nil {
		t.Fatal("bench on a disk that fills up returned no error")
	}
	var errb bytes.Buffer
	code := exitFor(err, &errb)
	if code != exitInternal {
		t.Errorf("exit %d, want %d", code, exitInternal)
	}
	if msg := errb.String(); msg != fmt.Sprintf("harness: 1 of 2 runs failed; the figures of every run are in %s\n", filepath.Join(out, bench.ReportFile)) {
		t.Errorf("error line %q: want one line saying how many runs failed and where the figures are", msg)
	}
	if line := "harness: ycsb-a,records=100 on fillsup, repetition 1: put "; !strings.Contains(stderr.String(), line) || !strings.Contains(stderr.String(), "no space left") {
		t.Errorf("stderr lacks the failed run's line %q...no space left:\n%s", line, stderr.String())
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
	if f := rep.Runs[1]; f.Error == "" || f.Ops == 0 || f.Ops >= 5000 || f.Ended != "" || f.Partial {
		t.Errorf("failed run: error %q, %d ops, ended %q, partial %v; want the error and the ops measured before it", f.Error, f.Ops, f.Ended, f.Partial)
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
			cfg := bench.Config{Engines: []string{"fillsup:limit=3000"}, Workloads: []string{"fill"},
				Dir: t.TempDir(), Ops: 5000, Warmup: tc.warmup, Threads: 1, Out: out}
			if err := runBench(cmd, benchTestDrivers(), cfg, true); err != nil {
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

// TestBenchChildFailures: each run executes in a child process, so an
// engine that panics, is killed by SIGKILL (the OOM killer), dies of
// SIGBUS or hangs ends its own run and not the bench. The other runs go
// on; bench.json holds the good run's figures, each failed run's one-line
// reason and the figures of its last checkpoint (the engines misbehave
// 1.5 s into their runs; checkpoints come once a second); stderr has one
// line per failed run; exit 3; every data directory is removed.
func TestBenchChildFailures(t *testing.T) {
	useBenchTestDrivers(t)
	benchHangTimeout = 2 * time.Second
	t.Cleanup(func() { benchHangTimeout = bench.HangTimeoutDefault })
	out, dir := filepath.Join(t.TempDir(), "out"), t.TempDir()
	code, stdout, stderr := runCLI(t, "bench", "--engine", "model,panics,sigkill,sigbus,hangs", "--workload", "ycsb-c,records=100",
		"--duration", "2s", "--warmup", "0s", "--no-preload", "--threads", "1", "--dir", dir, "--out", out, "--quiet")
	if code != exitInternal {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitInternal, stdout, stderr)
	}
	want := map[string]string{
		"panics":  "engine panicked: write " + dir + "/panics-ycsb-c_records_100-r1-",
		"sigkill": "the child process was killed by SIGKILL (the kernel's OOM killer? its peak RSS was ",
		"sigbus":  "engine crashed: SIGBUS: bus error (fatal error: fault)",
		"hangs":   "hung: no progress for 2s while measuring; killed",
	}
	rep, err := bench.ReadReport(filepath.Join(out, bench.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 5 || !rep.Partial {
		t.Fatalf("%d runs, partial %v; want all 5, partial", len(rep.Runs), rep.Partial)
	}
	for _, run := range rep.Runs {
		if run.Engine == "model" {
			if run.Error != "" || run.Partial || run.Ops == 0 || run.ElapsedSec < 2 {
				t.Errorf("model: error %q, partial %v, %d ops in %.1fs; want a whole 2s run", run.Error, run.Partial, run.Ops, run.ElapsedSec)
			}
		} else {
			if !strings.HasPrefix(run.Error, want[run.Engine]) || strings.Contains(run.Error, "\n") {
				t.Errorf("%s: error %q, want one line starting %q", run.Engine, run.Error, want[run.Engine])
			}
			// The figures of the checkpoint at 1s.
			if !run.Partial || run.Ops == 0 || run.ElapsedSec != 1 || len(run.Timeline) != 1 || run.ByOp["get"].Count != run.Ops {
				t.Errorf("%s: partial %v, %d ops in %vs, %d timeline points; want the last checkpoint's figures (1s)", run.Engine, run.Partial, run.Ops, run.ElapsedSec, len(run.Timeline))
			}
			// A child that wrote to stderr (a panic's goroutine dump) has
			// it kept in --out; SIGKILL and a hang leave nothing to keep.
			if wrote := run.Engine == "panics" || run.Engine == "sigbus"; wrote != (run.ChildLog != "") {
				t.Errorf("%s: child log %q", run.Engine, run.ChildLog)
			} else if b, err := os.ReadFile(filepath.Join(out, run.ChildLog)); wrote && (err != nil || !bytes.Contains(b, []byte("goroutine "))) {
				t.Errorf("%s: child log %s lacks the goroutine dump: %v", run.Engine, run.ChildLog, err)
			}
		}
		if run.CPUUserSec+run.CPUSysSec <= 0 || run.MaxRSSBytes < 1<<20 {
			t.Errorf("%s: cpu %v+%vs, peak RSS %d; want the child's figures", run.Engine, run.CPUUserSec, run.CPUSysSec, run.MaxRSSBytes)
		}
		// The spectra of what was measured go out too.
		if run.Ops > 0 && run.Histograms["get"] == "" {
			t.Errorf("%s: no histogram file", run.Engine)
		}
	}
	// One line per failed run, in order, and no goroutine dump.
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, "harness: ") {
			lines = append(lines, l)
		}
	}
	wantLines := []string{"panics", "sigkill", "sigbus", "hangs"}
	if len(lines) != 5 || !strings.HasPrefix(lines[4], "harness: 4 of 5 runs failed; the figures of every run are in ") {
		t.Fatalf("stderr: want 4 failed-run lines and a summary line:\n%s", stderr)
	}
	for i, e := range wantLines {
		if prefix := "harness: ycsb-c,records=100 on " + e + ", repetition 1: " + want[e]; !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("line %d: %q, want prefix %q", i, lines[i], prefix)
		}
	}
	if strings.Contains(stderr, "goroutine ") || strings.Contains(stdout, "goroutine ") {
		t.Errorf("a goroutine dump reached the user:\n%s", stderr)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("data directories left behind: %v", left)
	}
}

// TestBenchInterrupted sends SIGINT and SIGTERM to a real harness process
// (this test binary standing in for it) in the middle of a bench: it stops
// the run under way, writes bench.json marked partial with the runs
// measured, starts no other run, removes the data directories and exits
// 130 or 143, not 3. The SIGINT comes from the engine, 0.5s into the
// second run, to the harness (its parent): the run under way is then
// certainly in its measured phase. The SIGTERM comes from this test once
// the harness has said the first run is done.
func TestBenchInterrupted(t *testing.T) {
	for _, tc := range []struct {
		sig    syscall.Signal
		engine string
		code   int
	}{
		{syscall.SIGINT, "sigint-parent:at=500ms", exitInterrupted},
		{syscall.SIGTERM, "model", exitTerminated},
	} {
		t.Run(signalName(tc.sig), func(t *testing.T) {
			out, dir := filepath.Join(t.TempDir(), "out"), t.TempDir()
			cmd := exec.Command(os.Args[0], "bench", "--engine", "model,"+tc.engine, "--workload", "ycsb-c,records=100",
				"--repeat", "2", "--duration", "2s", "--warmup", "0s", "--threads", "1", "--dir", dir, "--out", out)
			cmd.Env = append(os.Environ(), childEnv+"=1")
			runDone := make(chan struct{})
			stderr := lockedBuffer{runDone: runDone}
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if tc.engine == "model" {
				select {
				case <-runDone:
				case <-time.After(time.Minute):
					cmd.Process.Kill()
					t.Fatalf("the first run never finished:\n%s", stderr.String())
				}
				cmd.Process.Signal(tc.sig)
			}
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.code {
				t.Fatalf("harness: %v, want exit %d\nstderr:\n%s", err, tc.code, stderr.String())
			}
			want := "harness: interrupted by " + signalName(tc.sig) + "; the "
			if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); !strings.HasPrefix(lines[len(lines)-1], want) {
				t.Errorf("last line of stderr %q, want %q...", lines[len(lines)-1], want)
			}
			rep, err := bench.ReadReport(filepath.Join(out, bench.ReportFile))
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Partial || rep.Reason != "interrupted by "+signalName(tc.sig) || len(rep.Runs) == 0 || len(rep.Runs) > 2 {
				t.Fatalf("report: partial %v, reason %q, %d runs; want partial, interrupted, the first runs", rep.Partial, rep.Reason, len(rep.Runs))
			}
			if r := rep.Runs[0]; r.Engine != "model" || r.Error != "" || r.Ops == 0 {
				t.Errorf("first run: %s, error %q, %d ops; want the whole model run", r.Engine, r.Error, r.Ops)
			}
			if tc.sig == syscall.SIGINT {
				// Stopped in its measured phase: what it measured is kept.
				if len(rep.Runs) != 2 || rep.Runs[1].Error != "interrupted" || rep.Runs[1].Ops == 0 {
					t.Errorf("interrupted run: %+v; want its figures and error 'interrupted'", rep.Runs[1:])
				}
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("data directories left behind: %v", left)
			}
		})
	}
}

// lockedBuffer collects a process's stderr and closes runDone at the first
// line that reports a finished run.
type lockedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	runDone chan struct{}
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.runDone != nil && strings.Contains(b.buf.String(), " ops/s, p99 ") {
		close(b.runDone)
		b.runDone = nil
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestBenchDirAndOut: a --dir that does not exist is refused, not made (a
// typo would bench another disk); an --out holding an earlier report is
// refused (its plots would mix with the new ones); each in one line, exit
// 2, naming the flag and the fix, before anything runs.
func TestBenchDirAndOut(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo")
	code, _, stderr := runCLI(t, "bench", "--engine", "model", "--workload", "ycsb-c,records=10", "--ops", "10", "--dir", missing, "--out", t.TempDir())
	want := "harness: --dir " + missing + " does not exist: create it first (on the disk under test), or leave --dir out for a temporary directory\n"
	if code != exitUsage || stderr != want {
		t.Errorf("missing --dir: exit %d, stderr %q; want exit 2 and %q", code, stderr, want)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("--dir %s was created", missing)
	}

	out := t.TempDir()
	args := []string{"bench", "--engine", "model", "--workload", "ycsb-c,records=10", "--ops", "10", "--warmup", "0s", "--dir", t.TempDir(), "--out", out, "--quiet"}
	if code, stdout, stderr := runCLI(t, args...); code != 0 {
		t.Fatalf("first bench: exit %d\n%s%s", code, stdout, stderr)
	}
	before, _ := os.ReadFile(filepath.Join(out, bench.ReportFile))
	code, _, stderr = runCLI(t, args...)
	want = "harness: --out " + out + " holds the report of an earlier bench: give a new directory (or leave --out out for out/bench-<time>), or remove that one first\n"
	if code != exitUsage || stderr != want {
		t.Errorf("reused --out: exit %d, stderr %q; want exit 2 and %q", code, stderr, want)
	}
	if after, _ := os.ReadFile(filepath.Join(out, bench.ReportFile)); !bytes.Equal(before, after) {
		t.Errorf("the earlier report was changed")
	}
}

// TestBenchKeep: --keep leaves each run's data directory, prints its path
// and records it in the report; without it the directory is removed.
func TestBenchKeep(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	code, stdout, stderr := runCLI(t, "bench", "--engine", "model", "--workload", "ycsb-c,records=10", "--ops", "10", "--warmup", "0s", "--dir", dir, "--out", out, "--quiet", "--keep")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	rep, err := bench.ReadReport(filepath.Join(out, bench.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	kept := rep.Runs[0].KeptDir
	if st, err := os.Stat(kept); kept == "" || filepath.Dir(kept) != dir || err != nil || !st.IsDir() {
		t.Fatalf("kept_dir %q: %v; want a directory under %s", kept, err, dir)
	}
	if !strings.Contains(stderr, "data kept in "+kept+"\n") {
		t.Errorf("stderr does not print the kept directory %s:\n%s", kept, stderr)
	}
	if entries, _ := os.ReadDir(kept); len(entries) == 0 {
		t.Errorf("the kept directory %s is empty: the engine's data is gone", kept)
	}
}

// TestBenchDiskFull fills a real 16 MiB tmpfs with each engine: Pebble
// panics on its WAL write, Badger dies of SIGBUS in its mmap'd files,
// bbolt and a small shardstore end their fills at the full device, and
// shardstore's default 4 GiB device does not fit. No panic or goroutine
// dump reaches the user; each failed run is one line and the bench exits
// 3; the finished runs' figures are in bench.json; the file system is left
// empty. The harness is this test binary, run on a tmpfs mounted here (as
// root, as CI runs) or, without root, inside a user and mount namespace
// where it may mount one (unshare).
func TestBenchDiskFull(t *testing.T) {
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	args := []string{"bench", "--engine", "pebble,badger,bbolt,shardstore:size=10MiB,extent=1MiB,cache=1MiB,shardstore",
		"--workload", "fill,values=1MiB", "--duration", "2s", "--warmup", "0s", "--dir", dir, "--out", out}
	var cmd *exec.Cmd
	if os.Getuid() == 0 && os.Getenv("GAUNTLET_TEST_UNSHARE") == "" {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
			t.Fatalf("mount a 16 MiB tmpfs on %s as root: %v", dir, err)
		}
		t.Cleanup(func() { syscall.Unmount(dir, 0) })
		cmd = exec.Command(os.Args[0], args...)
	} else {
		// The mount lives in the namespace only: the script reports what
		// the harness left on it.
		script := `mount -t tmpfs -o size=16m tmpfs "$0" || exit 97; "$@"; rc=$?; left=$(ls -A "$0"); [ -z "$left" ] || echo "left behind: $left" >&2; exit $rc`
		cmd = exec.Command("unshare", append([]string{"--user", "--map-root-user", "--mount", "sh", "-c", script, dir, os.Args[0]}, args...)...)
	}
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInternal {
		t.Fatalf("harness: %v, want exit 3\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	rep, err := bench.ReadReport(filepath.Join(out, bench.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 5 || !rep.Partial {
		t.Fatalf("%d runs, partial %v; want 5, partial", len(rep.Runs), rep.Partial)
	}
	failed := 0
	for i, run := range rep.Runs {
		switch name := strings.Join(strings.Fields(rep.Config.Engines[i]), ""); {
		case run.Error != "":
			failed++
			if strings.Contains(run.Error, "\n") || !strings.Contains(run.Error, "no space left") && !strings.Contains(run.Error, "SIGBUS") {
				t.Errorf("%s: error %q; want one line naming the full disk or the SIGBUS", name, run.Error)
			}
			if run.Engine == "bbolt" || run.Spec != rep.Runs[4].Spec && run.Engine == "shardstore" {
				t.Errorf("%s failed (%s); it ends its fill at the full device", name, run.Error)
			}
		case run.Ended == "" || run.Ops == 0 || run.Histograms["insert"] == "":
			t.Errorf("%s: %d ops, ended %q, histograms %v; want a fill that ended at the full device, with its figures", name, run.Ops, run.Ended, run.Histograms)
		case run.Engine == "pebble" || run.Engine == "badger" || run.Spec == rep.Runs[4].Spec:
			t.Errorf("%s did not fail; it %s", name, run.Ended)
		}
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.HasPrefix(l, "harness: ") {
			lines = append(lines, l)
		}
		for _, bad := range []string{"panic:", "goroutine ", "fatal error:", "left behind:"} {
			if strings.HasPrefix(l, bad) {
				t.Errorf("stderr line %q", l)
			}
		}
	}
	if len(lines) != failed+1 || !strings.HasPrefix(lines[failed], fmt.Sprintf("harness: %d of 5 runs failed", failed)) {
		t.Errorf("stderr: want %d lines, one per failed run, and the count:\n%s", failed+1, stderr.String())
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("data directories left behind: %v", left)
	}
}

// TestBenchMemoryLimit: --memory runs each child in a memory cgroup of
// that size, which the child sees (its resources record the limit) and
// shardstore sizes its cache default from (a quarter: 64 MiB of 256 MiB),
// in the spec the parent resolved as in the child; the summary says so;
// the cgroup is gone afterwards. It takes a writable cgroup hierarchy
// (root, as CI runs): without one, --memory is refused in one line.
func TestBenchMemoryLimit(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "bench", "--memory", "256MiB", "--engine", "shardstore:size=64MiB", "--workload", "ycsb-a,records=200",
		"--ops", "2000", "--warmup", "0s", "--dir", t.TempDir(), "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("bench --memory 256MiB: exit %d (this test needs a writable memory cgroup: run it as root)\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "each run limited to 256MiB of memory") {
		t.Errorf("summary does not state the limit:\n%s", stdout)
	}
	var rep struct {
		Config struct {
			MemoryLimit int64 `json:"memory_limit"`
		} `json:"config"`
		Runs []struct {
			Spec      string `json:"spec"`
			Resources struct {
				MemoryLimitBytes int64 `json:"memory_limit_bytes"`
			} `json:"resources"`
		} `json:"runs"`
	}
	b, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Config.MemoryLimit != 256<<20 || len(rep.Runs) != 1 {
		t.Fatalf("config.memory_limit %d, %d runs; want 256 MiB, 1", rep.Config.MemoryLimit, len(rep.Runs))
	}
	r := rep.Runs[0]
	if r.Resources.MemoryLimitBytes != 256<<20 {
		t.Errorf("the run's child saw a memory limit of %d bytes, want 256 MiB", r.Resources.MemoryLimitBytes)
	}
	if !strings.Contains(r.Spec, "cache=64MiB") {
		t.Errorf("spec %s: want shardstore's cache default from the limit, cache=64MiB", r.Spec)
	}
	left, _ := filepath.Glob(filepath.Join(cgroup.Root, "memory", "*", "gauntlet-bench-*"))
	more, _ := filepath.Glob(filepath.Join(cgroup.Root, "memory", "*", "*", "gauntlet-bench-*"))
	if len(left)+len(more) > 0 {
		t.Errorf("cgroups left behind: %v", append(left, more...))
	}
}

// TestBenchCPUProfileNamesSpecs: two specs of one engine in a bench each
// get their own profile, named by the spec as typed (they shared one file,
// the second run's overwriting the first's).
func TestBenchCPUProfileNamesSpecs(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "bench", "--engine", "shardstore:size=64MiB,shardstore:size=64MiB,extent=1MiB", "--workload", "ycsb-a,records=200",
		"--ops", "2000", "--warmup", "0s", "--dir", t.TempDir(), "--out", out, "--quiet", "--cpuprofile")
	if code != 0 {
		t.Fatalf("bench exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, name := range []string{"shardstore_size_64MiB-ycsb-a_records_200-r1.cpu.pprof", "shardstore_size_64MiB_extent_1MiB-ycsb-a_records_200-r1.cpu.pprof"} {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			entries, _ := os.ReadDir(out)
			t.Errorf("profile %s: %v (out holds %v)", name, err, entries)
		}
	}
}
