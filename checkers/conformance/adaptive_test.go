package conformance_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/conformance"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/toystore"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/coverage"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// TestAdaptive: an adaptive run passes a correct engine and reaches fault
// cells; it catches a buggy one, writes the weights that drew the case
// into its trace, and the trace replays without the loop. In its warm-up
// it draws the fixed mix's cases, so a bug the fixed mix finds there is
// found at the same case with the same ops. An engine with no observer is
// refused.
func TestAdaptive(t *testing.T) {
	t.Log("replay: harness check conformance --engine shardstore --faults --adaptive --adaptive-warmup 0 --seed 1 --cases 200")
	tg, ok, err := testengines.Shardstore().Observed(coverage.New())
	if err != nil || !ok {
		t.Fatalf("observe shardstore: %v %v", ok, err)
	}
	// No warm-up: the 200 cases are all steered.
	r, err := conformance.Run(context.Background(), conformance.Config{Target: tg, Seed: 1, Cases: 200, Faults: true, Adaptive: true, AdaptiveWarmup: -1, OutDir: t.TempDir()})
	if err != nil || r.Verdict != checkers.Pass || r.Cases != 200 {
		t.Fatalf("adaptive run on shardstore: %v: %s", err, r.Summary())
	}
	rep := tg.Observer.(*coverage.Recorder).Report()
	if n := len(rep.Cells); n < 10 {
		t.Errorf("adaptive run reached %d fault cells in 200 cases, want at least 10", n)
	}
	// The fixed mix injects no latency; the loop's latency class does.
	if !rep.Reached("*×latency×*") {
		t.Errorf("adaptive run with faults injected no latency fault in 200 cases")
	}

	// The toy engine reports no states, but the loop still runs (on the
	// ops' own cells, none here): what matters is the trace.
	bad := testengines.Toystore(toystore.BugLoseLastWrite)
	bad.WithObserver = func(obs engine.Observer) (target.Target, error) { return bad, nil }
	bad, _, err = bad.Observed(coverage.New())
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	fixed, err := conformance.Run(context.Background(), conformance.Config{Target: bad, Seed: 1, Cases: 200, OutDir: t.TempDir()})
	if err != nil || fixed.Verdict != checkers.Fail {
		t.Fatalf("fixed-mix run on lose-last-write: %v: %s", err, fixed.Summary())
	}
	r, err = conformance.Run(context.Background(), conformance.Config{Target: bad, Seed: 1, Cases: 200, Adaptive: true, OutDir: out})
	if err != nil || r.Verdict != checkers.Fail {
		t.Fatalf("adaptive run on lose-last-write: %v: %s", err, r.Summary())
	}
	if fixed.Cases >= checkers.AdaptiveWarmupDefault {
		t.Fatalf("the fixed mix took %d cases, not within the warm-up's %d: pick a bug it finds sooner", fixed.Cases, checkers.AdaptiveWarmupDefault)
	}
	if r.Cases != fixed.Cases || r.Ops != fixed.Ops || strings.Join(r.Violations[0].Ops, "\n") != strings.Join(fixed.Violations[0].Ops, "\n") {
		t.Errorf("in the warm-up the adaptive run parted from the fixed mix: case %d, %d ops, %q; fixed mix case %d, %d ops, %q",
			r.Cases, r.Ops, r.Violations[0].Ops, fixed.Cases, fixed.Ops, fixed.Violations[0].Ops)
	}
	file := r.Violations[0].TraceFile
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "adaptive-weights=") {
		t.Errorf("trace %s has no adaptive-weights attribute:\n%s", file, b)
	}
	fh, _ := os.Open(file)
	defer fh.Close()
	tr, err := workloads.ParseTrace(fh)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := conformance.Replay(context.Background(), conformance.Config{Target: bad}, tr)
	if err != nil || rr.Verdict != checkers.Fail {
		t.Fatalf("replay of the adaptive run's trace without the loop: %v: %s", err, rr.Summary())
	}

	if _, err := conformance.Run(context.Background(), conformance.Config{Target: testengines.Shardstore(), Cases: 1, Adaptive: true}); err == nil || !strings.Contains(err.Error(), "--adaptive") {
		t.Errorf("adaptive run of an unobserved target: %v, want an error naming --adaptive", err)
	}
}
