package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/reports"
)

type compareFlags struct {
	base       string
	alpha      float64
	confidence float64
	json       string
	fail       bool
}

func newCompareCmd() *cobra.Command {
	f := &compareFlags{}
	cmd := &cobra.Command{
		Use:   "compare A [B]",
		Short: "A/B two bench results (or two engines of one) with a significance test",
		Long: `compare tells a real difference from noise. For every engine × workload both
sides ran, per op type, it takes each side's repetitions (harness bench
--repeat N) of ops/s, p99 and p99.9, prints the median with its confidence
interval, and tests whether the two samples differ (Mann-Whitney U, as
benchstat does: no normality assumed). A difference is reported only when
significant at --alpha; otherwise "~".

Two results: runs are paired by the engine's full spec and the workload.
  harness compare out/bench-before out/bench-after

One result of several engines: every engine against --base (default the
first engine run), workload by workload: the IO-scheduling A/B.
  harness bench --engine shardstore:sched=fifo,shardstore:sched=coalesce --repeat 6
  harness compare out/bench-<time> --base shardstore:sched=coalesce

A rank test needs repetitions: with 3 a side no difference can be significant
at 0.05 (it says so); use 5 to 10.

A and B are bench.json files or the directories holding one. --json writes
the comparison (schema gauntlet.compare/v1). Exit 0, or 1 with
--fail-on-regression when any figure is significantly worse in B.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("compare: want one result (two engines in it) or two results, got %d arguments (harness compare A [B])", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runCompare(cmd, args, *f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.base, "base", "", "with one result: the engine the others are compared against (default the first)")
	fl.Float64Var(&f.alpha, "alpha", 0.05, "significance level of the test")
	fl.Float64Var(&f.confidence, "confidence", 0.95, "confidence level of the medians' intervals")
	fl.StringVar(&f.json, "json", "", "also write the comparison as JSON to this file")
	fl.BoolVar(&f.fail, "fail-on-regression", false, "exit 1 when any figure is significantly worse in B")
	return cmd
}

func runCompare(cmd *cobra.Command, args []string, f compareFlags) error {
	switch {
	case f.alpha <= 0 || f.alpha >= 0.5:
		return usagef("compare: --alpha %g: want a significance level between 0 and 0.5, e.g. 0.05", f.alpha)
	case f.confidence <= 0 || f.confidence >= 1:
		return usagef("compare: --confidence %g: want a level between 0 and 1, e.g. 0.95", f.confidence)
	case f.base != "" && len(args) == 2:
		return usagef("compare: --base %s compares engines within one result; with two results, runs are paired by engine", f.base)
	}
	opts := reports.CompareOptions{Alpha: f.alpha, Confidence: f.confidence}
	var c reports.Comparison
	a, pa, err := readBenchResult(args[0], cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	if len(args) == 1 {
		c, err = reports.CompareEngines(a, pa, f.base, opts)
		if err != nil {
			return usageError{err}
		}
		c.A.Commit, c.B.Commit = a.Env.Commit, a.Env.Commit
	} else {
		b, pb, err := readBenchResult(args[1], cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		c, err = reports.CompareReports(a, b, reports.Side{Label: "A", Path: pa, Commit: a.Env.Commit}, reports.Side{Label: "B", Path: pb, Commit: b.Env.Commit}, opts)
		if err != nil {
			return usageError{err}
		}
	}
	if err := c.WriteText(cmd.OutOrStdout()); err != nil {
		return err
	}
	if f.json != "" {
		js, err := c.JSON()
		if err != nil {
			return err
		}
		if err := reports.ValidateCompareJSON(js); err != nil {
			return fmt.Errorf("compare: the comparison does not match its schema (a bug): %w", err)
		}
		if err := os.WriteFile(f.json, append(js, '\n'), 0o644); err != nil {
			return fmt.Errorf("compare: --json %s: %w", f.json, err)
		}
	}
	if n := len(c.Regressions()); f.fail && n > 0 {
		return violationError{msg: fmt.Sprintf("compare: %d figures significantly worse in B (α=%g)", n, f.alpha)}
	}
	return nil
}

// readBenchResult reads a bench.json, or the one in a directory, checked
// against its schema: a truncated or foreign file is one line naming it.
func readBenchResult(arg string, log io.Writer) (*bench.Report, string, error) {
	path := arg
	if st, err := os.Stat(arg); err == nil && st.IsDir() {
		path = filepath.Join(arg, "bench.json")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, path, usagef("compare: %s: no such file (give a bench.json or the directory harness bench wrote)", path)
	} else if err != nil {
		return nil, path, usagef("compare: %v", err)
	}
	if err := reports.ValidateBenchJSON(b); err != nil {
		return nil, path, usagef("compare: %s: %v", path, err)
	}
	r, err := bench.ReadReport(path)
	if err != nil {
		return nil, path, usagef("compare: %v", err)
	}
	if r.Partial {
		fmt.Fprintf(log, "compare: note: %s is a partial result (%s): only its finished runs are compared\n", path, r.Reason)
	}
	return r, path, nil
}
