package bench_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/pebble"
)

// TestRunShardWorkload runs the storage-node workload, scaled down, on
// Pebble: it loads the shards that fill its capacity to 80%, then gets,
// puts and deletes them, and every second of the timeline says what the
// process wrote to the device, the space Pebble's files took, and how
// much it has reclaimed.
func TestRunShardWorkload(t *testing.T) {
	r := &bench.Runner{
		Config: bench.Config{
			Engines: []string{"pebble"}, Workloads: []string{"shard,capacity=24MiB,values=uniform:64KiB:256KiB"},
			Dir: t.TempDir(), Duration: 2500 * time.Millisecond, Threads: 2, Preload: true, Out: t.TempDir(),
		},
		Drivers: engine.Drivers{pebble.Driver()},
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	run := rep.Runs[0]
	if !strings.Contains(run.WorkloadIs, "capacity=24MiB") || run.PreloadOps != 122 {
		t.Errorf("workload %q loaded %d shards; want capacity=24MiB and 122 shards (80%% of 24 MiB in shards of 160 KiB on average)", run.WorkloadIs, run.PreloadOps)
	}
	for _, op := range []string{"get", "insert", "delete"} {
		if run.ByOp[op].Count == 0 {
			t.Errorf("no %s ops: %v", op, run.ByOp)
		}
	}
	if run.Errors != 0 || run.Misses != 0 || run.Error != "" {
		t.Errorf("%d errors, %d misses (%s)", run.Errors, run.Misses, run.Error)
	}
	if len(run.Timeline) < 2 {
		t.Fatalf("timeline of %d seconds", len(run.Timeline))
	}
	for _, pt := range run.Timeline[:2] {
		if pt.SpaceBytes <= 0 || pt.BytesWritten <= 0 {
			t.Errorf("second %d: space %d, value bytes written %d: not sampled", pt.Second, pt.SpaceBytes, pt.BytesWritten)
		}
		if pt.ReclaimedBytes < 0 {
			t.Errorf("second %d: reclaimed %d", pt.Second, pt.ReclaimedBytes)
		}
	}
}
