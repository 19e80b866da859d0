package reports

import (
	"fmt"
	"image/color"
	"path/filepath"

	"github.com/gauntlet-kv/gauntlet/mutants"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// outcomeColors colour a mutants matrix: killed green, survived red (what
// a reader must see first), the outcomes scored apart in muted tones.
var outcomeColors = map[mutants.Outcome]color.RGBA{
	mutants.Killed:     {0x59, 0xa1, 0x4f, 0xff},
	mutants.Survived:   {0xe1, 0x57, 0x59, 0xff},
	mutants.TimedOut:   {0xf2, 0x8e, 0x2b, 0xff},
	mutants.Unknown:    {0xed, 0xc9, 0x48, 0xff},
	mutants.Waits:      {0x76, 0xb7, 0xb2, 0xff},
	mutants.NotCovered: {0xba, 0xb0, 0xac, 0xff},
	mutants.NotViable:  {0xdd, 0xdd, 0xdd, 0xff},
	mutants.NotRun:     {0xf0, 0xf0, 0xf0, 0xff},
}

// baselinePass colours the unmutated engine's passes.
var baselinePass = color.RGBA{0xc9, 0xe4, 0xc5, 0xff}

// heatmap is a mutants matrix as an image: a row per mutant, a column per
// detector, and the scores under their columns.
type heatmap struct {
	r      *mutants.Report
	labels []string  // the rows' names as drawn
	labelW vg.Length // the label column: the longest label, at least heatLabel
}

// newHeatmap lays out r's matrix: the label column is as wide as the
// longest name (an AST mutant's names a file, a line and an operator).
func newHeatmap(r *mutants.Report) heatmap {
	h := heatmap{r: r, labelW: heatLabel}
	sty := text.Style{Font: sized(sans, fontTick), Handler: plot.DefaultTextHandler}
	for _, row := range r.Mutants {
		name := row.Name
		switch name {
		case mutants.Baseline:
			name += " (baseline: must pass)"
		case mutants.Canary:
			name += " (must be killed)"
		}
		h.labels = append(h.labels, name)
		h.labelW = max(h.labelW, sty.Width(name)+20)
	}
	return h
}

// Heatmap geometry, in points.
const (
	heatRow    vg.Length = 16
	heatCol    vg.Length = 92
	heatLabel  vg.Length = 230
	heatHeader vg.Length = 70
	heatFooter vg.Length = 60
)

func (h heatmap) size() (w, ht vg.Length) {
	w = max(h.labelW+heatCol*vg.Length(len(h.r.Detectors)+1)+16, 500)
	return w, heatHeader + heatRow*vg.Length(len(h.r.Mutants)) + heatFooter
}

func (h heatmap) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	style := func(f fontSpec, xa draw.XAlignment) text.Style {
		return text.Style{Color: color.Black, Font: sized(f.font, f.pt), XAlign: xa, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler}
	}
	top := c.Max.Y - 14
	title := fmt.Sprintf("mutation score %s", h.r.Combined)
	c.FillText(style(fontSpec{sansBold, fontTitle}, draw.XLeft), vg.Point{X: c.Min.X + 8, Y: top}, title)
	sub := fmt.Sprintf("commit %.12s, seed %d, budget %s; K n: killed after n cases", h.r.Commit, h.r.Seed, h.r.Budget)
	if h.r.Trust != "" {
		sub = "NOT TRUSTWORTHY: " + h.r.Trust
	}
	c.FillText(style(fontSpec{sans, fontTick}, draw.XLeft), vg.Point{X: c.Min.X + 8, Y: top - 20}, sub)
	y0 := c.Max.Y - heatHeader
	cols := append(append([]string(nil), h.r.Detectors...), "combined")
	for j, d := range cols {
		x := c.Min.X + h.labelW + heatCol*vg.Length(j) + heatCol/2
		c.FillText(style(fontSpec{sansBold, fontTick}, draw.XCenter), vg.Point{X: x, Y: y0 + 10}, d)
	}
	cellStyle := style(fontSpec{sans, fontTick - 1}, draw.XCenter)
	for i, row := range h.r.Mutants {
		y := y0 - heatRow*vg.Length(i)
		c.FillText(style(fontSpec{sans, fontTick}, draw.XLeft), vg.Point{X: c.Min.X + 8, Y: y - heatRow/2}, h.labels[i])
		cells := append(append([]mutants.Cell(nil), row.Cells...), mutants.Cell{Outcome: row.Outcome})
		for j, cell := range cells {
			x := c.Min.X + h.labelW + heatCol*vg.Length(j)
			r := vg.Rectangle{Min: vg.Point{X: x + 1, Y: y - heatRow + 1}, Max: vg.Point{X: x + heatCol - 1, Y: y - 1}}
			col, label := outcomeColors[cell.Outcome], string(cell.Outcome)
			if row.Name == mutants.Baseline && cell.Outcome == mutants.Survived {
				// The unmutated engine passing is the good outcome.
				col, label = baselinePass, "pass"
			}
			c.SetColor(col)
			c.Fill(r.Path())
			if cell.Outcome == mutants.Killed && j < len(row.Cells) {
				label = fmt.Sprintf("K %d", cell.Cases)
			}
			c.FillText(cellStyle, vg.Point{X: x + heatCol/2, Y: y - heatRow/2}, label)
		}
	}
	yf := y0 - heatRow*vg.Length(len(h.r.Mutants)) - 16
	c.FillText(style(fontSpec{sansBold, fontTick}, draw.XLeft), vg.Point{X: c.Min.X + 8, Y: yf}, "score")
	scores := append(append([]mutants.Score(nil), h.r.Scores...), h.r.Combined)
	for j, s := range scores {
		x := c.Min.X + h.labelW + heatCol*vg.Length(j) + heatCol/2
		label := "-"
		if p := s.Percent(); p >= 0 {
			label = fmt.Sprintf("%d/%d", s.Killed, s.Killed+s.Survived)
		}
		c.FillText(style(fontSpec{sansBold, fontTick}, draw.XCenter), vg.Point{X: x, Y: yf}, label)
	}
}

type fontSpec struct {
	font font.Font
	pt   float64
}

// WriteMutantsHeatmap draws r's matrix as mutants.png and mutants.svg in
// dir and returns their paths.
func WriteMutantsHeatmap(dir string, r *mutants.Report) ([]string, error) {
	var paths []string
	for _, ext := range []string{"png", "svg"} {
		path := filepath.Join(dir, "mutants."+ext)
		if err := writeFigure(path, newHeatmap(r), ext); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
