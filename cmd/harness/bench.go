package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore"
	"github.com/gauntlet-kv/gauntlet/internal/cgroup"
)

// quickWorkloads are what `bench --quick` runs: a mixed, a read-only, a
// large-value fill and a durable-put workload, a few seconds each.
var quickWorkloads = mustSuite("quick").Workloads

// benchDrivers is the engine table bench resolves specs against, in the
// parent and in each run's child process alike; tests add engines that
// panic, die or hang.
var benchDrivers = drivers

// benchMemoryMin is the smallest --memory: below it a Go process and an
// engine's buffers hardly start.
const benchMemoryMin = 64 << 20

// benchHangTimeout is how long a run's child may go without progress
// before it is called hung (bench.Runner.HangTimeout); tests shorten it.
var benchHangTimeout = bench.HangTimeoutDefault

func newBenchCmd() *cobra.Command {
	var (
		cfg       bench.Config
		engines   []string
		workloads []string
		quick     bool
		suite     string
		quiet     bool
		noPreload bool
		memory    string
		shardFlag string
		results   string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput and tail latency of engines on workloads",
		Long: `bench runs each workload against each engine on a fresh directory, interleaving
engines and repetitions (A B C A B C ...) so machine drift hits all alike, and writes
a JSON report, HdrHistogram .hgrm files, Go benchmark-format lines (bench.txt, for
benchstat) and plots (PNG and SVG) to --out.

Closed loop by default: each of --threads workers issues its next op when the last
returns. --rate runs open loop: ops are scheduled at that total rate and latency is
measured from each op's intended start, free of coordinated omission.

Every run executes in a child process of the harness, on a fresh directory under --dir
that is removed afterwards (--keep leaves it and prints its path). An engine that
fails (disk full, IO error), panics, dies of a signal (SIGBUS, the OOM killer's
SIGKILL) or hangs (no op started and no new phase for 60s) ends its own run, with a
one-line reason; the other runs go on, every figure measured is written (a run whose
child died keeps those of its last checkpoint, sent once a second), and the bench
exits 3 with one line per failed run. A fill (an insert-only workload) that fills
the engine's device instead ends its run there, keeps its figures and says so.
Each run records its own CPU time and peak RSS.

Ctrl-C (SIGINT) or SIGTERM stops the run under way, writes what was measured, marked
partial, and exits 130 or 143.

--memory confines each run's child process to a memory cgroup of that size, page
cache included (cgroup v2 or v1; it takes root or a delegated cgroup): on a machine
with more memory than the data set, engines that read through the page cache
(Badger, bbolt, Pebble's files) would otherwise read from memory what shardstore,
which sizes its own cache from the limit it runs under, reads from its device.

--dir must exist (a typo would bench another disk); --out must not hold an earlier
report.

Engines and workloads are comma-separated specs; an option belongs to the spec
before it: --engine shardstore:extent=1MiB,sched=fifo,pebble is two engines.`,
		Example: `  harness bench --quick
  harness bench --engine pebble,badger,bbolt --workload ycsb-a,ycsb-c --duration 30s --threads 8
  harness bench --engine pebble:sync=true --workload durable-put --rate 20000 --dir /mnt/nvme`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, e := range engines {
				cfg.Engines = append(cfg.Engines, engine.SplitSpecs(e)...)
			}
			for _, w := range workloads {
				cfg.Workloads = append(cfg.Workloads, engine.SplitSpecs(w)...)
			}
			cfg.Preload = !noPreload
			if memory != "" {
				n, err := engine.ParseSize(memory)
				if err != nil || n < benchMemoryMin {
					return usagef("bench: --memory %s: want a size of at least 64MiB, such as 4GiB", memory)
				}
				cfg.MemoryLimit = n
			}
			if cfg.Repeat < 1 {
				// (Config takes an unset 0 for 1; a 0 given here is a
				// mistake, as -1 is.)
				return usagef("bench: --repeat %d: want 1 to 1000", cfg.Repeat)
			}
			switch {
			case quick && suite != "" && suite != "quick":
				return usagef("bench: --quick and --suite %s: give one of them", suite)
			case quick || suite == "quick":
				applyQuick(cmd, &cfg)
			case suite != "":
				st, err := bench.LookupSuite(suite)
				if err != nil {
					return usageError{err}
				}
				applySuite(cmd, &cfg, st)
			}
			if err := applyBenchShard(shardFlag, &cfg); err != nil {
				return err
			}
			prefix := ""
			if cfg.Shard != nil {
				prefix = cfg.Shard.Shard().Suffix()
			}
			return withResults(cmd, "bench", results, cfg.Out, prefix, func() error { return runBench(cmd, benchDrivers(), cfg, quiet) })
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&engines, "engine", nil, "engine specs, comma-separated or repeated (see 'harness engines')")
	f.StringArrayVar(&workloads, "workload", nil, "workload names or specs, comma-separated or repeated (see 'harness workloads')")
	f.StringVar(&cfg.Dir, "dir", "", "an existing directory (on the disk under test) for the engines' data; default: a new temporary directory, removed afterwards")
	f.DurationVar(&cfg.Duration, "duration", 0, "measured time per run (default 10s unless --ops is set)")
	f.Int64Var(&cfg.Ops, "ops", 0, "measured operations per run, instead of --duration")
	f.IntVar(&cfg.Threads, "threads", 0, "client goroutines (default: the workload's choice, 16 for durable-put, else 1)")
	f.DurationVar(&cfg.Warmup, "warmup", bench.WarmupDefault, "unmeasured warm-up per run, after preload")
	f.BoolVar(&noPreload, "no-preload", false, "skip loading the workload's records before each run")
	f.IntVar(&cfg.LoadThreads, "load-threads", 0, fmt.Sprintf("clients of the load phase (default: --threads, at least %d)", bench.LoadThreadsMin))
	f.IntVar(&cfg.LoadBatch, "load-batch", bench.LoadBatchDefault, "records per load call, through the engine's native batch where it has one (1: one put per record)")
	f.IntVar(&cfg.Repeat, "repeat", 1, "repetitions of every engine × workload pair, interleaved")
	f.BoolVar(&cfg.Sync, "sync", false, "make every write durable before acknowledging it (Sync after each write, inside its latency)")
	f.Float64Var(&cfg.Rate, "rate", 0, "open loop: total ops/s to schedule (0: closed loop)")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the op sequences")
	f.StringVar(&cfg.Out, "out", "", "output directory, not one holding an earlier report (default out/bench-<time>)")
	f.BoolVar(&cfg.Probe, "probe", false, "measure the device's limits under --dir first (see 'harness probe')")
	f.Int64Var(&cfg.ProbeBytes, "probe-bytes", 256<<20, "size of the probe's sequential-write file in bytes")
	f.BoolVar(&cfg.IOTrace, "io-trace", false, "record every device IO of each run to --out (<engine spec>-<workload>-r<rep>.iotrace; harness iotrace plots it); engines with an io-trace= option (shardstore, on a real or a simulated device)")
	f.BoolVar(&cfg.CPUProfile, "cpuprofile", false, "write a Go CPU profile of each measured run to --out (<engine spec>-<workload>-r<rep>.cpu.pprof)")
	f.BoolVar(&cfg.Trace, "trace", false, "write a Go execution trace of each measured run to --out (<engine spec>-<workload>-r<rep>.trace, for go tool trace)")
	f.StringVar(&memory, "memory", "", "memory limit of each run's child process, page cache included, as a cgroup (4GiB): a data set larger than it is read from the device by every engine alike")
	f.BoolVar(&cfg.Keep, "keep", false, "keep each run's data directory (its path is printed) instead of removing it")
	f.BoolVar(&quick, "quick", false, "the embedded default: shardstore (or the best available engine), "+fmt.Sprint(quickWorkloads)+", 2s each, temporary directory")
	f.Int64Var(&cfg.Records, "records", 0, "records of every workload that loads some (not a fill), unless its spec gives records= (0: each workload's own)")
	f.StringVar(&cfg.Values, "values", "", "value sizes of every workload, as a values= term (4KiB, uniform:100B:10KiB), unless its spec gives its own")
	f.StringVar(&suite, "suite", "", "a named suite of workloads at a stated scale: "+suiteList()+"; flags given win over its settings")
	f.StringVar(&results, "results", "", "also upload --out to this results store: s3://bucket/prefix or a directory (a shard: under shard-i-of-N)")
	f.StringVar(&shardFlag, "shard", "", shardFlagUsage+"; a shard runs every Nth repetition (--repeat at least N)")
	f.BoolVar(&quiet, "quiet", false, "no progress (a bar on a terminal, else a status line every --status-interval)")
	addStatusInterval(cmd)
	return cmd
}

// quickEngine is the engine --quick measures: shardstore once it is in the
// table, else the best available peer.
func quickEngine() string {
	for _, name := range []string{"shardstore", "pebble", "badger", "bbolt", "model"} {
		if _, err := drivers().Lookup(name); err == nil {
			return name
		}
	}
	return "model"
}

// mustSuite is a suite the harness defines.
func mustSuite(name string) bench.Suite {
	s, err := bench.LookupSuite(name)
	if err != nil {
		panic(err)
	}
	return s
}

// suiteList names the suites and what each runs, for --help.
func suiteList() string {
	var parts []string
	for _, s := range bench.Suites {
		parts = append(parts, s.Name+" ("+s.Doc+")")
	}
	return strings.Join(parts, "; ")
}

// applySuite fills in what the user left out from the suite: its
// workloads, record count, threads and times, and every engine in the
// table but the model's (peers at their defaults, badger in both modes).
func applySuite(cmd *cobra.Command, cfg *bench.Config, s bench.Suite) {
	if len(cfg.Engines) == 0 {
		cfg.Engines = suiteEngines()
	}
	if len(cfg.Workloads) == 0 {
		cfg.Workloads = s.Workloads
	}
	if !cmd.Flags().Changed("records") && s.Records > 0 {
		cfg.Records = s.Records
	}
	if !cmd.Flags().Changed("threads") && s.Threads > 0 {
		cfg.Threads = s.Threads
	}
	if !cmd.Flags().Changed("duration") && cfg.Ops == 0 && s.Duration > 0 {
		cfg.Duration = s.Duration
	}
	if !cmd.Flags().Changed("warmup") && s.Warmup > 0 {
		cfg.Warmup = s.Warmup
	}
}

// suiteEngines are the engines a suite measures by default: shardstore
// and its peers, those of them in the table.
func suiteEngines() []string {
	var out []string
	for _, name := range []string{"shardstore", "pebble", "badger", "badger:mode=vlog", "bbolt"} {
		if _, _, err := drivers().Resolve(name); err == nil {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		out = []string{quickEngine()}
	}
	return out
}

func applyQuick(cmd *cobra.Command, cfg *bench.Config) {
	if len(cfg.Engines) == 0 {
		cfg.Engines = []string{quickEngine()}
	}
	if len(cfg.Workloads) == 0 {
		cfg.Workloads = quickWorkloads
	}
	if !cmd.Flags().Changed("duration") && cfg.Ops == 0 {
		cfg.Duration = 2 * time.Second
	}
	if !cmd.Flags().Changed("warmup") {
		cfg.Warmup = 500 * time.Millisecond
	}
}

// commandLine is the command cmd runs as the user gave it, for reports:
// the arguments as typed, quoted as a shell would need; or, when the
// verb was run without them (a test's root), the verb, every flag set
// and the arguments.
func commandLine(cmd *cobra.Command) string {
	var args []string
	if ctx := cmd.Context(); ctx != nil {
		args, _ = ctx.Value(argsKey{}).([]string)
	}
	if args != nil {
		parts := []string{"harness"}
		for _, a := range args {
			parts = append(parts, shellQuote(a))
		}
		return strings.Join(parts, " ")
	}
	parts := []string{cmd.CommandPath()}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				parts = append(parts, "--"+f.Name, shellQuote(v))
			}
			return
		}
		if f.Value.Type() == "bool" && f.Value.String() == "true" {
			parts = append(parts, "--"+f.Name)
			return
		}
		parts = append(parts, "--"+f.Name, shellQuote(f.Value.String()))
	})
	for _, a := range cmd.Flags().Args() {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell if it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,:=/+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// runBench runs cfg against the engines of table, each run in a child
// process of this executable, and writes every output.
func runBench(cmd *cobra.Command, table engine.Drivers, cfg bench.Config, quiet bool) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if cfg.Out == "" {
		cfg.Out = filepath.Join("out", "bench-"+time.Now().Format("20060102-150405"))
	}
	if cfg.MemoryLimit > 0 {
		// Engines that size a default from memory size it from the run's
		// limit: here, where the specs are resolved, as in the child that
		// runs under it.
		// (Restored after: tests run many benches in one process.)
		defer func(was int64) { shardstore.CacheBytesDefault = was }(shardstore.CacheBytesDefault)
		shardstore.CacheBytesDefault = shardstore.CacheBytesFor(cfg.MemoryLimit)
		table = benchDrivers()
	}
	r := &bench.Runner{Config: cfg, Drivers: table, Log: stderr, HangTimeout: benchHangTimeout}
	if m := newMeter(stderr, quiet, statusInterval(cmd)); m != nil {
		r.Progress = m
		defer m.Close()
	}
	if err := r.Validate(); err != nil {
		return usageError{err}
	}
	if cfg.MemoryLimit > 0 {
		// Before --out is made: a refusal leaves nothing behind.
		cg, err := cgroup.NewMemory(fmt.Sprintf("gauntlet-bench-%d", os.Getpid()), cfg.MemoryLimit)
		if err != nil {
			return usagef("bench: --memory %s: %v; or leave --memory out", engine.FormatSize(cfg.MemoryLimit), err)
		}
		defer cg.Remove()
		r.ChildEnv = append(r.ChildEnv, cg.Env())
	}
	// An earlier report's plots and histograms would sit beside the new
	// report with nothing to tell them apart.
	if _, err := os.Stat(filepath.Join(cfg.Out, bench.ReportFile)); err == nil {
		return usagef("--out %s holds the report of an earlier bench: give a new directory (or leave --out out for out/bench-<time>), or remove that one first", cfg.Out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return usagef("--out %s: %v (choose a writable directory)", cfg.Out, unwrapPathErr(err))
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return usagef("--out %s: %v (choose a writable directory)", cfg.Out, unwrapPathErr(err))
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the harness executable to run each run in: %w", err)
	}
	r.Child = func() *exec.Cmd { return benchChildCmd(exe) }
	if r.Simulated() {
		// A simulated run is deterministic only as one controlled
		// execution (bench/simulated.go): its child is a harness with the
		// scheduler, built and cached as check interleave's is.
		simExe := exe
		if !conc.Controlled {
			simExe, err = taggedHarness(cmd.Context(), "bench", []string{"interleave"}, "out", stderr)
			if err != nil {
				return err
			}
		}
		r.SimChild = func() *exec.Cmd { return benchChildCmd(simExe) }
	}
	if r.Config.Dir == "" {
		tmp, err := os.MkdirTemp("", "gauntlet-bench-")
		if err != nil {
			return fmt.Errorf("temporary directory: %w", err)
		}
		if !cfg.Keep {
			defer os.RemoveAll(tmp)
		}
		r.Config.Dir = tmp
	}
	ctx, stop := stopOnSignal(cmd.Context())
	defer stop()
	rep, runErr := r.Run(ctx)
	sig := stop()
	if rep == nil {
		var fe bench.FatalError
		if errors.As(runErr, &fe) {
			return runErr
		}
		return usageError{runErr}
	}
	if sig != nil {
		rep.Reason = "interrupted by " + signalName(sig)
	}
	rep.Command = commandLine(cmd)
	path, err := bench.WriteReport(cfg.Out, rep, r.Histograms)
	if err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	files, err := writeBenchOutputs(cfg.Out, rep, r)
	if err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	if err := writeBenchSummary(stdout, rep); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nreport: %s\n", path)
	for _, f := range files {
		fmt.Fprintf(stdout, "        %s\n", f)
	}
	var failed *bench.RunsFailedError
	switch {
	case sig != nil:
		runs := fmt.Sprintf("the %d runs measured are", len(rep.Runs))
		if len(rep.Runs) == 1 {
			runs = "the run measured is"
		}
		return interruptedError{sig, fmt.Errorf("interrupted by %s; %s in %s, marked partial", signalName(sig), runs, path)}
	case errors.As(runErr, &failed):
		// One line per failed run, then where the rest went.
		for _, f := range failed.Failures {
			fmt.Fprintf(stderr, "harness: %s: %s\n", f.Run, oneLine(f.Reason))
		}
		return fmt.Errorf("%d of %d runs failed; the figures of every run are in %s", len(failed.Failures), failed.Runs, path)
	case runErr != nil:
		return fmt.Errorf("%v; partial results in %s", runErr, path)
	}
	return nil
}

// stopOnSignal returns a context cancelled by SIGINT or SIGTERM (or by
// parent's end), and a stop function that stops listening and returns the
// signal that came, if any: a parent context cancelled without one counts
// as SIGINT.
func stopOnSignal(parent context.Context) (context.Context, func() os.Signal) {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var mu sync.Mutex
	var got os.Signal
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case s := <-sigs:
			mu.Lock()
			got = s
			mu.Unlock()
			cancel()
		case <-ctx.Done():
		}
	}()
	var once sync.Once
	return ctx, func() os.Signal {
		once.Do(func() {
			signal.Stop(sigs)
			if parent.Err() != nil {
				mu.Lock()
				if got == nil {
					got = os.Interrupt
				}
				mu.Unlock()
			}
			cancel()
			<-done
		})
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

// benchChildCmd is the command of one bench run's child process: the
// harness's hidden bench-run verb. The runner sets the rest (its process
// group among them).
func benchChildCmd(exe string) *exec.Cmd {
	cmd := exec.Command(exe, "internal", "bench-run")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	return cmd
}

// newBenchRunCmd is the hidden verb a bench run's child process runs: the
// run arrives on stdin, its heartbeats, checkpoints and result leave on
// file descriptor 3 (bench.ServeChild).
func newBenchRunCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "bench-run",
		Short: "run one bench run sent on stdin, reporting on file descriptor 3",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The parent tells the child to stop with SIGINT (it is in a
			// process group of its own, so a terminal's Ctrl-C does not
			// reach it); the run then ends and its result still goes out.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := os.NewFile(bench.ChildFD, "bench-parent")
			defer out.Close()
			return bench.ServeChild(ctx, benchDrivers(), cmd.InOrStdin(), out)
		},
	}
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func newProbeCmd() *cobra.Command {
	var (
		dir   string
		bytes int64
		phase time.Duration
	)
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Measure the device under a directory: sequential write MB/s, fdatasync latency, random-read IOPS",
		Long: `probe measures what the device under --dir can do, so bench results can be stated
against the physical limit: sequential write bandwidth with O_DIRECT 1 MiB writes,
the latency of a 4 KiB write plus fdatasync at queue depth 1, and 4 KiB random-read
IOPS at queue depth 1 and 16. It writes one temporary file and removes it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("probe: --dir is required (a directory on the device to measure)")
			}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usagef("probe: --dir %s: not a directory", dir)
			}
			if bytes < bench.ProbeBytesMin {
				return usagef("probe: --bytes %d: want at least %d (one 1MiB write; default 256MiB)", bytes, bench.ProbeBytesMin)
			}
			if phase <= 0 {
				return usagef("probe: --phase %s: give a positive duration (default 2s)", phase)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			p, err := bench.RunProbe(ctx, dir, bench.ProbeOptions{FileBytes: bytes, PhaseTime: phase})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			direct := "O_DIRECT"
			if !p.Direct {
				direct = "buffered: the file system refused O_DIRECT, figures include the page cache"
			}
			fmt.Fprintf(w, "device under %s (%s)\n", dir, direct)
			fmt.Fprintf(w, "  sequential write     %8.1f MB/s   (%s file, 1 MiB writes; best of: first write %.0f, overwrite at queue depth 1 %.0f, at depth 4 %.0f, at depth 8 %.0f)\n",
				p.SeqWriteMBps, engine.FormatSize(p.FileBytes), p.SeqWriteFirstMBps, p.SeqWriteQD1MBps, p.SeqWriteQD4MBps, p.SeqWriteQD8MBps)
			fmt.Fprintf(w, "  4 KiB write+fdatasync p50 %6.0f µs   p99 %.0f µs   (queue depth 1)\n", p.FdatasyncP50us, p.FdatasyncP99us)
			fmt.Fprintf(w, "  4 KiB random read    %8.0f IOPS   (queue depth 1)   %.0f IOPS (queue depth 16)\n", p.RandReadIOPS, p.RandReadIOPSQD16)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "a directory on the device to measure (required)")
	cmd.Flags().Int64Var(&bytes, "bytes", 256<<20, "size of the sequential-write file in bytes")
	cmd.Flags().DurationVar(&phase, "phase", 2*time.Second, "time spent on each of the fdatasync and random-read phases")
	return cmd
}
