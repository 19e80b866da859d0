package linearize_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/toystore"
	"github.com/gauntlet-kv/gauntlet/checkers/linearize"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// TestCheckDurableHistoryFailure re-checks durable histories that fail: the
// violation names the key, shows its ops with the Syncs copied in (a
// barrier on every key), and says what a crash could have left.
func TestCheckDurableHistoryFailure(t *testing.T) {
	for _, c := range []struct {
		file, summary, op, expected string
	}{
		{"durable-lost-synced", `key "k1": its 3 ops (of 5 in history 0, 2 clients) are not linearizable: no order reaches recover "k1" → not found`,
			`recover "k1" → not found`, `(a crash may leave: #00000000000000a1/10B)`},
		{"durable-resurrected", `key "k1": its 5 ops (of 5 in history 0, 2 clients) are not linearizable: no order reaches recover "k1" → #00000000000000a1/10B`,
			`recover "k1" → #00000000000000a1/10B`, `absent (a crash may leave: absent)`},
	} {
		t.Run(c.file, func(t *testing.T) {
			out := t.TempDir()
			file := filepath.Join("testdata", c.file+".history")
			r, err := linearize.CheckHistory(context.Background(), linearize.Config{OutDir: out}, file)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(r.Summary())
			if r.Verdict != checkers.Fail || len(r.Violations) != 1 {
				t.Fatalf("re-check of %s:\n%s", file, r.Summary())
			}
			v := r.Violations[0]
			if !strings.HasPrefix(v.Summary, c.summary) || !strings.Contains(v.Actual, c.op) || !strings.Contains(v.Expected, c.expected) {
				t.Errorf("violation:\n summary %s\n actual %s\n expected %s", v.Summary, v.Actual, v.Expected)
			}
			if !strings.Contains(strings.Join(v.Ops, "\n"), "sync → ok") {
				t.Errorf("ops %q: want the Sync among the key's ops", v.Ops)
			}
			if v.Visualization == "" {
				t.Errorf("no visualization: %s", v.NotMinimized)
			}
		})
	}
}

// runDurable runs the durable checker, logging the seed and the command
// that reruns it.
func runDurable(t *testing.T, c linearize.Config) checkers.Result {
	t.Helper()
	if c.OutDir == "" {
		c.OutDir = t.TempDir()
	}
	t.Logf("rerun: harness check durable --engine %s --seed %d --cases %d (the same ops per client, not the same interleaving)", c.Target.Name, c.Seed, c.Cases)
	r, err := linearize.RunDurable(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	return r
}

// TestDurableEnginesPass: shardstore and the honest toystore keep every
// synced write and bring no deleted key back through cuts of concurrent
// runs, and recover.
func TestDurableEnginesPass(t *testing.T) {
	cases := 30
	if testing.Short() {
		cases = 10
	}
	for _, tg := range []target.Target{testengines.Shardstore(), testengines.Toystore(toystore.BugNone)} {
		t.Run(tg.Name, func(t *testing.T) {
			r := runDurable(t, linearize.Config{Target: tg, Seed: 1, Cases: cases})
			if r.Verdict != checkers.Pass || r.Cases != int64(cases) || r.Ops == 0 || !strings.Contains(r.Reason, "crash states checked") {
				t.Fatalf("verdict %s after %d of %d cases, want pass:\n%s", r.Verdict, r.Cases, cases, r.Summary())
			}
		})
	}
}

// TestDurableNeedsDevice: a directory engine is refused with the reason.
func TestDurableNeedsDevice(t *testing.T) {
	_, err := linearize.RunDurable(context.Background(), linearize.Config{Target: testengines.Model(), Cases: 1})
	if !errors.Is(err, linearize.ErrNeedsDevice) || !strings.HasPrefix(err.Error(), "durable: engine model opens on a directory") {
		t.Fatalf("error %v, want ErrNeedsDevice naming the engine", err)
	}
}

// lyingSync is an engine whose Sync returns at once, durable or not: the
// known-bad engine a durable check must catch.
type lyingSync struct{ engine.Engine }

func (lyingSync) Sync(context.Context) error { return nil }

// TestDurableCatchesBadEngines: engines that lose synced writes are caught
// within a small budget, with the history written and the command that
// re-checks it; the re-check fails too.
func TestDurableCatchesBadEngines(t *testing.T) {
	lying := testengines.Shardstore()
	open := lying.OpenDevice
	lying.Name = "shardstore-lying-sync"
	lying.OpenDevice = func(dev disk.Device) (engine.Engine, error) {
		e, err := open(dev)
		if err != nil {
			return nil, err
		}
		return lyingSync{e}, nil
	}
	for _, tg := range []target.Target{lying, testengines.Toystore(toystore.BugLoseLastWrite)} {
		t.Run(tg.Name, func(t *testing.T) {
			out := t.TempDir()
			r := runDurable(t, linearize.Config{Target: tg, Seed: 1, Cases: 200, OutDir: out})
			if r.Verdict != checkers.Fail || len(r.Violations) != 1 {
				t.Fatalf("verdict %s after %d cases, want fail", r.Verdict, r.Cases)
			}
			v := r.Violations[0]
			if v.TraceFile == "" || !strings.HasPrefix(v.TraceFile, filepath.Join(out, "durable-block-")) || v.Replay == "" {
				t.Fatalf("violation without its history or replay: %+v", v)
			}
			t.Logf("caught in case %d; replay: %s", r.Cases-1, v.Replay)
			if strings.HasPrefix(v.Replay, "harness check durable --history ") {
				rr, err := linearize.CheckHistory(context.Background(), linearize.Config{OutDir: t.TempDir()}, v.TraceFile)
				if err != nil || rr.Verdict != checkers.Fail || rr.Checker != "durable" {
					t.Fatalf("re-check of %s: %v\n%s", v.TraceFile, err, rr.Summary())
				}
			}
		})
	}
}

// fullDevice is an engine whose puts are all refused for space, as a full
// device's may be.
type fullDevice struct{ engine.Engine }

func (fullDevice) Put(context.Context, []byte, []byte) error { return engine.ErrNoSpace }

// TestDurableNoSpaceIsNoViolation: a put refused for space, before the
// crash or in forward progress after it, is no violation: the key keeps
// what it held.
func TestDurableNoSpaceIsNoViolation(t *testing.T) {
	tg := testengines.Shardstore()
	open := tg.OpenDevice
	tg.Name = "shardstore-full"
	tg.OpenDevice = func(dev disk.Device) (engine.Engine, error) {
		e, err := open(dev)
		if err != nil {
			return nil, err
		}
		return fullDevice{e}, nil
	}
	r := runDurable(t, linearize.Config{Target: tg, Seed: 1, Cases: 10})
	if r.Verdict != checkers.Pass || r.Cases != 10 {
		t.Fatalf("verdict %s after %d of 10 cases, want pass", r.Verdict, r.Cases)
	}
}

// TestDurableSearchTimeoutIsUnknown: a durable history porcupine cannot
// decide within the check timeout is verdict unknown, never a pass.
func TestDurableSearchTimeoutIsUnknown(t *testing.T) {
	h := linearize.History{Engine: "model", Clients: 1, Crash: 1500}
	const n = 24
	for i := range n {
		h.Ops = append(h.Ops,
			linearize.Op{Kind: model.KeyPut, Key: "k", Value: uint64(i), Size: 8, Call: 0, Return: 1000},
			linearize.Op{Kind: model.KeyGet, Key: "k", Value: uint64(i), Size: 8, Found: true, Call: 0, Return: 1000})
	}
	h.Ops = append(h.Ops,
		linearize.Op{Kind: linearize.KindSync, Call: 1100, Return: 1200},
		linearize.Op{Kind: linearize.KindRecover, Client: 1, Key: "k", Value: 999, Size: 8, Found: true, Call: 2000, Return: 3000})
	path := filepath.Join(t.TempDir(), "hard.history")
	if err := linearize.SaveHistory(path, h); err != nil {
		t.Fatal(err)
	}
	r, err := linearize.CheckHistory(context.Background(), linearize.Config{OutDir: t.TempDir(), CheckTimeout: 200 * time.Millisecond}, path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != checkers.Unknown || r.Checker != "durable" || !strings.Contains(r.Reason, "porcupine could not decide") {
		t.Fatalf("a durable history porcupine cannot decide in 200ms: %s", r.Summary())
	}
}
