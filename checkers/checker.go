package checkers

import (
	"context"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// Checker is a checker as the harness runs it: one entry of the checker
// table in cmd/harness, as an engine.Driver is one of the engine table.
// Adding a checker is one package that returns its Checker and one line
// in that table; the harness gives every checker the same flags (engine,
// seed, budget, cases, forever, replay, out, jobs) and, as it declares,
// --faults and --mode, and runs it the same way: in process, or as
// workers (checkers/jobs).
type Checker struct {
	// Name is what harness check takes (harness check <Name>), the
	// Result's Checker, and the first word of its file names.
	Name string
	// Short says in one line what it checks.
	Short string
	// Doc is its help (harness check <Name> --help): what it verifies and
	// what it does not, its modes, how a violation is minimized and
	// reported. The harness adds the exit codes.
	Doc string
	// Example holds example command lines, one per line, indented.
	Example string
	// Faults says the checker takes --faults: it injects IO errors and
	// bit flips into an engine on a device (in its Device modes only, if
	// it has modes).
	Faults bool
	// Batch says the checker takes --batch (Config.Batch): each run of
	// consecutive puts goes to the engine as one PutBatch (engine.Batcher),
	// the bulk-load path, in its Device modes only if it has modes.
	Batch bool
	// Concurrent says the checker runs concurrent clients against one
	// engine: it takes --clients (Config.Clients), and the harness leaves
	// it every CPU instead of pinning the check to one core.
	Concurrent bool
	// Engines says the checker compares several option sets of one
	// engine: its --engine is a comma-separated list of specs
	// (engine.SplitSpecs), each resolved into one of Config.Targets;
	// Config.Target is the first.
	Engines bool
	// Modes are the choices of its --mode, if it has any; an engine's
	// default is the first mode that runs it where it opens (Mode.Device).
	// The mode is part of the Result's file names.
	Modes []Mode
	// Run runs cases until c.Cases or c.Budget, or until ctx ends (the
	// Result then says interrupted). Replay runs the one case of a trace a
	// run wrote; a trace it cannot replay as written is ErrBadTrace.
	Run    func(ctx context.Context, c Config) (Result, error)
	Replay func(ctx context.Context, c Config, tr workloads.Trace) (Result, error)
	// History, if set, re-checks a history file a run wrote (harness
	// check <Name> --history FILE) without running an engine: a checker
	// whose cases cannot be replayed op by op (concurrent clients) keeps
	// what the engine did instead. Only c.OutDir and c.Replay matter; a
	// file it cannot read as written is ErrBadTrace.
	History func(ctx context.Context, c Config, file string) (Result, error)
	// ReplayArg, if set, takes --replay's argument as the checker's own
	// replay string (the interleave checker's schedule), not a trace file.
	ReplayArg func(ctx context.Context, c Config, arg string) (Result, error)
	// Settings are flags of this checker alone (--depth, --harness); their
	// values reach it in Config.Settings, and a bad one is ErrBadTrace.
	Settings []Setting
	// Adaptive says the checker takes --adaptive (Config.Adaptive): its
	// generator steers its op mix toward states not yet reached.
	Adaptive bool
	// Tags are the build tags the checker needs ("interleave"); Built says
	// this binary has them. When it does not, the harness builds itself
	// with them (cached by source hash) and runs the check in that binary.
	Tags  string
	Built bool
}

// Setting is a checker's own flag: a string, parsed by the checker.
type Setting struct {
	Name, Default, Usage string
}

// Mode is one choice of a checker's --mode.
type Mode struct {
	Name string
	// Device says the mode runs engines on a device only (a crash
	// checker's block mode, on a crashable disk.Mem); otherwise it runs
	// any engine on a directory, device engines included through their
	// Driver.Open.
	Device bool
	// DirSpec, for a mode that is not Device, is the engine spec it runs
	// a device engine with (o is spec resolved): its defaults for a device
	// file in a directory. Nil: spec as given.
	DirSpec func(spec string, o engine.Options) string
}

// Config is one run of a checker.
type Config struct {
	// Target is the engine under check: on a device, or on a directory
	// when the engine opens on one or Mode is not a device mode.
	Target target.Target
	// Targets, for a checker with Engines set, are the targets of every
	// spec of Engine, in order (Target is Targets[0]).
	Targets []target.Target
	// Engine is the engine spec as the harness was given it (and as the
	// mode adjusted it): what a child process of the harness resolves.
	Engine string
	// Mode is one of the checker's Modes ("" if it has none).
	Mode   string
	Seed   uint64
	Cases  int // CasesUnlimited: until the budget
	Budget time.Duration
	Faults bool
	// Batch applies each run of consecutive puts as one PutBatch call
	// (Checker.Batch); the engine must be an engine.Batcher.
	Batch bool
	// Adaptive steers the generator's op weights and its fault and crash
	// seeds, case by case, toward the engine states and fault-space cells
	// the run has not reached (coverage.Steer), for a checker that says
	// Checker.Adaptive. A violation's trace holds its ops, so its replay
	// needs no steering.
	Adaptive bool
	// AdaptiveWarmup is how many cases an adaptive run draws from the
	// fixed mix, exactly as a run without Adaptive, before it steers: 0
	// means AdaptiveWarmupDefault, a negative value none.
	AdaptiveWarmup int
	// Clients is the number of concurrent clients of a Concurrent
	// checker (0: the checker's default); others ignore it.
	Clients int
	// OutDir receives violation traces.
	OutDir string
	// Replay renders the command that replays a trace file.
	Replay func(traceFile string) string
	// Exe is the harness executable, for a checker that runs child
	// processes of it (kill mode's harness internal kill-child).
	Exe string
	// Live, if set, counts cases and ops as they finish.
	Live *Live
	// Found, if set, is called with a violation as soon as it is found,
	// before it is minimized, its trace already written: a process stopped
	// while minimizing (a hang takes an op timeout per shrink step) then
	// leaves the violation behind instead of nothing.
	Found func(Violation)
	// Settings holds the values of the checker's own flags (Checker.Settings),
	// by name, defaults filled in.
	Settings map[string]string
}

// ChildEnv marks a harness process started by the harness itself (a check
// worker, a kill-mode child, a bench run's child), so that a test binary
// standing in for the harness knows to run the command line.
const ChildEnv = "GAUNTLET_HARNESS_CHILD"

// AdaptiveWarmupDefault is how many cases an adaptive run draws from the
// fixed mix, case for case as a run without Adaptive does, before the
// loop's weights take over (Config.AdaptiveWarmup). The loop learns from
// them all the same. Most catalogued mutants fall to the fixed mix within
// its first hundred cases (docs/TESTING.md, the time-to-kill tables):
// steering from the first case spent those cases on faults and latency and
// killed them later; what steering pays for is the tail.
const AdaptiveWarmupDefault = 200
