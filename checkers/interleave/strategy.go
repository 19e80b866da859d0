package interleave

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
)

// Random picks uniformly among the runnable tasks at every choice.
type Random struct{ rng *rand.Rand }

// NewRandom returns a Random strategy seeded with seed.
func NewRandom(seed uint64) *Random { return &Random{rand.New(rand.NewPCG(seed, 0x72616e64))} }

// Next implements conc.Strategy.
func (r *Random) Next(p conc.Point) (int, error) {
	return p.Runnable[r.rng.IntN(len(p.Runnable))], nil
}

// PCT is probabilistic concurrency testing (Burckhardt et al., ASPLOS
// 2010): every task gets a random priority when first seen, the runnable
// task of highest priority runs, and at Depth-1 steps chosen at random in
// [1, Steps] the running task's priority drops below every initial one. A
// bug that needs d ordering constraints is found with probability at least
// 1/(n·k^(d-1)) per execution (n tasks, k steps).
type PCT struct {
	rng    *rand.Rand
	prio   map[int]int
	change []int // steps at which the running task drops, ascending
	next   int   // the next change point to apply
	low    int   // the next dropped priority (decreasing, below all initial)
}

// NewPCT returns a PCT strategy of depth (≥ 1) for executions of about
// steps scheduling points.
func NewPCT(seed uint64, depth, steps int) *PCT {
	p := &PCT{rng: rand.New(rand.NewPCG(seed, 0x706374)), prio: map[int]int{}, low: 0}
	for range max(depth, 1) - 1 {
		p.change = append(p.change, 1+p.rng.IntN(max(steps, 1)))
	}
	slices.Sort(p.change)
	return p
}

// Next implements conc.Strategy.
func (p *PCT) Next(pt conc.Point) (int, error) {
	for _, id := range pt.Runnable {
		if _, ok := p.prio[id]; !ok {
			// Initial priorities are above every dropped one (≤ 0), and
			// random among the tasks: a new task is inserted at a random
			// rank.
			p.prio[id] = 1 + p.rng.IntN(1<<30)
		}
	}
	for p.next < len(p.change) && p.change[p.next] <= pt.Step {
		if pt.Current >= 0 {
			p.low--
			p.prio[pt.Current] = p.low
		}
		p.next++
	}
	best := pt.Runnable[0]
	for _, id := range pt.Runnable[1:] {
		if p.prio[id] > p.prio[best] {
			best = id
		}
	}
	return best, nil
}

// ReplayStrategy plays a schedule back, and says where an execution
// departs from it.
type ReplayStrategy struct {
	choices []int
	tasks   func() []string
}

// NewReplay returns a strategy that makes choices in order.
func NewReplay(choices []int) *ReplayStrategy { return &ReplayStrategy{choices: choices} }

// Next implements conc.Strategy.
func (r *ReplayStrategy) Next(p conc.Point) (int, error) {
	if p.Choice >= len(r.choices) {
		return 0, fmt.Errorf("schedule diverged at step %d: the schedule ended after %d choices, but tasks %v can still run", p.Step, len(r.choices), p.Runnable)
	}
	c := r.choices[p.Choice]
	if !slices.Contains(p.Runnable, c) {
		return 0, fmt.Errorf("schedule diverged at step %d (choice %d): task %d not runnable (runnable: %v)", p.Step, p.Choice, c, p.Runnable)
	}
	return c, nil
}
