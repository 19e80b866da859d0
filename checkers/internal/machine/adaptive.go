package machine

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"pgregory.net/rapid"

	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/coverage"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// AttrAdaptiveWeights is the trace header attribute of a case drawn by an
// adaptive run (RunConfig.Adaptive): the weights its ops were drawn with
// (coverage.Steer.String). A replay does not need it — the trace holds the
// ops — but it says how the case came about.
const AttrAdaptiveWeights = "adaptive-weights"

// AttrEngineVariant is the trace header attribute of a case an adaptive
// run ran on one of the engine's variants (engine.Driver.Variants): the
// settings laid over the trace's engine, as target.VariantString writes
// them. A replay applies them.
const AttrEngineVariant = "engine-variant"

// variantArm is the arm of the engine's configuration as the user's spec
// gave it, beside one arm per variant ("engine:sched=fifo").
const variantArm = "engine:spec"

// seedSpace is the range of the seeds Biased draws for DirtyReboot and
// FailDiskOnce.
const seedSpace = 1 << 30

// seedTries bounds the search for a seed of a wanted class: the rarest
// class (a reboot's "end", 1 in 6) is missed in 64 tries once in 10^5.
const seedTries = 64

// adaptive is a run's feedback loop (RunConfig.Adaptive): a coverage.Steer
// whose arms are the op kinds of the run's weights and, for FailDiskOnce
// and DirtyReboot, the classes of their seeds (Config.SeedClass), so that
// the loop steers both how often faults and crashes come and which kind.
type adaptive struct {
	mc    Config
	steer *coverage.Steer
	rec   *coverage.Recorder
	// classes are the seed classes of each kind that has them.
	classes map[workloads.OpKind][]string
	// weights are those of the current case; frozen once a case failed,
	// so rapid's shrinker replays it with the weights that drew it.
	weights map[string]int
	frozen  bool
	// warmup is how many cases draw from the fixed mix; cases counts the
	// cases begun; warm says the current case is one of them.
	warmup, cases int
	warm          bool
	// used and faultArms are the arms the current case drew (see
	// coverage.Steer.Update).
	used, faultArms []string
	// targets are the spec's target and one per engine variant, arms
	// their arms (variantArm first); empty if the engine has none.
	targets []target.Target
	arms    []string
}

// errAdaptiveUnobserved refuses an adaptive run of an engine that reports
// no states: the loop would have nothing to steer by.
var errAdaptiveUnobserved = errors.New("--adaptive steers by the states the engine reports, and this engine has no observer (engine.Options.WithObserver): drop --adaptive")

func newAdaptive(mc Config, w map[workloads.OpKind]int, warmup int) (*adaptive, error) {
	rec, ok := mc.Target.Observer.(*coverage.Recorder)
	if !ok {
		return nil, errAdaptiveUnobserved
	}
	a := &adaptive{mc: mc, rec: rec, classes: map[workloads.OpKind][]string{}, warmup: warmup}
	base := map[string]int{}
	for k, v := range w {
		if v > 0 {
			base[k.String()] = v
		}
	}
	// Class base weights are the classes' odds under a uniform seed, so
	// that before any feedback the mix is the fixed one.
	if w[workloads.OpFailDiskOnce] > 0 && mc.Faults {
		a.classes[workloads.OpFailDiskOnce] = FaultClasses
		for _, c := range FaultClasses {
			base[arm(workloads.OpFailDiskOnce, c)] = 1
		}
	}
	if w[workloads.OpDirtyReboot] > 0 && mc.CrashInOp {
		odds := []int{1, 3} // end 1/4, in-op 3/4
		if mc.CrashAcross {
			odds = []int{1, 3, 2} // end 1/6, in-op 1/2, arm 1/3
		}
		a.classes[workloads.OpDirtyReboot] = RebootClasses[:len(odds)]
		for i, o := range odds {
			base[arm(workloads.OpDirtyReboot, RebootClasses[i])] = o
		}
	}
	// The configuration is an arm too: some states only another
	// configuration reaches (a small queue's back-pressure, another
	// scheduling policy's paths), which no op mix can. The spec's own
	// weighs as much as all variants together, so half the cases run it
	// before any feedback.
	if t := mc.Target; len(t.Variants) > 0 && t.Variant != nil {
		a.targets, a.arms = []target.Target{t}, []string{variantArm}
		base[variantArm] = len(t.Variants)
		for _, v := range t.Variants {
			vt, err := t.Variant(v)
			if err != nil {
				return nil, err
			}
			name := "engine:" + target.VariantString(v)
			a.targets, a.arms = append(a.targets, vt), append(a.arms, name)
			base[name] = 1
		}
	}
	a.steer = coverage.NewSteer(base)
	return a, nil
}

// variant draws the engine configuration of a case begun by begin, by the
// loop's weights: the target to open and the variant's settings as
// AttrEngineVariant writes them ("" for the spec's own). A warm-up case,
// or an engine without variants, draws nothing and runs the spec's.
func (a *adaptive) variant(t *rapid.T) (target.Target, string) {
	if a.warm || len(a.targets) == 0 {
		return a.mc.Target, ""
	}
	cum := make([]int, len(a.arms))
	total := 0
	for i, arm := range a.arms {
		total += a.weights[arm]
		cum[i] = total
	}
	pick := rapid.IntRange(0, total-1).Draw(t, "engine-variant")
	i := slices.IndexFunc(cum, func(c int) bool { return pick < c })
	// The configuration shapes every state the case reaches, so its arm
	// is credited with all of them, cells included.
	a.used = append(a.used, a.arms[i])
	a.faultArms = append(a.faultArms, a.arms[i])
	if i == 0 {
		return a.mc.Target, ""
	}
	return a.targets[i], strings.TrimPrefix(a.arms[i], "engine:")
}

func arm(k workloads.OpKind, class string) string { return k.String() + ":" + class }

// begin starts a case and returns its op weights, or false for a case of
// the warm-up, which draws from the fixed mix exactly as a run without the
// loop does.
func (a *adaptive) begin() (map[workloads.OpKind]int, bool) {
	if !a.frozen {
		a.warm = a.cases < a.warmup
		a.cases++
		if a.warm {
			a.weights = a.steer.Base()
		} else {
			a.weights = a.steer.Weights()
		}
	}
	a.used, a.faultArms = a.used[:0], a.faultArms[:0]
	if a.warm {
		return nil, false
	}
	w := map[workloads.OpKind]int{}
	for _, k := range workloads.OpKinds() {
		if v, ok := a.weights[k.String()]; ok {
			w[k] = v
		}
	}
	return w, true
}

// freeze keeps the current weights for the rest of the run: a case failed
// and is being shrunk.
func (a *adaptive) freeze() { a.frozen = true }

// draw records op's arms and, for a kind with seed classes, draws the
// class from t by the loop's weights and moves op's seed to the next seed
// of that class (the trace holds the moved seed, so a replay needs no
// loop). In the warm-up it draws nothing: op and its seed's class are
// what the fixed mix drew.
func (a *adaptive) draw(t *rapid.T, op workloads.Op) workloads.Op {
	a.used = append(a.used, op.Kind.String())
	classes := a.classes[op.Kind]
	if len(classes) == 0 {
		return op
	}
	a.faultArms = append(a.faultArms, op.Kind.String())
	if a.warm {
		c := arm(op.Kind, classes[a.mc.SeedClass(op.Kind, op.Seed)])
		a.used = append(a.used, c)
		a.faultArms = append(a.faultArms, c)
		return op
	}
	cum := make([]int, len(classes))
	total := 0
	for i, c := range classes {
		total += a.weights[arm(op.Kind, c)]
		cum[i] = total
	}
	pick := rapid.IntRange(0, total-1).Draw(t, "seed-class")
	want := slices.IndexFunc(cum, func(c int) bool { return pick < c })
	if op.Kind == workloads.OpFailDiskOnce && classes[want] == "latency" {
		op.Seed |= SeedLatency
	}
	if op.Kind == workloads.OpFailDiskOnce && classes[want] == "cancel" {
		op.Seed |= SeedCancel
	}
	for range seedTries {
		if a.mc.SeedClass(op.Kind, op.Seed) == want {
			break
		}
		op.Seed = (op.Seed + 1) % seedSpace
	}
	c := arm(op.Kind, classes[a.mc.SeedClass(op.Kind, op.Seed)])
	a.used = append(a.used, c)
	a.faultArms = append(a.faultArms, c)
	return op
}

// end feeds what the run reached by the end of the case back into the
// weights.
func (a *adaptive) end() {
	if !a.frozen {
		a.steer.Update(a.rec.Report(), a.used, a.faultArms)
	}
}

// attr is the trace attribute of the current case's weights.
func (a *adaptive) attr() workloads.Attr {
	return workloads.Attr{Key: AttrAdaptiveWeights, Value: weightString(a.weights)}
}

func weightString(w map[string]int) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(w)) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%d", k, w[k])
	}
	return b.String()
}
