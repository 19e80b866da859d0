package interleave

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// Checker is the interleave checker's entry in the harness's checker
// table.
func Checker() checkers.Checker {
	return checkers.Checker{
		Name:  Name,
		Short: "Run shardstore's real code under controlled interleavings (random, PCT, replay)",
		Doc: `check interleave runs concurrent scenarios (harnesses) over the real engine on an
in-memory device, under a controlled scheduler (engine/conc built with -tags
interleave): every goroutine, lock, condition, atomic and timer of the engine is a
scheduling point, one task runs at a time, and a strategy picks which: --strategy pct
(probabilistic concurrency testing, --depth d: d-1 priority change points) or random.
Time is virtual. Each case opens the engine, runs one harness, checks every answer and
the final state against the model and the engine's own invariants, and closes it.

Harnesses (--harness NAME; without it the cases cycle through all):
  reclaim-compact  reclamation ∥ compaction ∥ a client's put-then-get (paper #14)
  background       client puts and gets ∥ index flush, reclamation, superblock writes
  list-delete      List ∥ deletes and an index flush (paper #13)
  backpressure     four writers filling the IO queue and the dependency graph (paper #12)
  crash            writers putting and syncing ∥ background work ∥ a power cut at a step
                   the schedule decides; every crash state checked
  close-busy       writers putting ∥ a clean Close at a step the schedule decides; a
                   reopen holds every put that returned nil

A violation is a wrong answer, a broken invariant, a panic, a deadlock (every task
blocked, no timer pending: each task is named with where it waits), a task left
running after Close, or the step bound (a livelock). It prints a replay string,
HARNESS:SEED:SCHEDULE (the schedule: the chosen task at each choice, base 36, runs
as c*N.), that --replay reproduces exactly; a schedule the code no longer follows
is reported as diverged at a step (verdict unknown), never as a pass.

The scheduler exists only in a binary built with -tags interleave: this verb builds
one (out/bin, cached by source hash; with -tags mutants too when this binary has
them) and runs itself in it, saying so. Not verified: linearizability of
histories (check linearize), engines other than shardstore (their libraries'
goroutines escape the scheduler).`,
		Example: `  harness check interleave --engine shardstore --budget 60s
  harness check interleave --harness reclaim-compact --strategy pct --depth 3 --cases 500
  harness check interleave --replay 'list-delete:1000003:0*6.770...'`,
		Settings: []checkers.Setting{
			{Name: "harness", Usage: "one harness: " + harnessNames() + " (default: cycle through all)"},
			{Name: "strategy", Default: "pct", Usage: "scheduling strategy: pct or random"},
			{Name: "depth", Default: strconv.Itoa(DepthDefault), Usage: "PCT's depth d: d-1 priority change points"},
		},
		Tags:  "interleave",
		Built: conc.Controlled,
		Run: func(ctx context.Context, c checkers.Config) (checkers.Result, error) {
			cfg, err := config(c)
			if err != nil {
				return checkers.Result{}, err
			}
			return Run(ctx, cfg)
		},
		Replay: func(context.Context, checkers.Config, workloads.Trace) (checkers.Result, error) {
			return checkers.Result{}, fmt.Errorf("interleave: --replay takes the replay string a failing run printed (HARNESS:SEED:SCHEDULE), not a trace: %w", checkers.ErrBadTrace)
		},
		ReplayArg: func(ctx context.Context, c checkers.Config, arg string) (checkers.Result, error) {
			cfg, err := config(c)
			if err != nil {
				return checkers.Result{}, err
			}
			return ReplayString(cfg, arg)
		},
	}
}

func config(c checkers.Config) (Config, error) {
	cfg := Config{Target: c.Target, Seed: c.Seed, Cases: c.Cases, Budget: c.Budget, Live: c.Live, Found: c.Found,
		Harness: c.Settings["harness"], Strategy: c.Settings["strategy"], Replay: c.Replay}
	if c.Cases == checkers.CasesUnlimited {
		cfg.Cases = 0
	}
	if d := c.Settings["depth"]; d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 {
			return cfg, fmt.Errorf("--depth %s: want PCT's depth, a whole number from 1: %w", d, ErrUsage)
		}
		cfg.Depth = n
	}
	return cfg, nil
}
