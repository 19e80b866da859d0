package crash_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/crash"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// TestFormatCut: block mode cuts the power at every IO of shardstore's
// first open and opens every crash state; shardstore passes. An engine
// that answers a torn format with an error that is not ErrCorruption
// (here: shardstore's refusal with its cause dropped, as a Find that
// returns a slot that does not decode makes it say "open it with
// extent=0B") fails before any case runs.
func TestFormatCut(t *testing.T) {
	var logged []string
	logf := func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	good := testengines.Shardstore()
	r, err := crash.Run(context.Background(), crash.Config{Target: good, Seed: 1, Cases: 1, OutDir: t.TempDir(), Log: logf})
	if err != nil || r.Verdict != checkers.Pass {
		t.Fatalf("shardstore: %v: %s", err, r.Summary())
	}
	var states int
	for _, l := range logged {
		fmt.Sscanf(strings.TrimPrefix(l, "crash: power cuts during the first open: "), "%d", &states)
	}
	t.Logf("%d crash states of shardstore's first open opened", states)
	if states < 4 {
		t.Errorf("the check opened %d crash states of shardstore's first open (log %q), want at least 4: its format writes two slots, a marker and flushes", states, logged)
	}

	blames := good
	blames.OpenDevice = func(dev disk.Device) (engine.Engine, error) {
		e, err := good.OpenDevice(dev)
		if errors.Is(err, engine.ErrCorruption) {
			return nil, fmt.Errorf("shardstore: the device was formatted with extent=0B: open it with extent=0B: %w", engine.ErrInvalidArgument)
		}
		return e, err
	}
	r, err = crash.Run(context.Background(), crash.Config{Target: blames, Seed: 1, Cases: 100, OutDir: t.TempDir()})
	if err != nil || r.Verdict != checkers.Fail || r.Cases != 0 {
		t.Fatalf("an engine that blames the options for a torn format: %v: %s, want a fail before any case", err, r.Summary())
	}
	if v := r.Violations[0]; !strings.Contains(v.Summary, "power cut during the first open") || !strings.Contains(v.Summary, "extent=0B") {
		t.Errorf("violation %q: want it to name the check and the engine's answer", v.Summary)
	}

	if r, err := crash.Run(context.Background(), crash.Config{Target: blames, Seed: 1, Cases: 1, OutDir: t.TempDir(), NoFormatCut: true}); err != nil || r.Verdict != checkers.Pass {
		t.Errorf("NoFormatCut: the cases alone should pass on that engine: %v: %s", err, r.Summary())
	}
}
