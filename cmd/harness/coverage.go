package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gauntlet-kv/gauntlet/internal/provenance"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/coverage"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/reports"
)

type coverageFlags struct {
	engine   string
	checkers string
	budget   time.Duration
	seed     uint64
	out      string
	// adaptive passes --adaptive to the checkers that take it.
	adaptive bool
	// code, if not empty, are the engine packages whose Go code coverage
	// each checker's run measures (--code).
	code string
}

func newCoverageCmd() *cobra.Command {
	var f coverageFlags
	c := &cobra.Command{
		Use:   "coverage [RESULT.json ...]",
		Short: "Show what each checker reaches: engine states, and the fault space",
		Long: `coverage runs each selected checker on the engine for --budget (as harness check
processes: conformance and crash with --faults where the engine runs on a device),
or reads the check Result files given, and prints per checker the engine events it
reached and never reached, and the fault × engine-phase cells its faults hit. It
writes --out/coverage.json (schema gauntlet.coverage/v1, reports/schema/
coverage.schema.json) and, through reports, a heatmap of the fault-space matrix
(coverage-faults.png/.svg) and a bar chart of events per checker
(coverage-events.png/.svg). Counts include the steps of shrinking. Kill-mode crash
checks run the engine in child processes that report no states. --adaptive runs
conformance and crash block with their generators steered toward the states
reached least (harness check --adaptive).

Exit codes: 0 written; 2 usage; 3 a checker could not run or a file could not be read.`,
		Example: `  harness coverage --engine shardstore --budget 30s --out cov
  harness coverage out/conformance-shardstore-1.json out/crash-block-shardstore-1.json`,
		RunE: func(cmd *cobra.Command, args []string) error { return runCoverage(cmd, f, args) },
	}
	fl := c.Flags()
	fl.StringVar(&f.engine, "engine", "shardstore", "engine spec the checkers run")
	fl.StringVar(&f.checkers, "checkers", "conformance,crash,linearize", "checkers to run, comma-separated, each as checker or checker/mode (crash/kill)")
	fl.DurationVar(&f.budget, "budget", 30*time.Second, "time each checker runs")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of every checker's run")
	fl.StringVar(&f.out, "out", "coverage", "directory for the checkers' Results, coverage.json and the figures")
	fl.BoolVar(&f.adaptive, "adaptive", false, "run the checkers that can steer their generator (conformance, crash block) with --adaptive")
	fl.StringVar(&f.code, "code", "", "also measure Go code coverage of these packages per checker (e.g. ./engine/shardstore/...): the checks run in a harness built with -cover from this checkout")
	return c
}

// coverageRun is one Result file and how it was made.
type coverageRun struct {
	path   string
	faults bool
	mode   string
	// gocover is the GOCOVERDIR the run wrote its counters to (--code).
	gocover string
}

func runCoverage(cmd *cobra.Command, f coverageFlags, files []string) error {
	if f.budget <= 0 {
		return usagef("coverage: --budget %s: give a positive duration", f.budget)
	}
	d, o, err := resolveCheckEngine(f.engine)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return usagef("coverage: --out %s: %v", f.out, unwrapPathErr(err))
	}
	var runs []coverageRun
	if len(files) > 0 {
		for _, p := range files {
			runs = append(runs, coverageRun{path: p})
		}
	} else {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("coverage: find the harness executable: %w", err)
		}
		if f.code != "" {
			if exe, err = coverHarness(cmd, f); err != nil {
				return err
			}
		}
		for name := range strings.SplitSeq(f.checkers, ",") {
			name, mode, _ := strings.Cut(strings.TrimSpace(name), "/")
			i := slices.IndexFunc(checkerTable, func(c checkers.Checker) bool { return c.Name == name })
			if i < 0 {
				return usagef("coverage: --checkers: unknown checker %q: want some of %s", name, checkerNames(", ", nil))
			}
			chk := checkerTable[i]
			if mode != "" && !slices.ContainsFunc(chk.Modes, func(m checkers.Mode) bool { return m.Name == mode }) {
				return usagef("coverage: --checkers %s/%s: %s has no mode %q", name, mode, name, mode)
			}
			r, err := runCoverageCheck(cmd, exe, chk, mode, f, d.Device != nil)
			if err != nil {
				return err
			}
			runs = append(runs, r)
		}
	}
	doc, err := coverageDoc(runs, d, o.Spec().String())
	if err != nil {
		return err
	}
	if f.code != "" && len(files) == 0 {
		if err := codeCoverage(cmd, f, runs, &doc); err != nil {
			return err
		}
	}
	printCoverage(cmd.OutOrStdout(), &doc, expectedEvents(d))
	path, figs, err := writeCoverageDoc(f.out, &doc)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "coverage: %s\nfigures: %s\n", path, strings.Join(figs, " "))
	return nil
}

// coverageDoc reads the check Results of runs into one coverage document
// of engine d (spec, until a Result names the checkers' own).
func coverageDoc(runs []coverageRun, d engine.Driver, spec string) (coverage.Doc, error) {
	doc := coverage.Doc{Schema: coverage.DocSchema, Engine: spec, Checkers: []coverage.Checker{}}
	expected := expectedEvents(d)
	for _, r := range runs {
		b, err := os.ReadFile(r.path)
		if err != nil {
			return doc, fmt.Errorf("coverage: %w", err)
		}
		if err := reports.ValidateCheckJSON(b); err != nil {
			return doc, usagef("coverage: %s: %v", r.path, err)
		}
		var res checkers.Result
		if err := json.Unmarshal(b, &res); err != nil {
			return doc, usagef("coverage: %s: %v", r.path, err)
		}
		ch := coverage.Checker{Checker: res.Checker, Mode: r.mode, Faults: r.faults || res.Coverage != nil && hasDeviceFaults(res.Coverage),
			Engine: res.Engine, Verdict: string(res.Verdict), Cases: res.Cases, Ops: res.Ops, ElapsedNS: int64(res.Elapsed), Result: r.path, Coverage: res.Coverage}
		ch.Never(expected)
		doc.Checkers = append(doc.Checkers, ch)
	}
	// The checkers' own spec: a device engine's spells out its check
	// defaults, not the driver's directory defaults.
	if len(doc.Checkers) > 0 {
		doc.Engine = doc.Checkers[0].Engine
	}
	return doc, nil
}

// writeCoverageDoc writes doc as out/coverage.json, validated, with its
// figures; it returns their paths.
func writeCoverageDoc(out string, doc *coverage.Doc) (string, []string, error) {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", nil, err
	}
	if err := reports.ValidateCoverageJSON(b); err != nil {
		return "", nil, fmt.Errorf("coverage: the document does not match its schema (a bug): %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", nil, fmt.Errorf("coverage: %w", err)
	}
	path := filepath.Join(out, "coverage.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return "", nil, fmt.Errorf("coverage: %w", err)
	}
	figs, err := reports.WriteCoveragePlots(out, doc)
	if err != nil {
		return "", nil, err
	}
	return path, figs, nil
}

// modeOfResultFile is the mode a check Result's file name says it ran
// in (checkers.FileStem: checker-mode-engine-seed), "" if none.
func modeOfResultFile(checker, name string) string {
	for _, c := range checkerTable {
		if c.Name != checker {
			continue
		}
		for _, m := range c.Modes {
			if m.Name != "" && strings.HasPrefix(name, checker+"-"+m.Name+"-") {
				return m.Name
			}
		}
	}
	return ""
}

// checkResultFiles lists the check Results under dir (a gate's or a
// night's checks: each cell's worker wrote one), in a stable order; other
// JSON files (gate.json, a cell's record) are not Results and are left out.
func checkResultFiles(dir string) ([]coverageRun, error) {
	var runs []coverageRun
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || filepath.Ext(p) != ".json" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var res checkers.Result
		if reports.ValidateCheckJSON(b) != nil || json.Unmarshal(b, &res) != nil || res.Checker == "" {
			return nil
		}
		runs = append(runs, coverageRun{path: p, mode: modeOfResultFile(res.Checker, filepath.Base(p))})
		return nil
	})
	return runs, err
}

// coverHarness builds the harness with Go's coverage instrumentation of
// f.code's packages (and its own main package: a binary whose main is not
// instrumented writes no counters) from this binary's source checkout.
func coverHarness(cmd *cobra.Command, f coverageFlags) (string, error) {
	root, err := provenance.SourceRoot()
	if err != nil {
		return "", usagef("coverage: --code needs a checkout of gauntlet to build from: %v (run go run ./cmd/harness coverage --code ... in one)", err)
	}
	bin, err := filepath.Abs(filepath.Join(f.out, "bin", "harness-cover"))
	if err != nil {
		return "", err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "coverage: building the harness with coverage of %s\n", f.code)
	if err := coverage.BuildCovered(cmd.Context(), root, f.code, harnessPkg, bin); err != nil {
		return "", usagef("coverage: --code %s: %v", f.code, err)
	}
	return bin, nil
}

// codeCoverage fills doc with the Go code coverage of f.code's packages
// the runs' counters give: per checker and package the share of
// statements executed (go tool covdata percent), and the functions no
// checker executed (go tool covdata func over every run's counters).
func codeCoverage(cmd *cobra.Command, f coverageFlags, runs []coverageRun, doc *coverage.Doc) error {
	pkgs, err := goListPackages(cmd, f.code)
	if err != nil {
		return err
	}
	var dirs []string
	for i, r := range runs {
		out, err := covdata(cmd, "percent", r.gocover, pkgs)
		if err != nil {
			return err
		}
		doc.Checkers[i].Code = parsePercent(out)
		dirs = append(dirs, r.gocover)
	}
	out, err := covdata(cmd, "func", strings.Join(dirs, ","), pkgs)
	if err != nil {
		return err
	}
	for line := range strings.SplitSeq(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 3 && fields[2] == "0.0%" {
			doc.CodeNever = append(doc.CodeNever, strings.TrimSuffix(fields[0], ":")+": "+fields[1])
		}
	}
	return nil
}

// goListPackages resolves a package pattern to import paths.
func goListPackages(cmd *cobra.Command, pattern string) ([]string, error) {
	root, err := provenance.SourceRoot()
	if err != nil {
		return nil, err
	}
	c := exec.CommandContext(cmd.Context(), "go", append([]string{"list"}, strings.Split(pattern, ",")...)...)
	c.Dir = root
	b, err := c.Output()
	if err != nil {
		return nil, usagef("coverage: --code %s: go list: %v", pattern, err)
	}
	return strings.Fields(string(b)), nil
}

// covdata runs go tool covdata MODE on the counters in dirs for pkgs.
func covdata(cmd *cobra.Command, mode, dirs string, pkgs []string) (string, error) {
	out, err := coverage.Covdata(cmd.Context(), mode, strings.Split(dirs, ","), pkgs)
	if err != nil {
		return "", fmt.Errorf("coverage: %w", err)
	}
	return out, nil
}

// parsePercent reads go tool covdata percent's lines
// ("\tpkg\t\tcoverage: 71.2% of statements") into package → percent.
func parsePercent(out string) map[string]float64 {
	m := map[string]float64{}
	for line := range strings.SplitSeq(out, "\n") {
		pkg, rest, ok := strings.Cut(strings.TrimSpace(line), "coverage: ")
		if !ok {
			continue
		}
		pct, _, _ := strings.Cut(rest, "%")
		if v, err := strconv.ParseFloat(pct, 64); err == nil {
			m[strings.TrimSpace(pkg)] = v
		}
	}
	return m
}

// hasDeviceFaults reports whether a run injected device faults.
func hasDeviceFaults(r *coverage.Report) bool {
	return slices.ContainsFunc(r.Cells, func(c coverage.CellCount) bool {
		return c.Fault != coverage.FaultCrash && c.Fault != coverage.FaultTorn
	})
}

// runCoverageCheck runs one checker as a harness check process for the
// budget and returns its Result file. Checkers that take --faults get it
// when the engine runs on a device; a checker with modes runs its
// engine's default mode.
func runCoverageCheck(cmd *cobra.Command, exe string, chk checkers.Checker, mode string, f coverageFlags, device bool) (coverageRun, error) {
	out := filepath.Join(f.out, chk.Name)
	if mode != "" {
		out += "-" + mode
	}
	args := []string{"check", chk.Name, "--engine", f.engine, "--budget", f.budget.String(), "--seed", fmt.Sprint(f.seed), "--out", out, "--quiet"}
	r := coverageRun{mode: mode}
	if len(chk.Modes) > 0 && r.mode == "" {
		r.mode = defaultMode(chk.Modes, device)
	}
	modeDevice := !slices.ContainsFunc(chk.Modes, func(m checkers.Mode) bool { return m.Name == r.mode && !m.Device })
	if chk.Faults && device && modeDevice {
		args = append(args, "--faults")
		r.faults = true
	}
	if r.mode != "" {
		args = append(args, "--mode", r.mode)
	}
	if f.adaptive && chk.Adaptive && modeDevice {
		args = append(args, "--adaptive")
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "coverage: harness %s\n", strings.Join(args, " "))
	c := exec.CommandContext(cmd.Context(), exe, args...)
	c.Env = append(os.Environ(), checkers.ChildEnv+"=1")
	if f.code != "" {
		r.gocover = filepath.Join(out, "gocover")
		if err := os.MkdirAll(r.gocover, 0o755); err != nil {
			return r, fmt.Errorf("coverage: %w", err)
		}
		abs, err := filepath.Abs(r.gocover)
		if err != nil {
			return r, err
		}
		c.Env = append(c.Env, "GOCOVERDIR="+abs)
	}
	var stdout strings.Builder
	c.Stdout, c.Stderr = &stdout, &stdout
	err := c.Run()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == exitViolation) {
		return r, fmt.Errorf("coverage: check %s: %v\n%s", chk.Name, err, stdout.String())
	}
	r.path = filepath.Join(out, checkers.FileStem(chk.Name, r.mode, f.engine, f.seed)+".json")
	return r, nil
}

// expectedEvents are the events a checker of engine d should reach: the
// engine package's list, and one per choice of a sched option (each IO
// scheduling policy's path).
func expectedEvents(d engine.Driver) []engine.Event {
	evs := engine.Events()
	for _, od := range d.Options {
		if od.Name == "sched" {
			for _, c := range od.Choices {
				evs = append(evs, engine.SchedulerEvent(c))
			}
		}
	}
	return evs
}

// printCoverage prints per checker the events reached and never reached,
// and its fault × phase matrix.
func printCoverage(w io.Writer, d *coverage.Doc, expected []engine.Event) {
	fmt.Fprintf(w, "coverage on %s\n", d.Engine)
	for _, ch := range d.Checkers {
		mode := ""
		if ch.Mode != "" {
			mode = " " + ch.Mode
		}
		fmt.Fprintf(w, "\n%s%s (%s, %d cases, %d ops in %s)\n", ch.Checker, mode, ch.Verdict, ch.Cases, ch.Ops, time.Duration(ch.ElapsedNS).Round(time.Millisecond))
		if len(ch.Code) > 0 {
			pkgs := slices.Sorted(maps.Keys(ch.Code))
			parts := make([]string, len(pkgs))
			for i, p := range pkgs {
				parts[i] = fmt.Sprintf("%s %.1f%%", strings.TrimPrefix(p, "github.com/gauntlet-kv/gauntlet/"), ch.Code[p])
			}
			fmt.Fprintf(w, "  code (statements executed): %s\n", strings.Join(parts, ", "))
		}
		if ch.Coverage == nil {
			fmt.Fprintln(w, "  no states recorded (a Result without coverage, or an engine without an observer)")
			continue
		}
		var reached []string
		for _, ev := range expected {
			if n := ch.Coverage.Events[ev]; n > 0 {
				reached = append(reached, fmt.Sprintf("%s %d", ev, n))
			}
		}
		fmt.Fprintf(w, "  events reached (%d of %d): %s\n", len(reached), len(expected), strings.Join(reached, ", "))
		never := make([]string, len(ch.NeverEvents))
		for i, e := range ch.NeverEvents {
			never[i] = string(e)
		}
		fmt.Fprintf(w, "  never reached: %s\n", orNone(never))
		fmt.Fprintf(w, "  fault × phase (times hit, all ops; * a failing case hit it):\n  %-12s", "")
		for _, p := range engine.Phases() {
			fmt.Fprintf(w, " %16s", p)
		}
		fmt.Fprintln(w)
		m := ch.Coverage.Matrix()
		for i, f := range coverage.Faults() {
			fmt.Fprintf(w, "  %-12s", f)
			for j, p := range engine.Phases() {
				cell := "-"
				if m[i][j] > 0 {
					cell = fmt.Sprint(m[i][j])
					if ch.Coverage.Reached(string(f)+"×"+string(p)) && foundIn(ch.Coverage, f, p) {
						cell += "*"
					}
				}
				fmt.Fprintf(w, " %16s", cell)
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "  fault cells reached: %d (op × fault × phase); fault × phase pairs never hit: %d of %d\n",
			len(ch.Coverage.Cells), len(ch.NeverFaults), len(coverage.Faults())*len(engine.Phases()))
	}
	if len(d.CodeNever) > 0 {
		fmt.Fprintf(w, "\nfunctions no checker executed: %d (all in coverage.json's code_never)\n", len(d.CodeNever))
		for _, fn := range d.CodeNever[:min(len(d.CodeNever), 10)] {
			fmt.Fprintf(w, "  %s\n", strings.TrimPrefix(fn, "github.com/gauntlet-kv/gauntlet/"))
		}
	}
}

func foundIn(r *coverage.Report, f coverage.Fault, p engine.Phase) bool {
	return slices.ContainsFunc(r.Cells, func(c coverage.CellCount) bool { return c.Fault == f && c.Phase == p && c.Found > 0 })
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
