package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
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

// childEnv marks a harness process started as a kill-mode child, so a test
// binary standing in for the harness knows to run the CLI.
const childEnv = "GAUNTLET_HARNESS_CHILD"

type checkFlags struct {
	engine string
	seed   uint64
	budget time.Duration
	cases  int
	faults bool
	mode   string
	replay string
	out    string
}

func newCheckCmd() *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check conformance|crash",
		Short: "Check an engine against the reference model: conformance or crash consistency",
		Long: `check runs a checker against an engine for a budget of time or cases, prints a
one-screen summary, and writes the Result as JSON to --out.

  conformance  after every op of random biased sequences the engine answers like the
               model; --faults injects IO errors and bit flips (device engines only)
  crash        dirty reboots: --mode block crashes a disk.Mem (device engines; every
               crash state of small pending sets), --mode kill kills a child process
               running the engine on a real directory (any engine; the default for
               directory engines)

A violation is minimized, written as a trace to --out, and reported with the command
that replays it (--replay FILE). Exit codes: 0 pass, 1 violation, 2 usage, 3 internal.`,
		Example: `  harness check conformance --engine pebble --seed 1 --budget 60s
  harness check crash --engine bbolt --mode kill --cases 50
  harness check crash --engine model --replay out/crash-kill-7.trace`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || (args[0] != conformance.Name && args[0] != crash.Name) {
				return usagef("check: name the checker: harness check conformance|crash (got %q)", strings.Join(args, " "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.engine, "engine", "shardstore", "engine spec, e.g. pebble or shardstore:extent=1MiB")
	fl.Uint64Var(&f.seed, "seed", 1, "seed: the same seed gives the same cases")
	fl.DurationVar(&f.budget, "budget", 60*time.Second, "stop after this much time (0: no limit)")
	fl.IntVar(&f.cases, "cases", 0, "stop after this many cases (0: the checker's default)")
	fl.BoolVar(&f.faults, "faults", false, "conformance: inject IO errors and bit flips (device engines)")
	fl.StringVar(&f.mode, "mode", "", "crash: block or kill (default: block for device engines, kill otherwise)")
	fl.StringVar(&f.replay, "replay", "", "replay a trace file written by an earlier run instead of generating cases")
	fl.StringVar(&f.out, "out", "out", "directory for the Result JSON and violation traces")
	return cmd
}

// newInternalCmd holds hidden verbs the harness runs on itself.
func newInternalCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "internal", Hidden: true, Short: "verbs the harness runs on itself"}
	var spec, dir, trace string
	child := &cobra.Command{
		Use:   "kill-child",
		Short: "run a crash-checker workload until killed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, o, err := resolveCheckEngine(spec)
			if err != nil {
				return err
			}
			open := func(dir string) (engine.Engine, error) { return d.Open(dir, o) }
			return crash.KillChild(cmd.Context(), open, dir, trace, cmd.OutOrStdout())
		},
	}
	child.Flags().StringVar(&spec, "engine", "", "engine spec")
	child.Flags().StringVar(&dir, "dir", "", "engine directory")
	child.Flags().StringVar(&trace, "trace", "", "trace of the workload")
	cmd.AddCommand(child)
	return cmd
}

func resolveCheckEngine(spec string) (engine.Driver, engine.Options, error) {
	d, o, err := checkDrivers().Resolve(spec)
	if err != nil {
		return d, o, usageError{err}
	}
	return d, o, nil
}

func runCheck(cmd *cobra.Command, checker string, f checkFlags) error {
	d, o, err := resolveCheckEngine(f.engine)
	if err != nil {
		return err
	}
	tg, hasDevice, err := deviceTarget(d, o)
	if err != nil {
		return err
	}
	if !hasDevice {
		tg = target.FromDriver(d, o)
	}
	if f.cases < 0 {
		return usagef("check: --cases %d: give a positive number of cases", f.cases)
	}
	if f.budget < 0 {
		return usagef("check: --budget %s: give a positive duration", f.budget)
	}
	var tr *workloads.Trace
	if f.replay != "" {
		t, err := readTrace(f.replay)
		if err != nil {
			return err
		}
		tr = &t
		for _, a := range t.Header.Attrs {
			switch {
			case a.Key == "faults" && a.Value == "true":
				f.faults = true
			case a.Key == "mode" && f.mode == "":
				f.mode = a.Value
			}
		}
	}
	if checker == conformance.Name && f.mode != "" && f.replay == "" {
		return usagef("check conformance: --mode is for the crash checker")
	}
	if f.faults && !hasDevice {
		return usagef("check %s: engine %s opens on a directory: --faults needs an engine on a device", checker, d.Name)
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
				return usagef("check crash: engine %s opens on a directory: --mode block needs an engine on a device; use --mode kill", d.Name)
			}
		case "kill":
		default:
			return usagef("check crash: --mode %q: use block or kill", f.mode)
		}
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return usagef("check: --out %s: %v", f.out, unwrapPathErr(err))
	}

	if os.Getenv("GOGC") == "" {
		// A checker allocates fast and keeps little (a case's engine and
		// device): collecting at 5× the live heap instead of 2× halves
		// its CPU time.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
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
	var res checkers.Result
	switch {
	case checker == conformance.Name:
		c := conformance.Config{Target: tg, Seed: f.seed, Cases: f.cases, Budget: f.budget, Faults: f.faults, OutDir: f.out, Replay: replayCmd}
		if c.Cases == 0 {
			c.Cases = checkers.CasesUnlimited // the budget decides
		}
		if tr != nil {
			res, err = conformance.Replay(ctx, c, *tr)
		} else {
			res, err = conformance.Run(ctx, c)
		}
	case f.mode == "block":
		c := crash.Config{Target: tg, Seed: f.seed, Cases: f.cases, Budget: f.budget, OutDir: f.out, Replay: replayCmd}
		if c.Cases == 0 {
			c.Cases = checkers.CasesUnlimited
		}
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
		c := crash.KillConfig{Target: tg, Seed: f.seed, Cases: f.cases, Budget: f.budget, OutDir: f.out, Replay: replayCmd,
			Child: func(dir, trace string) *exec.Cmd {
				cmd := exec.Command(exe, "internal", "kill-child", "--engine", spec, "--dir", dir, "--trace", trace)
				cmd.Env = append(os.Environ(), childEnv+"=1")
				return cmd
			}}
		if c.Cases == 0 {
			c.Cases = checkers.CasesUnlimited
		}
		if tr != nil {
			res, err = crash.ReplayKill(ctx, c, *tr)
		} else {
			res, err = crash.RunKill(ctx, c)
		}
	}
	if err != nil {
		return fmt.Errorf("check %s on %s: %w", checker, d.Name, err)
	}
	if res.Engine == "" {
		res.Engine = tg.Name
	}
	return reportCheck(cmd.OutOrStdout(), res, f)
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

// reportCheck prints the summary, writes the Result JSON, and turns a
// violation into exit 1 with the replay command.
func reportCheck(w io.Writer, res checkers.Result, f checkFlags) error {
	fmt.Fprint(w, res.Summary())
	name := fmt.Sprintf("%s-%d.json", res.Checker, res.Seed)
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
	if res.Verdict != checkers.Fail {
		return nil
	}
	v := res.Violations[0]
	msg := fmt.Sprintf("%s checker failed on %s (seed %d): %d violation", res.Checker, res.Engine, res.Seed, len(res.Violations))
	if len(res.Violations) > 1 {
		msg += "s"
	}
	if v.Replay != "" {
		msg += fmt.Sprintf("; minimized to %d ops: %s", len(v.Ops), v.Replay)
	}
	return violationError{msg}
}
