package shardstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// snapDevice forwards to a disk.Mem and, when armed, takes a crash image of
// it just before the n-th write after arming: a crash "in the middle" of
// whatever the store was doing then.
type snapDevice struct {
	*disk.Mem
	mu     sync.Mutex
	writes int
	armAt  int // 0: not armed
	policy disk.CrashPolicy
	rng    *rand.Rand
	snap   *disk.Mem
}

func (d *snapDevice) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	d.writes++
	if d.armAt > 0 && d.writes == d.armAt && d.snap == nil {
		d.snap = d.Mem.Crash(d.rng, d.policy)
	}
	d.mu.Unlock()
	return d.Mem.WriteAt(p, off)
}

func (d *snapDevice) arm(n int, policy disk.CrashPolicy, rng *rand.Rand) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writes, d.armAt, d.policy, d.rng, d.snap = 0, n, policy, rng, nil
}

// model is what a crash may leave of each key: its persistent state and
// the states written since (any of which may have survived). "" with
// present false is absent.
type modelKey struct {
	persisted  *string   // nil: absent
	candidates []*string // later writes, nil for a delete
}

type crashHarness struct {
	t     testing.TB
	ctx   context.Context
	opts  Options
	dev   *snapDevice
	s     *Store
	model map[string]*modelKey
}

func newCrashHarness(t testing.TB, size int64, opts Options) *crashHarness {
	h := &crashHarness{t: t, ctx: context.Background(), opts: opts, model: map[string]*modelKey{}}
	h.dev = &snapDevice{Mem: disk.NewMem(size, 512)}
	h.open()
	t.Cleanup(func() {
		if h.s != nil {
			h.s.Close()
		}
	})
	return h
}

func (h *crashHarness) open() {
	s, err := Open(h.dev, h.opts)
	if err != nil {
		h.t.Fatalf("open: %v", err)
	}
	h.s = s
}

func (h *crashHarness) check() {
	if err := h.s.CheckInvariants(); err != nil {
		h.t.Fatalf("CheckInvariants: %v", err)
	}
}

func (h *crashHarness) key(k string) *modelKey {
	m := h.model[k]
	if m == nil {
		m = &modelKey{}
		h.model[k] = m
	}
	return m
}

func (h *crashHarness) put(k, v string) error {
	if err := h.s.Put(h.ctx, []byte(k), []byte(v)); err != nil {
		return err
	}
	h.key(k).candidates = append(h.key(k).candidates, &v)
	return nil
}

func (h *crashHarness) del(k string) error {
	if err := h.s.Delete(h.ctx, []byte(k)); err != nil {
		return err
	}
	h.key(k).candidates = append(h.key(k).candidates, nil)
	return nil
}

func (h *crashHarness) synced() {
	for _, m := range h.model {
		if n := len(m.candidates); n > 0 {
			m.persisted, m.candidates = m.candidates[n-1], nil
		}
	}
}

// crash replaces the store with one recovered from img.
func (h *crashHarness) crash(img *disk.Mem) {
	old := h.s
	h.s = nil
	old.Close() // writes to the old device only; img is a copy
	h.dev = &snapDevice{Mem: img}
	h.open()
}

// verify checks every key against the model: synced data survives, and an
// unsynced key holds its old or one of its new states, never anything
// else. The state found becomes the persistent one.
func (h *crashHarness) verify() string {
	keys := make([]string, 0, len(h.model))
	for k := range h.model {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var bad []string
	changed := 0
	for _, k := range keys {
		m := h.model[k]
		v, err := h.s.Get(h.ctx, []byte(k))
		var got *string
		switch {
		case err == nil:
			s := string(v)
			got = &s
		case errors.Is(err, engine.ErrNotFound):
		default:
			bad = append(bad, fmt.Sprintf("%s: %v", k, err))
			continue
		}
		allowed := append([]*string{m.persisted}, m.candidates...)
		if !slices.ContainsFunc(allowed, func(a *string) bool { return (a == nil) == (got == nil) && (a == nil || *a == *got) }) {
			bad = append(bad, fmt.Sprintf("%s = %s, want one of %s", k, show(got), showAll(allowed)))
			continue
		}
		if len(m.candidates) > 0 {
			changed++
		}
		m.persisted, m.candidates = got, nil
	}
	if len(bad) > 0 {
		return strings.Join(bad, "\n")
	}
	return fmt.Sprintf("ok: %d keys", len(keys))
}

func show(s *string) string {
	if s == nil {
		return "<absent>"
	}
	return strconv.Quote(*s)
}

func showAll(ss []*string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = show(s)
	}
	return "[" + strings.Join(out, " ") + "]"
}

func crashTestOptions() Options {
	o := testOptions()
	o.ExtentBytes = 64 << 10
	o.ChunkPayloadMax = 8 << 10
	o.MemtableBytes = 4 << 10
	o.ReserveExtents = 3
	o.ReclaimFreeExtents = 1
	// A manual clock that never advances: nothing becomes durable by
	// cadence, only by sync, so what a crash can lose is what the test
	// says.
	o.Clock = conc.NewManualClock(time.Unix(0, 0))
	return o
}

// TestCrashDatadriven runs the scenarios in testdata/crash: puts, deletes,
// syncs, reclamation and compaction, crashes at the end of a command or in
// the middle of one (crash-at), reopen, and the model check. Commands:
//
//	open | reopen                        clean close and reopen
//	put <k> <v> | delete <k>
//	fill prefix=<p> n=<n> size=<bytes>   n puts of <p><i> with generated values
//	delete-range prefix=<p> from=<i> to=<j> [step=<s>]
//	sync | index-flush | compact | reclaim
//	crash-at write=<n> [policy=random|torn|none] [seed=<s>]
//	                                     arm a crash image before the n-th write
//	crash [policy=...] [seed=<s>]        crash now, or use the armed image
//	get <k>                              the value, or not found
//	verify                               every key against the model
//
// CheckInvariants runs after every command.
func TestCrashDatadriven(t *testing.T) {
	datadriven.Walk(t, "testdata/crash", func(t *testing.T, path string) {
		h := newCrashHarness(t, 4<<20, crashTestOptions())
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			out := h.run(t, td)
			if h.s != nil {
				h.check()
			}
			return out
		})
	})
}

func policyArg(t testing.TB, td *datadriven.TestData) (disk.CrashPolicy, *rand.Rand) {
	policy, seed := "random", uint64(1)
	td.MaybeScanArgs(t, "policy", &policy)
	td.MaybeScanArgs(t, "seed", &seed)
	p := map[string]disk.CrashPolicy{"none": disk.CrashNone, "random": disk.CrashRandom, "torn": disk.CrashTorn}
	pol, ok := p[policy]
	if !ok {
		t.Fatalf("%s: unknown policy %q", td.Pos, policy)
	}
	return pol, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return "not found"
	case errors.Is(err, engine.ErrNoSpace):
		return "error: no space"
	}
	return "error: " + err.Error()
}

func (h *crashHarness) run(t *testing.T, td *datadriven.TestData) string {
	pos := func(i int) string {
		if len(td.CmdArgs) <= i {
			t.Fatalf("%s: %s needs %d arguments", td.Pos, td.Cmd, i+1)
		}
		return td.CmdArgs[i].Key
	}
	switch td.Cmd {
	case "open", "reopen":
		if err := h.s.Close(); err != nil {
			return errText(err)
		}
		h.synced() // a clean close makes everything durable
		h.open()
		return "ok"
	case "put":
		return errText(h.put(pos(0), pos(1)))
	case "delete":
		return errText(h.del(pos(0)))
	case "fill":
		var prefix string
		var n, size int
		td.ScanArgs(t, "prefix", &prefix)
		td.ScanArgs(t, "n", &n)
		td.ScanArgs(t, "size", &size)
		gen := 0
		td.MaybeScanArgs(t, "gen", &gen)
		for i := range n {
			k := fmt.Sprintf("%s%04d", prefix, i)
			unit := fmt.Sprintf("%s.g%d.", k, gen)
			v := strings.Repeat(unit, size/len(unit)+1)[:size]
			if err := h.put(k, v); err != nil {
				return fmt.Sprintf("put %s: %s", k, errText(err))
			}
		}
		return "ok"
	case "delete-range":
		var prefix string
		var from, to int
		step := 1
		td.ScanArgs(t, "prefix", &prefix)
		td.ScanArgs(t, "from", &from)
		td.ScanArgs(t, "to", &to)
		td.MaybeScanArgs(t, "step", &step)
		for i := from; i < to; i += step {
			if err := h.del(fmt.Sprintf("%s%04d", prefix, i)); err != nil {
				return errText(err)
			}
		}
		return "ok"
	case "sync":
		err := h.s.Sync(h.ctx)
		if err == nil {
			h.synced()
		}
		return errText(err)
	case "index-flush":
		return errText(h.s.Maintain(h.ctx, engine.IndexFlush))
	case "compact":
		return errText(h.s.Maintain(h.ctx, engine.Compact))
	case "reclaim":
		return errText(h.s.Maintain(h.ctx, engine.Reclaim))
	case "crash-at":
		var n int
		td.ScanArgs(t, "write", &n)
		pol, rng := policyArg(t, td)
		h.dev.arm(n, pol, rng)
		return "armed"
	case "crash":
		h.dev.mu.Lock()
		img := h.dev.snap
		h.dev.armAt, h.dev.snap = 0, nil
		h.dev.mu.Unlock()
		if img == nil {
			// Not armed, or the armed write never came: crash now.
			pol, rng := policyArg(t, td)
			img = h.dev.Mem.Crash(rng, pol)
		}
		h.crash(img)
		return "crashed"
	case "get":
		v, err := h.s.Get(h.ctx, []byte(pos(0)))
		if err != nil {
			return errText(err)
		}
		if len(v) > 40 {
			return fmt.Sprintf("%s... (%d bytes)", v[:40], len(v))
		}
		return string(v)
	case "verify":
		return h.verify()
	}
	t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	return ""
}
