package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/conformance"
	"github.com/gauntlet-kv/gauntlet/checkers/crash"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/checkers/target/shardtarget"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// checkDrivers is the engine table check resolves specs against; tests
// add engines with known bugs.
var checkDrivers = drivers

// deviceTarget returns a device-backed target for engines that open on a
// disk.Device (shardstore), so block-level crash checks and fault
// injection run on a disk.Mem. The spec's options apply; those it leaves
// unset take the check defaults of shardtarget (a 1 MiB device, 64 KiB
// extents, a tiny cache and memtable), and the target's name, echoed into
// the result and replay commands, spells them all out. A spec the adapter
// rejects (a device too small for its extents) is a usage error.
var deviceTarget = func(d engine.Driver, o engine.Options) (target.Target, bool, error) {
	if d.Name != "shardstore" {
		return target.Target{}, false, nil
	}
	t, err := shardtarget.FromOptions(o)
	if err != nil {
		return target.Target{}, false, usageError{err}
	}
	return t, true, nil
}

// childEnv marks a harness process started by the harness itself (a
// kill-mode child, a check worker), so a test binary standing in for the
// harness knows to run the CLI.
const childEnv = "GAUNTLET_HARNESS_CHILD"

// errQuiet marks an error whose exit code is all there is to say: a check
// worker's parent reports its outcome.
var errQuiet = errors.New("reported by the parent")

type checkFlags struct {
	engine  string
	seed    uint64
	budget  time.Duration
	cases   int
	forever bool
	faults  bool
	mode    string
	replay  string
	out     string
	jobs    int
	// worker marks a check run by a parent check with --jobs: it reports
	// its outcome by its exit code and Result only.
	worker bool
	// Where engine, mode and faults came from, for messages: the flag, or
	// the header of the --replay trace ("the trace's mode=kill").
	engineFrom, modeFrom, faultsFrom string
}

// checkExitCodes is the exit-code paragraph of check's help.
const checkExitCodes = `Exit codes: 0 pass; 1 violation; 2 usage (a bad flag, or a trace that cannot be
replayed as written); 3 internal error, or verdict unknown: the check could not
decide (an engine that failed for want of disk space, died or hung in a kill-mode
child; a replay of a kill timed inside a call that did not reproduce it); 130 and
143 interrupted by SIGINT and SIGTERM: the verdict is "interrupted", and the Result
of the cases that ran is written. A check that finished its cases or budget before
the signal passes as usual.`

func newCheckCmd() *cobra.Command {
	f := &checkFlags{}
	cmd := &cobra.Command{
		Use:   "check conformance|crash",
		Short: "Check an engine against the reference model: conformance or crash consistency",
		Long: `check runs a checker against an engine for a budget of time or cases, prints a
one-screen summary, and writes the Result as JSON to
--out/<checker>[-<mode>]-<engine>-<seed>.json (e.g. out/crash-kill-pebble-7.json).

  conformance  after every op of random biased sequences the engine answers like
               the model (harness check conformance --help)
  crash        dirty reboots: block mode on a crashable device, kill mode in a
               child process (harness check crash --help)

A violation is minimized, written as a trace to --out, and reported with the command
that replays it (--replay FILE). A replay takes the engine, mode and faults from the
trace's header unless given; an --engine that disagrees with the trace is refused.

--budget 0 is no time limit: give --cases with it, or --forever to run until
interrupted (Ctrl-C).

A check runs on one core (GOMAXPROCS=1 unless GOMAXPROCS is set): a checker is one
sequence of ops, and a second core only adds cross-core wake-ups. --jobs N runs N
worker processes of the same check, each on one core: rapid's settings are
process-wide, so a run cannot use more cores from inside one process. Worker w runs
seed S+w (seeds S..S+N-1; worker 0 runs exactly what --jobs 1 would), writes its
Result and traces to --out/job-<w>, and gets an equal share of --cases (without
--cases each runs until --budget). The parent merges the workers' Results into
--out/<checker>[-<mode>]-<engine>-<S>.json; the first violation stops the other
workers, which keep what they did. --jobs 0 runs one worker per CPU.

` + checkExitCodes,
		Example: `  harness check conformance --engine pebble --seed 1 --budget 60s
  harness check conformance --engine shardstore --jobs 0 --budget 10m
  harness check crash --engine bbolt --mode kill --cases 50
  harness check crash --replay out/crash-kill-bbolt-7.trace`,
		// The checkers are subcommands; anything else is named here.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("check: name the checker: harness check conformance|crash (got %q)", strings.Join(args, " "))
		},
	}
	fl := cmd.PersistentFlags()
	fl.StringVar(&f.engine, "engine", "shardstore", "engine spec, e.g. pebble or shardstore:extent=1MiB (a replay: the trace's)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed: the same seed gives the same cases")
	fl.DurationVar(&f.budget, "budget", 60*time.Second, "stop after this much time (0: no limit, with --cases)")
	fl.IntVar(&f.cases, "cases", 0, "stop after this many cases (0: until the budget)")
	fl.BoolVar(&f.forever, "forever", false, "run until interrupted (Ctrl-C: exit 130), with no budget or case limit")
	fl.StringVar(&f.replay, "replay", "", "replay a trace file written by an earlier run instead of generating cases")
	fl.StringVar(&f.out, "out", "out", "directory for the Result JSON and violation traces")
	fl.IntVar(&f.jobs, "jobs", 1, "worker processes, one core each, running seeds S..S+N-1 (0: one per CPU)")
	fl.BoolVar(&f.worker, "worker", false, "run as a worker of a check with --jobs")
	fl.MarkHidden("worker")

	conf := &cobra.Command{
		Use:   conformance.Name,
		Short: "Check that an engine answers like the reference model after every op",
		Long: `check conformance draws random op sequences from a biased alphabet (get, put,
delete, list, index-flush, compact, reclaim, clean reboot, ..., simplest first so
shrinking prefers simple ops); after every op the engine must answer exactly as the
model does, and CheckInvariants must hold. --faults (engines on a device:
shardstore) injects IO errors and bit flips: an op hit by one may fail, never return
wrong data. A violation is minimized by rapid's shrinker and written as a trace
(--out/conformance-<engine>-<seed>.trace) with the command that replays it.

` + checkExitCodes,
		Example: `  harness check conformance --engine pebble --seed 1 --budget 60s
  harness check conformance --engine shardstore --faults --cases 500
  harness check conformance --replay out/conformance-shardstore-1.trace`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCheck(cmd, conformance.Name, *f) },
	}
	conf.Flags().BoolVar(&f.faults, "faults", false, "inject IO errors and bit flips (engines on a device)")
	conf.Flags().StringVar(&f.mode, "mode", "", "")
	conf.Flags().MarkHidden("mode") // refused with a reason: see runCheck

	cr := &cobra.Command{
		Use:   crash.Name,
		Short: "Check crash consistency: dirty reboots (block mode) or killed processes (kill mode)",
		Long: `check crash adds dirty reboots and checks persistence and forward progress.

  --mode block  engines on a device (shardstore; the default for them): a disk.Mem
                chooses which components flush first and which unflushed device
                writes survive or tear; every crash state of small pending sets
  --mode kill   any engine on a directory (the default for them): a child process
                runs the workload and is killed with SIGKILL; a second child
                reopens the directory and reads every key, so an engine that
                panics, faults or hangs there ends that case, not the harness.
                Everything acknowledged by a completed Sync must have survived.

A kill-mode violation is minimized by delta debugging with the kill at an op
boundary. Its trace records where the kill landed (kill=boundary, op:N, sync:N,
close); a kill inside an op, a Sync or Close that no boundary kill reproduces is
replayed with kills timed inside that call, and reported as not minimized, or as
"replay did not reproduce the violation". An engine failure that is not a
violation (no space left, an IO error, a crash or hang of the engine) ends the run
with verdict unknown, exit 3, the cases before it kept in the Result.

` + checkExitCodes,
		Example: `  harness check crash --engine shardstore --budget 60s
  harness check crash --engine pebble --mode kill --cases 50
  harness check crash --replay out/crash-kill-pebble-7.trace`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCheck(cmd, crash.Name, *f) },
	}
	cr.Flags().StringVar(&f.mode, "mode", "", "block or kill (default: block for device engines, kill otherwise)")
	cr.Flags().BoolVar(&f.faults, "faults", false, "")
	cr.Flags().MarkHidden("faults") // refused with a reason: see runCheck

	cmd.AddCommand(conf, cr)
	// Flag errors name the whole command: "check crash: unknown flag".
	for _, c := range []*cobra.Command{conf, cr} {
		c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
			path := strings.TrimPrefix(c.CommandPath(), "harness ")
			return usagef("%s: %v (see 'harness %s --help')", path, err, path)
		})
	}
	return cmd
}

// newInternalCmd holds hidden verbs the harness runs on itself: the
// children of kill mode.
func newInternalCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "internal", Hidden: true, Short: "verbs the harness runs on itself"}
	for _, v := range []struct {
		use, short string
		run        func(context.Context, func(string) (engine.Engine, error), string, string, io.Writer) error
	}{
		{"kill-child", "run a crash-checker workload until killed", crash.KillChild},
		{"kill-verify", "reopen a killed engine's directory and report what it holds", crash.VerifyChild},
	} {
		var spec, dir, trace string
		child := &cobra.Command{
			Use:   v.use,
			Short: v.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				d, o, err := resolveCheckEngine(spec)
				if err != nil {
					return err
				}
				open := func(dir string) (engine.Engine, error) { return d.Open(dir, o) }
				return v.run(cmd.Context(), open, dir, trace, cmd.OutOrStdout())
			},
		}
		child.Flags().StringVar(&spec, "engine", "", "engine spec")
		child.Flags().StringVar(&dir, "dir", "", "engine directory")
		child.Flags().StringVar(&trace, "trace", "", "trace of the workload")
		cmd.AddCommand(child)
	}
	cmd.AddCommand(newBenchRunCmd())
	return cmd
}

func resolveCheckEngine(spec string) (engine.Driver, engine.Options, error) {
	d, o, err := checkDrivers().Resolve(spec)
	if err != nil {
		return d, o, usageError{err}
	}
	return d, o, nil
}

// attrOf is a trace header attribute's value, "" if absent.
func attrOf(tr workloads.Trace, key string) string {
	for _, a := range tr.Header.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// fromTrace applies the header of a --replay trace to f: its checker must
// be checker; its engine, mode and faults apply unless the flags say
// otherwise, and an --engine or --mode that disagrees with it is refused.
// Values taken from the header are marked so, for messages.
func fromTrace(cmd *cobra.Command, checker string, tr workloads.Trace, f *checkFlags) error {
	if c := attrOf(tr, "checker"); c != "" && c != checker {
		return usagef("check %s: --replay %s: the trace was written by the %s checker: run harness check %s --replay %s", checker, f.replay, c, c, f.replay)
	}
	if e := attrOf(tr, "engine"); e != "" {
		if !cmd.Flags().Changed("engine") {
			f.engine, f.engineFrom = e, "the trace's engine="+e
		} else if same, err := sameEngine(f.engine, e); err != nil {
			return err
		} else if !same {
			return usagef("check %s: --engine %s disagrees with the trace's engine=%s: drop --engine to replay on the trace's engine", checker, f.engine, e)
		}
	}
	if m := attrOf(tr, "mode"); m != "" && checker == crash.Name {
		switch {
		case f.mode == "":
			f.mode, f.modeFrom = m, "the trace's mode="+m
		case f.mode != m:
			return usagef("check crash: --mode %s disagrees with the trace's mode=%s: drop --mode", f.mode, m)
		}
	}
	if attrOf(tr, "faults") == "true" && !f.faults {
		f.faults, f.faultsFrom = true, "the trace's faults=true"
	}
	return nil
}

// killDeviceSpec is spec with the device size and extent size a kill-mode
// check of a device engine uses where the spec leaves them unset: 16 MiB
// of 1 MiB extents, room for the reserve and a few hundred small puts.
func killDeviceSpec(spec string, o engine.Options) string {
	var add []string
	if !o.IsSet("size") {
		add = append(add, "size=16MiB")
	}
	if !o.IsSet("extent") {
		add = append(add, "extent=1MiB")
	}
	if len(add) == 0 {
		return spec
	}
	sep := ","
	if !strings.Contains(spec, ":") {
		sep = ":"
	}
	return spec + sep + strings.Join(add, ",")
}

// sameEngine reports whether two specs resolve to the same engine and
// options (a spec that leaves a default out names the same engine as one
// that spells it).
func sameEngine(a, b string) (bool, error) {
	name := func(spec string) (string, error) {
		d, o, err := resolveCheckEngine(spec)
		if err != nil {
			return "", err
		}
		tg, hasDevice, err := deviceTarget(d, o)
		if err != nil {
			return "", err
		}
		if !hasDevice {
			tg = target.FromDriver(d, o)
		}
		return tg.Name, nil
	}
	na, err := name(a)
	if err != nil {
		return false, err
	}
	nb, err := name(b)
	if err != nil {
		return false, usagef("check: the trace's engine=%s: %v", b, err)
	}
	return na == nb, nil
}

// interruptContext returns a context that SIGINT or SIGTERM cancels with
// interruptedError as its cause, and its stop. A worker keeps catching the
// signals until it exits: a Ctrl-C reaches it both from the terminal and
// from its parent, and the second must not kill it after its run, before
// it writes its Result.
func interruptContext(parent context.Context, worker bool) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-sigs:
			cancel(interruptedError{sig: sig})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		if !worker {
			signal.Stop(sigs)
		}
		cancel(nil)
	}
}

func runCheck(cmd *cobra.Command, checker string, f checkFlags) error {
	fl := cmd.Flags()
	f.engineFrom, f.modeFrom, f.faultsFrom = "--engine", "--mode", "--faults"
	if f.cases < 0 {
		return usagef("check: --cases %d: give a positive number of cases", f.cases)
	}
	if f.budget < 0 {
		return usagef("check: --budget %s: give a positive duration", f.budget)
	}
	if f.jobs < 0 {
		return usagef("check: --jobs %d: give a number of worker processes, or 0 for one per CPU", f.jobs)
	}
	switch {
	case f.forever && (fl.Changed("budget") || fl.Changed("cases")):
		return usagef("check: --forever runs until interrupted: drop --budget and --cases, or --forever")
	case f.forever:
		f.budget = 0
	case f.budget == 0 && f.cases == 0 && f.replay == "":
		return usagef("check: --budget 0 with no --cases would never end: give --cases N or a --budget, or --forever to run until interrupted")
	}
	if f.replay != "" && f.jobs != 1 {
		return usagef("check: --jobs %d with --replay: a replay runs one trace: drop --jobs", f.jobs)
	}
	var tr *workloads.Trace
	if f.replay != "" {
		t, err := readTrace(f.replay)
		if err != nil {
			return err
		}
		tr = &t
		if err := fromTrace(cmd, checker, t, &f); err != nil {
			return err
		}
	}
	d, o, err := resolveCheckEngine(f.engine)
	if err != nil {
		if f.engineFrom != "--engine" {
			return usagef("check %s: %s: %v", checker, f.engineFrom, err)
		}
		return err
	}
	tg, hasDevice, err := deviceTarget(d, o)
	if err != nil {
		return err
	}
	if !hasDevice {
		tg = target.FromDriver(d, o)
	}
	if checker == conformance.Name && fl.Changed("mode") {
		return usagef("check conformance: --mode is for the crash checker")
	}
	if checker == crash.Name && f.faults {
		return usagef("check crash: %s: fault injection is for the conformance checker (the crash checker crashes, it does not inject IO errors): drop it", f.faultsFrom)
	}
	if f.faults && !hasDevice {
		return usagef("check %s: engine %s opens on a directory: %s needs an engine on a device", checker, d.Name, f.faultsFrom)
	}
	if checker == crash.Name {
		switch f.mode {
		case "":
			f.mode = "kill"
			if hasDevice {
				f.mode = "block"
			}
		case "block":
			if !hasDevice {
				return usagef("check crash: engine %s opens on a directory: %s needs an engine on a device; use --mode kill", d.Name, modeWords(f.modeFrom, "block"))
			}
		case "kill":
			if hasDevice {
				// A device engine killed for real: its driver opens it on
				// a device file in each case's directory, small unless the
				// spec says otherwise, so a case does not prewrite the
				// driver's default 4 GiB.
				f.engine = killDeviceSpec(f.engine, o)
				if d, o, err = resolveCheckEngine(f.engine); err != nil {
					return err
				}
				tg, hasDevice = target.FromDriver(d, o), false
			}
		default:
			return usagef("check crash: %s: use block or kill", modeWords(f.modeFrom, strconv.Quote(f.mode)))
		}
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return usagef("check: --out %s: %v", f.out, unwrapPathErr(err))
	}
	mode := ""
	if checker == crash.Name {
		mode = f.mode
	}
	stem := func(seed uint64) string { return checkers.FileStem(checker, mode, d.Name, seed) }
	if jobs := checkJobs(f); jobs > 1 {
		return runJobs(cmd, checker, f, jobs, stem)
	}

	if os.Getenv("GOMAXPROCS") == "" {
		// One core, as each worker of --jobs: a checker is one sequence
		// of ops, and a second P only adds cross-core wake-ups (measured
		// on shardstore: 59k ops/s on one core against 44-56k on two).
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	}
	if os.Getenv("GOGC") == "" {
		// A checker allocates fast and keeps little (a case's engine and
		// device): collecting at 5× the live heap instead of 2× halves
		// its CPU time.
		debug.SetGCPercent(400)
	}
	ctx, stop := interruptContext(cmd.Context(), f.worker)
	defer stop()
	replayCmd := func(file string) string {
		s := fmt.Sprintf("harness check %s --engine %s", checker, f.engine)
		if f.faults {
			s += " --faults"
		}
		if f.mode != "" {
			s += " --mode " + f.mode
		}
		return s + " --replay " + file
	}
	if tr != nil {
		fmt.Fprintf(cmd.OutOrStdout(), "replaying %s%s\n", f.replay, fromHeader(f))
	}
	cases := f.cases
	if cases == 0 {
		cases = checkers.CasesUnlimited // the budget decides
	}
	var res checkers.Result
	switch {
	case checker == conformance.Name:
		c := conformance.Config{Target: tg, Seed: f.seed, Cases: cases, Budget: f.budget, Faults: f.faults, OutDir: f.out, Replay: replayCmd}
		if tr != nil {
			res, err = conformance.Replay(ctx, c, *tr)
		} else {
			res, err = conformance.Run(ctx, c)
		}
	case f.mode == "block":
		c := crash.Config{Target: tg, Seed: f.seed, Cases: cases, Budget: f.budget, OutDir: f.out, Replay: replayCmd}
		if tr != nil {
			res, err = crash.Replay(ctx, c, *tr)
		} else {
			res, err = crash.Run(ctx, c)
		}
	default:
		exe, xerr := os.Executable()
		if xerr != nil {
			return xerr
		}
		spec := f.engine
		c := crash.KillConfig{Target: tg, Seed: f.seed, Cases: cases, Budget: f.budget, OutDir: f.out, Replay: replayCmd,
			Child: func(role crash.Role, dir, trace string) *exec.Cmd { return killChildCmd(exe, role, spec, dir, trace) }}
		if tr != nil {
			res, err = crash.ReplayKill(ctx, c, *tr)
		} else {
			res, err = crash.RunKill(ctx, c)
		}
	}
	if errors.Is(err, checkers.ErrBadTrace) {
		return usagef("check %s: --replay %s: %v", checker, f.replay, err)
	}
	if err != nil {
		return fmt.Errorf("check %s on %s: %w", checker, d.Name, err)
	}
	if res.Engine == "" {
		res.Engine = tg.Name
	}
	return reportCheck(cmd.OutOrStdout(), res, f, stem(f.seed), context.Cause(ctx))
}

// modeWords names a mode for a message: "--mode block", or "the trace's
// mode=block" when the trace's header chose it.
func modeWords(from, mode string) string {
	if from == "--mode" {
		return "--mode " + mode
	}
	return from
}

// fromHeader says which settings of a replay came from the trace's header
// rather than from flags: " (from the trace: engine=pebble, mode=kill)".
func fromHeader(f checkFlags) string {
	var from []string
	for _, s := range []string{f.engineFrom, f.modeFrom, f.faultsFrom} {
		if v, ok := strings.CutPrefix(s, "the trace's "); ok {
			from = append(from, v)
		}
	}
	if len(from) == 0 {
		return ""
	}
	return " (from the trace's header: " + strings.Join(from, ", ") + ")"
}

// killChildCmd is the command of one kill-mode child: the harness's
// hidden kill-child (workload) or kill-verify verb, in a process group of
// its own, so that a Ctrl-C at the terminal (SIGINT to the foreground
// group) stops the parent, which ends the run between cases, and not the
// child in the middle of one: a child killed so looked like an engine that
// died. The parent still ends its children itself, with SIGKILL.
func killChildCmd(exe string, role crash.Role, spec, dir, trace string) *exec.Cmd {
	verb := "kill-child"
	if role == crash.RoleVerify {
		verb = "kill-verify"
	}
	cmd := exec.Command(exe, "internal", verb, "--engine", spec, "--dir", dir, "--trace", trace)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

func readTrace(path string) (workloads.Trace, error) {
	fh, err := os.Open(path)
	if err != nil {
		return workloads.Trace{}, usagef("check: --replay %s: %v", path, unwrapPathErr(err))
	}
	defer fh.Close()
	tr, err := workloads.ParseTrace(fh)
	if err != nil {
		return workloads.Trace{}, usagef("check: --replay %s: %v", path, err)
	}
	return tr, nil
}

// reportCheck prints the summary, writes the Result JSON to stem.json in
// --out (a replay: <trace>-replay.json), and turns the verdict into the
// exit: 1 with the replay command for a violation, 3 for unknown, 130 or
// 143 for a run interrupted by SIGINT or SIGTERM (interrupt is the cause
// that stopped the run, if any).
func reportCheck(w io.Writer, res checkers.Result, f checkFlags, stem string, interrupt error) error {
	fmt.Fprint(w, res.Summary())
	name := stem + ".json"
	if f.replay != "" {
		name = strings.TrimSuffix(filepath.Base(f.replay), filepath.Ext(f.replay)) + "-replay.json"
	}
	path := filepath.Join(f.out, name)
	b, err := res.JSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("check: write result: %w", err)
	}
	fmt.Fprintf(w, "result: %s\n", path)
	quiet := func(err error) error {
		if f.worker {
			return fmt.Errorf("%w%w", err, errQuiet)
		}
		return err
	}
	switch res.Verdict {
	case checkers.Pass:
		return nil
	case checkers.Interrupted:
		var ie interruptedError
		if !errors.As(interrupt, &ie) {
			ie = interruptedError{sig: os.Interrupt} // a cancelled context: as Ctrl-C
		}
		return quiet(fmt.Errorf("%s checker on %s (%s) %w after %s; result: %s", res.Checker, res.Engine, res.SeedLabel(), ie, checkers.CasesOf(res.Cases, checkers.CasesUnlimited), path))
	case checkers.Unknown:
		return quiet(fmt.Errorf("%s checker could not decide on %s (%s): %s; result: %s", res.Checker, res.Engine, res.SeedLabel(), res.Reason, path))
	}
	v := res.Violations[0]
	msg := fmt.Sprintf("%s checker failed on %s (%s): %d violation", res.Checker, res.Engine, res.SeedLabel(), len(res.Violations))
	if len(res.Violations) > 1 {
		msg += "s"
	}
	switch {
	case v.NotReproduced != "":
		msg += fmt.Sprintf("; replay did not reproduce the violation (%s): trace %s", v.NotReproduced, v.TraceFile)
	case v.NotMinimized != "" && v.Replay != "":
		msg += fmt.Sprintf("; not minimized (%s), %d ops: %s", v.NotMinimized, len(v.Ops), v.Replay)
	case v.Replay != "":
		msg += fmt.Sprintf("; minimized to %d ops: %s", len(v.Ops), v.Replay)
	}
	return violationError{msg: msg, quiet: f.worker}
}

// checkJobs is the number of worker processes a check runs: --jobs, one
// per CPU for 0, and no more than --cases (a worker gets at least one).
func checkJobs(f checkFlags) int {
	n := f.jobs
	if n == 0 {
		n = runtime.NumCPU()
	}
	if f.cases > 0 {
		n = min(n, f.cases)
	}
	return n
}

// checkJob is one worker process of a check with --jobs.
type checkJob struct {
	w      int
	seed   uint64
	dir    string // its --out
	result string // the Result JSON it writes
	cmd    *exec.Cmd
	stdout bytes.Buffer // its summary: shown only if it fails unexpectedly
	output tailBuffer   // stdout and stderr, for the last lines of a failure
	errw   *prefixWriter

	running   bool // started, and its end not yet seen
	signalled bool // the parent sent it a signal
	waitErr   error
	started   bool
}

// exitCode is the job's exit status: -1 if it did not start or a signal
// ended it.
func (j *checkJob) exitCode() int {
	if !j.started {
		return -1
	}
	return j.cmd.ProcessState.ExitCode()
}

// stoppedEarly says whether a signal the parent sent ended the job before
// it could catch it (it was still starting): it ran nothing.
func (j *checkJob) stoppedEarly() bool {
	if !j.started || !j.signalled {
		return false
	}
	ws, ok := j.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && (ws.Signal() == syscall.SIGINT || ws.Signal() == syscall.SIGTERM)
}

// failure describes a job that ended other than by pass or violation, in
// one line: its worker number, seed, status and last lines of output.
func (j *checkJob) failure(what string) error {
	status := what
	if status == "" {
		switch {
		case !j.started:
			status = fmt.Sprintf("did not start: %v", j.waitErr)
		case j.exitCode() >= 0:
			status = fmt.Sprintf("exited with status %d", j.exitCode())
		default:
			status = j.waitErr.Error() // "signal: killed"
		}
	}
	last := "no output"
	if l := lastLines(j.output.String(), 3); len(l) > 0 {
		last = "last output: " + strings.Join(l, " | ")
	}
	return fmt.Errorf("check: job %d (seed %d) %s; %s", j.w, j.seed, status, last)
}

// jobDir is worker w's --out.
func jobDir(out string, w int) string { return filepath.Join(out, fmt.Sprintf("job-%d", w)) }

// jobArgs is the command line of worker w of n: the same check with
// --jobs 1 on seed S+w, writing to jobDir, with its share of --cases (the
// remainder goes to the first workers; no --cases stays none).
func jobArgs(checker string, f checkFlags, n, w int) []string {
	args := []string{"check", checker, "--worker", "--jobs", "1",
		"--engine", f.engine, "--seed", strconv.FormatUint(f.seed+uint64(w), 10)}
	if f.forever {
		args = append(args, "--forever")
	} else {
		args = append(args, "--budget", f.budget.String())
	}
	args = append(args, "--out", jobDir(f.out, w))
	if f.cases > 0 {
		share := f.cases / n
		if w < f.cases%n {
			share++
		}
		args = append(args, "--cases", strconv.Itoa(share))
	}
	if f.faults {
		args = append(args, "--faults")
	}
	if f.mode != "" {
		args = append(args, "--mode", f.mode)
	}
	return args
}

// jobEnv is the workers' environment: the harness's, marked (see
// childEnv), with GOMAXPROCS=1 unless the user set GOMAXPROCS. A checker
// is one sequence of ops: a second P only adds cross-core wakeups.
func jobEnv() []string {
	env := append(os.Environ(), childEnv+"=1")
	if os.Getenv("GOMAXPROCS") == "" {
		env = append(env, "GOMAXPROCS=1")
	}
	return env
}

// runJobs runs a check as n worker processes of this executable, each the
// same check with --jobs 1 on seed S+w, and merges their Results into one
// (stem names a seed's Result file). The first worker to find a violation
// (or fail, or end unknown) stops the others with SIGINT; a SIGINT or
// SIGTERM to the parent is forwarded to every worker. Either way the
// workers write what they did, and the parent merges it.
func runJobs(cmd *cobra.Command, checker string, f checkFlags, n int, stem func(seed uint64) string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("check: --jobs %d: find the harness executable: %w", n, err)
	}
	env := jobEnv()
	var errMu sync.Mutex
	jobs := make([]*checkJob, n)
	for w := range jobs {
		j := &checkJob{w: w, seed: f.seed + uint64(w), dir: jobDir(f.out, w)}
		j.result = filepath.Join(j.dir, stem(j.seed)+".json")
		if err := os.MkdirAll(j.dir, 0o755); err != nil {
			return fmt.Errorf("check: %w", err)
		}
		// A Result left by an earlier run must not pass for this one's.
		if err := os.Remove(j.result); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check: %w", err)
		}
		j.cmd = exec.Command(exe, jobArgs(checker, f, n, w)...)
		j.cmd.Env = env
		j.errw = &prefixWriter{mu: &errMu, w: cmd.ErrOrStderr(), prefix: fmt.Sprintf("job %d: ", w)}
		j.cmd.Stdout = io.MultiWriter(&j.stdout, &j.output)
		j.cmd.Stderr = io.MultiWriter(j.errw, &j.output)
		jobs[w] = j
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	start := time.Now()
	done := make(chan *checkJob, n)
	for _, j := range jobs {
		if err := j.cmd.Start(); err != nil {
			j.waitErr = err
			done <- j
			continue
		}
		j.started, j.running = true, true
		go func() {
			j.waitErr = j.cmd.Wait()
			done <- j
		}()
	}
	signalAll := func(sig os.Signal) (running int) {
		for _, j := range jobs {
			if j.running {
				running++
				j.signalled = true
				j.cmd.Process.Signal(sig) // an exited job's error is of no interest
			}
		}
		return running
	}
	var (
		first       *checkJob // the first job to end with a violation or a failure
		stopped     int       // the jobs it stopped
		interrupted os.Signal // what the parent got before any job failed
		ctxDone     = cmd.Context().Done()
	)
	interrupt := func(sig os.Signal) {
		if interrupted == nil && first == nil {
			interrupted = sig
		}
		signalAll(sig)
	}
	for left := n; left > 0; {
		select {
		case j := <-done:
			left--
			j.running = false
			j.errw.flush()
			// The first job to end other than by a pass or a signal
			// (a violation, an unknown, a crash) stops the others.
			if code := j.exitCode(); code != exitPass && code != exitInterrupted && code != exitTerminated && first == nil && !j.stoppedEarly() {
				first = j
				if interrupted == nil {
					stopped = signalAll(os.Interrupt)
				}
			}
		case sig := <-sigs:
			interrupt(sig)
		case <-ctxDone:
			ctxDone = nil
			interrupt(os.Interrupt)
		}
	}
	elapsed := time.Since(start)

	// A job that failed other than by its verdict (pass, violation,
	// unknown, interrupted: each with its Result) is an internal error:
	// the first to end so, else the first in order. Its summary, if it
	// printed one, goes to stderr.
	for _, j := range append([]*checkJob{first}, jobs...) {
		if j == nil || j.stoppedEarly() {
			continue
		}
		if code := j.exitCode(); !slices.Contains([]int{exitPass, exitViolation, exitInterrupted, exitTerminated}, code) && !(code == exitInternal && j.wroteUnknown()) {
			if j.stdout.Len() > 0 {
				j.errw.Write(j.stdout.Bytes())
				j.errw.flush()
			}
			return j.failure("")
		}
	}
	var results []checkers.Result
	earlyStopped := false
	for _, j := range jobs {
		if j.stoppedEarly() {
			earlyStopped = true
			continue // stopped before it ran anything
		}
		code := j.exitCode()
		b, err := os.ReadFile(j.result)
		if err != nil {
			return j.failure(fmt.Sprintf("exited with status %d but wrote no result %s", code, j.result))
		}
		var r checkers.Result
		if err := json.Unmarshal(b, &r); err != nil {
			return j.failure(fmt.Sprintf("wrote a corrupt result %s (%v)", j.result, err))
		}
		if r.Checker != checker || r.Seed != j.seed {
			return j.failure(fmt.Sprintf("wrote a result %s for %s seed %d", j.result, r.Checker, r.Seed))
		}
		if verdictCode(r.Verdict, code) != code {
			return j.failure(fmt.Sprintf("exited with status %d but its result %s says %s", code, j.result, r.Verdict))
		}
		if j == first {
			// The violation that stopped the others comes first: it is
			// the one the exit message names.
			results = append([]checkers.Result{r}, results...)
		} else {
			results = append(results, r)
		}
	}
	planned := int64(checkers.CasesUnlimited)
	if f.cases > 0 {
		planned = int64(f.cases)
	}
	var cause error
	if interrupted != nil {
		cause = interruptedError{sig: interrupted}
	}
	return reportCheck(cmd.OutOrStdout(), mergeJobs(checker, f, n, results, elapsed, interrupted, first, stopped, planned, earlyStopped), f, stem(f.seed), cause)
}

// verdictCode is the exit status a job with verdict v should have; for an
// interrupted one, code if it is either signal's.
func verdictCode(v checkers.Verdict, code int) int {
	switch v {
	case checkers.Fail:
		return exitViolation
	case checkers.Unknown:
		return exitInternal
	case checkers.Interrupted:
		if code == exitTerminated {
			return code
		}
		return exitInterrupted
	}
	return exitPass
}

// wroteUnknown reports whether the job wrote a Result with verdict
// unknown: an exit 3 that is the check's, not a crash of the worker.
func (j *checkJob) wroteUnknown() bool {
	b, err := os.ReadFile(j.result)
	if err != nil {
		return false
	}
	var r checkers.Result
	return json.Unmarshal(b, &r) == nil && r.Verdict == checkers.Unknown
}

// mergeJobs merges the Results of a check's jobs into one: cases, ops and
// violations summed, the parent's wall time. The verdict is the gravest of
// the jobs': fail, then unknown, then interrupted (a job stopped by a
// signal, or one the parent's signal stopped before it ran anything),
// else pass.
func mergeJobs(checker string, f checkFlags, n int, results []checkers.Result, elapsed time.Duration, interrupted os.Signal, first *checkJob, stopped int, planned int64, earlyStopped bool) checkers.Result {
	res := checkers.Result{Checker: checker, Seed: f.seed, Jobs: n, Verdict: checkers.Pass, Elapsed: elapsed}
	grave := map[checkers.Verdict]int{checkers.Pass: 0, checkers.Interrupted: 1, checkers.Unknown: 2, checkers.Fail: 3}
	for _, r := range results {
		res.Engine = r.Engine
		res.Cases += r.Cases
		res.Ops += r.Ops
		res.Violations = append(res.Violations, r.Violations...)
		if grave[r.Verdict] > grave[res.Verdict] {
			res.Verdict = r.Verdict
			if r.Verdict == checkers.Unknown {
				res.Reason = fmt.Sprintf("seed %d: %s", r.Seed, r.Reason)
			}
		}
	}
	if res.Engine == "" {
		res.Engine = f.engine // no job ran anything
	}
	if res.Verdict == checkers.Pass && interrupted != nil && earlyStopped {
		res.Verdict = checkers.Interrupted
	}
	switch {
	case res.Verdict == checkers.Unknown:
	case interrupted != nil && (res.Verdict == checkers.Fail || res.Verdict == checkers.Interrupted):
		res.Reason = fmt.Sprintf("stopped after %s: %v", checkers.CasesOf(res.Cases, planned), interruptedError{sig: interrupted})
	case res.Verdict == checkers.Interrupted:
		res.Reason = fmt.Sprintf("stopped after %s: a job was interrupted", checkers.CasesOf(res.Cases, planned))
	case res.Verdict == checkers.Fail && first != nil:
		res.Reason = fmt.Sprintf("job %d (seed %d) found a violation first", first.w, first.seed)
		switch {
		case stopped == 1:
			res.Reason += ": the other job still running stopped early"
		case stopped > 1:
			res.Reason += fmt.Sprintf(": the %d other jobs still running stopped early", stopped)
		}
	case res.Verdict != checkers.Pass || res.Cases >= planned:
	default:
		res.Reason = fmt.Sprintf("budget %s spent after %s", f.budget, checkers.CasesOf(res.Cases, planned))
	}
	return res
}

// prefixWriter passes a worker's output to w a whole line at a time, each
// line prefixed with the worker, so concurrent workers' lines do not mix.
type prefixWriter struct {
	mu     *sync.Mutex // shared by the workers writing to w
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	if i := bytes.LastIndexByte(p.buf, '\n'); i >= 0 {
		p.emit(p.buf[:i+1])
		p.buf = append(p.buf[:0], p.buf[i+1:]...)
	}
	return len(b), nil
}

// flush writes a last line that has no newline.
func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		p.emit(append(p.buf, '\n'))
		p.buf = p.buf[:0]
	}
}

func (p *prefixWriter) emit(lines []byte) {
	var b bytes.Buffer
	for _, l := range bytes.SplitAfter(lines, []byte("\n")) {
		if len(l) > 0 {
			b.WriteString(p.prefix)
			b.Write(l)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w.Write(b.Bytes())
}

// tailBuffer keeps the last tailMax bytes written to it, safe for the two
// goroutines that copy a worker's stdout and stderr.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 16 << 10

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailMax {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailMax:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// lastLines returns the last n non-blank lines of s, trimmed.
func lastLines(s string, n int) []string {
	var out []string
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			out = append(out, l)
		}
	}
	slices.Reverse(out)
	return out
}
