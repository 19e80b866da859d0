package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gauntlet-kv/gauntlet/internal/provenance"
	"github.com/gauntlet-kv/gauntlet/internal/shard"
)

// shardFlagUsage is the --shard flag's help, the same on every verb.
const shardFlagUsage = "run shard i of N of the run (i/N); default: from JOB_COMPLETION_INDEX with GAUNTLET_SHARDS (Kubernetes Indexed Job) or AWS_BATCH_JOB_ARRAY_INDEX/SIZE (AWS Batch array)"

// resolveShard is a verb's shard: --shard, else the fleet engine's
// environment. A bad value is a usage error naming the flag or variable.
func resolveShard(verb, flag string) (shard.Shard, error) {
	s, err := shard.Resolve(flag, os.Getenv)
	if err != nil {
		return s, usagef("%s: %v", verb, err)
	}
	return s, nil
}

// shardMeta is what a shard's result says of it: its shard, the commit of
// this harness, and the run's options.
func shardMeta(s shard.Shard, options string) *shard.Meta {
	return &shard.Meta{Index: s.Index, Count: s.Count, Commit: provenance.Read().Commit, Options: options}
}

// applyCheckShard turns a check into shard s of it: shard i of N with
// --jobs J runs seeds S+i*J .. S+i*J+J-1 (each a disjoint case stream:
// cases come from checkers.StreamSeed of the seed), gets its share of
// --cases (the fleet's total), and writes into --out/shard-i-of-N with the
// shard in its Result's name, so a retried shard overwrites only its own
// files. A worker of --jobs is never sharded itself: its parent was.
func applyCheckShard(checker string, f *checkFlags) error {
	if f.worker || f.history != "" {
		return nil
	}
	if f.replay != "" {
		if f.shard != "" {
			return usagef("check %s: --shard with --replay: a replay runs one trace: drop --shard", checker)
		}
		return nil // a replay on a fleet node is not a shard of anything
	}
	s, err := resolveShard("check "+checker, f.shard)
	if err != nil || !s.Sharded() {
		return err
	}
	if f.jobs == 0 {
		return usagef("check %s: --shard %s with --jobs 0: give --jobs N, the same on every shard, so the shards' seed ranges do not depend on each machine's CPUs", checker, s)
	}
	if f.cases > 0 && f.cases < s.Count {
		return usagef("check %s: --cases %d over %d shards leaves shard %s nothing to run: give at least %d cases, or fewer shards", checker, f.cases, s.Count, s, s.Count)
	}
	options := fmt.Sprintf("check %s engine=%s mode=%s faults=%t clients=%d seed=%d jobs=%d cases=%d budget=%s forever=%t",
		checker, f.engine, f.mode, f.faults, f.clients, f.seed, f.jobs, f.cases, f.budget, f.forever)
	f.shardMeta = shardMeta(s, options)
	f.seed += uint64(s.Index * f.jobs)
	if f.cases > 0 {
		f.cases = s.Share(f.cases)
	}
	f.out = filepath.Join(f.out, s.Suffix())
	f.stemSuffix = "-" + s.Suffix()
	return nil
}
