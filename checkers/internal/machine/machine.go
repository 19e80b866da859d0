// Package machine is the state machine behind the conformance and crash
// checkers: it applies ops to an engine (through a target.Instance) and to
// the reference model, compares every answer, and, in crash mode, tracks
// dependencies and checks the engine after dirty reboots. The public
// packages checkers/conformance and checkers/crash configure it and
// document what it verifies.
package machine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/gauntlet-kv/gauntlet/coverage"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// CrashStatesMaxDefault is how many block-level crash states a dirty reboot
// enumerates exhaustively; with more, it samples CrashSamples of them.
const (
	CrashStatesMaxDefault = 16
	CrashSamplesDefault   = 3
	// CrashIOMax bounds the IO a dirty reboot may cut power after: its
	// Sync takes about five writes and flushes on shardstore's check
	// defaults (data, run, metadata, slot, flush), so about half the cuts
	// land inside it (TestPowerCutsLandInsideFlushes); a point past the
	// last IO is a crash after the flushes, as before.
	CrashIOMax = 8
	// CrashSpanMax bounds the IO an armed power cut of crash-version 3
	// allows before it lands: enough for the ops after the reboot that
	// armed it to issue index flushes and slot writes of their own, few
	// enough that most armed cuts land before the next reboot.
	CrashSpanMax = 16
	// RetryMax bounds the writes a retry (crash-version 4) puts again:
	// the lost suffix of a case is rarely longer.
	RetryMax = 32
	// OpTimeoutDefault bounds one op (its context's deadline): an op still
	// running then is a hang, reported as a violation. Ops of a checker
	// case take microseconds to milliseconds, even under the race detector.
	OpTimeoutDefault = 10 * time.Second
)

// Config configures a Machine.
type Config struct {
	// Checker names the checker, for messages: "conformance" or "crash".
	Checker string
	Target  target.Target
	// Faults runs the engine on a disk.Faulty and lets FailDiskOnce arm a
	// fault.
	Faults bool
	// BatchPuts applies each run of consecutive puts as one
	// engine.Batcher PutBatch call, made when an op of another kind (or
	// the case's end) comes: the same op stream, through the bulk-load
	// path. The target must be a Batcher (see Capabilities); a trace
	// records it (AttrBatch).
	BatchPuts bool
	// Crash enables DirtyReboot and dependency tracking.
	Crash bool
	// CrashStatesMax and CrashSamples: see the defaults.
	CrashStatesMax, CrashSamples int
	// CrashInOp lets a dirty reboot cut power inside its own flushes (the
	// device stops after the k-th write or flush its seed chooses), not
	// only after them: crash-version 2 of the trace format. Off, a dirty
	// reboot's seed means what it meant in traces written before.
	CrashInOp bool
	// CrashAcross (crash-version 3, with CrashInOp) lets a dirty reboot's
	// seed, instead of crashing, arm a power cut that lands inside a later
	// op: a put whose index flush or slot write it cuts, a Sync, a
	// maintenance op or a background flush between ops. The op it fails is
	// the crash (pending: it may have happened or not), as inside a Sync.
	CrashAcross bool
	// CrashRetry (crash-version 4, with CrashAcross) lets a dirty reboot
	// whose power cut landed inside its own flushes retry, as a client
	// whose requests failed with the machine would: once the engine has
	// recovered, a prefix of the writes lost since the last Sync is put
	// again, with the same values or new ones of the same sizes (the same
	// records or frames at the same offsets of the same durable state),
	// and the same flushes are cut at the same IO or a later one, up to
	// RetryMaxAttempts times. A store that lets the first attempt's bytes pass for
	// the second's (identifiers repeated across opens, a sequence number
	// not advanced) shows the first attempt's values, lost by the first
	// crash, after the second.
	CrashRetry bool
	// CrashRetryNear (crash-version 5, with CrashRetry) continues half
	// the reboots that will retry on the crash state that lost the least
	// short of nothing (the fewest bytes apart from the device with every
	// pending write kept), not a random one: a round's last write (a
	// superblock slot) lost and the writes before it kept, which is the
	// state a retry writing the same frames at the same offsets must not
	// be fooled by. At random, that state was one of several, and a store
	// reusing identifiers across opens was caught on some seeds only.
	CrashRetryNear bool
	// OpTimeout bounds each op (default OpTimeoutDefault). The engine sees
	// it as its context's deadline; an op that ignores the context (Close
	// takes none) and runs past 3×OpTimeout stops the process with every
	// goroutine's stack, rather than hang the run.
	OpTimeout time.Duration
}

// Kind classifies a failure; the kinds are reported from distinct call
// sites so rapid's shrinker keeps a failure's kind while it minimizes.
type Kind int

// The failure kinds.
const (
	KindAnswer      Kind = iota // a wrong answer: value, absence, list
	KindError                   // an error no fault explains
	KindCrash                   // after a crash a key holds a version the model forbids
	KindProgress                // a dependency not persistent after Sync or Close
	KindInvariant               // CheckInvariants failed
	KindUnavailable             // the engine could not be reopened
	KindHang                    // an op did not complete within OpTimeout
	KindPanic                   // the engine panicked in the checker's goroutine
)

// Failure is one violation, found at op OpIndex (len(ops) for the final
// check after the last op).
type Failure struct {
	Kind     Kind
	OpIndex  int
	Summary  string
	Expected string
	Actual   string
}

func (f *Failure) Error() string { return fmt.Sprintf("op %d: %s", f.OpIndex, f.Summary) }

type pair struct {
	op int
	e  engine.Dependency
	m  *model.Dep
}

// Machine applies one case's ops.
type Machine struct {
	cfg   Config
	base  context.Context // the run's
	ctx   context.Context // the current op's: base with a deadline
	clock *opClock        // makes the ops' contexts; the watchdog
	in    *target.Instance
	model *model.Store
	deps  []pair
	keys  []string // every key written so far, sorted
	kbuf  []byte   // scratch: a key of keys passed to a call
	n     int      // ops applied
	// faultBase is the fault count when the engine was last opened. An
	// engine does IO in background goroutines too (flushes, compaction,
	// reclamation), so a fault may fire during one op and surface in a
	// later one: any fault since the open explains an error.
	faultBase int64
	// noSpace counts writes refused with engine.ErrNoSpace.
	noSpace int
	// points records where each dirty reboot's crash landed, for the
	// trace (CrashPoints).
	points []string // CrashPoints; written under pmu
	pmu    sync.Mutex
	// faultCrash says the armed fault, once it fires, is recovered from
	// through a crash (crash checker with faults; drawn by armFault).
	faultCrash bool
	faultSeed  uint64
	// across says a power cut armed by a dirty reboot (Config.CrashAcross)
	// has not landed yet; acrossSeed chooses its crash state.
	across     bool
	acrossSeed uint64
	// unsynced are the writes since the last Sync that returned or crash
	// (the last RetryMax), which a retry (Config.CrashRetry) puts again;
	// retrying says one is running.
	unsynced []workloads.Op
	retrying bool
	// near says the crash being taken continues on the state nearest
	// the device with every pending write kept (Config.CrashRetryNear).
	near     bool
	retryCut int     // the IO the retry's reboot cuts power after
	buf      *[]byte // values of puts, from bufPool
	// rec, if the target is observed by a coverage.Recorder, hears the
	// case's ops, crashes and failures (the fault-space matrix).
	rec    *coverage.Recorder
	lister bool
	maint  bool
	track  bool
	inv    bool
	// batch holds the puts Config.BatchPuts defers, the first of them op
	// batchFrom, until an op of another kind (or the case's end) applies
	// them as one PutBatch.
	batch     []workloads.Op
	batchFrom int
	// cancelOps is how many of the next gets, lists, puts and deletes
	// run with a context the machine cancels cancelAfter into the call
	// (a FailDiskOnce seed with SeedCancel): a client that gives up.
	cancelOps   int
	cancelAfter time.Duration
}

// Capabilities are what the target's engine implements.
type Capabilities struct {
	Lister, Maintainer, Tracker, InvariantChecker, Batcher bool
}

// Probe opens the target once in dir and reports its capabilities. An open
// that has not returned within OpTimeoutDefault is left running (its
// goroutine leaks: nothing can stop it) and reported as an error wrapping
// checkers.ErrEngineHang; see checkers.OpenFailed for what a check makes
// of a failed open.
func Probe(t target.Target, dir string) (Capabilities, error) {
	return probe(t, dir, OpTimeoutDefault)
}

func probe(t target.Target, dir string, timeout time.Duration) (Capabilities, error) {
	in, err := t.StartWithin(dir, false, timeout)
	if err != nil {
		return Capabilities{}, fmt.Errorf("open engine %s: %w", t.Name, err)
	}
	defer in.Close()
	return capsOf(in.Engine), nil
}

func capsOf(e engine.Engine) Capabilities {
	var c Capabilities
	_, c.Lister = e.(engine.Lister)
	_, c.Maintainer = e.(engine.Maintainer)
	_, c.Tracker = e.(engine.Tracker)
	_, c.InvariantChecker = e.(engine.InvariantChecker)
	_, c.Batcher = e.(engine.Batcher)
	return c
}

// New opens a fresh engine for one case, in dir for a directory target.
func New(ctx context.Context, cfg Config, dir string) (*Machine, error) {
	if cfg.CrashStatesMax == 0 {
		cfg.CrashStatesMax = CrashStatesMaxDefault
	}
	if cfg.CrashSamples == 0 {
		cfg.CrashSamples = CrashSamplesDefault
	}
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = OpTimeoutDefault
	}
	in, err := cfg.Target.Start(dir, cfg.Faults)
	if err != nil {
		return nil, fmt.Errorf("open engine %s: %w", cfg.Target.Name, err)
	}
	m := &Machine{cfg: cfg, base: ctx, ctx: ctx, clock: newOpClock(ctx, cfg.OpTimeout, cfg.Checker), in: in, model: model.New()}
	if m.rec, _ = cfg.Target.Observer.(*coverage.Recorder); m.rec != nil {
		m.rec.BeginCase()
	}
	c := capsOf(in.Engine)
	m.lister, m.maint, m.inv = c.Lister, c.Maintainer, c.InvariantChecker
	m.track = cfg.Crash && c.Tracker
	return m, nil
}

// bufPool recycles the value buffers of machines: a case's puts need one
// as large as its largest value (tens of KiB), and each case is a machine.
var bufPool sync.Pool // of *[]byte

// Close releases the engine, and the in-memory device for reuse by later
// cases (disk.Mem.Release). It runs after the case, often after a
// violation left the engine in a bad state, so a Close that hangs is
// abandoned after OpTimeout (its goroutine leaks) rather than stop the run
// before the violation is reported.
func (m *Machine) Close() {
	m.clock.close()
	if m.in == nil {
		return
	}
	in, buf := m.in, m.buf
	m.in, m.buf = nil, nil
	done := make(chan struct{})
	go func() {
		defer close(done)
		// An engine left broken by a violation (a panic among them) may
		// panic again on Close: the violation is what matters.
		defer func() { _ = recover() }()
		in.Close()
		// Only once the engine is closed: a Close that hangs leaves the
		// device and the value buffer with the abandoned engine.
		if mem := in.Mem(); mem != nil {
			mem.Release()
		}
		if buf != nil {
			bufPool.Put(buf)
		}
	}()
	t := time.NewTimer(m.cfg.OpTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

func (m *Machine) fail(kind Kind, format string, args ...any) *Failure {
	return &Failure{Kind: kind, OpIndex: m.n, Summary: fmt.Sprintf(format, args...)}
}

func (m *Machine) failWant(kind Kind, want, got string, format string, args ...any) *Failure {
	f := m.fail(kind, format, args...)
	f.Expected, f.Actual = want, got
	return f
}

// faultCount is the number of injected failures and flips so far.
func (m *Machine) faultCount() int64 {
	if m.in.Faulty == nil {
		return 0
	}
	s := m.in.Faulty.Faults()
	return s.ReadErrors + s.WriteErrors + s.FlushErrors + s.Flips
}

// faulted reports whether a fault fired since the engine was opened.
func (m *Machine) faulted() bool { return m.faultCount() != m.faultBase }

// showValue renders a value for a message; a long one is clipped and
// identified by its digest, so two values that differ late still differ.
func showValue(v []byte, found bool) string {
	if found && len(v) > 32 {
		return fmt.Sprintf("%q...(%d bytes, digest %016x)", v[:32], len(v), workloads.ValueDigest(v))
	}
	return model.Version{Present: found, Value: v}.String()
}

// bounded runs fn, the work of one op, under the op deadline and the
// watchdog (see opClock), and turns an overrun into a KindHang failure.
func (m *Machine) bounded(what string, fn func() *Failure) *Failure {
	ctx := m.clock.start(m.n, what)
	m.ctx = ctx
	defer func() {
		m.clock.end(ctx)
		m.ctx = m.base
	}()
	f := m.guard(what, fn)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && m.base.Err() == nil {
		hang := m.failWant(KindHang, fmt.Sprintf("done within %s", m.cfg.OpTimeout), "still running",
			"%s did not complete within %s (a deadlock or a lost wakeup)", what, m.cfg.OpTimeout)
		if f != nil {
			hang.Summary += ": " + f.Summary
		}
		return hang
	}
	return f
}

// guard runs fn and turns a panic of the engine's, in this goroutine, into
// a violation: an engine that panics under a check has a bug the check
// found, and must not take the checker down before it is reported. (A
// panic in one of the engine's own goroutines ends the process; kill mode
// runs an engine in a child process for that.)
func (m *Machine) guard(what string, fn func() *Failure) (f *Failure) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		where := panicSite(debug.Stack())
		f = m.failWant(KindPanic, "no panic", fmt.Sprint(r), "%s: the engine panicked: %v%s", what, r, where)
		m.in.Engine = nil // its state is unknown: nothing more is asked of it
	}()
	return fn()
}

// panicSite is " (at FUNC FILE:LINE)" for the frame that panicked, from a
// stack debug.Stack took in the deferred recover, or "".
func panicSite(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i, l := range lines {
		// The frames after runtime's panic machinery: the first is the
		// one that panicked.
		if strings.HasPrefix(l, "panic(") && i+2 < len(lines) {
			fn := lines[i+2]
			if j := strings.LastIndex(fn, "("); j > 0 {
				fn = fn[:j]
			}
			file := strings.TrimSpace(lines[i+3])
			if j := strings.LastIndex(file, " +"); j > 0 {
				file = file[:j]
			}
			return fmt.Sprintf(" (at %s %s)", fn, file)
		}
	}
	return ""
}

// Step applies op (the ops' n-th) to engine and model and compares.
func (m *Machine) Step(op workloads.Op) *Failure {
	if m.rec != nil {
		m.rec.SetOp(op.Kind.String())
	}
	f := m.bounded(op.String(), func() *Failure { return m.checkedStep(op) })
	if f != nil && m.rec != nil {
		m.rec.Found()
	}
	m.n++
	return f
}

func (m *Machine) checkedStep(op workloads.Op) *Failure {
	if m.deferPut(op) {
		return nil
	}
	f := m.flushBatch()
	if f == nil {
		f = m.step(op)
	}
	if f == nil && m.cutLanded() {
		// The cut landed in the op's own IO or in background work, and the
		// op returned: what it acknowledged is in the model already.
		f = m.crashAcross(nil)
	}
	if f == nil && m.in.Engine != nil && m.inv {
		if err := m.in.Engine.(engine.InvariantChecker).CheckInvariants(); err != nil {
			if m.cutLanded() {
				f = m.crashAcross(nil)
			} else if m.faulted() {
				// An engine may stop on a device error (and say so).
				f = m.recoverFault(nil)
			} else {
				f = m.fail(KindInvariant, "after %s: invariant broken: %v", op, err)
			}
		}
	}
	if f == nil {
		m.poll()
	}
	return f
}

// unexpected handles an engine error in what, whose writes (if any) may
// or may not have happened: a fault or a power cut explains it (the
// checker recovers the engine), nothing else does.
func (m *Machine) unexpected(what string, err error, writes []workloads.Op) *Failure {
	if m.cutLanded() {
		return m.crashAcross(writes)
	}
	if m.faulted() {
		return m.recoverFault(writes)
	}
	return m.failWant(KindError, "success", err.Error(), "%s: unexpected error: %v", what, err)
}

// deferPut reports whether op is a put Config.BatchPuts defers into the
// batch, and defers it.
func (m *Machine) deferPut(op workloads.Op) bool {
	if !m.cfg.BatchPuts || op.Kind != workloads.OpPut || m.in.Engine == nil || op.Size > engine.LimitsOf(m.in.Engine).ValueMax {
		return false
	}
	if len(m.batch) == 0 {
		m.batchFrom = m.n
	}
	m.batch = append(m.batch, op)
	return true
}

// flushBatch applies the deferred puts (Config.BatchPuts) as one PutBatch
// call. Returned nil, every put is acknowledged, as if each had been Put,
// in order. After ErrNoSpace any subset may have been applied (the
// contract: a full device may stop a batch half-way), which settleBatch
// reads back; after any other error the puts are pending, as one put's
// are.
func (m *Machine) flushBatch() *Failure {
	batch := m.batch
	m.batch = nil
	if len(batch) == 0 || m.in.Engine == nil {
		return nil
	}
	what := fmt.Sprintf("put-batch of ops %d to %d", m.batchFrom, m.batchFrom+len(batch)-1)
	kvs := make([]engine.KV, len(batch))
	for i, op := range batch {
		// Each value its own buffer: they are all alive in the call.
		kvs[i] = engine.KV{Key: op.Key, Value: op.Value(nil)}
		m.addKey(op.Key)
	}
	err := m.in.Engine.(engine.Batcher).PutBatch(m.ctx, kvs)
	if errors.Is(err, engine.ErrNoSpace) && !m.faulted() {
		m.noSpace++
		return m.settleBatch(what, batch)
	}
	if err != nil {
		return m.unexpected(what, err, batch)
	}
	for _, op := range batch {
		m.modelWrite(op)
		if m.cfg.CrashRetry && !m.retrying {
			if len(m.unsynced) == RetryMax {
				m.unsynced = append(m.unsynced[:0], m.unsynced[1:]...)
			}
			m.unsynced = append(m.unsynced, op)
		}
	}
	return nil
}

// settleBatch reads back each key of a batch that failed with ErrNoSpace:
// it must hold its version from before the batch or one the batch put,
// which the model then takes as the key's latest.
func (m *Machine) settleBatch(what string, batch []workloads.Op) *Failure {
	for i, op := range batch {
		if slices.ContainsFunc(batch[i+1:], func(o workloads.Op) bool { return bytes.Equal(o.Key, op.Key) }) {
			continue // settled at the key's last put
		}
		got, err := m.in.Engine.Get(m.ctx, op.Key)
		found := err == nil
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			return m.unexpected(what+": reading back "+strconv.Quote(string(op.Key)), err, nil)
		}
		old := m.model.Latest(op.Key)
		if found == old.Present && bytes.Equal(got, old.Value) {
			continue
		}
		j := slices.IndexFunc(batch, func(o workloads.Op) bool {
			return bytes.Equal(o.Key, op.Key) && found && o.Size == len(got) && workloads.ValueDigest(got) == workloads.SeedDigest(o.Size, o.Seed)
		})
		if j < 0 {
			return m.failWant(KindAnswer, fmt.Sprintf("%s or a value the batch put", showValue(old.Value, old.Present)), showValue(got, found),
				"%s failed with no space: get %q = %s, neither its version before the batch nor one the batch put", what, op.Key, showValue(got, found))
		}
		m.modelWrite(batch[j])
	}
	return nil
}

func (m *Machine) step(op workloads.Op) *Failure {
	e := m.in.Engine
	unexpected := func(err error, writes []workloads.Op) *Failure { return m.unexpected(op.String(), err, writes) }
	ctx, canceled := m.ctx, func(error) bool { return false }
	switch op.Kind {
	case workloads.OpGet, workloads.OpList, workloads.OpPut, workloads.OpDelete:
		if m.cancelOps > 0 {
			m.cancelOps--
			var stop func()
			ctx, canceled, stop = m.cancelContext()
			defer stop()
		}
	}
	switch op.Kind {
	case workloads.OpGet:
		got, err := e.Get(ctx, op.Key)
		if canceled(err) {
			return nil // a get that gave up answers nothing
		}
		found := err == nil
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			return unexpected(err, nil)
		}
		want := m.model.Latest(op.Key)
		if found != want.Present || !bytes.Equal(got, want.Value) {
			return m.failWant(KindAnswer, showValue(want.Value, want.Present), showValue(got, found),
				"get %q = %s, want %s", op.Key, showValue(got, found), showValue(want.Value, want.Present))
		}
	case workloads.OpPut, workloads.OpDelete:
		if op.Kind == workloads.OpPut && op.Size > engine.LimitsOf(e).ValueMax {
			return m.overLimit(op)
		}
		var dep engine.Dependency
		var err error
		var value []byte
		if op.Kind == workloads.OpPut {
			value = op.Value(m.valueBuf(op.Size))
		}
		switch {
		case op.Kind == workloads.OpPut && m.track:
			dep, err = e.(engine.Tracker).PutTracked(ctx, op.Key, value)
		case op.Kind == workloads.OpPut:
			err = e.Put(ctx, op.Key, value)
		case m.track:
			dep, err = e.(engine.Tracker).DeleteTracked(ctx, op.Key)
		default:
			err = e.Delete(ctx, op.Key)
		}
		m.addKey(op.Key)
		if canceled(err) {
			return m.settleCanceled(op)
		}
		if errors.Is(err, engine.ErrNoSpace) && !m.faulted() {
			// A full device may refuse a write; the write must then not
			// have happened, which the next read of the key checks. An
			// engine that promised room (Target.RoomBytes) may not refuse
			// while it holds less.
			if f := m.roomLeft(op); f != nil {
				return f
			}
			m.noSpace++
			return nil
		}
		if err != nil {
			return unexpected(err, []workloads.Op{op})
		}
		if m.track && dep == nil {
			// engine.Tracker promises every acknowledged write a
			// Dependency: without it the persistence property is never
			// checked for the write, and the check would pass unearned.
			return m.failWant(KindProgress, "a Dependency", "nil",
				"%v %q: acknowledged by the engine's Tracker with no Dependency", op.Kind, op.Key)
		}
		md := m.modelWrite(op)
		if m.cfg.CrashRetry && !m.retrying {
			if len(m.unsynced) == RetryMax {
				m.unsynced = append(m.unsynced[:0], m.unsynced[1:]...)
			}
			m.unsynced = append(m.unsynced, op)
		}
		if dep != nil {
			m.deps = append(m.deps, pair{op: m.n, e: dep, m: md})
		}
	case workloads.OpList:
		if !m.lister {
			return nil
		}
		var got []string
		err := workloads.ListKeys(ctx, e.(engine.Lister), op, func(k []byte) bool {
			got = append(got, string(k))
			return true
		})
		if canceled(err) {
			return nil
		}
		if err != nil {
			return unexpected(err, nil)
		}
		want := m.modelList(op.Key, op.End, op.ScanLen)
		if !slices.Equal(got, want) {
			return m.failWant(KindAnswer, fmt.Sprintf("%q", want), fmt.Sprintf("%q", got),
				"%s = %q, want %q", op, got, want)
		}
	case workloads.OpIndexFlush, workloads.OpCompact, workloads.OpReclaim, workloads.OpSuperblockFlush, workloads.OpCacheFlush:
		if !m.maint {
			return nil
		}
		_, err := workloads.Apply(m.ctx, e, op, nil)
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			return unexpected(err, nil)
		}
		// Background work must not change any answer.
		return m.verifyExact(op.String())
	case workloads.OpCleanReboot:
		return m.cleanReboot()
	case workloads.OpDirtyReboot:
		if !m.cfg.Crash || !m.cfg.Target.CanCrash() {
			return nil
		}
		return m.dirtyReboot(op.Seed)
	case workloads.OpFailDiskOnce:
		if m.in.Faulty != nil {
			m.armFault(op.Seed)
		}
	}
	return nil
}

// roomLeft fails a write refused with ErrNoSpace while the engine holds
// fewer bytes of keys and values, the refused write included, than the
// room it promised (Target.RoomBytes): it left dead space unreclaimed.
func (m *Machine) roomLeft(op workloads.Op) *Failure {
	room := m.cfg.Target.RoomBytes
	if room == 0 {
		return nil
	}
	held := m.model.LiveBytes() + int64(len(op.Key)+op.Size)
	if held >= room {
		return nil
	}
	return m.failWant(KindError, "the write, or no space only once the store holds "+strconv.FormatInt(room, 10)+" bytes", "no space",
		"%s refused for space while the store holds %d bytes of keys and values (this write included), under the %d it promises room for: dead space was not reclaimed", op, held, room)
}

// cancelContext returns the op's context with a cancel cancelAfter into
// the call (at once for 0), canceled, which reports whether an op's error
// is that cancel's doing, and stop, which ends the context. A cancel that
// landed while the op ran is counted as a fault of the op (coverage's
// cancel column).
func (m *Machine) cancelContext() (context.Context, func(error) bool, func()) {
	ctx, cancel := context.WithCancel(m.ctx)
	var landed atomic.Bool
	fire := func() {
		landed.Store(true)
		if m.rec != nil {
			m.rec.Fault(coverage.FaultCancel)
		}
		cancel()
	}
	var t *time.Timer
	if m.cancelAfter == 0 {
		fire()
	} else {
		t = time.AfterFunc(m.cancelAfter, fire)
	}
	canceled := func(err error) bool {
		return err != nil && landed.Load() && errors.Is(err, context.Canceled) && m.ctx.Err() == nil
	}
	return ctx, canceled, func() {
		if t != nil {
			t.Stop()
		}
		cancel()
	}
}

// settleCanceled reads back the key of a write that failed because its
// context was canceled: the write may have been applied or not, so the
// key must hold its version from before or the one op wrote, which the
// model then takes as the key's latest.
func (m *Machine) settleCanceled(op workloads.Op) *Failure {
	got, err := m.in.Engine.Get(m.ctx, op.Key)
	found := err == nil
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		return m.unexpected(op.String()+" (canceled): reading back "+strconv.Quote(string(op.Key)), err, nil)
	}
	old := m.model.Latest(op.Key)
	if found == old.Present && bytes.Equal(got, old.Value) {
		return nil
	}
	applied := !found && op.Kind == workloads.OpDelete ||
		found && op.Kind == workloads.OpPut && op.Size == len(got) && workloads.ValueDigest(got) == workloads.SeedDigest(op.Size, op.Seed)
	if !applied {
		return m.failWant(KindAnswer, fmt.Sprintf("%s or the value it wrote", showValue(old.Value, old.Present)), showValue(got, found),
			"%s failed with its context canceled: get %q = %s, neither the key's version before it nor the one it wrote", op, op.Key, showValue(got, found))
	}
	m.modelWrite(op)
	return nil
}

// overLimit applies a put whose value is over the engine's documented
// maximum (a replayed trace may ask for one): the engine must refuse it
// with engine.ErrInvalidArgument and change nothing, as the model would.
// Its value is not filled: the engine refuses it by its length, and a
// GiB of value costs nothing until it is touched.
func (m *Machine) overLimit(op workloads.Op) *Failure {
	m.addKey(op.Key)
	err := m.in.Engine.Put(m.ctx, op.Key, make([]byte, op.Size))
	switch {
	case errors.Is(err, engine.ErrInvalidArgument):
		return nil
	case err == nil:
		return m.failWant(KindAnswer, "engine.ErrInvalidArgument", "accepted",
			"%s: a value over the engine's maximum of %d bytes was accepted", op, engine.LimitsOf(m.in.Engine).ValueMax)
	case m.faulted():
		return m.recoverFault(nil)
	}
	return m.failWant(KindError, "engine.ErrInvalidArgument", err.Error(),
		"%s: a value over the engine's maximum of %d bytes: %v, want engine.ErrInvalidArgument", op, engine.LimitsOf(m.in.Engine).ValueMax, err)
}

// modelWrite applies a write to the model.
func (m *Machine) modelWrite(op workloads.Op) *model.Dep {
	var d *model.Dep
	var err error
	if op.Kind == workloads.OpPut {
		// The value again, not the engine's argument: an engine that
		// modified its argument must not change the model.
		d, err = m.model.PutDep(op.Key, op.Value(m.valueBuf(op.Size)))
	} else {
		d, err = m.model.DeleteDep(op.Key)
	}
	if err != nil {
		panic(fmt.Sprintf("machine: model rejected %s: %v", op, err)) // the generator made a bad op
	}
	return d
}

func (m *Machine) modelList(start, end []byte, n int) []string {
	var out []string
	m.model.List(m.ctx, start, end, func(k []byte) bool {
		out = append(out, string(k))
		return n == 0 || len(out) < n
	})
	return out
}

// poll records in the model every engine dependency now persistent.
func (m *Machine) poll() {
	kept := m.deps[:0]
	for _, p := range m.deps {
		if p.e.IsPersistent() {
			m.model.Persist(p.m)
		} else {
			kept = append(kept, p)
		}
	}
	clear(m.deps[len(kept):])
	m.deps = kept
}

// progress checks that every tracked dependency is persistent after a
// successful Sync or Close.
func (m *Machine) progress(after string) *Failure {
	for _, p := range m.deps {
		if !p.e.IsPersistent() {
			return m.failWant(KindProgress, "persistent", "not persistent",
				"forward progress: the write of op %d is not persistent after %s", p.op, after)
		}
	}
	return nil
}

// valueBuf returns a buffer of at least n bytes for a put's value.
func (m *Machine) valueBuf(n int) []byte {
	if m.buf == nil {
		if b, ok := bufPool.Get().(*[]byte); ok {
			m.buf = b
		} else {
			m.buf = new([]byte)
		}
	}
	if cap(*m.buf) < n {
		*m.buf = make([]byte, n)
	}
	return *m.buf
}

// addKey records that key was written.
func (m *Machine) addKey(key []byte) {
	if i, found := slices.BinarySearch(m.keys, string(key)); !found {
		m.keys = slices.Insert(m.keys, i, string(key))
	}
}

// sortedKeys returns every key written so far, sorted. The slice is the
// machine's own: callers must not modify it.
func (m *Machine) sortedKeys() []string { return m.keys }

// keyArg returns k as a fresh copy for a call, so a callee that modifies
// its argument cannot change the machine's record of the keys.
func (m *Machine) keyArg(k string) []byte {
	m.kbuf = append(m.kbuf[:0], k...)
	return m.kbuf
}

// verifyExact checks every key written so far, and the full listing,
// against the model's current state.
func (m *Machine) verifyExact(after string) *Failure {
	e := m.in.Engine
	for _, k := range m.sortedKeys() {
		got, err := e.Get(m.ctx, m.keyArg(k))
		found := err == nil
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			if m.faulted() {
				return m.recoverFault(nil)
			}
			return m.failWant(KindError, "success", err.Error(), "after %s: get %q: unexpected error: %v", after, k, err)
		}
		want := m.model.Latest(m.keyArg(k))
		if found != want.Present || !bytes.Equal(got, want.Value) {
			return m.failWant(KindAnswer, showValue(want.Value, want.Present), showValue(got, found),
				"after %s: get %q = %s, want %s", after, k, showValue(got, found), showValue(want.Value, want.Present))
		}
	}
	if m.lister {
		got, err := listAll(m.ctx, e)
		if err != nil {
			if m.faulted() {
				return m.recoverFault(nil)
			}
			return m.failWant(KindError, "success", err.Error(), "after %s: list: unexpected error: %v", after, err)
		}
		if want := m.modelList(nil, nil, 0); !slices.Equal(got, want) {
			return m.failWant(KindAnswer, fmt.Sprintf("%q", want), fmt.Sprintf("%q", got),
				"after %s: list = %q, want %q", after, got, want)
		}
	}
	return nil
}

func listAll(ctx context.Context, e engine.Engine) ([]string, error) {
	var got []string
	err := e.(engine.Lister).List(ctx, nil, nil, func(k []byte) bool {
		got = append(got, string(k))
		return true
	})
	return got, err
}

// openAfter opens the engine, retrying once without faults if an armed
// fault fired during the open (an open hit by a fault is discarded).
func (m *Machine) openAfter(what string) *Failure {
	faults := m.faultCount()
	err := m.in.Open()
	if m.in.Faulty != nil && m.faultCount() != faults {
		if err == nil {
			m.in.Close()
		}
		m.in.Faulty.Clear()
		err = m.in.Open()
	}
	if err != nil {
		return m.failWant(KindUnavailable, "open", err.Error(), "reopen after %s: %v", what, err)
	}
	m.faultBase = m.faultCount()
	return nil
}

func (m *Machine) cleanReboot() *Failure {
	if m.across {
		// A clean shutdown is not where a crash-version 3 cut lands: one
		// that has not landed by now is disarmed; one that landed (in
		// background work since the last op) is the crash it is.
		if m.in.Mem().Disarm() {
			if f := m.crashAcross(nil); f != nil {
				return f
			}
		}
		m.across = false
	}
	if err := m.in.Close(); err != nil {
		if m.faulted() {
			return m.recoverClosed(nil, false)
		}
		return m.failWant(KindError, "success", err.Error(), "clean-reboot: close: unexpected error: %v", err)
	}
	if f := m.progress("a clean shutdown"); f != nil {
		return f
	}
	m.deps = nil
	m.model.Sync(m.ctx) // a clean shutdown loses nothing
	if f := m.openAfter("clean-reboot"); f != nil {
		return f
	}
	return m.verifyExact("clean-reboot")
}

// recoverFault brings the engine back after an op failed because an
// injected fault fired: close (its error does not matter), clear the
// faults, reopen, and check every key against what the model allows. write
// is the failed write, which may or may not have happened. In the crash
// checker a fault armed so (faultCrash) is recovered from through a crash
// instead: the unflushed writes are dropped, not closed over.
func (m *Machine) recoverFault(writes []workloads.Op) *Failure {
	if m.across {
		// The fault came first: the recovery needs the device powered.
		m.across = false
		m.in.Mem().StopAfter(-1)
	}
	if m.faultCrash {
		return m.recoverCrash(writes)
	}
	closed := m.in.Close() == nil
	return m.recoverClosed(writes, closed)
}

func (m *Machine) recoverClosed(writes []workloads.Op, closed bool) *Failure {
	if m.faultCrash && !closed {
		// Close failed: what it did not flush may be lost as well.
		return m.recoverCrash(writes)
	}
	m.in.Engine = nil
	if closed {
		// The clean shutdown made every acknowledged write durable.
		m.model.Sync(m.ctx)
	}
	m.deps = nil
	for _, w := range writes {
		m.modelWrite(w) // pending: it may have happened or not
	}
	m.in.Faulty.Clear()
	if f := m.openAfter("an injected fault"); f != nil {
		return f
	}
	return m.verifyCrash("recovery from an injected fault", m.in.Engine, true)
}

// recoverCrash recovers from an injected fault through a dirty reboot: the
// writes the engine reported persistent are recorded, the device crashes
// (unflushed writes kept, lost or torn, chosen by the fault's seed), the
// old engine is closed on the discarded device, and the engine reopens on
// the crash state, where every key must hold a version the model allows:
// a write the engine called persistent before the fault must be there even
// though a device error came after it.
func (m *Machine) recoverCrash(writes []workloads.Op) *Failure {
	m.faultCrash = false
	m.poll()
	mem := m.in.Mem()
	st := mem.Crash(rand.New(rand.NewPCG(m.faultSeed, 0x7265626f6f74)), disk.CrashTorn)
	if e := m.in.Engine; e != nil {
		m.in.Engine = nil
		if f := m.closeCut(e); f != nil {
			return f
		}
	}
	mem.Release()
	m.deps = nil
	for _, w := range writes {
		m.modelWrite(w) // pending: it may have happened or not
	}
	if err := m.in.UseMem(st); err != nil {
		panic(err)
	}
	m.addPoint(fmt.Sprintf("%d:fault", m.n))
	if f := m.openAfter("a crash after an injected fault"); f != nil {
		return f
	}
	return m.verifyCrash("a crash after an injected fault", m.in.Engine, true)
}

// verifyCrash checks e after a crash or a fault: every key holds a version
// the model allows. With settle it then settles the model on what e holds.
func (m *Machine) verifyCrash(after string, e engine.Engine, settle bool) *Failure {
	observed := map[string]model.Version{}
	allowed := m.model.Crash()
	for _, k := range m.sortedKeys() {
		got, err := e.Get(m.ctx, m.keyArg(k))
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			return m.failWant(KindError, "success", err.Error(), "after %s: get %q: %v", after, k, err)
		}
		v := model.Version{Present: err == nil, Value: got}
		if !m.model.Allowed([]byte(k), v) {
			want := allowed[k]
			if len(want) == 0 {
				want = []model.Version{{}}
			}
			return m.failWant(KindCrash, fmt.Sprint(want), v.String(),
				"after %s: get %q = %s, want one of %v (the first is the persistent version)", after, k, v, want)
		}
		if v.Present {
			observed[k] = v
		}
	}
	if m.lister {
		got, err := listAll(m.ctx, e)
		if err != nil {
			return m.failWant(KindError, "success", err.Error(), "after %s: list: %v", after, err)
		}
		var want []string
		for _, k := range m.sortedKeys() {
			if _, ok := observed[k]; ok {
				want = append(want, k)
			}
		}
		if !slices.Equal(got, want) {
			return m.failWant(KindAnswer, fmt.Sprintf("%q", want), fmt.Sprintf("%q", got),
				"after %s: list = %q, but gets found %q", after, got, want)
		}
	}
	if settle {
		if err := m.model.Recover(observed); err != nil {
			return m.fail(KindCrash, "after %s: %v", after, err)
		}
		m.deps = nil
	}
	return nil
}

// dirtyReboot flushes the components the seed chooses, crashes, checks
// every crash state (or a sample), and continues on one of them. With
// CrashInOp the seed may also cut the device's power after the k-th write
// or flush of those flushes, so the crash lands inside a Sync or an index
// flush; where it landed is recorded (CrashPoints).
func (m *Machine) dirtyReboot(seed uint64) *Failure {
	rng := rand.New(rand.NewPCG(seed, 0x64697274))
	e := m.in.Engine
	mem := m.in.Mem()
	cutAt := -1
	if m.across {
		// A cut armed by an earlier reboot that has not landed: this
		// reboot's flushes spend what is left of it.
		cutAt = CrashSpanMax
		m.across = false
	} else if m.cfg.CrashAcross && mem != nil && !m.retrying {
		if arng := rand.New(rand.NewPCG(seed, 0x61637273)); arng.IntN(3) == 0 {
			mem.StopAfter(arng.IntN(CrashSpanMax))
			m.across, m.acrossSeed = true, seed
			m.addPoint(fmt.Sprintf("%d:arm", m.n))
			return nil
		}
	}
	if m.cfg.CrashInOp && mem != nil && cutAt < 0 {
		// A stream of its own, so the choices below stay those a trace
		// of crash-version 1 made with the same seed.
		if prng := rand.New(rand.NewPCG(seed, 0x637574)); prng.IntN(4) != 0 {
			cutAt = prng.IntN(CrashIOMax)
			if m.retrying {
				cutAt = m.retryCut
			}
			mem.StopAfter(cutAt)
		}
	}
	cut := func() bool { return cutAt >= 0 && mem.PowerCut() }
	// faulted recovers from an injected fault that failed a flush before
	// any power cut: the device, powered again, serves the recovery.
	faulted := func() *Failure {
		if cutAt >= 0 {
			mem.StopAfter(-1)
		}
		return m.recoverFault(nil)
	}
	for _, fl := range []string{"sync", string(engine.IndexFlush), string(engine.SuperblockFlush), string(engine.CacheFlush)} {
		// The draw comes first, so a cut changes no later choice; with a
		// cut armed the Sync always runs, so there is a round to cut.
		if skip := rng.IntN(3) != 0; (skip && !(cutAt >= 0 && fl == "sync")) || cut() {
			continue
		}
		if fl == "sync" {
			if err := e.Sync(m.ctx); err != nil {
				if cut() {
					continue // the power went during the Sync: its failure is the crash
				}
				if m.faulted() {
					return faulted()
				}
				return m.failWant(KindError, "success", err.Error(), "dirty-reboot: sync before the crash: %v", err)
			}
			// Returned without error: the engine says every write is
			// durable, power cut or not, and the crash checks it.
			m.model.Sync(m.ctx)
			if !m.retrying {
				m.unsynced = m.unsynced[:0]
			}
			if f := m.progress("sync"); f != nil {
				return f
			}
			continue
		}
		if mt, ok := e.(engine.Maintainer); ok {
			err := mt.Maintain(m.ctx, engine.MaintenanceOp(fl))
			if err != nil && !errors.Is(err, errors.ErrUnsupported) && !cut() {
				if m.faulted() {
					return faulted()
				}
				return m.failWant(KindError, "success", err.Error(), "dirty-reboot: %s before the crash: %v", fl, err)
			}
		}
	}
	m.poll()
	point := "end"
	switch {
	case cut() && cutAt == CrashSpanMax:
		point = "cut"
	case cut():
		point = fmt.Sprintf("io%d", cutAt)
	case cutAt >= 0:
		mem.StopAfter(-1) // the cut never landed; the crash states need power
	}
	m.addPoint(fmt.Sprintf("%d:%s", m.n, point))

	if mem == nil { // a directory engine that may be abandoned
		if m.rec != nil {
			m.rec.Fault(coverage.FaultCrash)
		}
		m.in.Abandon()
		if f := m.openAfter("dirty-reboot"); f != nil {
			return f
		}
		return m.verifyCrash("dirty-reboot", m.in.Engine, true)
	}

	what := "dirty-reboot"
	if m.retrying {
		what = "dirty-reboot (its retry)"
	}
	// Only a cut inside the round is retried: after the flushes there is
	// nothing lost to put again at the same offsets. The draw is made
	// before the crash (a stream of its own) so that the crash knows.
	rrng := rand.New(rand.NewPCG(seed, 0x72657472))
	retry := !m.retrying && m.cfg.CrashRetry && strings.HasPrefix(point, "io") && len(m.unsynced) > 0 && rrng.IntN(4) != 0
	// Half the retries (a stream of their own, so version 4's choices
	// stay as they were) continue near: the other half at random, since
	// the state a store is fooled by is not always the nearest (a torn
	// frame's last sector can be nearer than a slot).
	m.near = retry && m.cfg.CrashRetryNear && rand.New(rand.NewPCG(seed, 0x6e656172)).IntN(2) == 0
	f := m.crashStates(rng, e, what)
	m.near = false
	if f != nil || m.retrying {
		return f
	}
	lost := m.unsynced
	m.unsynced = nil
	if !retry {
		return nil
	}
	return m.retry(seed, rrng, cutAt, lost)
}

// RetryMaxAttempts bounds how many times a reboot's lost writes are put
// again (crash-version 4): each crash keeps the first attempt's bytes and
// drops its slot in only some of its crash states, so a store that takes
// one attempt's frames for another's shows itself after a few attempts.
const RetryMaxAttempts = 3

// retry puts the writes a crash lost again with new values and repeats the
// dirty reboot of seed (Config.CrashRetry), up to RetryMaxAttempts times
// while its cut lands inside the flushes. Each retry's cut lands at the
// previous attempt's IO or later: where the previous attempt's bytes may
// be durable and this attempt's slot is written over them, not flushed.
func (m *Machine) retry(seed uint64, rrng *rand.Rand, cutAt int, lost []workloads.Op) *Failure {
	m.retrying = true
	defer func() { m.retrying = false }()
	attempts := 1 + rrng.IntN(RetryMaxAttempts)
	for a := range attempts {
		m.retryCut = cutAt + rrng.IntN(CrashIOMax-cutAt)
		// A prefix of the lost writes, with the same values or new ones
		// of the same sizes: the same bytes again let what survived
		// behind the prefix pass for this attempt's (a log's chain), new
		// ones tell the attempts apart (frames under repeated ids).
		n, same := 1+rrng.IntN(len(lost)), rrng.IntN(2) == 0
		m.addPoint(fmt.Sprintf("%d:retry", m.n))
		for _, op := range lost[:n] {
			if op.Kind == workloads.OpPut && !same {
				op.Seed = op.Seed*0x9e3779b97f4a7c15 + (seed+uint64(a))*0x2545f4914f6cdd1d | 1
			}
			if f := m.checkedStep(op); f != nil {
				return f
			}
			if m.in.Engine == nil || m.in.Mem() == nil {
				return nil
			}
		}
		// The puts Config.BatchPuts deferred go to the engine before the
		// crash, as the first attempt's did.
		if f := m.flushBatch(); f != nil {
			return f
		}
		if f := m.dirtyReboot(seed); f != nil {
			return f
		}
		if p := m.points[len(m.points)-1]; !strings.Contains(p, ":io") {
			return nil // the retry's crash came after its flushes: nothing lost
		}
		cutAt = m.retryCut
	}
	return nil
}

// crashAcross is the crash of a power cut armed by an earlier dirty reboot
// (Config.CrashAcross) that landed in the current op or in background work
// before it returned. write is the write the cut failed, pending.
func (m *Machine) crashAcross(writes []workloads.Op) *Failure {
	m.across = false
	m.poll()
	for _, w := range writes {
		m.modelWrite(w) // pending: it may have happened or not
	}
	m.deps = nil
	m.addPoint(fmt.Sprintf("%d:cut", m.n))
	return m.crashStates(rand.New(rand.NewPCG(m.acrossSeed, 0x6c616e64)), m.in.Engine, "a power cut inside an op")
}

// cutLanded reports whether a power cut armed by an earlier dirty reboot
// has landed.
func (m *Machine) cutLanded() bool {
	return m.across && m.in.Mem() != nil && m.in.Mem().PowerCut()
}

// crashStates crashes the device under e (what names the crash in
// messages): every crash state it can leave, or a sample, is opened and
// checked, and the case continues on one rng picks.
func (m *Machine) crashStates(rng *rand.Rand, e engine.Engine, what string) *Failure {
	mem := m.in.Mem()
	states, err := mem.CrashStates(m.cfg.CrashStatesMax)
	if m.rec != nil && !mem.PowerCut() {
		m.rec.Fault(coverage.FaultCrash) // a cut was recorded as it landed
	}
	if errors.Is(err, disk.ErrTooManyStates) {
		if m.rec != nil {
			m.rec.Fault(coverage.FaultTorn)
		}
		states = nil
		for range m.cfg.CrashSamples {
			states = append(states, mem.Crash(rng, disk.CrashTorn))
		}
	} else if err != nil {
		panic(fmt.Sprintf("machine: crash states: %v", err))
	}
	pick := rng.IntN(len(states))
	if m.near {
		// mem still holds every pending write: what near measures from.
		pick = nearest(states, mem, pick)
	}
	next := states[pick].Clone()
	if f := m.closeCut(e); f != nil {
		return f
	}
	m.in.Engine = nil
	mem.Release()
	for i, st := range states {
		ce, err := m.cfg.Target.OpenDevice(st)
		if err != nil {
			return m.failWant(KindUnavailable, "open", err.Error(), "%s: open on crash state %d of %d: %v", what, i, len(states), err)
		}
		f := m.verifyCrash(fmt.Sprintf("%s (crash state %d of %d)", what, i, len(states)), ce, false)
		ce.Close()
		if f != nil {
			return f
		}
		st.Release() // next is a clone: it keeps the pages it shares with st
	}
	if err := m.in.UseMem(next); err != nil {
		panic(err)
	}
	if f := m.openAfter(what); f != nil {
		return f
	}
	return m.verifyCrash(what, m.in.Engine, true)
}

// nearest is the index of the state that differs from all in the fewest
// bytes but some (a state that lost the least), or pick when every state
// equals all.
func nearest(states []*disk.Mem, all *disk.Mem, pick int) int {
	var best int64 = -1
	for i, st := range states {
		d := all.DiffBytes(st)
		if d > 0 && (best < 0 || d < best) {
			best, pick = d, i
		}
	}
	return pick
}

// closeCut closes the engine a crash abandons (a dirty reboot's, or a
// recovery's through a crash): it writes only to the old device, now
// discarded (and refusing writes if its power was cut), so its error does
// not matter, but a Close that never returns on a failing device is a hang.
func (m *Machine) closeCut(e engine.Engine) *Failure {
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Close()
	}()
	select {
	case <-done:
		return nil
	case <-m.ctx.Done():
		return m.failWant(KindHang, "Close returns", "still running",
			"Close of the engine on the crashed device did not return within %s", m.cfg.OpTimeout)
	}
}

// CrashPoints says where each dirty reboot so far crashed: "N:end" after
// op N's flushes, "N:ioK" with the power cut after K of their writes and
// flushes (io0: before the first).
func (m *Machine) CrashPoints() []string {
	m.pmu.Lock()
	defer m.pmu.Unlock()
	return slices.Clone(m.points)
}

// addPoint records where a crash landed. The lock is for CrashPoints
// called by the stuck hook (OnStuck) while an op runs.
func (m *Machine) addPoint(p string) {
	m.pmu.Lock()
	m.points = append(m.points, p)
	m.pmu.Unlock()
}

// OnStuck sets fn to hear, once per op, of an op still running half an
// OpTimeout past its deadline: it ignores its context (an infinite loop, a
// wait on nothing), and the watchdog will stop the process at 3×OpTimeout.
// n is the op's index (len of the ops applied before it; the final clean
// reboot's is the number of ops). fn runs on the timer's goroutine while the op is still running; it may
// call CrashPoints.
func (m *Machine) OnStuck(fn func(n int, what string, running time.Duration)) {
	m.clock.mu.Lock()
	m.clock.stuck = fn
	m.clock.mu.Unlock()
}

// armFault arms one fault chosen by seed: an EIO on the n-th read, write
// or flush, an EIO on reads of one extent, or a bit flip in one extent.
func (m *Machine) armFault(seed uint64) {
	if seed&SeedCancel != 0 {
		rng := rand.New(rand.NewPCG(seed, 0x636e6c))
		m.cancelOps = 1 + rng.IntN(CancelOpsMax)
		m.cancelAfter = time.Duration(rng.Int64N(int64(CancelAfterMax)))
		return
	}
	if seed&SeedLatency != 0 {
		// Its own stream: a latency fault fails nothing, so it draws no
		// crash below.
		rng := rand.New(rand.NewPCG(seed, 0x6c6174))
		m.in.Slow(1+rng.IntN(LatencyIOMax), time.Duration(1+rng.IntN(int(LatencyMax/time.Microsecond)))*time.Microsecond)
		return
	}
	rng, extent, class := faultDraws(seed)
	f := m.in.Faulty
	ext := int64(m.cfg.Target.Biased(workloads.BiasedOptions{}).ExtentBytes)
	lo := extent * ext
	switch class {
	case 0:
		f.Inject(disk.Fault{Ops: disk.OpRead, Nth: 1 + rng.Int64N(3)})
	case 1:
		f.Inject(disk.Fault{Ops: disk.OpWrite, Nth: 1 + rng.Int64N(3)})
	case 2:
		f.Inject(disk.Fault{Ops: disk.OpFlush, Nth: 1 + rng.Int64N(2)})
	case 3:
		f.Inject(disk.Fault{Ops: disk.OpRead, Off: lo, End: lo + ext})
	case 4:
		f.Flip(disk.Flip{Off: lo, End: lo + ext})
	}
	if m.cfg.Crash {
		// Drawn last, so conformance's faults are those of its traces.
		m.faultCrash, m.faultSeed = rng.IntN(2) == 0, seed
	}
}

// faultDraws makes the first draws of a FailDiskOnce seed: the extent a
// fault of one extent hits, and the fault's class (an index of
// FaultClasses); rng goes on from there.
func faultDraws(seed uint64) (rng *rand.Rand, extent int64, class int) {
	rng = rand.New(rand.NewPCG(seed, 0x6661756c74))
	extent = rng.Int64N(8)
	return rng, extent, rng.IntN(5)
}

// FaultClasses name what a FailDiskOnce seed arms, in the order of its
// draw: EIO on the n-th read, write or flush, EIO on reads of one
// extent, a bit flip in one extent; and, for a seed with SeedLatency
// set, a latency fault; with SeedCancel, canceled ops.
var FaultClasses = []string{"eio-read-nth", "eio-write-nth", "eio-flush-nth", "eio-read-extent", "bit-flip", "latency", "cancel"}

// SeedLatency, set in a FailDiskOnce seed, makes it a latency fault: the
// next 1 to LatencyIOMax IOs each wait up to LatencyMax in real time. The
// biased generator draws seeds below it (workloads: 1<<30), so the fixed
// mix and every trace written before it never inject latency; an
// adaptive run chooses the class.
const (
	SeedLatency  = 1 << 30
	LatencyIOMax = 16
	LatencyMax   = 500 * time.Microsecond
)

// SeedCancel, set in a FailDiskOnce seed, makes it a cancellation: the
// next 1 to CancelOpsMax client ops (get, list, put, delete) run with a
// context canceled up to CancelAfterMax into the call, as a client that
// times out or gives up. An op the cancel reached may fail with the
// context's error; a write that does may have been applied or not, and
// the key is read back to tell. Like SeedLatency it is above the seeds
// the biased generator draws: only an adaptive run chooses it.
const (
	SeedCancel     = 1 << 31
	CancelOpsMax   = 4
	CancelAfterMax = 2 * time.Millisecond
)

// RebootClasses name where a DirtyReboot seed puts its power cut, in the
// order of SeedClass: after the reboot's flushes, inside them, or armed to
// land inside a later op (crash-versions 1 to 3).
var RebootClasses = []string{"end", "in-op", "arm"}

// SeedClass returns the class of the seed of a FailDiskOnce (an index of
// FaultClasses) or a DirtyReboot (of RebootClasses) under c: the choices
// armFault and dirtyReboot make first from it. Other kinds are class 0.
func (c Config) SeedClass(k workloads.OpKind, seed uint64) int {
	switch k {
	case workloads.OpFailDiskOnce:
		if seed&SeedCancel != 0 {
			return len(FaultClasses) - 1
		}
		if seed&SeedLatency != 0 {
			return len(FaultClasses) - 2
		}
		_, _, class := faultDraws(seed)
		return class
	case workloads.OpDirtyReboot:
		if c.CrashAcross && rand.New(rand.NewPCG(seed, 0x61637273)).IntN(3) == 0 {
			return 2
		}
		if c.CrashInOp && rand.New(rand.NewPCG(seed, 0x637574)).IntN(4) != 0 {
			return 1
		}
	}
	return 0
}

// Finish ends a case: a clean shutdown (every dependency must then be
// persistent), a reopen, and a check of every key.
func (m *Machine) Finish() *Failure {
	if m.in.Faulty != nil {
		m.in.Faulty.Clear()
		m.in.Slow(0, 0)
	}
	return m.bounded("the final clean reboot", func() *Failure {
		if f := m.flushBatch(); f != nil {
			return f
		}
		return m.cleanReboot()
	})
}

// Ops returns how many ops were applied.
func (m *Machine) Ops() int { return m.n }

// Normalize replaces dir in msg, so a failure message is the same in every
// run of a case (rapid requires that to shrink).
func Normalize(msg, dir string) string {
	if dir == "" {
		return msg
	}
	return strings.ReplaceAll(msg, dir, "$DIR")
}
