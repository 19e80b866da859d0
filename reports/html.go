package reports

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/mutants"
)

// HTMLFile is the name `harness report` gives the page by default.
const HTMLFile = "report.html"

// HTMLOptions say where the page will live and what it says of itself.
type HTMLOptions struct {
	// Dir is the directory the page is written to: links to trace files
	// are relative to it, so the directory can be moved or served whole.
	Dir string
	// Generated is the time printed in the header (zero: left out, for
	// byte-identical pages in tests).
	Generated time.Time
	// Command is the command that made the page, printed in its header.
	Command string
	// Nights is how many of the history's last nights the trend plot
	// shows (default DefaultNights).
	Nights int
}

// DefaultNights is how many nights a trend plot shows by default.
const DefaultNights = 30

//go:embed report.html.tmpl
var htmlTemplate string

var pageTemplate = template.Must(template.New("report").Parse(htmlTemplate))

// WriteHTML writes one self-contained HTML page of every result in res:
// no script, no style sheet, font or image fetched from anywhere, the
// plots embedded as SVG data. Sections, each present only if a result of
// its kind is: an overview (every verdict at a glance), then each bench
// (environment, the command, the device probe, the summary table with
// ratios against the best peer and the device, latency spectra and
// throughput timelines), the checks (verdicts, violations with their
// minimized ops, replay commands and links to the trace files), the
// mutants runs (heatmap, scores, survivors), comparisons and gate
// verdicts. It prints as well as it reads on a screen.
func WriteHTML(w io.Writer, res *Results, o HTMLOptions) error {
	p, err := newPage(res, o)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		return fmt.Errorf("reports: html: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// The page's view model: strings ready to print, in the order shown.
type (
	page struct {
		Generated string
		Command   string
		Dirs      []string
		Overview  []badge
		Benches   []benchSection
		Checks    []checkRow
		Mutants   []mutantsSection
		Coverage  []coverageSection
		Compares  []textSection
		Gates     []gateSection
		Nights    []nightSection
		Trends    *trendSection
	}
	// nightSection is one nightly folder's record.
	nightSection struct {
		ID, Path, Heading, Partial string
		Checks                     []kv
	}
	// trendSection is the history's trend plot and its nights.
	trendSection struct {
		Path, Heading, Warning string
		Figures                []img
	}
	// badge is one verdict in the overview: a label, a value, a class
	// (pass, fail, warn, info) that colours it, and the section it links.
	badge struct{ Label, Value, Class, Href string }
	kv    struct{ Key, Value string }
	img   struct {
		Title string
		Src   template.URL
		W, H  int // CSS pixels
	}
	cell struct {
		Text, Class, Title string
	}
	benchSection struct {
		ID, Path, Heading string
		Partial           string
		Command           string
		Equivalent        string
		Env               []kv
		Probe             []kv
		ProbeNote         string
		Header            []string
		Rows              [][]cell
		Notes             []string
		Load              string // the load phases, as the text summary shows them
		Figures           []img
	}
	checkRow struct {
		ID, Name, Path, Verdict, Class, Engine, Seeds, Cases, Ops, Elapsed, Rate, Reason string
		Violations                                                                       []violation
	}
	violation struct {
		Summary, Expected, Actual, Minimized, Note string
		Ops                                        []opLine
		Replay, ReplayLabel                        string
		Trace, TraceHref                           string
		Visualization, VisualizationHref           string
	}
	opLine struct {
		N      int
		Op     string
		Failed bool
	}
	// coverageSection is one coverage.json: its figures, and per
	// checker what it never reached.
	coverageSection struct {
		ID, Path, Heading string
		Faults, Events    img
		Never             []kv
	}
	mutantsSection struct {
		ID, Path, Heading, Trust, Command string
		Heatmap                           img
		Scores                            []kv
		Survivors                         []kv
	}
	textSection struct {
		ID, Path, Heading, Class, Verdict, Text string
	}
	gateSection struct {
		// Kind is "Gate", or "Checks" for the checks of a night, which
		// nightly writes in the gate's format.
		ID, Kind, Path, Heading, Verdict, Class, Command, Head string
		Checks                                                 []gateCheck
		Failures                                               []string
	}
	gateCheck struct {
		Detector, Outcome, Class, Cases, Ops, Elapsed, Detail, Replay, Trace, TraceHref string
	}
)

func newPage(res *Results, o HTMLOptions) (*page, error) {
	p := &page{Dirs: res.Dirs, Command: o.Command}
	if !o.Generated.IsZero() {
		p.Generated = o.Generated.UTC().Format("2006-01-02 15:04:05 MST")
	}
	for i, b := range res.Bench {
		s, err := newBenchSection(i, b, o)
		if err != nil {
			return nil, err
		}
		p.Benches = append(p.Benches, s)
		val := fmt.Sprintf("%d runs, %s", len(b.Report.Runs), strings.Join(newView(b.Report).engines, ", "))
		class := "info"
		if b.Report.Partial {
			class, val = "warn", val+" (partial)"
		}
		p.Overview = append(p.Overview, badge{"bench " + relTo(o.Dir, b.Path), val, class, "#" + s.ID})
	}
	for i, c := range res.Checks {
		row := newCheckRow(i, c, o)
		p.Checks = append(p.Checks, row)
		p.Overview = append(p.Overview, badge{row.Name + " on " + row.Engine, row.Verdict, row.Class, "#" + row.ID})
	}
	for i, c := range res.Coverage {
		d := c.Doc
		s := coverageSection{ID: fmt.Sprintf("coverage-%d", i+1), Path: relTo(o.Dir, c.Path), Heading: "engine " + d.Engine,
			Faults: svgImage("fault-space coverage", faultHeatmap{&d}), Events: svgImage("events per checker", newEventBars(&d))}
		for _, ch := range d.Checkers {
			never := make([]string, len(ch.NeverEvents))
			for j, e := range ch.NeverEvents {
				never[j] = string(e)
			}
			s.Never = append(s.Never, kv{ch.Checker + " " + ch.Mode, fmt.Sprintf("events never reached: %s; fault × phase pairs never hit: %d",
				noneIfEmpty(never), len(ch.NeverFaults))})
		}
		p.Coverage = append(p.Coverage, s)
	}
	for i, m := range res.Mutants {
		s := newMutantsSection(i, m)
		s.Path = relTo(o.Dir, m.Path)
		p.Mutants = append(p.Mutants, s)
		class := "pass"
		if m.Report.Trust != "" {
			class = "fail"
		} else if m.Report.Combined.Survived > 0 {
			class = "warn"
		}
		p.Overview = append(p.Overview, badge{"mutation score", m.Report.Combined.String(), class, "#" + s.ID})
	}
	for i, c := range res.Compares {
		var b strings.Builder
		if err := c.Comparison.WriteText(&b); err != nil {
			return nil, err
		}
		n := len(c.Comparison.Regressions())
		verdict, class := "no significant regression", "pass"
		if n > 0 {
			verdict, class = fmt.Sprintf("%d figures significantly worse", n), "fail"
		}
		id := fmt.Sprintf("compare-%d", i+1)
		p.Compares = append(p.Compares, textSection{ID: id, Path: relTo(o.Dir, c.Path), Heading: sideName(c.Comparison.A) + " against " + sideName(c.Comparison.B),
			Class: class, Verdict: verdict, Text: b.String()})
		p.Overview = append(p.Overview, badge{"compare " + relTo(o.Dir, c.Path), verdict, class, "#" + id})
	}
	for i, g := range res.Gates {
		s := newGateSection(i, g, o)
		p.Gates = append(p.Gates, s)
		p.Overview = append(p.Overview, badge{strings.ToLower(s.Kind) + " on " + g.Gate.Engine, s.Verdict, s.Class, "#" + s.ID})
	}
	for i, n := range res.Nights {
		r := n.Record
		s := nightSection{ID: fmt.Sprintf("night-%d", i+1), Path: relTo(o.Dir, n.Path),
			Heading: fmt.Sprintf("%s, commit %.12s, %s, %d repetitions, %s", r.Night, r.Commit, r.Engine, r.Repeat, r.Elapsed.Round(time.Second))}
		val, class := "complete", "pass"
		if r.Partial {
			s.Partial = "PARTIAL night: " + r.Reason + "; it is not in the history."
			val, class = "partial", "warn"
		}
		for _, c := range r.Checks {
			s.Checks = append(s.Checks, kv{c.Detector, c.Verdict})
		}
		if r.MutationScore != nil {
			s.Checks = append(s.Checks, kv{"mutation score", fmt.Sprintf("%.1f%%", *r.MutationScore)})
		}
		if len(r.Regressions) > 0 {
			val, class = fmt.Sprintf("%s, %d regressions", val, len(r.Regressions)), "fail"
		}
		p.Nights = append(p.Nights, s)
		p.Overview = append(p.Overview, badge{"night " + r.Night, val, class, "#" + s.ID})
	}
	if h := res.History; h != nil && len(h.Records) > 0 {
		recs := h.Last(cmp.Or(o.Nights, DefaultNights))
		t := &trendSection{Path: relTo(o.Dir, h.Path), Warning: h.Warning,
			Heading: fmt.Sprintf("the last %d of %d nights", len(recs), len(h.Records))}
		if f, ok := trendFigure(recs); ok {
			t.Figures = append(t.Figures, svgImage(f.title, f))
		}
		p.Trends = t
		last := recs[len(recs)-1]
		val, class := "no regression on the last night", "pass"
		if n := len(last.Regressions); n > 0 {
			val, class = fmt.Sprintf("%d figures worse on the last night", n), "fail"
		}
		p.Overview = append(p.Overview, badge{"trends", val, class, "#trends"})
	}
	return p, nil
}

// verdictClass colours a verdict or outcome.
func verdictClass(v string) string {
	switch v {
	case "pass":
		return "pass"
	case "fail":
		return "fail"
	}
	return "warn"
}

// relTo is path as a link from dir: relative when it can be.
func relTo(dir, path string) string {
	if dir == "" {
		return path
	}
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return path
	}
	if rel, err := filepath.Rel(ad, ap); err == nil {
		return rel
	}
	return ap
}

// href is a link to a local file from the page in dir.
func href(dir, path string) string {
	rel := relTo(dir, path)
	if filepath.IsAbs(rel) {
		return (&url.URL{Scheme: "file", Path: rel}).String()
	}
	return (&url.URL{Path: filepath.ToSlash(rel)}).String()
}

// findTrace finds a trace file a result names: as written (relative to
// the directory the check ran in, or absolute), or beside the result file
// (a result directory that was moved). "" when it is nowhere.
func findTrace(resultPath, trace string) string {
	if trace == "" {
		return ""
	}
	for _, p := range []string{filepath.Join(filepath.Dir(resultPath), filepath.Base(trace)), trace} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// ---- bench

func newBenchSection(i int, b BenchResult, o HTMLOptions) (benchSection, error) {
	r := b.Report
	s := benchSection{ID: fmt.Sprintf("bench-%d", i+1), Path: relTo(o.Dir, b.Path), Command: r.Command, Equivalent: benchCommand(r.Config)}
	var hb strings.Builder
	hb.WriteString("bench")
	if !r.Started.IsZero() {
		hb.WriteString(", " + r.Started.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	if r.ElapsedSec > 0 {
		hb.WriteString(", took " + formatSeconds(r.ElapsedSec))
	}
	s.Heading = hb.String()
	if r.Partial {
		s.Partial = "Partial: not every planned run finished"
		if r.Reason != "" {
			s.Partial += " (" + r.Reason + ")"
		}
	}
	s.Env = envRows(r.Env)
	if p := r.Probe; p != nil {
		cache := "O_DIRECT"
		if !p.Direct {
			cache = "buffered (the file system refused O_DIRECT): figures include the page cache"
		}
		s.Probe = []kv{
			{"probed", p.Dir + ", " + cache},
			{"sequential write", sig3(p.SeqWriteMBps) + " MB/s (1 MiB writes, best pass)"},
			{"4 KiB write + fdatasync", "p50 " + formatUs(p.FdatasyncP50us) + ", p99 " + formatUs(p.FdatasyncP99us) + " (queue depth 1)"},
			{"4 KiB random read", formatSI(p.RandReadIOPS) + " IOPS at queue depth 1, " + formatSI(p.RandReadIOPSQD16) + " at 16"},
		}
	} else {
		s.ProbeNote = "The device was not probed (harness bench --probe), so no figure is set against its limits."
	}
	s.Header, s.Rows = benchTable(r)
	v := newView(r)
	var lb strings.Builder
	writeLoads(&lb, v)
	s.Load = strings.TrimSpace(lb.String())
	for _, l := range ratioLines(v) {
		s.Notes = append(s.Notes, "fastest: "+l)
	}
	for _, g := range v.groups {
		for _, run := range g.runs {
			if run.Error != "" {
				s.Notes = append(s.Notes, fmt.Sprintf("%s on %s, repetition %d ended early: %s", g.workload, g.engine, run.Repetition, run.Error))
			}
			if run.Ended != "" {
				s.Notes = append(s.Notes, fmt.Sprintf("%s on %s, repetition %d stopped at a full device: %s", g.workload, g.engine, run.Repetition, run.Ended))
			}
		}
	}
	figs, err := benchFigures(r, b.Spectra)
	if err != nil {
		return s, err
	}
	for _, f := range figs {
		s.Figures = append(s.Figures, svgImage(f.title, f))
	}
	return s, nil
}

func envRows(e bench.Env) []kv {
	commit := e.Commit
	if e.Modified {
		commit += " (with uncommitted changes)"
	}
	rows := []kv{
		{"machine", machine(e)},
		{"host", e.Hostname},
		{"system", strings.TrimSpace(e.OS + "/" + e.Arch + " " + e.Kernel)},
		{"memory", ""},
		{"Go", e.GoVersion},
		{"commit", commit},
		{"data directory", e.Dir},
	}
	if e.MemBytes > 0 {
		rows[3].Value = fmt.Sprintf("%.1f GiB", float64(e.MemBytes)/(1<<30))
	}
	deps := make([]string, 0, len(e.Deps))
	for path, v := range e.Deps {
		deps = append(deps, path+" "+v)
	}
	slices.Sort(deps)
	if len(deps) > 0 {
		rows = append(rows, kv{"engine libraries", strings.Join(deps, ", ")})
	}
	return slices.DeleteFunc(rows, func(r kv) bool { return r.Value == "" })
}

// benchCommand is a command line that runs the bench c describes again.
func benchCommand(c bench.Config) string {
	parts := []string{"harness bench"}
	for _, e := range c.Engines {
		parts = append(parts, "--engine", shellQuote(e))
	}
	for _, w := range c.Workloads {
		parts = append(parts, "--workload", shellQuote(w))
	}
	if c.Ops > 0 {
		parts = append(parts, "--ops", fmt.Sprint(c.Ops))
	} else if c.Duration > 0 {
		parts = append(parts, "--duration", c.Duration.String())
	}
	parts = append(parts, "--warmup", c.Warmup.String())
	if c.Threads > 0 {
		parts = append(parts, "--threads", fmt.Sprint(c.Threads))
	}
	if c.Repeat > 1 {
		parts = append(parts, "--repeat", fmt.Sprint(c.Repeat))
	}
	if c.Rate > 0 {
		parts = append(parts, "--rate", fmt.Sprint(c.Rate))
	}
	if c.Sync {
		parts = append(parts, "--sync")
	}
	if !c.Preload {
		parts = append(parts, "--no-preload")
	}
	if c.Probe {
		parts = append(parts, "--probe")
	}
	parts = append(parts, "--seed", fmt.Sprint(c.Seed))
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell if it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,:=/+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// benchTable is the summary table of the terminal's WriteSummary, with
// two columns it has no room for: each engine's ops/s against the best
// other engine on the workload (above 1: faster than every peer), and,
// when the device was probed, the run against the device's limit: the
// median latency over a 4 KiB write + fdatasync for durable writes, else
// the bandwidth as a share of the sequential write bandwidth.
func benchTable(r *bench.Report) ([]string, [][]cell) {
	v := newView(r)
	header := []string{"workload", "engine", "mode", "threads", "ops/s", "× best peer", "MB/s", "p50", "p99", "p99.9", "max", "errors"}
	if r.Probe != nil {
		header = append(header, "against the device")
	}
	withRes := false
	for _, run := range r.Runs {
		withRes = withRes || run.Resources != nil
	}
	if withRes {
		header = append(header, "CPU/op", "peak RSS", "read amp", "write amp")
	}
	var rows [][]cell
	for _, w := range v.workloads {
		gs := v.workloadGroups(w)
		ops := make([]float64, len(gs))
		for i, g := range gs {
			ops[i] = median(g.each(func(r *bench.Run) float64 { return r.OpsPerSec }))
		}
		for i, g := range gs {
			first := g.runs[0]
			opsText := formatSI(ops[i])
			if len(g.runs) > 1 {
				opsText += fmt.Sprintf(" ±%.0f%%", 100*spread(g.each(func(r *bench.Run) float64 { return r.OpsPerSec })))
			}
			best := cell{Text: "-", Title: "no other engine ran this workload"}
			peer := -1
			for j := range gs {
				if j != i && (peer < 0 || ops[j] > ops[peer]) {
					peer = j
				}
			}
			if peer >= 0 && ops[peer] > 0 {
				x := ops[i] / ops[peer]
				best = cell{Text: sig3(x) + "×", Title: "against " + gs[peer].engine, Class: "worse"}
				if x >= 1 {
					best.Class = "better"
				}
			}
			mode := first.Mode
			if first.Mode == "open-loop" && first.RateOpsPerSec > 0 {
				mode += " @" + trimZeros(formatSI(first.RateOpsPerSec)) + "/s"
			}
			var errs int64
			var maxUs float64
			var failedOps []string
			for _, run := range g.runs {
				errs += run.Errors + run.Misses
				maxUs = max(maxUs, run.All.MaxUs)
				if f := run.FailedByOp(); f != "" {
					failedOps = append(failedOps, f)
				}
			}
			errCell := cell{Text: fmt.Sprint(errs)}
			if len(failedOps) > 0 {
				errCell = cell{Text: errCell.Text, Class: "worse", Title: "failed or missed, not counted in ops/s: " + strings.Join(failedOps, "; ")}
			}
			if hasFailure(g) {
				errCell = cell{Text: errCell.Text + " !", Class: "worse", Title: "a run ended early: see the notes"}
			} else if hasEnded(g) {
				errCell = cell{Text: errCell.Text + " *", Title: "a run stopped at a full device: see the notes"}
			}
			p50 := median(g.each(func(r *bench.Run) float64 { return r.All.P50us }))
			mbps := median(g.each(func(r *bench.Run) float64 { return r.MBPerSec }))
			row := []cell{{Text: w}, {Text: g.engine}, {Text: mode}, {Text: fmt.Sprint(first.Threads)},
				{Text: opsText}, best, {Text: sig3(mbps)},
				{Text: formatUs(p50)},
				{Text: formatUs(median(g.each(func(r *bench.Run) float64 { return r.All.P99us })))},
				{Text: formatUs(median(g.each(func(r *bench.Run) float64 { return r.All.P999us })))},
				{Text: formatUs(maxUs)}, errCell}
			if p := r.Probe; p != nil {
				row = append(row, deviceCell(first, p, p50, mbps))
			}
			if withRes {
				row = append(row, resourceCells(g)...)
			}
			rows = append(rows, row)
		}
	}
	return header, rows
}

// deviceCell sets a run against the probed device.
func deviceCell(run *bench.Run, p *bench.Probe, p50, mbps float64) cell {
	durable := run.Sync || strings.Contains(run.Workload, "durable")
	switch {
	case durable && p.FdatasyncP50us > 0 && p50 > 0:
		return cell{Text: fmt.Sprintf("p50 %.2f× fdatasync", p50/p.FdatasyncP50us),
			Title: "median latency over the device's 4 KiB write + fdatasync p50 (" + formatUs(p.FdatasyncP50us) + ")"}
	case p.SeqWriteMBps > 0 && mbps > 0:
		return cell{Text: fmt.Sprintf("%.0f%% of seq. write", 100*mbps/p.SeqWriteMBps),
			Title: "value bytes per second over the device's sequential write bandwidth (" + sig3(p.SeqWriteMBps) + " MB/s)"}
	}
	return cell{Text: "-"}
}

// svgFont gives the plots' text a fallback: gonum names Liberation Sans
// only, and a browser without it would draw the labels in a serif face.
var svgFont = regexp.MustCompile(`font-family:(Liberation[^;"']*)`)

// svgImage renders a drawing as an SVG data URL sized for a laptop screen.
func svgImage(title string, d drawing) img {
	var buf bytes.Buffer
	if _, err := render(d, "svg").WriteTo(&buf); err != nil {
		// Writing to memory cannot fail; a drawing that does is a bug.
		panic(fmt.Sprintf("reports: render %s: %v", title, err))
	}
	b := svgFont.ReplaceAll(buf.Bytes(), []byte(`font-family:$1,Arial,Helvetica,sans-serif`))
	w, h := d.size()
	px := func(l float64) int { return int(math.Round(l * plotDPI / 72)) }
	return img{Title: title, Src: template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(b)),
		W: px(float64(w)), H: px(float64(h))}
}

// ---- checks

func newCheckRow(i int, c CheckResult, o HTMLOptions) checkRow {
	r := c.Result
	name := strings.TrimSuffix(filepath.Base(c.Path), ".json")
	// The file stem says the mode ("crash-block-shardstore-1"); the
	// checker, engine and seed are columns of their own.
	if stem, ok := strings.CutPrefix(name, r.Checker); ok {
		if mode, _, ok := strings.Cut(strings.TrimPrefix(stem, "-"), "-"); ok && (mode == "block" || mode == "kill") {
			name = r.Checker + " " + mode
		} else {
			name = r.Checker
		}
	}
	row := checkRow{ID: fmt.Sprintf("check-%d", i+1), Name: name, Path: relTo(o.Dir, c.Path), Verdict: string(r.Verdict), Class: verdictClass(string(r.Verdict)),
		Engine: r.Engine, Seeds: r.SeedLabel(), Cases: fmt.Sprint(r.Cases), Ops: fmt.Sprint(r.Ops),
		Elapsed: r.Elapsed.Round(time.Millisecond).String(), Rate: formatSI(r.OpsPerSec()), Reason: r.Reason}
	if engineName, _, _ := strings.Cut(r.Engine, ":"); engineName != "" {
		row.Engine = engineName
	}
	for _, v := range r.Violations {
		row.Violations = append(row.Violations, newViolation(c.Path, v, o))
	}
	return row
}

func newViolation(resultPath string, v checkers.Violation, o HTMLOptions) violation {
	out := violation{Summary: v.Summary, Expected: v.Expected, Actual: v.Actual, Replay: v.Replay, ReplayLabel: "replay"}
	for j, op := range v.Ops {
		out.Ops = append(out.Ops, opLine{N: j, Op: op, Failed: j == v.OpIndex})
	}
	switch {
	case v.NotReproduced != "":
		out.Note = "The replay did not reproduce the violation (" + v.NotReproduced + "): the ops are the case as it ran."
		out.ReplayLabel = "retry"
	case v.NotMinimized != "":
		out.Note = "Not minimized: " + v.NotMinimized
	case v.OriginalOps > len(v.Ops):
		out.Minimized = fmt.Sprintf("minimized from %d to %d ops", v.OriginalOps, len(v.Ops))
	}
	out.Trace = v.TraceFile
	if p := findTrace(resultPath, v.TraceFile); p != "" {
		out.TraceHref = href(o.Dir, p)
	}
	out.Visualization = v.Visualization
	if p := findTrace(resultPath, v.Visualization); p != "" {
		out.VisualizationHref = href(o.Dir, p)
	}
	return out
}

// ---- mutants

func newMutantsSection(i int, m MutantsResult) mutantsSection {
	r := m.Report
	s := mutantsSection{ID: fmt.Sprintf("mutants-%d", i+1), Path: m.Path, Trust: r.Trust, Command: r.Command,
		Heading: fmt.Sprintf("mutation score %s, commit %.12s, seed %d, budget %s", r.Combined, r.Commit, r.Seed, r.Budget)}
	s.Heatmap = svgImage("mutants heatmap", newHeatmap(r))
	for _, sc := range append(slices.Clone(r.Scores), r.Combined) {
		name := sc.Detector
		if name == "" {
			name = "combined"
		}
		s.Scores = append(s.Scores, kv{name, sc.String()})
	}
	for _, row := range r.Mutants {
		if row.Name == mutants.Baseline || row.Name == mutants.Canary || row.Outcome != mutants.Survived {
			continue
		}
		what := row.Wrong
		if what == "" {
			what = row.Diff
		}
		if row.Component != "" {
			what = row.Component + ": " + what
		}
		s.Survivors = append(s.Survivors, kv{row.Name, what})
	}
	return s
}

// ---- gate

func newGateSection(i int, g GateResult, o HTMLOptions) gateSection {
	gt := g.Gate
	var head strings.Builder
	gt.WriteHead(&head)
	kind := "Gate"
	if strings.HasPrefix(gt.Command, "harness nightly") {
		kind = "Checks"
	}
	s := gateSection{ID: fmt.Sprintf("gate-%d", i+1), Kind: kind, Path: relTo(o.Dir, g.Path), Verdict: gt.Verdict, Class: verdictClass(gt.Verdict),
		Command: gt.Command, Head: head.String(), Failures: gt.Failures,
		Heading: fmt.Sprintf("%s on %s, commit %.12s, %s", strings.ToLower(kind), gt.Engine, gt.Commit, gt.Elapsed.Round(time.Second))}
	for _, c := range gt.Checks {
		detail := c.Violation
		if detail == "" {
			detail = c.Why
		}
		gc := gateCheck{Detector: c.Detector, Outcome: c.Outcome, Class: verdictClass(c.Outcome), Cases: fmt.Sprint(c.Cases), Ops: fmt.Sprint(c.Ops),
			Elapsed: c.Elapsed.Round(time.Millisecond).String(), Detail: detail, Replay: c.Replay, Trace: c.Trace}
		if p := findTrace(g.Path, c.Trace); p != "" {
			gc.TraceHref = href(o.Dir, p)
		}
		s.Checks = append(s.Checks, gc)
	}
	return s
}

// noneIfEmpty joins names, or says "none".
func noneIfEmpty(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// resourceCells are a group's CPU per op, peak RSS and device read and
// write amplification (bench.Resources; medians, the peak the largest).
func resourceCells(g *group) []cell {
	var cpu, ra, wa []float64
	var peak int64
	io := false
	for _, run := range g.runs {
		if rs := run.Resources; rs != nil {
			cpu, ra, wa = append(cpu, rs.CPUUsPerOp), append(ra, rs.ReadAmplification), append(wa, rs.WriteAmplification)
			peak = max(peak, rs.RSSPeakBytes)
			io = io || rs.IOCounters
		}
	}
	if len(cpu) == 0 {
		return []cell{{Text: "-"}, {Text: "-"}, {Text: "-"}, {Text: "-"}}
	}
	amp := func(xs []float64, what string) cell {
		if x := median(xs); io && x > 0 {
			return cell{Text: sig3(x) + "×", Title: "device bytes " + what + " (/proc/self/io) over the value bytes the workload " + what}
		}
		return cell{Text: "-"}
	}
	return []cell{
		{Text: formatUs(median(cpu)), Title: "user and system CPU of the measured phase per op"},
		{Text: formatBytes(peak), Title: "peak VmRSS sampled over the measured phase"},
		amp(ra, "read"), amp(wa, "written"),
	}
}
