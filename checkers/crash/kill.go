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
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/coverage"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/machine"
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
	// ChildTimeoutDefault bounds one child process, a workload or a
	// verification: a case runs at most a few dozen ops on a small key
	// space, so one still running then has hung, and the case ends
	// unknown.
	ChildTimeoutDefault = 2 * time.Minute
	// ProbeTimeout bounds the child that opens a new engine to learn its
	// capabilities: one that has not opened by then hangs.
	ProbeTimeout = 20 * time.Second
	// TimedKillsDefault is how many kills timed inside a call (an op, a
	// Sync, Close) a replay tries when that is where the kill of a
	// violation landed: a kill inside a call cannot be placed exactly, so
	// the delays grow from 0 to about 10 ms.
	TimedKillsDefault = 12
)

// Trace header attributes of kill mode.
const (
	// SyncsAttr lists the ops (0-based indices, comma-separated) after
	// which the child calls Sync. The trace format has no sync op.
	SyncsAttr = "syncs"
	// KillAttr says where the kill landed (see KillPoint): "boundary" (at
	// the trace's final dirty-reboot op, between two ops), "op:N" (inside
	// op N, the trace's last), "sync:N" (inside the Sync after op N, the
	// last), "close" (inside Close, after every op). Without it a trace
	// that ends with dirty-reboot is killed there, and one that does not
	// is closed cleanly.
	KillAttr = "kill"
	// killAfterAttr is the delay of a timed kill, in the traces the parent
	// hands its children only.
	killAfterAttr = "kill-after"
)

// Phase is where in a kill-mode case the kill landed.
type Phase int

// The phases.
const (
	PhaseNone     Phase = iota // no kill: the child closed the engine
	PhaseBoundary              // between two ops: deterministic
	PhaseOp                    // inside op Op
	PhaseSync                  // inside the Sync after op Op
	PhaseClose                 // inside Close, after every op
)

// KillPoint is where the kill of a kill-mode case landed.
type KillPoint struct {
	Phase Phase
	Op    int // for PhaseOp and PhaseSync
}

// String is the point as KillAttr writes it.
func (p KillPoint) String() string {
	switch p.Phase {
	case PhaseBoundary:
		return "boundary"
	case PhaseOp:
		return fmt.Sprintf("op:%d", p.Op)
	case PhaseSync:
		return fmt.Sprintf("sync:%d", p.Op)
	case PhaseClose:
		return "close"
	}
	return "none"
}

// inside describes a timed point for a message: "inside op 12".
func (p KillPoint) inside() string {
	switch p.Phase {
	case PhaseOp:
		return fmt.Sprintf("inside op %d", p.Op)
	case PhaseSync:
		return fmt.Sprintf("inside the Sync after op %d", p.Op)
	case PhaseClose:
		return "inside Close"
	case PhaseBoundary:
		return "between ops"
	}
	return "after a clean close"
}

// timed reports whether the kill lands inside a call, where only a delay
// can place it.
func (p KillPoint) timed() bool { return p.Phase >= PhaseOp }

// ParseKillPoint parses a KillAttr value.
func ParseKillPoint(s string) (KillPoint, error) {
	switch s {
	case "none":
		return KillPoint{}, nil
	case "boundary":
		return KillPoint{Phase: PhaseBoundary}, nil
	case "close":
		return KillPoint{Phase: PhaseClose}, nil
	}
	phase, n, ok := strings.Cut(s, ":")
	i, err := strconv.Atoi(n)
	if ok && err == nil && i >= 0 {
		switch phase {
		case "op":
			return KillPoint{Phase: PhaseOp, Op: i}, nil
		case "sync":
			return KillPoint{Phase: PhaseSync, Op: i}, nil
		}
	}
	return KillPoint{}, fmt.Errorf("%q is not a kill point: use boundary, op:N, sync:N, close or none", s)
}

// Role is what a kill-mode child process does.
type Role string

// The roles.
const (
	// RoleWorkload runs KillChild: the case's ops until killed.
	RoleWorkload Role = "workload"
	// RoleVerify runs VerifyChild: reopen the directory, read every key,
	// list, close. The engine is opened only in children, so one that
	// panics, faults (SIGBUS) or hangs takes down a child, not the run.
	RoleVerify Role = "verify"
)

// ChildFunc returns the command of a kill-mode child process: it must call
// KillChild (role RoleWorkload) or VerifyChild (RoleVerify) with the engine
// under check, dir and traceFile, writing its report to stdout.
type ChildFunc func(role Role, dir, traceFile string) *exec.Cmd

// KillConfig configures a kill-mode run.
type KillConfig struct {
	// Target names the engine, sizes its values and says where case
	// directories go (WorkDir); OpenDir must be set (the children open
	// it), but the parent never opens the engine itself.
	Target target.Target
	// Child starts the child processes.
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
	// ChildTimeout bounds each child process (default
	// ChildTimeoutDefault); TimedKills is how many timed kills a replay of
	// a kill inside a call tries (default TimedKillsDefault).
	ChildTimeout time.Duration
	TimedKills   int
	// OutDir, Replay and Log are as in Config.
	OutDir string
	Replay func(traceFile string) string
	Log    func(format string, args ...any)
	// Live, if set, counts cases and ops as they finish.
	Live *checkers.Live
	// Found is checkers.Config.Found: called with a violation as found,
	// its case's trace written, before the replays that minimize it (each
	// a child process or two, so a budget-bound worker is often stopped
	// among them).
	Found func(checkers.Violation)
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
	if c.ChildTimeout == 0 {
		c.ChildTimeout = ChildTimeoutDefault
	}
	if c.TimedKills == 0 {
		c.TimedKills = TimedKillsDefault
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
	if c.Cases < 0 || c.OpsMean < 1 || c.SyncPercent < 0 || c.SyncPercent > 100 || c.Keys < 1 || c.ChildTimeout < 0 || c.TimedKills < 1 {
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

// killCase is one run of a child: its ops, where it is killed and, for a
// kill inside a call, after what delay.
type killCase struct {
	steps []step
	point KillPoint
	after time.Duration
}

// badTrace is an error in a kill-mode trace, naming the attribute or op.
func badTrace(format string, args ...any) error {
	return fmt.Errorf("crash: %s: %w", fmt.Sprintf(format, args...), checkers.ErrBadTrace)
}

func attr(tr workloads.Trace, key string) (string, bool) { return tr.Header.Attr(key) }

// parseKillTrace reads a kill-mode trace: its ops, syncs and kill point.
// Every inconsistency is an error wrapping checkers.ErrBadTrace.
func parseKillTrace(tr workloads.Trace) (killCase, error) {
	var kc killCase
	syncs, err := parseSyncs(tr)
	if err != nil {
		return kc, err
	}
	for i, op := range tr.Ops {
		if op.Kind == workloads.OpDirtyReboot {
			if i != len(tr.Ops)-1 {
				return kc, badTrace("op %d: dirty-reboot: a kill-mode trace has at most one, as its last op (the kill)", i)
			}
			kc.point = KillPoint{Phase: PhaseBoundary}
			break
		}
		kc.steps = append(kc.steps, step{op: op, sync: syncs[i]})
	}
	if v, ok := attr(tr, KillAttr); ok {
		p, err := ParseKillPoint(v)
		if err != nil {
			return kc, badTrace("trace attribute %s=%q: %v", KillAttr, v, err)
		}
		last := len(kc.steps) - 1
		switch {
		case p.Phase == PhaseBoundary && kc.point.Phase != PhaseBoundary:
			return kc, badTrace("trace attribute %s=%q: the trace does not end with the dirty-reboot op that kill is", KillAttr, v)
		case p.Phase != PhaseBoundary && kc.point.Phase == PhaseBoundary:
			return kc, badTrace("trace attribute %s=%q: the trace ends with dirty-reboot, a kill between ops; drop one of them", KillAttr, v)
		case (p.Phase == PhaseOp || p.Phase == PhaseSync) && p.Op != last:
			return kc, badTrace("trace attribute %s=%q: op %d is not the trace's last op (%d): the kill ends the case", KillAttr, v, p.Op, last)
		case p.Phase == PhaseSync && !syncs[p.Op]:
			return kc, badTrace("trace attribute %s=%q: %s= has no sync after op %d", KillAttr, v, SyncsAttr, p.Op)
		}
		kc.point = p
	}
	if v, ok := attr(tr, killAfterAttr); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return kc, badTrace("trace attribute %s=%q: not a duration", killAfterAttr, v)
		}
		kc.after = d
	}
	return kc, nil
}

func parseSyncs(tr workloads.Trace) (map[int]bool, error) {
	syncs := map[int]bool{}
	v, ok := attr(tr, SyncsAttr)
	if !ok || v == "" {
		return syncs, nil
	}
	for _, s := range strings.Split(v, ",") {
		i, err := strconv.Atoi(s)
		if err != nil || i < 0 || i >= len(tr.Ops) {
			return nil, badTrace("trace attribute %s=%q: %q is not an op index (0 to %d)", SyncsAttr, v, s, len(tr.Ops)-1)
		}
		syncs[i] = true
	}
	return syncs, nil
}

// writeKillTrace writes kc as a trace with header h.
func writeKillTrace(path string, h workloads.Header, kc killCase) error {
	var ops []workloads.Op
	var syncs []string
	for i, s := range kc.steps {
		ops = append(ops, s.op)
		if s.sync {
			syncs = append(syncs, strconv.Itoa(i))
		}
	}
	if kc.point.Phase == PhaseBoundary {
		ops = append(ops, workloads.Op{Kind: workloads.OpDirtyReboot})
	}
	h.Attrs = append(slices.Clone(h.Attrs), workloads.Attr{Key: SyncsAttr, Value: strings.Join(syncs, ",")})
	if kc.point.Phase != PhaseNone {
		h.Attrs = append(h.Attrs, workloads.Attr{Key: KillAttr, Value: kc.point.String()})
	}
	if kc.point.timed() && kc.after > 0 {
		h.Attrs = append(h.Attrs, workloads.Attr{Key: killAfterAttr, Value: kc.after.String()})
	}
	var b bytes.Buffer
	if err := workloads.WriteTrace(&b, h, ops); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func readTrace(path string) (workloads.Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return workloads.Trace{}, err
	}
	defer f.Close()
	tr, err := workloads.ParseTrace(f)
	if err != nil {
		return tr, fmt.Errorf("%s: %w", path, err)
	}
	return tr, nil
}

// environmental reports whether err is the machine's failing rather than
// the engine's: a full or read-only disk, an IO error, no memory or file
// descriptors. Such a failure ends a run unknown, never as a violation of
// crash consistency.
func environmental(err error) bool { return checkers.EnvironmentError(err) }

// errorLine is a child's report of an engine error at op i (-1: opening):
// "failed" for an environmental one, "error" otherwise.
func errorLine(out io.Writer, i int, what string, err error) {
	verb := "error"
	if environmental(err) {
		verb = "failed"
	}
	if what != "" {
		what += ": "
	}
	fmt.Fprintf(out, "%s %d: %s%s\n", verb, i, what, oneLine(err.Error()))
}

// KillChild is the workload side of kill mode: it opens the engine on dir,
// applies the ops of the trace in traceFile and reports on out, one line
// each: "acked I" after op I returned, "refused I" before it for a put over
// the engine's value maximum that the engine refused as it documents,
// "syncing I" and "synced I" around the Sync after op I, "closing" and
// "closed" around Close, "error I: message" for an engine error
// ("failed I: ..." for a full disk or an IO error; I is -1 for the open).
// The trace's kill point (KillAttr) decides its end: at a dirty-reboot op
// it writes "killing" and kills itself with SIGKILL; for a kill inside an
// op, a Sync or Close it kills itself kill-after into that call, waiting
// for the kill if the call returns first. Without one it closes the engine.
func KillChild(ctx context.Context, open func(dir string) (engine.Engine, error), dir, traceFile string, out io.Writer) error {
	tr, err := readTrace(traceFile)
	if err != nil {
		return err
	}
	kc, err := parseKillTrace(tr)
	if err != nil {
		return err
	}
	if coverageRun() {
		// The parent's kill comes as SIGUSR1 (killChild): the counters
		// first, then SIGKILL. Installed before the first line the parent
		// reads, so no SIGUSR1 finds its default action (exit).
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
		go func() { <-sig; killSelf() }()
	}
	e, err := open(dir)
	if err != nil {
		errorLine(out, -1, "open", err)
		return err
	}
	armed := false
	arm := func() {
		armed = true
		time.AfterFunc(kc.after, killSelf)
	}
	valueMax := engine.LimitsOf(e).ValueMax
	var buf []byte
	for i, s := range kc.steps {
		if kc.point == (KillPoint{Phase: PhaseOp, Op: i}) {
			arm()
		}
		op := s.op
		if (op.Kind == workloads.OpPut || op.Kind == workloads.OpInsert) && op.Size > valueMax {
			// The engine must refuse it by its length: an unfilled buffer
			// costs no time even for a value of a GiB.
			err = e.Put(ctx, op.Key, make([]byte, op.Size))
			if errors.Is(err, engine.ErrInvalidArgument) {
				fmt.Fprintf(out, "refused %d\n", i)
				err = nil
			}
		} else {
			if op.Kind.Writes() && cap(buf) < op.Size {
				buf = make([]byte, op.Size)
			}
			_, err = workloads.Apply(ctx, e, op, buf)
		}
		if err != nil && !errors.Is(err, workloads.ErrCheckerOp) && !errors.Is(err, errors.ErrUnsupported) {
			errorLine(out, i, "", err)
			return err
		}
		fmt.Fprintf(out, "acked %d\n", i)
		if s.sync {
			if kc.point == (KillPoint{Phase: PhaseSync, Op: i}) {
				arm()
			}
			fmt.Fprintf(out, "syncing %d\n", i)
			if err := e.Sync(ctx); err != nil {
				errorLine(out, i, "sync", err)
				return err
			}
			fmt.Fprintf(out, "synced %d\n", i)
		}
		if armed {
			waitForKill()
		}
	}
	switch kc.point.Phase {
	case PhaseBoundary:
		fmt.Fprintln(out, "killing")
		killSelf()
		waitForKill()
	case PhaseClose:
		arm()
	}
	fmt.Fprintln(out, "closing")
	if err := e.Close(); err != nil {
		errorLine(out, len(kc.steps), "close", err)
		return err
	}
	fmt.Fprintln(out, "closed")
	if armed {
		waitForKill()
	}
	return nil
}

// coverageRun reports whether this is a run of a harness built with -cover
// that collects its counters (harness coverage --code sets GOCOVERDIR).
func coverageRun() bool { return os.Getenv("GOCOVERDIR") != "" }

// killChild kills a workload child at its kill point. In a coverage run it
// asks the child to kill itself (SIGUSR1: KillChild writes its counters,
// then SIGKILLs itself), so the workload's code counts; a few milliseconds
// later than a SIGKILL, which moves the kill point, not what is checked.
func killChild(cmd *exec.Cmd) {
	if coverageRun() {
		cmd.Process.Signal(syscall.SIGUSR1)
		return
	}
	cmd.Process.Kill()
}

// killSelf kills the child with SIGKILL. A harness built with -cover
// (harness coverage --code) first writes its coverage counters, which a
// killed process never would: the workload the kill interrupts counts, as
// does the recovery the next child runs (it exits normally).
func killSelf() {
	if dir := os.Getenv("GOCOVERDIR"); dir != "" {
		// An error: a binary built without -cover, or without
		// -covermode=atomic, which writing while running needs.
		_ = coverage.WriteCountersDir(dir)
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// waitForKill blocks until the pending SIGKILL lands. It sleeps rather
// than blocks forever, which the runtime could take for a deadlock.
func waitForKill() {
	for {
		time.Sleep(time.Hour)
	}
}

// VerifyChild is the verification side of kill mode: it opens the engine
// on dir after a kill, reads every key the trace in traceFile writes, lists
// the keys and closes the engine, reporting on out, one line each:
//
//	caps [lister] [maintainer]
//	limits KEYMAX VALUEMAX
//	get "key" absent
//	get "key" value SIZE DIGEST "first 32 bytes"
//	get "key" error|failed: message
//	listed "key"                      (each key List gives, then)
//	list done | list error|failed: message
//	closed | close error: message
//	done
//
// An open that fails writes "open error|failed: message" and returns
// ("failed" marks a full disk or an IO error). With a trace of no ops it
// only probes the engine's capabilities and limits.
func VerifyChild(ctx context.Context, open func(dir string) (engine.Engine, error), dir, traceFile string, out io.Writer) error {
	tr, err := readTrace(traceFile)
	if err != nil {
		return err
	}
	class := func(err error) string {
		if environmental(err) {
			return "failed"
		}
		return "error"
	}
	e, err := open(dir)
	if err != nil {
		fmt.Fprintf(out, "open %s: %s\n", class(err), oneLine(err.Error()))
		return err
	}
	caps := "caps"
	l, lister := e.(engine.Lister)
	if lister {
		caps += " lister"
	}
	if _, ok := e.(engine.Maintainer); ok {
		caps += " maintainer"
	}
	fmt.Fprintln(out, caps)
	lim := engine.LimitsOf(e)
	fmt.Fprintf(out, "limits %d %d\n", lim.KeyMax, lim.ValueMax)
	for _, key := range writtenKeys(tr.Ops) {
		got, err := e.Get(ctx, []byte(key))
		switch {
		case errors.Is(err, engine.ErrNotFound):
			fmt.Fprintf(out, "get %s absent\n", strconv.QuoteToASCII(key))
		case err != nil:
			fmt.Fprintf(out, "get %s %s: %s\n", strconv.QuoteToASCII(key), class(err), oneLine(err.Error()))
		default:
			fmt.Fprintf(out, "get %s value %d %016x %s\n", strconv.QuoteToASCII(key), len(got), workloads.ValueDigest(got), strconv.QuoteToASCII(string(got[:min(len(got), 32)])))
		}
	}
	if lister {
		err := l.List(ctx, nil, nil, func(k []byte) bool {
			fmt.Fprintf(out, "listed %s\n", strconv.QuoteToASCII(string(k)))
			return true
		})
		if err != nil {
			fmt.Fprintf(out, "list %s: %s\n", class(err), oneLine(err.Error()))
		} else {
			fmt.Fprintln(out, "list done")
		}
	}
	if err := e.Close(); err != nil {
		fmt.Fprintf(out, "close error: %s\n", oneLine(err.Error()))
	} else {
		fmt.Fprintln(out, "closed")
	}
	fmt.Fprintln(out, "done")
	return nil
}

// writtenKeys returns the keys ops write or delete, sorted.
func writtenKeys(ops []workloads.Op) []string {
	set := map[string]bool{}
	for _, op := range ops {
		if op.Kind.Writes() || op.Kind == workloads.OpDelete {
			set[string(op.Key)] = true
		}
	}
	return slices.Sorted(func(yield func(string) bool) {
		for k := range set {
			if !yield(k) {
				return
			}
		}
	})
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// ChildEnv is the environment variable that makes a test binary a
// kill-mode child (see TestChild and ChildMain).
const ChildEnv = "GAUNTLET_KILL_CHILD"

// TestChild returns a ChildFunc that re-executes the running test binary
// as a child for the engine spec; the test's TestMain must call ChildMain
// first.
func TestChild(spec string) ChildFunc {
	return func(role Role, dir, traceFile string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), ChildEnv+"="+spec, ChildEnv+"_ROLE="+string(role), ChildEnv+"_DIR="+dir, ChildEnv+"_TRACE="+traceFile)
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
	run := KillChild
	if Role(os.Getenv(ChildEnv+"_ROLE")) == RoleVerify {
		run = VerifyChild
	}
	if err := run(context.Background(), open, os.Getenv(ChildEnv+"_DIR"), os.Getenv(ChildEnv+"_TRACE"), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3, true
	}
	return 0, true
}

// procEnd is how a child process ended.
type procEnd struct {
	err      error // Wait's
	timedOut bool  // the parent killed it at ChildTimeout
	stderr   string
}

// describe says in one line how a process that did not finish its work
// ended: its status and the line of its output that says why (a Go panic
// or fatal error with the signal, else the last line).
func (p procEnd) describe(what string, timeout time.Duration) string {
	if p.timedOut {
		return fmt.Sprintf("%s did not finish within %s (the engine hung)", what, timeout)
	}
	status := "exited"
	if p.err != nil {
		status = p.err.Error() // "exit status 2", "signal: bus error"
	}
	return fmt.Sprintf("%s ended (%s): %s", what, status, why(p.stderr))
}

// logStamp is the date and time the standard logger puts first.
var logStamp = regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)? `)

// why picks the line of a dead process's stderr that says what killed it.
func why(stderr string) string {
	var first, signal string
	var last string
	for _, l := range strings.Split(stderr, "\n") {
		l = logStamp.ReplaceAllString(strings.TrimSpace(l), "")
		if l == "" {
			continue
		}
		last = l
		switch {
		case first == "" && (strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ")):
			first = l
		case signal == "" && strings.HasPrefix(l, "[signal "):
			signal = l
		}
	}
	switch {
	case first != "" && signal != "":
		return first + " " + signal
	case first != "":
		return first
	case last != "":
		return last
	}
	return "no output"
}

// headTail keeps the first and the last outputMax bytes written to it: a
// Go crash says why in its first lines, before a goroutine dump of any
// length.
type headTail struct {
	mu         sync.Mutex
	head, tail []byte
	cut        bool // bytes were dropped between head and tail
}

const outputMax = 8 << 10

func (t *headTail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(b)
	if room := outputMax - len(t.head); room > 0 {
		k := min(room, len(b))
		t.head = append(t.head, b[:k]...)
		b = b[k:]
	}
	t.tail = append(t.tail, b...)
	if len(t.tail) > outputMax {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-outputMax:]...)
		t.cut = true
	}
	return n, nil
}

func (t *headTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	sep := ""
	if t.cut {
		sep = "\n...\n"
	}
	return string(t.head) + sep + string(t.tail)
}

// runProc runs cmd for at most timeout, passing each line of its stdout to
// line, and returns how it ended. An error means it could not start.
func runProc(cmd *exec.Cmd, timeout time.Duration, line func(string)) (procEnd, error) {
	var stderr headTail
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return procEnd{}, err
	}
	if err := cmd.Start(); err != nil {
		return procEnd{}, fmt.Errorf("crash: start child: %w", err)
	}
	var mu sync.Mutex
	timedOut := false
	timer := time.AfterFunc(timeout, func() {
		mu.Lock()
		timedOut = true
		mu.Unlock()
		cmd.Process.Kill()
	})
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line(sc.Text())
	}
	werr := cmd.Wait()
	timer.Stop()
	mu.Lock()
	defer mu.Unlock()
	return procEnd{err: werr, timedOut: timedOut, stderr: stderr.String()}, nil
}

// kill is a kill-mode run in progress.
type kill struct {
	c    KillConfig
	ctx  context.Context
	tmp  string
	runs int
	// From the probe: the engine's capabilities and value maximum.
	lister, maintainer bool
	valueMax           int
}

// killRun is what one workload child did.
type killRun struct {
	acked   int          // index of the last acknowledged op, -1 if none
	synced  []int        // ops after which a Sync completed
	refused map[int]bool // over-limit puts the engine refused
	closed  bool         // the child closed the engine
	killed  bool         // the parent killed it, or it killed itself
	point   KillPoint    // where a kill landed
	errOp   int          // op whose engine call failed, -1 if none
	errMsg  string
	// failed is an environmental engine failure (a full disk), died how
	// the child ended if it neither finished nor was killed: either ends
	// the case unknown.
	failed string
	died   string
	// dir is the engine's directory, trace the case's trace file.
	dir, trace string
}

// runChild runs kc in a workload child on a fresh directory; killAt >= 0
// makes the parent kill it a delay after it acknowledges op killAt. An
// error is the harness's own failure (a full disk for the case's files).
func (k *kill) runChild(kc killCase, killAt int, delay time.Duration) (killRun, error) {
	k.runs++
	caseDir := filepath.Join(k.tmp, strconv.Itoa(k.runs))
	r := killRun{acked: -1, errOp: -1, refused: map[int]bool{}, dir: filepath.Join(caseDir, "db"), trace: filepath.Join(caseDir, "case.trace")}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return r, fmt.Errorf("make the case directory: %w", err)
	}
	if err := writeKillTrace(r.trace, workloads.Header{Seed: k.c.Seed, Workload: "kill"}, kc); err != nil {
		return r, fmt.Errorf("write the case trace: %w", err)
	}
	cmd := k.c.Child(RoleWorkload, r.dir, r.trace)
	last := ""
	end, err := runProc(cmd, k.c.ChildTimeout, func(l string) {
		verb, arg, _ := strings.Cut(l, " ")
		switch verb {
		case "acked":
			r.acked, _ = strconv.Atoi(arg)
			if r.acked == killAt && !r.killed {
				if delay > 0 {
					time.Sleep(delay)
				}
				killChild(cmd)
				r.killed = true
			}
		case "refused":
			i, _ := strconv.Atoi(arg)
			r.refused[i] = true
		case "synced":
			i, _ := strconv.Atoi(arg)
			r.synced = append(r.synced, i)
		case "closed":
			r.closed = true
		case "killing":
			r.killed = true
		case "error", "failed":
			idx, msg, _ := strings.Cut(arg, ": ")
			if verb == "failed" {
				r.failed = msg
			}
			r.errOp, _ = strconv.Atoi(idx)
			r.errMsg = msg
		}
		if verb != "refused" {
			last = l
		}
	})
	if err != nil {
		return r, err
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if kc.point.Phase != PhaseNone && !end.timedOut && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		r.killed = true // it killed itself where the trace said
	}
	switch {
	case r.errOp != -1 || r.closed && !r.killed:
	case r.killed && !end.timedOut:
		r.point = pointOf(last, kc.steps)
	default:
		r.died = end.describe("the workload process", k.c.ChildTimeout)
	}
	return r, nil
}

// pointOf says where a kill landed from the last line the child wrote
// before it: the child writes each line before the call it announces.
func pointOf(last string, steps []step) KillPoint {
	verb, arg, _ := strings.Cut(last, " ")
	i, _ := strconv.Atoi(arg)
	next := func(i int) KillPoint { // op i done: the next call
		if i+1 < len(steps) {
			return KillPoint{Phase: PhaseOp, Op: i + 1}
		}
		return KillPoint{Phase: PhaseClose}
	}
	switch verb {
	case "acked":
		if steps[i].sync {
			return KillPoint{Phase: PhaseSync, Op: i}
		}
		return next(i)
	case "syncing":
		return KillPoint{Phase: PhaseSync, Op: i}
	case "synced":
		return next(i)
	case "closing":
		return KillPoint{Phase: PhaseClose}
	case "killing":
		return KillPoint{Phase: PhaseBoundary}
	case "closed":
		return KillPoint{}
	}
	return KillPoint{Phase: PhaseOp, Op: 0}
}

// verifyRun is what a verification child saw.
type verifyRun struct {
	lister, maintainer bool
	valueMax           int
	open               string // the open's error ("" if it opened)
	openEnv            bool
	gets               []observed
	listed             []string
	list               string // "done", or the list's error
	listEnv            bool
	done               bool
	end                string // how the child ended, if not done
	hung               bool   // killed at its timeout
}

// observed is one key as the verification child read it.
type observed struct {
	key     string
	present bool
	size    int
	digest  uint64
	prefix  string
	err     string
	env     bool
}

// runVerify runs a verification child on dir for the trace in traceFile.
func (k *kill) runVerify(dir, traceFile string, timeout time.Duration) (verifyRun, error) {
	var v verifyRun
	cmd := k.c.Child(RoleVerify, dir, traceFile)
	end, err := runProc(cmd, timeout, func(l string) {
		verb, rest, _ := strings.Cut(l, " ")
		switch verb {
		case "caps":
			v.lister = strings.Contains(rest, "lister")
			v.maintainer = strings.Contains(rest, "maintainer")
		case "limits":
			f := strings.Fields(rest)
			if len(f) == 2 {
				v.valueMax, _ = strconv.Atoi(f[1])
			}
		case "open":
			class, msg, _ := strings.Cut(rest, ": ")
			v.open, v.openEnv = msg, class == "failed"
		case "get":
			if o, ok := parseObserved(rest); ok {
				v.gets = append(v.gets, o)
			}
		case "listed":
			if key, err := strconv.Unquote(rest); err == nil {
				v.listed = append(v.listed, key)
			}
		case "list":
			class, msg, _ := strings.Cut(rest, ": ")
			if class == "done" {
				v.list = "done"
			} else {
				v.list, v.listEnv = msg, class == "failed"
			}
		case "done":
			v.done = true
		}
	})
	if err != nil {
		return v, err
	}
	if !v.done && v.open == "" {
		v.hung = end.timedOut
		v.end = end.describe("the verification process (reopen, reads and close after the kill)", timeout)
	}
	return v, nil
}

// parseObserved parses the rest of a "get" line.
func parseObserved(s string) (observed, bool) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return observed{}, false
	}
	key, _ := strconv.Unquote(q)
	o := observed{key: key}
	verb, rest, _ := strings.Cut(strings.TrimPrefix(s[len(q):], " "), " ")
	switch {
	case verb == "absent":
	case verb == "value":
		f := strings.SplitN(rest, " ", 3)
		if len(f) != 3 {
			return o, false
		}
		o.present = true
		o.size, _ = strconv.Atoi(f[0])
		o.digest, _ = strconv.ParseUint(f[1], 16, 64)
		o.prefix, _ = strconv.Unquote(f[2])
	default: // "error: message" or "failed: message"
		class, msg, _ := strings.Cut(verb+" "+rest, ": ")
		o.err, o.env = msg, class == "failed"
	}
	return o, true
}

// probe learns the engine's capabilities and value maximum in a
// verification child on a fresh directory.
func (k *kill) probe() (why string, engineFault bool) {
	dir := filepath.Join(k.tmp, "probe")
	trace := filepath.Join(k.tmp, "probe.trace")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Sprintf("probe: %v", err), false
	}
	if err := writeKillTrace(trace, workloads.Header{Seed: k.c.Seed, Workload: "kill"}, killCase{}); err != nil {
		return fmt.Sprintf("probe: write its trace: %v", err), false
	}
	// A new engine opens in seconds, even a child's on a loaded machine;
	// one that has not within ProbeTimeout hangs.
	v, err := k.runVerify(dir, trace, min(k.c.ChildTimeout, ProbeTimeout))
	switch {
	case err != nil:
		return fmt.Sprintf("probe: %v", err), false
	case v.open != "":
		// An engine error opening a new directory is the engine's fault
		// (checkers.OpenFailed); the machine's is not.
		return fmt.Sprintf("probe: open engine %s: %s", k.c.Target.Name, strings.ReplaceAll(v.open, dir, "$DIR")), !v.openEnv
	case !v.done && v.hung:
		return fmt.Sprintf("probe: open engine %s: the probe process did not finish within %s: %v", k.c.Target.Name, min(k.c.ChildTimeout, ProbeTimeout), checkers.ErrEngineHang), true
	case !v.done:
		return "probe: " + v.end, false
	}
	k.lister, k.maintainer, k.valueMax = v.lister, v.maintainer, v.valueMax
	os.RemoveAll(dir)
	return "", false
}

type failure struct {
	opIndex          int
	summary          string
	expected, actual string
}

// outcome is a checked case: a violation, an unknown (the engine or the
// machine failed in a way that is not a violation), or neither.
type outcome struct {
	f       *failure
	unknown string
}

// check verifies r's directory after run r of steps, in a verification
// child: every key must hold a version the model allows.
func (k *kill) check(steps []step, r killRun) (outcome, error) {
	norm := func(s string) string { return strings.ReplaceAll(s, r.dir, "$DIR") }
	switch {
	case r.failed != "" && r.errOp < 0:
		return outcome{unknown: "the engine failed in the workload process: " + norm(r.failed)}, nil
	case r.failed != "":
		return outcome{unknown: fmt.Sprintf("the engine failed in the workload process at op %d: %s", r.errOp, norm(r.failed))}, nil
	case r.died != "":
		return outcome{unknown: norm(r.died)}, nil
	case r.errOp >= 0:
		return outcome{f: &failure{opIndex: max(r.errOp, 0), summary: fmt.Sprintf("the engine failed in the child: %s", norm(r.errMsg))}}, nil
	}
	m := model.New()
	synced := map[int]bool{}
	for _, i := range r.synced {
		synced[i] = true
	}
	apply := func(i int) *failure {
		op := steps[i].op
		switch {
		case op.Kind.Writes() && r.refused[i]:
		case op.Kind.Writes():
			if _, err := m.PutDep(op.Key, op.Value(nil)); err != nil {
				// Only a value over the engine's documented maximum gets
				// here (the model holds any other): the engine took it.
				return &failure{opIndex: i, summary: fmt.Sprintf("%s: a value over the engine's maximum of %d bytes was accepted, want engine.ErrInvalidArgument", op, k.valueMax)}
			}
		case op.Kind == workloads.OpDelete:
			m.DeleteDep(op.Key)
		}
		return nil
	}
	for i := 0; i <= r.acked; i++ {
		if f := apply(i); f != nil {
			return outcome{f: f}, nil
		}
		if synced[i] {
			m.Sync(k.ctx)
		}
	}
	if r.closed {
		m.Sync(k.ctx)
	} else if r.point.Phase == PhaseOp && r.point.Op < len(steps) {
		// In flight when the kill landed: maybe applied. It was not
		// acknowledged, so a put over the maximum (which the model
		// refuses) is of no interest.
		apply(r.point.Op)
	}
	at := r.acked + 1
	v, err := k.runVerify(r.dir, r.trace, k.c.ChildTimeout)
	if err != nil {
		return outcome{}, err
	}
	if v.open != "" {
		if v.openEnv {
			return outcome{unknown: "reopen after the kill: " + norm(v.open)}, nil
		}
		return outcome{f: &failure{opIndex: at, summary: "reopen after the kill: " + norm(v.open)}}, nil
	}
	allowed := m.Crash()
	var present []string
	for _, o := range v.gets {
		if o.err != "" {
			if o.env {
				return outcome{unknown: fmt.Sprintf("after the kill: get %q: %s", o.key, norm(o.err))}, nil
			}
			return outcome{f: &failure{opIndex: at, summary: fmt.Sprintf("after the kill: get %q: %s", o.key, norm(o.err))}}, nil
		}
		got, shown, written := version(o, steps)
		if !written || !m.Allowed([]byte(o.key), got) {
			want := allowed[o.key]
			if len(want) == 0 {
				want = []model.Version{{}}
			}
			return outcome{f: &failure{opIndex: at, summary: fmt.Sprintf("after the kill: get %q = %s, want one of %v (the first is the last synced version)", o.key, shown, want),
				expected: fmt.Sprint(want), actual: shown}}, nil
		}
		if o.present {
			present = append(present, o.key)
		}
	}
	switch {
	case v.lister && v.list == "done" && !slices.Equal(v.listed, present) && len(v.gets) == len(writtenKeys(opsOf(steps))):
		return outcome{f: &failure{opIndex: at, summary: fmt.Sprintf("after the kill: list = %q, but gets found %q", v.listed, present)}}, nil
	case v.lister && v.list != "" && v.list != "done" && !v.listEnv:
		return outcome{f: &failure{opIndex: at, summary: fmt.Sprintf("after the kill: list: %s", norm(v.list))}}, nil
	case v.lister && v.listEnv:
		return outcome{unknown: fmt.Sprintf("after the kill: list: %s", norm(v.list))}, nil
	case !v.done:
		return outcome{unknown: norm(v.end)}, nil
	}
	return outcome{}, nil
}

// version turns what the verification child read into a model version,
// and how to show it. A value is identified by the write of the case whose
// size and digest it has; written is false for one that matches no write
// to the key, which no crash can allow.
func version(o observed, steps []step) (v model.Version, shown string, written bool) {
	if !o.present {
		return v, v.String(), true
	}
	for _, s := range steps {
		op := s.op
		if op.Kind.Writes() && string(op.Key) == o.key && op.Size == o.size && workloads.SeedDigest(op.Size, op.Seed) == o.digest {
			v = model.Version{Present: true, Value: op.Value(nil)}
			return v, v.String(), true
		}
	}
	shown = fmt.Sprintf("%q", o.prefix)
	if o.size > len(o.prefix) {
		shown = fmt.Sprintf("%q...(%d bytes)", o.prefix, o.size)
	}
	return v, shown + " (not a value written to the key)", false
}

func opsOf(steps []step) []workloads.Op {
	ops := make([]workloads.Op, len(steps))
	for i, s := range steps {
		ops[i] = s.op
	}
	return ops
}

// replay runs kc once, killing the child where kc says, and checks.
func (k *kill) replay(kc killCase) (outcome, error) {
	r, err := k.runChild(kc, -1, 0)
	if err != nil {
		return outcome{}, err
	}
	defer os.RemoveAll(filepath.Dir(r.dir))
	return k.check(kc.steps, r)
}

// timedKill is the delay of attempt j of a timed kill: 0, then 10 µs
// doubling, so a dozen attempts cover a call of up to about 10 ms.
func timedKill(j int) time.Duration {
	if j == 0 {
		return 0
	}
	return 10 * time.Microsecond << (j - 1)
}

// timed replays kc with its kill timed inside the call its point names, up
// to TimedKills times, until a violation (or an unknown) shows. It returns
// the attempt that showed it, or -1.
func (k *kill) timed(ctx context.Context, kc killCase) (outcome, int, error) {
	for j := range k.c.TimedKills {
		if ctx.Err() != nil {
			break
		}
		kc.after = timedKill(j)
		o, err := k.replay(kc)
		if err != nil || o.unknown != "" || o.f != nil {
			return o, j, err
		}
	}
	return outcome{}, -1, nil
}

// generate draws case i's steps, kill point and delay.
func (k *kill) generate(i int) ([]step, int, time.Duration, error) {
	rng := rand.New(rand.NewPCG(checkers.StreamSeed(Name, ModeKill, k.c.Seed), uint64(i)))
	w := map[workloads.OpKind]int{workloads.OpGet: 20, workloads.OpPut: 45, workloads.OpDelete: 12}
	if k.lister {
		w[workloads.OpList] = 4
	}
	if k.maintainer {
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

// start makes the run's temporary directory and returns its removal.
func (k *kill) start() (func(), error) {
	tmp, err := os.MkdirTemp(k.c.Target.WorkDir, "gauntlet-kill-")
	if err != nil {
		return nil, err
	}
	k.tmp = tmp
	return func() { os.RemoveAll(tmp) }, nil
}

// RunKill runs kill mode: each case runs a workload child, kills it at a
// seeded moment, and checks the directory in a verification child. A
// violation is minimized with DDMin over deterministic replays (the kill
// at an op boundary); one whose kill landed inside a call and that no
// boundary kill reproduces is replayed with kills timed inside that call,
// and reported unminimized, or as not reproduced. An engine that fails for
// reasons of the machine (a full disk), dies or hangs in a child ends the
// run unknown, the Result keeping the cases done.
func RunKill(ctx context.Context, c KillConfig) (checkers.Result, error) {
	c.ensureDefaults()
	res := checkers.Result{Checker: Name, Engine: c.Target.Name, Seed: c.Seed, Verdict: checkers.Pass}
	if err := c.validate(); err != nil {
		return res, err
	}
	start := time.Now()
	// ctx stops the run between cases; a case's children and checks run
	// under a context the stop does not cancel, so a Ctrl-C never fails
	// them into a false violation.
	k := &kill{c: c, ctx: context.WithoutCancel(ctx)}
	unknown := func(reason string) {
		res.Verdict, res.Reason = checkers.Unknown, reason
	}
	cleanup, err := k.start()
	if err != nil { // a full disk, as often as not
		unknown(fmt.Sprintf("make the work directory: %v", err))
		return res, nil
	}
	defer cleanup()
	var interrupt error
	if why, engineFault := k.probe(); engineFault {
		// A new engine that does not open is the engine's failure.
		r, _ := checkers.OpenFailed(Name, c.Target.Name, c.Seed, errors.New(why))
		r.Elapsed = time.Since(start)
		return r, nil
	} else if why != "" {
		unknown(why)
	}
	for i := 0; i < c.Cases && res.Verdict == checkers.Pass; i++ {
		if ctx.Err() != nil {
			interrupt = context.Cause(ctx)
			break
		}
		if c.Budget > 0 && time.Since(start) > c.Budget {
			break
		}
		caseName := fmt.Sprintf("case %d", i+1)
		steps, killAt, delay, err := k.generate(i)
		if err != nil {
			return res, err
		}
		r, err := k.runChild(killCase{steps: steps}, killAt, delay)
		if err != nil {
			unknown(fmt.Sprintf("%s: %v", caseName, err))
			break
		}
		o, err := k.check(steps, r)
		os.RemoveAll(filepath.Dir(r.dir))
		switch {
		case err != nil:
			unknown(fmt.Sprintf("%s: %v", caseName, err))
		case o.unknown != "":
			unknown(fmt.Sprintf("%s: %s", caseName, o.unknown))
		case o.f == nil:
			res.Cases++
			res.Ops += int64(r.acked + 1)
			c.Live.Add(1, int64(r.acked+1))
		default:
			res.Cases++
			res.Ops += int64(r.acked + 1)
			if res.Detected == 0 {
				res.Detected = time.Since(start)
			}
			// Counted live after the violation's Found, which counts
			// the failing case itself.
			v, why, err := k.violation(ctx, steps, r, o.f)
			c.Live.Add(1, int64(r.acked+1))
			switch {
			case err != nil:
				unknown(fmt.Sprintf("%s: a violation (%s), then: %v", caseName, o.f.summary, err))
			case why != "":
				unknown(fmt.Sprintf("%s: a violation (%s), then while replaying it: %s", caseName, o.f.summary, why))
			default:
				res.Verdict = checkers.Fail
				res.Violations = append(res.Violations, v)
			}
		}
	}
	res.Elapsed = time.Since(start)
	res.End(int64(c.Cases), c.Budget, interrupt)
	if c.Log != nil {
		c.Log("crash kill: %d cases, %d ops, %d child runs, %s", res.Cases, res.Ops, k.runs, res.Elapsed.Round(time.Millisecond))
	}
	return res, nil
}

// violation replays a failing case to minimize it and writes its trace. A
// non-empty string is an unknown: the engine failed while replaying.
func (k *kill) violation(ctx context.Context, steps []step, r killRun, f *failure) (checkers.Violation, string, error) {
	// The failing prefix: every acknowledged op and the call the kill
	// landed in. The deterministic replay kills the child at the op
	// boundary after it (or closes, if the child had closed).
	prefix := steps
	switch r.point.Phase {
	case PhaseOp, PhaseSync:
		prefix = steps[:r.point.Op+1]
	}
	boundary := KillPoint{Phase: PhaseBoundary}
	if r.closed { // Close returned before any kill: replay the clean close
		boundary = KillPoint{}
	}
	v := checkers.Violation{Summary: f.summary, Expected: f.expected, Actual: f.actual, OriginalOps: len(prefix) + 1}
	if k.c.Found != nil {
		found := killCase{steps: prefix, point: boundary}
		if r.point.timed() && !r.closed {
			found.point = r.point
		}
		pv := v
		pv.NotMinimized = machine.NotMinimizedStopped
		pv.Ops, pv.OpIndex = killOps(found), min(f.opIndex, len(prefix))
		if err := k.writeTrace(&pv, found); err == nil {
			k.c.Found(pv)
		}
	}
	kc := killCase{steps: prefix, point: boundary}
	o, err := k.replay(kc)
	if err == nil && o.unknown == "" && o.f == nil && r.point.timed() && !r.closed {
		// A kill inside a call may leave nothing of it on the device, so
		// the boundary before the call is as true a replay as the one
		// after it, and it too is deterministic and can be minimized.
		before := killCase{steps: callNeverRan(prefix, r.point), point: boundary}
		if ob, errb := k.replay(before); errb == nil && ob.unknown == "" && ob.f != nil {
			prefix, kc, o = before.steps, before, ob
		}
	}
	switch {
	case err != nil:
		return v, "", err
	case o.unknown != "":
		return v, o.unknown, nil
	case o.f != nil:
		small := DDMin(prefix, func(s []step) bool {
			o, err := k.replay(killCase{steps: s, point: boundary})
			return err == nil && o.unknown == "" && o.f != nil
		}, k.c.DDMinRuns)
		kc.steps = small
		o, err := k.replay(kc)
		if err != nil {
			return v, "", err
		}
		if o.f != nil {
			f = o.f
			v.Summary, v.Expected, v.Actual = f.summary, f.expected, f.actual
		}
	case r.point.timed():
		kc.point = r.point
		o, j, err := k.timed(ctx, kc)
		switch {
		case err != nil:
			return v, "", err
		case o.unknown != "":
			return v, o.unknown, nil
		case o.f != nil:
			v.NotMinimized = fmt.Sprintf("the kill landed %s, and only a kill timed there reproduced it (attempt %d, %s into the call)", r.point.inside(), j+1, timedKill(j))
		default:
			v.NotReproduced = fmt.Sprintf("the kill landed %s; neither a kill between ops nor %d kills timed there reproduced it", r.point.inside(), k.c.TimedKills)
		}
	default:
		kc.point = r.point
		v.NotReproduced = "a rerun of the case found nothing: the engine is not deterministic"
	}
	v.Ops = killOps(kc)
	v.OpIndex = min(f.opIndex, len(v.Ops)-1)
	if err := k.writeTrace(&v, kc); err != nil {
		return v, "", err
	}
	return v, "", nil
}

// writeTrace writes kc as the run's trace file and names it in v.
func (k *kill) writeTrace(v *checkers.Violation, kc killCase) error {
	if err := os.MkdirAll(k.c.OutDir, 0o755); err != nil {
		return err
	}
	name := filepath.Join(k.c.OutDir, checkers.FileStem(Name, "kill", k.c.Target.Name, k.c.Seed)+".trace")
	h := workloads.Header{Seed: k.c.Seed, Workload: "kill", Attrs: []workloads.Attr{
		{Key: "checker", Value: Name}, {Key: "engine", Value: k.c.Target.Name}, {Key: "mode", Value: "kill"}}}
	kc.after = 0 // a replay chooses its own delays
	if err := writeKillTrace(name, h, kc); err != nil {
		return fmt.Errorf("crash: write trace: %w", err)
	}
	v.TraceFile, v.Replay = name, k.c.Replay(name)
	return nil
}

// killOps renders kc's ops for a Violation, with its syncs and its end.
func killOps(kc killCase) []string {
	var ops []string
	for _, s := range kc.steps {
		line := s.op.String()
		if s.sync {
			line += "  # then sync"
		}
		ops = append(ops, line)
	}
	switch kc.point.Phase {
	case PhaseBoundary:
		ops = append(ops, workloads.Op{Kind: workloads.OpDirtyReboot}.String()+"  # kill -9")
	case PhaseNone:
		ops = append(ops, "# close, reopen and check every key")
	default:
		ops = append(ops, "# kill -9 "+kc.point.inside())
	}
	return ops
}

// ReplayKill runs a kill-mode trace: the child applies its ops, syncing
// where the trace says, and is killed where the trace's kill point says:
// exactly at a dirty-reboot op, or by kills timed inside the op, Sync or
// Close it names (up to TimedKills). The parent checks as RunKill does. A
// replay that shows no violation says so in the Reason: a pass for a
// deterministic trace, unknown for a timed kill (timing decides). A trace
// the checker cannot run as written is an error wrapping
// checkers.ErrBadTrace.
func ReplayKill(ctx context.Context, c KillConfig, tr workloads.Trace) (checkers.Result, error) {
	c.ensureDefaults()
	res := checkers.Result{Checker: Name, Engine: c.Target.Name, Seed: tr.Header.Seed, Verdict: checkers.Pass, Cases: 1}
	if err := c.validate(); err != nil {
		return res, err
	}
	kc, err := parseKillTrace(tr)
	if err != nil {
		return res, err
	}
	start := time.Now()
	k := &kill{c: c, ctx: context.WithoutCancel(ctx)}
	defer func() { res.Elapsed = time.Since(start) }()
	cleanup, err := k.start()
	if err != nil {
		res.Verdict, res.Reason, res.Cases = checkers.Unknown, fmt.Sprintf("make the work directory: %v", err), 0
		return res, nil
	}
	defer cleanup()
	if why, engineFault := k.probe(); engineFault {
		r, _ := checkers.OpenFailed(Name, c.Target.Name, tr.Header.Seed, errors.New(why))
		return r, nil
	} else if why != "" {
		res.Verdict, res.Reason, res.Cases = checkers.Unknown, why, 0
		return res, nil
	}
	for i, s := range kc.steps {
		if s.op.Kind.Writes() && s.op.Size > model.ValueMax && s.op.Size <= k.valueMax {
			return res, badTrace("op %d (trace line %d): %s: the model holds values up to %d bytes, so the checker cannot check a larger one the engine accepts (up to %d)",
				i, lineOf(tr, i), s.op, model.ValueMax, k.valueMax)
		}
	}
	var o outcome
	attempt := -1
	if kc.point.timed() {
		o, attempt, err = k.timed(ctx, kc)
	} else {
		o, err = k.replay(kc)
	}
	if err != nil {
		res.Verdict, res.Reason, res.Cases = checkers.Unknown, err.Error(), 0
		return res, nil
	}
	res.Ops = int64(len(kc.steps))
	switch {
	case o.unknown != "":
		res.Verdict, res.Reason, res.Cases = checkers.Unknown, o.unknown, 0
	case o.f != nil:
		v := checkers.Violation{Summary: o.f.summary, Expected: o.f.expected, Actual: o.f.actual, Ops: killOps(kc), OriginalOps: len(kc.steps) + 1}
		v.OpIndex = min(o.f.opIndex, len(v.Ops)-1)
		if kc.point.timed() {
			v.NotMinimized = fmt.Sprintf("reproduced by a kill %s (attempt %d, %s into the call)", kc.point.inside(), attempt+1, timedKill(attempt))
		}
		res.Verdict = checkers.Fail
		res.Violations = append(res.Violations, v)
	case kc.point.timed() && ctx.Err() != nil:
		res.Verdict, res.Reason = checkers.Interrupted, fmt.Sprintf("stopped before the timed kills were done: %v", context.Cause(ctx))
	case kc.point.timed():
		res.Verdict = checkers.Unknown
		res.Reason = fmt.Sprintf("replay did not reproduce the violation: the kill landed %s, and %d kills timed there did not reproduce it (where a kill lands inside a call is timing: retry, or run the checker again)", kc.point.inside(), c.TimedKills)
	default:
		res.Reason = "replay did not reproduce the violation: the trace's ops pass"
	}
	return res, nil
}

// callNeverRan is the prefix a kill before the call at p leaves: without
// op p.Op for a kill inside it, without its Sync for a kill inside that.
func callNeverRan(prefix []step, p KillPoint) []step {
	if p.Phase == PhaseSync {
		s := slices.Clone(prefix)
		s[len(s)-1].sync = false
		return s
	}
	return prefix[:len(prefix)-1]
}

// lineOf is the trace line of op i.
func lineOf(tr workloads.Trace, i int) int {
	if i < len(tr.Lines) {
		return tr.Lines[i]
	}
	return 0
}
