package bench_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// batchCounting is the model, counting its batches and single puts, and
// failing (fail) or cancelling (cancel) at the batch after `after`.
type batchCounting struct {
	*model.Store
	batches, puts atomic.Int64
	keysAtClose   atomic.Int64
	after         int64
	fail          error
	cancel        func()
}

func (b *batchCounting) PutBatch(ctx context.Context, kvs []engine.KV) error {
	n := b.batches.Add(1)
	if b.after > 0 && n > b.after {
		if b.cancel != nil {
			b.cancel()
			return ctx.Err()
		}
		return b.fail
	}
	return b.Store.PutBatch(ctx, kvs)
}

func (b *batchCounting) Put(ctx context.Context, key, value []byte) error {
	b.puts.Add(1)
	return b.Store.Put(ctx, key, value)
}

func (b *batchCounting) Close() error {
	var n int64
	b.Store.List(context.Background(), nil, nil, func([]byte) bool { n++; return true })
	b.keysAtClose.Store(n)
	return b.Store.Close()
}

func loadRunner(t *testing.T, cfg bench.Config, eng *batchCounting) *bench.Runner {
	t.Helper()
	cfg.Engines, cfg.Dir, cfg.Out, cfg.Preload = []string{"counting"}, t.TempDir(), t.TempDir(), true
	if cfg.Ops == 0 {
		cfg.Ops = 100
	}
	return &bench.Runner{Config: cfg, Drivers: engine.Drivers{{Name: "counting", Open: func(dir string, _ engine.Options) (engine.Engine, error) {
		m, err := model.Open(dir)
		eng.Store = m
		return eng, err
	}}}}
}

// TestLoadBatches: the load runs with at least four clients, writes
// through the engine's batches in calls of --load-batch records (the last
// of each client's share shorter), measures each call, and leaves every
// record readable; with --load-batch 1 it puts one record at a time.
func TestLoadBatches(t *testing.T) {
	for _, tc := range []struct {
		batch, threads int
		calls, batches int64
		batched        bool
		wantThreads    int
	}{
		{batch: 1000, threads: 0, calls: 4, batches: 4, batched: true, wantThreads: bench.LoadThreadsMin}, // 625 records each
		{batch: 400, threads: 2, calls: 8, batches: 8, batched: true, wantThreads: 2},                     // 1250 each: 400+400+400+50
		{batch: 1, threads: 3, calls: 2500, batches: 0, batched: false, wantThreads: 3},
	} {
		t.Run(fmt.Sprintf("batch=%d,threads=%d", tc.batch, tc.threads), func(t *testing.T) {
			eng := &batchCounting{}
			r := loadRunner(t, bench.Config{Workloads: []string{"ycsb-c,records=2500"}, LoadBatch: tc.batch, LoadThreads: tc.threads}, eng)
			rep, err := r.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			l := rep.Runs[0].Load
			if l == nil {
				t.Fatal("no load summary")
			}
			if l.Records != 2500 || l.Planned != 2500 || l.Batched != tc.batched || l.Threads != tc.wantThreads || l.Ended != "" {
				t.Fatalf("load %+v: want 2500 records, batched=%v, %d threads", l, tc.batched, tc.wantThreads)
			}
			if l.Latency.Count != tc.calls || eng.batches.Load() != tc.batches {
				t.Errorf("%d calls measured, %d batches made; want %d and %d", l.Latency.Count, eng.batches.Load(), tc.calls, tc.batches)
			}
			if l.RecordsPerSec <= 0 || l.Latency.P99us <= 0 {
				t.Errorf("load figures missing: %+v", l)
			}
			if eng.keysAtClose.Load() != 2500 {
				t.Errorf("%d keys in the engine at close, want the 2500 records loaded", eng.keysAtClose.Load())
			}
		})
	}
}

// TestLoadStoppedKeepsFigures: a load that a full device or Ctrl-C stops
// says so, with what it loaded until then, and the run is reported.
func TestLoadStoppedKeepsFigures(t *testing.T) {
	t.Run("full", func(t *testing.T) {
		eng := &batchCounting{after: 2, fail: fmt.Errorf("model: put: %w", engine.ErrNoSpace)}
		r := loadRunner(t, bench.Config{Workloads: []string{"ycsb-c,records=5000"}, LoadBatch: 500, LoadThreads: 1}, eng)
		rep, err := r.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "device filled up after 1000 of 5000 records") {
			t.Fatalf("Run = %v, want the full device named with the records loaded", err)
		}
		if rep == nil || len(rep.Runs) != 1 || rep.Runs[0].Load == nil {
			t.Fatalf("the stopped run was not reported: %+v", rep)
		}
		if l := rep.Runs[0].Load; l.Records != 1000 || !strings.Contains(l.Ended, "larger device") {
			t.Errorf("load %+v: want 1000 records and the fix named", l)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		eng := &batchCounting{after: 3, cancel: cancel}
		r := loadRunner(t, bench.Config{Workloads: []string{"ycsb-c,records=5000"}, LoadBatch: 500, LoadThreads: 1, Duration: time.Hour}, eng)
		rep, err := r.Run(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		if rep == nil || !rep.Partial || len(rep.Runs) != 1 || rep.Runs[0].Load == nil {
			t.Fatalf("the interrupted run was not reported: %+v", rep)
		}
		if l := rep.Runs[0].Load; l.Records != 1500 || l.Ended != "interrupted after 1500 of 5000 records" {
			t.Errorf("load %+v: want 1500 records, interrupted", l)
		}
	})
}

// TestLoadFlagsValidated: bad load flags get one line naming the flag.
func TestLoadFlagsValidated(t *testing.T) {
	for _, c := range []bench.Config{{LoadThreads: -1}, {LoadBatch: -5}, {LoadBatch: 2_000_000}} {
		c.Engines, c.Workloads, c.Out, c.Repeat = []string{"model"}, []string{"ycsb-c"}, "x", 1
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "--load-") {
			t.Errorf("%+v: %v, want an error naming the --load- flag", c, err)
		}
	}
}

// TestLoadBatchBytesBound: batches of large values end at
// bench.LoadBatchBytesMax, not at --load-batch records: 40 records of
// 8 MiB on one client pass 64 MiB every 8 records, so 5 calls.
func TestLoadBatchBytesBound(t *testing.T) {
	eng := &batchCounting{}
	r := loadRunner(t, bench.Config{Workloads: []string{"ycsb-c,records=40,values=8MiB"}, LoadBatch: 1000, LoadThreads: 1, Ops: 10}, eng)
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l := rep.Runs[0].Load
	if l.Records != 40 || eng.batches.Load() != 5 || l.Latency.Count != 5 {
		t.Errorf("loaded %d records in %d batches (%d calls measured); want 40 in 5", l.Records, eng.batches.Load(), l.Latency.Count)
	}
}
