package differential_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/differential"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// optionSets are shardstore option sets that change how it works, never
// what it answers: scheduling policies, IO depth, cache, memtable and
// extent sizes (on a device large enough that space rarely differs).
var optionSets = []string{
	"shardstore:size=2MiB",
	"shardstore:size=2MiB,sched=fifo",
	"shardstore:size=2MiB,sched=elevator",
	"shardstore:size=2MiB,io-depth=1",
	"shardstore:size=2MiB,cache=4KiB",
	"shardstore:size=2MiB,memtable=4KiB,value-cache=0",
	"shardstore:size=2MiB,extent=32KiB,sched=fifo,io-depth=2",
}

func targets(t *testing.T, specs ...string) []target.Target {
	t.Helper()
	var ts []target.Target
	for _, s := range specs {
		tg, err := testengines.ShardstoreSpec(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		ts = append(ts, tg)
	}
	return ts
}

func TestShardstoreOptionSetsAgree(t *testing.T) {
	cases := 100
	if testing.Short() || testengines.Race {
		cases = 20
	}
	for _, seed := range []uint64{1} {
		c := differential.Config{Targets: targets(t, optionSets...), Seed: seed, Cases: cases, OutDir: t.TempDir()}
		r, err := differential.Run(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("seed %d: %s (replay: go test ./checkers/differential -run %s)", seed, r.Summary(), t.Name())
		if r.Verdict != checkers.Pass || r.Cases != int64(cases) {
			t.Fatalf("seed %d: %s: want a pass over %d cases: %+v", seed, r.Summary(), cases, r.Violations)
		}
		if r.Ops < int64(cases)*10 {
			t.Errorf("seed %d: %d ops in %d cases: the cases are too short to compare much", seed, r.Ops, cases)
		}
	}
}

// reorder is an engine whose writes to one key can land out of order, as
// under an IO scheduling policy that reorders dependent writes: a put is
// held back until the next op, and a write of the same key that comes
// next is applied before it, so the earlier value wins. Every other op
// first applies the held put, so only back-to-back writes of one key
// diverge.
type reorder struct {
	e    engine.Engine
	held *workloads.Op
	val  []byte
}

func (r *reorder) release(ctx context.Context) error {
	if r.held == nil {
		return nil
	}
	op := r.held
	r.held = nil
	return r.e.Put(ctx, op.Key, r.val)
}

func (r *reorder) Get(ctx context.Context, k []byte) ([]byte, error) {
	if err := r.release(ctx); err != nil {
		return nil, err
	}
	return r.e.Get(ctx, k)
}

func (r *reorder) Put(ctx context.Context, k, v []byte) error {
	if r.held != nil && string(r.held.Key) == string(k) {
		if err := r.e.Put(ctx, k, v); err != nil {
			return err
		}
		return r.release(ctx) // the earlier write lands last
	}
	if err := r.release(ctx); err != nil {
		return err
	}
	r.held = &workloads.Op{Key: append([]byte(nil), k...)}
	r.val = append(r.val[:0], v...)
	return nil
}

func (r *reorder) Delete(ctx context.Context, k []byte) error {
	if r.held != nil && string(r.held.Key) == string(k) {
		if err := r.e.Delete(ctx, k); err != nil {
			return err
		}
		return r.release(ctx)
	}
	if err := r.release(ctx); err != nil {
		return err
	}
	return r.e.Delete(ctx, k)
}

func (r *reorder) Sync(ctx context.Context) error {
	if err := r.release(ctx); err != nil {
		return err
	}
	return r.e.Sync(ctx)
}

func (r *reorder) Close() error {
	err := r.release(context.Background())
	return errors.Join(err, r.e.Close())
}

func (r *reorder) List(ctx context.Context, start, end []byte, fn func([]byte) bool) error {
	if err := r.release(ctx); err != nil {
		return err
	}
	return r.e.(engine.Lister).List(ctx, start, end, fn)
}

func (r *reorder) Maintain(ctx context.Context, op engine.MaintenanceOp) error {
	if err := r.release(ctx); err != nil {
		return err
	}
	return r.e.(engine.Maintainer).Maintain(ctx, op)
}

// TestCatchesReorderedWrites: the checker finds the divergence of an option
// set whose writes of one key land out of order, minimizes it to the two
// writes and a read (or the end of the case), and its trace replays.
func TestCatchesReorderedWrites(t *testing.T) {
	// Devices large enough that no write is refused for space, whose
	// timing (background rounds) could end a shrink attempt early.
	ts := targets(t, "shardstore:size=4MiB", "shardstore:size=4MiB,sched=fifo")
	bad := ts[1]
	open := bad.OpenDevice
	bad.Name = "shardstore:sched=fifo(reordering)"
	bad.OpenDevice = func(dev disk.Device) (engine.Engine, error) {
		e, err := open(dev)
		if err != nil {
			return nil, err
		}
		return &reorder{e: e}, nil
	}
	ts[1] = bad
	out := t.TempDir()
	c := differential.Config{Targets: ts, Seed: 1, Cases: 200, OutDir: out, ShrinkTime: 5 * time.Second}
	r, err := differential.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s (replay: go test ./checkers/differential -run %s)", r.Summary(), t.Name())
	if r.Verdict != checkers.Fail || len(r.Violations) != 1 {
		t.Fatalf("%s: want the reordering option set caught", r.Summary())
	}
	v := r.Violations[0]
	t.Logf("minimized %d ops to %d: %s\n%s", v.OriginalOps, len(v.Ops), v.Summary, strings.Join(v.Ops, "\n"))
	if len(v.Ops) > 4 {
		t.Errorf("minimized to %d ops, want at most 4 (two writes of one key and a read): %q", len(v.Ops), v.Ops)
	}
	if !strings.Contains(v.Summary, "option set 1") || !strings.Contains(v.Replay, "--replay") {
		t.Errorf("violation %+v: want it to name option set 1 and a replay command", v)
	}
	f, err := os.Open(v.TraceFile)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := workloads.ParseTrace(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	rr, err := differential.Replay(context.Background(), c, tr)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Verdict != checkers.Fail || rr.Violations[0].Summary != v.Summary {
		t.Errorf("replay: %s %+v, want the same divergence: %s", rr.Summary(), rr.Violations, v.Summary)
	}
	// The same trace on two honest option sets passes.
	c.Targets = targets(t, "shardstore:size=4MiB", "shardstore:size=4MiB,sched=fifo")
	if rr, err := differential.Replay(context.Background(), c, tr); err != nil || rr.Verdict != checkers.Pass {
		t.Errorf("replay on honest option sets: %v %s, want a pass", err, rr.Summary())
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := differential.Run(context.Background(), differential.Config{Targets: targets(t, "shardstore")})
	if err == nil || !strings.Contains(err.Error(), "at least two") {
		t.Errorf("one option set: %v, want an error asking for two", err)
	}
	tr := workloads.Trace{Ops: []workloads.Op{{Kind: workloads.OpDirtyReboot}}}
	_, err = differential.Replay(context.Background(), differential.Config{Targets: targets(t, "shardstore", "shardstore:sched=fifo")}, tr)
	if !errors.Is(err, checkers.ErrBadTrace) {
		t.Errorf("a trace with a dirty reboot: %v, want checkers.ErrBadTrace", err)
	}
}
