package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/coverage"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/internal/progress"
	"github.com/gauntlet-kv/gauntlet/internal/provenance"
	"github.com/gauntlet-kv/gauntlet/mutants"
	"github.com/gauntlet-kv/gauntlet/reports"
)

type gateFlags struct {
	engine        string
	budget        time.Duration
	jobs          int
	seed          uint64
	out           string
	perfBaseline  string
	alpha         float64
	minScore      float64
	mutantsBudget time.Duration
	// requireStates is --require-states: engine states some check must
	// reach (coverage.ParseRequired).
	requireStates string
	// meter, if set, shows the checks' progress (nightly's).
	meter *progress.Meter
}

func newGateCmd() *cobra.Command {
	f := &gateFlags{}
	cmd := &cobra.Command{
		Use:   "gate",
		Short: "Pre-merge gate: every check within one budget, optionally perf against a baseline and a minimum mutation score",
		Long: `gate is the one command a pre-merge job runs. It runs every detector (checker,
mode, faults) the engine supports as worker processes sharing --budget, then,
if asked, re-runs the bench of --perf-baseline with the same configuration and
compares (a figure significantly worse at --alpha fails), and scores the
mutant catalogue against --min-mutation-score (shardstore only).

It prints five lines a CI log reader can scan (the verdict; the checks; perf;
mutants; the replay command of the first violation), then the details, and
writes gate.json (schema gauntlet.gate/v1) with every check's trace and replay
command in --out.

Exit 0 when everything passed; 1 on a violation, a significant regression or a
score below the minimum; 2 on bad input; 3 when a check could not decide or
the mutation score cannot be trusted; 130/143 when interrupted (never 0).`,
		Example: `  harness gate --budget 2m
  harness gate --engine pebble --budget 1m
  harness gate --budget 2m --perf-baseline out/bench-main --min-mutation-score 100 --mutants-budget 5m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runGate(cmd, *f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.engine, "engine", "shardstore", "the engine spec to gate")
	fl.DurationVar(&f.budget, "budget", 2*time.Minute, "the checks' time, shared out over the detectors")
	fl.IntVar(&f.jobs, "jobs", 0, "checks run at once, one core each (0: one per CPU)")
	fl.Uint64Var(&f.seed, "seed", 1, "the checks' seed")
	fl.StringVar(&f.out, "out", "", "output directory (default out/gate-<time>)")
	fl.StringVar(&f.perfBaseline, "perf-baseline", "", "a bench result (bench.json or its directory) to re-run and compare against")
	fl.Float64Var(&f.alpha, "alpha", 0.05, "significance level of the perf comparison")
	fl.Float64Var(&f.minScore, "min-mutation-score", -1, "score the mutant catalogue and fail below this percentage (-1: do not score)")
	fl.DurationVar(&f.mutantsBudget, "mutants-budget", 5*time.Minute, "the mutation run's time, with --min-mutation-score")
	fl.StringVar(&f.requireStates, "require-states", "", "fail unless the checks together reach these engine states: events (extent-reset,...), phase:NAME, sched-POLICY or cells OP×FAULT×PHASE ('*' for any part), comma-separated")
	return cmd
}

func runGate(cmd *cobra.Command, f gateFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	switch {
	case f.budget <= 0:
		return usagef("gate: --budget %s: give the checks some time, e.g. --budget 2m", f.budget)
	case f.jobs < 0:
		return usagef("gate: --jobs %d: give a number of checks to run at once, or 0 for one per CPU", f.jobs)
	case f.alpha <= 0 || f.alpha >= 0.5:
		return usagef("gate: --alpha %g: want a significance level between 0 and 0.5, e.g. 0.05", f.alpha)
	case f.minScore != -1 && (f.minScore < 0 || f.minScore > 100):
		return usagef("gate: --min-mutation-score %g: want a percentage from 0 to 100 (or -1: do not score)", f.minScore)
	case f.minScore >= 0 && f.mutantsBudget <= 0:
		return usagef("gate: --mutants-budget %s: give the mutation run some time, e.g. 5m", f.mutantsBudget)
	}
	d, _, err := resolveCheckEngine(f.engine)
	if err != nil {
		return err
	}
	var required []string
	if f.requireStates != "" {
		if required, err = coverage.ParseRequired(f.requireStates); err != nil {
			return usageError{err}
		}
	}
	if f.minScore >= 0 && d.Name != "shardstore" {
		return usagef("gate: --min-mutation-score: the mutant catalogue is shardstore's, not %s's (harness mutants ast mutates any package)", d.Name)
	}
	var baseline string
	if f.perfBaseline != "" {
		// Read it now: a bad baseline should fail before minutes of checks.
		if _, baseline, err = readBenchResult(f.perfBaseline, stderr); err != nil {
			return err
		}
	}
	if f.jobs == 0 {
		f.jobs = runtime.NumCPU()
	}
	if f.out == "" {
		f.out = filepath.Join("out", "gate-"+time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return usagef("gate: --out %s: %v (choose a writable directory)", f.out, unwrapPathErr(err))
	}
	build := provenance.Read()
	g := reports.Gate{Schema: reports.GateSchema, Verdict: "pass", Commit: build.Commit, Checks: []reports.GateCheck{}, Engine: f.engine, Seed: f.seed, Budget: f.budget,
		Command: "harness " + strings.Join(os.Args[1:], " "), Started: time.Now().UTC()}
	if build.Modified {
		g.Commit += "+modified"
	}
	ctx, stop := interruptContext(cmd.Context(), false)
	defer stop()
	var details bytes.Buffer
	internal := ""
	checksErr := gateChecks(ctx, "gate", f, d.Device != nil, &g, stderr)
	if checksErr == nil && f.perfBaseline != "" {
		checksErr = gatePerf(cmd, f, baseline, &g, &details)
	}
	if checksErr == nil && f.minScore >= 0 {
		checksErr = gateMutants(ctx, f, &g, &details, stderr)
	}
	var ie interruptedError
	switch {
	case errors.As(checksErr, &ie) || errors.As(context.Cause(ctx), &ie):
		g.Verdict = "interrupted"
		g.Failures = append(g.Failures, "interrupted by "+signalName(ie.sig)+": what ran is in "+f.out)
	case checksErr != nil:
		return checksErr
	}
	for _, c := range g.Checks {
		switch c.Outcome {
		case "fail":
			g.Failures = append(g.Failures, fmt.Sprintf("%s found a violation: %s", c.Detector, cmp.Or(c.Violation, c.Why)))
		case "unknown", "timed-out":
			internal = fmt.Sprintf("%s could not decide (%s): %s", c.Detector, c.Outcome, c.Why)
			g.Failures = append(g.Failures, internal)
		}
	}
	if len(required) > 0 && g.Verdict != "interrupted" {
		if missing, err := gateMissingStates(filepath.Join(f.out, "checks"), required); err != nil {
			return err
		} else if len(missing) > 0 {
			g.Failures = append(g.Failures, fmt.Sprintf("no check reached the required states %s (a generator that stops reaching a state stops testing it)", strings.Join(missing, ", ")))
		} else {
			fmt.Fprintf(&details, "required states reached: %s\n", strings.Join(required, ", "))
		}
	}
	if g.Perf != nil && len(g.Perf.Regressions) > 0 {
		g.Failures = append(g.Failures, fmt.Sprintf("%d figures significantly worse than %s", len(g.Perf.Regressions), g.Perf.Baseline))
	}
	if m := g.Mutants; m != nil {
		switch {
		case m.Trust != "":
			internal = "the mutation score cannot be trusted: " + m.Trust
			g.Failures = append(g.Failures, internal)
		case m.Percent >= 0 && m.Percent < m.Min:
			g.Failures = append(g.Failures, fmt.Sprintf("mutation score %s below the minimum %g%%", m.Score, m.Min))
		}
	}
	if g.Verdict != "interrupted" && len(g.Failures) > 0 {
		g.Verdict = "fail"
	}
	g.Elapsed = time.Since(g.Started)
	if err := writeGate(stdout, f.out, g, details.String()); err != nil {
		return err
	}
	switch {
	case g.Verdict == "interrupted":
		return interruptedError{sig: ie.sig, err: fmt.Errorf("gate interrupted by %s: the verdict so far is in %s", signalName(ie.sig), f.out)}
	case internal != "" && len(g.Failures) == 1:
		return errors.New("gate: " + internal)
	case g.Verdict == "fail":
		return violationError{msg: "gate: " + g.Failures[0]}
	}
	return nil
}

// gateMissingStates merges what the checks' Results under dir reached and
// returns the required states none of them did.
func gateMissingStates(dir string, required []string) ([]string, error) {
	runs, err := checkResultFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("gate: read the checks' Results for --require-states: %w", err)
	}
	var all coverage.Report
	for _, r := range runs {
		b, err := os.ReadFile(r.path)
		if err != nil {
			return nil, fmt.Errorf("gate: %w", err)
		}
		var res checkers.Result
		if err := json.Unmarshal(b, &res); err != nil {
			return nil, fmt.Errorf("gate: %s: %w", r.path, err)
		}
		all.Merge(res.Coverage)
	}
	return all.Missing(required), nil
}

// gateChecks runs every detector the engine supports as a worker process
// (the mutants runner's cells, with the engine as the one subject) and
// records each outcome; verb prefixes its messages (gate, nightly).
func gateChecks(ctx context.Context, verb string, f gateFlags, onDevice bool, g *reports.Gate, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%s: find the harness executable to run the checks in: %w", verb, err)
	}
	dets := runnableDetectors(mutants.Detectors(checkerTable), onDevice)
	fmt.Fprintf(stderr, "%s: %d checks of %s, %d at a time, sharing %s\n", verb, len(dets), f.engine, f.jobs, f.budget)
	cfg := mutants.Config{
		Subjects:  []mutants.Subject{{Name: "checks", Engine: f.engine, Exe: exe}},
		Detectors: dets, Seed: f.seed, Budget: f.budget, Jobs: f.jobs,
		OutDir: filepath.Join(f.out, "checks"), Commit: "unknown", // never resumed: a gate decides afresh
		Progress: func(p mutants.Progress) {
			if f.meter != nil {
				f.meter.Clear() // its line is the bar's
			}
			fmt.Fprintf(stderr, "%s: %s: %s (%s)\n", verb, p.Last.Detector, gateOutcome(p.Last), p.Last.Elapsed.Round(100*time.Millisecond))
			if f.meter != nil && p.Done < p.Total {
				f.meter.Start(fmt.Sprintf("%s: checks of %s", verb, f.engine), int64(p.Total))
				f.meter.Update(progress.Snapshot{Done: int64(p.Done), Total: int64(p.Total), Text: fmt.Sprintf("%d of %d checks done, %s of the budget left", p.Done, p.Total, p.Remaining.Round(time.Second))})
			}
		},
	}
	if f.meter != nil {
		f.meter.Start(fmt.Sprintf("%s: checks of %s", verb, f.engine), int64(len(dets)))
		defer f.meter.Clear()
	}
	cells, err := mutants.Run(ctx, cfg)
	for _, c := range cells {
		outcome := gateOutcome(c)
		switch {
		case c.Outcome == "" && c.Elapsed == 0:
			continue // not started: interrupted first
		case c.Outcome == "":
			// Running when the signal came: the gate says so rather than
			// dropping a check it did not finish.
			outcome, c.Why = "interrupted", fmt.Sprintf("stopped by the signal after %s", c.Elapsed.Round(100*time.Millisecond))
		}
		g.Checks = append(g.Checks, reports.GateCheck{Detector: c.Detector.String(), Outcome: outcome, Cases: c.Cases, Ops: c.Ops,
			Elapsed: c.Elapsed, Violation: c.Violation, TraceOps: c.TraceOps, Trace: c.Trace, Replay: c.Replay, Why: c.Why})
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	return nil
}

// gateOutcome is a cell's outcome as a gate says it: a killed cell is a
// check that failed, a survived one a check that passed.
func gateOutcome(c mutants.Cell) string {
	switch c.Outcome {
	case mutants.Killed:
		return "fail"
	case mutants.Survived:
		return "pass"
	}
	return string(c.Outcome)
}

// gatePerf re-runs the baseline's bench with its configuration and
// compares the two.
func gatePerf(cmd *cobra.Command, f gateFlags, baselinePath string, g *reports.Gate, details io.Writer) error {
	base, _, err := readBenchResult(baselinePath, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	cfg := base.Config
	cfg.Out, cfg.Dir, cfg.Keep = filepath.Join(f.out, "bench"), "", false
	fmt.Fprintf(cmd.ErrOrStderr(), "gate: re-running the bench of %s (%d engines × %d workloads × %d repetitions)\n",
		baselinePath, len(cfg.Engines), len(cfg.Workloads), cfg.Repeat)
	var summary bytes.Buffer
	sub := &cobra.Command{}
	sub.SetOut(&summary)
	sub.SetErr(cmd.ErrOrStderr())
	sub.SetContext(cmd.Context())
	if err := runBench(sub, benchDrivers(), cfg, true); err != nil {
		return fmt.Errorf("gate: the bench: %w", err)
	}
	resultPath := filepath.Join(cfg.Out, "bench.json")
	now, _, err := readBenchResult(resultPath, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	c, err := reports.CompareReports(base, now, reports.Side{Label: "baseline", Path: baselinePath, Commit: base.Env.Commit},
		reports.Side{Label: "this commit", Path: resultPath, Commit: now.Env.Commit}, reports.CompareOptions{Alpha: f.alpha})
	if err != nil {
		return err
	}
	p := &reports.GatePerf{Baseline: baselinePath, Result: resultPath, Compared: len(c.Rows)}
	for _, r := range c.Rows {
		switch r.Verdict {
		case "worse":
			p.Regressions = append(p.Regressions, fmt.Sprintf("%s %s %s %s %+.1f%% (p=%.3f)", r.Engine, r.Workload, r.Op, r.Metric, r.DeltaPct, r.P))
		case "better":
			p.Improved++
		}
	}
	g.Perf = p
	fmt.Fprintln(details, "\n== perf against the baseline")
	return c.WriteText(details)
}

// gateMutants scores the catalogue.
func gateMutants(ctx context.Context, f gateFlags, g *reports.Gate, details, stderr io.Writer) error {
	mf := mutantsFlags{engine: f.engine, budget: f.mutantsBudget, seed: f.seed, jobs: f.jobs, out: filepath.Join(f.out, "mutants"),
		minScore: f.minScore, quiet: true}
	r, err := scoreMutants(ctx, mf, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(details, "\n== mutants")
	if err := writeMutants(details, mf, r); err != nil {
		var ve violationError
		if !errors.As(err, &ve) && r.Trust == "" {
			return err
		}
	}
	g.Mutants = &reports.GateMutants{Score: r.Combined.String(), Percent: r.Combined.Percent(), Min: f.minScore,
		Report: filepath.Join(mf.out, "mutants.json"), Trust: r.Trust}
	return nil
}

// writeGate prints the head and the details and writes gate.json.
func writeGate(w io.Writer, out string, g reports.Gate, details string) error {
	if err := g.WriteHead(w); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n== checks")
	for _, c := range g.Checks {
		fmt.Fprintf(w, "  %-22s %-9s %d cases, %d ops in %s\n", c.Detector, c.Outcome, c.Cases, c.Ops, c.Elapsed.Round(100*time.Millisecond))
		if c.Violation != "" {
			fmt.Fprintf(w, "    violation: %s (minimized to %d ops)\n", c.Violation, c.TraceOps)
		}
		if c.Trace != "" {
			fmt.Fprintf(w, "    trace: %s\n", c.Trace)
		}
		if c.Replay != "" {
			fmt.Fprintf(w, "    replay: %s\n", c.Replay)
		}
		if c.Why != "" && c.Violation == "" {
			fmt.Fprintf(w, "    why: %s\n", c.Why)
		}
	}
	fmt.Fprint(w, details)
	b, err := g.JSON()
	if err != nil {
		return err
	}
	if err := reports.ValidateGateJSON(b); err != nil {
		return fmt.Errorf("gate: the verdict does not match its schema (a bug): %w", err)
	}
	path := filepath.Join(out, "gate.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	fmt.Fprintf(w, "\nverdict: %s\n", path)
	return nil
}
