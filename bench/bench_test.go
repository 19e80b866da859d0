package bench_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/internal/progress"
)

// modelDrivers is the engine table of these tests: the model, and the model
// behind a stall that blocks one chosen op for a known time.
func modelDrivers(stall *stallConfig) engine.Drivers {
	return engine.Drivers{
		model.Driver(),
		{Name: "stalling", Doc: "the model, stalling once", Open: func(dir string, _ engine.Options) (engine.Engine, error) {
			m, err := model.Open(dir)
			if err != nil {
				return nil, err
			}
			return &stallingEngine{Store: m, cfg: stall}, nil
		}},
	}
}

type stallConfig struct {
	after int64         // stall on the op after this many measured ops
	for_  time.Duration // for this long
	count atomic.Int64
	once  sync.Once
}

type stallingEngine struct {
	*model.Store
	cfg *stallConfig
}

func (s *stallingEngine) Get(ctx context.Context, key []byte) ([]byte, error) {
	if s.cfg.count.Add(1) == s.cfg.after {
		s.cfg.once.Do(func() { time.Sleep(s.cfg.for_) })
	}
	return s.Store.Get(ctx, key)
}

func TestRunCountsMatchHistograms(t *testing.T) {
	out := t.TempDir()
	r := &bench.Runner{
		Config: bench.Config{
			Engines: []string{"model"}, Workloads: []string{"ycsb-a,records=200", "ycsb-c,records=200"},
			Dir: t.TempDir(), Ops: 3000, Threads: 4, Preload: true, Repeat: 2, Out: out,
		},
		Drivers: modelDrivers(&stallConfig{}),
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 4 || rep.Partial {
		t.Fatalf("%d runs, partial=%v; want 4 complete runs", len(rep.Runs), rep.Partial)
	}
	// Interleaved: ycsb-a r1, ycsb-c r1, ycsb-a r2, ycsb-c r2.
	wantOrder := []struct {
		w   string
		rep int
	}{{"ycsb-a,records=200", 1}, {"ycsb-c,records=200", 1}, {"ycsb-a,records=200", 2}, {"ycsb-c,records=200", 2}}
	for i, run := range rep.Runs {
		if run.Workload != wantOrder[i].w || run.Repetition != wantOrder[i].rep {
			t.Errorf("run %d is %s r%d, want %s r%d", i, run.Workload, run.Repetition, wantOrder[i].w, wantOrder[i].rep)
		}
		if run.Ops != 3000 {
			t.Errorf("run %d: %d ops, want exactly --ops=3000", i, run.Ops)
		}
		if run.PreloadOps != 200 {
			t.Errorf("run %d: preloaded %d records, want 200", i, run.PreloadOps)
		}
		var sum int64
		for op, s := range run.ByOp {
			sum += s.Count
			if got := r.Histograms[i][op].TotalCount(); got != s.Count+s.Errors+s.Misses {
				t.Errorf("run %d op %s: histogram holds %d values, the workers counted %d", i, op, got, s.Count+s.Errors+s.Misses)
			}
		}
		if sum != run.Ops || run.All.Count != run.Ops {
			t.Errorf("run %d: per-op counts sum to %d, All.Count %d, Ops %d", i, sum, run.All.Count, run.Ops)
		}
		var tl int64
		for _, p := range run.Timeline {
			tl += p.Ops
		}
		if tl != run.Ops {
			t.Errorf("run %d: timeline holds %d ops, want %d", i, tl, run.Ops)
		}
	}
	a := rep.Runs[0].ByOp
	if a["get"].Count == 0 || a["put"].Count == 0 {
		t.Errorf("ycsb-a ran no gets or no puts: %v", a)
	}
	if c := rep.Runs[1].ByOp; c["put"].Count != 0 || c["get"].Count != 3000 {
		t.Errorf("ycsb-c must be 100%% reads: %v", c)
	}
	path, err := bench.WriteReport(out, rep, r.Histograms)
	if err != nil {
		t.Fatal(err)
	}
	back, err := bench.ReadReport(path)
	if err != nil || len(back.Runs) != 4 {
		t.Fatalf("ReadReport: %v", err)
	}
	for _, f := range back.Runs[0].Histograms {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("histogram file %s missing or empty", f)
		}
	}
}

// TestOpenLoopSeesStall: one Get stalls for 300ms. Closed loop, the stall
// costs one slow op and delays the rest (coordinated omission); open loop,
// every op scheduled during the stall is late, so the tail shows it.
func TestOpenLoopSeesStall(t *testing.T) {
	const stall = 300 * time.Millisecond
	run := func(rate float64) bench.Run {
		cfg := &stallConfig{after: 200, for_: stall}
		r := &bench.Runner{
			Config: bench.Config{
				Engines: []string{"stalling"}, Workloads: []string{"ycsb-c,records=100"},
				Dir: t.TempDir(), Ops: 2000, Threads: 1, Preload: true, Rate: rate, Out: t.TempDir(),
			},
			Drivers: modelDrivers(cfg),
		}
		rep, err := r.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return rep.Runs[0]
	}
	closed := run(0)
	open := run(1000) // 1000 ops/s: 300 ops are scheduled inside the stall
	t.Logf("closed loop: p50 %.0fµs p90 %.0fµs p99 %.0fµs max %.0fµs", closed.All.P50us, closed.All.P90us, closed.All.P99us, closed.All.MaxUs)
	t.Logf("open loop:   p50 %.0fµs p90 %.0fµs p99 %.0fµs max %.0fµs", open.All.P50us, open.All.P90us, open.All.P99us, open.All.MaxUs)
	if closed.Mode != "closed-loop" || open.Mode != "open-loop" || open.RateOpsPerSec != 1000 {
		t.Fatalf("modes: %q, %q (rate %v)", closed.Mode, open.Mode, open.RateOpsPerSec)
	}
	// Closed loop: only one op (of 2000) saw the stall; p99 stays tiny.
	if closed.All.P99us > 50_000 {
		t.Errorf("closed-loop p99 = %.0fµs; only one op stalled, so p99 should not show it", closed.All.P99us)
	}
	if closed.All.MaxUs < float64(stall.Microseconds()) {
		t.Errorf("closed-loop max = %.0fµs, want at least the stall", closed.All.MaxUs)
	}
	// Open loop: ~15% of ops were scheduled during the stall, so p90 and p99
	// are each at least tens of milliseconds.
	if open.All.P99us < 100_000 {
		t.Errorf("open-loop p99 = %.0fµs; ops scheduled during a %v stall must show in the tail", open.All.P99us, stall)
	}
	if open.All.P90us < 10_000 {
		t.Errorf("open-loop p90 = %.0fµs; %d%% of ops were late", open.All.P90us, 15)
	}
}

func TestBadInputBeforeAnythingRuns(t *testing.T) {
	base := bench.Config{Engines: []string{"model"}, Workloads: []string{"ycsb-a"}, Dir: t.TempDir(), Out: t.TempDir(), Ops: 10}
	cases := map[string]func(c *bench.Config){
		`unknown engine "nope"`: func(c *bench.Config) { c.Engines = []string{"nope"} },
		"no workload given":     func(c *bench.Config) { c.Workloads = nil },
		"--threads -1":          func(c *bench.Config) { c.Threads = -1 },
		"model: unknown option": func(c *bench.Config) { c.Engines = []string{"model:x=1"} },
	}
	for want, mutate := range cases {
		c := base
		mutate(&c)
		r := &bench.Runner{Config: c, Drivers: modelDrivers(&stallConfig{})}
		rep, err := r.Run(context.Background())
		if err == nil || rep != nil {
			t.Errorf("%s: Run = %v, %v; want an error and no report", want, rep, err)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestUnwritableDir(t *testing.T) {
	// A path under a regular file is unwritable even for root.
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	r := &bench.Runner{Config: bench.Config{Engines: []string{"model"}, Workloads: []string{"ycsb-a"}, Dir: filepath.Join(f, "sub"), Out: t.TempDir(), Ops: 10}, Drivers: modelDrivers(&stallConfig{})}
	_, err := r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--dir") || !strings.Contains(err.Error(), "choose a writable directory") {
		t.Fatalf("Run on an unwritable dir: %v", err)
	}
}

func TestCancelKeepsCompletedRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var r *bench.Runner
	r = &bench.Runner{
		Config: bench.Config{
			Engines: []string{"model"}, Workloads: []string{"ycsb-c,records=50"},
			Dir: t.TempDir(), Duration: time.Hour, Threads: 2, Preload: true, Out: t.TempDir(),
		},
		Drivers: engine.Drivers{{Name: "model", Open: func(dir string, _ engine.Options) (engine.Engine, error) {
			m, err := model.Open(dir)
			return &cancelAfter{Store: m, n: 5000, cancel: cancel}, err
		}}},
	}
	rep, err := r.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if rep == nil || !rep.Partial || rep.Reason != "interrupted" {
		t.Fatalf("report after cancel: %+v", rep)
	}
}

type cancelAfter struct {
	*model.Store
	n      int64
	seen   atomic.Int64
	cancel func()
}

func (c *cancelAfter) Get(ctx context.Context, key []byte) ([]byte, error) {
	if c.seen.Add(1) == c.n {
		c.cancel()
	}
	return c.Store.Get(ctx, key)
}

func TestProgressBarOnlyOnATerminal(t *testing.T) {
	var bar, log strings.Builder
	meter := progress.New(&bar, progress.Options{Terminal: true})
	r := &bench.Runner{
		Config: bench.Config{Engines: []string{"model"}, Workloads: []string{"ycsb-c,records=10"},
			Dir: t.TempDir(), Duration: 600 * time.Millisecond, Threads: 1, Out: t.TempDir()},
		Drivers: modelDrivers(&stallConfig{}), Progress: meter, Log: &log,
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	meter.Close()
	// The library's bar: the run's label, a percentage, and the elapsed
	// and estimated time left in brackets ([0s:1s]).
	if !strings.Contains(bar.String(), "%") || !strings.Contains(bar.String(), "s:") || !strings.Contains(bar.String(), "ycsb-c,records=10 on model") {
		t.Errorf("progress output lacks the bar, its estimate or the run's label: %q", bar.String())
	}
	if strings.Contains(bar.String(), "\n") || !strings.HasSuffix(bar.String(), "\r") {
		t.Errorf("the bar is not drawn in place and cleared at the end: %q", bar.String())
	}
	if strings.Contains(log.String(), "\r") || !strings.Contains(log.String(), "ops/s, p99") {
		t.Errorf("the log (what a pipe sees) has redraws or lacks the run line: %q", log.String())
	}
}
