// Package linearize checks that an engine is linearizable: N clients run
// random ops concurrently against one engine, each op's invocation and
// return are recorded on the monotonic clock, and porcupine
// (github.com/anishathalye/porcupine) searches for an order of the ops,
// each taking effect at one instant between its call and its return, in
// which every answer is the one the specification gives.
//
// A case is one history: a fresh engine, Clients goroutines each running
// its share of Ops ops drawn from a biased alphabet (get, put, delete) over
// a small key space, so that ops on one key overlap, and, on an
// engine.Maintainer, two maintenance clients running index-flush, compact,
// reclaim, superblock-flush and cache-flush throughout, so that background
// work races the clients and itself. Values are compared
// by identity (a digest of their bytes and their length), never by their
// bytes. The porcupine model is partitioned by key and steps with
// model.Step, the function engine/model applies: one specification.
//
// # Areas verified
//
//   - Every get, put and delete that returned is linearizable per key: a
//     get returns the value of the last put linearized before it, or not
//     found after a delete or before any put, whatever the interleaving of
//     the clients. A stale read, a lost write, a value never written
//     (a torn or mixed-up value: its digest matches no put) all fail.
//   - An op that did not return within OpTimeout, or failed with an error
//     (any error but a get's engine.ErrNotFound: the engine did not say
//     whether it took effect), is pending: porcupine may place it anywhere
//     after its call, or nowhere. An error no fault-free engine may return
//     (anything but a write's engine.ErrNoSpace or the run's end: a get
//     that reads a reset extent, ErrCorruption) is also a violation by
//     itself, reported with its key's ops. This is how shardstore's
//     put-without-gate mutant (the paper's #11) is caught, in well under
//     a second: its locator names a reset extent. A history with a hung op is still
//     checked (a violation among its other ops fails), then the run ends
//     with verdict unknown: the engine hung.
//   - Verdicts: porcupine's Ok is a pass; Illegal a failure; Unknown (the
//     search ran out of CheckTimeout) is verdict unknown, never a pass.
//
// # Areas not verified
//
//   - List: a scan reads every key, so it cannot be checked in a per-key
//     partition, and an unpartitioned model of a whole map is exponential
//     for porcupine; listing is left to checkers/conformance.
//   - Properties across keys (a multi-key snapshot, the order of writes to
//     two keys): each key is checked alone, which is complete for a
//     key-value store with single-key ops only.
//   - Durability and crashes, in a linearize run (the durable checker
//     below does, checkers/crash sequentially). Maintenance ops are run,
//     not checked: they change no answer, so they are not in the history,
//     and their own errors are ignored (what they break shows in the
//     clients' ops).
//   - Races that real timing seldom hits: shardstore's
//     evacuation-overwrites-write and compaction-without-maintenance-lock
//     mutants pass a 15 s run (checkers/interleave is for those).
//   - Interleavings the scheduler did not produce: a run samples real
//     concurrency, which is not reproducible. The same seed gives the same
//     ops per client, not the same history; a failing history is saved and
//     re-checked (--history), not replayed.
//
// # On a failure
//
// The history is written to OutDir as <stem>.history (HistoryMagic
// format; harness check linearize --history FILE re-checks it) with
// porcupine's HTML visualization beside it (<stem>.html), and the
// violation shows the smallest failing partition: the key and its ops in
// call order, the first op no linearization reaches marked.
//
// # Durable linearizability (harness check durable)
//
// DurableChecker (RunDurable) is the same clients, on an engine on a
// crashable disk.Mem, with Syncs among their ops (one in ten). A case is
// cut while ops are in flight: after a drawn number of ops has returned
// (disk.Mem.Cut) in half the cases, after a drawn number of device writes
// and flushes (disk.Mem.StopAfter: inside a flush) in the other half. The
// device then refuses every write and flush; the clients stop, ops still
// waiting get their context cancelled and, if they still do not return,
// are left, as a crash leaves them. Crash states are drawn from the cut as
// checkers/crash draws them (every distinct one when there are at most
// Config.CrashStates, else that many torn ones), the engine reopens on
// each, and every key of the key space is read back (recover ops). Each
// crash state's history is checked with DurableModel:
//
//   - The recovered version of each key is its version after a prefix of
//     a linearization of the completed ops and a subset of the pending
//     ones (an op that errs, never returns, or returns after the cut's
//     instant, disk.Mem.CutTime, is pending: possibly applied, never
//     ignored).
//   - That prefix holds every write acknowledged before a completed Sync
//     was called: a Sync is modelled per key as a durability barrier,
//     copied into every key's partition. Porcupine may place it
//     differently in each key's order, so the check is at most weaker than
//     one over all keys, never stronger: no false alarm. A lost synced
//     write, a deleted key back, a version older than the synced one, a
//     value never written: each fails.
//   - Forward progress: after the read-back, new writes are accepted,
//     synced, read back, and read back again after a clean reopen; the
//     engine must reopen on every crash state.
//
// Not verified by it: properties across keys (a prefix consistent over
// all keys: shardstore promises none); directory engines (no block-level
// crash states: checkers/crash's kill mode); the interleaving is real
// concurrency, as in linearize: a failure is re-checked from its history
// (format v2: sync, crash and recover lines), or its seed rerun. Known-bad
// engines it catches in its tests: shardstore with a Sync that returns at
// once, toystore's lose-last-write, and (-tags mutants) shardstore's
// sync-before-root-durable, each in the first few cases.
//
// # Figures
//
// Measured on 2 shared vCPUs (go test -run XXX -bench . ./checkers/linearize,
// bench_test.go): porcupine checks a 10,000-op history (4 clients, 8 keys)
// in 13-19 ms, far under the 1 s bar (BenchmarkCheck10k); a run records
// and checks about 1,000 histories/s on the model and 175-200/s on
// shardstore at the checks' settings, 200 ops of 4 clients each on a fresh
// engine (BenchmarkHistories). harness check linearize --engine shardstore
// --budget 15s ran 7,500 histories (500/s: the harness collects garbage
// less often). Recording, not checking, is most of a history's time.
package linearize

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// Name is the checker's name in results.
const Name = "linearize"

// Config defaults and limits.
const (
	CasesDefault   = 100
	ClientsDefault = 4
	// ClientsMax bounds Clients: porcupine's search grows with the ops
	// that overlap, and more clients than this only make histories it
	// cannot decide.
	ClientsMax          = 64
	OpsDefault          = 200
	KeysDefault         = 4
	OpTimeoutDefault    = 10 * time.Second
	CheckTimeoutDefault = 10 * time.Second
)

// Op weights: reads are the ops that can see a violation, writes make
// the states they see.
const (
	getWeight    = 50
	putWeight    = 35
	deleteWeight = 15
)

// Config configures a run. The zero value of every field but Target is
// valid.
type Config struct {
	Target target.Target
	// Seed selects the ops; the same seed gives every client the same ops
	// (not the same interleaving).
	Seed uint64
	// Cases is the number of histories (default CasesDefault).
	Cases int
	// Budget stops the run early when spent (default 0: no limit); the
	// verdict stays pass with a Reason saying how many histories ran.
	Budget time.Duration
	// Clients is the number of concurrent clients (default
	// ClientsDefault, at most ClientsMax).
	Clients int
	// Ops is the number of ops in a history, shared among the clients
	// (default OpsDefault).
	Ops int
	// Keys is the size of the key space (default KeysDefault): small, so
	// ops on a key overlap.
	Keys int
	// NoMaintenance turns off the maintenance client: by default, when
	// the engine is an engine.Maintainer, one more goroutine runs its
	// maintenance ops (index-flush, compact, reclaim, superblock-flush,
	// cache-flush) throughout each history, so that background work races
	// with the clients' ops. Maintenance changes no answer, so it is not
	// in the history.
	NoMaintenance bool
	// OpTimeout is how long an op may take before it counts as hung
	// (default OpTimeoutDefault).
	OpTimeout time.Duration
	// CheckTimeout bounds porcupine's search of one history (default
	// CheckTimeoutDefault); a search it ends gives verdict unknown.
	CheckTimeout time.Duration
	// OutDir receives a failing history and its visualization (default
	// "": the system's temporary directory).
	OutDir string
	// Replay renders the command that re-checks a history file (default:
	// harness check linearize --history FILE).
	Replay func(historyFile string) string
	// Log receives a progress line now and then (default: none).
	Log func(format string, args ...any)
	// Live, if set, counts histories and ops as they are checked.
	Live *checkers.Live
	// CrashStates is, in a durable run (RunDurable), how many crash
	// states of each cut are checked: every one when the cut leaves at
	// most this many, else this many torn ones drawn (default
	// CrashStatesDefault). Linearize ignores it.
	CrashStates int
}

func (c *Config) ensureDefaults() {
	pick := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	pick(&c.Cases, CasesDefault)
	pick(&c.Clients, ClientsDefault)
	pick(&c.Ops, OpsDefault)
	pick(&c.Keys, KeysDefault)
	if c.OpTimeout == 0 {
		c.OpTimeout = OpTimeoutDefault
	}
	if c.CheckTimeout == 0 {
		c.CheckTimeout = CheckTimeoutDefault
	}
	if c.OutDir == "" {
		c.OutDir = os.TempDir()
	}
	if c.Replay == nil {
		c.Replay = func(file string) string { return fmt.Sprintf("harness check %s --history %s", Name, file) }
	}
	if c.Log == nil {
		c.Log = func(string, ...any) {}
	}
}

func (c *Config) validate() error {
	var errs []error
	if err := c.Target.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Clients < 1 || c.Clients > ClientsMax {
		errs = append(errs, fmt.Errorf("linearize: clients %d: give 1 to %d", c.Clients, ClientsMax))
	}
	if c.Cases < 0 || c.Ops < 1 || c.Keys < 1 || c.OpTimeout < 0 || c.CheckTimeout < 0 {
		errs = append(errs, fmt.Errorf("linearize: cases %d, ops %d, keys %d, op timeout %s, check timeout %s: none may be negative", c.Cases, c.Ops, c.Keys, c.OpTimeout, c.CheckTimeout))
	}
	return errors.Join(errs...)
}

// Run checks c.Target. It returns an error only if the check could not run
// (the engine does not open, bad configuration); a violation is a Result
// with Verdict checkers.Fail.
func Run(ctx context.Context, c Config) (res checkers.Result, err error) {
	c.ensureDefaults()
	if err := c.validate(); err != nil {
		return checkers.Result{}, err
	}
	start := time.Now()
	res = checkers.Result{Checker: Name, Engine: c.Target.Name, Seed: c.Seed, Verdict: checkers.Pass}
	defer func() { res.Elapsed = time.Since(start) }()
	stream := checkers.StreamSeed(Name, "", c.Seed)
	stem := checkers.FileStem(Name, "", c.Target.Name, c.Seed)
	var failed int
	var firstErr string
	for i := 0; i < c.Cases; i++ {
		if ctx.Err() != nil || c.Budget > 0 && time.Since(start) >= c.Budget {
			break
		}
		h, hung, err := runCase(ctx, c, stream, i)
		if err != nil {
			return openFailed(res, err)
		}
		res.Cases++
		res.Ops += int64(len(h.Ops))
		c.Live.Add(1, int64(len(h.Ops)))
		for _, op := range h.Ops {
			if op.Err != "" && !op.Failed {
				if failed++; firstErr == "" {
					firstErr = op.String()
				}
			}
		}
		verdict := Check(h, c.CheckTimeout)
		if verdict == porcupine.Illegal || verdict == porcupine.Ok && firstFailed(h) >= 0 {
			res.Detected = time.Since(start)
			v, err := violation(c, h, stem)
			if err != nil {
				return res, err
			}
			res.Verdict, res.Violations = checkers.Fail, []checkers.Violation{v}
			return res, nil
		}
		if verdict == porcupine.Unknown || hung != "" {
			path := filepath.Join(c.OutDir, stem+".history")
			if err := SaveHistory(path, h); err != nil {
				return res, err
			}
			res.Verdict = checkers.Unknown
			if hung != "" {
				res.Reason = fmt.Sprintf("history %d: %s; the ops before it are linearizable (history: %s)", i, hung, path)
			} else {
				res.Reason = fmt.Sprintf("history %d: porcupine could not decide within %s (history: %s; re-check it: %s)", i, c.CheckTimeout, path, c.Replay(path))
			}
			return res, nil
		}
		if i%100 == 99 {
			c.Log("linearize: %d histories, %d ops", res.Cases, res.Ops)
		}
	}
	res.End(int64(c.Cases), c.Budget, context.Cause(ctx))
	if failed > 0 && res.Verdict == checkers.Pass {
		note := fmt.Sprintf("%d ops failed and were checked as pending; the first: %s", failed, firstErr)
		res.Reason = strings.TrimPrefix(res.Reason+"; "+note, "; ")
	}
	return res, nil
}

// violation writes a failing history and its visualization to c.OutDir
// and describes its smallest failing partition.
func violation(c Config, h History, stem string) (checkers.Violation, error) {
	path := filepath.Join(c.OutDir, stem+".history")
	if err := SaveHistory(path, h); err != nil {
		return checkers.Violation{}, err
	}
	html := strings.TrimSuffix(path, ".history") + ".html"
	v := describe(c, h, path)
	if err := visualize(h, html, c.CheckTimeout); err != nil {
		v.NotMinimized += fmt.Sprintf("; visualization not written: %v", err)
	} else {
		v.Visualization = html
	}
	return v, nil
}

// describe is the violation of a history porcupine found illegal.
func describe(c Config, h History, path string) checkers.Violation {
	v := checkers.Violation{OriginalOps: len(h.Ops), TraceFile: path, Replay: c.Replay(path),
		Expected: "a linearizable history", Actual: "no order of the ops explains the answers"}
	f, ok := smallestFailure(h, c.CheckTimeout)
	if i := firstFailed(h); !ok && i >= 0 {
		return describeFailed(v, h, i)
	}
	if !ok {
		// Porcupine found the whole illegal but no key alone: cannot
		// happen with per-key partitions, unless a key's search timed out.
		v.Summary = fmt.Sprintf("history %d (%d clients, %d ops) is not linearizable", h.Case, h.Clients, len(h.Ops))
		v.NotMinimized = "no key's history failed alone within the check timeout"
		for i := range h.Ops {
			v.Ops = append(v.Ops, h.Ops[i].String())
		}
		return v
	}
	stuck := &f.ops[f.stuck]
	v.Summary = fmt.Sprintf("key %q: its %d ops (of %d in history %d, %d clients) are not linearizable: no order reaches %s → %s",
		f.key, len(f.ops), len(h.Ops), h.Case, h.Clients, stuck.call(), stuck.result())
	v.OpIndex = f.stuck
	v.Expected = fmt.Sprintf("%s → %s (the key after the longest linearizable prefix)", stuck.call(), f.state)
	v.Actual = stuck.String()
	v.NotMinimized = fmt.Sprintf("a concurrent history is not shrunk: these are the ops of its smallest failing key, %q", f.key)
	for i := range f.ops {
		v.Ops = append(v.Ops, f.ops[i].String())
	}
	return v
}

// firstFailed is the index of the first op (by call) that failed as no
// fault-free engine may (Op.Failed), -1 if none.
func firstFailed(h History) int {
	first := -1
	for i := range h.Ops {
		if h.Ops[i].Failed && (first < 0 || h.Ops[i].Call < h.Ops[first].Call) {
			first = i
		}
	}
	return first
}

// describeFailed fills v for a linearizable history with an op that
// failed (h.Ops[i]): the key's ops in call order, that op marked.
func describeFailed(v checkers.Violation, h History, i int) checkers.Violation {
	bad := h.Ops[i]
	var ops []Op
	for _, op := range h.Ops {
		if op.Key == bad.Key {
			ops = append(ops, op)
		}
	}
	slices.SortStableFunc(ops, func(a, b Op) int { return cmp.Compare(a.Call, b.Call) })
	v.Summary = fmt.Sprintf("key %q: client %d's %s failed in history %d: %s (no faults were injected: an op may fail only for want of space)",
		bad.Key, bad.Client, bad.call(), h.Case, bad.Err)
	v.Expected = "success, or engine.ErrNoSpace for a write"
	v.Actual = bad.Err
	v.NotMinimized = fmt.Sprintf("a concurrent history is not shrunk: these are the ops of key %q, where an op failed", bad.Key)
	for j := range ops {
		if ops[j].Call == bad.Call && ops[j].Client == bad.Client {
			v.OpIndex = j
		}
		v.Ops = append(v.Ops, ops[j].String())
	}
	return v
}

// CheckHistory re-checks a history file (as Run writes one) and reports
// it as a run of one case: a failing history is written again beside the
// Result with its visualization. Only OutDir, CheckTimeout and Replay of
// c matter.
func CheckHistory(ctx context.Context, c Config, file string) (checkers.Result, error) {
	start := time.Now()
	h, err := ReadHistory(file)
	if err != nil {
		return checkers.Result{}, err
	}
	if c.Replay == nil && h.Crash > 0 {
		c.Replay = func(file string) string { return fmt.Sprintf("harness check %s --history %s", DurableName, file) }
	}
	c.ensureDefaults()
	res := checkers.Result{Checker: Name, Engine: h.Engine, Seed: h.Seed, Verdict: checkers.Pass, Cases: 1, Ops: int64(len(h.Ops))}
	if h.Crash > 0 {
		res.Checker = DurableName
	}
	verdict := Check(h, c.CheckTimeout)
	if verdict == porcupine.Ok && firstFailed(h) >= 0 {
		verdict = porcupine.Illegal // a violation too: see describe
	}
	switch verdict {
	case porcupine.Illegal:
		res.Detected = time.Since(start)
		stem := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)) + "-recheck"
		v, err := violation(c, h, stem)
		if err != nil {
			return res, err
		}
		v.Replay = c.Replay(file)
		res.Verdict, res.Violations = checkers.Fail, []checkers.Violation{v}
	case porcupine.Unknown:
		res.Verdict = checkers.Unknown
		res.Reason = fmt.Sprintf("porcupine could not decide %s within %s", file, c.CheckTimeout)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// client is one client's record of a case: the ops it finished and the
// one in flight, guarded by mu so that a case can be cut while an op
// hangs.
type client struct {
	mu     sync.Mutex
	ops    []Op
	flight *Op
	// stop, shared by a case's clients, ends them after the op in
	// flight: the case was cut (an op hung).
	stop *atomic.Bool
	// cut, in a durable case, says the device was cut: errors after it
	// are the crash, not failures. after is called when an op returns
	// (the durable case's cutter counts them); nil in a linearize case.
	cut   func() bool
	after func()
}

// runCase runs history i: a fresh engine, the clients, and the record of
// what they did. hung says which op did not return within c.OpTimeout (the
// history then ends there, that op and the others in flight pending).
func runCase(ctx context.Context, c Config, stream uint64, i int) (h History, hung string, err error) {
	h = History{Engine: c.Target.Name, Seed: c.Seed, Case: i, Clients: c.Clients}
	dir, err := os.MkdirTemp(c.Target.WorkDir, "gauntlet-linearize-")
	if err != nil {
		return h, "", err
	}
	in, err := c.Target.StartWithin(filepath.Join(dir, "engine"), false, c.OpTimeout)
	if err != nil {
		os.RemoveAll(dir)
		return h, "", &openError{fmt.Errorf("linearize: open %s: %w", c.Target.Name, err)}
	}
	layout := c.Target.Biased(workloads.BiasedOptions{})
	gen := generator{keys: c.Keys, page: layout.PageBytes, chunk: layout.ChunkBytes}
	clients := make([]*client, c.Clients)
	stop := new(atomic.Bool)
	start := time.Now()
	var wg sync.WaitGroup
	for cl := range clients {
		clients[cl] = &client{stop: stop}
		n := c.Ops / c.Clients
		if cl < c.Ops%c.Clients {
			n++
		}
		rng := rand.New(rand.NewPCG(stream, uint64(i)<<8|uint64(cl)))
		wg.Go(func() { clients[cl].run(ctx, in.Engine, gen, rng, cl, n, start) })
	}
	clientsDone, maintDone := make(chan struct{}), make(chan struct{})
	go func() { wg.Wait(); close(clientsDone) }()
	ms := make([]*maintenance, maintenanceClients)
	var mwg sync.WaitGroup
	for j := range ms {
		ms[j] = &maintenance{start: start}
		if mt, ok := in.Engine.(engine.Maintainer); ok && !c.NoMaintenance {
			rng := rand.New(rand.NewPCG(stream, uint64(i)<<8|uint64(0xff-j)))
			mwg.Go(func() { ms[j].run(ctx, mt, rng, clientsDone, stop) })
		}
	}
	go func() { mwg.Wait(); close(maintDone) }()
	done := make(chan struct{})
	go func() { <-clientsDone; <-maintDone; close(done) }()
	tick := time.NewTicker(min(c.OpTimeout/4+1, 100*time.Millisecond))
	defer tick.Stop()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			if hung = stuck(clients, ms, start, c.OpTimeout); hung != "" {
				break wait
			}
		}
	}
	// The history: every finished op, and the ops in flight as pending
	// (all are, unless a client hung).
	for _, cl := range clients {
		cl.mu.Lock()
		h.Ops = append(h.Ops, cl.ops...)
		if cl.flight != nil {
			op := *cl.flight
			op.Return, op.Err = Pending, "in flight when the history was cut"
			if int64(time.Since(start))-op.Call > int64(c.OpTimeout) {
				op.Err = fmt.Sprintf("did not return within %s", c.OpTimeout)
			}
			h.Ops = append(h.Ops, op)
		}
		cl.mu.Unlock()
	}
	if hung != "" {
		stop.Store(true)
		// The engine is stuck: leave it (and its directory) to the
		// process's end rather than hang the run in Close.
		return h, hung, nil
	}
	defer os.RemoveAll(dir)
	if err := in.Close(); err != nil {
		return h, "", &closeError{i, fmt.Errorf("linearize: close %s after history %d: %w", c.Target.Name, i, err)}
	}
	return h, "", nil
}

// maintenanceClients is how many maintenance clients a case runs on a
// Maintainer: two, so that maintenance ops race each other too (a
// compaction against a reclamation, the paper's bug #14).
const maintenanceClients = 2

// maintenanceOps is what the maintenance clients draw from, weighted to
// the ops that move data under the clients' feet.
var maintenanceOps = []engine.MaintenanceOp{
	engine.IndexFlush, engine.IndexFlush, engine.Compact, engine.Compact,
	engine.Reclaim, engine.Reclaim, engine.Reclaim, engine.Reclaim,
	engine.SuperblockFlush, engine.CacheFlush,
}

// maintenance is a case's maintenance client and its op in flight (for
// hang detection).
type maintenance struct {
	start  time.Time
	mu     sync.Mutex
	flight engine.MaintenanceOp
	since  int64 // the op in flight's start, ns since start
}

// run runs random maintenance ops on mt until the clients are done (or
// the case is cut). Errors are the engine's business here: an op it does
// not support, or refuses for space, changes no answer, and a failure
// that does shows in the clients' ops.
func (m *maintenance) run(ctx context.Context, mt engine.Maintainer, rng *rand.Rand, clientsDone <-chan struct{}, stop *atomic.Bool) {
	ops := maintenanceOps
	// The first op runs even if the clients are done: on a loaded machine
	// a client's history can end before this goroutine is first scheduled,
	// and a case must not pass without the maintenance it claims to race.
	for first := true; ctx.Err() == nil && !stop.Load(); first = false {
		select {
		case <-clientsDone:
			if !first {
				return
			}
		default:
		}
		op := ops[rng.IntN(len(ops))]
		m.mu.Lock()
		m.flight, m.since = op, int64(time.Since(m.start))
		m.mu.Unlock()
		mt.Maintain(ctx, op)
		m.mu.Lock()
		m.flight = ""
		m.mu.Unlock()
		// Let the clients run between two maintenance ops: on few cores
		// a loop of them would otherwise take turns with whole histories.
		runtime.Gosched()
	}
}

// stuck names an op in flight for longer than timeout, "" if none.
func stuck(clients []*client, ms []*maintenance, start time.Time, timeout time.Duration) string {
	now := int64(time.Since(start))
	for _, m := range ms {
		m.mu.Lock()
		op, since := m.flight, m.since
		m.mu.Unlock()
		if op != "" && now-since > int64(timeout) {
			return fmt.Sprintf("a maintenance client's %s did not return within %s (the engine hung)", op, timeout)
		}
	}
	for _, cl := range clients {
		cl.mu.Lock()
		f := cl.flight
		var s string
		if f != nil && now-f.Call > int64(timeout) {
			s = fmt.Sprintf("client %d's %s did not return within %s (the engine hung)", f.Client, f.call(), timeout)
		}
		cl.mu.Unlock()
		if s != "" {
			return s
		}
	}
	return ""
}

// run runs n ops of generator gen on e, recording each.
func (cl *client) run(ctx context.Context, e engine.Engine, gen generator, rng *rand.Rand, id, n int, start time.Time) {
	var buf []byte
	for range n {
		// After a durable case's cut, an op would only fail: stop at
		// once, or the ops failed before the wait loop sees the cut are
		// all pending, which porcupine's search grows with.
		if ctx.Err() != nil || cl.stop.Load() || cl.cut != nil && cl.cut() {
			return
		}
		op, seed := gen.next(rng)
		op.Client = id
		if op.Kind == model.KeyPut {
			if cap(buf) < op.Size {
				buf = make([]byte, op.Size)
			}
			buf = buf[:op.Size]
			workloads.FillValue(buf, seed)
			op.Value = workloads.ValueDigest(buf)
		}
		cl.mu.Lock()
		op.Call = int64(time.Since(start))
		cl.flight = &op
		cl.mu.Unlock()
		var err error
		switch op.Kind {
		case model.KeyGet:
			var v []byte
			v, err = e.Get(ctx, []byte(op.Key))
			if err == nil {
				op.Found, op.Value, op.Size = true, workloads.ValueDigest(v), len(v)
			} else if errors.Is(err, engine.ErrNotFound) {
				err = nil
			}
		case model.KeyPut:
			err = e.Put(ctx, []byte(op.Key), buf)
		case model.KeyDelete:
			err = e.Delete(ctx, []byte(op.Key))
		case KindSync:
			err = e.Sync(ctx)
		}
		ret := int64(time.Since(start))
		if err != nil {
			ret, op.Err = Pending, err.Error()
			// The run's end, or a write refused for space, is allowed;
			// any other error is not, without faults (nor, in a durable
			// case, the cut's: the crash makes ops fail).
			op.Failed = ctx.Err() == nil && !(op.Kind != model.KeyGet && errors.Is(err, engine.ErrNoSpace)) &&
				(cl.cut == nil || !cl.cut())
		}
		cl.mu.Lock()
		op.Return = ret
		cl.ops = append(cl.ops, op)
		cl.flight = nil
		cl.mu.Unlock()
		if cl.after != nil {
			cl.after()
		}
	}
}

// generator draws a case's ops: the biased alphabet, keys skewed to the
// first of a small space so that ops on a key overlap, sizes mostly small
// with some at the target's page and chunk boundaries.
type generator struct {
	keys, page, chunk int
	// syncs is the percentage of Syncs among the ops (durable cases; 0
	// in linearize, whose draws it then leaves as they were).
	syncs int
}

// next draws an op (kind, key, size) and the seed of a put's value.
func (g generator) next(rng *rand.Rand) (Op, uint64) {
	var op Op
	if g.syncs > 0 && rng.IntN(100) < g.syncs {
		op.Kind = KindSync
		return op, 0
	}
	switch w := rng.IntN(getWeight + putWeight + deleteWeight); {
	case w < getWeight:
		op.Kind = model.KeyGet
	case w < getWeight+putWeight:
		op.Kind = model.KeyPut
	default:
		op.Kind = model.KeyDelete
	}
	// The lower of two draws: key 0 is the hottest.
	op.Key = fmt.Sprintf("k%d", min(rng.IntN(g.keys), rng.IntN(g.keys)))
	if op.Kind != model.KeyPut {
		return op, 0
	}
	switch s := rng.IntN(10); {
	case s < 7:
		op.Size = 1 + rng.IntN(64)
	case s < 9:
		op.Size = g.page - 1 + rng.IntN(3)
	default:
		op.Size = g.chunk - 1 + rng.IntN(3)
	}
	return op, rng.Uint64()
}

// openError is a case's failure to open its new engine.
type openError struct{ err error }

func (e *openError) Error() string { return e.err.Error() }
func (e *openError) Unwrap() error { return e.err }

// closeError is an engine's failure to close after history i.
type closeError struct {
	i   int
	err error
}

func (e *closeError) Error() string { return e.err.Error() }
func (e *closeError) Unwrap() error { return e.err }

// openFailed returns what a run makes of err, a case's error: if the
// first case's new engine did not open, the engine's failure
// (checkers.OpenFailed); if the engine failed to close after a history,
// with no fault injected, a violation of the contract (Close makes every
// acknowledged write durable, and nothing here explains an error); unless
// the error is the machine's (checkers.EnvironmentError), err, a check
// that could not run.
func openFailed(res checkers.Result, err error) (checkers.Result, error) {
	var oe *openError
	if errors.As(err, &oe) && res.Cases == 0 {
		if r, ok := checkers.OpenFailed(res.Checker, res.Engine, res.Seed, oe.err); ok {
			return r, nil
		}
	}
	var ce *closeError
	if errors.As(err, &ce) && !checkers.EnvironmentError(err) {
		res.Cases++ // the history ran; its Close failed
		res.Verdict = checkers.Fail
		res.Violations = []checkers.Violation{{
			Summary:      fmt.Sprintf("history %d: Close failed: %v", ce.i, ce.err),
			Ops:          []string{"# close the engine after the history"},
			Expected:     "Close succeeds",
			Actual:       ce.err.Error(),
			NotMinimized: "the history itself is linearizable; run the same check again to reproduce the Close",
		}}
		return res, nil
	}
	return res, err
}
