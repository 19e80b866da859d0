package linearize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// DurableName is the durable checker's name in results and file names.
const DurableName = "durable"

// DurableMode is the durable checker's one mode: engines on a crashable
// disk.Mem.
const DurableMode = "block"

// Durable defaults.
const (
	// DurableOpsDefault is a durable case's ops (shared by the clients):
	// fewer than a linearize case's, since each is checked against
	// several crash states.
	DurableOpsDefault = 120
	// CrashStatesDefault: see Config.CrashStates.
	CrashStatesDefault = 4
	// syncPercent is the share of Syncs among a durable case's ops.
	syncPercent = 10
	// cutGrace is how long ops in flight at the cut get to return (with
	// the device refusing writes, most fail at once) before their context
	// is cancelled; waitCut how long after that the case waits for the
	// rest, which are then left pending, as a crash leaves them.
	cutGrace = 100 * time.Millisecond
	// cutIOsMax bounds the device writes and flushes before a cut by
	// count: a case of DurableOpsDefault ops on shardstore does about
	// that many.
	cutIOsMax = 48
	waitCut   = time.Second
)

// ErrNeedsDevice refuses a durable check of an engine that opens on a
// directory: the dirty reboot is a disk.Mem's.
var ErrNeedsDevice = errors.New("a dirty reboot inside a concurrent run needs an engine on a disk.Device (shardstore); a directory engine has no block-level crash states")

// durableCase is what one durable case found.
type durableCase struct {
	ops, states int
	// violation, if set, fails the run; unknown, if set, ends it with
	// verdict unknown.
	violation *checkers.Violation
	unknown   string
}

// RunDurable runs durable cases on c.Target, which must open on a device.
// A case runs c.Clients clients (gets, puts, deletes and Syncs) and, on
// an engine.Maintainer, the maintenance clients; after a random number of
// ops has returned it cuts the device (disk.Mem.Cut) while the other ops
// are in flight, draws crash states (every one when there are at most
// c.CrashStates, else that many torn ones), reopens the engine on each,
// reads every key back and checks the history with DurableModel, then
// checks forward progress: new writes are accepted, synced, read back, and
// survive a clean reopen.
func RunDurable(ctx context.Context, c Config) (res checkers.Result, err error) {
	if c.Ops == 0 {
		c.Ops = DurableOpsDefault
	}
	if c.CrashStates == 0 {
		c.CrashStates = CrashStatesDefault
	}
	if c.Replay == nil {
		c.Replay = func(file string) string { return fmt.Sprintf("harness check %s --history %s", DurableName, file) }
	}
	c.ensureDefaults()
	if err := c.validate(); err != nil {
		return checkers.Result{}, err
	}
	if !c.Target.HasDevice() {
		return checkers.Result{}, fmt.Errorf("durable: engine %s opens on a directory: %w", c.Target.Name, ErrNeedsDevice)
	}
	if c.Ops < 2 || c.CrashStates < 1 {
		return checkers.Result{}, fmt.Errorf("durable: ops %d, crash states %d: give at least 2 ops and 1 crash state", c.Ops, c.CrashStates)
	}
	start := time.Now()
	res = checkers.Result{Checker: DurableName, Engine: c.Target.Name, Seed: c.Seed, Verdict: checkers.Pass}
	defer func() { res.Elapsed = time.Since(start) }()
	stream := checkers.StreamSeed(DurableName, DurableMode, c.Seed)
	stem := checkers.FileStem(DurableName, DurableMode, c.Target.Name, c.Seed)
	states := 0
	for i := 0; i < c.Cases; i++ {
		if ctx.Err() != nil || c.Budget > 0 && time.Since(start) >= c.Budget {
			break
		}
		dc, err := runDurableCase(ctx, c, stream, i, stem)
		if err != nil {
			return openFailed(res, err)
		}
		res.Cases++
		res.Ops += int64(dc.ops)
		states += dc.states
		c.Live.Add(1, int64(dc.ops))
		if dc.violation != nil {
			res.Detected = time.Since(start)
			res.Verdict, res.Violations = checkers.Fail, []checkers.Violation{*dc.violation}
			return res, nil
		}
		if dc.unknown != "" {
			res.Verdict, res.Reason = checkers.Unknown, dc.unknown
			return res, nil
		}
		if i%100 == 99 {
			c.Log("durable: %d cases, %d crash states, %d ops", res.Cases, states, res.Ops)
		}
	}
	res.End(int64(c.Cases), c.Budget, context.Cause(ctx))
	res.Reason = strings.TrimPrefix(res.Reason+fmt.Sprintf("; %d crash states checked", states), "; ")
	return res, nil
}

// runDurableCase runs case i: the concurrent run, the cut, and the checks
// of each crash state drawn from it. A failing history is written to
// c.OutDir as stem.history (and its visualization beside it).
func runDurableCase(ctx context.Context, c Config, stream uint64, i int, stem string) (dc durableCase, err error) {
	h := History{Engine: c.Target.Name, Seed: c.Seed, Case: i, Clients: c.Clients}
	dir, err := os.MkdirTemp(c.Target.WorkDir, "gauntlet-durable-")
	if err != nil {
		return dc, err
	}
	defer os.RemoveAll(dir)
	in, err := c.Target.StartWithin(filepath.Join(dir, "engine"), false, c.OpTimeout)
	if err != nil {
		return dc, &openError{fmt.Errorf("durable: open %s: %w", c.Target.Name, err)}
	}
	mem := in.Mem()
	// The cut's and the crash states' draws: a stream of their own, so
	// that they do not change the clients' ops.
	rng := rand.New(rand.NewPCG(stream, uint64(i)<<8|0x80))
	// Half the cases cut after a number of ops has returned (the others
	// then in flight); half after a number of device writes and flushes,
	// which lands the cut inside a flush: between a write and the flush
	// that covers it, between a run and the root naming it.
	cutAfter := int64(1 + rng.IntN(c.Ops-1))
	if rng.IntN(2) == 0 {
		cutAfter = int64(c.Ops) + 1 // only the device cuts
		mem.StopAfter(rng.IntN(cutIOsMax))
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	layout := c.Target.Biased(workloads.BiasedOptions{})
	gen := generator{keys: c.Keys, page: layout.PageBytes, chunk: layout.ChunkBytes, syncs: syncPercent}
	stop := new(atomic.Bool)
	var returned atomic.Int64
	start := time.Now()
	// The cut's instant is the Mem's: an op that returned before it did
	// all its IO before the cut.
	cutNow := func() {
		stop.Store(true)
		mem.Cut()
	}
	crashAt := func() int64 { return max(1, int64(mem.CutTime().Sub(start))) }
	after := func() {
		if returned.Add(1) == cutAfter {
			cutNow()
		}
	}
	clients := make([]*client, c.Clients)
	var wg sync.WaitGroup
	for cl := range clients {
		clients[cl] = &client{stop: stop, cut: mem.PowerCut, after: after}
		n := c.Ops / c.Clients
		if cl < c.Ops%c.Clients {
			n++
		}
		crng := rand.New(rand.NewPCG(stream, uint64(i)<<8|uint64(cl)))
		wg.Go(func() { clients[cl].run(runCtx, in.Engine, gen, crng, cl, n, start) })
	}
	clientsDone, maintDone := make(chan struct{}), make(chan struct{})
	go func() { wg.Wait(); close(clientsDone) }()
	ms := make([]*maintenance, maintenanceClients)
	var mwg sync.WaitGroup
	for j := range ms {
		ms[j] = &maintenance{start: start}
		if mt, ok := in.Engine.(engine.Maintainer); ok && !c.NoMaintenance {
			mrng := rand.New(rand.NewPCG(stream, uint64(i)<<8|uint64(0xff-j)))
			mwg.Go(func() { ms[j].run(runCtx, mt, mrng, clientsDone, stop) })
		}
	}
	go func() { mwg.Wait(); close(maintDone) }()
	done := make(chan struct{})
	go func() { <-clientsDone; <-maintDone; close(done) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var hung string
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			if !mem.PowerCut() {
				if hung = stuck(clients, ms, start, c.OpTimeout); hung != "" {
					break wait
				}
				continue
			}
			stop.Store(true)
			since := time.Since(mem.CutTime())
			if since > cutGrace {
				cancel() // what still waits on the device never will
			}
			if since > cutGrace+waitCut {
				break wait // ops still in flight stay pending, as a crash leaves them
			}
		}
	}
	if !mem.PowerCut() {
		cutNow() // every client finished before the cut: cut now
	}
	h.Crash = crashAt()
	for _, cl := range clients {
		cl.mu.Lock()
		h.Ops = append(h.Ops, cl.ops...)
		if cl.flight != nil {
			op := *cl.flight
			op.Return, op.Err = Pending, "in flight at the crash"
			h.Ops = append(h.Ops, op)
		}
		cl.mu.Unlock()
	}
	dc.ops = len(h.Ops)
	// The engine on the cut device is abandoned: its Close can write
	// nothing, and one that does not return (it waits on a device that
	// refuses writes) is left to the process's end.
	closed := make(chan struct{})
	go func() { in.Engine.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(waitCut):
	}
	if hung != "" {
		// A hang before the cut: no crash to check, the engine is stuck.
		dc.unknown = fmt.Sprintf("case %d: %s", i, hung)
		return dc, nil
	}

	sts, err := mem.CrashStates(c.CrashStates)
	if errors.Is(err, disk.ErrTooManyStates) {
		sts = sts[:0]
		for range c.CrashStates {
			sts = append(sts, mem.Crash(rng, disk.CrashTorn))
		}
	} else if err != nil {
		return dc, fmt.Errorf("durable: crash states: %w", err)
	}
	mem.Release() // the states keep the pages they share with it
	defer func() {
		for _, st := range sts {
			st.Release()
		}
	}()
	for j, st := range sts {
		dc.states++
		what := fmt.Sprintf("crash state %d of %d", j+1, len(sts))
		hs, v, err := checkState(ctx, c, h, st, what, stem, start)
		if err != nil || v != nil || hs != "" {
			dc.violation, dc.unknown = v, hs
			return dc, err
		}
	}
	return dc, nil
}

// checkState opens the engine on crash state st of history h, reads every
// key back, checks the history so completed, then forward progress. It
// returns a violation, or why the verdict is unknown.
func checkState(ctx context.Context, c Config, h History, st *disk.Mem, what, stem string, start time.Time) (unknown string, _ *checkers.Violation, _ error) {
	fail := func(summary, expected, actual string, ops []string) *checkers.Violation {
		v := &checkers.Violation{Summary: fmt.Sprintf("case %d, %s: %s", h.Case, what, summary), Expected: expected, Actual: actual,
			Ops: ops, OriginalOps: len(h.Ops), Replay: fmt.Sprintf("harness check %s --engine %s --seed %d", DurableName, c.Target.Name, c.Seed),
			NotMinimized: "a concurrent run is not replayed: rerun its seed (the same ops, not the same interleaving)"}
		path := filepath.Join(c.OutDir, stem+".history")
		if err := SaveHistory(path, h); err == nil {
			v.TraceFile = path
		}
		return v
	}
	e, err := c.Target.OpenDevice(st)
	if err != nil {
		return "", fail("the engine does not reopen after the crash: "+err.Error(), "the engine reopens on every crash state", err.Error(), nil), nil
	}
	defer func() {
		if e != nil {
			e.Close()
		}
	}()
	// The read-back: every key of the key space, after the crash.
	hs := h
	hs.Ops = append([]Op(nil), h.Ops...)
	recovered := map[string][]byte{} // what forward progress keeps of a key a put cannot fill

	for k := range c.Keys {
		op := Op{Client: h.Clients, Kind: KindRecover, Key: fmt.Sprintf("k%d", k)}
		op.Call = max(int64(time.Since(start)), h.Crash)
		opCtx, cancel := context.WithTimeout(ctx, c.OpTimeout)
		v, err := e.Get(opCtx, []byte(op.Key))
		cancel()
		op.Return = int64(time.Since(start))
		switch {
		case err == nil:
			op.Found, op.Value, op.Size = true, workloads.ValueDigest(v), len(v)
			recovered[op.Key] = v
		case !errors.Is(err, engine.ErrNotFound):
			op.Return, op.Err, op.Failed = Pending, err.Error(), ctx.Err() == nil
		}
		hs.Ops = append(hs.Ops, op)
	}
	verdict := Check(hs, c.CheckTimeout)
	if verdict == porcupine.Illegal || firstFailed(hs) >= 0 {
		v, err := violation(c, hs, stem)
		if err != nil {
			return "", nil, err
		}
		v.Summary = fmt.Sprintf("case %d, %s: %s", h.Case, what, v.Summary)
		return "", &v, nil
	}
	if verdict == porcupine.Unknown {
		path := filepath.Join(c.OutDir, stem+".history")
		if err := SaveHistory(path, hs); err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("case %d, %s: porcupine could not decide within %s (history: %s; re-check it: %s)", h.Case, what, c.CheckTimeout, path, c.Replay(path)), nil, nil
	}
	// Forward progress: new writes are accepted, synced, read back, and
	// still there after a clean reopen.
	want := map[string][]byte{}
	step := func(e engine.Engine, name string, fn func(context.Context) error) string {
		opCtx, cancel := context.WithTimeout(ctx, c.OpTimeout)
		defer cancel()
		if err := fn(opCtx); err != nil {
			return fmt.Sprintf("forward progress after the crash: %s: %v", name, err)
		}
		return ""
	}
	readBack := func(e engine.Engine, when string) string {
		for k := range c.Keys {
			key := fmt.Sprintf("k%d", k)
			var got []byte
			if msg := step(e, fmt.Sprintf("get %q %s", key, when), func(ctx context.Context) (err error) {
				got, err = e.Get(ctx, []byte(key))
				if errors.Is(err, engine.ErrNotFound) && want[key] == nil {
					err = nil // absent, as it was recovered, and no put filled it
				}
				return err
			}); msg != "" {
				return msg
			}
			if !bytes.Equal(got, want[key]) {
				return fmt.Sprintf("forward progress after the crash: get %q %s = %q, want %q", key, when, got, want[key])
			}
		}
		return ""
	}
	msg := ""
	for k := range c.Keys {
		key := fmt.Sprintf("k%d", k)
		want[key] = fmt.Appendf(nil, "after the crash: %s of case %d", key, h.Case)
		if msg = step(e, fmt.Sprintf("put %q", key), func(ctx context.Context) error {
			err := e.Put(ctx, []byte(key), want[key])
			if errors.Is(err, engine.ErrNoSpace) {
				// A full device may refuse a write; the key keeps its
				// recovered version.
				want[key], err = recovered[key], nil
			}
			return err
		}); msg != "" {
			break
		}
	}
	if msg == "" {
		msg = step(e, "sync", e.Sync)
	}
	if msg == "" {
		msg = readBack(e, "after the sync")
	}
	if msg == "" {
		err := e.Close()
		e = nil
		if err != nil {
			msg = fmt.Sprintf("forward progress after the crash: close: %v", err)
		} else if e, err = c.Target.OpenDevice(st); err != nil {
			e = nil // an engine's nil pointer in the interface: nothing to close
			msg = fmt.Sprintf("forward progress after the crash: reopen after a clean close: %v", err)
		} else {
			msg = readBack(e, "after a clean reopen")
		}
	}
	if msg != "" {
		return "", fail(msg, "the engine recovers: writes after the crash are accepted, read back and kept", msg, nil), nil
	}
	return "", nil, nil
}
