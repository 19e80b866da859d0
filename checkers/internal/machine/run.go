package machine

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// RunConfig is what a checker run needs beyond the Machine's Config.
type RunConfig struct {
	Seed uint64
	// Cases is the number of cases; Budget, if set, stops the run earlier.
	Cases  int
	Budget time.Duration
	// OpsMean is rapid's mean case length (rapid.steps); OpsMax caps it.
	OpsMean, OpsMax int
	// Weights are the op weights, already filtered to the engine's
	// capabilities.
	Weights map[workloads.OpKind]int
	// Keys is the generator's key space.
	Keys int
	// BatchCases is the number of cases per rapid.Check call.
	BatchCases int
	// ShrinkTime bounds rapid's minimization.
	ShrinkTime time.Duration
	// OutDir receives the trace of a violation ("" writes none).
	OutDir string
	// Replay renders the replay command of a trace file.
	Replay func(traceFile string) string
	// Stem names the trace file (Stem.trace; default
	// "<checker>-<seed>"): see checkers.FileStem.
	Stem string
	// Mode is the checker's mode ("" if it has none): with the checker's
	// name and Seed it selects the random stream (checkers.StreamSeed).
	Mode string
	// Attrs are extra trace header attributes.
	Attrs []workloads.Attr
	// Log, if set, receives progress lines.
	Log func(format string, args ...any)
	// Live, if set, counts each case as it finishes.
	Live *checkers.Live
	// Found is checkers.Config.Found: called with the first failing case,
	// unminimized, its trace written.
	Found func(checkers.Violation)
	// Adaptive steers the op weights and the classes of fault and crash
	// seeds, case by case, toward states the run has not reached yet
	// (coverage.Steer); the target must be observed by a
	// coverage.Recorder. Weights are then the base weights.
	Adaptive bool
	// AdaptiveWarmup is how many cases an adaptive run draws from the
	// fixed mix before steering: 0 means checkers.AdaptiveWarmupDefault,
	// a negative value none.
	AdaptiveWarmup int
}

// rapidMu serializes rapid runs: rapid reads its seed, case count and case
// length from package flags, which a run sets and restores.
var rapidMu sync.Mutex

// rapidFlags sets rapid's flags for one run and returns a function that
// restores them. Outside go test it first initializes the testing flags,
// because rapid calls testing.Short, which panics before flag parsing.
func rapidFlags(seed uint64, checks, steps int, shrink time.Duration) func() {
	if !flag.Parsed() {
		testing.Init()
		flag.CommandLine.Parse(nil)
	}
	if testing.Short() { // rapid divides checks by 5 and steps by 2 under -short
		checks *= 5
		steps *= 2
	}
	set := map[string]string{
		"rapid.seed":       strconv.FormatUint(seed, 10),
		"rapid.checks":     strconv.Itoa(checks),
		"rapid.steps":      strconv.Itoa(steps),
		"rapid.nofailfile": "true",
		"rapid.shrinktime": shrink.String(),
		"rapid.v":          "false",
		"rapid.log":        "false",
	}
	old := map[string]string{}
	for k, v := range set {
		f := flag.Lookup(k)
		if f == nil {
			panic("machine: rapid flag " + k + " not registered")
		}
		old[k] = f.Value.String()
		if err := flag.Set(k, v); err != nil {
			panic(err)
		}
	}
	return func() {
		for k, v := range old {
			flag.Set(k, v)
		}
	}
}

// tb is rapid's TB outside a *testing.T: it records failure and stops the
// run with a panic that Run recovers.
type tb struct {
	name   string
	failed bool
	msgs   []string
}

type stopRun struct{}

func (t *tb) Helper()              {}
func (t *tb) Name() string         { return t.name }
func (t *tb) Logf(string, ...any)  {}
func (t *tb) Log(...any)           {}
func (t *tb) Skipf(string, ...any) { panic(stopRun{}) }
func (t *tb) Skip(...any)          { panic(stopRun{}) }
func (t *tb) SkipNow()             { panic(stopRun{}) }
func (t *tb) Errorf(f string, a ...any) {
	t.failed = true
	t.msgs = append(t.msgs, fmt.Sprintf(f, a...))
}
func (t *tb) Error(a ...any)            { t.failed = true; t.msgs = append(t.msgs, fmt.Sprint(a...)) }
func (t *tb) Fatalf(f string, a ...any) { t.Errorf(f, a...); panic(stopRun{}) }
func (t *tb) Fatal(a ...any)            { t.Error(a...); panic(stopRun{}) }
func (t *tb) FailNow()                  { t.failed = true; panic(stopRun{}) }
func (t *tb) Fail()                     { t.failed = true }
func (t *tb) Failed() bool              { return t.failed }

// failing is a failing case: its ops and the failure.
type failing struct {
	ops []workloads.Op
	f   *Failure
	// points are the case's crash points (Machine.CrashPoints).
	points []string
	// attrs are trace attributes of the case (its engine variant, its
	// adaptive weights).
	attrs []workloads.Attr
}

// mix turns (seed, i) into an unrelated non-zero seed.
func mix(seed, i uint64) uint64 {
	x := seed ^ (i+1)*0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	x ^= x >> 31
	if x == 0 {
		x = 1
	}
	return x
}

// NotMinimizedStopped is a provisional violation's NotMinimized (see
// RunConfig.Found): the final Result replaces it with the minimized one.
const NotMinimizedStopped = "the process stopped before minimizing finished; these are the ops of the case that failed first"

// Run runs cases generated by rapid from the seed until Cases are done, the
// budget is spent, ctx ends or a violation is found; the violation is
// minimized by rapid's shrinker and written as a trace.
func Run(ctx context.Context, mc Config, rc RunConfig) (checkers.Result, error) {
	res := checkers.Result{Checker: mc.Checker, Engine: mc.Target.Name, Seed: rc.Seed, Verdict: checkers.Pass}
	start := time.Now()
	// Every draw comes from the checker's own stream, so two checkers
	// given one seed explore different cases.
	stream := checkers.StreamSeed(mc.Checker, rc.Mode, rc.Seed)
	bopts := mc.Target.Biased(workloads.BiasedOptions{Weights: rc.Weights, Keys: rc.Keys, Seed: stream})
	if _, err := workloads.NewBiased(bopts); err != nil {
		return res, err
	}
	var adapt *adaptive
	if rc.Adaptive {
		warmup := rc.AdaptiveWarmup
		if warmup == 0 {
			warmup = checkers.AdaptiveWarmupDefault
		}
		a, err := newAdaptive(mc, rc.Weights, warmup)
		if err != nil {
			return res, fmt.Errorf("%s: %w", mc.Checker, err)
		}
		adapt = a
	}
	tmp, err := os.MkdirTemp(mc.Target.WorkDir, "gauntlet-"+mc.Checker+"-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)

	var (
		setupErr  error
		searching bool // false while rapid shrinks
		first     *failing
		last      *failing
		caseNo    int
		// stuckFound: Found has heard of a stuck op (OnStuck), which is
		// then the run's first violation as far as Found is concerned.
		stuckFound bool
	)
	// ctx stops the run between cases; the engine's ops run under a
	// context it does not cancel (each op still has its deadline), so a
	// stop never fails an op and a violation found before it shrinks
	// normally.
	opsCtx := context.WithoutCancel(ctx)
	prop := func(t *rapid.T) {
		if searching && ctx.Err() != nil {
			return // stopped: the rest of the batch runs nothing
		}
		caseNo++
		dir := filepath.Join(tmp, strconv.Itoa(caseNo))
		if !mc.Target.HasDevice() { // an engine on a device leaves dir unmade
			defer os.RemoveAll(dir)
		}
		opts := bopts
		if adapt != nil {
			if w, steered := adapt.begin(); steered {
				opts.Weights = w
			}
		}
		gen, _ := workloads.NewBiased(opts)
		mcase, variant := mc, ""
		if adapt != nil {
			mcase.Target, variant = adapt.variant(t)
		}
		var attrs []workloads.Attr
		if variant != "" {
			attrs = append(attrs, workloads.Attr{Key: AttrEngineVariant, Value: variant})
		}
		m, err := New(opsCtx, mcase, dir)
		if err != nil {
			setupErr = err
			t.Fatalf("setup: %v", err)
		}
		defer m.Close()
		var ops []workloads.Op
		if rc.Found != nil && searching {
			// An op that ignores its deadline never returns to report;
			// the watchdog will stop the process. Found hears of it first,
			// with the case's ops so far, so the run leaves its violation
			// behind. It runs while the op is stuck (see OnStuck): ops
			// and the state read here do not change meanwhile.
			m.OnStuck(func(n int, what string, running time.Duration) {
				if first != nil || stuckFound {
					return
				}
				stuckFound = true
				f := &Failure{Kind: KindHang, OpIndex: n, Expected: fmt.Sprintf("done within %s", m.cfg.OpTimeout), Actual: "still running",
					Summary: fmt.Sprintf("%s has run %s and ignores its deadline (an infinite loop or a wait nothing ends): the engine hangs, and the process will be stopped", what, running.Round(time.Second))}
				fl := &failing{ops: slices.Clone(ops), f: f, points: m.CrashPoints(), attrs: attrs}
				v := violation(fl, fl)
				v.NotMinimized = NotMinimizedStopped
				res.Detected = time.Since(start)
				if writeTrace(&v, rc, mc, fl) == nil {
					rc.Found(v)
				}
			})
		}
		report := func(f *Failure) *failing {
			fl := &failing{ops: append([]workloads.Op(nil), ops...), f: f, points: slices.Clone(m.CrashPoints()), attrs: slices.Clone(attrs)}
			if adapt != nil {
				adapt.freeze()
				fl.attrs = append(fl.attrs, adapt.attr())
			}
			if variant != "" && !strings.Contains(f.Summary, AttrEngineVariant) {
				f.Summary += fmt.Sprintf(" (on the engine with %s; the trace's %s=%q)", variant, AttrEngineVariant, variant)
			}
			f.Summary = Normalize(f.Summary, dir)
			f.Actual = Normalize(f.Actual, dir)
			last = fl
			if searching && first == nil {
				first = fl
				res.Detected = time.Since(start)
				if rc.Found != nil && !stuckFound {
					v := violation(fl, fl)
					v.NotMinimized = NotMinimizedStopped
					if writeTrace(&v, rc, mc, fl) == nil {
						rc.Found(v)
					}
				}
			}
			return fl
		}
		defer func() {
			if adapt != nil {
				adapt.end()
			}
			if searching {
				res.Cases++
				res.Ops += int64(len(ops))
				rc.Live.Add(1, int64(len(ops)))
			}
		}()
		t.Repeat(map[string]func(*rapid.T){"op": func(t *rapid.T) {
			if len(ops) >= rc.OpsMax {
				return
			}
			op := gen.Rapid().Draw(t, "op")
			if adapt != nil {
				op = adapt.draw(t, op)
			}
			ops = append(ops, op)
			if f := m.Step(op); f != nil {
				fatal(t, report(f).f)
			}
		}})
		if f := m.Finish(); f != nil {
			fatal(t, report(f).f)
		}
	}

	var interrupt error // why ctx stopped the run before its cases were done
	for batch := uint64(0); res.Cases < int64(rc.Cases); batch++ {
		if ctx.Err() != nil {
			interrupt = context.Cause(ctx)
			break
		}
		if batch > 0 && rc.Budget > 0 && time.Since(start) > rc.Budget {
			break
		}
		n := min(rc.BatchCases, rc.Cases-int(res.Cases))
		t := &tb{name: "gauntlet-" + mc.Checker}
		searching = true
		func() {
			rapidMu.Lock()
			defer rapidMu.Unlock()
			restore := rapidFlags(mix(stream, batch), n, rc.OpsMean, rc.ShrinkTime)
			defer restore()
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(stopRun); !ok {
						panic(r)
					}
				}
			}()
			rapid.Check(t, func(rt *rapid.T) {
				defer func() {
					if first != nil {
						searching = false // what runs now is rapid reproducing and shrinking
					}
				}()
				prop(rt)
			})
		}()
		if setupErr != nil {
			res.Elapsed = time.Since(start)
			return res, setupErr
		}
		if rc.Log != nil {
			rc.Log("%s: %d cases, %d ops, %s", mc.Checker, res.Cases, res.Ops, time.Since(start).Round(time.Millisecond))
		}
		if t.failed {
			if last == nil {
				return res, fmt.Errorf("%s: rapid failed without a case: %v", mc.Checker, t.msgs)
			}
			v := violation(last, first)
			if err := writeTrace(&v, rc, mc, last); err != nil {
				return res, err
			}
			res.Verdict = checkers.Fail
			res.Violations = append(res.Violations, v)
			break
		}
	}
	res.Elapsed = time.Since(start)
	res.End(int64(rc.Cases), rc.Budget, interrupt)
	return res, nil
}

// fatal stops a rapid case from a call site per failure kind, so rapid's
// shrinker, which keeps a failure only while its call site is the same,
// keeps the kind.
func fatal(t *rapid.T, f *Failure) {
	msg := f.Error()
	switch f.Kind {
	case KindAnswer:
		t.Fatal(msg)
	case KindError:
		t.Fatal(msg)
	case KindCrash:
		t.Fatal(msg)
	case KindProgress:
		t.Fatal(msg)
	case KindInvariant:
		t.Fatal(msg)
	case KindHang:
		t.Fatal(msg)
	case KindPanic:
		t.Fatal(msg)
	default:
		t.Fatal(msg)
	}
}

func violation(last, first *failing) checkers.Violation {
	v := checkers.Violation{
		Summary:  last.f.Error(),
		OpIndex:  last.f.OpIndex,
		Expected: last.f.Expected,
		Actual:   last.f.Actual,
	}
	for _, op := range last.ops {
		v.Ops = append(v.Ops, op.String())
	}
	if last.f.OpIndex >= len(last.ops) {
		v.Ops = append(v.Ops, "# end of case: clean reboot and check every key")
	}
	v.OriginalOps = len(last.ops)
	if first != nil {
		v.OriginalOps = len(first.ops)
	}
	return v
}

// AttrBatch is the trace header attribute of a run with Config.BatchPuts
// ("true"): a replay groups the trace's consecutive puts into PutBatch
// calls as the run did, whatever the replaying checker was given.
const AttrBatch = "batch"

// The trace header attributes of crash-versions 2 to 5 (Config.CrashInOp,
// Config.CrashAcross, Config.CrashRetry, Config.CrashRetryNear): the version, and where each crash
// landed (CrashPoints): "N:end", "N:ioK", "N:fault", "N:arm" (a cut armed at
// op N), "N:cut" (an armed cut landed in op N) or "N:retry" (op N's reboot
// retried its lost writes and crashed again), comma-separated.
const (
	AttrCrashVersion = "crash-version"
	AttrCrashPoints  = "crash-points"
	// CrashVersion is the crash-version a block-mode trace is written
	// with: dirty-reboot seeds choose a power cut inside the reboot's
	// flushes (version 2) or arm one that lands inside a later op
	// (version 3), and a reboot cut inside its flushes may retry its lost
	// writes and be cut again (version 4), continuing before the retry on
	// the crash state that lost the least (version 5). A trace without
	// the attribute is version 1: the crash comes after the flushes.
	CrashVersion = "5"
)

func writeTrace(v *checkers.Violation, rc RunConfig, mc Config, fl *failing) error {
	ops := fl.ops
	if rc.OutDir == "" {
		return nil
	}
	if err := os.MkdirAll(rc.OutDir, 0o755); err != nil {
		return fmt.Errorf("%s: write trace: %w", mc.Checker, err)
	}
	stem := rc.Stem
	if stem == "" {
		stem = fmt.Sprintf("%s-%d", mc.Checker, rc.Seed)
	}
	name := filepath.Join(rc.OutDir, stem+".trace")
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("%s: write trace: %w", mc.Checker, err)
	}
	h := workloads.Header{Seed: rc.Seed, Workload: "biased", Attrs: append([]workloads.Attr{
		{Key: "checker", Value: mc.Checker}, {Key: "engine", Value: mc.Target.Name},
		{Key: "faults", Value: strconv.FormatBool(mc.Faults)},
	}, append(slices.Clone(rc.Attrs), fl.attrs...)...)}
	if mc.BatchPuts {
		h.Attrs = append(h.Attrs, workloads.Attr{Key: AttrBatch, Value: "true"})
	}
	if mc.CrashInOp {
		h.Attrs = append(h.Attrs, workloads.Attr{Key: AttrCrashVersion, Value: strconv.Itoa(mc.CrashVersion())},
			workloads.Attr{Key: AttrCrashPoints, Value: strings.Join(fl.points, ",")})
	}
	werr := workloads.WriteTrace(f, h, ops)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("%s: write trace %s: %w", mc.Checker, name, werr)
	}
	v.TraceFile = name
	if rc.Replay != nil {
		v.Replay = rc.Replay(name)
	}
	return nil
}

// Replay applies a trace's ops exactly, with the same checks, and reports
// the first violation.
func Replay(ctx context.Context, mc Config, tr workloads.Trace, rc RunConfig) (checkers.Result, error) {
	res := checkers.Result{Checker: mc.Checker, Engine: mc.Target.Name, Seed: tr.Header.Seed, Verdict: checkers.Pass, Cases: 1}
	start := time.Now()
	dir, err := os.MkdirTemp(mc.Target.WorkDir, "gauntlet-replay-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	switch b, _ := attr(tr, AttrBatch); b {
	case "true":
		mc.BatchPuts = true
	case "", "false":
	default:
		return res, fmt.Errorf("%s: trace header %s=%q: want true or false: %w", mc.Checker, AttrBatch, b, checkers.ErrBadTrace)
	}
	if v, ok := attr(tr, AttrEngineVariant); ok {
		settings, err := target.ParseVariant(v)
		if err != nil {
			return res, fmt.Errorf("%s: trace header %s: %v: %w", mc.Checker, AttrEngineVariant, err, checkers.ErrBadTrace)
		}
		if mc.Target.Variant == nil {
			return res, fmt.Errorf("%s: the trace's %s=%q lays options over the engine, and %s takes no variants (the trace was written by another engine or harness): %w",
				mc.Checker, AttrEngineVariant, v, mc.Target.Name, checkers.ErrBadTrace)
		}
		if mc.Target, err = mc.Target.Variant(settings); err != nil {
			return res, fmt.Errorf("%s: the trace's %s=%q: %v: %w", mc.Checker, AttrEngineVariant, v, err, checkers.ErrBadTrace)
		}
	}
	m, err := New(ctx, mc, filepath.Join(dir, "e"))
	if err != nil {
		return res, err
	}
	defer m.Close()
	if mc.BatchPuts && !capsOf(m.in.Engine).Batcher {
		return res, fmt.Errorf("%s: the trace's %s=true needs an engine with PutBatch (engine.Batcher); %s has none: %w", mc.Checker, AttrBatch, mc.Target.Name, checkers.ErrBadTrace)
	}
	// A put the engine accepts but the model cannot hold cannot be
	// checked; one over both maximums must be refused (see overLimit).
	valueMax := engine.LimitsOf(m.in.Engine).ValueMax
	for i, op := range tr.Ops {
		if op.Kind == workloads.OpPut && op.Size > model.ValueMax && op.Size <= valueMax {
			line := 0
			if i < len(tr.Lines) {
				line = tr.Lines[i]
			}
			return res, fmt.Errorf("%s: op %d (trace line %d): %s: the model holds values up to %d bytes, so the checker cannot check a larger one the engine accepts (up to %d): %w",
				mc.Checker, i, line, op, model.ValueMax, valueMax, checkers.ErrBadTrace)
		}
	}
	var f *Failure
	n := 0
	for _, op := range tr.Ops {
		n++
		if f = m.Step(op); f != nil {
			break
		}
	}
	if f == nil {
		f = m.Finish()
	}
	res.Ops = int64(n)
	res.Elapsed = time.Since(start)
	if f != nil {
		f.Summary = Normalize(f.Summary, dir)
		f.Actual = Normalize(f.Actual, dir)
		fl := &failing{ops: tr.Ops[:n], f: f}
		v := violation(fl, &failing{ops: tr.Ops})
		res.Verdict = checkers.Fail
		res.Violations = append(res.Violations, v)
	} else {
		res.Reason = "replay did not reproduce the violation: the trace's ops pass"
	}
	if want, ok := attr(tr, AttrCrashPoints); ok && mc.CrashInOp {
		if got := strings.Join(m.CrashPoints(), ","); got != want {
			// The engine did a different number of IOs than when the
			// trace was written (a change to the engine, or timing).
			note := fmt.Sprintf("the crashes landed at %q, the trace recorded %q", got, want)
			if res.Reason != "" {
				note = res.Reason + "; " + note
			}
			res.Reason = note
		}
	}
	return res, nil
}

// attr is the trace header attribute key's value, and whether it is set.
func attr(tr workloads.Trace, key string) (string, bool) { return tr.Header.Attr(key) }

// TraceCrashVersion is the crash-version a trace was written with: 1
// without the attribute, else 1 to 5; another version is
// checkers.ErrBadTrace: a reader does not guess what a newer one means.
func TraceCrashVersion(tr workloads.Trace) (int, error) {
	v, ok := attr(tr, AttrCrashVersion)
	switch {
	case !ok || v == "1":
		return 1, nil
	case v == "2":
		return 2, nil
	case v == "3":
		return 3, nil
	case v == "4":
		return 4, nil
	case v == CrashVersion:
		return 5, nil
	}
	return 0, fmt.Errorf("crash-version=%q: this harness knows versions 1 to %s: %w", v, CrashVersion, checkers.ErrBadTrace)
}

// CrashVersion is the crash-version of traces c writes.
func (c Config) CrashVersion() int {
	switch {
	case c.CrashRetryNear:
		return 5
	case c.CrashRetry:
		return 4
	case c.CrashAcross:
		return 3
	case c.CrashInOp:
		return 2
	}
	return 1
}

// WithCrashVersion sets the crash options that version v of the trace
// format means.
func (c Config) WithCrashVersion(v int) Config {
	c.CrashInOp, c.CrashAcross, c.CrashRetry, c.CrashRetryNear = v >= 2, v >= 3, v >= 4, v >= 5
	return c
}

// ErrNoCases is returned for a run configured with no cases.
var ErrNoCases = errors.New("no cases to run")
