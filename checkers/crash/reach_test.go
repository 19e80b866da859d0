package crash_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/conformance"
	"github.com/gauntlet-kv/gauntlet/checkers/crash"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/machine"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/toystore"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// TestPowerCutInsideSync: toystore's commit-first bug (the commit header
// written before the log it covers is flushed) is out of reach of crashes
// between ops, and caught once a dirty reboot can cut power between the
// header's write and the flush; the trace records the cut, and replays.
func TestPowerCutInsideSync(t *testing.T) {
	tg := testengines.Toystore(toystore.BugCommitFirst)
	old := run(t, crash.Config{Target: tg, Seed: 1, Cases: 500, BetweenOpsOnly: true})
	if old.Verdict != checkers.Pass {
		t.Fatalf("commit-first caught with crashes between ops only: %s (the bug should need a power cut inside a Sync)", old.Summary())
	}
	r := run(t, crash.Config{Target: tg, Seed: 1, Cases: 500})
	if r.Verdict != checkers.Fail {
		t.Fatalf("commit-first not caught in 500 cases with power cuts inside flushes")
	}
	v := r.Violations[0]
	t.Logf("caught after %d cases, minimized from %d to %d ops", r.Cases, v.OriginalOps, len(v.Ops))
	if len(v.Ops) > 10 {
		t.Errorf("minimized to %d ops, want at most 10", len(v.Ops))
	}
	tr := readTrace(t, v.TraceFile)
	if got := traceAttr(tr, machine.AttrCrashVersion); got != machine.CrashVersion {
		t.Errorf("trace crash-version=%q, want %q", got, machine.CrashVersion)
	}
	if pts := traceAttr(tr, machine.AttrCrashPoints); !strings.Contains(pts, ":io") {
		t.Errorf("trace crash-points=%q records no power cut inside a reboot's flushes", pts)
	}
	rr, err := crash.Replay(context.Background(), crash.Config{Target: tg}, tr)
	if err != nil || rr.Verdict != checkers.Fail || rr.Violations[0].Summary != v.Summary || rr.Reason != "" {
		t.Fatalf("replay: %v %s (reason %q), want %q", err, rr.Summary(), rr.Reason, v.Summary)
	}
}

// TestRetryAfterCrash: toystore's boot-reused bug (a boot whose records
// were all lost reuses its number, so records written again byte for byte
// revive one that survived behind them) passes crash-version 3 and is
// caught once a reboot cut inside its flushes retries a prefix of its
// lost writes and crashes again; the trace records the retries and
// replays.
func TestRetryAfterCrash(t *testing.T) {
	tg := testengines.Toystore(toystore.BugBootReused)
	old := run(t, crash.Config{Target: tg, Seed: 1, Cases: 500, NoRetry: true})
	if old.Verdict != checkers.Pass {
		t.Fatalf("boot-reused caught without retries: %s (the bug should need a retry)", old.Summary())
	}
	r := run(t, crash.Config{Target: tg, Seed: 1, Cases: 500, ShrinkTime: 3 * time.Second})
	if r.Verdict != checkers.Fail {
		t.Fatalf("boot-reused not caught in 500 cases with retries")
	}
	v := r.Violations[0]
	t.Logf("caught after %d cases, minimized from %d to %d ops: %s", r.Cases, v.OriginalOps, len(v.Ops), v.Summary)
	tr := readTrace(t, v.TraceFile)
	if pts := traceAttr(tr, machine.AttrCrashPoints); !strings.Contains(pts, ":retry") {
		t.Errorf("trace crash-points=%q records no retry", pts)
	}
	rr, err := crash.Replay(context.Background(), crash.Config{Target: tg}, tr)
	if err != nil || rr.Verdict != checkers.Fail || rr.Violations[0].Summary != v.Summary {
		t.Fatalf("replay: %v %s (reason %q), want %q", err, rr.Summary(), rr.Reason, v.Summary)
	}
	// The correct store passes the same run.
	if ok := run(t, crash.Config{Target: testengines.Toystore(toystore.BugNone), Seed: 1, Cases: 500}); ok.Verdict != checkers.Pass {
		t.Fatalf("the correct toystore: %s", ok.Summary())
	}
}

// TestRetryContinuesNear: half the reboots that will retry continue on the
// crash state that lost the least (crash-version 5), where the first
// attempt's writes survived and its last did not; toystore's boot-reused
// bug is then caught on every seed of 1 to 8, in fewer cases than with a
// random state (version 4: 7 seeds, 4,385 cases in all; version 5: 8 in
// 1,356). A version 4 trace replays as written.
func TestRetryContinuesNear(t *testing.T) {
	tg := testengines.Toystore(toystore.BugBootReused)
	const seeds, cases = 8, 2000
	total := func(near bool) (caught int, all int64) {
		for seed := uint64(1); seed <= seeds; seed++ {
			r := run(t, crash.Config{Target: tg, Seed: seed, Cases: cases, NoRetryNear: !near, ShrinkTime: time.Millisecond})
			all += r.Cases
			if r.Verdict == checkers.Fail {
				caught++
			}
		}
		return caught, all
	}
	oldCaught, oldCases := total(false)
	caught, all := total(true)
	t.Logf("boot-reused, seeds 1 to %d: version 4 caught %d in %d cases, version 5 %d in %d", seeds, oldCaught, oldCases, caught, all)
	if caught != seeds || all >= oldCases {
		t.Errorf("version 5 caught %d of %d seeds in %d cases, version 4 %d in %d: want every seed, in fewer cases", caught, seeds, all, oldCaught, oldCases)
	}
	r := run(t, crash.Config{Target: tg, Seed: 1, Cases: cases, NoRetryNear: true, ShrinkTime: time.Millisecond})
	if r.Verdict != checkers.Fail {
		t.Skip("version 4 did not catch it on seed 1: no trace to replay")
	}
	tr := readTrace(t, r.Violations[0].TraceFile)
	if got := traceAttr(tr, machine.AttrCrashVersion); got != "4" {
		t.Fatalf("a NoRetryNear run wrote crash-version=%q, want 4", got)
	}
	rr, err := crash.Replay(context.Background(), crash.Config{Target: tg}, tr)
	if err != nil || rr.Verdict != checkers.Fail || rr.Violations[0].Summary != r.Violations[0].Summary {
		t.Fatalf("version 4 replay: %v %s, want %q", err, rr.Summary(), r.Violations[0].Summary)
	}
}

// TestVersion1TraceReplaysBetweenOps: a trace without crash-version (as
// written before power cuts) replays with every crash after the reboot's
// flushes: the commit-first bug, which needs a cut, is not reproduced.
func TestVersion1TraceReplaysBetweenOps(t *testing.T) {
	tg := testengines.Toystore(toystore.BugCommitFirst)
	r := run(t, crash.Config{Target: tg, Seed: 1, Cases: 500})
	if r.Verdict != checkers.Fail {
		t.Fatal("commit-first not caught")
	}
	tr := readTrace(t, r.Violations[0].TraceFile)
	var attrs []workloads.Attr
	for _, a := range tr.Header.Attrs {
		if a.Key != machine.AttrCrashVersion && a.Key != machine.AttrCrashPoints {
			attrs = append(attrs, a)
		}
	}
	tr.Header.Attrs = attrs
	rr, err := crash.Replay(context.Background(), crash.Config{Target: tg}, tr)
	if err != nil || rr.Verdict != checkers.Pass {
		t.Fatalf("version-1 replay: %v %s, want pass (crashes between ops only)", err, rr.Summary())
	}
}

// TestUnknownCrashVersion: a trace of a crash-version this harness does
// not know is refused as a bad trace, not replayed with a guess.
func TestUnknownCrashVersion(t *testing.T) {
	tr := workloads.Trace{Header: workloads.Header{Attrs: []workloads.Attr{{Key: machine.AttrCrashVersion, Value: "6"}}},
		Ops: []workloads.Op{{Kind: workloads.OpDirtyReboot, Seed: 1}}}
	_, err := crash.Replay(context.Background(), crash.Config{Target: testengines.Toystore(toystore.BugNone)}, tr)
	if !errors.Is(err, checkers.ErrBadTrace) {
		t.Fatalf("crash-version=6: %v, want checkers.ErrBadTrace", err)
	}
}

// TestFaultsMeetCrashes: toystore's persist-on-flush-error bug (a flush
// that fails with EIO still marks its writes persistent) passes
// conformance with faults (it reopens on the same image, where the writes
// are still readable) and the crash checker without faults; the crash
// checker with faults, which recovers from some faults through a crash,
// catches it, and the trace replays.
func TestFaultsMeetCrashes(t *testing.T) {
	tg := testengines.Toystore(toystore.BugPersistOnFlushError)
	const cases = 500
	t.Logf("replay: harness check conformance --engine %s --faults --seed 1 --cases %d", tg.Name, cases)
	cr, err := conformance.Run(context.Background(), conformance.Config{Target: tg, Seed: 1, Cases: cases, Faults: true, OutDir: t.TempDir()})
	if err != nil || cr.Verdict != checkers.Pass {
		t.Fatalf("conformance --faults: %v %s, want pass (the bug needs a crash)", err, cr.Summary())
	}
	if r := run(t, crash.Config{Target: tg, Seed: 1, Cases: cases}); r.Verdict != checkers.Pass {
		t.Fatalf("crash without faults: %s, want pass (the bug needs a fault)", r.Summary())
	}
	r := run(t, crash.Config{Target: tg, Seed: 1, Cases: cases, Faults: true})
	if r.Verdict != checkers.Fail {
		t.Fatalf("crash --faults: not caught in %d cases", cases)
	}
	v := r.Violations[0]
	if !strings.Contains(v.Replay, "--faults") {
		t.Errorf("replay command %q lacks --faults", v.Replay)
	}
	if len(v.Ops) > 10 {
		t.Errorf("minimized to %d ops, want at most 10", len(v.Ops))
	}
	tr := readTrace(t, v.TraceFile)
	rr, err := crash.Replay(context.Background(), crash.Config{Target: tg, Faults: true}, tr)
	if err != nil || rr.Verdict != checkers.Fail || rr.Violations[0].Summary != v.Summary {
		t.Fatalf("replay: %v %s, want %q", err, rr.Summary(), v.Summary)
	}
}

// TestFaultsHonestPasses: with faults and crashes together, the honest
// toystore and the model-backed checks agree.
func TestFaultsHonestPasses(t *testing.T) {
	for _, seed := range seeds {
		r := run(t, crash.Config{Target: testengines.Toystore(toystore.BugNone), Seed: seed, Cases: 1000, Faults: true})
		if r.Verdict != checkers.Pass || r.Cases != 1000 {
			t.Fatalf("seed %d: want pass after 1000 cases", seed)
		}
	}
}

// TestCheckersDrawOwnStreams: conformance and the crash checker given the
// same seed and the same alphabet (no dirty reboots) no longer run the
// same cases: each draws from its own stream (checkers.StreamSeed), so a
// bug both can find is found at different cases, through different ops.
func TestCheckersDrawOwnStreams(t *testing.T) {
	tg := testengines.Toystore(toystore.BugStaleDelete)
	t.Logf("replay: harness check conformance --engine %s --seed 1 --cases 300", tg.Name)
	cr, err := conformance.Run(context.Background(), conformance.Config{Target: tg, Seed: 1, Cases: 300, OutDir: t.TempDir()})
	if err != nil || cr.Verdict != checkers.Fail {
		t.Fatalf("conformance: %v %s, want fail", err, cr.Summary())
	}
	kr := run(t, crash.Config{Target: tg, Seed: 1, Cases: 300, Weights: workloads.DefaultWeights(), BetweenOpsOnly: true})
	if kr.Verdict != checkers.Fail {
		t.Fatalf("crash: want fail")
	}
	c, k := cr.Violations[0], kr.Violations[0]
	t.Logf("conformance: case %d, %d ops; crash: case %d, %d ops", cr.Cases, c.OriginalOps, kr.Cases, k.OriginalOps)
	if cr.Cases == kr.Cases && c.OriginalOps == k.OriginalOps && strings.Join(c.Ops, "\n") == strings.Join(k.Ops, "\n") {
		t.Fatal("conformance and crash found the bug at the same case through the same ops: they draw the same stream")
	}
}

// TestSameSeedSameResultCutsAndFaults: with power cuts and faults, a seed
// still gives one run (wall-clock fields aside).
func TestSameSeedSameResultCutsAndFaults(t *testing.T) {
	var out []string
	for range 2 {
		r := run(t, crash.Config{Target: testengines.Toystore(toystore.BugCommitFirst), Seed: 5, Cases: 300, Faults: true})
		if r.Verdict != checkers.Fail {
			t.Fatal("commit-first not caught")
		}
		r.Elapsed, r.Detected = 0, 0 // wall-clock times differ between runs
		r.Violations[0].TraceFile, r.Violations[0].Replay = "", ""
		b, _ := r.JSON()
		out = append(out, string(b))
	}
	if out[0] != out[1] {
		t.Fatalf("two runs differ:\n%s\n%s", out[0], out[1])
	}
}
