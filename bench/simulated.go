package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// Simulated runs. An engine on a simulated device (shardstore's
// device=hdd or device=ssd, engine.Driver.Simulated) runs in virtual time:
// every IO takes the device model's service time, and the CPU is free.
// In a binary built with -tags interleave (harness bench builds one for
// such runs, as check interleave does) the whole run — open, load,
// warm-up, measured phase, close — is one controlled execution of
// engine/conc: the clients, the engine's goroutines and its timers are
// tasks that run one at a time, a seeded strategy picks the next at each
// synchronisation point, and the clock moves only when every task waits
// (on an IO, a timer, a sleep). The run is then a function of its seed
// and the commit: the same ops, percentiles and virtual duration however
// loaded the machine is (TestSimulatedBenchDeterministic).
//
// Semantics of a simulated run:
//   - --duration and --warmup are virtual time; --ops an op count.
//   - Each client spends SimOpCPU of virtual time before each op (not in
//     the op's latency): CPU work is otherwise free, and a client whose
//     ops never wait for the device would never let the clock move.
//   - Repetition k (from 1) runs with seed --seed + k - 1 for the
//     workload and the schedule, so the spread between repetitions is the
//     seeds' (Run.SimSeed names it), not the machine's.
//   - Open loop (--rate) is refused: its dispatcher is wall-clock.
//
// Outside a tagged binary (go test, an in-process Runner) a simulated run
// still runs in virtual time, on the device's ManualClock, but not
// deterministically (disk.Sim explains why); Run.Controlled says which.

// SimOpCPU is the virtual CPU time a client spends before each op of a
// simulated run (about shardstore's CPU per op on the development VM,
// tens of µs for a durable put, a few for a get).
const SimOpCPU = 10 * time.Microsecond

// simulatedEngine is an engine on a simulated device (shardstore's
// device=hdd or device=ssd): every IO advances the device's virtual clock
// by its modeled service time, and the engine's own clock is that one.
type simulatedEngine interface{ SimDevice() *disk.Sim }

// simDevice returns eng's simulated device, nil if it runs on a real one.
func simDevice(eng engine.Engine) *disk.Sim {
	if s, ok := eng.(simulatedEngine); ok {
		return s.SimDevice()
	}
	return nil
}

// simulated reports whether e's options run it on a simulated device.
func (e resolvedEngine) simulated() bool {
	return e.driver.Simulated != nil && e.driver.Simulated(e.opts)
}

// Simulated reports whether any of the configuration's engines runs on a
// simulated device (after Validate): the caller then gives SimChild.
func (r *Runner) Simulated() bool {
	engines, _, err := r.resolve()
	if err != nil {
		return false
	}
	for _, e := range engines {
		if e.simulated() {
			return true
		}
	}
	return false
}

// checkEngines refuses what a simulated run cannot do as asked, and an IO
// trace of an engine that records none.
func (r *Runner) checkEngines(engines []resolvedEngine) error {
	for _, e := range engines {
		if r.Config.IOTrace && !e.opts.Has(ioTraceOption) {
			return fmt.Errorf("--io-trace: engine %s records no IO trace (an engine with an %s= option does: shardstore); drop --io-trace or that engine", e.typed, ioTraceOption)
		}
		if e.simulated() && r.Config.Rate > 0 {
			return fmt.Errorf("--rate %g with engine %s: open loop is not simulated (its dispatcher keeps wall-clock time); drop --rate, or run the engine on a real device", r.Config.Rate, e.opts.Spec())
		}
	}
	return nil
}

// ioTraceOption is the engine option naming an IO trace file.
const ioTraceOption = "io-trace"

// traceOptions are e's options for run rep of p: with --io-trace, the
// io-trace= option names the run's trace file in Out.
func (r *Runner) traceOptions(e resolvedEngine, p *plan, rep int) (engine.Options, error) {
	if !r.Config.IOTrace {
		return e.opts, nil
	}
	out, err := filepath.Abs(r.Config.Out)
	if err != nil {
		return e.opts, err
	}
	name := e.typed
	if name == "" {
		name = e.driver.Name
	}
	path := filepath.Join(out, fmt.Sprintf("%s-%s-r%d.iotrace", sanitize(name), sanitize(p.name), rep))
	sp := e.opts.Spec()
	for i := range sp.Options {
		if sp.Options[i].Key == ioTraceOption {
			sp.Options[i].Value = path
		}
	}
	o, err := engine.Resolve(sp, e.driver.Options)
	if err != nil {
		return e.opts, fmt.Errorf("--io-trace: %w", err)
	}
	return o, nil
}

// simSeed is the seed of repetition rep (from 1) of a simulated run.
func simSeed(seed uint64, rep int) uint64 { return seed + uint64(rep) - 1 }

// phaseClock returns how a phase starting now reads its elapsed time: the
// wall clock's monotonic reading, or, for an engine on a simulated device,
// the device's virtual clock, so that its latencies and throughput are
// the model's and not the machine's (Run.Simulated says so). Outside a
// controlled execution CPU work is free and does not wait: a phase of ops
// that do no IO advances no virtual time, so such a phase also ends at its
// duration of wall time.
func phaseClock(eng engine.Engine) func() time.Duration {
	if sim := simDevice(eng); sim != nil {
		c := sim.Clock()
		start := c.Now()
		return func() time.Duration { return c.Now().Sub(start) }
	}
	start := time.Now()
	return func() time.Duration { return time.Since(start) }
}

// measureRun is measure, inside a controlled execution for a simulated
// engine when this binary has the controlled scheduler.
func (r *Runner) measureRun(ctx context.Context, e resolvedEngine, p *plan, rep int, dir, label string) (*Run, map[string]*hdrhistogram.Histogram, error) {
	if e.simulated() && conc.Controlled {
		return r.measureControlled(ctx, e, p, rep, dir, label)
	}
	return r.measure(ctx, e, p, rep, dir, label)
}

// clientTasks starts a phase's clients: goroutines, or, in a controlled
// execution, tasks of it (a goroutine the scheduler does not know would
// run beside the one task it lets run).
type clientTasks struct {
	ctl bool
	wg  sync.WaitGroup
	cwg conc.WaitGroup
}

func (t *clientTasks) start(f func()) {
	if !t.ctl {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			f()
		}()
		return
	}
	t.cwg.Add(1)
	conc.Go("bench client", func() {
		defer t.cwg.Done()
		f()
	})
}

// wait waits for every client to return.
func (t *clientTasks) wait() {
	if t.ctl {
		t.cwg.Wait()
	} else {
		t.wg.Wait()
	}
}

// measureControlled is measure inside a controlled execution of
// engine/conc whose strategy is seeded by the run's seed.
func (r *Runner) measureControlled(ctx context.Context, e resolvedEngine, p *plan, rep int, dir, label string) (*Run, map[string]*hdrhistogram.Histogram, error) {
	seed := simSeed(r.Config.Seed, rep)
	var (
		run   *Run
		hists map[string]*hdrhistogram.Histogram
		err   error
	)
	out := conc.Run(newSimStrategy(seed), 0, func() { run, hists, err = r.measure(ctx, e, p, rep, dir, label) })
	if out.Failed() {
		ferr := FatalError{fmt.Errorf("simulated run of %s (seed %d): %s", e.opts.Spec(), seed, out.Problem())}
		if run != nil {
			run.Error = ferr.Error()
		}
		return run, hists, ferr
	}
	if run != nil {
		run.Controlled, run.SimSeed, run.SimSteps = true, seed, int64(out.Steps)
	}
	return run, hists, err
}

// simStrategy is a controlled execution's scheduling for a simulated run:
// the running task keeps running through most synchronisation points
// (15 in 16), as a goroutine keeps its CPU until it blocks, and a seeded
// draw picks among the runnable tasks otherwise. Staying makes a run
// cheap (a switch is a hand-off between goroutines); switching now and
// then lets a task that spins on Yield give way.
type simStrategy struct{ rng *rand.Rand }

func newSimStrategy(seed uint64) *simStrategy {
	return &simStrategy{rng: rand.New(rand.NewPCG(seed, 0x51d))}
}

func (s *simStrategy) Next(p conc.Point) (int, error) {
	if p.Current >= 0 && s.rng.IntN(16) != 0 {
		return p.Current, nil
	}
	return p.Runnable[s.rng.IntN(len(p.Runnable))], nil
}
