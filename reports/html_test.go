package reports

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/checkers"
)

// writeJSON writes v as indented JSON to dir/name.
func writeJSON(t *testing.T, dir, name string, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// resultsDir fills a directory with one result of every kind: a bench
// report with its .hgrm histograms, a passing and a failing check (with
// its trace), a mutants report, a comparison and a gate verdict, and the
// files a reader must skip (a mutants cell, a --jobs worker's Result, a
// stranger's JSON).
func resultsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rep := testReport(2)
	rep.Command = "harness bench --engine shardstore,pebble --repeat 2"
	for i := range rep.Runs {
		rep.Runs[i].Load = &bench.LoadSummary{Records: 100000, Planned: 100000, Threads: 4, Batch: 1000, Batched: true,
			ElapsedSec: 2, SyncSec: 0.1, RecordsPerSec: 50000, MBPerSec: 51, Latency: bench.OpSummary{Count: 100, P50us: 8000, P99us: 20000, MaxUs: 30000}}
	}
	var hists []map[string]*hdrhistogram.Histogram
	for _, run := range rep.Runs {
		m := map[string]*hdrhistogram.Histogram{}
		for op, s := range run.ByOp {
			h := hdrhistogram.New(1, 600e9, 3)
			for i := range 1000 {
				h.RecordValue(int64(s.P50us*1e3) * int64(1+i%7))
			}
			m[op] = h
		}
		hists = append(hists, m)
	}
	if _, err := bench.WriteReport(filepath.Join(dir, "bench"), rep, hists); err != nil {
		t.Fatal(err)
	}
	checks := filepath.Join(dir, "checks")
	writeJSON(t, checks, "conformance-shardstore-1.json", checkers.Result{Checker: "conformance", Engine: "shardstore:size=1MiB", Seed: 1,
		Verdict: checkers.Pass, Cases: 800, Ops: 24000, Elapsed: 10 * time.Second, Violations: []checkers.Violation{}})
	trace := filepath.Join(checks, "crash-block-shardstore-1.trace")
	if err := os.WriteFile(trace, []byte("# a trace\nput k1 v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, checks, "crash-block-shardstore-1.json", checkers.Result{Checker: "crash", Engine: "shardstore:size=1MiB", Seed: 1,
		Verdict: checkers.Fail, Cases: 12, Ops: 400, Elapsed: 3 * time.Second, Violations: []checkers.Violation{{
			Summary: `get "k1" = "v0", want "v1" (persistent since op 1)`, Ops: []string{"put k1 v1", "sync", "dirty-reboot", "get k1"},
			OpIndex: 3, Expected: "v1", Actual: "v0", OriginalOps: 40, TraceFile: "out/elsewhere/crash-block-shardstore-1.trace",
			Replay: "harness check crash --engine shardstore --mode block --replay out/crash-block-shardstore-1.trace"}}})
	if err := os.WriteFile(filepath.Join(checks, "linearize-stale-cache-1.html"), []byte("<html></html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, checks, "linearize-stale-cache-1.json", checkers.Result{Checker: "linearize", Engine: "stale-cache", Seed: 1,
		Verdict: checkers.Fail, Cases: 1, Ops: 200, Elapsed: time.Second, Violations: []checkers.Violation{{
			Summary: `key "k1": a get returned a value no ordering explains`, Ops: []string{"put k1 v1", "get k1"}, OpIndex: 1,
			TraceFile: "linearize-stale-cache-1.history", Visualization: "/elsewhere/linearize-stale-cache-1.html",
			Replay: "harness check linearize --history linearize-stale-cache-1.history"}}})
	writeJSON(t, checks, "job-1/conformance-shardstore-2.json", checkers.Result{Checker: "conformance", Engine: "shardstore", Verdict: checkers.Pass})
	m := sampleMutantsReport()
	writeJSON(t, dir, "mutants/mutants.json", m)
	writeJSON(t, dir, "mutants/cells/canary/conformance-1.json", map[string]any{"schema": "gauntlet.mutants.cell/v1"})
	c, err := CompareEngines(testReport(6), "bench.json", "pebble", CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeJSON(t, dir, "compare.json", c)
	writeJSON(t, dir, "gate/gate.json", Gate{Schema: GateSchema, Verdict: "fail", Commit: "c0ffee", Command: "harness gate --budget 2m",
		Started: time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC), Elapsed: time.Minute, Engine: "shardstore", Seed: 1, Budget: 2 * time.Minute,
		Checks: []GateCheck{{Detector: "conformance", Outcome: "pass", Cases: 10, Ops: 100}, {Detector: "crash/block", Outcome: "fail",
			Cases: 3, Ops: 50, Violation: "lost write", Replay: "harness check crash --replay x.trace", Trace: "x.trace"}},
		Failures: []string{"crash/block: lost write"}})
	writeJSON(t, dir, "package.json", map[string]any{"name": "not ours"})
	return dir
}

func TestReadResultsFindsEveryKind(t *testing.T) {
	dir := resultsDir(t)
	res, err := ReadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Bench) != 1 || len(res.Checks) != 3 || len(res.Mutants) != 1 || len(res.Compares) != 1 || len(res.Gates) != 1 {
		t.Fatalf("read %d bench, %d checks, %d mutants, %d compares, %d gates; want 1, 3 (no job-N worker), 1, 1, 1",
			len(res.Bench), len(res.Checks), len(res.Mutants), len(res.Compares), len(res.Gates))
	}
	// The spectra come from the .hgrm files: one per engine, workload and
	// op, the two repetitions merged (2000 values each).
	b := res.Bench[0]
	if want := 2 * 3; len(b.Spectra) != want {
		t.Fatalf("%d spectra, want %d (2 engines × ycsb-a read, update and fill-64k insert)", len(b.Spectra), want)
	}
	for _, s := range b.Spectra {
		if s.coarse || len(s.Points) < 10 {
			t.Errorf("%s/%s/%s: %d points from the histograms, want a full curve", s.Engine, s.Workload, s.Op, len(s.Points))
		}
	}
}

func TestWriteHTML(t *testing.T) {
	dir := resultsDir(t)
	res, err := ReadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, res, HTMLOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		"harness bench --engine shardstore,pebble --repeat 2",                                     // the command recorded
		"harness bench --engine shardstore --engine pebble --workload ycsb-a --workload fill-64k", // and spelled out
		"AMD EPYC 7B13, 2 cores, ext4 on /dev/nvme0n1p1",                                          // the environment
		"github.com/cockroachdb/pebble/v2 v2.1.7",
		sig3(1234.5) + " MB/s (1 MiB writes",          // the probe
		"× best peer", `title="against pebble">1.79×`, // shardstore's ycsb-a ops/s against pebble's
		"against the device", "of seq. write",
		"ycsb-a (closed loop, 4 threads): read latency by percentile",
		"ycsb-a (closed loop, 4 threads): throughput and p99 latency over time", "throughput by engine",
		"conformance on shardstore", "crash block on shardstore",
		`get &#34;k1&#34; = &#34;v0&#34;, want &#34;v1&#34;`,
		"harness check crash --engine shardstore --mode block --replay out/crash-block-shardstore-1.trace",
		`href="checks/crash-block-shardstore-1.trace"`, // found beside the result, linked relative to the page
		"minimized from 40 to 4 ops",
		"Load phase", "batch of 1000", // the load, as the text summary has it
		`href="checks/linearize-stale-cache-1.html"`, // porcupine's view, linked
		"mutation score", "Survivors", "stale-bloom",
		"Compare: ", "Gate: ", "crash/block: lost write",
		"@media print",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Self-contained: no script, nothing fetched; every image is SVG data
	// that decodes to an SVG.
	for _, bad := range []string{"<script", `rel="stylesheet"`, "@import", `src="http`, `href="http`, "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q: it must fetch nothing", bad)
		}
	}
	imgs := regexp.MustCompile(`<img src="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(imgs) < 8 {
		t.Fatalf("%d images, want the bench's plots and the heatmap", len(imgs))
	}
	for _, m := range imgs {
		data, ok := strings.CutPrefix(html.UnescapeString(m[1]), "data:image/svg+xml;base64,")
		if !ok {
			t.Fatalf("image %.60s... is not embedded SVG", m[1])
		}
		svg, err := base64.StdEncoding.DecodeString(data)
		if err != nil || !bytes.Contains(svg, []byte("<svg")) {
			t.Fatalf("image does not decode to SVG: %v", err)
		}
		if bytes.Contains(svg, []byte("font-family:Liberation Sans;")) {
			t.Fatalf("an SVG names Liberation Sans without a fallback")
		}
	}
}

func TestReadResultsRejectsBadFiles(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(resultsDir(t), "bench", bench.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file, content, want string
	}{
		{"truncated bench report", "bench.json", string(good[:len(good)/2]), "not JSON, truncated or corrupt: unexpected end of JSON input"},
		{"empty bench report", "bench.json", "", "not JSON, truncated or corrupt: empty file"},
		{"bench report with a bad field", "bench.json", strings.Replace(string(good), `"mode": "closed-loop"`, `"mode": "sideways"`, 1),
			"bench report does not match bench.schema.json: /runs/0/mode: value must be one of"},
		{"foreign schema", "x.json", `{"schema": "gauntlet.bench/v0"}`, `schema "gauntlet.bench/v0" is not one this harness reads`},
		{"check result without its verdict's values", "conformance-x-1.json", `{"checker": "conformance", "verdict": "maybe"}`,
			"check result does not match check.schema.json"},
		{"gate.json of something else", "gate.json", `{"ok": true}`, "no schema field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, c.file)
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadResults(dir)
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != path {
				t.Fatalf("got %v, want a FileError naming %s", err, path)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming the file and saying %q", msg, c.want)
			}
		})
	}
}

func TestReadResultsTruncatedHistogram(t *testing.T) {
	dir := resultsDir(t)
	hgrms, _ := filepath.Glob(filepath.Join(dir, "bench", "*.hgrm"))
	if len(hgrms) == 0 {
		t.Fatal("no .hgrm files written")
	}
	b, err := os.ReadFile(hgrms[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hgrms[0], b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadResults(dir)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Path != hgrms[0] || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("got %v, want a FileError saying %s is cut short", err, hgrms[0])
	}
}

func TestReadResultsEmptyAndMissing(t *testing.T) {
	dir := t.TempDir()
	res, err := ReadResults(dir)
	if err != nil || res.Len() != 0 {
		t.Fatalf("empty directory: %d results, %v; want none, no error", res.Len(), err)
	}
	if _, err := ReadResults(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("missing directory: %v", err)
	}
}
