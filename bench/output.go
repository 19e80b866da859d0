package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// ReportFile is the name of the JSON report in the output directory.
const ReportFile = "bench.json"

// WriteReport writes rep as ReportFile in dir, and one HdrHistogram
// percentile file (.hgrm, latencies in microseconds) per run and op type,
// recording their names in the report. hists are the runs' histograms, in
// the order of rep.Runs (nil to skip the .hgrm files). The JSON is written to
// a temporary file and renamed, so an existing report is never left half
// written.
func WriteReport(dir string, rep *Report, hists []map[string]*hdrhistogram.Histogram) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("--out %s: %v", dir, unwrapPath(err))
	}
	for i := range rep.Runs {
		if i >= len(hists) {
			break
		}
		run := &rep.Runs[i]
		run.Histograms = map[string]string{}
		run.HistogramsHDR = map[string]string{}
		names := make([]string, 0, len(hists[i]))
		for name := range hists[i] {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, op := range names {
			file := fmt.Sprintf("%s-%s-r%d-%s.hgrm", sanitize(run.Workload), run.Engine, run.Repetition, op)
			var buf bytes.Buffer
			// Values are recorded in ns; the file shows µs, as HdrHistogram's
			// plotter expects a stated unit.
			if _, err := hists[i][op].PercentilesPrint(&buf, 5, 1e3); err != nil {
				return "", fmt.Errorf("histogram %s: %w", file, err)
			}
			if err := writeAtomic(filepath.Join(dir, file), buf.Bytes()); err != nil {
				return "", err
			}
			run.Histograms[op] = file
			enc, err := hists[i][op].Encode(hdrhistogram.V2CompressedEncodingCookieBase)
			if err != nil {
				return "", fmt.Errorf("histogram %s: %w", file, err)
			}
			hdr := strings.TrimSuffix(file, ".hgrm") + ".hdr"
			if err := writeAtomic(filepath.Join(dir, hdr), append(enc, '\n')); err != nil {
				return "", err
			}
			run.HistogramsHDR[op] = hdr
		}
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode report: %w", err)
	}
	path := filepath.Join(dir, ReportFile)
	return path, writeAtomic(path, append(b, '\n'))
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %v", path, unwrapPath(err))
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %v", path, unwrapPath(err))
	}
	return nil
}
