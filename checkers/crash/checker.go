package crash

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// The crash checker's modes.
const (
	ModeBlock = "block"
	ModeKill  = "kill"
)

// Checker is the crash checker's entry in the harness's checker table:
// block mode (Run) for engines on a device, kill mode (RunKill) for any
// engine, its children started as the harness's hidden verbs (HarnessChild).
func Checker() checkers.Checker {
	return checkers.Checker{
		Name:  Name,
		Short: "Check crash consistency: dirty reboots (block mode) or killed processes (kill mode)",
		Doc: `check crash adds dirty reboots and checks persistence and forward progress.

  --mode block  engines on a device (shardstore; the default for them): a disk.Mem
                chooses which components flush first and which unflushed device
                writes survive or tear; every crash state of small pending sets.
                Most dirty reboots cut the device's power between two IOs of their
                Sync or index flush (the trace's crash-points say where).
                --faults adds injected IO errors and bit flips, some recovered
                from through a crash that drops the unflushed writes; --adaptive
                steers the op mix and the kinds of fault and crash toward the
                states reached least so far (a failure replays without it)
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
with verdict unknown, exit 3, the cases before it kept in the Result.`,
		Example: `  harness check crash --engine shardstore --budget 60s
  harness check crash --engine shardstore --faults --cases 500
  harness check crash --engine pebble --mode kill --cases 50
  harness check crash --replay out/crash-kill-pebble-7.trace`,
		Faults:   true,
		Batch:    true,
		Adaptive: true,
		Modes: []checkers.Mode{
			{Name: ModeBlock, Device: true},
			{Name: ModeKill, DirSpec: KillDeviceSpec},
		},
		Run: func(ctx context.Context, c checkers.Config) (checkers.Result, error) {
			if c.Mode == ModeBlock {
				return Run(ctx, blockConfig(c))
			}
			if c.Faults {
				return checkers.Result{}, errFaultsKill
			}
			if c.Adaptive {
				return checkers.Result{}, errAdaptiveKill
			}
			if c.Batch {
				return checkers.Result{}, errBatchKill
			}
			return RunKill(ctx, killConfig(c))
		},
		Replay: func(ctx context.Context, c checkers.Config, tr workloads.Trace) (checkers.Result, error) {
			if c.Mode == ModeBlock {
				return Replay(ctx, blockConfig(c), tr)
			}
			if c.Faults {
				return checkers.Result{}, errFaultsKill
			}
			return ReplayKill(ctx, killConfig(c), tr)
		},
	}
}

// errFaultsKill refuses --faults in kill mode, whose engine runs in a child
// process on a real directory, out of a disk.Faulty's reach.
var errFaultsKill = errors.New("crash: --faults is for block mode (an engine on a device); kill mode cannot inject device faults into its child: drop --faults or use --mode block")

// errBatchKill refuses --batch in kill mode.
var errBatchKill = fmt.Errorf("crash: --batch is for block mode: kill mode's child applies its ops one call each: drop --batch or use --mode block: %w", checkers.ErrBadConfig)

// errAdaptiveKill refuses --adaptive in kill mode, whose engine runs in
// child processes that report no states to steer by.
var errAdaptiveKill = errors.New("crash: --adaptive is for block mode: kill mode's engine runs in child processes that report no states to steer by: drop --adaptive or use --mode block")

func blockConfig(c checkers.Config) Config {
	return Config{Target: c.Target, Seed: c.Seed, Cases: c.Cases, Budget: c.Budget, Faults: c.Faults, Batch: c.Batch, Adaptive: c.Adaptive, AdaptiveWarmup: c.AdaptiveWarmup, OutDir: c.OutDir, Replay: c.Replay, Live: c.Live, Found: c.Found}
}

func killConfig(c checkers.Config) KillConfig {
	return KillConfig{Target: c.Target, Seed: c.Seed, Cases: c.Cases, Budget: c.Budget, OutDir: c.OutDir, Replay: c.Replay,
		Child: HarnessChild(c.Exe, c.Engine), Live: c.Live, Found: c.Found}
}

// KillDeviceSpec is spec with the device size and extent size a kill-mode
// check of a device engine uses where the spec leaves them unset (and the
// engine has such options): 16 MiB of 1 MiB extents, room for the reserve
// and a few hundred small puts, so that a case does not prewrite the
// engine's default device (shardstore's: 4 GiB) in each case's directory.
func KillDeviceSpec(spec string, o engine.Options) string {
	var add []string
	for _, s := range []struct{ key, value string }{{"size", "16MiB"}, {"extent", "1MiB"}} {
		if o.Has(s.key) && !o.IsSet(s.key) {
			add = append(add, s.key+"="+s.value)
		}
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

// HarnessChild returns the ChildFunc of the harness executable exe for
// the engine spec: its hidden verbs internal kill-child (workload) and
// internal kill-verify, each in a process group of its own, so that a
// Ctrl-C at the terminal (SIGINT to the foreground group) stops the
// parent, which ends the run between cases, and not the child in the
// middle of one: a child killed so looked like an engine that died. The
// parent still ends its children itself, with SIGKILL, and on Linux a
// child dies with its parent (childAttr).
func HarnessChild(exe, spec string) ChildFunc {
	return func(role Role, dir, trace string) *exec.Cmd {
		verb := "kill-child"
		if role == RoleVerify {
			verb = "kill-verify"
		}
		cmd := exec.Command(exe, "internal", verb, "--engine", spec, "--dir", dir, "--trace", trace)
		cmd.Env = append(os.Environ(), checkers.ChildEnv+"=1")
		cmd.SysProcAttr = childAttr()
		return cmd
	}
}
