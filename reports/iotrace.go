package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/gauntlet-kv/gauntlet/engine/iotrace"
)

// WriteIOTracePlots draws one figure of an IO trace (engine/iotrace) into
// dir as iotrace.png and iotrace.svg: the IO size histogram, the IOs in
// flight over time, the seek distance distribution and the flush cadence
// (the gap before each flush, over time). name titles it; a trace in
// virtual time says so in the subtitle.
func WriteIOTracePlots(dir, name string, h iotrace.Header, recs []iotrace.Record) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	s := iotrace.Summarize(recs)
	clock := "wall-clock time"
	if h.Virtual {
		clock = "virtual time of a simulated device (simulated)"
	}
	sizes := histPanel("IO size (reads and writes)", "bytes (power-of-two bucket)", s.SizeHist[:], 0)
	seeks := histPanel("seek distance from the previous IO's end", "bytes (bucket 0: sequential)", s.SeekHist[:], 1)

	depth := newPlot()
	depth.Title.Text = "IOs in flight"
	depth.X.Label.Text = "seconds"
	var pts plotter.XYs
	for _, r := range recs {
		pts = append(pts, plotter.XY{X: r.Start.Seconds(), Y: float64(r.InFlight)})
	}
	if len(pts) > 0 {
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Radius = vg.Points(1)
		depth.Add(sc)
	}

	flush := newPlot()
	flush.Title.Text = "flush cadence: gap before each flush"
	flush.X.Label.Text = "seconds"
	flush.Y.Label.Text = "ms"
	var gaps plotter.XYs
	var last time.Duration = -1
	for _, r := range recs {
		if r.Op != iotrace.OpFlush {
			continue
		}
		if last >= 0 {
			gaps = append(gaps, plotter.XY{X: r.Start.Seconds(), Y: float64(r.Start-last) / 1e6})
		}
		last = r.Start
	}
	if len(gaps) > 0 {
		sc, err := plotter.NewScatter(gaps)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Radius = vg.Points(1)
		flush.Add(sc)
	}
	parts, err := partsPanel(s)
	if err != nil {
		return nil, err
	}
	depth.Y.Label.Text = "IOs at the device"
	f := figure{name: "iotrace", title: name + ": device IO",
		subtitle: fmt.Sprintf("%d reads, %d writes, %d flushes over %v of %s", s.Reads, s.Writes, s.Flushes, s.Span.Round(time.Millisecond), clock),
		panels:   [][]*plot.Plot{{sizes, seeks}, {depth, flush}, {parts, sourcesPanel(s)}}, height: 3 * figureHeight}
	var written []string
	for _, ext := range []string{"png", "svg"} {
		path := filepath.Join(dir, "iotrace."+ext)
		if err := writeFigure(path, f, ext); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

// partsPanel is the latency breakdown of the writes of each source:
// grouped bars of the mean dependency wait, queue and device time.
func partsPanel(s iotrace.Summary) (*plot.Plot, error) {
	p := newPlot()
	p.Title.Text = "write latency by source: mean per write"
	p.Y.Label.Text = "ms"
	var names []string
	var dw, sq, q, d plotter.Values
	for _, src := range iotrace.Sources {
		pt := s.Parts[src]
		if pt.Writes == 0 {
			continue
		}
		a, b, c, e := pt.Mean()
		names = append(names, src.String())
		dw, sq, q, d = append(dw, ms(a)), append(sq, ms(b)), append(q, ms(c)), append(d, ms(e))
	}
	if len(names) == 0 {
		return p, nil
	}
	w := vg.Points(12)
	for i, series := range []struct {
		name string
		v    plotter.Values
	}{{"dependency wait", dw}, {"scheduler queue", sq}, {"device queue", q}, {"device", d}} {
		bars, err := plotter.NewBarChart(series.v, w)
		if err != nil {
			return nil, err
		}
		bars.Offset = w * (vg.Length(i) - 1.5)
		bars.Color = palette[i%len(palette)]
		bars.LineStyle.Width = 0
		p.Add(bars)
		p.Legend.Add(series.name, bars)
	}
	p.NominalX(names...)
	return p, nil
}

// sourcesPanel counts the writes of each source.
func sourcesPanel(s iotrace.Summary) *plot.Plot {
	p := newPlot()
	p.Title.Text = "writes by source"
	p.Y.Label.Text = "writes"
	var names []string
	var n plotter.Values
	for _, src := range iotrace.Sources {
		if pt := s.Parts[src]; pt.Writes > 0 {
			names = append(names, src.String())
			n = append(n, float64(pt.Writes))
		}
	}
	if len(n) == 0 {
		return p
	}
	if bars, err := plotter.NewBarChart(n, vg.Points(14)); err == nil {
		p.Add(bars)
		p.NominalX(names...)
	}
	return p
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// histPanel is a bar chart of power-of-two buckets (the first shift
// buckets are special: bucket 0 of seeks is distance 0), from the first
// non-empty bucket to the last.
func histPanel(title, axis string, counts []int, shift int) *plot.Plot {
	p := newPlot()
	p.Title.Text = title
	p.X.Label.Text = axis
	p.Y.Label.Text = "IOs"
	lo, hi := -1, -1
	for i, n := range counts {
		if n > 0 {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	if lo < 0 {
		return p
	}
	var vals plotter.Values
	var names []string
	for i := lo; i <= hi; i++ {
		vals = append(vals, float64(counts[i]))
		switch {
		case i < shift:
			names = append(names, "0")
		default:
			names = append(names, sizeLabel(i-shift))
		}
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(10))
	if err != nil {
		return p
	}
	p.Add(bars)
	p.NominalX(names...)
	return p
}

func sizeLabel(k int) string {
	n := uint64(1) << k
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%dG", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprint(n)
}
