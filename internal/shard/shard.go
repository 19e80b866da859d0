// Package shard splits a run over a fleet: shard i of N runs a disjoint
// part of the run's seed space (a check's seeds, a mutants run's mutants, a
// bench's repetitions), so that N machines started by an existing fleet
// engine together do what one machine would, and harness merge joins what
// they wrote.
//
// # Where the shard comes from
//
// --shard i/N on the command line wins. Without it the shard is read from
// the environment a fleet engine gives each task:
//
//   - A Kubernetes Indexed Job (completionMode: Indexed) sets
//     JOB_COMPLETION_INDEX in each pod to its index, 0 to completions-1.
//     Kubernetes does not put the completions count in the environment,
//     so the count comes from GAUNTLET_SHARDS, which the manifest harness
//     plan k8s writes sets to the Job's completions. An index without a
//     count is refused: guessing N would silently run the wrong seeds.
//   - An AWS Batch array job sets AWS_BATCH_JOB_ARRAY_INDEX (0 to size-1)
//     and AWS_BATCH_JOB_ARRAY_SIZE in each child job.
//
// Neither: the run is not sharded (shard 0 of 1). A bad value is a one-line
// error naming the variable.
//
// # Idempotence
//
// A shard's files carry its index and count in their names (Suffix), and
// its results name its index, count, commit and option set (Meta), so a
// retried shard overwrites its own files and no other's, and a merge can
// refuse to join shards of different commits or options.
package shard

import (
	"fmt"
	"strconv"
	"strings"
)

// The environment variables a shard is read from.
const (
	// EnvK8sIndex is set by Kubernetes in each pod of an Indexed Job.
	EnvK8sIndex = "JOB_COMPLETION_INDEX"
	// EnvCount is the shard count beside JOB_COMPLETION_INDEX: Kubernetes
	// gives a pod its index but not the Job's completions, so the
	// manifest sets this to them.
	EnvCount = "GAUNTLET_SHARDS"
	// EnvBatchIndex and EnvBatchSize are set by AWS Batch in each child
	// of an array job.
	EnvBatchIndex = "AWS_BATCH_JOB_ARRAY_INDEX"
	EnvBatchSize  = "AWS_BATCH_JOB_ARRAY_SIZE"
)

// CountMax bounds N: AWS Batch arrays hold at most 10000 children, and a
// Kubernetes Indexed Job at most 100000 completions; more is a typo.
const CountMax = 100000

// Shard is shard Index of Count. The zero value means not sharded (use
// Normal to read it as 0 of 1); shard 0 of 1, given by --shard 0/1 or a
// fleet of one task, is a shard: its result names it, and merge takes it.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Sharded says the run is a shard of a fleet run (Count set).
func (s Shard) Sharded() bool { return s.Count >= 1 }

// Normal returns s with a zero Count read as one shard.
func (s Shard) Normal() Shard {
	if s.Count == 0 {
		return Shard{0, 1}
	}
	return s
}

// String is "i/N", as --shard takes it.
func (s Shard) String() string { s = s.Normal(); return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Suffix names the shard in file names: "shard-2-of-8".
func (s Shard) Suffix() string {
	s = s.Normal()
	return fmt.Sprintf("shard-%d-of-%d", s.Index, s.Count)
}

// Owns reports whether item k of a list belongs to this shard: items are
// dealt round-robin, so each shard gets a spread of a list ordered by cost
// (a catalogue of mutants grouped by component) rather than one block.
func (s Shard) Owns(k int) bool {
	s = s.Normal()
	return k%s.Count == s.Index
}

// Share is this shard's part of total units (cases): total/N, the first
// total%N shards one more, as harness check --jobs shares --cases.
func (s Shard) Share(total int) int {
	s = s.Normal()
	n := total / s.Count
	if s.Index < total%s.Count {
		n++
	}
	return n
}

// Parse reads "i/N" (what --shard takes); from names the input in errors.
func Parse(from, v string) (Shard, error) {
	is, ns, ok := strings.Cut(v, "/")
	if !ok {
		return Shard{}, fmt.Errorf("%s %q: give the shard as i/N, e.g. 0/4 (shard 0 of 4)", from, v)
	}
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	if err != nil || n < 1 || n > CountMax {
		return Shard{}, fmt.Errorf("%s %q: the count N must be a whole number from 1 to %d", from, v, CountMax)
	}
	i, err := strconv.Atoi(strings.TrimSpace(is))
	if err != nil || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("%s %q: the index i must be a whole number from 0 to %d", from, v, n-1)
	}
	return Shard{i, n}, nil
}

// FromEnv reads the shard from a fleet engine's environment (see the
// package documentation); getenv is os.Getenv in production. from says
// which engine it came from ("JOB_COMPLETION_INDEX=2, GAUNTLET_SHARDS=8"),
// "" when neither set it (s is then the zero Shard: not sharded).
func FromEnv(getenv func(string) string) (s Shard, from string, err error) {
	read := func(indexVar, countVar, countHint string) (Shard, string, error) {
		iv, nv := strings.TrimSpace(getenv(indexVar)), strings.TrimSpace(getenv(countVar))
		from := fmt.Sprintf("%s=%s, %s=%s", indexVar, iv, countVar, nv)
		if nv == "" {
			return Shard{}, "", fmt.Errorf("%s=%s is set but %s is not: %s", indexVar, iv, countVar, countHint)
		}
		n, err := strconv.Atoi(nv)
		if err != nil || n < 1 || n > CountMax {
			return Shard{}, "", fmt.Errorf("%s=%q: want a whole number from 1 to %d", countVar, nv, CountMax)
		}
		i, err := strconv.Atoi(iv)
		if err != nil || i < 0 || i >= n {
			return Shard{}, "", fmt.Errorf("%s=%q: want a whole number from 0 to %d (%s=%d)", indexVar, iv, n-1, countVar, n)
		}
		return Shard{i, n}, from, nil
	}
	switch {
	case getenv(EnvK8sIndex) != "":
		return read(EnvK8sIndex, EnvCount, "set it to the Indexed Job's completions (harness plan k8s does), or pass --shard i/N")
	case getenv(EnvBatchIndex) != "":
		return read(EnvBatchIndex, EnvBatchSize, "AWS Batch sets both in an array job's children; pass --shard i/N elsewhere")
	}
	return Shard{}, "", nil
}

// Resolve is the run's shard: flag (--shard's value) if given, else the
// environment's. The error names the flag or the variable.
func Resolve(flag string, getenv func(string) string) (Shard, error) {
	if flag != "" {
		return Parse("--shard", flag)
	}
	s, _, err := FromEnv(getenv)
	return s, err
}

// Meta is what a shard's result says of it, for harness merge: which
// shard, of which commit, with which options. Two results may be merged
// only if their Commit and Options are equal and their Count is.
type Meta struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// Commit is the commit of the harness that ran the shard
	// (internal/provenance).
	Commit string `json:"commit"`
	// Options is the run's option set in a canonical form (the verb's
	// flags that decide what runs, the shard's own excepted): shards of
	// one run share it.
	Options string `json:"options"`
}

// Shard is m's shard.
func (m Meta) Shard() Shard { return Shard{m.Index, m.Count} }
