package bench_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/internal/badengine"
)

// TestRunCountsErrorsAndMisses runs ycsb-a on an engine that loses an
// eighth of its records and refuses an eighth of its puts after the load:
// the gets that find nothing are misses and the refused puts errors,
// counted per op type and never among the ops done, and the run goes on.
// The model, on the same workload, has neither.
func TestRunCountsErrorsAndMisses(t *testing.T) {
	const ops = 4000
	r := &bench.Runner{
		Config: bench.Config{
			Engines: []string{"lossy", "model"}, Workloads: []string{"ycsb-a,records=400"},
			Dir: t.TempDir(), Ops: ops, Threads: 2, Preload: true, Out: t.TempDir(),
		},
		Drivers: engine.Drivers{badengine.Lossy(), model.Driver()},
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 2 {
		t.Fatalf("%d runs, want 2", len(rep.Runs))
	}
	lossy, good := rep.Runs[0], rep.Runs[1]
	if lossy.Error != "" {
		t.Fatalf("lossy run ended early (%s): a conflict must be counted, not end the run", lossy.Error)
	}
	get, put := lossy.ByOp["get"], lossy.ByOp["put"]
	if get.Misses == 0 || get.Errors != 0 {
		t.Errorf("lossy gets: %d misses, %d errors; want misses (lost records) and no errors", get.Misses, get.Errors)
	}
	if put.Errors == 0 || put.Misses != 0 {
		t.Errorf("lossy puts: %d errors, %d misses; want errors (conflicts) and no misses", put.Errors, put.Misses)
	}
	if lossy.Misses != get.Misses || lossy.Errors != put.Errors {
		t.Errorf("run totals %d misses, %d errors; by op %d, %d", lossy.Misses, lossy.Errors, get.Misses, put.Errors)
	}
	if lossy.Ops+lossy.Errors+lossy.Misses != ops || lossy.Ops != get.Count+put.Count {
		t.Errorf("lossy: %d done + %d errors + %d misses, want %d ops in all, the done ones %d gets + %d puts",
			lossy.Ops, lossy.Errors, lossy.Misses, ops, get.Count, put.Count)
	}
	if lossy.All.Count != lossy.Ops || lossy.All.Errors != lossy.Errors || lossy.All.Misses != lossy.Misses {
		t.Errorf("All = %+v, want the run's counts", lossy.All)
	}
	var tlErr, tlMiss, tlOps int64
	for _, p := range lossy.Timeline {
		tlOps, tlErr, tlMiss = tlOps+p.Ops, tlErr+p.Errors, tlMiss+p.Misses
	}
	if tlOps != ops || tlErr != lossy.Errors || tlMiss != lossy.Misses {
		t.Errorf("timeline: %d ops, %d errors, %d misses; want %d, %d, %d", tlOps, tlErr, tlMiss, ops, lossy.Errors, lossy.Misses)
	}
	if !strings.Contains(lossy.OpError, "conflict") {
		t.Errorf("op_error %q does not name the first failure", lossy.OpError)
	}
	if f := lossy.FailedByOp(); !strings.Contains(f, "get_miss") || !strings.Contains(f, "put_error") {
		t.Errorf("FailedByOp = %q, want get_miss and put_error", f)
	}
	if good.Errors != 0 || good.Misses != 0 || good.Ops != ops || good.FailedByOp() != "" {
		t.Errorf("model: %d ops, %d errors, %d misses (%q); want %d, 0, 0", good.Ops, good.Errors, good.Misses, good.FailedByOp(), ops)
	}
}

// TestRunNoMissesWithoutLoad: without a load nothing was promised to be
// there, so a get that finds nothing is an op done, not a miss.
func TestRunNoMissesWithoutLoad(t *testing.T) {
	r := &bench.Runner{
		Config: bench.Config{
			Engines: []string{"model"}, Workloads: []string{"ycsb-c,records=100"},
			Dir: t.TempDir(), Ops: 500, Threads: 1, Preload: false, Out: t.TempDir(),
		},
		Drivers: engine.Drivers{model.Driver()},
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if run := rep.Runs[0]; run.Misses != 0 || run.Ops != 500 {
		t.Errorf("no load: %d ops, %d misses; want 500 ops and no misses", run.Ops, run.Misses)
	}
}
