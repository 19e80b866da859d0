package conformance

import (
	"context"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// Checker is the conformance checker's entry in the harness's checker
// table.
func Checker() checkers.Checker {
	return checkers.Checker{
		Name:  Name,
		Short: "Check that an engine answers like the reference model after every op",
		Doc: `check conformance draws random op sequences from a biased alphabet (get, put,
delete, list, index-flush, compact, reclaim, clean reboot, ..., simplest first so
shrinking prefers simple ops); after every op the engine must answer exactly as the
model does, and CheckInvariants must hold. --faults (engines on a device:
shardstore) injects IO errors and bit flips: an op hit by one may fail, never return
wrong data. --adaptive steers the op mix and the kinds of fault, case by case,
toward the engine states and fault-space cells reached least so far (and adds
latency faults); a failure's trace replays without it. A violation is minimized by rapid's shrinker and written as a trace
(--out/conformance-<engine>-<seed>.trace) with the command that replays it.`,
		Example: `  harness check conformance --engine pebble --seed 1 --budget 60s
  harness check conformance --engine shardstore --faults --cases 500
  harness check conformance --replay out/conformance-shardstore-1.trace`,
		Faults:   true,
		Batch:    true,
		Adaptive: true,
		Run: func(ctx context.Context, c checkers.Config) (checkers.Result, error) {
			return Run(ctx, config(c))
		},
		Replay: func(ctx context.Context, c checkers.Config, tr workloads.Trace) (checkers.Result, error) {
			return Replay(ctx, config(c), tr)
		},
	}
}

func config(c checkers.Config) Config {
	return Config{Target: c.Target, Seed: c.Seed, Cases: c.Cases, Budget: c.Budget, Faults: c.Faults, Batch: c.Batch, Adaptive: c.Adaptive, AdaptiveWarmup: c.AdaptiveWarmup, OutDir: c.OutDir, Replay: c.Replay, Live: c.Live, Found: c.Found}
}
