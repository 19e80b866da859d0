package differential

import (
	"context"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// Checker is the differential checker's entry in the harness's checker
// table.
func Checker() checkers.Checker {
	return checkers.Checker{
		Name:  Name,
		Short: "Check that one engine answers the same under different options",
		Doc: `check differential runs the same random op sequences (the conformance checker's
biased alphabet, without crashes and faults) on several option sets of one engine,
given as a comma-separated list of specs in --engine, and requires identical answers:
values, not-found, errors by class (not-found, no-space, closed, corruption,
invalid-argument, other) and List output, after every op and after a final clean
reboot. Options that change how the engine works (IO scheduling policy, io-depth,
cache, memtable and extent sizes) must not change what it returns. It does not
check that the answers are right (conformance does), and a write some option sets
refuse for space while others accept ends the comparison of that case (the Result
says how many). The first divergence is minimized by rapid's shrinker and written
as a trace (--out/differential-<engine>-<seed>.trace) with the command that
replays it.`,
		Example: `  harness check differential --engine shardstore:sched=fifo,shardstore:sched=coalesce --cases 200
  harness check differential --engine shardstore,shardstore:io-depth=1,shardstore:cache=4KiB --budget 60s
  harness check differential --replay out/differential-shardstore-1.trace`,
		Engines: true,
		Run: func(ctx context.Context, c checkers.Config) (checkers.Result, error) {
			return Run(ctx, config(c))
		},
		Replay: func(ctx context.Context, c checkers.Config, tr workloads.Trace) (checkers.Result, error) {
			return Replay(ctx, config(c), tr)
		},
	}
}

func config(c checkers.Config) Config {
	return Config{Targets: c.Targets, Engine: c.Engine, Seed: c.Seed, Cases: c.Cases, Budget: c.Budget,
		OutDir: c.OutDir, Replay: c.Replay, Live: c.Live, Found: c.Found}
}
