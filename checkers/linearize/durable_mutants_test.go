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

// TestDurableCatchesMutants: shardstore's sync-before-root-durable mutant
// (Sync returns before the superblock slot naming its root is durable)
// loses acknowledged, synced writes when a cut lands in the window, and
// the canary (every value read back wrong) must fail any checker; the
// durable check finds each within a small budget.
func TestDurableCatchesMutants(t *testing.T) {
	for _, m := range []string{"sync-before-root-durable", "canary"} {
		t.Run(m, func(t *testing.T) {
			tg, err := testengines.ShardstoreSpec("shardstore:mutant=" + m)
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
		})
	}
}
