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
// into its trace, and the trace replays without the loop. An engine with
// no observer is refused.
func TestAdaptive(t *testing.T) {
	tg, ok, err := testengines.Shardstore().Observed(coverage.New())
	if err != nil || !ok {
		t.Fatalf("observe shardstore: %v %v", ok, err)
	}
	t.Log("replay: harness check conformance --engine shardstore --faults --adaptive --seed 1 --cases 200")
	r, err := conformance.Run(context.Background(), conformance.Config{Target: tg, Seed: 1, Cases: 200, Faults: true, Adaptive: true, OutDir: t.TempDir()})
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
	r, err = conformance.Run(context.Background(), conformance.Config{Target: bad, Seed: 1, Cases: 200, Adaptive: true, OutDir: out})
	if err != nil || r.Verdict != checkers.Fail {
		t.Fatalf("adaptive run on lose-last-write: %v: %s", err, r.Summary())
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
