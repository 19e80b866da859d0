package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gauntlet-kv/gauntlet/bench"
)

// TestBenchSimulatedDeterministic: harness bench on a simulated hard disk
// gives identical figures — ops, every percentile of every op, virtual
// duration, the schedule's length — on an idle machine and beside a CPU
// burner the test runs itself (spinning goroutines on every CPU, competing
// with the run's child process), because the run is one controlled
// execution of engine/conc in a harness built with -tags interleave (built
// here on first use, as harness bench builds it). The two repetitions run
// on seeds 1 and 2 and differ. Replay by hand: harness bench --engine
// shardstore:device=hdd --workload durable-put --duration 400ms --warmup 100ms
// --repeat 2, twice, and compare the bench.json runs.
func TestBenchSimulatedDeterministic(t *testing.T) {
	bin := t.TempDir()
	args := func(out string) []string {
		return []string{"bench", "--engine", "shardstore:device=hdd,size=256MiB", "--workload", "durable-put",
			"--duration", "400ms", "--warmup", "100ms", "--repeat", "2", "--io-trace", "--quiet", "--out", out}
	}
	idle := simBench(t, args(filepath.Join(bin, "idle")))

	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 * runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := 0; !stop.Load(); x++ {
				if x%100000 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	loaded := simBench(t, args(filepath.Join(bin, "loaded")))
	stop.Store(true)
	wg.Wait()

	for i := range idle.Runs {
		a, b := idle.Runs[i], loaded.Runs[i]
		if !a.Simulated || !a.Controlled || a.SimSeed != uint64(i+1) {
			t.Errorf("run %d: simulated %v, controlled %v, seed %d: want a controlled simulated run on seed %d", i, a.Simulated, a.Controlled, a.SimSeed, i+1)
		}
		if a.ElapsedSec < 0.4 || a.ElapsedSec > 0.6 {
			t.Errorf("run %d: %.3f s of virtual time measured, want --duration's 0.4 s and the last ops in flight", i, a.ElapsedSec)
		}
		t.Logf("run %d (seed %d): %d ops in %.6f s virtual, p50 %.0fµs p99 %.0fµs, %d scheduling points", i, a.SimSeed, a.Ops, a.ElapsedSec, a.All.P50us, a.All.P99us, a.SimSteps)
		for _, f := range []struct {
			name string
			x, y any
		}{
			{"ops", a.Ops, b.Ops}, {"elapsed", a.ElapsedSec, b.ElapsedSec}, {"all ops", a.All, b.All},
			{"per op", a.ByOp, b.ByOp}, {"timeline", a.Timeline, b.Timeline}, {"steps", a.SimSteps, b.SimSteps},
			{"engine stats", a.Stats, b.Stats},
		} {
			if !reflect.DeepEqual(f.x, f.y) {
				t.Errorf("run %d: %s idle %+v, under CPU load %+v: want identical", i, f.name, f.x, f.y)
			}
		}
	}
	// The IO traces (--io-trace) are the same bytes: every IO at the same
	// virtual instant, from the same queue.
	for rep := 1; rep <= 2; rep++ {
		name := fmt.Sprintf("shardstore_device_hdd_size_256MiB-durable-put-r%d.iotrace", rep)
		a, err := os.ReadFile(filepath.Join(bin, "idle", name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(bin, "loaded", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) || len(a) < 1000 {
			t.Errorf("%s: %d bytes idle, %d under load: want the same trace", name, len(a), len(b))
		}
	}
	code, stdout, stderr := runCLI(t, "iotrace", filepath.Join(bin, "idle", "shardstore_device_hdd_size_256MiB-durable-put-r1.iotrace"), "--out", filepath.Join(bin, "plots"))
	if code != 0 || !strings.Contains(stdout, "virtual time") || !strings.Contains(stdout, "foreground") || !strings.Contains(stdout, "superblock") {
		t.Errorf("harness iotrace: exit %d\n%s%s", code, stdout, stderr)
	}
	if fi, err := os.Stat(filepath.Join(bin, "plots", "iotrace.png")); err != nil || fi.Size() == 0 {
		t.Errorf("iotrace plot: %v", err)
	}
	if reflect.DeepEqual(idle.Runs[0].All, idle.Runs[1].All) {
		t.Errorf("seeds 1 and 2 gave the same figures %+v: the repetitions' seeds do not reach the run", idle.Runs[0].All)
	}
}

// TestBenchIOTraceRefused: --io-trace of an engine that records no IO
// trace is refused before anything runs, in one line.
func TestBenchIOTraceRefused(t *testing.T) {
	code, _, stderr := runCLI(t, "bench", "--engine", "model", "--workload", "durable-put", "--ops", "10", "--io-trace", "--out", filepath.Join(t.TempDir(), "o"))
	if code != exitUsage || !strings.Contains(stderr, "--io-trace: engine model records no IO trace") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// simBench runs harness bench with args and reads its report.
func simBench(t *testing.T, args []string) *bench.Report {
	t.Helper()
	code, _, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("harness %v: exit %d: %s", args, code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(args[len(args)-1], bench.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 2 {
		t.Fatalf("%d runs, want 2", len(rep.Runs))
	}
	return &rep
}
