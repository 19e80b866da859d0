//go:build mutants

package mutants_test

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/conformance"
	"github.com/gauntlet-kv/gauntlet/checkers/crash"
	"github.com/gauntlet-kv/gauntlet/checkers/linearize"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// The catalogue test runs every expected detector of every catalogued
// mutant (engine/shardstore/mutant.Catalogue) directly through the checker
// packages, on a fixed seed and a small budget, and fails when none of them
// catches the mutant. It is the fixed-seed proof STYLE.md asks of the
// mutant table; harness mutants is the scoring run with real budgets.
//
// Cells run one after another: a mutant is process-wide (mutant.Activate
// refuses a second one) and rapid's settings are too, so one process runs
// one checker at a time; a second core would only add wake-ups.

// engines is the engine table the test resolves specs against: shardstore
// alone, as the harness's would for a spec naming it.
func engines() engine.Drivers { return engine.Drivers{shardstore.Driver()} }

// The budget of one cell: a mutant a detector catches is usually caught in
// its first few cases; one it misses costs the whole budget, so the budget
// bounds the test (about 40 cells).
const (
	conformanceCases = 3000
	crashCases       = 3000
	killCases        = 8
	// A race shows when the scheduler lets it: put-without-gate took
	// 9,279, 33 and 1,375 histories (17.6, 0.2 and 3.2 s) on seeds 1 to 3
	// of harness check on an idle machine (2026-12-06), more beside other
	// tests; seed 1 alone missed it in 45 s (19,545 histories) in a CI run.
	linearizeCases, linearizeBudget = 100_000, 45 * time.Second
	linearizeSeeds                  = 3
	cellBudget                      = 6 * time.Second
	killBudget                      = 15 * time.Second
	// Kill mode minimizes with child processes: a few runs say enough.
	killDDMinRuns, killTimedKills = 8, 2
	// shrinkTime bounds minimization: the test needs the detection, not
	// the smallest trace (a replay command finds that).
	shrinkTime = time.Second
	seed       = 1
)

// survivors are the mutants no sequential detector catches within the
// budget above, with the reason and what the checkers would need (input to
// the checkers' work): logged, not failed. A mutant leaves this table once
// a detector catches it on every run; the test logs a catch of one.
var survivors = map[string]string{
	"uuid-reused-across-opens": "Identical frame headers matter only when a slot covering frames that never reached the device is verified: " +
		"a power cut inside a flush round that keeps the data and drops the slot, a reopen of that durable state that writes frames at the same offsets again, and a second cut keeping this attempt's slot and not its data. " +
		"The crash checker's retries (crash-versions 4 and 5) build that sequence, but whether the first crash leaves a state that kept the data and not the slot depends on which of a round's concurrent writes the cut left pending: " +
		"on seed 1 (1,000 cases, crash-version 5) it was caught at case 348 in 4 of 15 attempts at load 5 to 9 and in none of 14 during a full package run at load ~10. " +
		"harness mutants gives it further seeds; a deterministic catch needs cuts placed by write rather than by count, or a continuation on every crash state.",
	"write-without-reset-dependency": "It shows when a reclaimed extent whose frames the newest superblock slot's delta covers is reused by the next put before any slot records the reset, " +
		"and a crash keeps the new frames and loses that slot: the newest slot then fails to verify, the older one is chosen, and what only the newer made durable is lost. " +
		"On seed 1, case 1,121 of the crash stream catches it on an idle machine (every run of 2026-12-06/07, 2.3 to 4.4 s); beside the other test packages of CI it passed 1,400 cases once: " +
		"which writes of the reset extent a round has issued when the cut lands depends on the engine's background work. Seeds 2 to 6 pass 30 s (seed 5: 9,185 cases). " +
		"harness mutants --budget 5m catches it (docs/TESTING.md).",
	"put-without-gate": "A race between a put and reclamation's barrier: linearize catches it by timing (seed 1 at 3,883 histories in the 2026-12-07 harness mutants run, 9,279 and 19,545 in others; seeds 2 and 3 at 33 and 1,375 idle), " +
		"and none of seeds 1-3 in 15 s each beside CI's other test packages once. The interleave checker's controlled schedules are the deterministic way (TestCatchesConcurrencyMutants).",
}

// slow are the mutants whose catch depends on the engine's timing (which
// of a round's concurrent writes a power cut leaves pending), with the
// cases each attempt runs and the time all attempts may take: their crash
// cells run again on the same seed until one catches it (a catch is
// logged: such a mutant is a known survivor too, not caught on every run).
// uuid-reused-across-opens needs a crash-version 4/5 retry whose first
// crash continues on the state that kept the data and not the slot: on
// seed 1 the stream of crash.CasesDefault cases (harness check crash's)
// catches it at case 348 in some runs (1.3 s idle, 3 to 5 s beside other
// tests) and in none under heavy load.
var slow = map[string]struct {
	cases  int
	budget time.Duration
}{
	"uuid-reused-across-opens":       {crash.CasesDefault, 20 * time.Second},
	"write-without-reset-dependency": {crashCases, 20 * time.Second},
}

// TestCatalogue runs each mutant's expected detectors. The canary must be
// caught by every detector; any other mutant by at least one, unless it is
// a concurrency mutant (waiting for the interleave checker) or a known
// survivor.
func TestCatalogue(t *testing.T) {
	if !mutant.Built() {
		t.Fatal("built without -tags mutants") // the build tag above makes this impossible
	}
	// A checker allocates fast and keeps little (as harness check does).
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	for _, m := range mutant.Catalogue() {
		t.Run(m.Name, func(t *testing.T) {
			if m.Waits() {
				t.Logf("waiting for the interleave checker (not run): %s", m.Why)
				return
			}
			caught := 0
			for _, d := range m.Expect {
				start := time.Now()
				r, err := runDetector(t, m.Name, d)
				for attempt := 2; err == nil && r.Verdict != checkers.Fail && d.Checker == crash.Name && time.Since(start) < slow[m.Name].budget; attempt++ {
					t.Logf("attempt %d of %s (its catch depends on timing)", attempt, d)
					r, err = runDetector(t, m.Name, d)
				}
				if err != nil {
					t.Errorf("%s: %v", d, err)
					continue
				}
				if r.Verdict == checkers.Fail {
					caught++
					t.Logf("caught by %s after %d cases, %d ops, %s: %s", d, r.Cases, r.Ops, r.Elapsed.Round(time.Millisecond), firstViolation(r))
					continue
				}
				t.Logf("not caught by %s: verdict %s after %d cases, %d ops, %s (%s)", d, r.Verdict, r.Cases, r.Ops, r.Elapsed.Round(time.Millisecond), replay(m.Name, d))
				if m.ID == mutant.Canary {
					t.Errorf("the canary survived %s: %s", d, replay(m.Name, d))
				}
			}
			why, known := survivors[m.Name]
			switch {
			case caught == 0 && known:
				t.Logf("survivor (known): %s", why)
			case caught == 0:
				t.Errorf("no expected detector (%v) caught it on seed %d; replay: %s", m.Expect, seed, replay(m.Name, m.Expect[0]))
			case known:
				// A survivor caught by timing (a crash that landed while a
				// round was in flight) is not caught reliably: a failure here
				// would make the test flaky. Drop it once it is caught on
				// every run.
				t.Logf("caught, yet listed in survivors (by timing?): %s", why)
			}
			if mutant.On(m.ID) {
				t.Errorf("still active after its cells: an engine was not closed")
			}
		})
	}
}

// TestCatalogueBaseline runs every detector the catalogue expects on the
// engine without a mutant: each must pass, or a mutant it "catches" proves
// nothing (harness mutants keeps the same baseline row).
func TestCatalogueBaseline(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	for _, d := range []mutant.Detector{mutant.Conformance, mutant.ConformanceFaults, mutant.CrashBlock, mutant.CrashBlockFaults, mutant.CrashKill} {
		r, err := runDetector(t, "", d)
		if err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		if r.Verdict != checkers.Pass {
			t.Errorf("%s on shardstore without a mutant: verdict %s after %d cases: %s", d, r.Verdict, r.Cases, firstViolation(r))
			continue
		}
		t.Logf("%s passes: %d cases, %d ops, %s", d, r.Cases, r.Ops, r.Elapsed.Round(time.Millisecond))
	}
}

// firstViolation is r's first violation in a line, with the length of its
// minimized trace.
func firstViolation(r checkers.Result) string {
	if len(r.Violations) == 0 {
		return "no violation"
	}
	v := r.Violations[0]
	s := v.Summary
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return fmt.Sprintf("%s (%d ops minimized from %d)", s, len(v.Ops), v.OriginalOps)
}

// runDetector runs detector d with the mutant named name on (none if
// name is empty).
func runDetector(t *testing.T, name string, d mutant.Detector) (checkers.Result, error) {
	ctx := context.Background()
	spec := "shardstore"
	if name != "" {
		spec += ":mutant=" + name
	}
	dr, o, err := engines().Resolve(spec)
	if err != nil {
		return checkers.Result{}, err
	}
	out := t.TempDir()
	switch {
	case d.Checker == conformance.Name:
		tg, err := target.For(dr, o)
		if err != nil {
			return checkers.Result{}, err
		}
		return conformance.Run(ctx, conformance.Config{Target: tg, Seed: seed, Cases: conformanceCases, Budget: cellBudget,
			Faults: d.Faults, ShrinkTime: shrinkTime, OutDir: out})
	case d.Checker == crash.Name && d.Mode == crash.ModeBlock:
		tg, err := target.For(dr, o)
		if err != nil {
			return checkers.Result{}, err
		}
		cases := crashCases
		if sl, ok := slow[name]; ok {
			cases = sl.cases
		}
		return crash.Run(ctx, crash.Config{Target: tg, Seed: seed, Cases: cases, Budget: cellBudget,
			Faults: d.Faults, ShrinkTime: shrinkTime, OutDir: out})
	case d.Checker == crash.Name && d.Mode == crash.ModeKill:
		// A kill-mode child is this test binary again (crash.TestChild;
		// TestMain in run_test.go runs it), built with -tags mutants, so
		// the spec's mutant is on in the child that runs the workload and
		// in the one that reopens the directory.
		spec = crash.KillDeviceSpec(spec, o)
		tg, err := killTarget(spec)
		if err != nil {
			return checkers.Result{}, err
		}
		return crash.RunKill(ctx, crash.KillConfig{Target: tg, Child: crash.TestChild(spec), Seed: seed,
			Cases: killCases, Budget: killBudget, DDMinRuns: killDDMinRuns, TimedKills: killTimedKills, OutDir: out})
	case d.Checker == linearize.Name:
		tg, err := target.For(dr, o)
		if err != nil {
			return checkers.Result{}, err
		}
		// A race shows by timing, and a seed's op mix and key choice make
		// the window wider or narrower: the budget is shared by a few
		// seeds, the next tried only if the one before caught nothing.
		var r checkers.Result
		for i := range uint64(linearizeSeeds) {
			r, err = linearize.Run(ctx, linearize.Config{Target: tg, Seed: seed + i, Cases: linearizeCases, Budget: linearizeBudget / linearizeSeeds, OutDir: out})
			if err != nil || r.Verdict == checkers.Fail {
				break
			}
			t.Logf("linearize on seed %d: %s", seed+i, r.Summary())
		}
		return r, err
	}
	return checkers.Result{}, fmt.Errorf("detector %s: not one this test runs", d)
}

// killTarget is the directory target of a kill-mode check of spec.
func killTarget(spec string) (target.Target, error) {
	dr, o, err := engines().Resolve(spec)
	if err != nil {
		return target.Target{}, err
	}
	return target.FromDriver(dr, o), nil
}

// replay is the command that runs detector d on the mutant named name as
// this test did.
func replay(name string, d mutant.Detector) string {
	var b strings.Builder
	fmt.Fprintf(&b, "go run -tags mutants ./cmd/harness check %s --engine shardstore:mutant=%s --seed %d", d.Checker, name, seed)
	if d.Mode != "" {
		fmt.Fprintf(&b, " --mode %s", d.Mode)
	}
	if d.Faults {
		b.WriteString(" --faults")
	}
	cases := conformanceCases
	switch {
	case d.Mode == crash.ModeKill:
		cases = killCases
	case d.Checker == crash.Name && slow[name].cases > 0:
		cases = slow[name].cases
	case d.Checker == crash.Name:
		cases = crashCases
	}
	fmt.Fprintf(&b, " --cases %d", cases)
	return b.String()
}
