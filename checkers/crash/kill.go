package crash

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// Kill-mode defaults.
const (
	KillCasesDefault   = 20
	KillOpsMeanDefault = 40
	// SyncPercentDefault is the chance that the child calls Sync after an
	// op.
	SyncPercentDefault = 25
	// KillKeysDefault is kill mode's key space: small, so keys are
	// overwritten and deleted between syncs.
	KillKeysDefault = 16
	// DDMinRunsDefault bounds the child runs minimization may spend.
	DDMinRunsDefault = 200
)

// SyncsAttr is the trace header attribute that lists the ops (0-based
// indices, comma-separated) after which a kill-mode child calls Sync. The
// trace format has no sync op; a kill-mode trace ends with a dirty-reboot
// op, where the child kills itself.
const SyncsAttr = "syncs"

// ChildFunc returns the command that runs a kill-mode child: it must call
// KillChild with the engine under check, dir and traceFile, and write its
// report to stdout.
type ChildFunc func(dir, traceFile string) *exec.Cmd

// KillConfig configures a kill-mode run.
type KillConfig struct {
	// Target opens the engine in the parent to check what survived
	// (OpenDir is required).
	Target target.Target
	// Child starts a child process on the same engine.
	Child ChildFunc
	Seed  uint64
	// Cases (default KillCasesDefault) and Budget (default 0: none).
	Cases  int
	Budget time.Duration
	// OpsMean is the mean number of ops per case (default
	// KillOpsMeanDefault); SyncPercent the chance of a Sync after each op
	// (default SyncPercentDefault); Keys the key space (default
	// KillKeysDefault).
	OpsMean, SyncPercent, Keys int
	// DDMinRuns bounds minimization (default DDMinRunsDefault).
	DDMinRuns int
	// OutDir, Replay and Log are as in Config.
	OutDir string
	Replay func(traceFile string) string
	Log    func(format string, args ...any)
}

func (c *KillConfig) ensureDefaults() {
	if c.Cases == 0 {
		c.Cases = KillCasesDefault
	}
	if c.OpsMean == 0 {
		c.OpsMean = KillOpsMeanDefault
	}
	if c.SyncPercent == 0 {
		c.SyncPercent = SyncPercentDefault
	}
	if c.Keys == 0 {
		c.Keys = KillKeysDefault
	}
	if c.DDMinRuns == 0 {
		c.DDMinRuns = DDMinRunsDefault
	}
	if c.OutDir == "" {
		c.OutDir = os.TempDir()
	}
	if c.Replay == nil {
		spec := c.Target.Name
		c.Replay = func(file string) string {
			return fmt.Sprintf("harness check %s --engine %s --mode kill --replay %s", Name, spec, file)
		}
	}
}

func (c *KillConfig) validate() error {
	var errs []error
	if c.Target.OpenDir == nil {
		errs = append(errs, fmt.Errorf("crash: kill mode: engine %s does not open on a directory", c.Target.Name))
	}
	if c.Child == nil {
		errs = append(errs, errors.New("crash: kill mode: no Child command"))
	}
	if c.Cases < 0 || c.OpsMean < 1 || c.SyncPercent < 0 || c.SyncPercent > 100 || c.Keys < 1 {
		errs = append(errs, errors.New("crash: kill mode: bad sizes in the configuration"))
	}
	return errors.Join(errs...)
}

// step is one op of a kill-mode workload and whether the child syncs after
// it.
type step struct {
	op   workloads.Op
	sync bool
}

// killRun is what one child run did.
type killRun struct {
	acked  int   // index of the last acknowledged op, -1 if none
	synced []int // ops after which a Sync completed
	closed bool  // the child finished and closed the engine
	killed bool  // the parent killed it
	errOp  int   // op whose engine call failed, -1 if none
	errMsg string
}

// KillChild is the child side of kill mode: it opens the engine on dir,
// applies the ops of the trace in traceFile, and writes one line to out
// after each acknowledged op ("acked I") and each completed Sync ("synced
// I"). At a dirty-reboot op it writes "killing I" and kills itself with
// SIGKILL; after the last op it closes the engine and writes "closed". An
// engine error is written as "error I: message" and returned.
func KillChild(ctx context.Context, open func(dir string) (engine.Engine, error), dir, traceFile string, out io.Writer) error {
	f, err := os.Open(traceFile)
	if err != nil {
		return err
	}
	tr, err := workloads.ParseTrace(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", traceFile, err)
	}
	syncs, err := parseSyncs(tr)
	if err != nil {
		return err
	}
	e, err := open(dir)
	if err != nil {
		fmt.Fprintf(out, "error -1: open: %s\n", oneLine(err.Error()))
		return err
	}
	var buf []byte
	for i, op := range tr.Ops {
		if op.Kind == workloads.OpDirtyReboot {
			fmt.Fprintf(out, "killing %d\n", i)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		if op.Kind.Writes() && cap(buf) < op.Size {
			buf = make([]byte, op.Size)
		}
		if _, err := workloads.Apply(ctx, e, op, buf); err != nil && !errors.Is(err, workloads.ErrCheckerOp) && !errors.Is(err, errors.ErrUnsupported) {
			fmt.Fprintf(out, "error %d: %s\n", i, oneLine(err.Error()))
			return err
		}
		fmt.Fprintf(out, "acked %d\n", i)
		if syncs[i] {
			if err := e.Sync(ctx); err != nil {
				fmt.Fprintf(out, "error %d: sync: %s\n", i, oneLine(err.Error()))
				return err
			}
			fmt.Fprintf(out, "synced %d\n", i)
		}
	}
	if err := e.Close(); err != nil {
		fmt.Fprintf(out, "error %d: close: %s\n", len(tr.Ops), oneLine(err.Error()))
		return err
	}
	fmt.Fprintln(out, "closed")
	return nil
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

func parseSyncs(tr workloads.Trace) (map[int]bool, error) {
	syncs := map[int]bool{}
	for _, a := range tr.Header.Attrs {
		if a.Key != SyncsAttr || a.Value == "" {
			continue
		}
		for _, s := range strings.Split(a.Value, ",") {
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(tr.Ops) {
				return nil, fmt.Errorf("crash: trace attribute %s=%q: %q is not an op index", SyncsAttr, a.Value, s)
			}
			syncs[i] = true
		}
	}
	return syncs, nil
}

// ChildEnv is the environment variable that makes a test binary a
// kill-mode child (see TestChild and ChildMain).
const ChildEnv = "GAUNTLET_KILL_CHILD"

// TestChild returns a ChildFunc that re-executes the running test binary
// as a child for the engine spec; the test's TestMain must call ChildMain
// first.
func TestChild(spec string) ChildFunc {
	return func(dir, traceFile string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), ChildEnv+"="+spec, ChildEnv+"_DIR="+dir, ChildEnv+"_TRACE="+traceFile)
		return cmd
	}
}

// ChildMain runs a kill-mode child if the environment asks for one (see
// TestChild), opening the engine from table, and returns the exit code and
// true; otherwise it returns false at once. Call it first in TestMain.
func ChildMain(table engine.Drivers) (int, bool) {
	spec, ok := os.LookupEnv(ChildEnv)
	if !ok {
		return 0, false
	}
	d, o, err := table.Resolve(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2, true
	}
	open := func(dir string) (engine.Engine, error) { return d.Open(dir, o) }
	if err := KillChild(context.Background(), open, os.Getenv(ChildEnv+"_DIR"), os.Getenv(ChildEnv+"_TRACE"), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3, true
	}
	return 0, true
}

// kill is a kill-mode run in progress.
type kill struct {
	c    KillConfig
	ctx  context.Context
	tmp  string
	runs int
}

// writeKillTrace writes steps as a trace, ending with a dirty-reboot op if
// crash is set.
func writeKillTrace(path string, h workloads.Header, steps []step, crash bool) error {
	var ops []workloads.Op
	var syncs []string
	for i, s := range steps {
		ops = append(ops, s.op)
		if s.sync {
			syncs = append(syncs, strconv.Itoa(i))
		}
	}
	if crash {
		ops = append(ops, workloads.Op{Kind: workloads.OpDirtyReboot})
	}
	h.Attrs = append(slices.Clone(h.Attrs), workloads.Attr{Key: SyncsAttr, Value: strings.Join(syncs, ",")})
	var b bytes.Buffer
	if err := workloads.WriteTrace(&b, h, ops); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// runChild runs the child on a fresh directory; killAt >= 0 kills it after
// it acknowledges op killAt and a delay.
func (k *kill) runChild(steps []step, crash bool, killAt int, delay time.Duration) (killRun, string, error) {
	k.runs++
	caseDir := filepath.Join(k.tmp, strconv.Itoa(k.runs))
	dbDir := filepath.Join(caseDir, "db")
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return killRun{}, "", err
	}
	traceFile := filepath.Join(caseDir, "case.trace")
	if err := writeKillTrace(traceFile, workloads.Header{Seed: k.c.Seed, Workload: "kill"}, steps, crash); err != nil {
		return killRun{}, "", err
	}
	cmd := k.c.Child(dbDir, traceFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return killRun{}, "", err
	}
	if err := cmd.Start(); err != nil {
		return killRun{}, "", fmt.Errorf("crash: start child: %w", err)
	}
	r := killRun{acked: -1, errOp: -1}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		verb, arg, _ := strings.Cut(sc.Text(), " ")
		switch verb {
		case "acked":
			r.acked, _ = strconv.Atoi(arg)
			if r.acked == killAt && !r.killed {
				if delay > 0 {
					time.Sleep(delay)
				}
				cmd.Process.Kill()
				r.killed = true
			}
		case "synced":
			i, _ := strconv.Atoi(arg)
			r.synced = append(r.synced, i)
		case "closed":
			r.closed = true
		case "error":
			idx, msg, _ := strings.Cut(arg, ": ")
			r.errOp, _ = strconv.Atoi(idx)
			r.errMsg = msg
		}
	}
	werr := cmd.Wait()
	if r.errOp == -1 && !r.closed && !r.killed && !crash {
		return r, dbDir, fmt.Errorf("crash: child exited without finishing (%v): %s", werr, oneLine(stderr.String()))
	}
	if crash && !r.closed && r.errOp == -1 {
		r.killed = true // it killed itself at the dirty-reboot op
	}
	return r, dbDir, nil
}

// check verifies dbDir after run r of steps: it reopens the engine and
// compares every key with the versions the model allows.
func (k *kill) check(steps []step, r killRun, dbDir string) (*failure, error) {
	if r.errOp >= 0 {
		return &failure{opIndex: max(r.errOp, 0), summary: fmt.Sprintf("the engine failed in the child: %s", r.errMsg)}, nil
	}
	m := model.New()
	synced := map[int]bool{}
	for _, i := range r.synced {
		synced[i] = true
	}
	keys := map[string]bool{}
	apply := func(op workloads.Op) {
		switch op.Kind {
		case workloads.OpPut:
			m.PutDep(op.Key, op.Value(nil))
			keys[string(op.Key)] = true
		case workloads.OpDelete:
			m.DeleteDep(op.Key)
			keys[string(op.Key)] = true
		}
	}
	for i := 0; i <= r.acked; i++ {
		apply(steps[i].op)
		if synced[i] {
			m.Sync(k.ctx)
		}
	}
	if r.closed {
		m.Sync(k.ctx)
	} else if r.acked+1 < len(steps) && r.killed {
		apply(steps[r.acked+1].op) // in flight when the kill landed: maybe applied
	}
	e, err := k.c.Target.OpenDir(dbDir)
	if err != nil {
		return &failure{opIndex: r.acked + 1, summary: fmt.Sprintf("reopen after the kill: %s", strings.ReplaceAll(err.Error(), dbDir, "$DIR"))}, nil
	}
	defer e.Close()
	sorted := slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	})
	var present []string
	allowed := m.Crash()
	for _, key := range sorted {
		got, err := e.Get(k.ctx, []byte(key))
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			return &failure{opIndex: r.acked + 1, summary: fmt.Sprintf("after the kill: get %q: %s", key, strings.ReplaceAll(err.Error(), dbDir, "$DIR"))}, nil
		}
		v := model.Version{Present: err == nil, Value: got}
		if !m.Allowed([]byte(key), v) {
			want := allowed[key]
			if len(want) == 0 {
				want = []model.Version{{}}
			}
			return &failure{opIndex: r.acked + 1, summary: fmt.Sprintf("after the kill: get %q = %s, want one of %v (the first is the last synced version)", key, v, want),
				expected: fmt.Sprint(want), actual: v.String()}, nil
		}
		if v.Present {
			present = append(present, key)
		}
	}
	if l, ok := e.(engine.Lister); ok {
		var got []string
		if err := l.List(k.ctx, nil, nil, func(b []byte) bool { got = append(got, string(b)); return true }); err != nil {
			return &failure{opIndex: r.acked + 1, summary: fmt.Sprintf("after the kill: list: %v", err)}, nil
		}
		if !slices.Equal(got, present) {
			return &failure{opIndex: r.acked + 1, summary: fmt.Sprintf("after the kill: list = %q, but gets found %q", got, present)}, nil
		}
	}
	return nil, nil
}

type failure struct {
	opIndex          int
	summary          string
	expected, actual string
}

// deterministic runs steps, then kills the child if crash is set (else
// the child closes the engine), and checks.
func (k *kill) deterministic(steps []step, crash bool) (*failure, error) {
	r, dir, err := k.runChild(steps, crash, -1, 0)
	if err != nil {
		return nil, err
	}
	return k.check(steps, r, dir)
}

// generate draws case i's steps, kill point and delay.
func (k *kill) generate(i int, caps engine.Engine) ([]step, int, time.Duration, error) {
	rng := rand.New(rand.NewPCG(k.c.Seed, uint64(i)))
	w := map[workloads.OpKind]int{workloads.OpGet: 20, workloads.OpPut: 45, workloads.OpDelete: 12}
	if _, ok := caps.(engine.Lister); ok {
		w[workloads.OpList] = 4
	}
	if _, ok := caps.(engine.Maintainer); ok {
		w[workloads.OpIndexFlush] = 2
		w[workloads.OpCompact] = 2
	}
	gen, err := workloads.NewBiased(k.c.Target.Biased(workloads.BiasedOptions{Weights: w, Keys: k.c.Keys, Seed: rng.Uint64()}))
	if err != nil {
		return nil, 0, 0, err
	}
	n := 1 + rng.IntN(2*k.c.OpsMean)
	steps := make([]step, n)
	for j := range steps {
		steps[j] = step{op: gen.Draw(rng), sync: rng.IntN(100) < k.c.SyncPercent}
	}
	return steps, rng.IntN(n), time.Duration(rng.IntN(300)) * time.Microsecond, nil
}

// RunKill runs kill mode: each case runs a child, kills it, reopens and
// checks. A violation is minimized with DDMin over deterministic replays.
func RunKill(ctx context.Context, c KillConfig) (checkers.Result, error) {
	c.ensureDefaults()
	res := checkers.Result{Checker: Name, Engine: c.Target.Name, Seed: c.Seed, Verdict: checkers.Pass}
	if err := c.validate(); err != nil {
		return res, err
	}
	start := time.Now()
	tmp, err := os.MkdirTemp(c.Target.WorkDir, "gauntlet-kill-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)
	// ctx stops the run between cases; a case's reopen and checks run
	// under a context the stop does not cancel, so a Ctrl-C never fails
	// them into a false violation.
	k := &kill{c: c, ctx: context.WithoutCancel(ctx), tmp: tmp}
	probe, err := c.Target.OpenDir(filepath.Join(tmp, "probe"))
	if err != nil {
		return res, fmt.Errorf("crash: open engine %s: %w", c.Target.Name, err)
	}
	probe.Close()
	for i := 0; i < c.Cases; i++ {
		if ctx.Err() != nil || c.Budget > 0 && time.Since(start) > c.Budget {
			break
		}
		steps, killAt, delay, err := k.generate(i, probe)
		if err != nil {
			return res, err
		}
		r, dir, err := k.runChild(steps, false, killAt, delay)
		if err != nil {
			return res, err
		}
		res.Cases++
		res.Ops += int64(r.acked + 1)
		f, err := k.check(steps, r, dir)
		if err != nil {
			return res, err
		}
		os.RemoveAll(filepath.Dir(dir))
		if f == nil {
			continue
		}
		// The failing prefix: every acknowledged op and the one in flight;
		// replays kill the child at its end unless it had closed the
		// engine.
		failing := steps[:min(len(steps), r.acked+2)]
		crashed := !r.closed
		v := checkers.Violation{Summary: f.summary, Expected: f.expected, Actual: f.actual, OriginalOps: len(failing) + 1}
		small := failing
		if df, err := k.deterministic(failing, crashed); err != nil {
			return res, err
		} else if df == nil {
			v.Summary += " (did not reproduce with the kill at an op boundary: not minimized)"
			f.opIndex = len(failing)
		} else {
			small = DDMin(failing, func(s []step) bool {
				df, err := k.deterministic(s, crashed)
				return err == nil && df != nil
			}, c.DDMinRuns)
			df, err := k.deterministic(small, crashed)
			if err != nil {
				return res, err
			}
			if df != nil {
				f = df
				v.Summary, v.Expected, v.Actual = f.summary, f.expected, f.actual
			}
		}
		for _, s := range small {
			line := s.op.String()
			if s.sync {
				line += "  # then sync"
			}
			v.Ops = append(v.Ops, line)
		}
		if crashed {
			v.Ops = append(v.Ops, workloads.Op{Kind: workloads.OpDirtyReboot}.String()+"  # kill -9")
		} else {
			v.Ops = append(v.Ops, "# close, reopen and check every key")
		}
		v.OpIndex = min(f.opIndex, len(v.Ops)-1)
		if err := os.MkdirAll(c.OutDir, 0o755); err != nil {
			return res, err
		}
		name := filepath.Join(c.OutDir, fmt.Sprintf("crash-kill-%d.trace", c.Seed))
		h := workloads.Header{Seed: c.Seed, Workload: "kill", Attrs: []workloads.Attr{
			{Key: "checker", Value: Name}, {Key: "engine", Value: c.Target.Name}, {Key: "mode", Value: "kill"}}}
		if err := writeKillTrace(name, h, small, crashed); err != nil {
			return res, fmt.Errorf("crash: write trace: %w", err)
		}
		v.TraceFile, v.Replay = name, c.Replay(name)
		res.Verdict = checkers.Fail
		res.Violations = append(res.Violations, v)
		break
	}
	res.Elapsed = time.Since(start)
	if res.Verdict == checkers.Pass && res.Cases < int64(c.Cases) {
		if err := ctx.Err(); err != nil {
			res.Reason = fmt.Sprintf("stopped after %s: %v", checkers.CasesOf(res.Cases, int64(c.Cases)), err)
		} else {
			res.Reason = fmt.Sprintf("budget %s spent after %s", c.Budget, checkers.CasesOf(res.Cases, int64(c.Cases)))
		}
	}
	if c.Log != nil {
		c.Log("crash kill: %d cases, %d ops, %d child runs, %s", res.Cases, res.Ops, k.runs, res.Elapsed.Round(time.Millisecond))
	}
	return res, nil
}

// ReplayKill runs a kill-mode trace deterministically: the child applies
// its ops, syncing where the trace says, and kills itself at the
// dirty-reboot op; the parent checks as RunKill does.
func ReplayKill(ctx context.Context, c KillConfig, tr workloads.Trace) (checkers.Result, error) {
	c.ensureDefaults()
	res := checkers.Result{Checker: Name, Engine: c.Target.Name, Seed: tr.Header.Seed, Verdict: checkers.Pass, Cases: 1}
	if err := c.validate(); err != nil {
		return res, err
	}
	syncs, err := parseSyncs(tr)
	if err != nil {
		return res, err
	}
	var steps []step
	crashed := false
	for i, op := range tr.Ops {
		if op.Kind == workloads.OpDirtyReboot {
			crashed = true
			break
		}
		steps = append(steps, step{op: op, sync: syncs[i]})
	}
	start := time.Now()
	tmp, err := os.MkdirTemp(c.Target.WorkDir, "gauntlet-kill-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)
	k := &kill{c: c, ctx: ctx, tmp: tmp}
	f, err := k.deterministic(steps, crashed)
	if err != nil {
		return res, err
	}
	res.Ops = int64(len(steps))
	res.Elapsed = time.Since(start)
	if f != nil {
		v := checkers.Violation{Summary: f.summary, Expected: f.expected, Actual: f.actual, OpIndex: min(f.opIndex, len(steps)), OriginalOps: len(steps) + 1}
		for _, s := range steps {
			v.Ops = append(v.Ops, s.op.String())
		}
		if crashed {
			v.Ops = append(v.Ops, workloads.Op{Kind: workloads.OpDirtyReboot}.String())
		}
		res.Verdict = checkers.Fail
		res.Violations = append(res.Violations, v)
	}
	return res, nil
}
