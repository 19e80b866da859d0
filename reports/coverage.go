package reports

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gauntlet-kv/gauntlet/coverage"
	"github.com/gauntlet-kv/gauntlet/engine"
)

// Colours of the coverage figures: a cell never reached, reached (darker
// the more often, on a log scale), and reached by a failing case.
var (
	covNever = color.RGBA{0xee, 0xee, 0xee, 0xff}
	covFound = color.RGBA{0xe1, 0x57, 0x59, 0xff}
)

// covShade is a green from light (reached once) to dark (reached max
// times or more).
func covShade(n, maxN int64) color.Color {
	f := 1.0
	if maxN > 1 {
		f = math.Log1p(float64(n)) / math.Log1p(float64(maxN))
	}
	lerp := func(a, b uint8) uint8 { return uint8(float64(a) + (float64(b)-float64(a))*f) }
	return color.RGBA{lerp(0xc9, 0x2c), lerp(0xe4, 0x7f), lerp(0xc5, 0x3a), 0xff}
}

// Coverage figure geometry, in points.
const (
	covRow    vg.Length = 16
	covCol    vg.Length = 96
	covLabel  vg.Length = 240
	covHeader vg.Length = 60
)

func covText(f fontSpec, xa draw.XAlignment) text.Style {
	return text.Style{Color: color.Black, Font: sized(f.font, f.pt), XAlign: xa, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler}
}

// faultHeatmap is the fault-space matrix of each checker: a row per
// checker and fault, a column per engine phase, each cell the times a
// fault of that kind hit in that phase (all ops summed).
type faultHeatmap struct{ d *coverage.Doc }

func (h faultHeatmap) size() (w, ht vg.Length) {
	rows := len(h.d.Checkers) * (len(coverage.Faults()) + 1)
	return covLabel + covCol*vg.Length(len(engine.Phases())) + 16, covHeader + covRow*vg.Length(rows) + 20
}

func (h faultHeatmap) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	top := c.Max.Y - 14
	c.FillText(covText(fontSpec{sansBold, fontTitle}, draw.XLeft), vg.Point{X: c.Min.X + 8, Y: top}, "fault-space coverage: fault × engine phase")
	c.FillText(covText(fontSpec{sans, fontTick}, draw.XLeft), vg.Point{X: c.Min.X + 8, Y: top - 18},
		fmt.Sprintf("%s; times hit, all ops; grey never, red: a failing case hit it", h.d.Engine))
	y := c.Max.Y - covHeader
	for j, p := range engine.Phases() {
		x := c.Min.X + covLabel + covCol*vg.Length(j) + covCol/2
		c.FillText(covText(fontSpec{sansBold, fontTick}, draw.XCenter), vg.Point{X: x, Y: y + 8}, string(p))
	}
	cell := covText(fontSpec{sans, fontTick - 1}, draw.XCenter)
	for _, ch := range h.d.Checkers {
		name := ch.Checker
		if ch.Mode != "" {
			name += " " + ch.Mode
		}
		if ch.Faults {
			name += " --faults"
		}
		c.FillText(covText(fontSpec{sansBold, fontTick}, draw.XLeft), vg.Point{X: c.Min.X + 8, Y: y - covRow/2}, name)
		y -= covRow
		m := ch.Coverage.Matrix()
		found := map[[2]string]bool{}
		if ch.Coverage != nil {
			for _, cc := range ch.Coverage.Cells {
				if cc.Found > 0 {
					found[[2]string{string(cc.Fault), string(cc.Phase)}] = true
				}
			}
		}
		var maxN int64
		for _, row := range m {
			for _, n := range row {
				maxN = max(maxN, n)
			}
		}
		for i, f := range coverage.Faults() {
			c.FillText(covText(fontSpec{sans, fontTick}, draw.XLeft), vg.Point{X: c.Min.X + 24, Y: y - covRow/2}, string(f))
			for j, p := range engine.Phases() {
				x := c.Min.X + covLabel + covCol*vg.Length(j)
				r := vg.Rectangle{Min: vg.Point{X: x + 1, Y: y - covRow + 1}, Max: vg.Point{X: x + covCol - 1, Y: y - 1}}
				n := m[i][j]
				col, label := color.Color(covNever), "-"
				switch {
				case found[[2]string{string(f), string(p)}]:
					col, label = covFound, fmt.Sprint(n)
				case n > 0:
					col, label = covShade(n, maxN), fmt.Sprint(n)
				}
				c.SetColor(col)
				c.Fill(r.Path())
				c.FillText(cell, vg.Point{X: x + covCol/2, Y: y - covRow/2}, label)
			}
			y -= covRow
		}
	}
}

// eventBars is a bar per checker for each event: how often each checker
// reached it (log scale; an empty row is an event nobody reached).
type eventBars struct {
	d      *coverage.Doc
	events []engine.Event
}

func newEventBars(d *coverage.Doc) eventBars {
	seen := map[engine.Event]bool{}
	var evs []engine.Event
	add := func(e engine.Event) {
		if !seen[e] {
			seen[e] = true
			evs = append(evs, e)
		}
	}
	for _, e := range engine.Events() {
		add(e)
	}
	for _, ch := range d.Checkers {
		for _, e := range ch.NeverEvents {
			add(e)
		}
		if ch.Coverage != nil {
			for _, e := range sortedEvents(ch.Coverage.Events) {
				add(e)
			}
		}
	}
	return eventBars{d: d, events: evs}
}

func sortedEvents(m map[engine.Event]int64) []engine.Event {
	var out []engine.Event
	for e := range m {
		out = append(out, e)
	}
	slicesSortEvents(out)
	return out
}

const (
	barRow   vg.Length = 12
	barWidth vg.Length = 360
)

func (b eventBars) size() (w, h vg.Length) {
	n := len(b.d.Checkers)
	return covLabel + barWidth + 80, covHeader + vg.Length(len(b.events))*(barRow*vg.Length(n)+6) + 20
}

func (b eventBars) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	top := c.Max.Y - 14
	c.FillText(covText(fontSpec{sansBold, fontTitle}, draw.XLeft), vg.Point{X: c.Min.X + 8, Y: top}, "engine events reached, per checker")
	legend := b.d.Engine + "; times reached (log scale):"
	for i, ch := range b.d.Checkers {
		legend += fmt.Sprintf("  %d %s", i+1, ch.Checker)
	}
	c.FillText(covText(fontSpec{sans, fontTick}, draw.XLeft), vg.Point{X: c.Min.X + 8, Y: top - 18}, legend)
	var maxN int64 = 1
	for _, ch := range b.d.Checkers {
		if ch.Coverage != nil {
			for _, n := range ch.Coverage.Events {
				maxN = max(maxN, n)
			}
		}
	}
	y := c.Max.Y - covHeader
	small := covText(fontSpec{sans, fontTick - 2}, draw.XLeft)
	for _, ev := range b.events {
		h := barRow * vg.Length(len(b.d.Checkers))
		c.FillText(covText(fontSpec{sans, fontTick}, draw.XLeft), vg.Point{X: c.Min.X + 8, Y: y - h/2}, string(ev))
		for i, ch := range b.d.Checkers {
			var n int64
			if ch.Coverage != nil {
				n = ch.Coverage.Events[ev]
			}
			x0 := c.Min.X + covLabel
			yy := y - barRow*vg.Length(i)
			w := vg.Length(0)
			if n > 0 {
				w = barWidth * vg.Length(math.Log1p(float64(n))/math.Log1p(float64(maxN)))
			}
			c.SetColor(engineColor(i))
			if w > 0 {
				c.Fill(vg.Rectangle{Min: vg.Point{X: x0, Y: yy - barRow + 2}, Max: vg.Point{X: x0 + w, Y: yy - 1}}.Path())
			}
			label := fmt.Sprintf("%d: %d", i+1, n)
			if n == 0 {
				label = fmt.Sprintf("%d: never", i+1)
			}
			c.FillText(small, vg.Point{X: x0 + w + 4, Y: yy - barRow/2}, label)
		}
		y -= h + 6
	}
}

// WriteCoveragePlots draws d's fault-space matrix (coverage-faults) and
// its events per checker (coverage-events) as PNG and SVG in dir, and
// returns their paths.
func WriteCoveragePlots(dir string, d *coverage.Doc) ([]string, error) {
	var paths []string
	for _, fig := range []struct {
		name string
		f    drawing
	}{{"coverage-faults", faultHeatmap{d}}, {"coverage-events", newEventBars(d)}} {
		for _, ext := range []string{"png", "svg"} {
			path := filepath.Join(dir, fig.name+"."+ext)
			if err := writeFigure(path, fig.f, ext); err != nil {
				return paths, err
			}
			paths = append(paths, path)
		}
	}
	return paths, nil
}

func slicesSortEvents(es []engine.Event) { slices.Sort(es) }
