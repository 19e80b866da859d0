package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// noop answers every call at once: what is left is the driver's own cost.
type noop struct{}

func (noop) Get(context.Context, []byte) ([]byte, error) { return nil, nil }
func (noop) Put(context.Context, []byte, []byte) error   { return nil }
func (noop) Delete(context.Context, []byte) error        { return nil }
func (noop) Sync(context.Context) error                  { return nil }
func (noop) Close() error                                { return nil }

// BenchmarkDriverOverhead measures the driver's cost per op: drawing the op
// from the workload, filling the value, two monotonic clock reads, and
// recording into the histograms and timeline. ns/op is that overhead (the
// target is well under 1µs).
func BenchmarkDriverOverhead(b *testing.B) {
	for _, w := range []string{"ycsb-a,records=10000", "ycsb-c,records=10000"} {
		b.Run(w, func(b *testing.B) {
			r := &bench.Runner{
				Config: bench.Config{
					Engines: []string{"noop"}, Workloads: []string{w},
					Dir: b.TempDir(), Ops: int64(b.N), Threads: 1, Out: b.TempDir(),
				},
				Drivers: engine.Drivers{{Name: "noop", Open: func(string, engine.Options) (engine.Engine, error) { return noop{}, nil }}},
			}
			b.ResetTimer()
			rep, err := r.Run(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			run := rep.Runs[0]
			b.ReportMetric(run.ElapsedSec*1e9/float64(run.Ops), "driver-ns/op")
		})
	}
}

// TestLatencyExcludesValueFill: a put's latency is the engine's call, not
// the driver filling its value. With 16 MiB values (each fill takes
// milliseconds) and an engine that returns at once, every recorded latency
// stays far below one fill.
func TestLatencyExcludesValueFill(t *testing.T) {
	const size = 16 << 20
	v := make([]byte, size)
	t0 := time.Now()
	workloads.FillValue(v, 1)
	fill := time.Since(t0)
	r := &bench.Runner{
		Config: bench.Config{
			Engines: []string{"noop"}, Workloads: []string{"fill,values=16MiB"},
			Dir: t.TempDir(), Ops: 20, Threads: 1, Out: t.TempDir(),
		},
		Drivers: engine.Drivers{{Name: "noop", Open: func(string, engine.Options) (engine.Engine, error) { return noop{}, nil }}},
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ins, ok := rep.Runs[0].ByOp["insert"]
	if !ok || ins.Count != 20 {
		t.Fatalf("by op: %+v", rep.Runs[0].ByOp)
	}
	if max := time.Duration(ins.MaxUs * 1e3); max > fill/4 {
		t.Fatalf("a put of a no-op engine took up to %v; filling one value takes %v: the fill is inside the latency", max, fill)
	}
}
