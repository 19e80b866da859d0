package bench_test

import (
	"context"
	"os"
	"testing"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// TestRunMeasuresResources: every run carries its measured phase's CPU,
// memory and device figures, for an engine with no counters of its own
// (the model has no engine.Statser), and they hang together.
func TestRunMeasuresResources(t *testing.T) {
	r := &bench.Runner{
		Config: bench.Config{
			Engines: []string{"model"}, Workloads: []string{"ycsb-a,records=500"},
			Dir: t.TempDir(), Ops: 20000, Threads: 2, Preload: true, Out: t.TempDir(),
		},
		Drivers: engine.Drivers{model.Driver()},
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	run := rep.Runs[0]
	res := run.Resources
	if res == nil {
		t.Fatal("no resources measured")
	}
	if res.Samples < 2 || res.RSSPeakBytes <= 0 || res.RSSMeanBytes <= 0 || res.RSSMeanBytes > res.RSSPeakBytes {
		t.Errorf("RSS: %d samples, peak %d, mean %d; want at least the start and end samples, mean <= peak > 0", res.Samples, res.RSSPeakBytes, res.RSSMeanBytes)
	}
	if res.GoHeapPeakBytes <= 0 || res.GoHeapMeanBytes > res.GoHeapPeakBytes {
		t.Errorf("Go heap: peak %d, mean %d", res.GoHeapPeakBytes, res.GoHeapMeanBytes)
	}
	cpu := res.CPUUserSec + res.CPUSysSec
	if cpu <= 0 || res.CPUUsPerOp <= 0 {
		t.Errorf("CPU %.6fs, %.3fµs/op: 20000 ops cost no CPU", cpu, res.CPUUsPerOp)
	}
	if want := cpu * 1e6 / float64(run.Ops+run.Errors+run.Misses); res.CPUUsPerOp < want*0.999 || res.CPUUsPerOp > want*1.001 {
		t.Errorf("CPU/op %.3fµs, want %.3fµs (the phase's CPU over its ops)", res.CPUUsPerOp, want)
	}
	if run.BytesWritten <= 0 || run.BytesWritten >= run.Bytes {
		t.Errorf("bytes written %d of %d: ycsb-a both reads and writes", run.BytesWritten, run.Bytes)
	}
	_, statErr := os.Stat("/proc/self/io")
	if res.IOCounters != (statErr == nil) {
		t.Errorf("io_counters %v, but /proc/self/io: %v", res.IOCounters, statErr)
	}
	if res.WriteAmplification != 0 && res.DeviceWriteBytes == 0 {
		t.Errorf("write amplification %v with no device bytes", res.WriteAmplification)
	}
}
