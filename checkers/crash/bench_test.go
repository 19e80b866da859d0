package crash_test

import (
	"context"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/crash"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/toystore"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// BenchmarkCrashRecover measures crash-recover cycles on toystore over a
// disk.Mem: each cycle is two puts, a dirty reboot (every crash state of
// the pending writes opened and checked) and the recovery check.
func BenchmarkCrashRecover(b *testing.B) {
	var tr workloads.Trace
	for i := range 100 {
		key := []byte{'k', byte('0' + i%8)}
		tr.Ops = append(tr.Ops,
			workloads.Op{Kind: workloads.OpPut, Key: key, Size: 100, Seed: uint64(i)},
			workloads.Op{Kind: workloads.OpPut, Key: []byte("x"), Size: 600, Seed: uint64(i)},
			workloads.Op{Kind: workloads.OpDirtyReboot, Seed: uint64(i)})
	}
	b.ResetTimer()
	for range b.N {
		r, err := crash.Replay(context.Background(), crash.Config{Target: testengines.Toystore(toystore.BugNone)}, tr)
		if err != nil || r.Verdict != checkers.Pass {
			b.Fatal(err, r.Summary())
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "cycles/s")
}
