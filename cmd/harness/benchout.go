package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/reports"
)

// BenchfmtFile holds the Go benchmark-format lines of a bench run, for
// benchstat.
const BenchfmtFile = "bench.txt"

// writeBenchOutputs writes what a person and benchstat read next to the
// JSON report: the plots and the benchmark-format lines. It checks the JSON
// written against its schema, so a report a tool cannot read never goes out
// silently.
func writeBenchOutputs(dir string, rep *bench.Report, r *bench.Runner) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, bench.ReportFile))
	if err != nil {
		return nil, err
	}
	if err := reports.ValidateBenchJSON(b); err != nil {
		return nil, fmt.Errorf("the report does not match its schema (a harness bug): %w", err)
	}
	// One spectrum per engine × workload × op, repetitions merged.
	type key struct{ spec, workload, op string }
	var order []key
	merged := map[key]*hdrhistogram.Histogram{}
	for i, run := range rep.Runs {
		if i >= len(r.Histograms) {
			break
		}
		for op, h := range r.Histograms[i] {
			if h.TotalCount() == 0 {
				continue
			}
			k := key{run.Spec, run.Workload, op}
			if merged[k] == nil {
				merged[k] = h.Clone()
				order = append(order, k)
				continue
			}
			merged[k].Merge(h)
		}
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if a.workload != b.workload {
			return a.workload < b.workload
		}
		if a.op != b.op {
			return a.op < b.op
		}
		return a.spec < b.spec
	})
	var spectra []reports.Spectrum
	for _, k := range order {
		spectra = append(spectra, reports.SpectrumFromHistogram(merged[k], k.spec, k.workload, k.op))
	}
	files, err := reports.WritePlots(dir, rep, spectra)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := reports.WriteBenchfmt(&buf, rep); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, BenchfmtFile)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return append([]string{path}, files...), nil
}

func writeBenchSummary(w io.Writer, rep *bench.Report) error {
	return reports.WriteSummary(w, rep)
}
