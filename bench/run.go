// Package bench measures engines: it drives each engine with a workload from
// package workloads, records every operation's latency in HDR histograms (per
// op type and per worker, merged afterwards), keeps a per-second timeline, and
// writes a versioned JSON report.
//
// # Closed and open loop
//
// Closed loop (the default): each of Threads workers issues its next
// operation when the previous one returns. Throughput is what the engine
// sustains; latency excludes any queueing, so a stall delays the next
// request instead of showing in the tail. Open loop (Rate > 0): operations
// are scheduled at a fixed total rate, handed to workers in order, and each
// latency is measured from the operation's intended start. A stall then shows
// in the tail as it would for real clients — the figures are free of
// coordinated omission. Reports label every run with its mode.
//
// Either way an operation's key and value are made before its clock starts
// (in closed loop) or before it is handed on (open loop), so a latency is
// the engine's call, not the generator's; the clock is the monotonic one,
// read once at each end (BenchmarkDriverOverhead: about 300 ns per ycsb-a
// op of driver cost in all, none of it inside a closed-loop latency but
// the clock read itself).
//
// # Fair comparison
//
// Engines and repetitions are interleaved (A B C A B C ...) so machine drift
// hits every engine alike; each run starts on a fresh directory; the preload
// and warm-up phases are not measured.
//
// # Isolation
//
// With Runner.Child set (as `harness bench` always sets it), every run
// executes in a child process (isolate.go): an engine that panics, dies of
// a signal, runs out of memory or hangs ends its own run, with a one-line
// reason, and the runner goes on to the next. The child streams a
// checkpoint of the measured phase once a second, so a run that dies keeps
// its figures up to the last one. Without Child, runs execute in the
// calling process: what go test -bench and the measuring loop's unit tests
// use.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/internal/progress"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// FatalError is a failure of the engine or the machine during a run (disk
// full, IO error, corruption): the report written is marked partial.
type FatalError struct{ Err error }

func (e FatalError) Error() string { return e.Err.Error() }
func (e FatalError) Unwrap() error { return e.Err }

// Runner runs a Config against a table of engines.
type Runner struct {
	Config  Config
	Drivers engine.Drivers
	// Progress, if set, shows each phase of each run: on a terminal a bar
	// with an estimate of the time left, elsewhere a status line every
	// interval with ops/s and the current p50 and p99; nil keeps quiet.
	Progress *progress.Meter
	// Log receives one line per finished run; nil keeps quiet.
	Log io.Writer

	// Histograms are the merged per-op histograms of every run, keyed by
	// run index and op name, for spectra plots and .hgrm files.
	Histograms []map[string]*hdrhistogram.Histogram

	// Child, if set, runs every run in a child process: it returns the
	// command that starts one (the harness's hidden `internal bench-run`
	// verb, which calls ServeChild); the runner sets its stdin, stderr,
	// extra files and process group. Nil runs in this process.
	Child func() *exec.Cmd
	// ChildEnv is added to every child's environment (a memory cgroup to
	// join: Config.MemoryLimit).
	ChildEnv []string
	// SimChild, if set, is Child for a run on a simulated device
	// (engine.Driver.Simulated): a harness with the controlled scheduler
	// (-tags interleave), which runs it deterministically (simulated.go).
	// Nil: Child.
	SimChild func() *exec.Cmd
	// HangTimeout is how long a child may go without progress (no op
	// started, no new phase) before it is called hung and killed; zero
	// means HangTimeoutDefault.
	HangTimeout time.Duration
	// StopTimeout is how long a child told to stop (Ctrl-C) may take to
	// send its result before it is killed; zero means StopTimeoutDefault.
	StopTimeout time.Duration
	// Failures are the runs that failed, in order, once Run returns.
	Failures []Failure

	sink  *childSink                // in a child: where status and checkpoints go
	shown string                    // the label of the task the Meter shows
	live  atomic.Pointer[livePhase] // the phase under way, for a child's heartbeat
}

// Failure is a run that failed: which, and why, in one line each.
type Failure struct {
	Run    string // "fill-64k on pebble, repetition 1"
	Reason string // "engine panicked: write …/000011.log: no space left on device"
}

// RunsFailedError is what Run returns when runs failed but the others
// went on: the report holds every run's figures and reasons.
type RunsFailedError struct {
	Failures []Failure
	Runs     int // runs attempted
}

func (e *RunsFailedError) Error() string {
	if len(e.Failures) == 1 {
		return e.Failures[0].Run + ": " + e.Failures[0].Reason
	}
	return fmt.Sprintf("%d of %d runs failed; the first: %s: %s", len(e.Failures), e.Runs, e.Failures[0].Run, e.Failures[0].Reason)
}

type resolvedEngine struct {
	driver engine.Driver
	opts   engine.Options
	typed  string // the spec as given, for file names
}

// Resolve checks every engine and workload spec before anything runs.
func (r *Runner) resolve() ([]resolvedEngine, []*plan, error) {
	var engines []resolvedEngine
	var errs []error
	for _, spec := range r.Config.Engines {
		d, o, err := r.Drivers.Resolve(spec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		engines = append(engines, resolvedEngine{d, o, spec})
	}
	var plans []*plan
	for _, spec := range r.Config.Workloads {
		p, err := newPlan(spec, r.Config)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		plans = append(plans, p)
	}
	if len(errs) == 0 {
		errs = append(errs, checkFits(engines, plans, r.Config))
	}
	return engines, plans, errors.Join(errs...)
}

// Validate checks the configuration and every spec without running
// anything; errors are the user's to fix.
func (r *Runner) Validate() error {
	r.Config.EnsureDefaults()
	if err := r.Config.Validate(); err != nil {
		return err
	}
	engines, _, err := r.resolve()
	if err != nil {
		return err
	}
	return r.checkEngines(engines)
}

// Run executes every run and returns the report. A run that fails (a
// FatalError in it, or its child process dying) is recorded with its
// reason and the others go on; Run then returns the report, marked
// partial, with a *RunsFailedError. On cancellation (Ctrl-C) it returns the
// report so far, marked partial, with the context's error. The caller
// writes the report either way.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	r.Config.EnsureDefaults()
	if err := r.Config.Validate(); err != nil {
		return nil, err
	}
	engines, plans, err := r.resolve()
	if err != nil {
		return nil, err
	}
	if err := r.checkEngines(engines); err != nil {
		return nil, err
	}
	rep := &Report{Schema: SchemaVersion, Started: time.Now().UTC(), Config: r.Config, Runs: []Run{}}
	rep.Env = ReadEnv(r.Config.Dir)
	defer func() { rep.ElapsedSec = time.Since(rep.Started).Seconds() }()
	if err := checkWritable(r.Config.Dir); err != nil {
		return nil, err
	}
	if r.Config.Probe {
		r.status("probing the device under %s", r.Config.Dir)
		p, err := RunProbe(ctx, r.Config.Dir, ProbeOptions{FileBytes: r.Config.ProbeBytes})
		if err != nil {
			return r.partial(rep, ctx, fmt.Errorf("probe: %w", err))
		}
		rep.Probe = p
	}
	total := 0
	for rp := 1; rp <= r.Config.Repeat; rp++ {
		if r.Config.owns(rp) {
			total += len(plans) * len(engines)
		}
	}
	n := 0
	for rp := 1; rp <= r.Config.Repeat; rp++ {
		if !r.Config.owns(rp) {
			continue // another shard's
		}
		for _, p := range plans {
			for _, e := range engines {
				if ctx.Err() != nil {
					// Stopped between two runs: start no other.
					return r.partial(rep, ctx, ctx.Err())
				}
				n++
				name := fmt.Sprintf("%s on %s, repetition %d", p.name, e.driver.Name, rp)
				label := fmt.Sprintf("[%d/%d] %s", n, total, name)
				run, hists, err := r.runOne(ctx, e, p, rp, label)
				if run == nil && err != nil && ctx.Err() == nil {
					// Failed before it measured anything: the report
					// still says which run and why.
					run = r.newRun(e, p, rp)
					run.Error = err.Error()
				}
				if run != nil {
					rep.Runs = append(rep.Runs, *run)
					r.Histograms = append(r.Histograms, hists)
				}
				if ctx.Err() != nil {
					return r.partial(rep, ctx, err)
				}
				if r.Log != nil {
					r.clearStatus()
					if err != nil {
						fmt.Fprintf(r.Log, "%s: failed: %s\n", label, run.Error)
					} else {
						fmt.Fprintf(r.Log, "%s: %.0f ops/s, p99 %s%s\n", label, run.OpsPerSec, fmtUs(run.All.P99us), failedNote(run))
					}
					if run.KeptDir != "" {
						fmt.Fprintf(r.Log, "%s: data kept in %s\n", label, run.KeptDir)
					}
				}
				if err != nil {
					r.Failures = append(r.Failures, Failure{Run: name, Reason: run.Error})
				}
			}
		}
	}
	r.clearStatus()
	if len(r.Failures) > 0 {
		fe := &RunsFailedError{Failures: r.Failures, Runs: n}
		rep.Partial, rep.Reason = true, fe.Error()
		return rep, fe
	}
	return rep, nil
}

func (r *Runner) partial(rep *Report, ctx context.Context, err error) (*Report, error) {
	r.clearStatus()
	rep.Partial = true
	if ctx.Err() != nil {
		rep.Reason = "interrupted"
		return rep, ctx.Err()
	}
	rep.Reason = err.Error()
	var fe FatalError
	if !errors.As(err, &fe) {
		err = FatalError{err}
	}
	return rep, err
}

func checkWritable(dir string) error {
	// A --dir that does not exist is refused rather than made: a typo
	// would bench whatever disk the new directory landed on.
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--dir %s does not exist: create it first (on the disk under test), or leave --dir out for a temporary directory", dir)
	case err != nil:
		return fmt.Errorf("--dir %s: %v (choose a writable directory)", dir, unwrapPath(err))
	case !st.IsDir():
		return fmt.Errorf("--dir %s: not a directory (choose a writable directory)", dir)
	}
	f, err := os.CreateTemp(dir, ".gauntlet-write-test-*")
	if err != nil {
		return fmt.Errorf("--dir %s: not writable: %v (choose a writable directory)", dir, unwrapPath(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// runOne measures one engine on one workload, in a child process if
// r.Child is set. It returns the run (possibly cut short, with Error set;
// nil if it failed before anything was measured) and the error that ended
// it: a FatalError for a failure of the engine or its process, the
// context's error on cancellation.
func (r *Runner) runOne(ctx context.Context, e resolvedEngine, p *plan, rep int, label string) (*Run, map[string]*hdrhistogram.Histogram, error) {
	if r.Child != nil {
		return r.runIsolated(ctx, e, p, rep, label)
	}
	dir, err := r.runDir(e, p, rep)
	if err != nil {
		return nil, nil, err
	}
	run, hists, err := r.measureRun(ctx, e, p, rep, dir, label)
	if kept := r.dropRunDir(dir); kept != "" && run != nil {
		run.KeptDir = kept
	}
	return run, hists, err
}

// runDir makes the fresh directory of one run under --dir.
func (r *Runner) runDir(e resolvedEngine, p *plan, rep int) (string, error) {
	dir, err := os.MkdirTemp(r.Config.Dir, fmt.Sprintf("%s-%s-r%d-", e.driver.Name, sanitize(p.name), rep))
	if err != nil {
		return "", FatalError{fmt.Errorf("--dir %s: %v", r.Config.Dir, unwrapPath(err))}
	}
	return dir, nil
}

// dropRunDir removes a run's directory, or with --keep leaves it and
// returns its path.
func (r *Runner) dropRunDir(dir string) (kept string) {
	if r.Config.Keep {
		return dir
	}
	os.RemoveAll(dir)
	return ""
}

// newRun is a run's identity: which engine, workload and repetition, and
// how it is driven. A run that fails before measuring anything is this.
func (r *Runner) newRun(e resolvedEngine, p *plan, rep int) *Run {
	threads := r.Config.Threads
	if threads == 0 {
		threads = max(p.threads, 1) // the workload's own choice, else one client
	}
	run := &Run{
		Engine: e.driver.Name, Spec: e.opts.Spec().String(), Options: e.opts.Map(),
		Workload: p.name, WorkloadIs: p.describe, Repetition: rep,
		Mode: "closed-loop", Threads: threads, Sync: r.Config.Sync || p.sync,
	}
	if r.Config.Rate > 0 {
		run.Mode, run.RateOpsPerSec = "open-loop", r.Config.Rate
	}
	return run
}

// enter names the phase under way and its op counter, for a child's
// heartbeat (progress is a change in either).
func (r *Runner) enter(phase string, ops *atomic.Int64) {
	r.live.Store(&livePhase{name: phase, ops: ops})
}

type livePhase struct {
	name string
	ops  *atomic.Int64 // nil for a phase without ops (open, close)
}

// measure opens the engine on dir and runs one workload on it: preload,
// warm-up, the measured phase, close. It returns the run (nil if it
// failed before the measured phase) and what ended it early.
func (r *Runner) measure(ctx context.Context, e resolvedEngine, p *plan, rep int, dir, label string) (*Run, map[string]*hdrhistogram.Histogram, error) {
	r.status("%s: opening", label)
	r.enter("opening", nil)
	opts, err := r.traceOptions(e, p, rep)
	if err != nil {
		return nil, nil, err
	}
	eng, err := e.driver.Open(dir, opts)
	if err != nil {
		return nil, nil, FatalError{fmt.Errorf("open %s in %s: %w", e.opts.Spec(), dir, err)}
	}
	closed := false
	defer func() {
		if !closed {
			eng.Close()
		}
	}()
	if err := p.fresh(); err != nil {
		return nil, nil, err
	}
	if err := p.check(eng); err != nil {
		return nil, nil, fmt.Errorf("workload %s on engine %s: %w", p.name, e.driver.Name, err)
	}
	run := r.newRun(e, p, rep)
	run.Simulated = simDevice(eng) != nil
	threads, syncWrites := run.Threads, run.Sync
	seed := r.Config.Seed
	if e.simulated() {
		seed = simSeed(seed, rep) // simulated.go: the repetitions' spread is the seeds'
	}

	// The load: measured on its own (Run.Load), not in the run's figures.
	if r.Config.Preload && p.records > 0 {
		lt := r.loadThreads(threads)
		r.status("%s: loading %d records with %d threads", label, p.records, lt)
		sum, err := r.load(ctx, eng, p, lt)
		run.Load, run.PreloadOps = sum, sum.Records
		r.status("%s: loaded %d records in %.1fs (%.0f records/s%s)", label, sum.Records, sum.ElapsedSec, sum.RecordsPerSec, batchNote(sum))
		if err != nil {
			run.Error = sum.Ended
			return run, nil, err
		}
	}
	// Warm-up: the workload itself, not measured.
	if r.Config.Warmup > 0 {
		r.status("%s: warming up for %s", label, r.Config.Warmup)
		wm, err := r.drive(ctx, eng, p, threads, syncWrites, phase{name: "warming up", duration: r.Config.Warmup, seed: seed + 1_000_003, label: label + ": warm-up"})
		if err != nil {
			return nil, nil, err
		}
		run.WarmupSec = r.Config.Warmup.Seconds()
		if wm.full {
			// Nothing left to measure.
			run.Ended = fmt.Sprintf("the device filled up during the warm-up, after %d inserts: nothing measured (give the engine a larger device, or a shorter --warmup)", wm.ops())
			closed = true
			r.enter("closing", nil)
			if err := eng.Close(); err != nil {
				runErr := FatalError{fmt.Errorf("close %s: %w", e.driver.Name, err)}
				run.Error = runErr.Error()
				return run, nil, runErr
			}
			return run, nil, nil
		}
	}
	var statsBefore engine.Stats
	st, hasStats := eng.(engine.Statser)
	if hasStats {
		statsBefore = st.Stats()
	}
	// Named by the spec as typed, as an IO trace is: two specs of one
	// engine (shardstore,shardstore:extent=16MiB) wrote one file.
	profName := e.typed
	if profName == "" {
		profName = e.driver.Name
	}
	stopProfile, err := r.startProfile(profName, p.name, rep)
	if err != nil {
		return nil, nil, err
	}
	ph := phase{name: "measuring", duration: r.Config.Duration, ops: r.Config.Ops, rate: r.Config.Rate, seed: seed, label: label, measured: true}
	if r.sink != nil {
		// Once a second the figures so far go to the parent, so a child
		// that dies mid-run still leaves them.
		ph.checkpoint = func(m *measurement) {
			c := *run
			m.fill(&c)
			r.sink.checkpoint(&c, m.hists)
		}
	}
	cpu := cpuTime()
	res := startResources()
	var space *spaceSampler
	if p.w.Config().Capacity > 0 {
		space = startSpaceSampler(dir)
	}
	m, runErr := r.drive(ctx, eng, p, threads, syncWrites, ph)
	cpu = cpuTime() - cpu
	stopProfile()
	if m == nil {
		res.finish(0, 0, 0)
		if space != nil {
			space.finish(nil)
		}
		return nil, nil, runErr
	}
	m.fill(run)
	if space != nil {
		space.finish(run.Timeline)
	}
	run.MeasuredCPUSec = cpu.Seconds()
	run.Resources = res.finish(run.Ops+run.Errors+run.Misses, run.Bytes-run.BytesWritten, run.BytesWritten)
	if hasStats {
		s := diffStats(st.Stats(), statsBefore)
		run.Stats = &s
		run.WriteAmplification = s.WriteAmplification()
	}
	switch {
	case ctx.Err() != nil:
		run.Error = "interrupted"
	case runErr != nil:
		run.Error = runErr.Error()
	case m.full:
		run.Ended = fmt.Sprintf("the device filled up after %d inserts (%.2f GB) in %.2fs: the figures cover the run until then", run.Ops, float64(run.Bytes)/1e9, run.ElapsedSec)
	}
	closed = true
	r.status("%s: closing", label)
	r.enter("closing", nil)
	if err := eng.Close(); err != nil && runErr == nil {
		runErr = FatalError{fmt.Errorf("close %s: %w", e.driver.Name, err)}
		run.Error = runErr.Error()
	}
	return run, m.hists, runErr
}

// cpuTime is the CPU time, user and system, this process has used: with
// one run per child process, the run's own.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func diffStats(a, b engine.Stats) engine.Stats {
	d := engine.Stats{
		UserBytesWritten:   a.UserBytesWritten - b.UserBytesWritten,
		DeviceBytesWritten: a.DeviceBytesWritten - b.DeviceBytesWritten,
		DeviceBytesRead:    a.DeviceBytesRead - b.DeviceBytesRead,
		Flushes:            a.Flushes - b.Flushes,
	}
	if len(a.Metrics) > 0 {
		d.Metrics = map[string]float64{}
		for k, v := range a.Metrics {
			d.Metrics[k] = v // gauges and totals as of the end of the run
		}
	}
	return d
}

type phase struct {
	name     string // for a child's heartbeat: "measuring"
	duration time.Duration
	ops      int64
	rate     float64
	seed     uint64
	label    string
	measured bool
	// checkpoint, if set, receives the figures so far once a second.
	checkpoint func(*measurement)
}

// measurement is the merged result of one phase.
type measurement struct {
	elapsed time.Duration
	hists   map[string]*hdrhistogram.Histogram
	all     *hdrhistogram.Histogram
	count   map[string]int64
	errors  map[string]int64
	misses  map[string]int64
	bytes   int64
	written int64
	tl      []TimelinePoint
	// opErr is the first op error the run went on after (not fatal).
	opErr string
	full  bool // a fill stopped at a full device
}

func newMeasurement() *measurement {
	return &measurement{hists: map[string]*hdrhistogram.Histogram{}, count: map[string]int64{}, errors: map[string]int64{}, misses: map[string]int64{}, all: newHistogram()}
}

// merge adds one worker's histograms and counts, indexed by op kind as
// names is, to m.
func (m *measurement) merge(names []string, hist []*hdrhistogram.Histogram, count, errors, misses []int64, bytes, written int64) {
	for i, h := range hist {
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		name := names[i]
		if m.hists[name] == nil {
			m.hists[name] = newHistogram()
		}
		m.hists[name].Merge(h)
		m.all.Merge(h)
		m.count[name] += count[i]
		m.errors[name] += errors[i]
		m.misses[name] += misses[i]
	}
	m.bytes += bytes
	m.written += written
}

// ops is the number of ops measured.
func (m *measurement) ops() int64 {
	var n int64
	for _, c := range m.count {
		n += c
	}
	return n
}

func (m *measurement) fill(run *Run) {
	run.ElapsedSec = m.elapsed.Seconds()
	run.ByOp = map[string]OpSummary{}
	var ops, errs, misses int64
	for name, h := range m.hists {
		run.ByOp[name] = summarize(h, m.count[name], m.errors[name], m.misses[name], m.elapsed)
		ops += m.count[name]
		errs += m.errors[name]
		misses += m.misses[name]
	}
	run.Ops, run.Errors, run.Misses, run.Bytes, run.BytesWritten = ops, errs, misses, m.bytes, m.written
	run.OpError = m.opErr
	if s := m.elapsed.Seconds(); s > 0 {
		run.OpsPerSec = float64(ops) / s
		run.MBPerSec = float64(m.bytes) / 1e6 / s
	}
	run.All = summarize(m.all, ops, errs, misses, m.elapsed)
	run.Timeline = m.tl
}

// drive runs threads workers over one phase and merges what they measured.
// It stops at the phase's duration or op count, on cancellation, or on the
// first engine failure (returned as a FatalError along with what was
// measured until then).
func (r *Runner) drive(ctx context.Context, eng engine.Engine, p *plan, threads int, syncWrites bool, ph phase) (*measurement, error) {
	var stop, full atomic.Bool
	var issued atomic.Int64
	var firstErr error
	var errOnce, opErrOnce sync.Once
	var opErrText string
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		stop.Store(true)
	}
	tl := newTimeline()
	names := opNames()
	// Checkpoints: the first worker to pass each whole second, having
	// published its figures, wakes the control loop below, which merges
	// what every worker has published. Taken on a timer instead, a
	// checkpoint could fall just before the workers publish that second.
	var onPublish func(sec int64)
	var publishedSec atomic.Int64
	cpReady := make(chan struct{}, 1)
	if ph.checkpoint != nil {
		onPublish = func(sec int64) {
			for cur := publishedSec.Load(); sec > cur; cur = publishedSec.Load() {
				if publishedSec.CompareAndSwap(cur, sec) {
					select {
					case cpReady <- struct{}{}:
					default:
					}
					return
				}
			}
		}
	}
	recs := make([]*recorder, threads)
	for i := range recs {
		recs[i] = newRecorder(names, tl, onPublish)
	}
	r.enter(ph.name, &issued)
	var interval time.Duration
	if ph.rate > 0 {
		interval = time.Duration(float64(time.Second) / ph.rate)
	}
	start := time.Now()
	since := phaseClock(eng) // simulated.go: virtual time on a simulated device
	// In a controlled execution (a simulated run, simulated.go) the
	// clients are its tasks, each charged SimOpCPU of virtual time per
	// op, and only the virtual clock ends the phase.
	ctl := conc.Active()
	clients := &clientTasks{ctl: ctl}
	timed := ph.duration > 0 && ph.ops == 0
	var deadline time.Time
	if timed && !ctl {
		deadline = start.Add(ph.duration)
	}
	// Open loop: one dispatcher keeps the schedule and hands each op's
	// intended start to the next free worker; a worker that is late to pick
	// it up is exactly the queueing open loop must charge to latency.
	var sched chan time.Time
	if interval > 0 {
		sched = make(chan time.Time)
		go func() {
			defer close(sched)
			for i := int64(0); !stop.Load(); i++ {
				if ph.ops > 0 && i >= ph.ops {
					return
				}
				intended := start.Add(time.Duration(i) * interval)
				if !deadline.IsZero() && intended.After(deadline) {
					return
				}
				waitUntil(intended, &stop)
				select {
				case sched <- intended:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for w := range threads {
		clients.start(func() {
			next := p.worker(ph.seed, w, threads)
			rec := recs[w]
			buf := make([]byte, 0, 64<<10)
			for !stop.Load() {
				// Times are offsets from start, read with time.Since: one
				// read of the monotonic clock each, where time.Now reads the
				// wall clock too (two reads per op were a third of the
				// driver's cost).
				var intended time.Duration
				var op workloads.Op
				var value []byte
				if sched != nil {
					t, ok := <-sched
					if !ok {
						return
					}
					intended = t.Sub(start)
					op = next()
					value = opValue(op, &buf)
				} else {
					if i := issued.Add(1); ph.ops > 0 && i > ph.ops {
						return
					}
					if ctl {
						conc.DefaultClock().Sleep(SimOpCPU)
					}
					// The op is drawn (key, value) before its clock starts:
					// the latency is the engine's, not the generator's.
					op = next()
					value = opValue(op, &buf)
					intended = since()
					if timed && intended > ph.duration {
						return
					}
				}
				r, err := workloads.ApplyValue(ctx, eng, op, value)
				if err == nil && syncWrites && syncs(op.Kind) {
					err = eng.Sync(ctx)
				}
				n := r.Bytes
				end := since()
				how := opDone
				switch {
				case err != nil && !errors.Is(err, engine.ErrNotFound):
					how = opFailed
					if ctx.Err() != nil {
						return // interrupted: the op did not fail, it was cut off
					}
					if p.insertOnly && errors.Is(err, engine.ErrNoSpace) {
						// A fill ends where the device is full: the op
						// did not happen, and the run is over.
						full.Store(true)
						stop.Store(true)
						return
					}
					where := ""
					if !ph.measured {
						where = ph.name + ": "
					}
					opErr := fmt.Errorf("%s%s %q: %w", where, op.Kind, op.Key, err)
					if fatalOpError(err) {
						fail(FatalError{opErr})
					} else {
						// Counted (get_error, put_error, ...) and the run
						// goes on, as a client retrying would.
						opErrOnce.Do(func() { opErrText = opErr.Error() })
					}
				case err == nil && p.expectFound && !r.Found && (op.Kind == workloads.OpGet || op.Kind == workloads.OpReadModifyWrite):
					how = opMissed
				}
				written := 0
				if how == opDone {
					written = len(value)
				}
				rec.add(int(op.Kind), end-intended, end, n, written, how)
				if sched != nil {
					issued.Add(1)
				}
			}
		})
	}
	// Progress, cancellation, and the deadline watcher.
	// The phase ends when the last worker returns, read by the waiter
	// rather than when the loop notices: it may be busy with a checkpoint
	// then.
	done := make(chan struct{})
	var elapsed time.Duration
	control := func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for waiting := true; waiting; {
			select {
			case <-done:
				waiting = false
			case <-ctx.Done():
				stop.Store(true)
			case <-cpReady:
				if !stop.Load() && (deadline.IsZero() || time.Now().Before(deadline)) {
					ph.checkpoint(checkpoint(recs, tl, names)) // the result is about to follow otherwise
				}
			case <-tick.C:
				if !deadline.IsZero() && time.Now().After(deadline) {
					stop.Store(true)
				}
				r.progress(ph, start, issued.Load(), tl)
			}
		}
	}
	if ctl {
		// The loop runs outside the execution (it touches no conc
		// primitive); this task waits for the clients under the scheduler.
		looped := make(chan struct{})
		go func() { control(); close(looped) }()
		clients.wait()
		elapsed = since()
		close(done)
		<-looped
	} else {
		go func() { clients.wait(); elapsed = since(); close(done) }()
		control()
	}
	// Workers finish their in-flight op after the deadline; the phase lasts
	// until the last one returns (elapsed, set before done closed).
	m := newMeasurement()
	m.elapsed = elapsed
	for _, rec := range recs {
		rec.flushSecond()
		m.merge(names, rec.hist, rec.count, rec.errors, rec.misses, rec.bytes, rec.written)
	}
	m.tl = tl.points(elapsed)
	m.full = full.Load()
	m.opErr = opErrText
	if ctx.Err() != nil {
		return m, ctx.Err()
	}
	return m, firstErr
}

// fatalOpError reports whether an op's error ends the run: the engine is
// broken (corruption), gone (closed) or out of room. Any other error
// (a conflict, a timeout, a bad argument) is counted and the run goes on.
func fatalOpError(err error) bool {
	return errors.Is(err, engine.ErrCorruption) || errors.Is(err, engine.ErrClosed) || errors.Is(err, engine.ErrNoSpace)
}

// checkpoint merges what the workers have published: the figures of the
// phase up to the latest whole second a worker has passed (a worker stuck
// in an op contributes what it did before).
func checkpoint(recs []*recorder, tl *timeline, names []string) *measurement {
	tl.pubMu.Lock()
	defer tl.pubMu.Unlock()
	m := newMeasurement()
	for _, rec := range recs {
		p := rec.pub
		p.mu.Lock()
		m.elapsed = max(m.elapsed, p.upTo)
		m.merge(names, p.hist, p.count, p.errors, p.misses, p.bytes, p.written)
		p.mu.Unlock()
	}
	m.tl = tl.points(m.elapsed)
	if secs := int(m.elapsed / time.Second); len(m.tl) > secs {
		m.tl = m.tl[:secs] // seconds a worker has finished since
	}
	return m
}

// waitUntil waits until t. It sleeps while t is far off and yields in a
// loop for the last stretch: time.Sleep overshoots by up to a millisecond on
// some virtual machines, and in open loop any overshoot is charged to the
// op's latency, which is measured from t. The cost is that the dispatcher
// keeps one core busy yielding at rates above ~700 ops/s.
func waitUntil(t time.Time, stop *atomic.Bool) {
	const spin = 1500 * time.Microsecond
	for {
		d := time.Until(t)
		if d <= 0 || stop.Load() {
			return
		}
		if d > spin {
			time.Sleep(d - spin)
		} else {
			runtime.Gosched()
		}
	}
}

func opNames() []string {
	kinds := workloads.OpKinds()
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.String()
	}
	return names
}

// failedNote names, for a run's log line, the ops that failed or missed
// by op type ("; failed: get_miss 3, put_error 1"), or is empty.
func failedNote(run *Run) string {
	if f := run.FailedByOp(); f != "" {
		return "; failed: " + f
	}
	return ""
}

// batchNote says how a load wrote, for a status line.
func batchNote(s *LoadSummary) string {
	if s.Batched {
		return fmt.Sprintf(", batches of %d", s.Batch)
	}
	return ", one put each"
}

// opValue returns the value op writes, filled into buf (grown if need be),
// or nil for an op that writes none. The driver makes it before the op's
// clock starts: filling a value is the generator's work, not the engine's.
func opValue(op workloads.Op, buf *[]byte) []byte {
	if !op.Kind.Writes() {
		return nil
	}
	if cap(*buf) < op.Size {
		*buf = make([]byte, op.Size)
	}
	v := (*buf)[:op.Size]
	workloads.FillValue(v, op.Seed)
	return v
}

// syncs reports whether a durable workload syncs after an op of kind k:
// after every write and delete. What the op itself does is
// workloads.ApplyValue's, as for the checkers.
func syncs(k workloads.OpKind) bool {
	return k.Writes() || k == workloads.OpDelete
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func fmtUs(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2fms", us/1e3)
	default:
		return fmt.Sprintf("%.0fµs", us)
	}
}

// Status is what the progress shows of a run's phase: its label, how far
// it has got (Done of Total: ops, or milliseconds of a timed phase), the
// ops so far and the latest whole second's p50 and p99. A child sends its
// Status to the parent, which shows it.
type Status struct {
	Label  string  `json:"label"`
	Done   int64   `json:"done,omitempty"`
	Total  int64   `json:"total,omitempty"`
	Ops    int64   `json:"ops,omitempty"`
	HasOps bool    `json:"has_ops,omitempty"`
	P50us  float64 `json:"p50_us,omitempty"`
	P99us  float64 `json:"p99_us,omitempty"`
}

// status shows a phase that has no measure of progress ("opening").
func (r *Runner) status(format string, args ...any) {
	r.show(Status{Label: fmt.Sprintf(format, args...)})
}

// show passes st on: to the parent from a child, else to the Meter,
// starting a new task when the label changes.
func (r *Runner) show(st Status) {
	if r.sink != nil {
		r.sink.status(st) // the parent shows it
		return
	}
	if r.Progress == nil {
		return
	}
	if st.Label != r.shown {
		r.shown = st.Label
		r.Progress.Start(st.Label, st.Total)
	}
	var text string
	if st.P99us > 0 {
		text = "p50 " + fmtUs(st.P50us) + ", p99 " + fmtUs(st.P99us)
	}
	r.Progress.Update(progress.Snapshot{Done: st.Done, Total: st.Total, Ops: st.Ops, HasOps: st.HasOps, Text: text})
}

func (r *Runner) clearStatus() {
	if r.Progress != nil && r.sink == nil {
		r.Progress.Clear()
		r.shown = ""
	}
}

func (r *Runner) progress(ph phase, start time.Time, issued int64, tl *timeline) {
	st := Status{Label: ph.label, Ops: issued, HasOps: true}
	switch {
	case ph.ops > 0:
		st.Done, st.Total = min(issued, ph.ops), ph.ops
	case ph.duration > 0:
		st.Done, st.Total = time.Since(start).Milliseconds(), ph.duration.Milliseconds()
	}
	st.P50us, st.P99us = tl.latest()
	r.show(st)
}

// startProfile starts a CPU profile and an execution trace of one run's
// measured phase if the config asks for them; the returned func stops
// them.
func (r *Runner) startProfile(engineName, workload string, rep int) (func(), error) {
	if !r.Config.CPUProfile && !r.Config.Trace {
		return func() {}, nil
	}
	if err := os.MkdirAll(r.Config.Out, 0o755); err != nil {
		return nil, FatalError{fmt.Errorf("--out %s: %v", r.Config.Out, unwrapPath(err))}
	}
	base := filepath.Join(r.Config.Out, fmt.Sprintf("%s-%s-r%d", sanitize(engineName), sanitize(workload), rep))
	var stops []func()
	stop := func() {
		for _, f := range slices.Backward(stops) {
			f()
		}
	}
	if r.Config.CPUProfile {
		f, err := os.Create(base + ".cpu.pprof")
		if err != nil {
			return nil, FatalError{fmt.Errorf("--cpuprofile: %v", unwrapPath(err))}
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, FatalError{fmt.Errorf("--cpuprofile: %v (is another profile running?)", err)}
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if r.Config.Trace {
		f, err := os.Create(base + ".trace")
		if err != nil {
			stop()
			return nil, FatalError{fmt.Errorf("--trace: %v", unwrapPath(err))}
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			stop()
			return nil, FatalError{fmt.Errorf("--trace: %v (is another trace running?)", err)}
		}
		stops = append(stops, func() { trace.Stop(); f.Close() })
	}
	return stop, nil
}
