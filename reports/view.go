package reports

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gauntlet-kv/gauntlet/bench"
)

// view indexes a report the way every output reads it: engines and
// workloads in the order they first appear (the order the user asked for),
// and the runs of each (workload, engine) pair, one per repetition.
type view struct {
	r         *bench.Report
	engines   []string // engine labels
	workloads []string
	groups    []*group // workload-major, then engine
	byKey     map[[2]string]*group
	// labelOf names the engine of each run (index into r.Runs).
	labelOf []string
}

// group is every repetition of one engine on one workload.
type group struct {
	workload, engine string
	runs             []*bench.Run
}

func newView(r *bench.Report) *view {
	v := &view{r: r, byKey: map[[2]string]*group{}}
	v.labelOf = engineLabels(r.Runs)
	for i := range r.Runs {
		run := &r.Runs[i]
		label := v.labelOf[i]
		if !slices.Contains(v.engines, label) {
			v.engines = append(v.engines, label)
		}
		if !slices.Contains(v.workloads, run.Workload) {
			v.workloads = append(v.workloads, run.Workload)
		}
		k := [2]string{run.Workload, label}
		g := v.byKey[k]
		if g == nil {
			g = &group{workload: run.Workload, engine: label}
			v.byKey[k] = g
		}
		g.runs = append(g.runs, run)
	}
	for _, w := range v.workloads {
		for _, e := range v.engines {
			if g := v.byKey[[2]string{w, e}]; g != nil {
				v.groups = append(v.groups, g)
			}
		}
	}
	return v
}

// workloadGroups returns the groups of one workload, in engine order.
func (v *view) workloadGroups(w string) []*group {
	var gs []*group
	for _, g := range v.groups {
		if g.workload == w {
			gs = append(gs, g)
		}
	}
	return gs
}

// engineIndex is the engine's position, which fixes its colour in every plot.
func (v *view) engineIndex(label string) int { return slices.Index(v.engines, label) }

// engineLabels names the engine of each run. Usually that is Run.Engine; but
// an A/B of one engine with different options (shardstore:sched=fifo against
// shardstore:sched=coalesce) has two specs under one name, and then the
// label is the name plus the options that differ: "shardstore:sched=fifo".
func engineLabels(runs []bench.Run) []string {
	specs := map[string][]string{} // engine -> distinct specs, in order
	opts := map[string]map[string]string{}
	for _, r := range runs {
		if !slices.Contains(specs[r.Engine], r.Spec) {
			specs[r.Engine] = append(specs[r.Engine], r.Spec)
			opts[r.Spec] = r.Options
		}
	}
	labelOfSpec := map[string]string{}
	for engine, ss := range specs {
		if len(ss) < 2 {
			continue
		}
		// The option keys whose values differ between the specs.
		var keys []string
		for _, s := range ss {
			for k := range opts[s] {
				if !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
		slices.Sort(keys)
		var differ []string
		for _, k := range keys {
			for _, s := range ss[1:] {
				a, aok := opts[ss[0]][k]
				b, bok := opts[s][k]
				if a != b || aok != bok {
					differ = append(differ, k)
					break
				}
			}
		}
		for i, s := range ss {
			var kv []string
			for _, k := range differ {
				if val, ok := opts[s][k]; ok {
					kv = append(kv, k+"="+val)
				}
			}
			switch {
			case len(kv) > 0:
				labelOfSpec[s] = engine + ":" + strings.Join(kv, ",")
			case s != "" && s != engine:
				labelOfSpec[s] = s
			default:
				labelOfSpec[s] = fmt.Sprintf("%s#%d", engine, i+1)
			}
		}
	}
	labels := make([]string, len(runs))
	for i, r := range runs {
		if l, ok := labelOfSpec[r.Spec]; ok && len(specs[r.Engine]) > 1 {
			labels[i] = l
		} else {
			labels[i] = r.Engine
		}
		if r.Simulated {
			// Virtual time, not the machine's: never to be read as a
			// measurement of this disk (bench.Run.Simulated).
			labels[i] += " (simulated)"
		}
	}
	return labels
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// spread is the largest deviation of xs from their median, as a fraction of
// it: what "±4%" means in the summary.
func spread(xs []float64) float64 {
	m := median(xs)
	if m == 0 || len(xs) < 2 {
		return 0
	}
	var d float64
	for _, x := range xs {
		d = max(d, math.Abs(x-m))
	}
	return d / m
}

// each maps the group's runs through f.
func (g *group) each(f func(*bench.Run) float64) []float64 {
	xs := make([]float64, len(g.runs))
	for i, r := range g.runs {
		xs[i] = f(r)
	}
	return xs
}

// machine describes where a report was measured, for plot titles:
// "AMD EPYC 7B13, 2 cores, ext4 on /dev/nvme0n1p1 (non-rotational)".
func machine(e bench.Env) string {
	var parts []string
	cpu := e.CPU
	if cpu == "" {
		cpu = e.Arch
	}
	if cpu != "" {
		parts = append(parts, cpu)
	}
	if e.Cores > 0 {
		parts = append(parts, fmt.Sprintf("%d cores", e.Cores))
	}
	disk := e.FileSystem
	if e.Device != "" {
		if disk == "" {
			disk = e.Device
		} else {
			disk += " on " + e.Device
		}
	}
	if e.DeviceInfo != "" {
		disk += " (" + e.DeviceInfo + ")"
	}
	if disk = strings.TrimSpace(disk); disk != "" {
		parts = append(parts, disk)
	}
	if len(parts) == 0 {
		return "unknown machine"
	}
	return strings.Join(parts, ", ")
}
