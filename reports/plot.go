package reports

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gauntlet-kv/gauntlet/bench"
	stdfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure geometry. gonum measures in points (1/72 in); at plotDPI a figure
// of figureWidth × figureHeight points is 1200 × 800 pixels, and a 12 pt
// font is 16 px tall: readable on a laptop screen without zooming.
const (
	plotDPI                = 96
	figureWidth  vg.Length = 900
	figureHeight vg.Length = 600
)

// Font sizes, in points.
const (
	fontTitle  = 16
	fontSub    = 12
	fontPanel  = 13
	fontAxis   = 13
	fontTick   = 11
	fontLegend = 12
)

// palette is Tableau 10: distinguishable, and mostly colour-blind safe. An
// engine keeps its colour in every plot of a report.
var palette = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, // blue
	{0xf2, 0x8e, 0x2b, 0xff}, // orange
	{0xe1, 0x57, 0x59, 0xff}, // red
	{0x59, 0xa1, 0x4f, 0xff}, // green
	{0xb0, 0x7a, 0xa1, 0xff}, // purple
	{0x76, 0xb7, 0xb2, 0xff}, // teal
	{0x9c, 0x75, 0x5f, 0xff}, // brown
	{0xed, 0xc9, 0x48, 0xff}, // yellow
	{0xff, 0x9d, 0xa7, 0xff}, // pink
	{0xba, 0xb0, 0xac, 0xff}, // grey
}

func engineColor(i int) color.Color {
	if i < 0 {
		i = 0
	}
	return palette[i%len(palette)]
}

var (
	sans     = font.Font{Typeface: "Liberation", Variant: "Sans"}
	sansBold = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: stdfont.WeightBold}
)

func sized(f font.Font, pt float64) font.Font {
	f.Size = vg.Points(pt)
	return f
}

// WritePlots draws the report's plots into dir (created if need be), each
// as PNG and SVG, and returns the paths written, in order:
//
//   - latency-<workload>-<op>: latency by percentile, one line per engine.
//     Spectra passed in (SpectrumFromHistogram) give the full curve; an
//     engine without one falls back to the report's summary percentiles,
//     marked "(summary)" in the legend.
//   - throughput-<workload>: ops/s of every second of the measured phase,
//     and below it the p99 latency of every second; one line per run.
//   - engines-ops and engines-p99: every engine side by side, one panel per
//     workload: median ops/s, and median p99 latency over all op types.
//
// Names are the workload and op lower-cased, with anything but letters,
// digits, '.', '_' and '-' replaced by '-'. Spectra must be one per engine,
// workload and op (merge the repetitions' histograms first).
func WritePlots(dir string, r *bench.Report, spectra []Spectrum) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	figs, err := benchFigures(r, spectra)
	if err != nil {
		return nil, err
	}
	var written []string
	names := map[string]bool{}
	for _, f := range figs {
		base := f.name
		for i := 2; names[base]; i++ {
			base = fmt.Sprintf("%s-%d", f.name, i)
		}
		names[base] = true
		for _, ext := range []string{"png", "svg"} {
			path := filepath.Join(dir, base+"."+ext)
			if err := writeFigure(path, f, ext); err != nil {
				return written, err
			}
			written = append(written, path)
		}
	}
	return written, nil
}

// benchFigures are the figures of a bench report, in WritePlots' order.
func benchFigures(r *bench.Report, spectra []Spectrum) ([]figure, error) {
	v := newView(r)
	figs, err := latencyFigures(v, spectra)
	if err != nil {
		return nil, err
	}
	figs = append(figs, throughputFigures(v)...)
	figs = append(figs, timelineFigures(v, failedSeries)...)
	return append(figs, engineFigures(v)...), nil
}

// figure is one image: a title, a subtitle naming the machine, and a grid
// of panels.
type figure struct {
	name            string // file name without extension
	title, subtitle string
	panels          [][]*plot.Plot // rows of panels; nil leaves a cell empty
	height          vg.Length      // 0: figureHeight
}

func (f figure) size() (w, h vg.Length) {
	h = f.height
	if h == 0 {
		h = figureHeight
	}
	return figureWidth, h
}

func (f figure) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())

	pad := vg.Points(8)
	top := c.Max.Y - pad
	mid := (c.Min.X + c.Max.X) / 2
	for _, t := range []struct {
		s    string
		font font.Font
	}{{f.title, sized(sansBold, fontTitle)}, {f.subtitle, sized(sans, fontSub)}} {
		if t.s == "" {
			continue
		}
		sty := text.Style{Color: color.Black, Font: t.font, XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
		c.FillText(sty, vg.Point{X: mid, Y: top}, t.s)
		top -= sty.Height(t.s) + vg.Points(3)
	}
	body := draw.Crop(c, pad, -pad, pad, top-c.Max.Y-pad)
	rows := len(f.panels)
	cols := 0
	for _, row := range f.panels {
		cols = max(cols, len(row))
	}
	grid := make([][]*plot.Plot, rows)
	for i, row := range f.panels {
		grid[i] = make([]*plot.Plot, cols)
		copy(grid[i], row)
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(18), PadY: vg.Points(14)}
	cs := plot.Align(grid, tiles, body)
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(cs[i][j])
			}
		}
	}
}

// drawing is an image writeFigure renders: a figure of plots, or a
// drawing of its own (the mutants heatmap).
type drawing interface {
	size() (w, h vg.Length)
	draw(c draw.Canvas)
}

// writeFigure renders f as ext ("png" or "svg") to path, through a
// temporary file so a failed write never leaves half an image behind.
func writeFigure(path string, f drawing, ext string) error {
	out := render(f, ext)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	_, err = out.WriteTo(tmp)
	if err == nil {
		err = tmp.Chmod(0o644) // CreateTemp makes it private; plots are not
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	return nil
}

// render draws f as ext ("png" or "svg"), ready to be written.
func render(f drawing, ext string) io.WriterTo {
	w, h := f.size()
	switch ext {
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(plotDPI))
		f.draw(draw.New(c))
		return vgimg.PngCanvas{Canvas: c}
	case "svg":
		c := vgsvg.New(w, h)
		f.draw(draw.New(c))
		return c
	}
	panic("reports: unknown image format " + ext)
}

// newPlot is a plot with the package's fonts, a light grid and a legend at
// the top.
func newPlot() *plot.Plot {
	p := plot.New()
	p.Title.TextStyle.Font = sized(sansBold, fontPanel)
	p.Title.Padding = vg.Points(6)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sized(sans, fontAxis)
		a.Tick.Label.Font = sized(sans, fontTick)
		a.Padding = vg.Points(2)
	}
	p.Legend.TextStyle.Font = sized(sans, fontLegend)
	p.Legend.Top = true
	p.Legend.ThumbnailWidth = vg.Points(28)
	p.Legend.Padding = vg.Points(3)
	p.Legend.XOffs = -vg.Points(6)
	p.Legend.YOffs = -vg.Points(6)
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{0xe0}
	g.Horizontal.Color = color.Gray{0xe0}
	p.Add(g)
	return p
}

func lineStyle(engine int) draw.LineStyle {
	return draw.LineStyle{Color: engineColor(engine), Width: vg.Points(2)}
}

// ---- latency by percentile

// latencyFigures draws one figure per workload and op type.
func latencyFigures(v *view, spectra []Spectrum) ([]figure, error) {
	engines := slices.Clone(v.engines)
	type key struct{ workload, op, engine string }
	given := map[key]Spectrum{}
	workloads := slices.Clone(v.workloads)
	for _, s := range spectra {
		label := spectrumLabel(v, s.Engine)
		if !slices.Contains(engines, label) {
			engines = append(engines, label)
		}
		if !slices.Contains(workloads, s.Workload) {
			workloads = append(workloads, s.Workload)
		}
		k := key{s.Workload, s.Op, label}
		if _, dup := given[k]; dup {
			return nil, fmt.Errorf("reports: two latency spectra for %s on %s, op %s: merge the repetitions' histograms into one (hdrhistogram.Histogram.Merge)", s.Engine, s.Workload, s.Op)
		}
		given[k] = s
	}

	var figs []figure
	for _, w := range workloads {
		gs := v.workloadGroups(w)
		var ops []string
		for _, g := range gs {
			for _, run := range g.runs {
				for op := range run.ByOp {
					ops = append(ops, op)
				}
			}
		}
		for k := range given {
			if k.workload == w {
				ops = append(ops, k.op)
			}
		}
		if len(ops) == 0 && len(gs) > 0 {
			ops = append(ops, "all") // a runner that kept no per-op figures
		}
		slices.Sort(ops)
		ops = slices.Compact(ops)
		for _, op := range ops {
			var series []Spectrum
			for _, e := range engines {
				if s, ok := given[key{w, op, e}]; ok {
					s.Engine = e
					series = append(series, s)
					continue
				}
				g := v.byKey[[2]string{w, e}]
				if g == nil {
					continue
				}
				var sums []bench.OpSummary
				for _, run := range g.runs {
					if op == "all" && len(run.ByOp) == 0 {
						sums = append(sums, run.All)
					} else if o, ok := run.ByOp[op]; ok {
						sums = append(sums, o)
					}
				}
				if s := spectrumFromSummaries(e, w, op, sums); len(s.Points) > 0 {
					series = append(series, s)
				}
			}
			if len(series) == 0 {
				continue
			}
			p, err := latencyPlot(series, func(e string) int { return slices.Index(engines, e) })
			if err != nil {
				return nil, err
			}
			figs = append(figs, figure{
				name:     "latency-" + slug(w) + "-" + slug(op),
				title:    fmt.Sprintf("%s%s: %s latency by percentile", w, loopNote(v.workloadGroups(w)), op),
				subtitle: machine(v.r.Env),
				panels:   [][]*plot.Plot{{p}},
			})
		}
	}
	return figs, nil
}

// spectrumLabel finds the engine label of a spectrum's Engine, which may be
// a run's label, spec or engine name.
func spectrumLabel(v *view, name string) string {
	if slices.Contains(v.engines, name) {
		return name
	}
	for i, run := range v.r.Runs {
		if run.Spec == name {
			return v.labelOf[i]
		}
	}
	var found []string
	for i, run := range v.r.Runs {
		if run.Engine == name && !slices.Contains(found, v.labelOf[i]) {
			found = append(found, v.labelOf[i])
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return name
}

// loopNote says how latency was measured, which changes what it means:
// " (closed loop, 16 threads)" or " (open loop, 50k ops/s, 16 threads)".
func loopNote(gs []*group) string {
	var notes []string
	for _, g := range gs {
		for _, r := range g.runs {
			n := strings.Replace(r.Mode, "-", " ", 1)
			if r.Mode == "open-loop" && r.RateOpsPerSec > 0 {
				n += ", " + formatSI(r.RateOpsPerSec) + " ops/s"
			}
			n += fmt.Sprintf(", %d thread%s", r.Threads, plural(r.Threads))
			if r.Sync {
				n += ", sync"
			}
			if !slices.Contains(notes, n) {
				notes = append(notes, n)
			}
		}
	}
	if len(notes) != 1 || notes[0] == "" {
		return ""
	}
	return " (" + notes[0] + ")"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func latencyPlot(series []Spectrum, engineIndex func(string) int) (*plot.Plot, error) {
	p := newPlot()
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (µs)"
	p.X.Scale = plot.LogScale{}
	p.Legend.Left = true // the curves rise to the right: the top left is free
	p.Legend.XOffs = vg.Points(6)

	xMax, yMin, yMax := 10.0, math.Inf(1), 0.0
	for _, s := range series {
		for _, pt := range s.Points {
			xMax = max(xMax, inversePercentile(pt.Percentile))
			if pt.LatencyUs > 0 {
				yMin = min(yMin, pt.LatencyUs)
			}
			yMax = max(yMax, pt.LatencyUs)
		}
	}
	logY := yMax > 0 && yMax/yMin > 100
	p.X.Min, p.X.Max = 1, math.Pow(10, math.Ceil(math.Log10(xMax)-1e-9))
	p.X.Tick.Marker = plot.TickerFunc(percentileTicks)
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Min = math.Pow(10, math.Floor(math.Log10(yMin)))
		p.Y.Max = math.Pow(10, math.Ceil(math.Log10(yMax)))
		p.Y.Tick.Marker = plot.TickerFunc(logTicks)
	} else {
		p.Y.Min, p.Y.Max = 0, yMax*1.1
		p.Y.Tick.Marker = plainTicks{}
	}

	for _, s := range series {
		xys := make(plotter.XYs, 0, len(s.Points))
		for _, pt := range s.Points {
			if logY && pt.LatencyUs <= 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: inversePercentile(pt.Percentile), Y: pt.LatencyUs})
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("reports: latency of %s on %s, op %s: %w", s.Engine, s.Workload, s.Op, err)
		}
		l.LineStyle = lineStyle(engineIndex(s.Engine))
		name := s.Engine
		thumbs := []plot.Thumbnailer{l}
		p.Add(l)
		if s.coarse {
			// Few points: mark them, so nobody reads detail into the
			// straight segments between them.
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: l.LineStyle.Color, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
			p.Add(sc)
			thumbs = append(thumbs, sc)
			name += " (summary)"
		}
		p.Legend.Add(name, thumbs...)
	}
	return p, nil
}

// percentileTicks labels the 1/(1-p) axis by percentile: a major tick at
// each power of ten, 0%, 90%, 99%, 99.9%, ..., and unlabelled minor ticks
// between.
func percentileTicks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for d := 0; math.Pow10(d) <= hi*(1+1e-9); d++ {
		x := math.Pow10(d)
		ticks = append(ticks, plot.Tick{Value: x, Label: percentileLabel(d)})
		for m := 2; m < 10 && x*float64(m) < hi; m++ {
			ticks = append(ticks, plot.Tick{Value: x * float64(m)})
		}
	}
	return ticks
}

// percentileLabel is the percentile at 1/(1-p) = 10^d: d nines.
func percentileLabel(d int) string {
	switch d {
	case 0:
		return "0%"
	case 1:
		return "90%"
	case 2:
		return "99%"
	}
	return "99." + strings.Repeat("9", d-2) + "%"
}

// logTicks puts a labelled tick on every power of ten and minor ticks at
// 2 … 9 times it. Labels are plain numbers ("1,000", not "1e+03").
func logTicks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for d := math.Floor(math.Log10(lo)); math.Pow(10, d) <= hi*(1+1e-9); d++ {
		x := math.Pow(10, d)
		ticks = append(ticks, plot.Tick{Value: x, Label: formatPlain(x)})
		for m := 2; m < 10 && x*float64(m) < hi; m++ {
			ticks = append(ticks, plot.Tick{Value: x * float64(m)})
		}
	}
	return ticks
}

// siTicks are gonum's default linear ticks with labels like "250k".
type siTicks struct{}

func (siTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = trimZeros(formatSI(ticks[i].Value))
		}
	}
	return ticks
}

// plainTicks are gonum's default linear ticks labelled in full, "2,500":
// for latency in µs, where "2.5k µs" would be an odd unit.
type plainTicks struct{}

func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = formatPlain(ticks[i].Value)
		}
	}
	return ticks
}

// ---- throughput over time

// throughputFigures draws, per workload, ops/s and p99 latency of every
// second, one line per run: repetitions share their engine's colour.
func throughputFigures(v *view) []figure {
	var figs []figure
	for _, w := range v.workloads {
		gs := v.workloadGroups(w)
		top, bottom := newPlot(), newPlot()
		top.Title.Text = "throughput"
		top.Y.Label.Text = "ops/s"
		top.X.Label.Text = "time (s)"
		top.Y.Tick.Marker = siTicks{}
		bottom.Title.Text = "p99 latency of each second"
		bottom.Y.Label.Text = "p99 latency (µs)"
		bottom.X.Label.Text = "time (s)"

		var seen bool
		opsMax, latMin, latMax, secMax := 0.0, math.Inf(1), 0.0, 1.0
		var rates []float64
		for _, g := range gs {
			for _, r := range g.runs {
				if r.Mode == "open-loop" && r.RateOpsPerSec > 0 && !slices.Contains(rates, r.RateOpsPerSec) {
					rates = append(rates, r.RateOpsPerSec)
				}
				for _, pt := range r.Timeline {
					seen = true
					opsMax = max(opsMax, pt.OpsPerSec)
					secMax = max(secMax, float64(pt.Second))
					if pt.Ops > 0 && pt.P99us > 0 {
						latMin = min(latMin, pt.P99us)
						latMax = max(latMax, pt.P99us)
					}
				}
			}
		}
		if !seen {
			continue
		}
		for _, rate := range rates {
			opsMax = max(opsMax, rate)
		}
		// Headroom for the legend above the lines.
		top.Y.Min, top.Y.Max = 0, max(opsMax*1.3, 1)
		top.X.Min, top.X.Max = 0, secMax
		bottom.X.Min, bottom.X.Max = 0, secMax
		logY := latMax > 0 && latMax/latMin > 100
		if logY {
			bottom.Y.Scale = plot.LogScale{}
			bottom.Y.Min = math.Pow(10, math.Floor(math.Log10(latMin)))
			bottom.Y.Max = math.Pow(10, math.Ceil(math.Log10(latMax)))
			bottom.Y.Tick.Marker = plot.TickerFunc(logTicks)
		} else {
			bottom.Y.Min, bottom.Y.Max = 0, max(latMax*1.1, 1)
			bottom.Y.Tick.Marker = plainTicks{}
		}

		for _, rate := range rates {
			l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: rate}, {X: secMax, Y: rate}})
			if err != nil {
				continue
			}
			l.LineStyle = draw.LineStyle{Color: color.Gray{0x70}, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(6), vg.Points(4)}}
			top.Add(l)
			top.Legend.Add("target rate "+formatSI(rate)+" ops/s", l)
		}
		for _, g := range gs {
			ei := v.engineIndex(g.engine)
			var thumb plot.Thumbnailer
			for _, r := range g.runs {
				var ops, lat plotter.XYs
				for _, pt := range r.Timeline {
					if tailOnly(r, pt) {
						continue
					}
					ops = append(ops, plotter.XY{X: float64(pt.Second), Y: pt.OpsPerSec})
					// A second without ops has no latency: leave it out
					// rather than plot a zero.
					if pt.Ops > 0 && pt.P99us > 0 {
						lat = append(lat, plotter.XY{X: float64(pt.Second), Y: pt.P99us})
					}
				}
				sty := lineStyle(ei)
				if len(g.runs) > 1 {
					sty.Width = vg.Points(1.5)
				}
				if th := addSeries(top, ops, sty); th != nil {
					thumb = th
				}
				addSeries(bottom, lat, sty)
			}
			if thumb != nil {
				name := g.engine
				if n := len(g.runs); n > 1 {
					name = fmt.Sprintf("%s (%d runs)", name, n)
				}
				top.Legend.Add(name, thumb)
			}
		}
		figs = append(figs, figure{
			name:     "throughput-" + slug(w),
			title:    fmt.Sprintf("%s%s: throughput and p99 latency over time", w, loopNote(gs)),
			subtitle: machine(v.r.Env),
			panels:   [][]*plot.Plot{{top}, {bottom}},
			height:   figureHeight * 1.125,
		})
	}
	return figs
}

// ---- engines side by side

// engineFigures draws two figures of small multiples, one panel per
// workload with its own scale (a fill and a read-only workload differ by
// orders of magnitude): median ops/s, and median p99 latency.
func engineFigures(v *view) []figure {
	if len(v.groups) == 0 {
		return nil
	}
	reps := 0
	for _, g := range v.groups {
		reps = max(reps, len(g.runs))
	}
	note := ""
	if reps > 1 {
		note = "\nbars: median of the repetitions; whiskers: lowest to highest"
	}
	type metric struct {
		name, title, axis string
		value             func(*bench.Run) float64
		format            func(float64) string
		ticks             plot.Ticker
	}
	var figs []figure
	metrics := []metric{
		{"engines-ops", "throughput by engine", "ops/s", func(r *bench.Run) float64 { return r.OpsPerSec }, formatSI, siTicks{}},
		{"engines-p99", "p99 latency by engine (all op types)", "p99 latency (µs)", func(r *bench.Run) float64 { return r.All.P99us }, formatPlain, plainTicks{}},
	}
	if slices.ContainsFunc(v.r.Runs, func(r bench.Run) bool { return r.Resources != nil }) {
		res := func(f func(*bench.Resources) float64) func(*bench.Run) float64 {
			return func(r *bench.Run) float64 {
				if r.Resources == nil {
					return 0
				}
				return f(r.Resources)
			}
		}
		metrics = append(metrics,
			metric{"engines-cpu", "CPU per op by engine (user and system, measured phase)", "CPU per op (µs)", res(func(r *bench.Resources) float64 { return r.CPUUsPerOp }), formatPlain, plainTicks{}},
			metric{"engines-rss", "peak RSS by engine (measured phase)", "peak RSS (MiB)", res(func(r *bench.Resources) float64 { return float64(r.RSSPeakBytes) / (1 << 20) }), formatPlain, plainTicks{}},
			metric{"engines-write-amp", "write amplification by engine (device bytes written, /proc/self/io, over value bytes written)", "write amplification", res(func(r *bench.Resources) float64 { return r.WriteAmplification }), sig3, plainTicks{}})
	}
	for _, m := range metrics {
		n := len(v.workloads)
		cols := n
		if n > 3 {
			cols = int(math.Ceil(math.Sqrt(float64(n))))
		}
		rows := (n + cols - 1) / cols
		panels := make([][]*plot.Plot, rows)
		for i := range panels {
			panels[i] = make([]*plot.Plot, cols)
		}
		for wi, w := range v.workloads {
			p := barPanel(v, w, m.axis, m.value, m.format, wi == 0, cols)
			p.Y.Tick.Marker = m.ticks
			panels[wi/cols][wi%cols] = p
		}
		h := figureHeight
		if rows > 2 {
			h = figureHeight * vg.Length(rows) / 2
		}
		figs = append(figs, figure{
			name:     m.name,
			title:    m.title,
			subtitle: machine(v.r.Env) + note,
			panels:   panels,
			height:   h,
		})
	}
	return figs
}

// barPanel draws one workload's bars, one per engine, in a panel of a row
// of cols: a bar takes at most 70% of its slot of the panel's width, so
// four engines in three panels do not overlap.
func barPanel(v *view, w, axis string, value func(*bench.Run) float64, format func(float64) string, legend bool, cols int) *plot.Plot {
	p := newPlot()
	p.Title.Text = w + loopNote(v.workloadGroups(w))
	p.Y.Label.Text = axis
	gs := v.workloadGroups(w)
	var names []string
	var top float64
	// The panel's data area: its share of the figure, less the tiles'
	// padding and the y axis with its labels.
	area := (float64(figureWidth)-16-18*float64(max(cols, 1)-1))/float64(max(cols, 1)) - 70
	width := vg.Points(min(80, 0.7*area/float64(max(len(gs), 1))))
	for i, g := range gs {
		xs := g.each(value)
		med := median(xs)
		lo, hi := slices.Min(xs), slices.Max(xs)
		top = max(top, hi)
		names = append(names, g.engine)
		b, err := plotter.NewBarChart(plotter.Values{med}, width)
		if err != nil {
			continue
		}
		b.XMin = float64(i)
		b.Color = engineColor(v.engineIndex(g.engine))
		b.LineStyle.Width = 0
		p.Add(b)
		if legend {
			p.Legend.Add(g.engine, b)
		}
		if len(xs) > 1 {
			eb, err := plotter.NewYErrorBars(errorBar{x: float64(i), y: med, lo: med - lo, hi: hi - med})
			if err == nil {
				eb.LineStyle.Width = vg.Points(1.5)
				eb.CapWidth = width / 3
				p.Add(eb)
			}
		}
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: float64(i), Y: hi}}, Labels: []string{format(med)}})
		if err == nil {
			for j := range lb.TextStyle {
				lb.TextStyle[j].Font = sized(sans, fontTick)
				lb.TextStyle[j].XAlign = draw.XCenter
			}
			lb.Offset = vg.Point{Y: vg.Points(4)}
			p.Add(lb)
		}
	}
	// An engine with options ("badger:mode=vlog") is labelled on two lines,
	// name above options, so neighbouring labels do not run together.
	// Where the slots are narrower than a name, every other name goes a
	// line lower, so neighbours do not run into each other.
	sty := text.Style{Font: sized(sans, fontTick), Handler: plot.DefaultTextHandler}
	crowded := false
	for _, n := range names {
		crowded = crowded || float64(sty.Width(n)) > area/float64(max(len(names), 1))-4
	}
	ticks := make([]string, len(names))
	for i, n := range names {
		ticks[i] = strings.Replace(n, ":", "\n", 1)
		if crowded && i%2 == 1 {
			ticks[i] = "\n" + ticks[i]
		}
	}
	p.NominalX(ticks...)
	p.X.Tick.Label.Font = sized(sans, fontTick)
	p.X.Min, p.X.Max = -0.6, float64(len(names))-0.4
	// Headroom for the value labels, and for the legend (a line per
	// engine) in the panel that has it.
	head := 1.3
	if legend {
		head += 0.06 * float64(len(names))
	}
	p.Y.Min, p.Y.Max = 0, max(top*head, 1)
	return p
}

// errorBar is one whisker, from y-lo to y+hi.
type errorBar struct{ x, y, lo, hi float64 }

func (e errorBar) Len() int { return 1 }

// addSeries draws xys on p as a line in sty, and marks its points too when
// there are fewer than three (a run that ended within a second or two, a
// fill stopped by a full device: one point draws no line). It returns what
// the legend shows, or nil if there is nothing to draw.
func addSeries(p *plot.Plot, xys plotter.XYs, sty draw.LineStyle) plot.Thumbnailer {
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil
	}
	l.LineStyle = sty
	p.Add(l)
	if len(xys) >= 3 {
		return l
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return l
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: sty.Color, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
	p.Add(sc)
	return l
}

func (e errorBar) XY(int) (float64, float64)     { return e.x, e.y }
func (e errorBar) YError(int) (float64, float64) { return e.lo, e.hi }

// tailOnly reports whether pt is a run's last second and holds less than
// half a second of it: the ops still in flight at the deadline. Its rate over
// so short a window is noise, so the throughput plot leaves it out.
func tailOnly(r *bench.Run, pt bench.TimelinePoint) bool {
	return r.ElapsedSec > 0 && r.ElapsedSec-float64(pt.Second-1) < 0.5
}
