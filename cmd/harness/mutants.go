package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
	"github.com/gauntlet-kv/gauntlet/internal/progress"
	"github.com/gauntlet-kv/gauntlet/internal/provenance"
	"github.com/gauntlet-kv/gauntlet/mutants"
	"github.com/gauntlet-kv/gauntlet/reports"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type mutantsFlags struct {
	engine     string
	mutants    []string
	detectors  []string
	checkers   []string
	budget     time.Duration
	cellBudget time.Duration
	cases      int
	seed       uint64
	jobs       int
	out        string
	minScore   float64
	quiet      bool
	// adaptive runs conformance and crash block cells with --adaptive.
	adaptive bool
	// shard is --shard i/N (mutants only, not mutants ast).
	shard string
	// statusInterval is the time between two status lines off a
	// terminal (0: progress.IntervalDefault).
	statusInterval time.Duration
}

func newMutantsCmd() *cobra.Command {
	f := &mutantsFlags{}
	cmd := &cobra.Command{
		Use:   "mutants",
		Short: "Score the checkers with seeded bugs: which mutants each checker kills, how fast",
		Long: `mutants runs every selected checker (a detector: checker, mode, faults) against
every selected mutant of shardstore's catalogue — named, documented bugs put in
the engine on purpose (harness mutants list) — and scores the checkers:
killed / (killed + survived), per detector and combined, with the denominator.

Each cell (mutant × detector) is a worker process of a harness built with
-tags mutants (built from this source into --out/bin when this binary lacks
the switch), running "harness check <checker> --engine shardstore:mutant=NAME"
for its share of --budget: the whole run's budget, spread over the cells left
as the run goes, so a quickly killed mutant leaves its time to the rest. The
cells the score depends on run first (the baseline, the canary, each
mutant's expected detectors); a quarter of the budget, and what quick kills
return, then goes to the mutants no detector killed: their expected cells
run again on the next seeds (seed+1, ...) until one kills them or only the
budget is spent; the rest (detectors a mutant is not expected to meet) run
last on what is left, at least a second each, and those the budget has no
second for are shown "-" (not run, counted apart). A cell stops 5 s past its
budget: a kill is scored from the violation as found, its minimizing cut
there. The summary gives each kill's cases and seconds over all its runs,
and the seed that killed.

Two rows keep the score honest: the unmutated engine (none) must pass every
detector, and the canary must be killed by every one; if either fails, the
run says NOT TRUSTWORTHY and exits 3. Concurrency mutants wait for the
interleave checker: shown, never scored.

A run is resumable: finished cells are saved under --out/cells keyed by
mutant, detector, seed and commit; run the same command again after an
interruption and only the missing cells run.

Writes --out/mutants.json (schema gauntlet.mutants/v1), mutants.png and
mutants.svg (the heatmap), and prints the matrix, the scores and the
survivors. Exit 0 when the combined score is at least --min-score, 1 below
it, 3 when the run cannot be trusted, 130/143 when interrupted.`,
		Example: `  harness mutants --budget 5m
  harness mutants --mutant canary,older-slot-chosen --detector crash/block --budget 1m
  harness mutants list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runMutants(cmd, *f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.engine, "engine", "shardstore", "the engine spec the mutants run in (shardstore, with any options)")
	fl.StringSliceVar(&f.mutants, "mutant", nil, "mutants to run, by name (default: the whole catalogue); the baseline and the canary always run")
	fl.StringSliceVar(&f.detectors, "detector", nil, "detectors, as checker[/mode][+faults] (default: every mode of every checker, with and without faults)")
	addCellFlags(fl, f, 5*time.Minute, "the checkers' seed, the same for every cell")
	fl.StringVar(&f.out, "out", filepath.Join("out", "mutants"), "output directory: cells/, traces, mutants.json, the heatmap")
	fl.Float64Var(&f.minScore, "min-score", 100, "exit 1 when the combined score (percent) is below this")
	fl.StringVar(&f.shard, "shard", "", shardFlagUsage+"; a shard runs the baseline, the canary and every Nth other mutant")
	cmd.AddCommand(newMutantsListCmd(), newMutantsASTCmd())
	return cmd
}

// addCellFlags registers the flags harness mutants and mutants ast share:
// which detectors, how long, how many at once.
func addCellFlags(fl *pflag.FlagSet, f *mutantsFlags, budget time.Duration, seedDoc string) {
	fl.StringSliceVar(&f.checkers, "checker", nil, "only the detectors of these checkers")
	fl.DurationVar(&f.budget, "budget", budget, "the whole run's time, shared out over the cells")
	fl.DurationVar(&f.cellBudget, "cell-budget", 0, "every cell's time instead of a share of --budget")
	fl.IntVar(&f.cases, "cases", 0, "cap each cell's cases (0: its budget only)")
	fl.BoolVar(&f.adaptive, "adaptive", false, "run the conformance and crash block detectors with --adaptive (their saved cells are kept apart)")
	fl.Uint64Var(&f.seed, "seed", 1, seedDoc)
	fl.IntVar(&f.jobs, "jobs", 0, "cells run at once, one core each (0: one per CPU)")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress (a bar on a terminal, else a status line every --status-interval and a line per cell)")
	fl.DurationVar(&f.statusInterval, "status-interval", progress.IntervalDefault, "off a terminal, the time between two status lines on stderr")
}

func newMutantsListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List shardstore's catalogue of mutants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "name\tcomponent\tpaper\texpected detectors\t")
			for _, m := range mutant.Catalogue() {
				paper := "-"
				if m.Paper > 0 {
					paper = fmt.Sprintf("#%d", m.Paper)
				}
				expect := detectorNames(m.Expect)
				if m.Waits() {
					expect = "waits for interleave"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", m.Name, m.Component, paper, expect)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\n%d mutants; what each does: harness mutants list is the index, engine/shardstore/mutant the documentation\n", len(mutant.Catalogue()))
			return nil
		},
	}
}

func detectorNames(ds []mutant.Detector) string {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = mutants.Detector(d).String()
	}
	return strings.Join(names, ", ")
}

// withOption adds key=value to an engine spec.
func withOption(spec, key, value string) string {
	if strings.Contains(spec, ":") {
		return spec + "," + key + "=" + value
	}
	return spec + ":" + key + "=" + value
}

// mutantsPlan turns the flags into the run's subjects and detectors.
func mutantsPlan(f mutantsFlags) ([]mutants.Subject, []mutants.Row, []mutants.Detector, error) {
	if strings.Contains(f.engine, "mutant=") {
		return nil, nil, nil, usagef("mutants: --engine %s: give shardstore[:options] without mutant= (the runner turns each mutant on in turn; --mutant picks some)", f.engine)
	}
	d, _, err := resolveCheckEngine(f.engine)
	if err != nil {
		return nil, nil, nil, usageError{err}
	}
	if d.Name != "shardstore" {
		return nil, nil, nil, usagef("mutants: --engine %s: the catalogue's mutants are shardstore's (AST mutants of other engines: harness mutants ast)", f.engine)
	}
	dets, err := selectDetectors(f)
	if err != nil {
		return nil, nil, nil, err
	}
	catalogue := mutant.Catalogue()
	want := map[string]bool{}
	for _, n := range f.mutants {
		if _, ok := mutant.Lookup(n); !ok && n != mutants.Baseline {
			return nil, nil, nil, usagef("mutants: --mutant %s: no such mutant (harness mutants list names them)", n)
		}
		want[n] = true
	}
	subjects := []mutants.Subject{{Name: mutants.Baseline, Engine: f.engine}}
	rows := []mutants.Row{{Name: mutants.Baseline, Wrong: "no mutant: every detector must pass"}}
	for _, m := range catalogue {
		if len(want) > 0 && !want[m.Name] && m.Name != mutants.Canary {
			continue
		}
		s := mutants.Subject{Name: m.Name, Engine: withOption(f.engine, "mutant", m.Name)}
		row := mutants.Row{Name: m.Name, Component: m.Component, Paper: m.Paper, Class: m.Class, Wrong: m.Wrong}
		for _, e := range m.Expect {
			s.Expect = append(s.Expect, mutants.Detector(e))
			row.Expect = append(row.Expect, mutants.Detector(e).String())
		}
		if m.Waits() {
			s.Skip, s.SkipWhy = mutants.Waits, "waits for the interleave checker: "+m.Why
		}
		subjects = append(subjects, s)
		rows = append(rows, row)
	}
	return subjects, rows, dets, nil
}

// selectDetectors is --detector, or every detector of the checker table
// (of --checker's checkers).
func selectDetectors(f mutantsFlags) ([]mutants.Detector, error) {
	all := mutants.Detectors(checkerTable)
	for _, c := range f.checkers {
		if !slices.ContainsFunc(checkerTable, func(k checkers.Checker) bool { return k.Name == c }) {
			return nil, usagef("mutants: --checker %s: no such checker (want %s)", c, checkerNames(", ", nil))
		}
	}
	var out []mutants.Detector
	if len(f.detectors) > 0 {
		for _, s := range f.detectors {
			d, err := mutants.ParseDetector(s)
			if err != nil {
				return nil, usagef("mutants: --detector: %v", err)
			}
			if !slices.Contains(all, d) {
				names := make([]string, len(all))
				for i, a := range all {
					names[i] = a.String()
				}
				return nil, usagef("mutants: --detector %s: no such detector (want one of %s)", s, strings.Join(names, ", "))
			}
			out = append(out, d)
		}
	} else {
		out = all
	}
	if len(f.checkers) > 0 {
		out = slices.DeleteFunc(out, func(d mutants.Detector) bool { return !slices.Contains(f.checkers, d.Checker) })
	}
	if len(out) == 0 {
		return nil, usagef("mutants: no detector left to run (--detector and --checker exclude each other)")
	}
	return out, nil
}

func runMutants(cmd *cobra.Command, f mutantsFlags) error {
	ctx, stop := interruptContext(cmd.Context(), false)
	defer stop()
	r, err := scoreMutants(ctx, f, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	return writeMutants(cmd.OutOrStdout(), f, r)
}

// scoreMutants runs the catalogue's cells as f selects and builds the
// report; progress and notes go to stderr.
func scoreMutants(ctx context.Context, f mutantsFlags, stderr io.Writer) (mutants.Report, error) {
	switch {
	case f.budget <= 0 && f.cellBudget <= 0:
		return mutants.Report{}, usagef("mutants: --budget %s: give the run some time, e.g. --budget 5m", f.budget)
	case f.jobs < 0:
		return mutants.Report{}, usagef("mutants: --jobs %d: give a number of cells to run at once, or 0 for one per CPU", f.jobs)
	case f.minScore < 0 || f.minScore > 100:
		return mutants.Report{}, usagef("mutants: --min-score %g: want a percentage from 0 to 100", f.minScore)
	case f.cases < 0:
		return mutants.Report{}, usagef("mutants: --cases %d: want a number of cases, or 0 for the budget only", f.cases)
	}
	subjects, rows, dets, err := mutantsPlan(f)
	if err != nil {
		return mutants.Report{}, err
	}
	meta, err := mutantsShard(&f, &subjects, &rows, dets)
	if err != nil {
		return mutants.Report{}, err
	}
	if f.jobs == 0 {
		f.jobs = runtime.NumCPU()
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return mutants.Report{}, usagef("mutants: --out %s: %v", f.out, err)
	}
	build := provenance.Read()
	commit := build.Commit
	if build.Modified {
		commit += "+modified" // never resumed by a later run: the tree may differ
	}
	if f.adaptive {
		commit += "+adaptive" // keys the saved cells apart from fixed-mix ones
	}
	exe, err := mutantsHarness(ctx, f.out, stderr)
	if err != nil {
		return mutants.Report{}, err
	}
	for i := range subjects {
		subjects[i].Exe = exe
	}
	cfg := mutants.Config{
		Subjects: subjects, Detectors: dets, Seed: f.seed, Budget: f.budget, CellBudget: f.cellBudget,
		Cases: f.cases, Jobs: f.jobs, OutDir: f.out, Commit: commit, Adaptive: f.adaptive, Rounds: true, Grace: mutantsGrace,
		Replay: func(s mutants.Subject, d mutants.Detector, trace string) string {
			return "go run -tags mutants ./cmd/harness check " + d.Checker + " --replay " + trace
		},
	}
	if m := newMeter(stderr, f.quiet, f.statusInterval); m != nil {
		defer m.Close()
		cfg.Progress = cellsMeter(m, stderr, "mutants", isTerminal(stderr))
	}
	fmt.Fprintf(stderr, "mutants: %d mutants × %d detectors = %d cells, %d at a time, budget %s; out %s\n",
		len(subjects), len(dets), len(subjects)*len(dets), f.jobs, f.budget, f.out)
	noteResume(stderr, commit)
	started := time.Now()
	cells, err := mutants.Run(ctx, cfg)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			var ie interruptedError
			if errors.As(cause, &ie) {
				return mutants.Report{}, interruptedError{sig: ie.sig, err: fmt.Errorf("mutants %s: finished cells are saved in %s; run the same command again to resume", ie, filepath.Join(f.out, "cells"))}
			}
		}
		return mutants.Report{}, err
	}
	r := mutants.Build(rows, dets, cells)
	r.Commit, r.Command, r.Started, r.Elapsed, r.Budget, r.Seed = commit, "harness "+strings.Join(os.Args[1:], " "), started.UTC(), time.Since(started), f.budget, f.seed
	r.Shard = meta
	return r, nil
}

// writeMutants writes the report and the heatmap, prints the summary and
// turns the score into the exit code.
func writeMutants(w io.Writer, f mutantsFlags, r mutants.Report) error {
	b, err := r.JSON()
	if err != nil {
		return err
	}
	if err := reports.ValidateMutantsJSON(b); err != nil {
		return fmt.Errorf("mutants: the report does not match its schema (a bug): %w", err)
	}
	name := "mutants.json"
	if r.Shard != nil {
		// A shard's report, in its own folder, named for it (mutantsShard).
		f.out = filepath.Join(f.out, r.Shard.Shard().Suffix())
		name = "mutants-" + r.Shard.Shard().Suffix() + ".json"
	}
	path := filepath.Join(f.out, name)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("mutants: %w", err)
	}
	plots, err := reports.WriteMutantsHeatmap(f.out, &r)
	if err != nil {
		return err
	}
	if err := r.WriteSummary(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nreport: %s\nheatmap: %s\n", path, strings.Join(plots, ", "))
	if r.Trust != "" {
		return fmt.Errorf("mutants: the scores cannot be trusted: %s", r.Trust)
	}
	if p := r.Combined.Percent(); p >= 0 && p < f.minScore {
		return violationError{msg: fmt.Sprintf("mutants: combined score %s is below --min-score %g%%", r.Combined, f.minScore)}
	}
	return nil
}

// mutantsGrace is how long a catalogue cell may run past its budget. A
// cell that found a violation is scored killed from the Result its worker
// wrote when it found it, so minimizing is cut there (the replay command
// runs the trace as found): minimizing each kill for the checkers' 30 s
// took twice the whole budget of a 5-minute run on two cores.
const mutantsGrace = 5 * time.Second

// noteResume says when a run's cells cannot be resumed.
func noteResume(w io.Writer, commit string) {
	if !mutants.Resumable(commit) {
		fmt.Fprintf(w, "mutants: note: commit %s: cells are not saved for a later run to resume (only a clean, known commit's are: the next edit would keep this name)\n", commit)
	}
}

// mutantsHarness is the harness the cells run: this one if it has the
// mutant switch, else one built from its source with -tags mutants.
func mutantsHarness(ctx context.Context, out string, log io.Writer) (string, error) {
	if mutant.Built() {
		return os.Executable()
	}
	return taggedHarness(ctx, "mutants", []string{"mutants"}, out, log)
}
