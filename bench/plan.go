package bench

import (
	"errors"
	"fmt"
	"iter"
	"math"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// DurableThreads is the client count of a durable workload (durable-put)
// when the user does not set --threads: durability is only worth measuring
// under concurrency, where group commit can share flushes.
const DurableThreads = 16

// plan is a resolved workload as the runner uses it. A workloads.Workload
// carries insert counters, so each run gets a fresh one (fresh).
type plan struct {
	spec     string
	name     string
	describe string
	records  int64
	sync     bool
	threads  int
	w        *workloads.Workload
	// insertOnly: a fill. Its run ends, without failing, when the engine
	// says the device is full (engine.ErrNoSpace).
	insertOnly bool
	// expectFound: every key a read draws was loaded or inserted before
	// (a workload without deletes, run after its load), so a read that
	// finds nothing is a miss, counted apart from the ops done.
	expectFound bool
}

func newPlan(spec string, cfg Config) (*plan, error) {
	spec, err := cfg.Scaled(spec)
	if err != nil {
		return nil, err
	}
	w, err := workloads.Parse(spec)
	if err != nil {
		return nil, err
	}
	mix := w.Config().Mix
	p := &plan{spec: spec, name: spec, describe: w.String(), records: w.Config().Records, sync: w.Durable(), w: w,
		insertOnly:  mix.Insert > 0 && mix.Insert == mix.Total(),
		expectFound: cfg.Preload && mix.Delete == 0}
	if p.sync {
		p.threads = DurableThreads
	}
	return p, nil
}

// fresh starts a new instance of the workload for the next run.
func (p *plan) fresh() error {
	w, err := workloads.Parse(p.spec)
	if err != nil {
		return fmt.Errorf("workload %s: %w", p.spec, err)
	}
	p.w = w
	return nil
}

func (p *plan) check(e engine.Engine) error { return p.w.Check(e) }

// load yields worker w's share of the records: key numbers w, w+threads, ...
func (p *plan) load(w, threads int) iter.Seq[workloads.Op] {
	return func(yield func(workloads.Op) bool) {
		rng := workloads.WorkerRand(0x10ad, w)
		for n := int64(w); n < p.records; n += int64(threads) {
			if !yield(p.w.Load(rng, n)) {
				return
			}
		}
	}
}

// worker returns worker w's op source for one phase.
func (p *plan) worker(seed uint64, w, _ int) func() workloads.Op {
	return p.w.NewGenerator(workloads.WorkerRand(seed, w)).Next
}

// preloadBytes estimates the keys and values the preload writes, from a
// sample of up to 4096 of its records (the loads are deterministic: the
// same rng as the preload's first worker).
func (p *plan) preloadBytes() int64 {
	if p.records <= 0 {
		return 0
	}
	sample := min(p.records, 4096)
	rng := workloads.WorkerRand(0x10ad, 0)
	var sum int64
	for i := range sample {
		n := i * (p.records / sample) // spread over the key numbers
		op := p.w.Load(rng, n)
		sum += int64(len(op.Key) + op.Size)
	}
	// In floating point: a spec may ask for more records than int64 bytes.
	return int64(min(float64(sum)/float64(sample)*float64(p.records), math.MaxInt64/2))
}

// checkFits refuses, before anything runs, an engine whose options leave
// it no room for data, and a workload whose preload cannot fit in an
// engine whose driver states its capacity (shardstore's device file):
// such a run would fail its preload with no space left.
func checkFits(engines []resolvedEngine, plans []*plan, cfg Config) error {
	var errs []error
	for _, e := range engines {
		if e.driver.Capacity == nil {
			continue
		}
		c, err := e.driver.Capacity(e.opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !cfg.Preload {
			continue
		}
		for _, p := range plans {
			if need := p.preloadBytes(); need > c {
				errs = append(errs, fmt.Errorf("workload %s preloads %d records, about %s of keys and values; %s with these options holds about %s: give the engine a larger device (size=) or the workload fewer records (records=)",
					p.name, p.records, mib(need), e.driver.Name, mib(c)))
			}
		}
	}
	return errors.Join(errs...)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
