package reports

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/gauntlet-kv/gauntlet/bench"
)

// timelineSeries is one figure of per-second values of a workload's runs:
// value returns a second's figure and whether it has one.
type timelineSeries struct {
	name, title, axis string
	// want says whether a run has anything to draw: a figure whose runs
	// all have nothing (no errors, no reclaims) is not drawn.
	want  func(*bench.Run) bool
	value func(*bench.Run, bench.TimelinePoint) (float64, bool)
}

// timelineFigures draws, per workload, the per-second series s of every
// engine that has one: the failed ops, or a storage node's reclaimed
// bytes.
func timelineFigures(v *view, s timelineSeries) []figure {
	var figs []figure
	for _, w := range v.workloads {
		gs := v.workloadGroups(w)
		any := false
		for _, g := range gs {
			for _, r := range g.runs {
				any = any || s.want(r)
			}
		}
		if !any {
			continue
		}
		p := newPlot()
		p.Title.Text = s.title
		p.Y.Label.Text = s.axis
		p.X.Label.Text = "time (s)"
		p.Y.Tick.Marker = siTicks{}
		p.Y.Min = 0
		for _, g := range gs {
			ei := v.engineIndex(g.engine)
			var thumb plot.Thumbnailer
			for _, r := range g.runs {
				var xys plotter.XYs
				for _, pt := range r.Timeline {
					if y, ok := s.value(r, pt); ok {
						xys = append(xys, plotter.XY{X: float64(pt.Second), Y: y})
					}
				}
				sty := lineStyle(ei)
				if len(g.runs) > 1 {
					sty.Width = vg.Points(1.5)
				}
				if th := addSeries(p, xys, sty); th != nil {
					thumb = th
				}
			}
			if thumb != nil {
				p.Legend.Add(g.engine, thumb)
			}
		}
		figs = append(figs, figure{
			name:     s.name + "-" + slug(w),
			title:    fmt.Sprintf("%s%s: %s", w, loopNote(gs), s.title),
			subtitle: machine(v.r.Env),
			panels:   [][]*plot.Plot{{p}},
		})
	}
	return figs
}

// failedSeries is the ops that failed or missed, per second: an engine
// error or a lost record shows where it happened, not only in a total.
var failedSeries = timelineSeries{
	name: "failed", title: "ops failed (engine errors) and missed (loaded records not found) per second", axis: "ops",
	want: func(r *bench.Run) bool { return r.Errors+r.Misses > 0 },
	value: func(_ *bench.Run, pt bench.TimelinePoint) (float64, bool) {
		return float64(pt.Errors + pt.Misses), true
	},
}
