package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/internal/provenance"
	"github.com/gauntlet-kv/gauntlet/reports"
)

type nightlyFlags struct {
	engine     string
	peers      []string
	workloads  []string
	suite      string
	budget     time.Duration
	repeat     int
	probe      bool
	probeBytes int64
	mutants    bool
	mutantList []string
	jobs       int
	dir        string
	out        string
	history    string
	nights     int
	alpha      float64
	seed       uint64
	quiet      bool
}

// nightlyStep, when set (by tests), is called as each step of a night
// begins: "bench", "checks", "mutants", "history".
var nightlyStep func(step string)

// nightFolderLayout names a night's folder: its start in UTC, to the
// minute, sorting as it reads.
const nightFolderLayout = "2006-01-02T1504Z"

func newNightlyCmd() *cobra.Command {
	f := &nightlyFlags{}
	cmd := &cobra.Command{
		Use:   "nightly",
		Short: "The whole suite on a real disk: bench with the probe and repetitions, every check, optionally mutants; a dated folder and one history line a night",
		Long: `nightly is what a nightly job runs. On the disk under --dir it benches the engine
and its peers with the device probe and --repeat repetitions (harness bench),
then runs every check the engine supports (the checker table's detectors, as
harness gate does), then, with --mutants, scores the mutant catalogue; all
within --budget (the bench half of it, or 2/5 with --mutants; the checks the
rest, or 3/10 and mutants 3/10).

Each night writes a folder under --out named by its start in UTC
(out/nightly/2026-12-05T1300Z/): bench/, coverage/ (what the checks reached:
harness coverage's coverage.json and figures, from the checks' Results), checks/gate.json and the checks'
traces, mutants/, compare.json (against the night before), trends.png/.svg,
night.json (the night's record) and report.html, the HTML report with the
trends. At the very end it appends the night's record to the history file
(--history, JSON Lines, schema gauntlet.history/v1) as one line in one
O_APPEND write: an interrupted night leaves the history as it was, and its
folder, marked partial.

The night before's bench is compared with this one's (Mann-Whitney U over the
repetitions, as harness compare): significantly worse figures are listed in
the record and ringed on the trend plots of the last --nights nights. With
--repeat 3 the smallest p-value is 0.1, so nothing is significant at the
default --alpha 0.1; 5 or more repetitions are better.

A history whose last line was cut short is read without it (a warning names
the line; the next append drops it); a corrupt line elsewhere, or a record of
another layout, stops the night before it starts (exit 2).

Exit 0 when every check passed and nothing regressed; 1 on a violation or a
significant regression; 2 on bad input; 3 when a check could not decide or a
bench run failed; 130/143 when interrupted.`,
		Example: `  harness nightly --dir /mnt/nvme/gauntlet --budget 2h
  harness nightly --dir /mnt/nvme/gauntlet --budget 3h --mutants --repeat 8
  harness nightly --peers '' --workload ycsb-a --budget 10m --out /srv/nightly`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runNightly(cmd, *f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.engine, "engine", "shardstore", "the engine to bench and check")
	fl.StringSliceVar(&f.peers, "peers", runPeers, "the engines to bench it against (none: --peers '')")
	fl.StringArrayVar(&f.workloads, "workload", nil, "workload specs to bench (default "+strings.Join(runWorkloads, ",")+")")
	fl.StringVar(&f.suite, "suite", "", "bench a named suite (standard: YCSB A-F at 1M records, 8 threads, fill-64k, durable-put, a data set larger than the caches) instead of the default workloads; --workload wins")
	fl.DurationVar(&f.budget, "budget", time.Hour, "the whole night's measured time, shared by bench, checks and mutants")
	fl.IntVar(&f.repeat, "repeat", 5, "repetitions of every engine × workload (at least 3: the comparison with the night before needs them)")
	fl.BoolVar(&f.probe, "probe", true, "measure the device's limits under --dir first")
	fl.Int64Var(&f.probeBytes, "probe-bytes", 256<<20, "size of the probe's sequential-write file in bytes")
	fl.BoolVar(&f.mutants, "mutants", false, "score the mutant catalogue too (shardstore)")
	fl.StringSliceVar(&f.mutantList, "mutant", nil, "with --mutants, only these catalogued mutants (default all; see harness mutants list)")
	fl.IntVar(&f.jobs, "jobs", 0, "checks run at once, one core each (0: one per CPU)")
	fl.StringVar(&f.dir, "dir", "", "a directory on the disk to measure (default: a temporary one, removed)")
	fl.StringVar(&f.out, "out", filepath.Join("out", "nightly"), "where the nights' folders go")
	fl.StringVar(&f.history, "history", "", "the history file (default --out/"+reports.HistoryFile+")")
	fl.IntVar(&f.nights, "nights", reports.DefaultNights, "nights the trend plots show")
	fl.Float64Var(&f.alpha, "alpha", 0.1, "significance level of the comparison with the night before")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the bench's op sequences and of the checks")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress")
	addStatusInterval(cmd)
	return cmd
}

func runNightly(cmd *cobra.Command, f nightlyFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	switch {
	case f.budget <= 0:
		return usagef("nightly: --budget %s: give the night some time, e.g. --budget 2h", f.budget)
	case f.repeat < 3:
		return usagef("nightly: --repeat %d: the comparison with the night before needs at least 3 repetitions (5 or more is better)", f.repeat)
	case f.nights < 1:
		return usagef("nightly: --nights %d: want at least 1 night on the trend plots", f.nights)
	case f.alpha <= 0 || f.alpha >= 0.5:
		return usagef("nightly: --alpha %g: want a significance level between 0 and 0.5, e.g. 0.1", f.alpha)
	case f.jobs < 0:
		return usagef("nightly: --jobs %d: give a number of checks to run at once, or 0 for one per CPU", f.jobs)
	}
	var suite bench.Suite
	if f.suite != "" {
		st, err := bench.LookupSuite(f.suite)
		if err != nil {
			return usageError{fmt.Errorf("nightly: %w", err)}
		}
		suite = st
		if len(f.workloads) == 0 {
			f.workloads = st.Workloads
		}
	}
	engines, workloads, err := suitePlan("nightly", f.engine, f.peers, f.workloads)
	if err != nil {
		return err
	}
	d, _, err := resolveCheckEngine(f.engine)
	if err != nil {
		return err
	}
	if len(f.mutantList) > 0 && !f.mutants {
		return usagef("nightly: --mutant %s without --mutants: add --mutants to score them", strings.Join(f.mutantList, ","))
	}
	if f.mutants && d.Name != "shardstore" {
		return usagef("nightly: --mutants: the mutant catalogue is shardstore's, not %s's (harness mutants ast mutates any package)", d.Name)
	}
	if f.mutants {
		// A misspelt --mutant should fail now, not after the bench and the checks.
		if _, _, _, err := mutantsPlan(mutantsFlags{engine: f.engine, mutants: f.mutantList}); err != nil {
			return err
		}
	}
	if f.jobs == 0 {
		f.jobs = runtime.NumCPU()
	}
	if f.history == "" {
		f.history = filepath.Join(f.out, reports.HistoryFile)
	}
	// The history first: a bad one should stop the night before hours of
	// work, not after.
	hist, err := reports.ReadHistory(f.history)
	if err != nil {
		return usagef("nightly: %v", err)
	}
	if hist.Warning != "" {
		fmt.Fprintf(stderr, "harness: warning: %s\n", hist.Warning)
	}
	started := time.Now().UTC()
	night := started.Format(nightFolderLayout)
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return usagef("nightly: --out %s: %v (choose a writable directory)", f.out, unwrapPathErr(err))
	}
	dir := filepath.Join(f.out, night)
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return usagef("nightly: --out %s: %v (choose a writable directory)", f.out, unwrapPathErr(err))
		}
		night = fmt.Sprintf("%s-%d", started.Format(nightFolderLayout), i)
		dir = filepath.Join(f.out, night)
	}
	fmt.Fprintf(stdout, "nightly: %s\n", dir)

	build := provenance.Read()
	rec := reports.HistoryRecord{Schema: reports.HistorySchema, Date: started, Night: night, Commit: build.Commit,
		Engine: f.engine, Repeat: f.repeat}
	if build.Modified {
		rec.Commit += "+modified"
	}
	ctx, stop := interruptContext(cmd.Context(), false)
	defer stop()
	cmd.SetContext(ctx)
	step := func(name string) {
		if nightlyStep != nil {
			nightlyStep(name)
		}
	}
	benchShare, checkShare := f.budget/2, f.budget/2
	if f.mutants {
		benchShare, checkShare = f.budget*2/5, f.budget*3/10
	}

	// The bench, alone on the machine: the checks' load would reach its
	// figures.
	step("bench")
	runs := len(engines) * len(workloads) * f.repeat
	per := max((benchShare / time.Duration(runs)).Truncate(10*time.Millisecond), 100*time.Millisecond)
	cfg := bench.Config{Engines: engines, Workloads: workloads, Dir: f.dir, Duration: per, Warmup: per / 4,
		Repeat: f.repeat, Preload: true, Probe: f.probe, ProbeBytes: f.probeBytes, Seed: f.seed, Out: filepath.Join(dir, "bench"),
		Records: suite.Records, Threads: suite.Threads}
	fmt.Fprintf(stdout, "nightly: bench of %s on %s, %d repetitions of %s\n", strings.Join(engines, ", "), strings.Join(workloads, ", "), f.repeat, per)
	benchErr := runBench(cmd, benchDrivers(), cfg, f.quiet)
	var ue usageError
	if errors.As(benchErr, &ue) {
		return benchErr
	}
	now, _, readErr := readBenchResult(cfg.Out, io.Discard)
	if readErr == nil {
		rec.Bench = reports.HistoryBenchOf(now)
	}

	// Every check, through the checker table.
	var g reports.Gate
	if ctx.Err() == nil {
		step("checks")
	}
	if ctx.Err() == nil {
		fmt.Fprintln(stdout)
		g = reports.Gate{Schema: reports.GateSchema, Verdict: "pass", Commit: rec.Commit, Engine: f.engine, Seed: f.seed, Budget: checkShare,
			Command: commandLine(cmd), Started: time.Now().UTC()}
		gf := gateFlags{engine: f.engine, budget: checkShare, jobs: f.jobs, seed: f.seed, out: filepath.Join(dir, "checks"),
			meter: newMeter(stderr, f.quiet, statusInterval(cmd))}
		if gf.meter != nil {
			defer gf.meter.Close()
		}
		if err := gateChecks(ctx, "nightly", gf, d.Device != nil, &g, stderr); err != nil && ctx.Err() == nil {
			return err
		}
		for _, c := range g.Checks {
			rec.Checks = append(rec.Checks, reports.HistoryCheck{Detector: c.Detector, Verdict: c.Outcome})
		}
		// What the checks reached (the engine's states, the fault cells),
		// from their Results, for the report's coverage section: the
		// night's checks are harness coverage's runs.
		if runs, err := checkResultFiles(filepath.Join(dir, "checks")); err != nil || len(runs) == 0 {
			fmt.Fprintf(stderr, "nightly: coverage: no check Results under %s (%v)\n", filepath.Join(dir, "checks"), err)
		} else if doc, err := coverageDoc(runs, d, f.engine); err != nil {
			return err
		} else if path, _, err := writeCoverageDoc(filepath.Join(dir, "coverage"), &doc); err != nil {
			return err
		} else {
			fmt.Fprintf(stdout, "nightly: coverage of %d check runs: %s\n", len(doc.Checkers), path)
		}
	}

	// The mutants, if asked.
	if f.mutants && ctx.Err() == nil {
		step("mutants")
		mf := mutantsFlags{engine: f.engine, mutants: f.mutantList, budget: f.budget - benchShare - checkShare, seed: f.seed, jobs: f.jobs,
			out: filepath.Join(dir, "mutants"), quiet: f.quiet, statusInterval: statusInterval(cmd)}
		r, err := scoreMutants(ctx, mf, stderr)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil && ctx.Err() == nil {
			if werr := writeMutants(io.Discard, mf, r); werr != nil && !errors.As(werr, new(violationError)) && r.Trust == "" {
				return werr
			}
			// A run that scored nothing (the canary alone, every cell timed
			// out) has no score to trend: -1 in the history would plot as one.
			if score := r.Combined.Percent(); score >= 0 {
				rec.MutationScore = &score
			}
			fmt.Fprintf(stdout, "nightly: mutation score %s\n", r.Combined.String())
		}
	}

	// The night before, compared.
	var cmpNote string
	if readErr == nil && ctx.Err() == nil {
		cmpNote = nightlyCompare(f, hist, now, dir, &rec)
	}
	rec.Elapsed = time.Since(started)

	var ie interruptedError
	interrupted := ctx.Err() != nil || errors.As(benchErr, &ie)
	if interrupted {
		sig := os.Signal(os.Interrupt)
		if errors.As(benchErr, &ie) {
			sig = ie.sig
		} else if errors.As(context.Cause(ctx), &ie) {
			sig = ie.sig
		}
		rec.Partial, rec.Reason = true, "interrupted by "+signalName(sig)
		ie.sig = sig
	}
	if len(g.Checks) > 0 {
		if err := writeNightFile(filepath.Join(dir, "checks", "gate.json"), g.JSON, reports.ValidateGateJSON); err != nil {
			return err
		}
	}
	if err := writeNightFile(filepath.Join(dir, reports.NightFile), func() ([]byte, error) { return rec.JSON() }, reports.ValidateHistoryJSON); err != nil {
		return err
	}
	if interrupted {
		path, rerr := writeHTMLReportWith([]string{dir}, "", commandLine(cmd), hist, f.nights)
		if rerr == nil {
			fmt.Fprintf(stdout, "\nreport: %s\n", path)
		}
		return interruptedError{sig: ie.sig, err: fmt.Errorf("nightly interrupted by %s: the partial night is in %s; the history %s is unchanged", signalName(ie.sig), dir, f.history)}
	}

	// The end: one line, one write.
	step("history")
	if err := hist.Append(rec); err != nil {
		return err
	}
	if _, err := reports.WriteTrendPlots(dir, hist.Last(f.nights)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nnightly: %d checks, %d passed; %d figures regressed since the night before%s\n", len(rec.Checks), passed(rec.Checks), len(rec.Regressions), cmpNote)
	for _, r := range rec.Regressions {
		fmt.Fprintf(stdout, "  worse: %s %s %s %s %+.1f%% (p=%.3f)\n", r.Engine, r.Workload, r.Op, r.Metric, r.DeltaPct, r.P)
	}
	fmt.Fprintf(stdout, "history: %s (%d nights)\n", f.history, len(hist.Records))
	path, err := writeHTMLReportWith([]string{dir}, "", commandLine(cmd), hist, f.nights)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s\n", path)

	failed, undecided := "", ""
	for _, c := range g.Checks {
		switch c.Outcome {
		case "pass":
		case "fail":
			failed = cmpOr(failed, c.Detector)
		default:
			undecided = cmpOr(undecided, c.Detector)
		}
	}
	switch {
	case failed != "":
		return violationError{msg: fmt.Sprintf("nightly: %s found a violation on %s: see %s", failed, f.engine, path)}
	case len(rec.Regressions) > 0:
		return violationError{msg: fmt.Sprintf("nightly: %d figures significantly worse than the night before: see %s", len(rec.Regressions), path)}
	case undecided != "":
		return fmt.Errorf("nightly: %s could not decide on %s: see %s", undecided, f.engine, path)
	case benchErr != nil:
		return fmt.Errorf("nightly: the bench: %w", benchErr)
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func passed(cs []reports.HistoryCheck) int {
	n := 0
	for _, c := range cs {
		if c.Verdict == "pass" {
			n++
		}
	}
	return n
}

// nightlyCompare compares this night's bench with the last night's in the
// history, writes the comparison beside the night's results and records
// the figures significantly worse. It returns a note for the summary when
// there was nothing to compare with.
func nightlyCompare(f nightlyFlags, hist *reports.History, now *bench.Report, dir string, rec *reports.HistoryRecord) string {
	if len(hist.Records) == 0 {
		return " (the first night: nothing to compare with)"
	}
	prev := hist.Records[len(hist.Records)-1]
	prevPath := filepath.Join(f.out, prev.Night, "bench")
	base, _, err := readBenchResult(prevPath, io.Discard)
	if err != nil {
		return fmt.Sprintf(" (the night before, %s, not compared: %v)", prev.Night, err)
	}
	c, err := reports.CompareReports(base, now, reports.Side{Label: "night " + prev.Night, Path: prevPath, Commit: base.Env.Commit},
		reports.Side{Label: "night " + rec.Night, Path: filepath.Join(dir, "bench"), Commit: now.Env.Commit}, reports.CompareOptions{Alpha: f.alpha})
	if err != nil {
		return fmt.Sprintf(" (the night before, %s, not compared: %v)", prev.Night, err)
	}
	names := map[string]string{}
	for _, r := range now.Runs {
		names[r.Spec] = r.Engine
	}
	for _, r := range c.Regressions() {
		rec.Regressions = append(rec.Regressions, reports.HistoryRegression{Engine: cmpOr(names[r.Engine], r.Engine), Workload: r.Workload,
			Op: r.Op, Metric: r.Metric, DeltaPct: r.DeltaPct, P: r.P})
	}
	if err := writeNightFile(filepath.Join(dir, "compare.json"), c.JSON, reports.ValidateCompareJSON); err != nil {
		return fmt.Sprintf(" (the comparison not written: %v)", err)
	}
	if min(base.Config.Repeat, now.Config.Repeat) <= 3 {
		return " (3 repetitions a night: no p-value can fall below 0.1, so nothing can be significant at --alpha 0.1; use --repeat 5)"
	}
	return ""
}

// writeNightFile writes one JSON document of the night, checked against
// its schema first.
func writeNightFile(path string, encode func() ([]byte, error), validate func([]byte) error) error {
	b, err := encode()
	if err != nil {
		return fmt.Errorf("nightly: %s: %w", path, err)
	}
	if err := validate(b); err != nil {
		return fmt.Errorf("nightly: %s does not match its schema (a bug): %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("nightly: %v", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("nightly: %v", err)
	}
	return nil
}
