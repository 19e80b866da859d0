//go:build interleave && mutants

package interleave

import (
	"slices"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers/target/shardtarget"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// The concurrency mutants of shardstore's catalogue (the paper's #11-#16)
// must be caught within a small budget of cases, and the schedule string
// of the failing case must reproduce the failure. (A budget is a few times
// the case that first caught the mutant: put-without-gate at case 91 and
// evacuation-overwrites-write at 62 since writes insert into the memtable
// under the index lock shared, with more scheduling points to a put.)
func TestCatchesConcurrencyMutants(t *testing.T) {
	for _, tc := range []struct {
		mutant, harness, strategy string
		depth, cases              int
		want                      string
	}{
		// #14: the background loop compacts without the maintenance lock
		// while a reclamation rewrites a run it merges.
		{"compaction-without-maintenance-lock", "reclaim-compact", "pct", 3, 150, "no longer adjacent"},
		// #12: a writer waiting for room in the dependency graph unseen by
		// the IO scheduler: every task blocks.
		{"admit-wait-unseen", "backpressure", "pct", 3, 20, "deadlock"},
		// #11: a put appends to an extent and indexes it without the put
		// gate, so reclamation drops the chunk and resets the extent: the
		// locator names a stale generation; or, the put's entry landing
		// before the batch's reset, reclamation finds live bytes left in
		// its victim and refuses to reset it, reporting corruption. (Caught
		// at case 556 since a put also counts its entry's bytes for the
		// index flush's room, one more scheduling point; at 191 since the
		// row cache's locks added scheduling points to every put and get;
		// at case 26 before.)
		{"put-without-gate", "background", "pct", 3, 1500, "stale|live bytes remain after evacuation"},
		// #16: evacuation points the key at its copy using the entry it
		// read before a client's put of the same key: the old value returns.
		{"evacuation-overwrites-write", "background", "pct", 3, 150, "get k"},
		// A Sync that returns before the root naming its writes is durable,
		// caught by a power cut at a step of a concurrent execution: a key
		// a returned Sync covered is gone from a crash state.
		{"sync-before-root-durable", "crash", "pct", 3, 40, "a Sync covering its put returned before the crash"},
		// Close without waiting for the calls in flight: a put that passed
		// the open check appends after the final flush and returns nil,
		// and the reopened store lacks it (or Close finds its reservation
		// neither used nor released).
		{"close-ignores-calls-in-flight", "close-busy", "pct", 3, 300, "after a close and reopen|close while writers put"},
	} {
		t.Run(tc.mutant, func(t *testing.T) {
			mutant.ReleaseAll()
			defer mutant.ReleaseAll()
			o := shardtarget.Options()
			o.Mutant = tc.mutant
			tg, err := shardtarget.New(o, shardtarget.DeviceBytesDefault)
			if err != nil {
				t.Fatal(err)
			}
			h, _ := lookup(tc.harness)
			for i := range tc.cases {
				seed := caseSeed(1, i)
				var cr caseResult
				if tc.strategy == "pct" {
					cr = runCase(tg, h, seed, NewPCT(seed, tc.depth, pctSteps), StepsDefault)
				} else {
					cr = runCase(tg, h, seed, NewRandom(seed), StepsDefault)
				}
				if cr.problem == "" {
					continue
				}
				if !slices.ContainsFunc(strings.Split(tc.want, "|"), func(w string) bool { return strings.Contains(cr.problem, w) }) {
					t.Fatalf("case %d failed, but not as the mutant should (%q): %s", i, tc.want, cr.problem)
				}
				r := Replay{Harness: h.name, Seed: seed, Schedule: cr.out.Choices}
				t.Logf("caught at case %d (%s, depth %d): %s\n  %d choices; replay: go test -tags 'interleave mutants' or harness check interleave --engine shardstore:mutant=%s --replay %.60s...",
					i+1, tc.strategy, tc.depth, firstLine(cr.problem), len(cr.out.Choices), tc.mutant, r)
				mutant.ReleaseAll() // the failed case did not close its store
				parsed, err := ParseReplay(r.String())
				if err != nil {
					t.Fatal(err)
				}
				again := runCase(tg, h, parsed.Seed, NewReplay(parsed.Schedule), StepsDefault)
				if again.out.Err != nil || firstLine(again.problem) != firstLine(cr.problem) || !slices.Equal(again.out.Choices, cr.out.Choices) {
					t.Fatalf("replay of the schedule string did not reproduce %q: got %q (%v)", firstLine(cr.problem), firstLine(again.problem), again.out.Err)
				}
				return
			}
			t.Fatalf("mutant %s not caught by %s in %d cases of %s", tc.mutant, tc.strategy, tc.cases, tc.harness)
		})
	}
}
