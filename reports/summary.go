package reports

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/engine"
)

// WriteSummary writes a plain-text summary of r for a terminal: where it
// ran, the device's limits if probed, one row per engine and workload
// (repetitions aggregated), and per workload how much faster the best
// engine was than each other one.
func WriteSummary(w io.Writer, r *bench.Report) error {
	v := newView(r)
	var b strings.Builder
	writeHeader(&b, r)

	reps := 0
	for _, g := range v.groups {
		reps = max(reps, len(g.runs))
	}
	if len(v.groups) == 0 {
		b.WriteString("\nno runs\n")
		_, err := io.WriteString(w, b.String())
		return err
	}

	t := table{header: []string{"workload", "engine", "mode", "threads", "ops/s", "MB/s", "p50", "p99", "p99.9", "max", "errors"},
		right: []bool{false, false, false, true, true, true, true, true, true, true, true}}
	var failures, ended, failedOps []string
	for _, g := range v.groups {
		first := g.runs[0]
		ops := g.each(func(r *bench.Run) float64 { return r.OpsPerSec })
		opsCell := formatSI(median(ops))
		if len(g.runs) > 1 {
			opsCell += fmt.Sprintf(" ±%.0f%%", 100*spread(ops))
		}
		var errs int64
		var maxUs float64
		for _, run := range g.runs {
			errs += run.Errors + run.Misses
			maxUs = max(maxUs, run.All.MaxUs)
			if f := run.FailedByOp(); f != "" {
				failedOps = append(failedOps, fmt.Sprintf("  %s on %s, repetition %d: %s", g.workload, g.engine, run.Repetition, f))
			}
			if run.Error != "" {
				failures = append(failures, fmt.Sprintf("  %s on %s, repetition %d: %s", g.workload, g.engine, run.Repetition, run.Error))
			}
			if run.Ended != "" {
				ended = append(ended, fmt.Sprintf("  %s on %s, repetition %d: %s", g.workload, g.engine, run.Repetition, run.Ended))
			}
		}
		mode := first.Mode
		if first.Mode == "open-loop" && first.RateOpsPerSec > 0 {
			mode += " @" + trimZeros(formatSI(first.RateOpsPerSec)) + "/s"
		}
		errCell := fmt.Sprint(errs)
		if hasFailure(g) {
			errCell += " !"
		} else if hasEnded(g) {
			errCell += " *"
		}
		t.rows = append(t.rows, []string{
			g.workload, g.engine, mode, fmt.Sprint(first.Threads),
			opsCell,
			sig3(median(g.each(func(r *bench.Run) float64 { return r.MBPerSec }))),
			formatUs(median(g.each(func(r *bench.Run) float64 { return r.All.P50us }))),
			formatUs(median(g.each(func(r *bench.Run) float64 { return r.All.P99us }))),
			formatUs(median(g.each(func(r *bench.Run) float64 { return r.All.P999us }))),
			formatUs(maxUs),
			errCell,
		})
	}
	b.WriteByte('\n')
	t.write(&b)
	writeResources(&b, v)
	writeLoads(&b, v)
	if reps > 1 {
		fmt.Fprintf(&b, "\nFigures are medians over up to %d repetitions; ± is the largest deviation of one repetition's ops/s from the median. max is the largest of all.\n", reps)
	}
	if ratios := ratioLines(v); len(ratios) > 0 {
		b.WriteString("\nfastest engine per workload (median ops/s):\n")
		for _, l := range ratios {
			b.WriteString("  " + l + "\n")
		}
	}
	if len(failedOps) > 0 {
		b.WriteString("\nops that failed (engine errors) or missed (loaded records not found), by op type; not counted in ops/s:\n")
		for _, f := range failedOps {
			b.WriteString(f + "\n")
		}
	}
	if len(failures) > 0 {
		b.WriteString("\nruns that ended early (!):\n")
		for _, f := range failures {
			b.WriteString(f + "\n")
		}
	}
	if len(ended) > 0 {
		b.WriteString("\nruns that stopped at a full device (*):\n")
		for _, f := range ended {
			b.WriteString(f + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeLoads writes the load phases, as YCSB reports its own: records/s
// and the latency of each call (one put, or one batch), medians over the
// repetitions.
func writeLoads(b *strings.Builder, v *view) {
	t := table{header: []string{"load", "engine", "records", "threads", "per call", "records/s", "MB/s", "call p50", "call p99", "max", "sync"},
		right: []bool{false, false, true, true, true, true, true, true, true, true, true}}
	var stopped []string
	for _, g := range v.groups {
		var loads []*bench.LoadSummary
		for _, r := range g.runs {
			if r.Load != nil {
				loads = append(loads, r.Load)
				if r.Load.Ended != "" {
					stopped = append(stopped, fmt.Sprintf("  %s on %s, repetition %d: %s", g.workload, g.engine, r.Repetition, r.Load.Ended))
				}
			}
		}
		if len(loads) == 0 {
			continue
		}
		each := func(f func(*bench.LoadSummary) float64) float64 {
			xs := make([]float64, len(loads))
			for i, l := range loads {
				xs[i] = f(l)
			}
			return median(xs)
		}
		first := loads[0]
		call := "1 put"
		if first.Batched {
			call = fmt.Sprintf("batch of %d", first.Batch)
		}
		var maxUs float64
		for _, l := range loads {
			maxUs = max(maxUs, l.Latency.MaxUs)
		}
		t.rows = append(t.rows, []string{
			g.workload, g.engine, fmt.Sprint(first.Records), fmt.Sprint(first.Threads), call,
			formatSI(each(func(l *bench.LoadSummary) float64 { return l.RecordsPerSec })),
			sig3(each(func(l *bench.LoadSummary) float64 { return l.MBPerSec })),
			formatUs(each(func(l *bench.LoadSummary) float64 { return l.Latency.P50us })),
			formatUs(each(func(l *bench.LoadSummary) float64 { return l.Latency.P99us })),
			formatUs(maxUs),
			formatSeconds(each(func(l *bench.LoadSummary) float64 { return l.SyncSec })),
		})
	}
	if len(t.rows) == 0 {
		return
	}
	b.WriteByte('\n')
	t.write(b)
	if len(stopped) > 0 {
		b.WriteString("\nloads that stopped short:\n")
		for _, s := range stopped {
			b.WriteString(s + "\n")
		}
	}
}

func hasEnded(g *group) bool {
	for _, r := range g.runs {
		if r.Ended != "" {
			return true
		}
	}
	return false
}

func hasFailure(g *group) bool {
	for _, r := range g.runs {
		if r.Error != "" {
			return true
		}
	}
	return false
}

func writeHeader(b *strings.Builder, r *bench.Report) {
	e := r.Env
	b.WriteString("gauntlet bench")
	if !r.Started.IsZero() {
		fmt.Fprintf(b, ", %s", r.Started.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	if r.ElapsedSec > 0 {
		fmt.Fprintf(b, ", took %s", formatSeconds(r.ElapsedSec))
	}
	if e.Commit != "" {
		c := e.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		fmt.Fprintf(b, ", commit %s", c)
		if e.Modified {
			b.WriteString(" (modified)")
		}
	}
	if e.GoVersion != "" {
		fmt.Fprintf(b, ", %s", e.GoVersion)
	}
	b.WriteByte('\n')
	fmt.Fprintf(b, "machine: %s", machine(e))
	if e.MemBytes > 0 {
		fmt.Fprintf(b, ", %.1f GiB RAM", float64(e.MemBytes)/(1<<30))
	}
	if e.Kernel != "" {
		fmt.Fprintf(b, ", %s %s", e.OS, e.Kernel)
	}
	if m := r.Config.MemoryLimit; m > 0 {
		fmt.Fprintf(b, "; each run limited to %s of memory, page cache included (--memory)", engine.FormatSize(m))
	}
	b.WriteByte('\n')
	if p := r.Probe; p != nil {
		cache := "O_DIRECT"
		if !p.Direct {
			cache = "through the page cache"
		}
		fmt.Fprintf(b, "device limits (probe, %s): sequential write %s MB/s; 4 KiB write+fdatasync p50 %s, p99 %s; 4 KiB random read %s IOPS at QD1, %s at QD16\n",
			cache, sig3(p.SeqWriteMBps), formatUs(p.FdatasyncP50us), formatUs(p.FdatasyncP99us), formatSI(p.RandReadIOPS), formatSI(p.RandReadIOPSQD16))
	}
	if sim := simulatedSpecs(r); len(sim) > 0 {
		fmt.Fprintf(b, "SIMULATED: %s ran on a simulated device: their latencies and throughput are the device model's virtual time, not this machine's\n", strings.Join(sim, ", "))
	}
	if r.Partial {
		b.WriteString("PARTIAL: not every planned run finished")
		if r.Reason != "" {
			b.WriteString(" (" + r.Reason + ")")
		}
		b.WriteByte('\n')
	}
}

// ratioLines says, per workload with two or more engines, how the fastest
// compares to each other: "ycsb-a: shardstore 1.80× pebble, 2.41× badger".
func ratioLines(v *view) []string {
	var lines []string
	for _, w := range v.workloads {
		gs := v.workloadGroups(w)
		if len(gs) < 2 {
			continue
		}
		ops := make([]float64, len(gs))
		best := 0
		for i, g := range gs {
			ops[i] = median(g.each(func(r *bench.Run) float64 { return r.OpsPerSec }))
			if ops[i] > ops[best] {
				best = i
			}
		}
		if ops[best] == 0 {
			lines = append(lines, w+": no engine completed an op")
			continue
		}
		var parts []string
		for i, g := range gs {
			if i == best {
				continue
			}
			if ops[i] == 0 {
				parts = append(parts, g.engine+" completed no op")
				continue
			}
			parts = append(parts, fmt.Sprintf("%.2f× %s", ops[best]/ops[i], g.engine))
		}
		lines = append(lines, fmt.Sprintf("%s: %s %s", w, gs[best].engine, strings.Join(parts, ", ")))
	}
	return lines
}

// formatUs writes a latency given in µs with its unit, three significant
// digits: "850µs", "1.23ms", "2.10s".
func formatUs(us float64) string {
	switch {
	case us == 0:
		return "-"
	case us >= 999.5e3:
		return sig3(us/1e6) + "s"
	case us >= 999.5:
		return sig3(us/1e3) + "ms"
	}
	return sig3(us) + "µs"
}

func formatSeconds(s float64) string {
	if s >= 120 {
		return fmt.Sprintf("%dm%02.0fs", int(s/60), math.Mod(s, 60))
	}
	return fmt.Sprintf("%.1fs", s)
}

// table is a text table with columns aligned by rune count.
type table struct {
	header []string
	right  []bool // right-align this column (numbers)
	rows   [][]string
}

func (t table) write(b *strings.Builder) {
	width := make([]int, len(t.header))
	for _, row := range append([][]string{t.header}, t.rows...) {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, row := range append([][]string{t.header}, t.rows...) {
		var line strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				line.WriteString("  ")
			}
			if t.right[i] {
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// simulatedSpecs lists the engines (as the tables label them) of the runs
// on a simulated device (bench.Run.Simulated), in order.
func simulatedSpecs(r *bench.Report) []string {
	var out []string
	labels := engineLabels(r.Runs)
	for i, run := range r.Runs {
		l := strings.TrimSuffix(labels[i], " (simulated)")
		if run.Simulated && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// writeResources writes what each engine's measured phase cost, when the
// runs measured it: CPU per op, memory, and the device traffic the kernel
// counted against the bytes the workload moved (medians over the
// repetitions, peaks the largest).
func writeResources(b *strings.Builder, v *view) {
	t := table{header: []string{"workload", "engine", "CPU/op", "user", "sys", "peak RSS", "mean RSS", "Go heap peak", "dev read", "dev written", "read amp", "write amp"},
		right: []bool{false, false, true, true, true, true, true, true, true, true, true, true}}
	for _, g := range v.groups {
		var rs []*bench.Resources
		for _, r := range g.runs {
			if r.Resources != nil {
				rs = append(rs, r.Resources)
			}
		}
		if len(rs) == 0 {
			continue
		}
		each := func(f func(*bench.Resources) float64) float64 {
			xs := make([]float64, len(rs))
			for i, r := range rs {
				xs[i] = f(r)
			}
			return median(xs)
		}
		peak := func(f func(*bench.Resources) int64) int64 {
			var m int64
			for _, r := range rs {
				m = max(m, f(r))
			}
			return m
		}
		dev := func(f func(*bench.Resources) int64) string {
			if !rs[0].IOCounters {
				return "-"
			}
			return formatBytes(int64(each(func(r *bench.Resources) float64 { return float64(f(r)) })))
		}
		amp := func(f func(*bench.Resources) float64) string {
			x := each(f)
			if x == 0 || !rs[0].IOCounters {
				return "-"
			}
			return sig3(x) + "×"
		}
		t.rows = append(t.rows, []string{
			g.workload, g.engine,
			formatUs(each(func(r *bench.Resources) float64 { return r.CPUUsPerOp })),
			sig3(each(func(r *bench.Resources) float64 { return r.CPUUserSec })) + "s",
			sig3(each(func(r *bench.Resources) float64 { return r.CPUSysSec })) + "s",
			formatBytes(peak(func(r *bench.Resources) int64 { return r.RSSPeakBytes })),
			formatBytes(int64(each(func(r *bench.Resources) float64 { return float64(r.RSSMeanBytes) }))),
			formatBytes(peak(func(r *bench.Resources) int64 { return r.GoHeapPeakBytes })),
			dev(func(r *bench.Resources) int64 { return r.DeviceReadBytes }),
			dev(func(r *bench.Resources) int64 { return r.DeviceWriteBytes }),
			amp(func(r *bench.Resources) float64 { return r.ReadAmplification }),
			amp(func(r *bench.Resources) float64 { return r.WriteAmplification }),
		})
	}
	if len(t.rows) == 0 {
		return
	}
	b.WriteString("\nresources of the measured phase (CPU per op attempted; device bytes from /proc/self/io, amplification over the value bytes the workload read or wrote):\n")
	t.write(b)
}
