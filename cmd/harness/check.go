package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/gauntlet-kv/gauntlet/coverage"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/conformance"
	"github.com/gauntlet-kv/gauntlet/checkers/crash"
	"github.com/gauntlet-kv/gauntlet/checkers/differential"
	"github.com/gauntlet-kv/gauntlet/checkers/interleave"
	"github.com/gauntlet-kv/gauntlet/checkers/jobs"
	"github.com/gauntlet-kv/gauntlet/checkers/linearize"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/internal/progress"
	"github.com/gauntlet-kv/gauntlet/internal/shard"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// checkerTable is the one table of checkers the harness knows, as drivers
// is of engines: harness check <name> runs one. Adding a checker is one
// package that returns a checkers.Checker and one line here.
var checkerTable = []checkers.Checker{
	conformance.Checker(),
	crash.Checker(),
	linearize.Checker(),
	linearize.DurableChecker(),
	differential.Checker(),
	interleave.Checker(),
}

// checkDrivers is the engine table check resolves specs against; tests
// add engines with known bugs.
var checkDrivers = drivers

// childEnv marks a harness process started by the harness itself (a
// kill-mode child, a check worker, a bench run's child), so a test binary
// standing in for the harness knows to run the CLI.
const childEnv = checkers.ChildEnv

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
	batch   bool // --batch: consecutive puts as one PutBatch
	// adaptive is --adaptive (checkers.Config.Adaptive).
	adaptive bool
	// adaptiveWarmup is --adaptive-warmup: the cases drawn from the fixed
	// mix before steering (checkers.Config.AdaptiveWarmup, 0 there being
	// the default and negative none).
	adaptiveWarmup int
	mode           string
	replay         string
	out            string
	// clients is a Concurrent checker's --clients (0: its default).
	clients int
	// history is a file a checker with History re-checks.
	history string
	// replayArg says --replay is the checker's replay string, not a file.
	replayArg bool
	jobs      int
	// shard is --shard i/N; shardMeta, set when the run is a shard (by
	// the flag or the fleet's environment), goes into its Result, and
	// stemSuffix names the shard in the Result's file (applyCheckShard).
	shard      string
	results    string // --results: a store the Result and traces are uploaded to
	shardMeta  *shard.Meta
	stemSuffix string
	// requireStates is --require-states: states the run must reach
	// (coverage.ParseRequired), else it fails with exit 1.
	requireStates string
	// worker marks a check run by a parent check with --jobs: it reports
	// its outcome by its exit code and Result only.
	worker bool
	// settings are the values of the checker's own flags
	// (checkers.Checker.Settings), by name.
	settings map[string]*string
	// quiet and statusInterval: the progress (the parent's, not a
	// worker's).
	quiet          bool
	statusInterval time.Duration
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

// checkerNames joins the names of the checkers in the table that pass
// keep: "conformance|crash".
func checkerNames(sep string, keep func(checkers.Checker) bool) string {
	var names []string
	for _, c := range checkerTable {
		if keep == nil || keep(c) {
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, sep)
}

func newCheckCmd() *cobra.Command {
	f := &checkFlags{}
	names := checkerNames("|", nil)
	var list strings.Builder
	for _, c := range checkerTable {
		fmt.Fprintf(&list, "  %-12s %s\n  %-12s (harness check %s --help)\n", c.Name, c.Short, "", c.Name)
	}
	cmd := &cobra.Command{
		Use:   "check " + names,
		Short: "Check an engine against the reference model: " + checkerNames(", ", nil),
		Long: `check runs a checker against an engine for a budget of time or cases, prints a
one-screen summary, and writes the Result as JSON to
--out/<checker>[-<mode>]-<engine>-<seed>.json (e.g. out/crash-kill-pebble-7.json).

` + list.String() + `
A violation is minimized, written as a trace to --out, and reported with the command
that replays it (--replay FILE). A replay takes the engine, mode and faults from the
trace's header unless given; an --engine that disagrees with the trace is refused.
A concurrent checker (linearize, durable) takes --clients, keeps every CPU, and saves the
history of a violation instead of a trace: --history FILE re-checks it.

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
  harness check linearize --engine badger --clients 8 --cases 100
  harness check crash --engine bbolt --mode kill --cases 50
  harness check crash --replay out/crash-kill-bbolt-7.trace`,
		// The checkers are subcommands; anything else is named here.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("check: name the checker: harness check %s (got %q)", names, strings.Join(args, " "))
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
	fl.StringVar(&f.requireStates, "require-states", "", "fail (exit 1) unless the run reaches these engine states: events (extent-reset,...), phase:NAME, sched-POLICY or cells OP×FAULT×PHASE ('*' for any part), comma-separated")
	fl.IntVar(&f.jobs, "jobs", 1, "worker processes, one core each, running seeds S..S+N-1 (0: one per CPU)")
	fl.StringVar(&f.shard, "shard", "", shardFlagUsage)
	fl.StringVar(&f.results, "results", "", "also upload --out (a shard: its own folder) to this results store: s3://bucket/prefix or a directory")
	fl.BoolVar(&f.worker, "worker", false, "run as a worker of a check with --jobs")
	fl.MarkHidden("worker")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress (a bar on a terminal, else a status line every --status-interval)")
	fl.DurationVar(&f.statusInterval, "status-interval", progress.IntervalDefault, "off a terminal, the time between two status lines on stderr")

	for _, chk := range checkerTable {
		c := &cobra.Command{
			Use:     chk.Name,
			Short:   chk.Short,
			Long:    chk.Doc + "\n\n" + checkExitCodes,
			Example: chk.Example,
			Args:    cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				dir, prefix := checkResultsDir(*f)
				return withResults(cmd, "check "+chk.Name, f.results, dir, prefix, func() error { return runCheck(cmd, chk, *f) })
			},
		}
		// Every checker has both flags, so that one given to a checker
		// that does not take it is refused with a reason (see runCheck).
		if chk.Faults {
			c.Flags().BoolVar(&f.faults, "faults", false, "inject IO errors and bit flips (engines on a device)")
		} else {
			c.Flags().BoolVar(&f.faults, "faults", false, "")
			c.Flags().MarkHidden("faults")
		}
		if chk.Batch {
			c.Flags().BoolVar(&f.batch, "batch", false, "apply each run of consecutive puts as one PutBatch call (engine.Batcher, the bench's load path); a trace records it")
		} else {
			c.Flags().BoolVar(&f.batch, "batch", false, "")
			c.Flags().MarkHidden("batch")
		}
		if chk.Adaptive {
			c.Flags().BoolVar(&f.adaptive, "adaptive", false, "steer the op mix and the fault and crash kinds, case by case, toward engine states and fault-space cells not yet reached (a failure's trace replays without it)")
			c.Flags().IntVar(&f.adaptiveWarmup, "adaptive-warmup", checkers.AdaptiveWarmupDefault, "with --adaptive: cases drawn from the fixed mix, as without --adaptive, before the steering starts (0: steer from the first case)")
		} else {
			c.Flags().BoolVar(&f.adaptive, "adaptive", false, "")
			c.Flags().MarkHidden("adaptive")
			c.Flags().IntVar(&f.adaptiveWarmup, "adaptive-warmup", checkers.AdaptiveWarmupDefault, "")
			c.Flags().MarkHidden("adaptive-warmup")
		}
		if chk.Concurrent {
			c.Flags().IntVar(&f.clients, "clients", 0, "concurrent clients against the engine (0: the checker's default)")
		} else {
			c.Flags().IntVar(&f.clients, "clients", 0, "")
			c.Flags().MarkHidden("clients")
		}
		if chk.History != nil {
			c.Flags().StringVar(&f.history, "history", "", "re-check a history file written by an earlier run (no engine runs)")
		} else {
			c.Flags().StringVar(&f.history, "history", "", "")
			c.Flags().MarkHidden("history")
		}
		for _, st := range chk.Settings {
			if f.settings == nil {
				f.settings = map[string]*string{}
			}
			f.settings[chk.Name+"."+st.Name] = c.Flags().String(st.Name, st.Default, st.Usage)
		}
		if len(chk.Modes) > 0 {
			c.Flags().StringVar(&f.mode, "mode", "", modeUsage(chk.Modes))
		} else {
			c.Flags().StringVar(&f.mode, "mode", "", "")
			c.Flags().MarkHidden("mode")
		}
		// Flag errors name the whole command: "check crash: unknown flag".
		c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
			path := strings.TrimPrefix(c.CommandPath(), "harness ")
			return usagef("%s: %v (see 'harness %s --help')", path, err, path)
		})
		cmd.AddCommand(c)
	}
	return cmd
}

// modeUsage is the --mode flag's usage: "block or kill (default: block for
// device engines, kill otherwise)".
func modeUsage(modes []checkers.Mode) string {
	var names []string
	for _, m := range modes {
		names = append(names, m.Name)
	}
	s := strings.Join(names, " or ")
	if dev, dir := defaultMode(modes, true), defaultMode(modes, false); dev != "" && dir != "" && dev != dir {
		s += fmt.Sprintf(" (default: %s for device engines, %s otherwise)", dev, dir)
	}
	return s
}

// defaultMode is the first of modes that runs an engine where it opens:
// on a device, or on a directory.
func defaultMode(modes []checkers.Mode, device bool) string {
	for _, m := range modes {
		if m.Device == device {
			return m.Name
		}
	}
	if len(modes) > 0 {
		return modes[0].Name
	}
	return ""
}

// newInternalCmd holds hidden verbs the harness runs on itself: the
// children of kill mode (crash.HarnessChild starts them) and of bench.
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

// checkTarget is the target of an engine table entry (on a device if its
// driver says it runs on one); options its driver refuses for a device
// (one too small for its extents) are a usage error.
func checkTarget(d engine.Driver, o engine.Options) (target.Target, error) {
	tg, err := target.For(d, o)
	if err != nil {
		return tg, usageError{err}
	}
	return tg, nil
}

// attrOf is a trace header attribute's value, "" if absent.
func attrOf(tr workloads.Trace, key string) string {
	v, _ := tr.Header.Attr(key)
	return v
}

// fromTrace applies the header of a --replay trace to f: its checker must
// be chk; its engine, mode and faults apply unless the flags say
// otherwise, and an --engine or --mode that disagrees with it is refused.
// Values taken from the header are marked so, for messages.
func fromTrace(cmd *cobra.Command, chk checkers.Checker, tr workloads.Trace, f *checkFlags) error {
	if c := attrOf(tr, "checker"); c != "" && c != chk.Name {
		return usagef("check %s: --replay %s: the trace was written by the %s checker: run harness check %s --replay %s", chk.Name, f.replay, c, c, f.replay)
	}
	if e := attrOf(tr, "engine"); e != "" {
		if !cmd.Flags().Changed("engine") {
			f.engine, f.engineFrom = e, "the trace's engine="+e
		} else if same, err := sameEngine(f.engine, e); err != nil {
			return err
		} else if !same {
			return usagef("check %s: --engine %s disagrees with the trace's engine=%s: drop --engine to replay on the trace's engine", chk.Name, f.engine, e)
		}
	}
	if m := attrOf(tr, "mode"); m != "" && len(chk.Modes) > 0 {
		switch {
		case f.mode == "":
			f.mode, f.modeFrom = m, "the trace's mode="+m
		case f.mode != m:
			return usagef("check %s: --mode %s disagrees with the trace's mode=%s: drop --mode", chk.Name, f.mode, m)
		}
	}
	if attrOf(tr, "faults") == "true" && !f.faults {
		f.faults, f.faultsFrom = true, "the trace's faults=true"
	}
	return nil
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
		tg, err := checkTarget(d, o)
		return tg.Name, err
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

// checkersWith names the checkers that pass keep, for a message: "the
// crash checker", "the crash and linearize checkers".
func checkersWith(keep func(checkers.Checker) bool) string {
	names := checkerNames(" and ", keep)
	if strings.Contains(names, " and ") {
		return "the " + names + " checkers"
	}
	return "the " + names + " checker"
}

// runCheck runs checker chk as f says: in this process, or as workers
// (--jobs), and reports its Result.
func runCheck(cmd *cobra.Command, chk checkers.Checker, f checkFlags) error {
	fl := cmd.Flags()
	checker := chk.Name
	if chk.Tags != "" && !chk.Built {
		// The checker exists only in a binary built with its tags: run
		// this command line in one.
		args, _ := cmd.Context().Value(argsKey{}).([]string)
		if args == nil {
			args = os.Args[1:]
		}
		tags := chk.Tags
		if strings.Contains(f.engine, "mutant=") {
			tags += " mutants" // a seeded bug needs the switch too
		}
		return runTagged(cmd.Context(), "check "+checker, tags, f.out, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
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
	if f.requireStates != "" {
		if _, err := coverage.ParseRequired(f.requireStates); err != nil {
			return usagef("check %s: %v", checker, err)
		}
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
	switch {
	case f.adaptive && !chk.Adaptive:
		return usagef("check %s: --adaptive is for %s (the %s checker's generator is not steered): drop it", checker, checkersWith(func(c checkers.Checker) bool { return c.Adaptive }), checker)
	case f.adaptive && (f.replay != "" || f.history != ""):
		return usagef("check %s: --adaptive with a replay: the trace holds the ops the steering drew: drop --adaptive", checker)
	case fl.Changed("adaptive-warmup") && !f.adaptive:
		return usagef("check %s: --adaptive-warmup %d without --adaptive: add --adaptive or drop --adaptive-warmup", checker, f.adaptiveWarmup)
	case f.adaptiveWarmup < 0:
		return usagef("check %s: --adaptive-warmup %d: give a number of cases, 0 or more (0: steer from the first case)", checker, f.adaptiveWarmup)
	}
	switch {
	case f.clients < 0 || !chk.Concurrent && fl.Changed("clients"):
		if f.clients < 0 {
			return usagef("check %s: --clients %d: give a number of clients, or 0 for the checker's default", checker, f.clients)
		}
		return usagef("check %s: --clients is for %s (the %s checker runs one client): drop it", checker, checkersWith(func(c checkers.Checker) bool { return c.Concurrent }), checker)
	case f.history != "" && chk.History == nil:
		return usagef("check %s: --history is for %s: use --replay FILE to replay a trace", checker, checkersWith(func(c checkers.Checker) bool { return c.History != nil }))
	case f.replay != "" && chk.History != nil:
		return usagef("check %s: --replay %s: a run of the %s checker is re-checked from its history, not replayed: use --history FILE", checker, f.replay, checker)
	case f.history != "":
		return recheckHistory(cmd, chk, f)
	}
	var tr *workloads.Trace
	if f.replay != "" && chk.ReplayArg == nil {
		t, err := readTrace(f.replay)
		if err != nil {
			return err
		}
		tr = &t
		if err := fromTrace(cmd, chk, t, &f); err != nil {
			return err
		}
	}
	targets, first, err := checkTargets(chk, f.engine)
	if err != nil {
		return err
	}
	d, o, err := resolveCheckEngine(first)
	if err != nil {
		if f.engineFrom != "--engine" {
			return usagef("check %s: %s: %v", checker, f.engineFrom, err)
		}
		return err
	}
	tg, err := checkTarget(d, o)
	if err != nil {
		return err
	}
	hasDevice := tg.HasDevice()
	if len(chk.Modes) == 0 && fl.Changed("mode") {
		return usagef("check %s: --mode is for %s", checker, checkersWith(func(c checkers.Checker) bool { return len(c.Modes) > 0 }))
	}
	if !chk.Faults && f.faults {
		return usagef("check %s: %s: fault injection is for %s (the %s checker does not inject IO errors): drop it",
			checker, f.faultsFrom, checkersWith(func(c checkers.Checker) bool { return c.Faults }), checker)
	}
	if f.faults && !hasDevice {
		return usagef("check %s: engine %s opens on a directory: %s needs an engine on a device", checker, d.Name, f.faultsFrom)
	}
	if !chk.Batch && f.batch {
		return usagef("check %s: --batch is for %s: drop it", checker, checkersWith(func(c checkers.Checker) bool { return c.Batch }))
	}
	if len(chk.Modes) > 0 {
		if f.mode == "" {
			f.mode = defaultMode(chk.Modes, hasDevice)
		}
		i := slices.IndexFunc(chk.Modes, func(m checkers.Mode) bool { return m.Name == f.mode })
		switch {
		case i < 0:
			var names []string
			for _, m := range chk.Modes {
				names = append(names, m.Name)
			}
			return usagef("check %s: %s: use %s", checker, modeWords(f.modeFrom, strconv.Quote(f.mode)), strings.Join(names, " or "))
		case f.faults && !chk.Modes[i].Device:
			// The mode runs the engine on a directory, out of a
			// disk.Faulty's reach, even an engine on a device.
			return usagef("check %s: %s: %s runs the engine on a directory, where no device faults can be injected: drop --faults or use a device mode",
				checker, f.faultsFrom, modeWords(f.modeFrom, f.mode))
		case f.batch && !chk.Modes[i].Device:
			return usagef("check %s: --batch: %s applies its ops in a child process, one call each: drop --batch or use a device mode",
				checker, modeWords(f.modeFrom, f.mode))
		case f.adaptive && !chk.Modes[i].Device:
			// Its engine runs in child processes that report no states.
			return usagef("check %s: --adaptive: %s reports no engine states to steer by: drop --adaptive or use a device mode",
				checker, modeWords(f.modeFrom, f.mode))
		case chk.Modes[i].Device && !hasDevice && !slices.ContainsFunc(chk.Modes, func(m checkers.Mode) bool { return !m.Device }):
			return usagef("check %s: engine %s opens on a directory: the %s checker needs an engine on a device (shardstore)", checker, d.Name, checker)
		case chk.Modes[i].Device && !hasDevice:
			return usagef("check %s: engine %s opens on a directory: %s needs an engine on a device; use --mode %s",
				checker, d.Name, modeWords(f.modeFrom, f.mode), defaultMode(chk.Modes, false))
		case !chk.Modes[i].Device && hasDevice:
			// A device engine run on a directory: its driver opens it
			// on a device file there, sized as the mode says.
			if chk.Modes[i].DirSpec != nil {
				f.engine = chk.Modes[i].DirSpec(f.engine, o)
				if d, o, err = resolveCheckEngine(f.engine); err != nil {
					return err
				}
			}
			tg = target.FromDriver(d, o)
		}
	}
	if err := applyCheckShard(checker, &f); err != nil {
		return err
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return usagef("check: --out %s: %v", f.out, unwrapPathErr(err))
	}
	stem := func(seed uint64) string { return checkers.FileStem(checker, f.mode, d.Name, seed) }
	if n := checkJobs(f); n > 1 {
		return runJobs(cmd, chk, f, n, stem)
	}

	if os.Getenv("GOMAXPROCS") == "" && !chk.Concurrent {
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
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("check: find the harness executable: %w", err)
	}
	ctx, stop := interruptContext(cmd.Context(), f.worker)
	defer stop()
	if tr != nil {
		fmt.Fprintf(cmd.OutOrStdout(), "replaying %s%s\n", f.replay, fromHeader(f))
	}
	// Every engine the run opens reports its states to rec; a replay
	// records too, but its Result is one case.
	rec := coverage.New()
	if otg, ok, err := tg.Observed(rec); err != nil {
		return fmt.Errorf("check %s on %s: observe the engine: %w", checker, d.Name, err)
	} else if ok {
		tg = otg
	}
	c := checkers.Config{Target: tg, Targets: targets, Engine: f.engine, Mode: f.mode, Seed: f.seed, Cases: f.cases, Budget: f.budget,
		Faults: f.faults, Batch: f.batch, Adaptive: f.adaptive, AdaptiveWarmup: warmupConfig(f.adaptiveWarmup), Clients: f.clients, OutDir: f.out, Exe: exe, Replay: func(file string) string {
			if chk.History != nil {
				return historyCommand(checker, file)
			}
			s := fmt.Sprintf("harness check %s --engine %s", checker, f.engine)
			if f.faults {
				s += " --faults"
			}
			if f.mode != "" {
				s += " --mode " + f.mode
			}
			// A --batch trace says batch=true: its replay batches.
			return s + " --replay " + file
		}}
	if c.Cases == 0 {
		c.Cases = checkers.CasesUnlimited // the budget decides
	}
	if len(chk.Settings) > 0 {
		c.Settings = map[string]string{}
		for _, st := range chk.Settings {
			c.Settings[st.Name] = *f.settings[checker+"."+st.Name]
		}
	}
	c.Live = new(checkers.Live)
	if tr == nil {
		c.Found = provisionalResult(f, checker, tg.Name, stem(f.seed)+f.stemSuffix, c.Live, time.Now())
	}
	var res checkers.Result
	if f.replay != "" && chk.ReplayArg != nil {
		f.replayArg = true
		fmt.Fprintf(cmd.OutOrStdout(), "replaying %s\n", f.replay)
		res, err = chk.ReplayArg(ctx, c, f.replay)
	} else if tr != nil {
		res, err = chk.Replay(ctx, c, *tr)
	} else {
		stopMeter := checkMeter(cmd.ErrOrStderr(), f, fmt.Sprintf("check %s on %s", checker, f.engine), c.Live)
		res, err = chk.Run(ctx, c)
		stopMeter()
	}
	if errors.Is(err, checkers.ErrBadConfig) {
		return usagef("check %s: %v", checker, err)
	}
	if errors.Is(err, checkers.ErrBadTrace) {
		if f.replay == "" {
			return usagef("check %s: %v", checker, err)
		}
		return usagef("check %s: --replay %s: %v", checker, f.replay, err)
	}
	if err != nil {
		return fmt.Errorf("check %s on %s: %w", checker, d.Name, err)
	}
	if res.Engine == "" {
		res.Engine = tg.Name
	}
	if tg.Observer != nil {
		res.Coverage = rec.Report()
	}
	return reportCheck(cmd.OutOrStdout(), res, f, stem(f.seed), context.Cause(ctx))
}

// provisionalResult returns the checkers.Config.Found of a run: it writes
// the violation just found, unminimized, as the run's Result (verdict
// fail), which the Result at the end replaces. A worker stopped while
// minimizing (harness mutants stops a cell at its budget; a hang costs an
// op timeout per shrink step) thus leaves the violation it found, not
// nothing. A failed write is ignored: the run goes on to its own.
func provisionalResult(f checkFlags, checker, engine, stem string, live *checkers.Live, start time.Time) func(checkers.Violation) {
	return func(v checkers.Violation) {
		cases, ops := live.Counts()
		res := checkers.Result{Checker: checker, Engine: engine, Seed: f.seed, Verdict: checkers.Fail, Reason: v.NotMinimized,
			Cases: cases + 1, Ops: ops + int64(len(v.Ops)), Elapsed: time.Since(start), Detected: time.Since(start), Violations: []checkers.Violation{v}}
		res.Shard = f.shardMeta
		if b, err := res.JSON(); err == nil {
			os.WriteFile(filepath.Join(f.out, stem+".json"), append(b, '\n'), 0o644)
		}
	}
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

// historyCommand is the command that re-checks a history file.
func historyCommand(checker, file string) string {
	return fmt.Sprintf("harness check %s --history %s", checker, file)
}

// recheckHistory runs --history: the checker re-checks a history file an
// earlier run wrote, without an engine, and reports it as a check of one
// case (its Result: <history>-recheck.json in --out).
func recheckHistory(cmd *cobra.Command, chk checkers.Checker, f checkFlags) error {
	for _, name := range []string{"engine", "seed", "cases", "budget", "forever", "jobs", "clients", "faults", "batch", "mode"} {
		if cmd.Flags().Changed(name) {
			return usagef("check %s: --%s with --history: a re-check runs no engine and takes what it needs from the history: drop --%s", chk.Name, name, name)
		}
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return usagef("check: --out %s: %v", f.out, unwrapPathErr(err))
	}
	ctx, stop := interruptContext(cmd.Context(), f.worker)
	defer stop()
	fmt.Fprintf(cmd.OutOrStdout(), "re-checking %s\n", f.history)
	c := checkers.Config{OutDir: f.out, Replay: func(file string) string { return historyCommand(chk.Name, file) }}
	res, err := chk.History(ctx, c, f.history)
	if errors.Is(err, checkers.ErrBadTrace) {
		return usagef("check %s: %v", chk.Name, err)
	}
	if err != nil {
		return fmt.Errorf("check %s: --history %s: %w", chk.Name, f.history, err)
	}
	return reportCheck(cmd.OutOrStdout(), res, f, "", context.Cause(ctx))
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
	res.Shard = f.shardMeta
	fmt.Fprint(w, res.Summary())
	name := stem + f.stemSuffix + ".json"
	if f.replay != "" {
		name = strings.TrimSuffix(filepath.Base(f.replay), filepath.Ext(f.replay)) + "-replay.json"
		if f.replayArg {
			name = stem + "-replay.json" // the argument is a replay string, not a file
		}
	}
	if f.history != "" {
		name = strings.TrimSuffix(filepath.Base(f.history), filepath.Ext(f.history)) + "-recheck.json"
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
		return requireStates(w, res, f.requireStates, path)
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

// requireStates fails a passing run that did not reach every state of
// list (--require-states), naming those it missed: exit 1, as a
// violation, since a generator that stops reaching a state stops testing
// it.
func requireStates(w io.Writer, res checkers.Result, list, path string) error {
	if list == "" {
		return nil
	}
	names, err := coverage.ParseRequired(list)
	if err != nil {
		return usageError{err}
	}
	missing := names
	if res.Coverage != nil {
		missing = res.Coverage.Missing(names)
	}
	if len(missing) == 0 {
		fmt.Fprintf(w, "required states reached: %s\n", strings.Join(names, ", "))
		return nil
	}
	msg := fmt.Sprintf("%s checker on %s (%s) did not reach required states: %s; result: %s",
		res.Checker, res.Engine, res.SeedLabel(), strings.Join(missing, ", "), path)
	if res.Coverage == nil {
		msg += " (the run recorded no states: an engine without an observer, or a replay)"
	}
	return violationError{msg: msg}
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
	if f.batch {
		args = append(args, "--batch")
	}
	if f.adaptive {
		args = append(args, "--adaptive", "--adaptive-warmup", strconv.Itoa(f.adaptiveWarmup))
	}
	if f.mode != "" {
		args = append(args, "--mode", f.mode)
	}
	if f.clients > 0 {
		args = append(args, "--clients", strconv.Itoa(f.clients))
	}
	return args
}

// runJobs runs a check as n worker processes of this executable, each the
// same check with --jobs 1 on seed S+w (jobArgs), supervised and merged by
// package jobs, and reports the merged Result (stem names a seed's Result
// file).
func runJobs(cmd *cobra.Command, chk checkers.Checker, f checkFlags, n int, stem func(seed uint64) string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("check: --jobs %d: find the harness executable: %w", n, err)
	}
	checker := chk.Name
	env := jobs.Env()
	if chk.Concurrent && os.Getenv("GOMAXPROCS") == "" {
		// Its clients run in parallel: the workers keep every CPU.
		env = slices.DeleteFunc(env, func(e string) bool { return e == "GOMAXPROCS=1" })
	}
	c := jobs.Config{Exe: exe, Env: env, Checker: checker, Seed: f.seed, Engine: f.engine,
		Cases: checkers.CasesUnlimited, Budget: f.budget, Stderr: cmd.ErrOrStderr()}
	if f.cases > 0 {
		c.Cases = int64(f.cases)
	}
	for w := range n {
		c.Args = append(c.Args, jobArgs(checker, f, n, w))
		c.Results = append(c.Results, filepath.Join(jobDir(f.out, w), stem(f.seed+uint64(w))+".json"))
	}
	stopMeter := checkMeter(cmd.ErrOrStderr(), f, fmt.Sprintf("check %s on %s, %d workers", checker, f.engine, n), nil)
	out, err := jobs.Run(cmd.Context(), c)
	stopMeter()
	if err != nil {
		return err
	}
	var cause error
	if out.Interrupted != nil {
		cause = interruptedError{sig: out.Interrupted}
	}
	return reportCheck(cmd.OutOrStdout(), out.Result, f, stem(f.seed), cause)
}

// warmupConfig turns --adaptive-warmup into checkers.Config.AdaptiveWarmup,
// where 0 is the default and a negative value none.
func warmupConfig(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
