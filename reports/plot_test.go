package reports

import (
	"bytes"
	"image"
	_ "image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/gauntlet-kv/gauntlet/bench"
)

// plotDir, when set, is where TestWritePlots leaves its images, to look at:
// GAUNTLET_PLOT_DIR=/tmp/plots go test ./reports -run WritePlots
var plotDir = os.Getenv("GAUNTLET_PLOT_DIR")

func TestWritePlots(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reps    int
		spectra bool
	}{
		{"summary", 1, false},
		{"spectra", 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testReport(tc.reps)
			var spectra []Spectrum
			if tc.spectra {
				spectra = testSpectra(t)
			}
			dir := t.TempDir()
			if plotDir != "" {
				dir = filepath.Join(plotDir, tc.name)
			}
			files, err := WritePlots(dir, r, spectra)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range files {
				names = append(names, filepath.Base(f))
			}
			want := []string{
				"latency-ycsb-a-read", "latency-ycsb-a-update", "latency-fill-64k-insert",
				"throughput-ycsb-a", "throughput-fill-64k", "engines-ops", "engines-p99",
			}
			var wantFiles []string
			for _, w := range want {
				wantFiles = append(wantFiles, w+".png", w+".svg")
			}
			if !slices.Equal(names, wantFiles) {
				t.Errorf("files written:\n%v\nwant\n%v", names, wantFiles)
			}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				switch filepath.Ext(f) {
				case ".png":
					cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
					if err != nil || format != "png" {
						t.Errorf("%s: not a PNG: %v", f, err)
						continue
					}
					wantH := 800
					if strings.HasPrefix(filepath.Base(f), "throughput-") {
						wantH = 900
					}
					if cfg.Width != 1200 || cfg.Height != wantH {
						t.Errorf("%s: %d×%d px, want 1200×%d", f, cfg.Width, cfg.Height, wantH)
					}
				case ".svg":
					if !bytes.HasPrefix(b, []byte("<?xml")) && !bytes.HasPrefix(b, []byte("<svg")) {
						t.Errorf("%s: does not start like SVG: %.40q", f, b)
					}
					if !bytes.Contains(b, []byte("</svg>")) {
						t.Errorf("%s: SVG not closed", f)
					}
				}
			}
		})
	}
}

// testSpectra records made-up latencies for every engine, workload and op
// of testReport into histograms, as the runner does.
func testSpectra(t *testing.T) []Spectrum {
	rng := rand.New(rand.NewPCG(3, 4))
	var out []Spectrum
	for _, c := range []struct {
		engine, workload, op string
		medianNs             float64
	}{
		{"shardstore", "ycsb-a", "read", 18e3}, {"pebble", "ycsb-a", "read", 31e3},
		// No spectrum for pebble's updates: that line falls back to the
		// report's summary percentiles.
		{"shardstore", "ycsb-a", "update", 27e3},
		{"shardstore:cache=64MiB", "fill-64k", "insert", 480e3}, {"pebble", "fill-64k", "insert", 390e3},
	} {
		h := hdrhistogram.New(1, 600e9, 3)
		for range 200000 {
			// Log-normal body with a rare slow tail, like a real device.
			v := c.medianNs * rng.ExpFloat64() * 0.7
			if rng.IntN(1000) == 0 {
				v *= 30
			}
			if err := h.RecordValue(int64(v) + 1000); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, SpectrumFromHistogram(h, c.engine, c.workload, c.op))
	}
	return out
}

// TestWritePlotsFailed: a run with errors or misses gets a figure of them
// per second; runs without get none (TestWritePlots).
func TestWritePlotsFailed(t *testing.T) {
	r := testReport(1)
	run := &r.Runs[0]
	run.Errors, run.Misses = 3, 4
	run.Timeline[0].Errors, run.Timeline[0].Misses = 3, 4
	files, err := WritePlots(t.TempDir(), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, f := range files {
		found = found || filepath.Base(f) == "failed-"+slug(run.Workload)+".png"
	}
	if !found {
		t.Errorf("no failed-%s.png among %v", slug(run.Workload), files)
	}
}

func TestSpectrumFromHistogram(t *testing.T) {
	h := hdrhistogram.New(1, 1e9, 3)
	for i := int64(1); i <= 10000; i++ {
		if err := h.RecordValue(i * 1000); err != nil { // 1 µs … 10 ms
			t.Fatal(err)
		}
	}
	s := SpectrumFromHistogram(h, "pebble", "ycsb-a", "read")
	if len(s.Points) < 50 {
		t.Fatalf("%d points, want a smooth curve", len(s.Points))
	}
	for i := 1; i < len(s.Points); i++ {
		a, b := s.Points[i-1], s.Points[i]
		if b.Percentile <= a.Percentile || b.LatencyUs < a.LatencyUs {
			t.Fatalf("points %d, %d not increasing: %+v %+v", i-1, i, a, b)
		}
	}
	last := s.Points[len(s.Points)-1]
	if last.Percentile != 99.99 || last.LatencyUs < 9990 || last.LatencyUs > 10010 {
		t.Errorf("last point %+v, want the max (10,000 µs) at the last sample's percentile, 99.99", last)
	}
	if got := SpectrumFromHistogram(hdrhistogram.New(1, 1e9, 3), "e", "w", "o"); len(got.Points) != 0 {
		t.Errorf("empty histogram gave %d points", len(got.Points))
	}
}

func TestWritePlotsDuplicateSpectra(t *testing.T) {
	s := Spectrum{Engine: "pebble", Workload: "ycsb-a", Op: "read", Points: []SpectrumPoint{{50, 10}}}
	_, err := WritePlots(t.TempDir(), testReport(1), []Spectrum{s, s})
	if err == nil || !strings.Contains(err.Error(), "Merge") {
		t.Errorf("got %v, want an error saying to merge", err)
	}
}

func TestPercentileTicks(t *testing.T) {
	var labels []string
	for _, tk := range percentileTicks(1, 1e5) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	want := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}
	if !slices.Equal(labels, want) {
		t.Errorf("labels %v, want %v", labels, want)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"ycsb-a": "ycsb-a", "Fill 64k": "fill-64k", "read=90,update=10": "read-90-update-10",
		"traces/x.trace": "traces-x.trace", "???": "x",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWritePlotsDegenerate feeds the plots what an interrupted or failing
// run leaves behind: no ops, zero latencies, an empty second, a spectrum for
// an engine the report does not have. They must draw (or skip), not fail.
func TestWritePlotsDegenerate(t *testing.T) {
	r := testReport(1)
	r.Runs = r.Runs[:2]
	r.Runs[0].Ops, r.Runs[0].OpsPerSec, r.Runs[0].All, r.Runs[0].ByOp = 0, 0, bench.OpSummary{}, nil
	r.Runs[0].Timeline = []bench.TimelinePoint{{Second: 1}}
	r.Runs[0].Error = "disk full"
	r.Runs[1].Timeline = nil
	r.Env = bench.Env{}
	extra := Spectrum{Engine: "badger", Workload: "ycsb-a", Op: "read", Points: []SpectrumPoint{{0, 3}, {50, 10}, {99, 80}}}
	dir := t.TempDir()
	if plotDir != "" {
		dir = filepath.Join(plotDir, "degenerate")
	}
	files, err := WritePlots(dir, r, []Spectrum{extra})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no plots")
	}
	if files, err := WritePlots(t.TempDir(), &bench.Report{Schema: bench.SchemaVersion}, nil); err != nil || len(files) != 0 {
		t.Errorf("empty report: %v, %v; want no files, no error", files, err)
	}
}

// TestTimelineSinglePointDrawn: a run with one second of timeline (a fill
// that stopped at a full device after 1.2 s) still shows on the
// throughput plot: one point draws no line, so it is marked. Counted as
// pixels of the engine's colour in the middle of the figure, away from
// the legend.
func TestTimelineSinglePointDrawn(t *testing.T) {
	r := testReport(1)
	var run bench.Run
	for _, x := range r.Runs {
		if x.Workload == "fill-64k" && x.Engine == "shardstore" {
			run = x
		}
	}
	run.ElapsedSec = 1.2
	run.Timeline = []bench.TimelinePoint{{Second: 1, Ops: 40000, OpsPerSec: 40000, P99us: 140}, {Second: 2, Ops: 8000, OpsPerSec: 40000, P99us: 130}}
	run.Ended = "the device filled up"
	r.Runs = []bench.Run{run}
	dir := t.TempDir()
	if _, err := WritePlots(dir, r, nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "throughput-fill-64k.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	cr, cg, cb, _ := engineColor(0).RGBA()
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X + b.Dx()/4; x < b.Max.X-b.Dx()/4; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 == cr>>8 && g>>8 == cg>>8 && bl>>8 == cb>>8 {
				n++
			}
		}
	}
	if n < 20 {
		t.Errorf("%d pixels of the engine's colour in the middle of the throughput plot: the single point is not drawn", n)
	}
}
