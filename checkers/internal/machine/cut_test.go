package machine

import (
	"context"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// TestPowerCutsLandInsideFlushes: on shardstore at the check defaults, the
// dirty reboots of crash-version 2 cut power inside their flushes (between
// two IOs of a Sync or an index flush) in a good share of cases, not only
// after them, and every such case still checks out.
func TestPowerCutsLandInsideFlushes(t *testing.T) {
	const n = 60
	t.Logf("rerun: go test ./checkers/internal/machine -run TestPowerCutsLandInsideFlushes -v (dirty-reboot seeds 1..%d)", n)
	tg := testengines.Shardstore()
	hist := map[string]int{}
	for seed := uint64(1); seed <= n; seed++ {
		m, err := New(context.Background(), Config{Checker: "crash", Target: tg, Crash: true, CrashInOp: true}, "")
		if err != nil {
			t.Fatal(err)
		}
		ops := []workloads.Op{
			{Kind: workloads.OpPut, Key: []byte("k1"), Size: 100, Seed: 1},
			{Kind: workloads.OpPut, Key: []byte("k2"), Size: 5000, Seed: 2},
			{Kind: workloads.OpDelete, Key: []byte("k1")},
			{Kind: workloads.OpPut, Key: []byte("k3"), Size: 1, Seed: 3},
			{Kind: workloads.OpDirtyReboot, Seed: seed},
		}
		for _, op := range ops {
			if f := m.Step(op); f != nil {
				t.Fatalf("dirty-reboot seed=%d: %v", seed, f)
			}
		}
		if f := m.Finish(); f != nil {
			t.Fatalf("dirty-reboot seed=%d: %v", seed, f)
		}
		pts := m.CrashPoints()
		if len(pts) != 1 {
			t.Fatalf("crash points %q, want one", pts)
		}
		_, where, _ := strings.Cut(pts[0], ":")
		hist[where]++
		m.Close()
	}
	t.Logf("where the crashes landed: %v", hist)
	if in := n - hist["end"]; in < n/3 {
		t.Fatalf("%d of %d crashes landed inside the reboot's flushes, want at least a third", in, n)
	}
}

// TestPowerCutsLandInsideLaterOps: with crash-version 3 a dirty reboot may
// arm a cut instead of crashing, and the cut lands inside the ops after it
// (puts whose memtable fills and whose index flush it cuts, an index flush), every
// such case still checking out on the correct engine.
func TestPowerCutsLandInsideLaterOps(t *testing.T) {
	const n = 90
	t.Logf("rerun: go test ./checkers/internal/machine -run TestPowerCutsLandInsideLaterOps -v (dirty-reboot seeds 1..%d)", n)
	tg := testengines.Shardstore()
	hist := map[string]int{}
	for seed := uint64(1); seed <= n; seed++ {
		m, err := New(context.Background(), Config{Checker: "crash", Target: tg, Crash: true}.WithCrashVersion(3), "")
		if err != nil {
			t.Fatal(err)
		}
		ops := []workloads.Op{{Kind: workloads.OpPut, Key: []byte("k0"), Size: 100, Seed: 1}, {Kind: workloads.OpDirtyReboot, Seed: seed}}
		for i := range 24 {
			ops = append(ops, workloads.Op{Kind: workloads.OpPut, Key: []byte{'k', byte('a' + i%7)}, Size: 300 + 97*i, Seed: uint64(i)})
			if i%8 == 7 {
				ops = append(ops, workloads.Op{Kind: workloads.OpIndexFlush})
			}
		}
		for _, op := range ops {
			if f := m.Step(op); f != nil {
				t.Fatalf("dirty-reboot seed=%d: %v", seed, f)
			}
		}
		if f := m.Finish(); f != nil {
			t.Fatalf("dirty-reboot seed=%d: %v", seed, f)
		}
		for _, p := range m.CrashPoints() {
			n, where, _ := strings.Cut(p, ":")
			if where == "cut" {
				where = "cut-after-arm"
				if n == "1" {
					where = "cut-in-reboot"
				}
			}
			hist[where]++
		}
		m.Close()
	}
	t.Logf("where the crashes landed: %v", hist)
	if hist["arm"] < n/6 || hist["cut-after-arm"] < hist["arm"]/2 {
		t.Fatalf("%d armed cuts, %d landed in a later op: want at least %d armed and half of them landed", hist["arm"], hist["cut-after-arm"], n/6)
	}
}
