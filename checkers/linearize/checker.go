package linearize

import (
	"context"
	"fmt"

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

// DurableChecker is the durable linearizability checker's entry in the
// harness's checker table: crashes inside concurrent executions.
func DurableChecker() checkers.Checker {
	return checkers.Checker{
		Name:  DurableName,
		Short: "Check durable linearizability: a dirty reboot cuts concurrent clients mid-flight",
		Doc: `check durable runs --clients concurrent clients (default 4) against an engine on a
crashable device (shardstore), each a share of a case's ops (get, put, delete and
Sync; 120 per case) on a few keys, with maintenance clients on an engine that has
maintenance ops. After a random number of ops has returned the device is cut while
the other ops are in flight: every later write and flush is refused, ops still
waiting have their context cancelled and are pending (they may or may not have
taken effect). Crash states are drawn from the cut as check crash draws them (any
subset of the unflushed writes, torn at sectors; all of them when there are at
most 4, else 4), the engine reopens on each and every key is read back.

Each crash state's history is checked with porcupine for durable linearizability,
per key: the recovered version must be the key's version after some prefix of a
linearization of the completed ops and a subset of the pending ones, a prefix that
holds every write acknowledged before a completed Sync was called (a Sync is a
durability barrier on every key). An op that returned after the cut is pending: in a
real crash its answer reaches no one. A lost synced write, a deleted key back, a
value older than the synced one, a value never written: all fail. Then forward
progress: new writes are accepted, synced, read back, and kept over a clean reopen.
Porcupine's search is bounded (10s): a history it cannot decide is verdict unknown.

Not verified: properties across keys (a Sync is a barrier per key: the check is
at most weaker than one over all keys); list; directory engines (no block-level
crash states: check crash --mode kill). The interleaving is real concurrency: the
same seed gives the same ops per client, not the same history.

A violation writes the history (--out/durable-block-<engine>-<seed>.history,
format v2: sync, crash and recover lines) and porcupine's HTML view beside it;
harness check durable --history FILE re-checks it.`,
		Example: `  harness check durable --engine shardstore --budget 60s
  harness check durable --engine shardstore --clients 8 --cases 200 --seed 3
  harness check durable --history out/durable-block-shardstore-1.history`,
		Concurrent: true,
		Modes:      []checkers.Mode{{Name: DurableMode, Device: true}},
		Run: func(ctx context.Context, c checkers.Config) (checkers.Result, error) {
			return RunDurable(ctx, durableConfig(c))
		},
		Replay: func(context.Context, checkers.Config, workloads.Trace) (checkers.Result, error) {
			return checkers.Result{}, errNoReplay
		},
		History: func(ctx context.Context, c checkers.Config, file string) (checkers.Result, error) {
			return CheckHistory(ctx, durableConfig(c), file)
		},
	}
}

func durableConfig(c checkers.Config) Config {
	cfg := config(c)
	if cfg.Replay == nil {
		cfg.Replay = func(file string) string { return fmt.Sprintf("harness check %s --history %s", DurableName, file) }
	}
	return cfg
}
