package reports

import (
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/coverage"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// TestCheckSchemaCoverage: a check Result with a coverage report matches
// the check schema (a compatible addition: Results without one still do),
// and a cell with an unknown fault does not.
func TestCheckSchemaCoverage(t *testing.T) {
	rec := coverage.New()
	rec.Event(engine.EventExtentReset)
	rec.Phase(engine.PhaseReclamation, true)
	rec.SetOp("put")
	rec.DeviceFault(disk.IO{Op: disk.OpWrite}, false)
	rec.Found()
	res := checkers.Result{Checker: "conformance", Engine: "shardstore", Verdict: checkers.Pass, Coverage: rec.Report()}
	b, err := res.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateCheckJSON(b); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	bad := strings.Replace(string(b), `"eio-write"`, `"eio-sideways"`, 1)
	if err := ValidateCheckJSON([]byte(bad)); err == nil {
		t.Fatal("a cell with an unknown fault validated")
	}
}

// TestSchemasKnowEveryFault: every fault the coverage package records is
// in the check and coverage schemas' enums (a new fault column once made
// every adaptive Result invalid).
func TestSchemasKnowEveryFault(t *testing.T) {
	for _, f := range coverage.Faults() {
		rec := coverage.New()
		rec.SetOp("put")
		rec.Fault(f)
		res := checkers.Result{Checker: "conformance", Engine: "shardstore", Verdict: checkers.Pass, Coverage: rec.Report()}
		b, err := res.JSON()
		if err != nil {
			t.Fatal(err)
		}
		if err := ValidateCheckJSON(b); err != nil {
			t.Errorf("fault %s: the check schema refuses it: %v", f, err)
		}
	}
}
