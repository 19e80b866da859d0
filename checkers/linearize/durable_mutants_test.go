//go:build mutants

package linearize_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/linearize"
)

// TestDurableCatchesSyncMutant: shardstore's sync-before-root-durable
// mutant (Sync returns before the superblock slot naming its root is
// durable) loses acknowledged, synced writes when a cut lands in the
// window; the durable check finds it within a small budget.
func TestDurableCatchesSyncMutant(t *testing.T) {
	tg, err := testengines.ShardstoreSpec("shardstore:mutant=sync-before-root-durable")
	if err != nil {
		t.Fatal(err)
	}
	r := runDurable(t, linearize.Config{Target: tg, Seed: 1, Cases: 5000, Budget: 30 * time.Second})
	if r.Verdict != checkers.Fail || len(r.Violations) != 1 {
		t.Fatalf("verdict %s after %d cases, want fail", r.Verdict, r.Cases)
	}
	if v := r.Violations[0]; !strings.HasPrefix(v.Replay, "harness check durable ") {
		t.Errorf("replay %q", v.Replay)
	}
}
