package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/internal/shard"
)

// fleetEnv is the environment a fleet engine gives task i of n: a
// Kubernetes Indexed Job's pod (with the count the manifest of harness
// plan k8s sets), or an AWS Batch array's child.
func fleetEnv(fleet string, i, n int) []string {
	if fleet == "k8s" {
		return []string{shard.EnvK8sIndex + "=" + strconv.Itoa(i), shard.EnvCount + "=" + strconv.Itoa(n)}
	}
	return []string{shard.EnvBatchIndex + "=" + strconv.Itoa(i), shard.EnvBatchSize + "=" + strconv.Itoa(n)}
}

// runShards runs n processes of the harness (this test binary) with args,
// each with the fleet environment of its shard, side by side as a fleet
// would, and fails the test unless each exits with code want.
func runShards(t *testing.T, fleet string, n, want int, args ...string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(append(os.Environ(), childEnv+"=1"), fleetEnv(fleet, i, n)...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != want {
				errs[i] = fmt.Sprintf("shard %d/%d: exit %d (%v), want %d:\n%s", i, n, code, err, want, out.String())
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Fatal(e)
		}
	}
}

func readMergeResult(t *testing.T, path string) checkers.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r checkers.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// TestFleetCheckMergesToOneRun runs a conformance check as N shard
// processes (N = 1, 2, 4) with the environment Kubernetes and AWS Batch
// set, merges them, and checks the merge against one process running the
// same seeds and cases in turn: the same verdict, cases and ops. Merging a
// shard twice counts it once.
func TestFleetCheckMergesToOneRun(t *testing.T) {
	const cases = 12
	for _, fleet := range []string{"k8s", "batch"} {
		for _, n := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("%s-%d", fleet, n), func(t *testing.T) {
				dir := t.TempDir()
				shards := filepath.Join(dir, "shards")
				runShards(t, fleet, n, 0, "check", "conformance", "--engine", "model", "--seed", "5",
					"--cases", strconv.Itoa(cases), "--budget", "0", "--out", shards, "--quiet")
				// One process, the same seeds: shard i ran seed 5+i
				// with its share of the cases.
				var want checkers.Result
				want.Verdict = checkers.Pass
				for i := range n {
					share := shard.Shard{Index: i, Count: n}.Share(cases)
					out := filepath.Join(dir, "single", strconv.Itoa(i))
					code, _, stderr := runCLI(t, "check", "conformance", "--engine", "model", "--seed", strconv.Itoa(5+i),
						"--cases", strconv.Itoa(share), "--budget", "0", "--out", out, "--quiet")
					if code != 0 {
						t.Fatalf("single run of seed %d: exit %d: %s", 5+i, code, stderr)
					}
					r := readMergeResult(t, filepath.Join(out, checkers.FileStem("conformance", "", "model", uint64(5+i))+".json"))
					want.Cases += r.Cases
					want.Ops += r.Ops
				}
				merged := filepath.Join(dir, "merged")
				// The shards' folder given twice: each shard counts once.
				code, stdout, stderr := runCLI(t, "merge", shards, shards, "--out", merged)
				if code != 0 {
					t.Fatalf("merge: exit %d: %s%s", code, stdout, stderr)
				}
				got := readMergeResult(t, filepath.Join(merged, "conformance-merged.json"))
				if got.Verdict != want.Verdict || got.Cases != want.Cases || got.Ops != want.Ops {
					t.Fatalf("merged: %s, %d cases, %d ops; one process over the same seeds: %s, %d cases, %d ops",
						got.Verdict, got.Cases, got.Ops, want.Verdict, want.Cases, want.Ops)
				}
				if got.Cases != cases || len(got.Shards) != n || got.Seed != 5 {
					t.Fatalf("merged: %d cases from %d shards at seed %d, want %d from %d at seed 5", got.Cases, len(got.Shards), got.Seed, cases, n)
				}
			})
		}
	}
}

// TestFleetCheckDedupsViolations runs shards against an engine with one
// bug: every shard finds it, and the merge keeps one entry with the count
// of the shards that found it, exiting 1.
func TestFleetCheckDedupsViolations(t *testing.T) {
	const n = 3
	dir := t.TempDir()
	shards := filepath.Join(dir, "shards")
	runShards(t, "batch", n, exitViolation, "check", "conformance", "--engine", "stale-delete", "--cases", "200", "--budget", "0", "--out", shards, "--quiet")
	merged := filepath.Join(dir, "merged")
	code, stdout, stderr := runCLI(t, "merge", shards, "--out", merged)
	if code != exitViolation {
		t.Fatalf("merge: exit %d, want %d: %s%s", code, exitViolation, stdout, stderr)
	}
	got := readMergeResult(t, filepath.Join(merged, "conformance-merged.json"))
	total := 0
	for _, v := range got.Violations {
		total += v.Count
	}
	if got.Verdict != checkers.Fail || total != n || len(got.Violations) >= n {
		t.Fatalf("merged %s with %d entries counting %d violations; want fail, fewer than %d entries counting %d:\n%s", got.Verdict, len(got.Violations), total, n, n, stdout)
	}
}

// TestFleetMergeRefusesMixedRuns: shards of different option sets are not
// one run.
func TestFleetMergeRefusesMixedRuns(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, c := range []struct{ out, cases string }{{a, "4"}, {b, "6"}} {
		if code, _, stderr := runCLI(t, "check", "conformance", "--engine", "model", "--shard", "0/2", "--cases", c.cases, "--budget", "0", "--out", c.out, "--quiet"); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	code, _, stderr := runCLI(t, "merge", a, b, "--out", filepath.Join(dir, "m"))
	if code != exitUsage || !strings.Contains(stderr, "different option sets") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("merge of two runs: exit %d, stderr %q; want exit %d and one line naming the option sets", code, stderr, exitUsage)
	}
	// One shard of two: a pass over half the seeds is not a pass.
	code, _, stderr = runCLI(t, "merge", a, "--out", filepath.Join(dir, "m"))
	if code != exitInternal || !strings.Contains(stderr, "shards 1 of 2 missing") {
		t.Fatalf("merge of one shard of two: exit %d, stderr %q; want %d naming the missing shard", code, stderr, exitInternal)
	}
}

// decodeHDR reads an .hdr file a bench or a merge wrote.
func decodeHDR(t *testing.T, path string) *hdrhistogram.Histogram {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hdrhistogram.Decode(bytes.TrimSpace(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return h
}

// TestFleetBenchMergesToOneRun runs a bench of 4 repetitions as N shard
// processes and merges them: the runs, their op counts and histogram
// counts equal a single process's, and each merged .hdr is exactly the
// merge of the shards' histograms (every bucket).
func TestFleetBenchMergesToOneRun(t *testing.T) {
	args := []string{"bench", "--engine", "model", "--workload", "ycsb-a,records=100", "--ops", "400", "--repeat", "4", "--warmup", "0", "--quiet"}
	dir := t.TempDir()
	single := filepath.Join(dir, "single")
	if code, _, stderr := runCLI(t, append(args, "--out", single)...); code != 0 {
		t.Fatalf("single bench: exit %d: %s", code, stderr)
	}
	want, err := bench.ReadReport(filepath.Join(single, bench.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 4} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			shards := filepath.Join(dir, fmt.Sprintf("shards-%d", n))
			runShards(t, "k8s", n, 0, append(args, "--out", shards)...)
			merged := filepath.Join(dir, fmt.Sprintf("merged-%d", n))
			if code, stdout, stderr := runCLI(t, "merge", shards, "--out", merged); code != 0 {
				t.Fatalf("merge: exit %d: %s%s", code, stdout, stderr)
			}
			got, err := bench.ReadReport(filepath.Join(merged, bench.ReportFile))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Runs) != len(want.Runs) || len(got.Shards) != n {
				t.Fatalf("merged %d runs from %d shards, single process %d runs", len(got.Runs), len(got.Shards), len(want.Runs))
			}
			exact := map[string]*hdrhistogram.Histogram{}
			for i, r := range got.Runs {
				w := want.Runs[i]
				if r.Repetition != w.Repetition || r.Ops != w.Ops || r.All.Count != w.All.Count || !reflect.DeepEqual(keysOf(r.HistogramsHDR), keysOf(w.HistogramsHDR)) {
					t.Fatalf("run %d: repetition %d, %d ops, %v; single process: repetition %d, %d ops, %v", i, r.Repetition, r.Ops, keysOf(r.HistogramsHDR), w.Repetition, w.Ops, keysOf(w.HistogramsHDR))
				}
				for op, file := range r.HistogramsHDR {
					h, hw := decodeHDR(t, filepath.Join(merged, file)), decodeHDR(t, filepath.Join(single, w.HistogramsHDR[op]))
					if h.TotalCount() != hw.TotalCount() || h.TotalCount() != r.ByOp[op].Count {
						t.Fatalf("run %d %s: histogram of %d values, single process %d, report %d", i, op, h.TotalCount(), hw.TotalCount(), r.ByOp[op].Count)
					}
					// The shard's own file: the merge re-encodes it
					// without loss.
					sh := decodeHDR(t, filepath.Join(shards, shard.Shard{Index: (r.Repetition - 1) % n, Count: n}.Suffix(), file))
					if !reflect.DeepEqual(sh.Export(), h.Export()) {
						t.Fatalf("run %d %s: the merged run's histogram differs from the shard's", i, op)
					}
					if exact[op] == nil {
						exact[op] = hdrhistogram.Import(h.Export())
					} else {
						exact[op].Merge(h)
					}
				}
			}
			for op, h := range exact {
				m := decodeHDR(t, filepath.Join(merged, "merged-ycsb-a_records_100-model-"+op+".hdr"))
				if !reflect.DeepEqual(m.Export().Counts, h.Export().Counts) || m.TotalCount() != h.TotalCount() {
					t.Fatalf("%s: merged histogram (%d values) is not the exact merge of the runs' (%d values)", op, m.TotalCount(), h.TotalCount())
				}
			}
		})
	}
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
