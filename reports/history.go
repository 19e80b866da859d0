package reports

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gauntlet-kv/gauntlet/bench"
)

// HistorySchema names the layout of HistoryRecord, one night of
// `harness nightly`; reports/schema/history.schema.json describes it.
const HistorySchema = "gauntlet.history/v1"

// HistoryFile is the history's default name: JSON Lines, one
// HistoryRecord a line, one line a night, oldest first.
const HistoryFile = "history.jsonl"

// NightFile is the record a night leaves in its own folder: the line it
// appended to the history, or, for a night cut short, the same record
// marked partial (which the history never holds).
const NightFile = "night.json"

// HistorySchemaJSON is the JSON Schema of HistoryRecord.
//
//go:embed schema/history.schema.json
var HistorySchemaJSON []byte

var historySchema = compileSchema("history.schema.json", HistorySchemaJSON)

// ValidateHistoryJSON checks that b is one night matching
// HistorySchemaJSON, as ValidateBenchJSON does for bench reports.
func ValidateHistoryJSON(b []byte) error {
	return validate(b, historySchema, "nightly record", "history.schema.json")
}

// HistoryRecord is one night: what ran, and the figures a trend needs.
type HistoryRecord struct {
	Schema  string         `json:"schema"`
	Date    time.Time      `json:"date"`
	Night   string         `json:"night"` // the night's folder, under nightly's --out
	Commit  string         `json:"commit"`
	Engine  string         `json:"engine"`
	Repeat  int            `json:"repeat"`
	Elapsed time.Duration  `json:"elapsed_ns"`
	Partial bool           `json:"partial,omitempty"`
	Reason  string         `json:"reason,omitempty"`
	Bench   []HistoryBench `json:"bench"`
	Checks  []HistoryCheck `json:"checks"`
	// MutationScore is the combined score in percent (-1: nothing
	// scored); nil when the night ran no mutants.
	MutationScore *float64 `json:"mutation_score,omitempty"`
	// Regressions are the figures significantly worse than the night
	// before (Mann-Whitney over the repetitions, as harness compare).
	Regressions []HistoryRegression `json:"regressions,omitempty"`
}

// HistoryBench is one engine × workload: medians over the repetitions.
type HistoryBench struct {
	Engine    string  `json:"engine"`
	Workload  string  `json:"workload"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P99us     float64 `json:"p99_us"`
	P999us    float64 `json:"p99_9_us"`
}

// HistoryCheck is one detector's verdict.
type HistoryCheck struct {
	Detector string `json:"detector"`
	Verdict  string `json:"verdict"` // pass, fail, timed-out, unknown
}

// HistoryRegression is one figure significantly worse than the night
// before.
type HistoryRegression struct {
	Engine   string  `json:"engine"`
	Workload string  `json:"workload"`
	Op       string  `json:"op"`
	Metric   string  `json:"metric"` // ops/s, p99, p99.9
	DeltaPct float64 `json:"delta_pct"`
	P        float64 `json:"p"`
}

// HistoryBenchOf is a bench report's engine × workload figures: the
// median of each over the repetitions that did not fail, in the order the
// report ran them.
func HistoryBenchOf(r *bench.Report) []HistoryBench {
	type key struct{ engine, workload string }
	var order []key
	runs := map[key][]bench.Run{}
	for _, run := range r.Runs {
		if run.Error != "" || run.Ops == 0 {
			continue
		}
		k := key{run.Engine, run.Workload}
		if _, ok := runs[k]; !ok {
			order = append(order, k)
		}
		runs[k] = append(runs[k], run)
	}
	out := make([]HistoryBench, 0, len(order))
	for _, k := range order {
		med := func(f func(bench.Run) float64) float64 {
			v := make([]float64, len(runs[k]))
			for i, run := range runs[k] {
				v[i] = f(run)
			}
			sort.Float64s(v)
			if n := len(v); n%2 == 0 {
				return (v[n/2-1] + v[n/2]) / 2
			}
			return v[len(v)/2]
		}
		out = append(out, HistoryBench{Engine: k.engine, Workload: k.workload,
			OpsPerSec: med(func(r bench.Run) float64 { return r.OpsPerSec }),
			P99us:     med(func(r bench.Run) float64 { return r.All.P99us }),
			P999us:    med(func(r bench.Run) float64 { return r.All.P999us })})
	}
	return out
}

// JSON is the record on one line, without its newline.
func (h HistoryRecord) JSON() ([]byte, error) { return json.Marshal(h) }

// HistoryError is a history file that cannot be read: a line in the
// middle that is not a night (corrupt, or of another layout). Its message
// is one line naming the file and the line.
type HistoryError struct {
	Path string
	Line int // 1-based; 0 for the file as a whole
	Err  error
}

func (e *HistoryError) Error() string {
	if e.Line == 0 {
		return e.Path + ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Err.Error())
}
func (e *HistoryError) Unwrap() error { return e.Err }

// History is a history file read: its complete nights, oldest first.
type History struct {
	Path    string
	Records []HistoryRecord
	// Warning is set when the last line was cut short (a write that never
	// finished: the harness's own appends are single writes, but a full
	// disk or a copy can cut one): the line is left out, and Warning names
	// the file and the line.
	Warning string
	// cut is the length of the complete lines, when the last is cut.
	cut int64
}

// ReadHistory reads the history file at path. A missing file is an
// empty history. A last line without its newline that is not a whole
// night is dropped with a Warning; any other line that is not a night of
// this layout is a *HistoryError naming the file and the line.
func ReadHistory(path string) (*History, error) {
	h := &History{Path: path, cut: -1}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return nil, &HistoryError{Path: path, Err: unwrapPathError(err)}
	}
	var off int64
	for n := 1; len(b) > 0; n++ {
		line, rest, complete := bytes.Cut(b, []byte{'\n'})
		b = rest
		start := off
		off += int64(len(line)) + 1
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec, err := decodeNight(line)
		if err != nil && !complete {
			h.Warning = fmt.Sprintf("%s:%d: last line cut short (%d bytes, no newline): left out; the next night's append drops it", path, n, len(line))
			h.cut = start
			break
		}
		if err != nil {
			return nil, &HistoryError{Path: path, Line: n, Err: fmt.Errorf("%v (a corrupt line in the middle: repair or remove that line)", err)}
		}
		h.Records = append(h.Records, rec)
	}
	return h, nil
}

// ReadNight reads a night's own record (NightFile).
func ReadNight(path string) (HistoryRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return HistoryRecord{}, &HistoryError{Path: path, Err: unwrapPathError(err)}
	}
	rec, err := decodeNight(b)
	if err != nil {
		return HistoryRecord{}, &HistoryError{Path: path, Err: err}
	}
	return rec, nil
}

func decodeNight(b []byte) (HistoryRecord, error) {
	var rec HistoryRecord
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return rec, fmt.Errorf("not JSON: %v", err)
	}
	switch {
	case head.Schema == nil:
		return rec, errors.New("no schema field: not a nightly record")
	case *head.Schema != HistorySchema:
		return rec, fmt.Errorf("schema %q is not one this harness reads (%s): a history of another harness version? start a new history file (--history)", *head.Schema, HistorySchema)
	}
	if err := ValidateHistoryJSON(b); err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, err
	}
	return rec, nil
}

// Append adds rec to the history file as one line: validated, then
// written with O_APPEND in a single write, so a reader never sees half a
// night and an interrupted night leaves the file as it was. A cut last
// line found by ReadHistory is dropped first (it could never be read), so
// the new line starts on a line of its own.
func (h *History) Append(rec HistoryRecord) error {
	if rec.Partial {
		panic("reports: a partial night appended to the history")
	}
	b, err := rec.JSON()
	if err != nil {
		return fmt.Errorf("history %s: encode: %w", h.Path, err)
	}
	if err := ValidateHistoryJSON(b); err != nil {
		return fmt.Errorf("history %s: the night does not match its schema (a bug): %w", h.Path, err)
	}
	if h.cut >= 0 {
		if err := os.Truncate(h.Path, h.cut); err != nil {
			return fmt.Errorf("history %s: drop the cut last line: %v", h.Path, unwrapPathError(err))
		}
		h.cut, h.Warning = -1, ""
	}
	f, err := os.OpenFile(h.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("history %s: %v (choose a writable --history)", h.Path, unwrapPathError(err))
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("history %s: append: %v", h.Path, unwrapPathError(err))
	}
	h.Records = append(h.Records, rec)
	return nil
}

// Last is the last n nights (all if fewer).
func (h *History) Last(n int) []HistoryRecord {
	if h == nil {
		return nil
	}
	return h.Records[max(0, len(h.Records)-n):]
}

// WriteTrendPlots writes the trend figure of recs (trends.png, .svg) in
// dir and returns the paths written.
func WriteTrendPlots(dir string, recs []HistoryRecord) ([]string, error) {
	f, ok := trendFigure(recs)
	if !ok {
		return nil, nil
	}
	var paths []string
	for _, ext := range []string{"png", "svg"} {
		p := dir + string(os.PathSeparator) + f.name + "." + ext
		if err := writeFigure(p, f, ext); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// trendFigure draws, for each workload, the median ops/s and p99 of every
// engine night by night, the nights on the x axis, and rings each point
// significantly worse than the night before. ok is false when no night
// has a bench figure.
func trendFigure(recs []HistoryRecord) (figure, bool) {
	var workloads, engines []string
	for _, r := range recs {
		for _, b := range r.Bench {
			if !slices.Contains(workloads, b.Workload) {
				workloads = append(workloads, b.Workload)
			}
			if !slices.Contains(engines, b.Engine) {
				engines = append(engines, b.Engine)
			}
		}
	}
	if len(workloads) == 0 {
		return figure{}, false
	}
	ticks := nightTicks(recs)
	var rows [][]*plot.Plot
	for _, w := range workloads {
		var row []*plot.Plot
		for _, m := range []struct {
			metric, axis string
			value        func(HistoryBench) float64
		}{
			{"ops/s", "ops/s (median)", func(b HistoryBench) float64 { return b.OpsPerSec }},
			{"p99", "p99 (µs, median)", func(b HistoryBench) float64 { return b.P99us }},
		} {
			p := newPlot()
			p.Title.Text = w + ": " + m.metric
			p.Y.Label.Text = m.axis
			p.X.Tick.Marker = ticks
			p.X.Min, p.X.Max = -0.5, float64(len(recs))-0.5
			p.Y.Min = 0
			var marks plotter.XYs
			for ei, e := range engines {
				var xys plotter.XYs
				for i, r := range recs {
					for _, b := range r.Bench {
						if b.Engine != e || b.Workload != w {
							continue
						}
						xys = append(xys, plotter.XY{X: float64(i), Y: m.value(b)})
						if regressed(r, e, w, m.metric) {
							marks = append(marks, plotter.XY{X: float64(i), Y: m.value(b)})
						}
					}
				}
				if len(xys) == 0 {
					continue
				}
				thumb := addSeries(p, xys, lineStyle(ei))
				p.Legend.Add(e, thumb)
			}
			if len(marks) > 0 {
				s, err := plotter.NewScatter(marks)
				if err == nil {
					s.GlyphStyle = draw.GlyphStyle{Color: color.RGBA{R: 0xd0, A: 0xff}, Radius: vg.Points(5), Shape: draw.CircleGlyph{}}
					p.Add(s)
					p.Legend.Add("worse than the night before", s)
				}
			}
			row = append(row, p)
		}
		rows = append(rows, row)
	}
	first, last := recs[0].Date.UTC().Format("2006-01-02"), recs[len(recs)-1].Date.UTC().Format("2006-01-02")
	return figure{name: "trends", title: fmt.Sprintf("Trends over %d nights (%s to %s)", len(recs), first, last),
		subtitle: "median of the repetitions each night; a ring: significantly worse than the night before (Mann-Whitney U)",
		panels:   rows, height: vg.Length(60 + 170*len(rows))}, true
}

// regressed says whether night r found engine's metric on workload
// significantly worse than the night before, for all ops together.
func regressed(r HistoryRecord, engine, workload, metric string) bool {
	return slices.ContainsFunc(r.Regressions, func(g HistoryRegression) bool {
		return g.Engine == engine && g.Workload == workload && g.Metric == metric && g.Op == "all"
	})
}

// nightTicks labels the x axis with each night's date, thinned to about
// ten labels.
func nightTicks(recs []HistoryRecord) plot.Ticker {
	step := max(1, (len(recs)+9)/10)
	var ts plot.ConstantTicks
	for i, r := range recs {
		t := plot.Tick{Value: float64(i)}
		if i%step == 0 || i == len(recs)-1 {
			t.Label = r.Date.UTC().Format("01-02 15h")
		}
		ts = append(ts, t)
	}
	return ts
}

// WriteTrendText prints the nights as a table: one line per night, the
// verdicts and, for each engine × workload, ops/s and p99.
func WriteTrendText(w io.Writer, recs []HistoryRecord) error {
	for _, r := range recs {
		pass := 0
		for _, c := range r.Checks {
			if c.Verdict == "pass" {
				pass++
			}
		}
		var figs []string
		for _, b := range r.Bench {
			figs = append(figs, fmt.Sprintf("%s/%s %.0f ops/s p99 %.0fµs", b.Engine, b.Workload, b.OpsPerSec, b.P99us))
		}
		fmt.Fprintf(w, "  %s %.12s checks %d/%d regressions %d  %s\n", r.Night, r.Commit, pass, len(r.Checks), len(r.Regressions), strings.Join(figs, ", "))
	}
	return nil
}
