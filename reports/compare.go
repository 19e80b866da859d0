package reports

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/montanaflynn/stats"
	"golang.org/x/perf/benchmath"
)

// CompareSchema names the layout of Comparison, the document `harness
// compare --json` writes; reports/schema/compare.schema.json describes it.
const CompareSchema = "gauntlet.compare/v1"

// Comparison is an A/B of bench results: for every engine × workload both
// sides ran, per op type, the median of each metric over the repetitions,
// its confidence interval, and whether the two samples differ (a
// Mann–Whitney U test, benchmath's AssumeNothing: bench figures are not
// normal, and a tail latency less so).
type Comparison struct {
	Schema     string  `json:"schema"`
	Alpha      float64 `json:"alpha"`
	Confidence float64 `json:"confidence"`
	A          Side    `json:"a"`
	B          Side    `json:"b"`
	Rows       []Row   `json:"rows"`
	// OnlyA and OnlyB are the engine × workload pairs one side ran and
	// the other did not, as "spec | workload".
	OnlyA []string `json:"only_a,omitempty"`
	OnlyB []string `json:"only_b,omitempty"`
	// Variance says where the spread between repetitions comes from when
	// the runs are simulated (bench.Run.Simulated): for deterministic ones
	// (Controlled) only their seeds, which it names.
	Variance string `json:"variance,omitempty"`
}

// Side is one of the two things compared: a result file, or one engine of
// a result file.
type Side struct {
	Label  string `json:"label"`
	Path   string `json:"path"`
	Commit string `json:"commit,omitempty"`
	Engine string `json:"engine,omitempty"` // when comparing two engines of one file
}

// Row is one metric of one op of one engine × workload.
type Row struct {
	Engine   string `json:"engine"`             // A's spec
	EngineB  string `json:"engine_b,omitempty"` // B's, when the sides are two engines
	Workload string `json:"workload"`
	Op       string `json:"op"`     // "all" or an op type
	Metric   string `json:"metric"` // "ops/s", "p99", "p99.9"
	// HigherIsBetter: ops/s; latencies are better lower.
	HigherIsBetter bool   `json:"higher_is_better"`
	A              Sample `json:"a"`
	B              Sample `json:"b"`
	// DeltaPct is B's median against A's, in percent.
	DeltaPct float64 `json:"delta_pct"`
	// P is the test's p-value; Significant is P < Alpha.
	P           float64 `json:"p"`
	Significant bool    `json:"significant"`
	// Verdict: "better", "worse" (significant either way) or "same".
	Verdict  string   `json:"verdict"`
	Warnings []string `json:"warnings,omitempty"`
}

// Sample is one side's repetitions of one metric.
type Sample struct {
	Values []float64 `json:"values"`
	Median float64   `json:"median"`
	Lo     float64   `json:"lo"` // the confidence interval of the median
	Hi     float64   `json:"hi"`
	Mean   float64   `json:"mean"`
	StdDev float64   `json:"stddev"`
}

// CompareOptions are the test's levels.
type CompareOptions struct {
	Alpha      float64 // default 0.05
	Confidence float64 // default 0.95
}

// metric is one figure a run yields for one op.
type metric struct {
	name   string
	higher bool
	get    func(bench.OpSummary) float64
}

var compareMetrics = []metric{
	{"ops/s", true, func(s bench.OpSummary) float64 { return s.OpsPerSec }},
	{"p99", false, func(s bench.OpSummary) float64 { return s.P99us }},
	{"p99.9", false, func(s bench.OpSummary) float64 { return s.P999us }},
}

// runKey is an engine × workload.
type runKey struct{ spec, workload string }

// CompareReports compares result a against result b, pairing runs by
// engine spec and workload.
func CompareReports(a, b *bench.Report, sa, sb Side, o CompareOptions) (Comparison, error) {
	ga, gb := groupRuns(a.Runs, ""), groupRuns(b.Runs, "")
	c := newComparison(sa, sb, o)
	for _, k := range sortedKeys(ga) {
		rb, ok := gb[k]
		if !ok {
			c.OnlyA = append(c.OnlyA, k.spec+" | "+k.workload)
			continue
		}
		c.addPair(k.spec, "", k.workload, ga[k], rb)
	}
	for _, k := range sortedKeys(gb) {
		if _, ok := ga[k]; !ok {
			c.OnlyB = append(c.OnlyB, k.spec+" | "+k.workload)
		}
	}
	c.Variance = variance(append(slices.Clone(a.Runs), b.Runs...))
	if len(c.Rows) == 0 {
		return c, fmt.Errorf("compare: %s and %s have no engine × workload in common (each run is paired by its engine's full spec and its workload)", sa.Path, sb.Path)
	}
	return c, nil
}

// CompareEngines compares, within one result, every engine's runs against
// those of engine base, workload by workload: the IO-scheduling A/B of
// `harness bench --engine shardstore:sched=fifo,shardstore:sched=coalesce`.
// base is a spec as the runs name it (Run.Spec) or as the user typed it
// (matched against Run.Engine plus options); "" is the first engine run.
func CompareEngines(r *bench.Report, path, base string, o CompareOptions) (Comparison, error) {
	specs := []string{}
	for _, run := range r.Runs {
		if !slices.Contains(specs, run.Spec) {
			specs = append(specs, run.Spec)
		}
	}
	if len(specs) < 2 {
		return Comparison{}, fmt.Errorf("compare: %s holds one engine (%s): give two result files, or a result of two engines (harness bench --engine A,B --repeat 5)", path, strings.Join(specs, ""))
	}
	baseSpec := specs[0]
	if base != "" {
		baseSpec = ""
		for _, s := range specs {
			if s == base || specMatches(s, base) {
				baseSpec = s
				break
			}
		}
		if baseSpec == "" {
			return Comparison{}, fmt.Errorf("compare: --base %s: no such engine in %s (it holds %s)", base, path, strings.Join(specs, ", "))
		}
	}
	c := newComparison(Side{Label: "A", Path: path, Engine: baseSpec}, Side{Label: "B", Path: path}, o)
	byWorkload := map[string]map[string][]bench.Run{}
	for _, run := range r.Runs {
		if byWorkload[run.Workload] == nil {
			byWorkload[run.Workload] = map[string][]bench.Run{}
		}
		byWorkload[run.Workload][run.Spec] = append(byWorkload[run.Workload][run.Spec], run)
	}
	var others []string
	for _, s := range specs {
		if s != baseSpec {
			others = append(others, s)
		}
	}
	c.B.Engine = strings.Join(others, ", ")
	for _, w := range sortedStrings(byWorkload) {
		runs := byWorkload[w]
		for _, s := range others {
			if len(runs[baseSpec]) == 0 || len(runs[s]) == 0 {
				continue
			}
			c.addPair(baseSpec, s, w, runs[baseSpec], runs[s])
		}
	}
	c.Variance = variance(r.Runs)
	if len(c.Rows) == 0 {
		return c, fmt.Errorf("compare: %s: no workload was run by %s and another engine", path, baseSpec)
	}
	return c, nil
}

// specMatches reports whether a user's spec ("shardstore:sched=fifo")
// names the resolved spec s, whose options include every default: each
// option the user gave must be in s with the same value.
func specMatches(s, user string) bool {
	name, opts, _ := strings.Cut(user, ":")
	sname, sopts, _ := strings.Cut(s, ":")
	if name != sname {
		return false
	}
	have := strings.Split(sopts, ",")
	for _, kv := range strings.Split(opts, ",") {
		if kv != "" && !slices.Contains(have, kv) {
			return false
		}
	}
	return true
}

// variance says what the spread between the repetitions of runs is, if
// they are simulated: "" for runs on real devices, whose spread is the
// machine's as well.
func variance(runs []bench.Run) string {
	var seeds []uint64
	controlled := true
	for _, r := range runs {
		if !r.Simulated {
			return ""
		}
		controlled = controlled && r.Controlled
		if !slices.Contains(seeds, r.SimSeed) {
			seeds = append(seeds, r.SimSeed)
		}
	}
	if len(runs) == 0 {
		return ""
	}
	if !controlled {
		return "simulated runs outside the controlled scheduler: the spread between repetitions is goroutine timing's (which IOs a round gathers), not the device's"
	}
	slices.Sort(seeds)
	return fmt.Sprintf("simulated runs, each a deterministic controlled execution: the spread between repetitions is their seeds' alone (seeds %d-%d), not the machine's", seeds[0], seeds[len(seeds)-1])
}

func newComparison(a, b Side, o CompareOptions) Comparison {
	if o.Alpha <= 0 {
		o.Alpha = 0.05
	}
	if o.Confidence <= 0 {
		o.Confidence = 0.95
	}
	return Comparison{Schema: CompareSchema, Alpha: o.Alpha, Confidence: o.Confidence, A: a, B: b}
}

// groupRuns gathers the repetitions of each engine × workload, leaving out
// runs that failed: their figures measure the failure.
func groupRuns(runs []bench.Run, _ string) map[runKey][]bench.Run {
	g := map[runKey][]bench.Run{}
	for _, r := range runs {
		if r.Error != "" || r.Partial {
			continue
		}
		k := runKey{r.Spec, r.Workload}
		g[k] = append(g[k], r)
	}
	return g
}

// addPair adds the rows of one engine × workload: every metric of "all"
// and of each op type both sides ran.
func (c *Comparison) addPair(spec, specB, workload string, a, b []bench.Run) {
	ops := []string{"all"}
	for op := range a[0].ByOp {
		if _, ok := b[0].ByOp[op]; ok && len(a[0].ByOp) > 1 {
			ops = append(ops, op)
		}
	}
	slices.Sort(ops[1:])
	th := benchmath.DefaultThresholds
	th.CompareAlpha = c.Alpha
	for _, op := range ops {
		for _, m := range compareMetrics {
			va, vb := values(a, op, m), values(b, op, m)
			if len(va) == 0 || len(vb) == 0 {
				continue
			}
			sa, sb := benchmath.NewSample(va, &th), benchmath.NewSample(vb, &th)
			row := Row{Engine: spec, EngineB: specB, Workload: workload, Op: op, Metric: m.name, HigherIsBetter: m.higher,
				A: summarize(sa, c.Confidence), B: summarize(sb, c.Confidence)}
			cmpr := benchmath.AssumeNothing.Compare(sa, sb)
			// benchmath's exact U distribution sums to 1 plus rounding:
			// a p-value is a probability.
			row.P = min(cmpr.P, 1)
			row.Significant = cmpr.P < c.Alpha
			if row.A.Median != 0 {
				row.DeltaPct = (row.B.Median - row.A.Median) / row.A.Median * 100
			}
			row.Verdict = "same"
			if row.Significant && row.B.Median != row.A.Median {
				if (row.B.Median > row.A.Median) == m.higher {
					row.Verdict = "better"
				} else {
					row.Verdict = "worse"
				}
			}
			for _, w := range slices.Concat(sa.Warnings, sb.Warnings, cmpr.Warnings) {
				if s := w.Error(); !slices.Contains(row.Warnings, s) {
					row.Warnings = append(row.Warnings, s)
				}
			}
			c.Rows = append(c.Rows, row)
		}
	}
}

// values is metric m of op over the repetitions; ops/s of "all" is the
// run's own.
func values(runs []bench.Run, op string, m metric) []float64 {
	var out []float64
	for _, r := range runs {
		s, ok := r.All, true
		if op != "all" {
			s, ok = r.ByOp[op]
		}
		if !ok || s.Count == 0 {
			continue
		}
		v := m.get(s)
		if op == "all" && m.name == "ops/s" {
			v = r.OpsPerSec
		}
		out = append(out, v)
	}
	return out
}

// summarize is the median with its confidence interval (benchmath, an
// order-statistic interval: no normality assumed) and the mean and
// standard deviation (montanaflynn/stats) for readers who want them.
func summarize(s *benchmath.Sample, confidence float64) Sample {
	sum := benchmath.AssumeNothing.Summary(s, confidence)
	out := Sample{Values: s.Values, Median: sum.Center, Lo: sum.Lo, Hi: sum.Hi}
	out.Mean, _ = stats.Mean(s.Values)
	if len(s.Values) > 1 {
		out.StdDev, _ = stats.StandardDeviationSample(s.Values)
	}
	if math.IsInf(out.Lo, 0) || math.IsNaN(out.Lo) || math.IsInf(out.Hi, 0) || math.IsNaN(out.Hi) {
		// Too few repetitions for an interval at this confidence: the
		// range of the sample stands in, and a warning says so.
		out.Lo, out.Hi = s.Values[0], s.Values[len(s.Values)-1]
	}
	return out
}

// JSON is the comparison as its schema describes it.
func (c Comparison) JSON() ([]byte, error) { return json.MarshalIndent(c, "", "  ") }

// Regressions are the rows significantly worse in B.
func (c Comparison) Regressions() []Row {
	var out []Row
	for _, r := range c.Rows {
		if r.Verdict == "worse" {
			out = append(out, r)
		}
	}
	return out
}

// WriteText prints the comparison as benchstat does: one table per
// metric, A's and B's medians with the interval as ± percent, and the
// delta with its p-value, or "~" when the difference is not significant.
func (c Comparison) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "A: %s\nB: %s\n", sideName(c.A), sideName(c.B))
	fmt.Fprintf(w, "medians over repetitions, ±: %.0f%% interval of the median; delta: Mann-Whitney U test at α=%g, ~ when not significant\n",
		c.Confidence*100, c.Alpha)
	if c.Variance != "" {
		fmt.Fprintf(w, "variance: %s\n", c.Variance)
	}
	var specs []string
	for _, r := range c.Rows {
		specs = append(specs, r.Engine)
		if r.EngineB != "" {
			specs = append(specs, r.EngineB)
		}
	}
	labels := specLabels(specs)
	var warnings []string
	for _, m := range compareMetrics {
		rows := slices.DeleteFunc(slices.Clone(c.Rows), func(r Row) bool { return r.Metric != m.name })
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s (%s)\n", m.name, map[bool]string{true: "higher is better", false: "lower is better"}[m.higher])
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "engine\tworkload\top\tA\tB\tdelta\t")
		for _, r := range rows {
			eng := labels[r.Engine]
			if r.EngineB != "" {
				eng = labels[r.EngineB]
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", eng, r.Workload, r.Op, fmtSample(r.A, m.higher), fmtSample(r.B, m.higher), fmtDelta(r))
			for _, s := range r.Warnings {
				if !slices.Contains(warnings, s) {
					warnings = append(warnings, s)
				}
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, s := range c.OnlyA {
		fmt.Fprintf(w, "only in A: %s\n", s)
	}
	for _, s := range c.OnlyB {
		fmt.Fprintf(w, "only in B: %s\n", s)
	}
	for _, s := range warnings {
		fmt.Fprintf(w, "note: %s\n", s)
	}
	better, worse := 0, 0
	for _, r := range c.Rows {
		switch r.Verdict {
		case "better":
			better++
		case "worse":
			worse++
		}
	}
	_, err := fmt.Fprintf(w, "\n%d figures compared: %d significantly better in B, %d significantly worse, %d not significantly different\n",
		len(c.Rows), better, worse, len(c.Rows)-better-worse)
	return err
}

func sideName(s Side) string {
	out := s.Path
	if s.Engine != "" {
		out += " [" + s.Engine + "]"
	}
	if s.Commit != "" {
		out += " (commit " + s.Commit + ")"
	}
	return out
}

// specLabels names each resolved spec (every option spelled out) by its
// engine and the options that tell it apart from the other specs of that
// engine in the comparison: "shardstore:sched=fifo", or "pebble" alone.
// The header has the full specs.
func specLabels(specs []string) map[string]string {
	type parsed struct {
		name string
		opts []string
	}
	byName := map[string][]parsed{}
	for _, s := range specs {
		name, opts, _ := strings.Cut(s, ":")
		p := parsed{name, strings.Split(opts, ",")}
		if !slices.ContainsFunc(byName[name], func(q parsed) bool { return slices.Equal(q.opts, p.opts) }) {
			byName[name] = append(byName[name], p)
		}
	}
	out := map[string]string{}
	for _, s := range specs {
		name, opts, _ := strings.Cut(s, ":")
		var differ []string
		for _, kv := range strings.Split(opts, ",") {
			for _, other := range byName[name] {
				if !slices.Contains(other.opts, kv) {
					differ = append(differ, kv)
					break
				}
			}
		}
		out[s] = name
		if len(differ) > 0 {
			out[s] += ":" + strings.Join(differ, ",")
		}
	}
	return out
}

func fmtSample(s Sample, rate bool) string {
	pm := "?"
	if s.Median != 0 {
		pm = fmt.Sprintf("%.0f%%", math.Max(s.Hi-s.Median, s.Median-s.Lo)/math.Abs(s.Median)*100)
	}
	v := formatUs(s.Median)
	if rate {
		v = formatSI(s.Median)
	}
	return v + " ± " + pm
}

func fmtDelta(r Row) string {
	n := fmt.Sprintf("(p=%.3f n=%d+%d)", r.P, len(r.A.Values), len(r.B.Values))
	if !r.Significant {
		return "~ " + n
	}
	return fmt.Sprintf("%+.2f%% %s %s", r.DeltaPct, r.Verdict, n)
}

func sortedKeys(m map[runKey][]bench.Run) []runKey {
	ks := make([]runKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b runKey) int {
		return cmp.Or(cmp.Compare(a.spec, b.spec), cmp.Compare(a.workload, b.workload))
	})
	return ks
}

func sortedStrings[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
