package crash_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/crash"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// Shardstore runs: 10,000 block-mode cases of 20 to 50 ops (dirty reboots
// with every crash state of small pending sets, or three sampled torn
// ones, most of them with the power cut inside the reboot's Sync), in six
// seeds of 2,000 — a tenth under the race detector. Four seeds run the
// check defaults, one a 2 MiB device with the fifo scheduler and a smaller
// memtable, one the check defaults with faults (some recovered from
// through a crash).
const (
	shardstoreSeedCases = 2000
	shardstoreOpsMean   = 30
	shardstoreOpsMax    = 50
)

var shardstoreRuns = []struct {
	spec   string
	seed   uint64
	faults bool
}{
	{"shardstore", 1, false}, {"shardstore", 2, false}, {"shardstore", 3, false}, {"shardstore", 4, false},
	{"shardstore:size=2MiB,sched=fifo,memtable=512B", 5, false},
	{"shardstore", 6, true},
}

func TestShardstorePasses(t *testing.T) {
	// The checker allocates at a high rate and keeps little: a lazier
	// collector halves its CPU time (the CLI does the same).
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	n := shardstoreSeedCases
	if testengines.Race {
		n /= 10
	}
	for _, sr := range shardstoreRuns {
		t.Run(fmt.Sprintf("%s/seed=%d/faults=%v", sr.spec, sr.seed, sr.faults), func(t *testing.T) {
			tg, err := testengines.ShardstoreSpec(sr.spec)
			if err != nil {
				t.Fatal(err)
			}
			r := run(t, crash.Config{Target: tg, Seed: sr.seed, Cases: n, OpsMean: shardstoreOpsMean, OpsMax: shardstoreOpsMax, Faults: sr.faults})
			if r.Verdict != checkers.Pass || r.Cases != int64(n) {
				t.Fatalf("verdict %s after %d of %d cases, want pass", r.Verdict, r.Cases, n)
			}
		})
	}
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkShardstoreCrashRecover measures crash-recover cycles on
// shardstore over a disk.Mem, as BenchmarkCrashRecover does on toystore:
// each cycle is two puts (one spanning two chunks), a dirty reboot (the
// seed picks what is flushed first; every crash state of the pending
// writes, or three sampled ones, opened and checked) and the recovery
// check. Per second of wall time and of CPU time.
func BenchmarkShardstoreCrashRecover(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	var tr workloads.Trace
	for i := range 100 {
		key := []byte{'k', byte('0' + i%8)}
		tr.Ops = append(tr.Ops,
			workloads.Op{Kind: workloads.OpPut, Key: key, Size: 100, Seed: uint64(i)},
			workloads.Op{Kind: workloads.OpPut, Key: []byte("x"), Size: 20000, Seed: uint64(i)},
			workloads.Op{Kind: workloads.OpDirtyReboot, Seed: uint64(i)})
	}
	tg := testengines.Shardstore()
	cpu := cpuTime()
	b.ResetTimer()
	for range b.N {
		r, err := crash.Replay(context.Background(), crash.Config{Target: tg}, tr)
		if err != nil || r.Verdict != checkers.Pass {
			b.Fatal(err, r.Summary())
		}
	}
	cpu = cpuTime() - cpu
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "cycles/s")
	if cpu > 0 {
		b.ReportMetric(float64(100*b.N)/cpu.Seconds(), "cycles/cpu-s")
	}
}

// BenchmarkShardstore reports the block-mode crash checker's throughput on
// shardstore: ops per second of wall time and of CPU time.
func BenchmarkShardstore(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	tg := testengines.Shardstore()
	var ops int64
	cpu := cpuTime()
	for i := range b.N {
		r, err := crash.Run(context.Background(), crash.Config{Target: tg, Seed: uint64(i + 1), Cases: 200,
			OpsMean: shardstoreOpsMean, OpsMax: shardstoreOpsMax, OutDir: b.TempDir()})
		if err != nil || r.Verdict != checkers.Pass {
			b.Fatal(err, r.Summary())
		}
		ops += r.Ops
	}
	cpu = cpuTime() - cpu
	b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), "ops/s")
	if cpu > 0 {
		b.ReportMetric(float64(ops)/cpu.Seconds(), "ops/cpu-s")
	}
}

// TestShardstoreTraces replays the crash traces in testdata/shardstore,
// each a violation the checker once found and minimized, and wants each to
// pass now. cut-inside-reclaim-for-a-put (seed 4001, 88,142 cases in): a
// put of 64 KiB found no free extent after four dirty reboots, and the
// reclamation it ran lost the device to a power cut inside its index
// flush; the put returned its first try's ErrNoSpace, on a store holding
// 65 KB of the 118 KB it promises room for, where the device's error was
// the reason.
func TestShardstoreTraces(t *testing.T) {
	paths, err := filepath.Glob("testdata/shardstore/*.trace")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no traces in testdata/shardstore: %v", err)
	}
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".trace"), func(t *testing.T) {
			tr := readTrace(t, p)
			tg, err := testengines.ShardstoreSpec(traceAttr(tr, "engine"))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("replay: harness check crash --mode block --replay checkers/crash/%s", p)
			// One P, as harness check runs a checker: where a cut lands
			// among the engine's background IOs depends on it.
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			r, err := crash.Replay(context.Background(), crash.Config{Target: tg, OutDir: t.TempDir()}, tr)
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != checkers.Pass {
				t.Fatalf("%s", r.Summary())
			}
		})
	}
}
