package conformance_test

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/conformance"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// Shardstore runs: per configuration (with faults and without), 10,000
// cases of 20 to 50 ops, in five seeds of 2,000 — a tenth under the race
// detector, which makes the engine about ten times slower. Four seeds run
// the check defaults (a 1 MiB device: reclamation, ErrNoSpace on puts and
// cache evictions within a case), one a 2 MiB device with the fifo
// scheduler and a smaller memtable.
const (
	shardstoreSeedCases = 2000
	shardstoreOpsMean   = 30
	shardstoreOpsMax    = 50
)

var shardstoreRuns = []struct {
	spec string
	seed uint64
}{
	{"shardstore", 1}, {"shardstore", 2}, {"shardstore", 3}, {"shardstore", 4},
	{"shardstore:size=2MiB,sched=fifo,memtable=512B", 5},
}

func shardstoreCases() int {
	if testengines.Race {
		return shardstoreSeedCases / 10
	}
	return shardstoreSeedCases
}

func TestShardstorePasses(t *testing.T) {
	// The checker allocates at a high rate and keeps little: a lazier
	// collector halves its CPU time (the CLI does the same).
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	n := shardstoreCases()
	for _, faults := range []bool{false, true} {
		for _, sr := range shardstoreRuns {
			t.Run(fmt.Sprintf("faults=%v/%s/seed=%d", faults, sr.spec, sr.seed), func(t *testing.T) {
				tg, err := testengines.ShardstoreSpec(sr.spec)
				if err != nil {
					t.Fatal(err)
				}
				r := run(t, conformance.Config{Target: tg, Seed: sr.seed, Cases: n, Faults: faults,
					OpsMean: shardstoreOpsMean, OpsMax: shardstoreOpsMax})
				mustPass(t, r, n)
			})
		}
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

// BenchmarkShardstore reports the conformance checker's throughput on
// shardstore over disk.Mem: ops per second of wall time and per second of
// CPU time (the engine's goroutines included), with and without faults.
// Run it with -cpu 1 for the figure per core, as harness check runs
// (GOMAXPROCS=1): about 67k and 72k ops/s on the 2-vCPU machine where the
// target is 50k per core; with two Ps the cross-core wake-ups of the
// engine's goroutines cost a quarter of that.
func BenchmarkShardstore(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	for _, faults := range []bool{false, true} {
		b.Run(fmt.Sprintf("faults=%v", faults), func(b *testing.B) {
			benchConformance(b, testengines.Shardstore(), faults)
		})
	}
}

func benchConformance(b *testing.B, tg target.Target, faults bool) {
	var ops int64
	cpu := cpuTime()
	for i := range b.N {
		r, err := conformance.Run(context.Background(), conformance.Config{Target: tg, Seed: uint64(i + 1), Cases: 200,
			Faults: faults, OpsMean: shardstoreOpsMean, OpsMax: shardstoreOpsMax, OutDir: b.TempDir()})
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

// cancelAfter is an engine that cancels a context on its n-th Get or Put,
// and passes the op's own context on to the engine beneath.
type cancelAfter struct {
	engine.Engine
	left   *atomic.Int64
	cancel context.CancelFunc
}

func (c cancelAfter) tick() {
	if c.left.Add(-1) == 0 {
		c.cancel()
	}
}

func (c cancelAfter) Get(ctx context.Context, key []byte) ([]byte, error) {
	c.tick()
	return c.Engine.Get(ctx, key)
}

func (c cancelAfter) Put(ctx context.Context, key, value []byte) error {
	c.tick()
	return c.Engine.Put(ctx, key, value)
}

// TestStopMidCaseIsNoViolation: a run stopped in the middle of a case (a
// Ctrl-C, or --jobs stopping the other workers after a violation) ends
// interrupted, "stopped after N cases", with no violation; shardstore, which honours its context,
// used to fail the op under way with "context canceled", recorded as a
// violation.
func TestStopMidCaseIsNoViolation(t *testing.T) {
	tg := testengines.Shardstore()
	open := tg.OpenDevice
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	left := new(atomic.Int64)
	left.Store(500)
	tg.OpenDevice = func(dev disk.Device) (engine.Engine, error) {
		e, err := open(dev)
		if err != nil {
			return nil, err
		}
		return cancelAfter{Engine: e, left: left, cancel: cancel}, nil
	}
	r, err := conformance.Run(ctx, conformance.Config{Target: tg, Seed: 1, Cases: 100000,
		OpsMean: shardstoreOpsMean, OpsMax: shardstoreOpsMax})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != checkers.Interrupted || !strings.Contains(r.Reason, "stopped after") || r.Cases >= 100000 {
		t.Fatalf("stopped run: %s", r.Summary())
	}
}
