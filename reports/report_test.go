package reports

import (
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/engine"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/*.golden from the current output")

// testReport builds a report by hand: shardstore and pebble on ycsb-a
// (read, update) and fill-64k (insert), reps repetitions each, timelines of
// ten seconds. Figures are drawn from a fixed seed, so every call returns
// the same report.
func testReport(reps int) *bench.Report {
	rng := rand.New(rand.NewPCG(7, uint64(reps)))
	r := &bench.Report{
		Schema:     bench.SchemaVersion,
		Started:    time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC),
		ElapsedSec: 95.5,
		Env: bench.Env{
			Hostname: "bench-1", OS: "linux", Arch: "amd64", Kernel: "6.8.0-45-generic",
			CPU: "AMD EPYC 7B13", Cores: 2, MemBytes: 8 << 30, GoVersion: "go1.26.0",
			Commit: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", Dir: "/mnt/bench",
			FileSystem: "ext4", Device: "/dev/nvme0n1p1", DeviceInfo: "nvme_card-pd, non-rotational, 375GiB",
			Deps: map[string]string{"github.com/cockroachdb/pebble/v2": "v2.1.7"},
		},
		Probe: &bench.Probe{
			Dir: "/mnt/bench", Direct: true, SeqWriteMBps: 1234.5, FdatasyncP50us: 85.2, FdatasyncP99us: 210.7,
			RandReadIOPS: 12345, RandReadIOPSQD16: 98765, FileBytes: 256 << 20, ElapsedSec: 4.2,
		},
		Config: bench.Config{
			Engines: []string{"shardstore", "pebble"}, Workloads: []string{"ycsb-a", "fill-64k"},
			Dir: "/mnt/bench", Duration: 10 * time.Second, Threads: 4, Preload: true,
			Warmup: time.Second, Repeat: reps, Seed: 1, Out: "out", Probe: true, ProbeBytes: 256 << 20,
		},
	}
	type wl struct {
		name, is  string
		ops       []string
		valueSize int64
		base      map[string]float64 // engine -> ops/s
		latUs     map[string]float64 // engine -> p50 µs
	}
	wls := []wl{
		{"ycsb-a", "50% read, 50% update, zipfian keys, 1 KiB values", []string{"read", "update"}, 1024,
			map[string]float64{"shardstore": 182000, "pebble": 101000}, map[string]float64{"shardstore": 18, "pebble": 31}},
		{"fill-64k", "insert 64 KiB values, sequential keys", []string{"insert"}, 64 << 10,
			map[string]float64{"shardstore": 7600, "pebble": 9500}, map[string]float64{"shardstore": 480, "pebble": 390}},
	}
	for rep := 1; rep <= reps; rep++ {
		for _, w := range wls {
			for _, eng := range []string{"shardstore", "pebble"} {
				ops := w.base[eng] * (1 + 0.04*(rng.Float64()-0.5))
				elapsed := 10.0
				n := int64(ops * elapsed)
				p50 := w.latUs[eng] * (1 + 0.1*rng.Float64())
				run := bench.Run{
					Engine: eng, Spec: eng + ":cache=64MiB", Options: map[string]string{"cache": "64MiB"},
					Workload: w.name, WorkloadIs: w.is, Repetition: rep, Mode: "closed-loop", Threads: 4,
					PreloadOps: 100000, WarmupSec: 1, ElapsedSec: elapsed, Ops: n, OpsPerSec: ops,
					Bytes: n * w.valueSize, MBPerSec: float64(n*w.valueSize) / 1e6 / elapsed,
					ByOp: map[string]bench.OpSummary{},
				}
				run.All = summary(n, ops, p50)
				for i, op := range w.ops {
					share := int64(float64(n) / float64(len(w.ops)))
					run.ByOp[op] = summary(share, ops/float64(len(w.ops)), p50*(1+0.5*float64(i)))
				}
				for s := int64(1); s <= 10; s++ {
					dip := 1.0
					if s == 6 && eng == "pebble" {
						dip = 0.45 // a compaction stall
					}
					secOps := int64(ops * dip * (1 + 0.06*(rng.Float64()-0.5)))
					run.Timeline = append(run.Timeline, bench.TimelinePoint{
						Second: s, Ops: secOps, OpsPerSec: float64(secOps), P50us: p50, P99us: p50 * (6 + 2*rng.Float64()) / dip, MaxUs: p50 * 40 / dip,
					})
				}
				run.Stats = &engine.Stats{UserBytesWritten: run.Bytes / 2, DeviceBytesWritten: run.Bytes, Flushes: 100,
					Metrics: map[string]float64{"queue_depth_mean": 3.5}}
				run.WriteAmplification = 2
				r.Runs = append(r.Runs, run)
			}
		}
	}
	return r
}

// summary is a plausible latency distribution with median p50 µs.
func summary(n int64, ops, p50 float64) bench.OpSummary {
	return bench.OpSummary{
		Count: n, OpsPerSec: ops, MeanUs: p50 * 1.3,
		P50us: round1(p50), P90us: round1(p50 * 2.2), P99us: round1(p50 * 7), P999us: round1(p50 * 21),
		P9999us: round1(p50 * 60), MaxUs: round1(p50 * 240),
	}
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// golden compares got with testdata/name, or rewrites it under -rewrite.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *rewrite {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -run %s -rewrite to create it)", err, t.Name())
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the output; if the change is intended, rerun with -rewrite and read the diff.\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
