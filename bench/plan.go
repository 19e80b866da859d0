package bench

import (
	"fmt"
	"iter"

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
}

func newPlan(spec string, _ Config) (*plan, error) {
	w, err := workloads.Parse(spec)
	if err != nil {
		return nil, err
	}
	mix := w.Config().Mix
	p := &plan{spec: spec, name: spec, describe: w.String(), records: w.Config().Records, sync: w.Durable(), w: w,
		insertOnly: mix.Insert > 0 && mix.Insert == mix.Total()}
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
