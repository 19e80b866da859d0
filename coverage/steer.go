package coverage

import (
	"maps"
	"math"
	"slices"
	"strings"
)

// Steer is the feedback loop of an adaptive generator (harness check
// --adaptive): after each case it reads what the run's Recorder has
// reached so far, finds the states the case reached first (events,
// phases entered, fault-space cells), credits the arms the case used —
// the op kinds of the generator's alphabet and the classes of fault and
// crash seeds — and turns each arm's credit into a weight for the next
// case.
//
// # The rule
//
// A case's reward is, for every state it reached, the share of all the
// run's reaches of that state that the case made: 1 for a state it
// reached first, 1/n for one reached n times so far, one hit of it in this
// case. Reaching what is rare pays; reaching what every case reaches pays
// almost nothing (the rare-branch rule of coverage-guided fuzzers, applied
// to engine states). An arm the case used earns the reward of the events
// and phases (no single arm explains them: every arm used shares them)
// plus that of the cells it explains: those whose op it is (a fault or
// crash hit while it ran) and, for an arm that armed the case's faults or
// crashes (fail-disk-once, dirty-reboot, their seed classes), every cell.
// Each arm keeps an exponentially weighted mean of its rewards over the
// cases that used it (SteerAlpha), and the run one of the reward of all
// its cases (each state counted once, however many arms share it). An arm's weight is its base weight (the fixed mix) times the
// ratio of the two means (each plus SteerEpsilon), kept within
// [base/SteerCutMax, base×SteerBoostMax]: an arm present in every case and
// credited with all of their reward keeps its weight, one whose cases
// reach rarer states than the others gains, one whose cases reach only
// common ones loses, none starves. An arm not yet used counts as average.
//
// # Determinism
//
// The weights are a function of the seed's cases and of what the engine
// reported during them. An engine's background goroutines make the second
// part timing-dependent, so two runs of one seed may draw different cases
// after the first state one reached and the other did not; each case's ops
// are drawn from the weights in force when it began, and a failing case's
// trace holds its ops (and the weights, as a header attribute), so it
// replays without the loop.
//
// A Steer is not safe for concurrent use.
type Steer struct {
	arms []string // sorted
	base map[string]int
	est  map[string]float64
	// mean is the weighted mean reward of all cases.
	mean float64
	// counts are the run's reaches of each state so far.
	counts map[string]int64
}

// The constants of Steer's rule.
const (
	// SteerAlpha is the weight of a case in the means.
	SteerAlpha = 0.2
	// SteerEpsilon is added to both means of the ratio, so that when
	// rewards vanish the ratio tends to 1.
	SteerEpsilon = 0.01
	// SteerBoostMax bounds an arm's weight to this many times its base,
	// and its inverse.
	SteerBoostMax = 8.0
	// SteerCutMax bounds how far an arm's weight falls below its base: a
	// state the fixed mix's bugs hide behind may look common to the loop
	// (a bit flip's cells are reached often; the flip that finds a bug is
	// rare), so no arm loses more than half its share.
	SteerCutMax = 2.0
	// SteerScale multiplies every weight so that a small base weight (2)
	// can be lowered and raised in steps.
	SteerScale = 8
)

// NewSteer returns a Steer over the arms of base, each with its base
// weight (those of the fixed mix); arms of weight 0 or less stay 0.
func NewSteer(base map[string]int) *Steer {
	s := &Steer{base: maps.Clone(base), est: map[string]float64{}, counts: map[string]int64{}}
	s.arms = slices.Sorted(maps.Keys(base))
	return s
}

// Weights returns the weight of every arm for the next case.
func (s *Steer) Weights() map[string]int {
	w := make(map[string]int, len(s.arms))
	for _, a := range s.arms {
		b := s.base[a]
		if b <= 0 {
			w[a] = 0
			continue
		}
		est, ok := s.est[a]
		if !ok {
			est = s.mean
		}
		mult := min(max((est+SteerEpsilon)/(s.mean+SteerEpsilon), 1/SteerCutMax), SteerBoostMax)
		w[a] = max(1, int(math.Round(float64(b*SteerScale)*mult)))
	}
	return w
}

// Base returns the base weights (the fixed mix's), unscaled.
func (s *Steer) Base() map[string]int { return maps.Clone(s.base) }

// Seen returns how many distinct states the loop has seen reached.
func (s *Steer) Seen() int { return len(s.counts) }

// states lists the states rep reached with their counts, as Steer counts
// them: "event:NAME", "phase:NAME", and each cell as OP×FAULT×PHASE.
func states(rep *Report) map[string]int64 {
	out := map[string]int64{}
	if rep == nil {
		return out
	}
	for ev, n := range rep.Events {
		if n > 0 {
			out["event:"+string(ev)] = n
		}
	}
	for p, n := range rep.Phases {
		if n > 0 {
			out["phase:"+string(p)] = n
		}
	}
	for _, c := range rep.Cells {
		if c.Count > 0 {
			out[c.Cell.String()] = c.Count
		}
	}
	return out
}

// Update is called after each case with what the run has reached so far
// (the Recorder's Report) and the arms the case used; faultArms are the
// arms among them that armed a fault or a crash (credited with every
// cell). It returns how many states the case reached first.
func (s *Steer) Update(rep *Report, used, faultArms []string) int {
	var shared, cells float64
	direct := map[string]float64{}
	novel := 0
	now := states(rep)
	for _, st := range slices.Sorted(maps.Keys(now)) {
		n, before := now[st], s.counts[st]
		if n <= before {
			continue
		}
		if before == 0 {
			novel++
		}
		s.counts[st] = n
		r := float64(n-before) / float64(n)
		parts := strings.Split(st, "×")
		if len(parts) != 3 {
			shared += r
			continue
		}
		cells += r
		direct[parts[0]] += r
		for _, a := range faultArms {
			direct[a] += r
		}
	}
	// The case's reward counts each state once, however many arms share
	// it: an arm credited with all of it scores the mean.
	total := shared + cells
	for _, a := range slices.Compact(slices.Sorted(slices.Values(used))) {
		if _, ok := s.base[a]; !ok {
			continue
		}
		est, ok := s.est[a]
		if !ok {
			est = s.mean
		}
		s.est[a] = (1-SteerAlpha)*est + SteerAlpha*(shared+direct[a])
	}
	s.mean = (1-SteerAlpha)*s.mean + SteerAlpha*total
	return novel
}
