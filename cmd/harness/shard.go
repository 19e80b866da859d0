package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/internal/provenance"
	"github.com/gauntlet-kv/gauntlet/internal/shard"
	"github.com/gauntlet-kv/gauntlet/mutants"
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

// mutantsShard keeps shard s's part of a mutants run: the baseline and the
// canary (every shard's scores must be trustworthy on their own), and the
// other mutants dealt round-robin over the shards. The shard writes into
// --out/shard-i-of-N. Nil when the run is not sharded.
func mutantsShard(f *mutantsFlags, subjects *[]mutants.Subject, rows *[]mutants.Row, dets []mutants.Detector) (*shard.Meta, error) {
	s, err := resolveShard("mutants", f.shard)
	if err != nil || !s.Sharded() {
		return nil, err
	}
	var names []string
	for _, d := range dets {
		names = append(names, d.String())
	}
	var all []string
	for _, sub := range *subjects {
		all = append(all, sub.Name)
	}
	options := fmt.Sprintf("mutants engine=%s mutants=%s detectors=%s budget=%s cell-budget=%s cases=%d seed=%d",
		f.engine, strings.Join(all, ","), strings.Join(names, ","), f.budget, f.cellBudget, f.cases, f.seed)
	var keepS []mutants.Subject
	var keepR []mutants.Row
	k := 0
	for i, sub := range *subjects {
		fixed := sub.Name == mutants.Baseline || sub.Name == mutants.Canary
		if fixed || s.Owns(k) {
			keepS, keepR = append(keepS, sub), append(keepR, (*rows)[i])
		}
		if !fixed {
			k++
		}
	}
	*subjects, *rows = keepS, keepR
	f.out = filepath.Join(f.out, s.Suffix())
	return shardMeta(s, options), nil
}

// applyBenchShard makes cfg shard s of a bench: every Nth repetition
// (bench.Config.Shard), written to --out/shard-i-of-N (default
// out/bench/shard-i-of-N: the shards of one run share a folder). A retried
// shard's report replaces the one its earlier try left there, and no other.
func applyBenchShard(flag string, cfg *bench.Config) error {
	s, err := resolveShard("bench", flag)
	if err != nil || !s.Sharded() {
		return err
	}
	if cfg.Repeat < s.Count {
		return usagef("bench: --shard %s with --repeat %d: a shard runs every %dth repetition, so give --repeat at least %d (or fewer shards)", s, cfg.Repeat, s.Count, s.Count)
	}
	opts := *cfg
	opts.Out, opts.Dir = "", ""
	b, err := json.Marshal(opts)
	if err != nil {
		return err
	}
	cfg.Shard = shardMeta(s, "bench "+string(b))
	if cfg.Out == "" {
		cfg.Out = filepath.Join("out", "bench")
	}
	cfg.Out = filepath.Join(cfg.Out, s.Suffix())
	if err := os.Remove(filepath.Join(cfg.Out, bench.ReportFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return usagef("bench: --out %s: %v", cfg.Out, unwrapPathErr(err))
	}
	return nil
}
