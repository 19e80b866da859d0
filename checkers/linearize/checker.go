package linearize

import (
	"context"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// errNoReplay refuses --replay: a concurrent history does not replay.
var errNoReplay = errorString("linearize: a concurrent run cannot be replayed op by op: re-check its history with --history FILE, or rerun with --seed")

type errorString string

func (e errorString) Error() string { return string(e) }
func (e errorString) Unwrap() error { return checkers.ErrBadTrace }

// Checker is the linearizability checker's entry in the harness's checker
// table.
func Checker() checkers.Checker {
	return checkers.Checker{
		Name:  Name,
		Short: "Check that concurrent clients see a linearizable engine (porcupine)",
		Doc: `check linearize runs --clients concurrent clients (default 4) against one engine,
each a share of a history's ops (get, put, delete; 200 per history) on a few keys,
and, on an engine with maintenance ops, two clients running them (index-flush,
compact, reclaim, ...) throughout; it records every op's call and return on the
monotonic clock, and checks the history
with porcupine, per key: every answer must be explained by some order of the ops,
each taking effect between its call and its return. Values are compared by digest.
An op that errs or hangs (10s) is pending: it may or may not have taken effect; a
hang ends the run with verdict unknown, and an error no fault-free engine may
return (anything but a write's no-space) is a violation by itself. Porcupine's search is bounded (10s a
history): a history it cannot decide is verdict unknown, never a pass.

Not verified: list (a scan spans keys, so it cannot be checked per key: left to
conformance), crashes, properties across keys. A run samples real interleavings:
the same seed gives the same ops per client, not the same history.

A violation writes the history (--out/linearize-<engine>-<seed>.history) and
porcupine's HTML visualization beside it, and prints the smallest failing key's
ops in call order; harness check linearize --history FILE re-checks a history.`,
		Example: `  harness check linearize --engine shardstore --clients 4 --budget 60s
  harness check linearize --engine pebble --clients 8 --cases 50 --seed 3
  harness check linearize --history out/linearize-shardstore-1.history`,
		Concurrent: true,
		Run: func(ctx context.Context, c checkers.Config) (checkers.Result, error) {
			return Run(ctx, config(c))
		},
		Replay: func(context.Context, checkers.Config, workloads.Trace) (checkers.Result, error) {
			return checkers.Result{}, errNoReplay
		},
		History: func(ctx context.Context, c checkers.Config, file string) (checkers.Result, error) {
			return CheckHistory(ctx, config(c), file)
		},
	}
}

func config(c checkers.Config) Config {
	return Config{Target: c.Target, Seed: c.Seed, Cases: c.Cases, Budget: c.Budget, Clients: c.Clients, OutDir: c.OutDir, Replay: c.Replay, Live: c.Live}
}
