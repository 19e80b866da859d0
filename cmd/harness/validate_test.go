package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/bench"
)

// TestBadInputRefusedBeforeRunning: every flag and option value that used
// to run and then fail (or run wrongly) is refused at parse time with one
// line naming it, exit 2, and nothing written.
func TestBadInputRefusedBeforeRunning(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--rate", "NaN"}, "--rate NaN: give a finite number"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--rate", "+Inf"}, "--rate +Inf: give a finite number"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--rate", "-5"}, "--rate -5: give a finite number"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--rate", "1e12"}, "ops/s can be scheduled"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--rate", "0.0001", "--duration", "2s"}, "schedules less than one op"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--probe", "--probe-bytes", "-1"}, "--probe-bytes -1: want at least 1048576"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--repeat", "0"}, "--repeat 0: want 1 to 1000"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--load-threads", "-2"}, "--load-threads -2: want 1 to 4096"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--load-batch", "-1"}, "--load-batch -1: want 1 (one put per record)"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--load-batch", "2000000"}, "--load-batch 2000000: want 1"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a", "--repeat", "-1"}, "--repeat -1: want 1 to 1000"},
		{[]string{"bench", "--engine", "shardstore:size=1KiB", "--workload", "ycsb-a"}, "size=1KiB holds 0 extents of 4MiB; at least 9 are needed"},
		{[]string{"bench", "--engine", "shardstore:size=4097", "--workload", "ycsb-a"}, "give size=36MiB or more"},
		{[]string{"bench", "--engine", "shardstore:size=16MiB", "--workload", "ycsb-a"}, "size=16MiB holds 4 extents"},
		{[]string{"bench", "--engine", "shardstore:size=32MiB", "--workload", "ycsb-a"}, "size=32MiB holds 8 extents"},
		{[]string{"bench", "--engine", "shardstore:size=48MiB,extent=16MiB", "--workload", "ycsb-a"}, "size=48MiB holds 3 extents"},
		{[]string{"bench", "--engine", "shardstore:size=128MiB,extent=16MiB", "--workload", "ycsb-a"}, "size=128MiB holds 8 extents"},
		{[]string{"bench", "--engine", "shardstore:size=160MiB", "--workload", "ycsb-a,records=1000000"}, "preloads 1000000 records, about 975.5 MiB of keys and values; shardstore with these options holds about 115.2 MiB"},
		{[]string{"bench", "--engine", "model", "--workload", "ycsb-a,values=2GiB"}, "size 2GiB: a value is at most 2147483647 bytes"},
		{[]string{"bench", "--engine", "shardstore:extent=5000", "--workload", "ycsb-a"}, "shardstore: extent=5000B: want a multiple of 4KiB from 4KiB to 2GiB"},
		{[]string{"bench", "--engine", "shardstore:extent=4GiB", "--workload", "ycsb-a"}, "shardstore: extent=4GiB: want a multiple of 4KiB"},
		{[]string{"probe", "--dir", os.TempDir(), "--bytes", "-5"}, "probe: --bytes -5: want at least 1048576"},
		{[]string{"probe", "--dir", os.TempDir(), "--phase", "-1s"}, "probe: --phase -1s: give a positive duration"},
		{[]string{"probe", "--dir", os.TempDir(), "--phase", "0s"}, "probe: --phase 0s: give a positive duration"},
		{[]string{"mutants", "--budget", "0s"}, "mutants: --budget 0s: give the run some time"},
		{[]string{"mutants", "--mutant", "no-such-bug"}, "mutants: --mutant no-such-bug: no such mutant (harness mutants list names them)"},
		{[]string{"mutants", "--detector", "crash/bogus"}, "mutants: --detector crash/bogus: no such detector (want one of conformance, conformance+faults, crash/block"},
		{[]string{"mutants", "--detector", "crash/block/x"}, "mutants: --detector: detector \"crash/block/x\": want checker[/mode][+faults]"},
		{[]string{"mutants", "--checker", "lint"}, "mutants: --checker lint: no such checker"},
		{[]string{"mutants", "--min-score", "101"}, "mutants: --min-score 101: want a percentage from 0 to 100"},
		{[]string{"mutants", "--jobs", "-1"}, "mutants: --jobs -1"},
		{[]string{"mutants", "--engine", "pebble"}, "mutants: --engine pebble: the catalogue's mutants are shardstore's"},
		{[]string{"mutants", "--engine", "shardstore:mutant=canary"}, "without mutant="},
		{[]string{"mutants", "ast", "--engine", "bbolt"}, "mutants ast: --pkg is required"},
		{[]string{"mutants", "ast", "--pkg", "go.etcd.io/bbolt"}, "mutants ast: --engine is required"},
		{[]string{"mutants", "ast", "--pkg", "go.etcd.io/bbolt", "--engine", "bbolt", "--sample", "-3"}, "mutants ast: --sample -3"},
		{[]string{"mutants", "ast", "--pkg", "go.etcd.io/bbolt", "--engine", "bbolt", "--op", "swap-everything"}, "mutants ast: --op swap-everything: no such operator"},
		{[]string{"mutants", "ast", "--pkg", "go.etcd.io/bbolt", "--engine", "bbolt", "--detector", "crash/block"}, "none of the detectors given can check it"},
		{[]string{"--bogus"}, "harness: unknown flag: --bogus (see 'harness --help')"},
		{[]string{"shardstore", "format", "--bogus"}, "harness: shardstore format: unknown flag: --bogus (see 'harness shardstore format --help')"},
	}
	for _, c := range cases {
		out := filepath.Join(t.TempDir(), "out")
		args := c.args
		if args[0] == "bench" || args[0] == "mutants" {
			args = append(args, "--out", out)
		}
		code, stdout, stderr := runCLI(t, args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", c.args, code, exitUsage, stderr)
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("%q: stderr %q, want it to say %q", c.args, stderr, c.want)
		}
		if strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "harness: harness:") {
			t.Errorf("%q: stderr is not one line with one prefix: %q", c.args, stderr)
		}
		if stdout != "" {
			t.Errorf("%q: printed to stdout: %q", c.args, stdout)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%q: wrote %s before refusing", c.args, out)
		}
	}
}

// FuzzEngineSpec: any --engine string either resolves against the engine
// table, and its echoed spec resolves again to the same options (a report
// replays what it measured), or gives an error; never a panic.
func FuzzEngineSpec(f *testing.F) {
	for _, s := range []string{"shardstore", "shardstore:size=64MiB,extent=1MiB,sched=fifo", "pebble:sync=true",
		"badger:mode=vlog", "bbolt:mmap=1GiB", "model", "shardstore:size=1KiB", "x:y=z", ":", "shardstore:size=",
		"shardstore:io-depth=-1", "pebble:memtable=1e9GiB", "shardstore:flush-interval=-1s"} {
		f.Add(s)
	}
	table := drivers()
	f.Fuzz(func(t *testing.T, spec string) {
		d, o, err := table.Resolve(spec)
		if err != nil {
			return
		}
		echo := o.Spec().String()
		d2, o2, err := table.Resolve(echo)
		if err != nil {
			t.Fatalf("%q resolved, but its echo %q does not: %v", spec, echo, err)
		}
		if d2.Name != d.Name || o2.Spec().String() != echo {
			t.Fatalf("%q echoes as %q, which resolves to %q", spec, echo, o2.Spec().String())
		}
		if d.Capacity != nil {
			if c, err := d.Capacity(o); err == nil && c < 0 || err != nil && strings.Contains(err.Error(), "\n") {
				t.Fatalf("%q: capacity %d, %v", spec, c, err)
			}
		}
	})
}

// FuzzBenchConfig: whatever the flags, validation either refuses the
// configuration or accepts one the runner can carry out as labelled: a
// finite open-loop rate the clock can schedule and that schedules at
// least one op, a repeat count in range, a probe file of at least one
// write. Never a panic.
func FuzzBenchConfig(f *testing.F) {
	f.Add("model", "ycsb-a", 0.0, int64(time.Second), int64(0), 1, 1, int64(256<<20), true)
	f.Add("shardstore:size=48MiB", "ycsb-a,records=1000", 1000.0, int64(2*time.Second), int64(0), 4, 1, int64(-1), true)
	f.Add("pebble", "ycsb-c,values=uniform:1:2GiB", math.NaN(), int64(0), int64(100), 0, 0, int64(0), false)
	f.Add("model", "fill-64k", 1e12, int64(-1), int64(-5), -1, 1001, int64(1<<20), true)
	f.Add("model", "read=1,records=5", 0.0001, int64(2*time.Second), int64(0), 1, 1, int64(1<<20), true)
	table := drivers()
	f.Fuzz(func(t *testing.T, eng, wl string, rate float64, dur, ops int64, threads, repeat int, probeBytes int64, probe bool) {
		cfg := bench.Config{Engines: []string{eng}, Workloads: []string{wl}, Dir: t.TempDir(), Out: "out",
			Rate: rate, Duration: time.Duration(dur), Ops: ops, Threads: threads, Repeat: repeat,
			ProbeBytes: probeBytes, Probe: probe, Preload: true}
		r := &bench.Runner{Config: cfg, Drivers: table}
		if err := r.Validate(); err != nil {
			return
		}
		c := r.Config
		switch {
		case math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate < 0 || c.Rate > bench.RateMax:
			t.Fatalf("accepted --rate %v", c.Rate)
		case c.Rate > 0 && c.Ops == 0 && c.Rate*c.Duration.Seconds() < 1:
			t.Fatalf("accepted --rate %v for %s: less than one op", c.Rate, c.Duration)
		case c.Repeat < 1 || c.Repeat > 1000:
			t.Fatalf("accepted --repeat %d", c.Repeat)
		case c.Probe && c.ProbeBytes < bench.ProbeBytesMin:
			t.Fatalf("accepted --probe-bytes %d", c.ProbeBytes)
		case c.Duration < 0 || c.Ops < 0 || c.Threads < 0:
			t.Fatalf("accepted a negative duration, op count or thread count: %+v", c)
		}
	})
}
