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
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/coverage"
	"github.com/gauntlet-kv/gauntlet/internal/provenance"
	"github.com/gauntlet-kv/gauntlet/mutants"
	"github.com/gauntlet-kv/gauntlet/mutants/astmut"
	"github.com/spf13/cobra"
)

type astFlags struct {
	mutantsFlags
	pkg    string
	sample int
	ops    []string
}

func newMutantsASTCmd() *cobra.Command {
	f := &astFlags{}
	cmd := &cobra.Command{
		Use:   "ast",
		Short: "Mutate any Go package (shardstore's, a peer's from the module cache) and score the checkers on it",
		Long: `ast applies the usual mutation operators to one Go package — one of gauntlet's or
a dependency's straight from the module cache (go.etcd.io/bbolt) — and runs the
checkers against an engine built with each mutant, scoring them as harness
mutants does: killed / (killed + survived).

Nothing on disk is changed: each mutant is a file in --out/work compiled into
its own harness with go build -overlay. A mutant that does not compile is not
viable; one on a line no detector executes (Go's coverage of the unmutated
engine's run under every detector, which is also the baseline that must pass)
is not covered. Neither is run or scored. Survivors are listed with their diff;
an equivalent-mutant hint marks the ones that likely change nothing a caller
can see, for review.

--sample N --seed S draws a reproducible subset of a large package's mutants.
Resumable as harness mutants is. Run it from a checkout of gauntlet: the
mutated harnesses are built from its source.`,
		Example: `  harness mutants ast --pkg go.etcd.io/bbolt --engine bbolt --sample 40 --budget 10m
  harness mutants ast --pkg ./engine/shardstore/internal/lsm --engine shardstore --sample 30`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runMutantsAST(cmd, *f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.pkg, "pkg", "", "the package to mutate: an import path or ./dir (required)")
	fl.StringVar(&f.engine, "engine", "", "the engine spec whose runs use the package (required)")
	fl.IntVar(&f.sample, "sample", 0, "run a reproducible sample of this many mutants (0: all)")
	fl.StringSliceVar(&f.ops, "op", nil, "only these mutation operators (default: all)")
	fl.StringSliceVar(&f.detectors, "detector", nil, "detectors, as checker[/mode][+faults] (default: every one the engine can run)")
	addCellFlags(fl, &f.mutantsFlags, 10*time.Minute, "the checkers' seed and the sample's")
	fl.StringVar(&f.out, "out", filepath.Join("out", "mutants-ast"), "output directory")
	fl.Float64Var(&f.minScore, "min-score", 0, "exit 1 when the score (percent) is below this")
	return cmd
}

// astDetectors are the detectors that can run engine d: a device-only mode
// or faults need an engine that opens on a device.
func astDetectors(f mutantsFlags, onDevice bool) ([]mutants.Detector, error) {
	dets, err := selectDetectors(f)
	if err != nil {
		return nil, err
	}
	dets = runnableDetectors(dets, onDevice)
	if len(dets) == 0 {
		return nil, usagef("mutants ast: --engine %s runs on a directory: none of the detectors given can check it (faults and block mode need a device engine)", f.engine)
	}
	return dets, nil
}

// runnableDetectors drops from dets what an engine that does not open on
// a device cannot run: faults, and the modes that need a device.
func runnableDetectors(dets []mutants.Detector, onDevice bool) []mutants.Detector {
	if onDevice {
		return dets
	}
	deviceMode := func(d mutants.Detector) bool {
		for _, c := range checkerTable {
			if c.Name == d.Checker {
				return slices.ContainsFunc(c.Modes, func(m checkers.Mode) bool { return m.Name == d.Mode && m.Device })
			}
		}
		return false
	}
	return slices.DeleteFunc(slices.Clone(dets), func(d mutants.Detector) bool { return d.Faults || deviceMode(d) })
}

func runMutantsAST(cmd *cobra.Command, f astFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	switch {
	case f.pkg == "":
		return usagef("mutants ast: --pkg is required: the package to mutate, e.g. --pkg go.etcd.io/bbolt")
	case f.engine == "":
		return usagef("mutants ast: --engine is required: the engine whose runs use --pkg, e.g. --engine bbolt")
	case f.budget <= 0 && f.cellBudget <= 0:
		return usagef("mutants ast: --budget %s: give the run some time, e.g. --budget 10m", f.budget)
	case f.sample < 0:
		return usagef("mutants ast: --sample %d: want a number of mutants, or 0 for all", f.sample)
	case f.jobs < 0:
		return usagef("mutants ast: --jobs %d: give a number of cells to run at once, or 0 for one per CPU", f.jobs)
	}
	d, _, err := resolveCheckEngine(f.engine)
	if err != nil {
		return usageError{err}
	}
	dets, err := astDetectors(f.mutantsFlags, d.Device != nil)
	if err != nil {
		return err
	}
	ops := astmut.Operators()
	if len(f.ops) > 0 {
		for _, o := range f.ops {
			if !slices.Contains(ops, astmut.Operator(o)) {
				return usagef("mutants ast: --op %s: no such operator (want one of %s)", o, joinOps(ops))
			}
		}
		ops = ops[:0]
		for _, o := range f.ops {
			ops = append(ops, astmut.Operator(o))
		}
	}
	root, err := provenance.SourceRoot()
	if err != nil {
		return fmt.Errorf("mutants ast: %v: run it with go run ./cmd/harness from a checkout", err)
	}
	if f.out, err = filepath.Abs(f.out); err != nil {
		return err
	}
	if f.jobs == 0 {
		f.jobs = runtime.NumCPU()
	}
	ctx, stop := interruptContext(cmd.Context(), false)
	defer stop()
	// go list resolves a dependency's package through the module's build
	// list: run it where the module is.
	if err := os.Chdir(root); err != nil {
		return err
	}
	importPath, dir, err := astmut.PackageDir(ctx, f.pkg)
	if err != nil {
		return usagef("mutants ast: --pkg %s: %v", f.pkg, err)
	}
	all, err := astmut.Enumerate(dir, ops)
	if err != nil {
		return fmt.Errorf("mutants ast: %w", err)
	}
	picked := all
	if f.sample > 0 {
		picked = astmut.Sample(all, f.sample, f.seed)
	}
	fmt.Fprintf(stderr, "mutants ast: %s (%s): %d mutants, %d drawn (seed %d); %d detectors\n", importPath, dir, len(all), len(picked), f.seed, len(dets))
	build := provenance.Read()
	commit := build.Commit
	if build.Modified {
		commit += "+modified"
	}
	if f.adaptive {
		commit += "+adaptive" // keys the saved cells apart from fixed-mix ones
	}
	noteResume(stderr, commit)
	cfg := mutants.Config{Detectors: dets, Seed: f.seed, Cases: f.cases, Jobs: f.jobs, OutDir: f.out, Commit: commit, Adaptive: f.adaptive, Rounds: true,
		Replay: func(s mutants.Subject, d mutants.Detector, trace string) string {
			return fmt.Sprintf("(the mutant's harness: see %s) harness check %s --replay %s", filepath.Join(f.out, "mutants.json"), d.Checker, trace)
		}}
	if m := newMeter(stderr, f.quiet, f.statusInterval); m != nil {
		defer m.Close()
		cfg.Progress = cellsMeter(m, stderr, "mutants ast", isTerminal(stderr))
	}
	started := time.Now()
	cells := len(dets) * (len(picked) + 1)
	share := f.cellBudget
	if share == 0 {
		share = max(time.Duration(int64(f.budget)*int64(f.jobs)/int64(cells)), 2*time.Second)
	}

	// The baseline, on a harness built with coverage of the package: it
	// must pass, and what it executes decides which mutants are covered.
	profile, base, err := astBaseline(ctx, cfg, root, importPath, f.engine, share, stderr)
	if err != nil {
		return err
	}
	subjects, rows := astSubjects(picked, profile, f.engine, root, f.out)
	cfg.Subjects = subjects
	cfg.CellBudget = f.cellBudget
	cfg.Budget = f.budget - time.Since(started)
	rest, err := mutants.Run(ctx, cfg)
	if err != nil {
		var ie interruptedError
		if errors.As(context.Cause(ctx), &ie) {
			return interruptedError{sig: ie.sig, err: fmt.Errorf("mutants ast %s: finished cells are saved in %s; run the same command again to resume", ie, filepath.Join(f.out, "cells"))}
		}
		return err
	}
	rows = append([]mutants.Row{{Name: mutants.Baseline, Wrong: "no mutant: every detector must pass (run with coverage)"}}, rows...)
	r := mutants.Build(rows, dets, append(base, rest...))
	r.Commit, r.Command, r.Started, r.Elapsed, r.Budget, r.Seed = commit, "harness "+strings.Join(os.Args[1:], " "), started.UTC(), time.Since(started), f.budget, f.seed
	return writeMutants(stdout, f.mutantsFlags, r)
}

func joinOps(ops []astmut.Operator) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// harnessPkg is the harness's own import path.
const harnessPkg = "github.com/gauntlet-kv/gauntlet/cmd/harness"

// astBaseline builds a harness with coverage of pkg, runs every detector
// on the unmutated engine with it, and returns the coverage profile and
// the baseline's cells.
func astBaseline(ctx context.Context, cfg mutants.Config, root, pkg, engine string, budget time.Duration, log io.Writer) (astmut.Profile, []mutants.Cell, error) {
	bin := filepath.Join(cfg.OutDir, "bin", "harness-cover")
	fmt.Fprintf(log, "mutants ast: building the harness with coverage of %s\n", pkg)
	// The same build as harness coverage --code: atomic counters, so the
	// workload of a kill-mode child, which is killed, counts too.
	if err := coverage.BuildCovered(ctx, root, pkg, harnessPkg, bin); err != nil {
		return astmut.Profile{}, nil, fmt.Errorf("mutants ast: %w", err)
	}
	covDir := filepath.Join(cfg.OutDir, "cover", cfg.Commit)
	// A resumed baseline reuses its cells, and so must reuse the counters
	// those cells wrote: the directory is kept per commit.
	if err := os.MkdirAll(covDir, 0o755); err != nil {
		return astmut.Profile{}, nil, err
	}
	cfg.Subjects = []mutants.Subject{{Name: mutants.Baseline, Engine: engine, Exe: bin, Env: []string{"GOCOVERDIR=" + covDir}}}
	cfg.CellBudget = budget
	cells, err := mutants.Run(ctx, cfg)
	if err != nil {
		return astmut.Profile{}, nil, err
	}
	text := filepath.Join(cfg.OutDir, "cover.txt")
	if err := coverage.WriteProfile(ctx, []string{covDir}, text); err != nil {
		return astmut.Profile{}, nil, fmt.Errorf("mutants ast: %w", err)
	}
	fh, err := os.Open(text)
	if err != nil {
		return astmut.Profile{}, nil, err
	}
	defer fh.Close()
	if st, err := fh.Stat(); err == nil && st.Size() == 0 {
		return astmut.Profile{}, nil, fmt.Errorf("mutants ast: the baseline runs wrote no coverage data to %s (a harness built with -cover writes it at exit: did every cell end by a kill?)", covDir)
	}
	p, err := astmut.ParseProfile(fh)
	if err != nil {
		return astmut.Profile{}, nil, fmt.Errorf("mutants ast: %s: %w", text, err)
	}
	return p, cells, nil
}

// astSubjects makes a subject of each mutant: skipped when the baseline
// never executed its line, else prepared by an overlay build of the
// harness (dropped when the package does not compile) and cleaned up once
// its cells are done.
func astSubjects(ms []astmut.Mutant, profile astmut.Profile, engine, root, out string) ([]mutants.Subject, []mutants.Row) {
	var subjects []mutants.Subject
	var rows []mutants.Row
	for _, m := range ms {
		s := mutants.Subject{Name: m.ID, Engine: engine}
		row := mutants.Row{Name: m.ID, Component: m.Func, Class: string(m.Operator), Diff: m.Diff(), Hint: m.EquivalentHint()}
		if covered, known := profile.Covers(m); !covered {
			s.Skip = mutants.NotCovered
			s.SkipWhy = "no detector executed this line on the unmutated engine"
			if !known {
				s.SkipWhy = "the coverage profile has no blocks for this file"
			}
		} else {
			work := filepath.Join(out, "work", slugID(m.ID))
			bin := filepath.Join(work, "harness")
			m := m
			s.Prepare = func(ctx context.Context) (string, error) {
				if err := astmut.Check(ctx, m, work); err != nil {
					var nv *astmut.NotViableError
					if errors.As(err, &nv) {
						return "", fmt.Errorf("%w: %s", mutants.ErrNotViable, nv.Output)
					}
					return "", err
				}
				if err := astmut.Build(ctx, m, work, bin, nil, "./cmd/harness"); err != nil {
					return "", err
				}
				return bin, nil
			}
			s.Cleanup = func() { os.RemoveAll(work) }
		}
		subjects = append(subjects, s)
		rows = append(rows, row)
	}
	return subjects, rows
}

// slugID makes a mutant ID one path element.
func slugID(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, id)
}
