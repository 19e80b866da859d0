package conformance_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/conformance"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// panicsOnDelete is an engine whose Delete panics.
type panicsOnDelete struct{ engine.Engine }

func (panicsOnDelete) Delete(context.Context, []byte) error {
	var m map[string]int
	m["boom"]++ // a nil-map write: the bug
	return nil
}

// TestEnginePanicIsAViolation: an engine that panics inside an op fails
// the check with a violation that names the panic and where it happened,
// minimized and written as a trace, instead of crashing the checker.
func TestEnginePanicIsAViolation(t *testing.T) {
	t.Log("replay: go test ./checkers/conformance -run TestEnginePanicIsAViolation (seed 1)")
	tg := wrappedShardstore(func(e engine.Engine) engine.Engine { return panicsOnDelete{e} })
	r, err := conformance.Run(context.Background(), conformance.Config{Target: tg, Seed: 1, Cases: 200, OutDir: t.TempDir()})
	if err != nil || r.Verdict != checkers.Fail {
		t.Fatalf("an engine that panics on Delete: %v: %s", err, r.Summary())
	}
	v := r.Violations[0]
	t.Logf("violation: %s; ops %q", v.Summary, v.Ops)
	if !strings.Contains(v.Summary, "the engine panicked: assignment to entry in nil map") || !strings.Contains(v.Summary, "panicsOnDelete.Delete") {
		t.Errorf("violation %q: want the panic and the function that panicked", v.Summary)
	}
	if len(v.Ops) != 1 || !strings.HasPrefix(v.Ops[0], "delete ") || v.TraceFile == "" {
		t.Errorf("minimized to %q (trace %q), want the one delete", v.Ops, v.TraceFile)
	}
}

// wrappedShardstore is shardstore's check target with every engine it
// opens wrapped by wrap: a known-bad engine made of a good one.
func wrappedShardstore(wrap func(engine.Engine) engine.Engine) target.Target {
	tg := testengines.Shardstore()
	open := tg.OpenDevice
	tg.OpenDevice = func(dev disk.Device) (engine.Engine, error) {
		e, err := open(dev)
		if err != nil {
			return nil, err
		}
		return wrap(e), nil
	}
	return tg
}
