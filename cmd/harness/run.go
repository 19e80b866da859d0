package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/engine"
)

// runWorkloads are what harness run benches: quick's, less its fill, which
// writes until a device of several GiB is full, once per engine.
var runWorkloads = []string{"ycsb-a", "ycsb-c", "durable-put"}

// runPeers are the engines harness run measures the engine against.
var runPeers = []string{"pebble", "badger", "bbolt"}

// runChecks are the checks harness run makes of the engine, each in its
// default mode (crash: block for an engine on a device, kill otherwise;
// linearize: four clients with maintenance racing them).
var runChecks = []string{"conformance", "crash", "linearize"}

// andList joins names as a sentence does: "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

type runFlags struct {
	engine    string
	peers     []string
	workloads []string
	budget    time.Duration
	dir       string
	out       string
	seed      uint64
	quiet     bool
}

func newRunCmd() *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "A short everything: bench the engine against its peers, check it, write the HTML report",
		Long: `run is the short nightly on the embedded default, the first thing to try: it
benches the engine (shardstore) against its peers (pebble, badger, bbolt) on
` + strings.Join(runWorkloads, ", ") + ` as harness bench does, then runs the ` + andList(runChecks) + `
checks on the engine (side by side, one core each), then writes the HTML report
of it all (harness report) and prints its path last.

--budget is the whole run's measured time: half of it is shared by the bench runs,
the other half is each check's. The default takes a minute or two on 2 cores;
setup, preload and warm-up come on top.

Everything goes to --out (default a new temporary directory, kept): bench/ (the
bench's report and plots), checks/ (each check's Result and any violation's
trace), report.html. The engines' data goes to --dir (default a temporary
directory, removed).

Exit 0 when every check passed and every bench run finished; 1 when a check found
a violation; 3 when a check could not decide or a bench run failed; 130/143 when
interrupted. The report is written in every case but a usage error.`,
		Example: `  harness run
  harness run --budget 5m --out out/night
  harness run --peers pebble --workload ycsb-a`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRun(cmd, *f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.engine, "engine", "shardstore", "the engine to bench and check")
	fl.StringSliceVar(&f.peers, "peers", runPeers, "the engines to bench it against (none: --peers '')")
	fl.StringArrayVar(&f.workloads, "workload", nil, "workload specs to bench (default "+strings.Join(runWorkloads, ",")+")")
	fl.DurationVar(&f.budget, "budget", 40*time.Second, "measured time: half shared by the bench runs, half for each check (side by side)")
	fl.StringVar(&f.dir, "dir", "", "an existing directory for the engines' data (default: a temporary one, removed)")
	fl.StringVar(&f.out, "out", "", "output directory (default: a new temporary directory, kept)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the bench's op sequences and of the checks")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress line")
	addStatusInterval(cmd)
	return cmd
}

// suitePlan is what run and nightly bench: the engine and its peers (each
// once, resolved, a bad spec a usage error naming the verb), and the
// workloads given or runWorkloads.
func suitePlan(verb, eng string, peers, given []string) (engines, workloads []string, err error) {
	engines = []string{eng}
	for _, p := range peers {
		if p = strings.TrimSpace(p); p != "" && p != eng {
			engines = append(engines, p)
		}
	}
	for _, w := range given {
		workloads = append(workloads, engine.SplitSpecs(w)...)
	}
	if len(workloads) == 0 {
		workloads = runWorkloads
	}
	for _, e := range engines {
		if _, _, err := benchDrivers().Resolve(e); err != nil {
			return nil, nil, usageError{fmt.Errorf("%s: %w", verb, err)}
		}
	}
	return engines, workloads, nil
}

// runRun benches, checks and reports, in that order: the bench alone, so
// the checks' load does not reach its figures.
func runRun(cmd *cobra.Command, f runFlags) error {
	stdout := cmd.OutOrStdout()
	if f.budget <= 0 {
		return usagef("run: --budget %s: give the run some time, e.g. --budget 1m", f.budget)
	}
	engines, workloads, err := suitePlan("run", f.engine, f.peers, f.workloads)
	if err != nil {
		return err
	}
	if _, _, err := resolveCheckEngine(f.engine); err != nil {
		return err
	}
	if f.out == "" {
		tmp, err := os.MkdirTemp("", "gauntlet-run-")
		if err != nil {
			return fmt.Errorf("run: temporary directory: %w", err)
		}
		f.out = tmp
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return usagef("run: --out %s: %v (choose a writable directory)", f.out, unwrapPathErr(err))
	}
	if _, err := os.Stat(filepath.Join(f.out, "bench", bench.ReportFile)); err == nil {
		return usagef("run: --out %s holds an earlier run: give a new directory, or leave --out out for a temporary one", f.out)
	}

	// The bench: harness bench's own path, its measured half of the budget
	// shared by every run.
	runs := len(engines) * len(workloads)
	per := max((f.budget / 2 / time.Duration(runs)).Truncate(10*time.Millisecond), 100*time.Millisecond)
	cfg := bench.Config{Engines: engines, Workloads: workloads, Dir: f.dir, Duration: per, Warmup: per / 4,
		Repeat: 1, Preload: true, Seed: f.seed, Out: filepath.Join(f.out, "bench")}
	fmt.Fprintf(stdout, "run: bench of %s on %s, %s a run\n", strings.Join(engines, ", "), strings.Join(workloads, ", "), per)
	benchErr := runBench(cmd, benchDrivers(), cfg, f.quiet)
	var ie interruptedError
	if errors.As(benchErr, &ie) {
		return finishRun(cmd, f, benchErr)
	}
	var ue usageError
	if errors.As(benchErr, &ue) {
		return benchErr
	}

	// The checks, side by side: each is one sequence of ops on one core.
	fmt.Fprintf(stdout, "\nrun: %s checks of %s, %s each\n", andList(runChecks), f.engine, f.budget/2)
	checkErr := runRunChecks(cmd, f)
	err = checkErr
	if err == nil {
		err = benchErr
	}
	return finishRun(cmd, f, err)
}

// runRunChecks runs each of runChecks on the engine as a check process of
// this harness, all at once, and prints the first line of each one's
// summary. The error is the gravest outcome: an interruption, a violation,
// then a check that could not decide.
func runRunChecks(cmd *cobra.Command, f runFlags) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("run: find the harness executable: %w", err)
	}
	ctx, stop := interruptContext(cmd.Context(), false)
	defer stop()
	type outcome struct {
		code int
		out  bytes.Buffer
		err  error
	}
	outcomes := make([]outcome, len(runChecks))
	var wg sync.WaitGroup
	for i, name := range runChecks {
		wg.Go(func() {
			o := &outcomes[i]
			c := exec.CommandContext(ctx, exe, "check", name, "--engine", f.engine, "--seed", strconv.FormatUint(f.seed, 10),
				"--budget", (f.budget / 2).String(), "--out", filepath.Join(f.out, "checks"))
			c.Env = append(os.Environ(), childEnv+"=1")
			c.Stdout, c.Stderr = &o.out, &o.out
			// Stopped as a user stops a check: it writes the Result of
			// the cases that ran.
			c.Cancel = func() error { return c.Process.Signal(os.Interrupt) }
			c.WaitDelay = 10 * time.Second
			o.err = c.Run()
			var ee *exec.ExitError
			if errors.As(o.err, &ee) {
				o.code, o.err = ee.ExitCode(), nil
			}
		})
	}
	wg.Wait()
	var failed, undecided []string
	for i, name := range runChecks {
		o := &outcomes[i]
		if o.err != nil {
			return fmt.Errorf("run: check %s: %w", name, o.err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "  %s\n", oneLine(o.out.String()))
		switch o.code {
		case exitPass:
		case exitViolation:
			failed = append(failed, name)
		case exitUsage:
			return fmt.Errorf("run: check %s refused its arguments (a harness bug): %s", name, lastLine(o.out.String()))
		default:
			undecided = append(undecided, name)
		}
	}
	if cause := context.Cause(ctx); errors.As(cause, new(interruptedError)) {
		return cause
	}
	checks := func(names []string) string {
		if len(names) > 1 {
			return "the " + strings.Join(names, " and ") + " checks"
		}
		return "the " + names[0] + " check"
	}
	switch {
	case len(failed) > 0:
		return violationError{msg: fmt.Sprintf("run: %s found violations on %s: see the report", checks(failed), f.engine)}
	case len(undecided) > 0:
		return fmt.Errorf("run: %s could not decide on %s: see the report", checks(undecided), f.engine)
	}
	return nil
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// finishRun writes the report of everything under --out, prints its path
// last, and passes on err, the run's outcome. A run that found a violation
// still has its report.
func finishRun(cmd *cobra.Command, f runFlags, err error) error {
	path, rerr := writeHTMLReport([]string{f.out}, "", commandLine(cmd))
	if rerr != nil {
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "harness: %s\n", describe(err))
		}
		return rerr
	}
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "harness: %s\n", describe(err))
		fmt.Fprintf(cmd.OutOrStdout(), "\nreport: %s\n", path)
		return quietly(err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "\nreport: %s\n", path)
	return nil
}

// quietly keeps err's exit code but not its message, already printed
// before the report's path so that the path is the last line.
func quietly(err error) error {
	var ve violationError
	if errors.As(err, &ve) {
		ve.quiet = true
		return ve
	}
	return fmt.Errorf("%w%w", err, errQuiet)
}
