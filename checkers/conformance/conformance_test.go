package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/conformance"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/toystore"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/badger"
	"github.com/gauntlet-kv/gauntlet/engine/bbolt"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/engine/pebble"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// seeds are the fixed seeds of the randomized tests.
var seeds = []uint64{1, 2, 3, 4}

func run(t *testing.T, c conformance.Config) checkers.Result {
	t.Helper()
	if c.OutDir == "" {
		c.OutDir = t.TempDir()
	}
	t.Logf("replay: harness check conformance --engine %s --seed %d --cases %d%s", c.Target.Name, c.Seed, c.Cases, map[bool]string{true: " --faults"}[c.Faults])
	r, err := conformance.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	return r
}

func mustPass(t *testing.T, r checkers.Result, cases int) {
	t.Helper()
	if r.Verdict != checkers.Pass || r.Cases != int64(cases) {
		t.Fatalf("verdict %s after %d of %d cases, want pass:\n%s", r.Verdict, r.Cases, cases, r.Summary())
	}
}

func TestModelPasses(t *testing.T) {
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			mustPass(t, run(t, conformance.Config{Target: testengines.Model(), Seed: seed, Cases: 1000}), 1000)
		})
	}
}

func TestToystorePasses(t *testing.T) {
	for _, faults := range []bool{false, true} {
		for _, seed := range seeds[:2] {
			t.Run(fmt.Sprintf("faults=%v/seed=%d", faults, seed), func(t *testing.T) {
				r := run(t, conformance.Config{Target: testengines.Toystore(toystore.BugNone), Seed: seed, Cases: 1000, Faults: faults})
				mustPass(t, r, 1000)
			})
		}
	}
}

func TestPeersPass(t *testing.T) {
	table := engine.Drivers{pebble.Driver(), badger.Driver(), bbolt.Driver()}
	for _, spec := range []string{"pebble", "badger", "bbolt"} {
		t.Run(spec, func(t *testing.T) {
			tg, err := testengines.Driver(table, spec)
			if err != nil {
				t.Fatal(err)
			}
			// Peers open slowly (tens of ms), so fewer, shorter cases.
			mustPass(t, run(t, conformance.Config{Target: tg, Seed: 1, Cases: 40, OpsMean: 25}), 40)
		})
	}
}

// TestBugsCaught proves the checker can fail: each toystore bug is caught
// within a small budget and minimized to at most 10 ops.
func TestBugsCaught(t *testing.T) {
	cases := []struct {
		bug    toystore.Bug
		faults bool
	}{
		{toystore.BugLoseLastWrite, false},
		{toystore.BugStaleDelete, false},
		{toystore.BugNoChecksum, true}, // only a flipped bit shows it
	}
	for _, c := range cases {
		t.Run(string(c.bug), func(t *testing.T) {
			r := run(t, conformance.Config{Target: testengines.Toystore(c.bug), Seed: 1, Cases: 500, Faults: c.faults})
			if r.Verdict != checkers.Fail || len(r.Violations) != 1 {
				t.Fatalf("bug %s not caught in 500 cases", c.bug)
			}
			v := r.Violations[0]
			t.Logf("bug %s: caught after %d cases, minimized from %d to %d ops", c.bug, r.Cases, v.OriginalOps, len(v.Ops))
			if len(v.Ops) > 10 {
				t.Errorf("minimized sequence has %d ops, want at most 10", len(v.Ops))
			}
			if v.TraceFile == "" || v.Replay == "" {
				t.Fatalf("violation without trace or replay command: %+v", v)
			}
			// The trace replays the violation exactly.
			f, err := os.Open(v.TraceFile)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tr, err := workloads.ParseTrace(f)
			if err != nil {
				t.Fatal(err)
			}
			rr, err := conformance.Replay(context.Background(), conformance.Config{Target: testengines.Toystore(c.bug), Faults: c.faults}, tr)
			if err != nil {
				t.Fatal(err)
			}
			if rr.Verdict != checkers.Fail || rr.Violations[0].Summary != v.Summary {
				t.Fatalf("replay: %s, want the violation %q", rr.Summary(), v.Summary)
			}
			// The correct engine passes the same trace.
			rr, err = conformance.Replay(context.Background(), conformance.Config{Target: testengines.Toystore(toystore.BugNone), Faults: c.faults}, tr)
			if err != nil || rr.Verdict != checkers.Pass {
				t.Fatalf("correct engine on the trace: %v %s", err, rr.Summary())
			}
		})
	}
}

// TestSameSeedSameResult runs a failing and a passing configuration twice.
func TestSameSeedSameResult(t *testing.T) {
	for _, tg := range []target.Target{testengines.Toystore(toystore.BugStaleDelete), testengines.Toystore(toystore.BugNone)} {
		var got []checkers.Result
		for range 2 {
			r := run(t, conformance.Config{Target: tg, Seed: 7, Cases: 200, Faults: true})
			r.Elapsed, r.Detected = 0, 0 // wall-clock times differ between runs
			for i := range r.Violations {
				r.Violations[i].TraceFile, r.Violations[i].Replay = "", ""
			}
			got = append(got, r)
		}
		a, _ := got[0].JSON()
		b, _ := got[1].JSON()
		if string(a) != string(b) {
			t.Errorf("%s: two runs with seed 7 differ:\n%s\n%s", tg.Name, a, b)
		}
	}
}

func TestFaultsNeedDevice(t *testing.T) {
	_, err := conformance.Run(context.Background(), conformance.Config{Target: testengines.Model(), Faults: true})
	if err == nil {
		t.Fatal("faults on a directory engine: no error")
	}
}

func TestBudgetStopsEarly(t *testing.T) {
	r := run(t, conformance.Config{Target: testengines.Model(), Seed: 1, Cases: 1 << 30, Budget: 1, BatchCases: 10})
	if r.Verdict != checkers.Pass || r.Cases != 10 || r.Reason == "" {
		t.Fatalf("budget run: %s", r.Summary())
	}
}

func TestTraceFileName(t *testing.T) {
	dir := t.TempDir()
	r := run(t, conformance.Config{Target: testengines.Toystore(toystore.BugStaleDelete), Seed: 3, Cases: 100, OutDir: dir})
	// The engine's name is in it: runs of two engines on a seed keep two.
	if len(r.Violations) != 1 || r.Violations[0].TraceFile != filepath.Join(dir, "conformance-toystore-3.trace") {
		t.Fatalf("trace file: %+v", r.Violations)
	}
}

// TestFoundBeforeMinimizing: Config.Found hears of a violation once, as
// soon as it is found, with the failing case unminimized and its trace
// already on disk (so a process stopped while minimizing leaves it); the
// Result at the end has the minimized one.
func TestFoundBeforeMinimizing(t *testing.T) {
	var found []checkers.Violation
	var traceThen []byte
	c := conformance.Config{Target: testengines.Toystore(toystore.BugLoseLastWrite), Seed: 1, Cases: 500, Found: func(v checkers.Violation) {
		found = append(found, v)
		traceThen, _ = os.ReadFile(v.TraceFile)
	}}
	r := run(t, c)
	if r.Verdict != checkers.Fail || len(found) != 1 {
		t.Fatalf("verdict %s, Found called %d times; want fail and once", r.Verdict, len(found))
	}
	f, v := found[0], r.Violations[0]
	if f.NotMinimized == "" || len(f.Ops) < f.OriginalOps || f.OriginalOps != v.OriginalOps || len(traceThen) == 0 {
		t.Errorf("found: %d of %d ops, not minimized %q, trace %d bytes; want the whole first failing case of %d ops on disk", len(f.Ops), f.OriginalOps, f.NotMinimized, len(traceThen), v.OriginalOps)
	}
	if v.NotMinimized != "" || len(v.Ops) > len(f.Ops) {
		t.Errorf("the final violation: %d ops, not minimized %q; want minimized", len(v.Ops), v.NotMinimized)
	}
}

// TestOpenFailedIsAViolation: an engine that will not open on the device
// the check has just made for it fails the check (it is broken, and the
// check says so with exit 1; one that never returns is bounded by the
// probe, see machine's TestProbeHang); an error of the machine's (a full
// disk) leaves the check unable to run instead, an error, not a verdict on
// the engine.
func TestOpenFailedIsAViolation(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(disk.Device) (engine.Engine, error)
		fail string // the violation's summary contains it; "" wants an error
	}{
		{"corrupt", func(disk.Device) (engine.Engine, error) {
			return nil, errors.New("superblock: no valid slot")
		}, "opening a new engine failed: open engine broken-open: superblock: no valid slot"},
		{"disk-full", func(disk.Device) (engine.Engine, error) {
			return nil, fmt.Errorf("write superblock: %w", syscall.ENOSPC)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := target.Target{Name: "broken-open", DeviceBytes: 1 << 20, SectorBytes: 512, OpenDevice: tc.open}
			r, err := conformance.Run(context.Background(), conformance.Config{Target: tg, Seed: 1, Cases: 10, OutDir: t.TempDir()})
			if tc.fail == "" {
				if err == nil || !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("Run = %s, %v; want an error wrapping ENOSPC (the check could not run)", r.Verdict, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != checkers.Fail || len(r.Violations) != 1 || !strings.Contains(r.Violations[0].Summary, tc.fail) {
				t.Fatalf("%s %+v; want fail, one violation saying %q", r.Verdict, r.Violations, tc.fail)
			}
		})
	}
}

// batchBug is the model with a PutBatch that goes wrong as bug says:
// "drop-last" acknowledges a batch of several puts but leaves out the
// last; "half-full" applies the first half and reports no space, as the
// contract allows; "half-full-wrong" does so with the last applied put's
// value cut short.
type batchBug struct {
	*model.Store
	bug string
}

func (b batchBug) PutBatch(ctx context.Context, kvs []engine.KV) error {
	switch {
	case b.bug == "drop-last" && len(kvs) > 1:
		return b.Store.PutBatch(ctx, kvs[:len(kvs)-1])
	case strings.HasPrefix(b.bug, "half-full") && len(kvs) > 1:
		half := kvs[:len(kvs)/2]
		if b.bug == "half-full-wrong" {
			last := half[len(half)-1]
			half = append(slices.Clone(half[:len(half)-1]), engine.KV{Key: last.Key, Value: last.Value[:len(last.Value)/2]})
		}
		if err := b.Store.PutBatch(ctx, half); err != nil {
			return err
		}
		return fmt.Errorf("batchbug: %w", engine.ErrNoSpace)
	}
	return b.Store.PutBatch(ctx, kvs)
}

// TestBatchReachesPutBatch: with Batch, runs of consecutive puts go to
// the engine's PutBatch: a PutBatch that drops a put is caught (and only
// with Batch: the same engine passes without, its Put being right), its
// trace says batch=true and replays the failure; one that stops half-way
// with ErrNoSpace passes (any prefix is allowed), unless what it applied
// is wrong.
func TestBatchReachesPutBatch(t *testing.T) {
	tg := func(bug string) target.Target {
		return target.Target{Name: "batchbug-" + bug, WorkDir: t.TempDir(), OpenDir: func(dir string) (engine.Engine, error) {
			m, err := model.Open(dir) // persists across the checker's reboots
			return batchBug{m, bug}, err
		}}
	}
	if r := run(t, conformance.Config{Target: tg("drop-last"), Seed: 1, Cases: 200}); r.Verdict != checkers.Pass {
		t.Fatalf("without Batch the batch path is not used, yet: %s", r.Summary())
	}
	r := run(t, conformance.Config{Target: tg("drop-last"), Seed: 1, Cases: 200, Batch: true, ShrinkTime: 3 * time.Second})
	if r.Verdict != checkers.Fail {
		t.Fatalf("a PutBatch that drops its last put: %s; want fail", r.Summary())
	}
	v := r.Violations[0]
	t.Logf("minimized to %d ops: %s", len(v.Ops), v.Summary)
	f, err := os.Open(v.TraceFile)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := workloads.ParseTrace(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := tr.Header.Attr("batch"); b != "true" {
		t.Errorf("trace header batch=%q, want true", b)
	}
	// The replay batches because the trace says so, not because it is told.
	rr, err := conformance.Replay(context.Background(), conformance.Config{Target: tg("drop-last")}, tr)
	if err != nil || rr.Verdict != checkers.Fail {
		t.Fatalf("replay: %v %s", err, rr.Summary())
	}
	if r := run(t, conformance.Config{Target: tg("half-full"), Seed: 1, Cases: 200, Batch: true}); r.Verdict != checkers.Pass {
		t.Fatalf("a PutBatch stopped half-way by a full device: %s; want pass", r.Summary())
	}
	if r := run(t, conformance.Config{Target: tg("half-full-wrong"), Seed: 1, Cases: 200, Batch: true, ShrinkTime: time.Second}); r.Verdict != checkers.Fail ||
		!strings.Contains(r.Violations[0].Summary, "neither its version before the batch nor one the batch put") {
		t.Fatalf("a PutBatch stopped half-way with a wrong value: %s; want fail", r.Summary())
	}
	for _, tg := range []target.Target{testengines.Shardstore(), testengines.Model()} {
		if r := run(t, conformance.Config{Target: tg, Seed: 1, Cases: 300, Batch: true}); r.Verdict != checkers.Pass {
			t.Errorf("%s with Batch: %s", tg.Name, r.Summary())
		}
	}
	if _, err := conformance.Run(context.Background(), conformance.Config{Target: testengines.Toystore(toystore.BugNone), Seed: 1, Cases: 1, Batch: true, OutDir: t.TempDir()}); !errors.Is(err, checkers.ErrBadConfig) {
		t.Fatalf("Batch on an engine without PutBatch: %v, want ErrBadConfig", err)
	}
}
