//go:build mutants

package differential_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/differential"
)

// TestCatchesReorderingPolicy: the differential checker catches a
// scheduling policy that reorders dependent writes — shardstore's
// coalesce-reverses-appends mutant, which lays a coalesced IO's appends
// out last first, so a later append lands where the earlier one it
// follows belongs — among six option sets where the five others (fifo
// and elevator, which the mutant leaves alone, at other IO depths, cache
// and extent sizes) agree, and names the coalescing set. The switch is
// process-wide while a store with it is open, hence no honest coalesce
// set beside it. Replay: go test -tags mutants ./checkers/differential -run TestCatchesReorderingPolicy
func TestCatchesReorderingPolicy(t *testing.T) {
	ts := targets(t,
		"shardstore:size=2MiB,sched=fifo",
		"shardstore:size=2MiB,sched=elevator",
		"shardstore:size=2MiB,sched=fifo,io-depth=1",
		"shardstore:size=2MiB,sched=elevator,cache=4KiB",
		"shardstore:size=2MiB,sched=elevator,extent=32KiB",
		"shardstore:size=2MiB,sched=coalesce,mutant=coalesce-reverses-appends",
	)
	c := differential.Config{Targets: ts, Seed: 1, Cases: 200, OutDir: t.TempDir(), ShrinkTime: 5 * time.Second}
	r, err := differential.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", r.Summary())
	if r.Verdict != checkers.Fail || len(r.Violations) != 1 {
		t.Fatalf("%s: want the reordering policy caught", r.Summary())
	}
	v := r.Violations[0]
	t.Logf("minimized %d ops to %d: %s\n%s", v.OriginalOps, len(v.Ops), v.Summary, strings.Join(v.Ops, "\n"))
	if !strings.Contains(v.Summary, "option set 5") || !strings.Contains(v.Summary, "mutant=coalesce-reverses-appends") {
		t.Errorf("violation %q: want it to name option set 5, the coalescing one", v.Summary)
	}
	// Without the mutant the same six agree.
	c.Targets = targets(t,
		"shardstore:size=2MiB,sched=fifo",
		"shardstore:size=2MiB,sched=elevator",
		"shardstore:size=2MiB,sched=fifo,io-depth=1",
		"shardstore:size=2MiB,sched=elevator,cache=4KiB",
		"shardstore:size=2MiB,sched=elevator,extent=32KiB",
		"shardstore:size=2MiB,sched=coalesce",
	)
	if r, err := differential.Run(context.Background(), c); err != nil || r.Verdict != checkers.Pass {
		t.Errorf("honest option sets: %v %s, want a pass", err, r.Summary())
	}
}
