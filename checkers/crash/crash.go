// Package crash checks crash consistency: after a dirty reboot an engine
// holds, for every key, a version the reference model allows, keeps every
// write whose dependency it reported persistent, and makes every write
// persistent by a clean shutdown.
//
// It has two modes.
//
// Block mode (Run) extends the conformance state machine with DirtyReboot.
// A dirty reboot first flushes the components its seed chooses (Sync, and
// index-flush, superblock-flush, cache-flush through engine.Maintainer),
// then crashes the device: every distinct crash state disk.Mem can leave
// (unflushed writes kept, lost or torn at sector granularity) is opened and
// checked when there are at most CrashStatesMax, else CrashSamples sampled
// ones; the case continues on one of them. In three reboots of four the
// seed also cuts the device's power (disk.Mem.StopAfter) after the k-th
// write or flush of those flushes (k < machine.CrashIOMax; the Sync then
// always runs), so the crash lands inside a Sync or an index flush: between
// a superblock slot write and the data it covers, between a run's chunks
// and the root naming them. An op the cut fails is the crash, not a
// violation; a Sync that returned despite it promised durability, which the
// crash checks. In one reboot of three the seed instead arms a cut of up
// to machine.CrashSpanMax IOs and the case goes on: the cut lands inside a
// later op (a put whose index flush it cuts, a maintenance op, background
// work between ops), whose failure is the crash (the write it failed may
// have happened or not), or inside the next reboot's flushes; a clean
// shutdown disarms one that has not landed. In one reboot of two whose
// cut landed inside its flushes, the seed then retries (crash-version 4):
// once the engine has recovered, the writes lost since the last Sync are
// put again with new values of the same sizes and the same flushes are cut
// at the same IO, so a second attempt writes the same frames at the same
// offsets of the same durable state, and a store that takes the first
// attempt's bytes for the second's shows values the first crash lost;
// before half the retries the case continues on the crash state that lost
// the least (crash-version 5: the first attempt's writes kept, its last
// write, a slot or commit record, lost), where version 4 took a random one. The
// trace records it: header crash-version="5" and crash-points (where each
// crash landed: "N:end", "N:ioK", "N:arm", "N:cut", "N:retry" before a
// retry's crash or, with faults, "N:fault"); traces of versions 2 (no
// armed cuts), 3 (no retries) and 4 (a random state before a retry) and
// those without crash-version, written
// before, replay as they were written, version 1 with every crash after
// the flushes (Config.BetweenOpsOnly runs so). It needs an engine on a disk.Device (or a directory engine that may
// be abandoned in process, as the model) and uses engine.Tracker, where
// implemented, for persistence.
//
// With Faults, block mode injects IO faults as conformance does
// (FailDiskOnce), and recovers from an op that a fault failed either as
// conformance does (close, reopen on the same image: every unflushed write
// still readable) or, as the fault's seed chooses, through a crash: the
// writes the engine reported persistent are recorded, the unflushed ones
// may be kept, lost or torn, and every key must then hold a version the
// model allows. A store that marks writes persistent despite a failed
// flush is caught so, and by nothing else.
//
// Kill mode (RunKill) works on any engine that opens on a directory, peers
// included: a child process runs a generated workload on a real directory
// and reports every acknowledged op, Sync and Close on stdout; the parent
// kills it with SIGKILL at a seeded moment and a second child reopens the
// directory, reads every key, lists and closes, reporting what it read,
// which the parent checks against the model. The parent never opens the
// engine: one that panics, dies of a signal or hangs (ChildTimeout) in a
// child ends that case, and the run, with verdict unknown and a one-line
// reason, as does an engine error that is the machine's (no space, EIO).
// Failing kill-mode cases are minimized by delta debugging (DDMin), replaying
// each candidate deterministically: the child kills itself at the trace's
// dirty-reboot op. The trace records where the kill landed (KillAttr); a
// violation whose kill landed inside an op, a Sync or Close, and that no
// kill between ops reproduces, is replayed with kills timed inside that
// call (TimedKills), and reported as not minimized or not reproduced.
//
// # Areas verified
//
//   - Persistence: a write whose engine Dependency reported persistent
//     before a crash is readable after it, unless a later persistent write
//     to the key superseded it (model.Persist, model.Allowed). Without
//     Tracker, writes count as persistent once a Sync or clean shutdown
//     covering them returned.
//   - Every key's version after recovery is one the model allows: the last
//     persistent version or a later one, never data that was not written;
//     reads after recovery do not fail (corruption reported is a violation).
//   - The listing after recovery names exactly the keys Get finds.
//   - Forward progress: after a successful Sync or Close every dependency
//     reports persistent.
//   - With power cuts inside a reboot's flushes: a Sync or maintenance op
//     the cut failed made no promise, one that returned did; a dependency
//     reported persistent after the cut must hold in every crash state.
//   - With Faults: an op a fault failed loses nothing acknowledged and
//     persistent; after a recovery through a crash, a write the engine
//     reported persistent before the fault (even before a failed flush)
//     is readable.
//   - In kill mode: everything acknowledged by a completed Sync is there
//     (its value as of that sync, or a later write's), the engine reopens
//     after SIGKILL, and nothing read back is corrupt.
//   - Everything conformance verifies, between crashes (ErrNoSpace on puts
//     and deletes, the op time limit).
//
// # Areas not verified
//
//   - Crash states beyond the sample when there are more than
//     CrashStatesMax; block-level states of directory engines (kill mode
//     crashes the process, not the machine: data in the OS page cache
//     survives).
//   - In kill mode, timing: where a SIGKILL lands inside a call is not
//     reproducible; a violation is minimized and replayed with the kill at
//     an op boundary, else retried with kills timed inside the call it
//     landed in, and reported unminimized, or not reproduced, otherwise.
//   - In kill mode, availability: an engine that hangs or dies reopening
//     after the kill ends the run unknown, not as a violation.
//   - Power cuts inside ops other than a dirty reboot's flushes (a put
//     whose memtable fills, a compaction op), and cuts past the first
//     machine.CrashIOMax IOs of the flushes.
//   - Fault injection in kill mode; faults during a crash's recovery (the
//     faults are cleared when the engine reopens on a crash state).
//   - Concurrency.
package crash

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/machine"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// Name is the checker's name in results.
const Name = "crash"

// Config defaults.
const (
	CasesDefault      = 1000
	OpsMeanDefault    = 30
	OpsMaxDefault     = 100
	BatchCasesDefault = 100
	ShrinkTimeDefault = 30 * time.Second
	// DirtyRebootWeight is DirtyReboot's weight; the others are
	// workloads.DefaultWeights.
	DirtyRebootWeight = 6
	// FailDiskOnceWeight is FailDiskOnce's weight with Faults.
	FailDiskOnceWeight = 4
	// CrashStatesMaxDefault and CrashSamplesDefault: see Config.
	CrashStatesMaxDefault = machine.CrashStatesMaxDefault
	CrashSamplesDefault   = machine.CrashSamplesDefault
)

// Config configures a block-mode run. The zero value of every field but
// Target is valid.
type Config struct {
	Target target.Target
	Seed   uint64
	// Cases is the number of cases (default CasesDefault); Budget stops
	// the run earlier (default 0: no limit).
	Cases  int
	Budget time.Duration
	// OpsMean and OpsMax bound case length (defaults OpsMeanDefault,
	// OpsMaxDefault).
	OpsMean, OpsMax int
	// Weights override the op weights (default workloads.DefaultWeights
	// with DirtyReboot at DirtyRebootWeight); ops the engine cannot run are
	// dropped.
	Weights map[workloads.OpKind]int
	// Keys is the key space (default workloads.KeysDefault).
	Keys int
	// Faults injects IO faults as conformance does (FailDiskOnce, weight
	// FailDiskOnceWeight): the target must have a device. A fault is
	// recovered from by a clean close and reopen, or, as its seed
	// chooses, by a crash that drops the unflushed writes.
	Faults bool
	// Batch applies each run of consecutive puts as one PutBatch
	// (machine.Config.BatchPuts): the target must be an engine.Batcher.
	Batch bool
	// BetweenOpsOnly crashes only after a dirty reboot's flushes, never
	// inside them or a later op, as runs before crash-version 2 did: for measuring what
	// the power cuts add, not for checking.
	BetweenOpsOnly bool
	// NoRetry never retries a reboot's lost writes, as runs before
	// crash-version 4 did: for measuring what the retries add, not for
	// checking.
	NoRetry bool
	// NoRetryNear continues a reboot that retries on a random crash
	// state, as runs of crash-version 4 did, not on the one that lost the
	// least: for measuring what that adds, not for checking.
	NoRetryNear bool
	// CrashStatesMax is the most crash states a dirty reboot checks
	// exhaustively (default CrashStatesMaxDefault); beyond it CrashSamples
	// (default CrashSamplesDefault) random torn states are checked.
	CrashStatesMax, CrashSamples int
	// BatchCases, ShrinkTime, OutDir, Replay and Log are as in
	// conformance.Config.
	BatchCases int
	ShrinkTime time.Duration
	OutDir     string
	Replay     func(traceFile string) string
	Log        func(format string, args ...any)
	// Live, if set, counts cases and ops as they finish.
	Live *checkers.Live
	// Found is checkers.Config.Found.
	Found func(checkers.Violation)
	// NoFormatCut skips the check of power cuts during the first open of
	// a blank device that Run makes before its cases (format.go): for
	// tests of the cases alone.
	NoFormatCut bool
	// Adaptive is checkers.Config.Adaptive: Weights (or the defaults) are
	// then the base weights the feedback loop starts from.
	Adaptive bool
	// AdaptiveWarmup is how many cases an adaptive run draws from the
	// fixed mix, exactly as a run without Adaptive, before it steers:
	// 0 means checkers.AdaptiveWarmupDefault, a negative value none.
	AdaptiveWarmup int
}

func (c *Config) ensureDefaults() {
	if c.Cases == 0 {
		c.Cases = CasesDefault
	}
	if c.OpsMean == 0 {
		c.OpsMean = OpsMeanDefault
	}
	if c.OpsMax == 0 {
		c.OpsMax = OpsMaxDefault
	}
	if c.BatchCases == 0 {
		c.BatchCases = BatchCasesDefault
	}
	if c.ShrinkTime == 0 {
		c.ShrinkTime = ShrinkTimeDefault
	}
	if c.OutDir == "" {
		c.OutDir = os.TempDir()
	}
	if c.Replay == nil {
		spec := c.Target.Name
		faults := ""
		if c.Faults {
			faults = " --faults"
		}
		c.Replay = func(file string) string {
			return fmt.Sprintf("harness check %s --engine %s%s --mode block --replay %s", Name, spec, faults, file)
		}
	}
}

// ErrNeedsDevice is returned for block mode on an engine that opens only
// on a directory.
var ErrNeedsDevice = errors.New("block-level crash checking needs an engine on a disk.Device; use kill mode for directory engines")

func (c *Config) validate() error {
	var errs []error
	if err := c.Target.Validate(); err != nil {
		errs = append(errs, err)
	}
	if !c.Target.CanCrash() {
		errs = append(errs, fmt.Errorf("crash: engine %s opens on a directory: %w", c.Target.Name, ErrNeedsDevice))
	}
	if c.Faults && !c.Target.HasDevice() {
		errs = append(errs, fmt.Errorf("crash: engine %s opens on a directory: fault injection needs an engine on a disk.Device", c.Target.Name))
	}
	if c.Cases < 0 || c.OpsMean < 1 || c.OpsMax < 1 || c.BatchCases < 1 || c.Keys < 0 || c.CrashStatesMax < 0 || c.CrashSamples < 0 {
		errs = append(errs, fmt.Errorf("crash: negative or zero sizes in the configuration"))
	}
	return errors.Join(errs...)
}

// machine is the state machine of a run whose traces are of crash-version
// version (see machine.Config.WithCrashVersion).
func (c Config) machine(version int) machine.Config {
	return machine.Config{Checker: Name, Target: c.Target, Crash: true, Faults: c.Faults, BatchPuts: c.Batch,
		CrashStatesMax: c.CrashStatesMax, CrashSamples: c.CrashSamples}.WithCrashVersion(version)
}

func weights(w map[workloads.OpKind]int, caps machine.Capabilities, faults bool) map[workloads.OpKind]int {
	out := workloads.DefaultWeights()
	out[workloads.OpDirtyReboot] = DirtyRebootWeight
	if w != nil {
		out = map[workloads.OpKind]int{}
		for k, v := range w {
			out[k] = v
		}
	}
	if !faults {
		delete(out, workloads.OpFailDiskOnce)
	} else if _, ok := out[workloads.OpFailDiskOnce]; !ok {
		out[workloads.OpFailDiskOnce] = FailDiskOnceWeight
	}
	if !caps.Lister {
		delete(out, workloads.OpList)
	}
	if !caps.Maintainer {
		for _, k := range []workloads.OpKind{workloads.OpIndexFlush, workloads.OpCompact, workloads.OpReclaim, workloads.OpSuperblockFlush, workloads.OpCacheFlush} {
			delete(out, k)
		}
	}
	return out
}

// Run checks c.Target in block mode. It returns an error only if the check
// could not run; a violation is a Result with Verdict checkers.Fail.
func Run(ctx context.Context, c Config) (checkers.Result, error) {
	c.ensureDefaults()
	if err := c.validate(); err != nil {
		return checkers.Result{}, err
	}
	dir, err := os.MkdirTemp(c.Target.WorkDir, "gauntlet-probe-")
	if err != nil {
		return checkers.Result{}, err
	}
	caps, err := machine.Probe(c.Target, dir)
	os.RemoveAll(dir)
	if err != nil {
		// A new engine that does not open is the engine's failure,
		// unless the machine's (a full disk, permissions).
		if res, ok := checkers.OpenFailed(Name, c.Target.Name, c.Seed, err); ok {
			return res, nil
		}
		return checkers.Result{}, fmt.Errorf("crash: %w", err)
	}
	if c.Batch && !caps.Batcher {
		return checkers.Result{}, fmt.Errorf("crash: --batch: %s has no PutBatch (engine.Batcher): drop --batch: %w", c.Target.Name, checkers.ErrBadConfig)
	}
	if !c.NoFormatCut {
		v, states, err := checkFormatCrash(ctx, c)
		if err != nil {
			return checkers.Result{}, err
		}
		if c.Log != nil {
			c.Log("crash: power cuts during the first open: %d crash states opened", states)
		}
		if v != nil {
			if c.Found != nil {
				c.Found(*v)
			}
			return checkers.Result{Checker: Name, Engine: c.Target.Name, Seed: c.Seed, Verdict: checkers.Fail, Violations: []checkers.Violation{*v}}, nil
		}
	}
	version := 5
	switch {
	case c.BetweenOpsOnly:
		version = 1
	case c.NoRetry:
		version = 3
	case c.NoRetryNear:
		version = 4
	}
	return machine.Run(ctx, c.machine(version), machine.RunConfig{
		Seed: c.Seed, Cases: c.Cases, Budget: c.Budget, OpsMean: c.OpsMean, OpsMax: c.OpsMax,
		Weights: weights(c.Weights, caps, c.Faults), Keys: c.Keys, BatchCases: c.BatchCases,
		ShrinkTime: c.ShrinkTime, OutDir: c.OutDir, Replay: c.Replay, Log: c.Log, Live: c.Live, Found: c.Found,
		Stem: checkers.FileStem(Name, "block", c.Target.Name, c.Seed),
		Mode: ModeBlock, Attrs: []workloads.Attr{{Key: "mode", Value: "block"}}, Adaptive: c.Adaptive, AdaptiveWarmup: c.AdaptiveWarmup,
	})
}

// Replay applies a block-mode trace exactly, with the same checks. A trace
// of crash-version 2 to 5 (machine.AttrCrashVersion) cuts power where its
// dirty-reboot seeds say; one without the attribute, written before, is
// replayed as it was: every crash after the reboot's flushes.
func Replay(ctx context.Context, c Config, tr workloads.Trace) (checkers.Result, error) {
	c.ensureDefaults()
	if err := c.validate(); err != nil {
		return checkers.Result{}, err
	}
	version, err := machine.TraceCrashVersion(tr)
	if err != nil {
		return checkers.Result{}, fmt.Errorf("crash: %w", err)
	}
	return machine.Replay(ctx, c.machine(version), tr, machine.RunConfig{Replay: c.Replay})
}
