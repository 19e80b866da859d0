package reports

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gauntlet-kv/gauntlet/coverage"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/mutants"
)

// Results is every result file found under some directories, each read
// and checked against its schema: what the HTML report shows.
type Results struct {
	Dirs     []string
	Bench    []BenchResult
	Checks   []CheckResult
	Mutants  []MutantsResult
	Compares []CompareResult
	Gates    []GateResult
	// History is the nightly history found (a HistoryFile under the
	// directories, or one a caller sets): the page draws its trends.
	History *History
	// Nights are the nightly folders' own records (NightFile): a partial
	// night says so on the page.
	Nights []NightResult
	// Coverage are the coverage documents `harness coverage` wrote.
	Coverage []CoverageResult
}

// CoverageResult is one coverage.json.
type CoverageResult struct {
	Path string
	Doc  coverage.Doc
}

// NightResult is one night's own record.
type NightResult struct {
	Path   string
	Record HistoryRecord
}

// BenchResult is one bench.json.
type BenchResult struct {
	Path   string
	Report *bench.Report
	// Spectra come from the .hgrm files beside the report, the
	// repetitions of each engine, workload and op merged.
	Spectra []Spectrum
}

// CheckResult is one check's Result file.
type CheckResult struct {
	Path   string
	Result checkers.Result
}

// MutantsResult is one mutants.json.
type MutantsResult struct {
	Path   string
	Report *mutants.Report
}

// CompareResult is one comparison written by `harness compare --json`.
type CompareResult struct {
	Path       string
	Comparison Comparison
}

// GateResult is one gate.json.
type GateResult struct {
	Path string
	Gate Gate
}

// Len is the number of results.
func (r *Results) Len() int {
	n := len(r.Bench) + len(r.Checks) + len(r.Mutants) + len(r.Compares) + len(r.Gates)
	if r.History != nil {
		n += len(r.History.Records)
	}
	return n
}

// FileError is a result file that cannot be read: not JSON (truncated, or
// corrupt), a layout this harness does not read, or a document its schema
// rejects. Its message is one line naming the file and the problem.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// resultNames are the file names the harness gives its result documents:
// a file so named that is no result is an error, not a stranger to skip.
var resultNames = []string{bench.ReportFile, "mutants.json", "gate.json"}

// skipDirs are directories that hold the parts of a result, not results:
// a mutants run's cells (each a check Result of a worker) and the Results
// of a check's --jobs workers, which the merged Result beside them sums.
var skipDirs = regexp.MustCompile(`^(cells|job-[0-9]+)$`)

// ReadResults reads every result under dirs: bench reports (bench.json and
// the .hgrm histograms beside it), check Results, mutants reports,
// comparisons and gate verdicts, recognised by their schema field (a
// check Result, which has none, by its checker and verdict). Other JSON
// files are skipped, as are a mutants run's cells/ and a check's job-N/
// worker directories. The first file that cannot be read is returned as a
// *FileError; a directory that cannot be walked as a plain error.
func ReadResults(dirs ...string) (*Results, error) {
	res := &Results{Dirs: dirs}
	for _, dir := range dirs {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", dir, unwrapPathError(err))
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s: not a directory", dir)
		}
		err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("%s: %v", path, unwrapPathError(err))
			}
			name := d.Name()
			if d.IsDir() {
				if path != dir && (skipDirs.MatchString(name) || strings.HasPrefix(name, ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if name == HistoryFile && res.History == nil {
				h, err := ReadHistory(path)
				if err != nil {
					return err
				}
				res.History = h
				return nil
			}
			if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
				return nil
			}
			return res.read(path)
		})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// read classifies and reads one JSON file.
func (r *Results) read(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return &FileError{path, unwrapPathError(err)}
	}
	fail := func(err error) error { return &FileError{path, err} }
	known := slices.Contains(resultNames, filepath.Base(path))
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		if len(bytes.TrimSpace(b)) == 0 {
			err = errors.New("empty file")
		}
		return fail(fmt.Errorf("not JSON, truncated or corrupt: %v", err))
	}
	var head map[string]json.RawMessage
	if json.Unmarshal(b, &head) != nil {
		if known {
			return fail(errors.New("not a JSON object, so not a harness result"))
		}
		return nil
	}
	var schema string
	if raw, ok := head["schema"]; ok {
		json.Unmarshal(raw, &schema)
	}
	decode := func(validate func([]byte) error, v any) error {
		if err := validate(b); err != nil {
			return fail(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			return fail(err)
		}
		return nil
	}
	switch {
	case schema == bench.SchemaVersion || schema == bench.SchemaVersionV1:
		var rep bench.Report
		if err := decode(ValidateBenchJSON, &rep); err != nil {
			return err
		}
		spectra, err := spectraFromHgrm(filepath.Dir(path), &rep)
		if err != nil {
			return err
		}
		r.Bench = append(r.Bench, BenchResult{Path: path, Report: &rep, Spectra: spectra})
	case schema == mutants.Schema:
		var rep mutants.Report
		if err := decode(ValidateMutantsJSON, &rep); err != nil {
			return err
		}
		r.Mutants = append(r.Mutants, MutantsResult{Path: path, Report: &rep})
	case schema == CompareSchema:
		var c Comparison
		if err := decode(ValidateCompareJSON, &c); err != nil {
			return err
		}
		r.Compares = append(r.Compares, CompareResult{Path: path, Comparison: c})
	case schema == GateSchema:
		var g Gate
		if err := decode(ValidateGateJSON, &g); err != nil {
			return err
		}
		r.Gates = append(r.Gates, GateResult{Path: path, Gate: g})
	case schema == HistorySchema:
		rec, err := ReadNight(path)
		if err != nil {
			return fail(errors.Unwrap(err))
		}
		r.Nights = append(r.Nights, NightResult{Path: path, Record: rec})
	case schema == coverage.DocSchema:
		var d coverage.Doc
		if err := decode(ValidateCoverageJSON, &d); err != nil {
			return err
		}
		r.Coverage = append(r.Coverage, CoverageResult{Path: path, Doc: d})
	case schema == mutants.CellSchema:
		// A mutants cell saved outside cells/: its report holds it.
	case strings.HasPrefix(schema, "gauntlet."):
		return fail(fmt.Errorf("schema %q is not one this harness reads (%s, %s, %s, %s, %s): a result of another harness version?",
			schema, bench.SchemaVersion, mutants.Schema, CompareSchema, GateSchema, HistorySchema))
	case head["checker"] != nil && head["verdict"] != nil:
		var res checkers.Result
		if err := decode(ValidateCheckJSON, &res); err != nil {
			return err
		}
		r.Checks = append(r.Checks, CheckResult{Path: path, Result: res})
	case known:
		return fail(errors.New("no schema field: not a harness result, or one cut short"))
	}
	return nil
}

// Histogram range of the spectra read from .hgrm files: the bench
// runner's own (1 ns to 10 minutes, 3 significant digits).
const (
	hgrmLowest  = 1
	hgrmHighest = 600e9
	hgrmDigits  = 3
)

// spectraFromHgrm rebuilds one spectrum per engine spec, workload and op
// from the .hgrm files the report names, merging the repetitions. An
// .hgrm file records the cumulative count at each of its percentiles, so
// the histogram rebuilt from it is exact at those values: the curve is the
// one the bench would have drawn. A report without .hgrm files gives none,
// and the plots fall back to its summary percentiles.
func spectraFromHgrm(dir string, rep *bench.Report) ([]Spectrum, error) {
	type key struct{ spec, workload, op string }
	var order []key
	merged := map[key]*hdrhistogram.Histogram{}
	for _, run := range rep.Runs {
		ops := make([]string, 0, len(run.Histograms))
		for op := range run.Histograms {
			ops = append(ops, op)
		}
		slices.Sort(ops)
		for _, op := range ops {
			path := filepath.Join(dir, run.Histograms[op])
			h, err := readHgrm(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue // a report copied without its histograms
			}
			if err != nil {
				return nil, &FileError{path, err}
			}
			if h.TotalCount() == 0 {
				continue
			}
			k := key{run.Spec, run.Workload, op}
			if merged[k] == nil {
				merged[k] = h
				order = append(order, k)
				continue
			}
			merged[k].Merge(h)
		}
	}
	var spectra []Spectrum
	for _, k := range order {
		spectra = append(spectra, SpectrumFromHistogram(merged[k], k.spec, k.workload, k.op))
	}
	return spectra, nil
}

// readHgrm reads a percentile file written by bench.WriteReport (values
// in µs) back into a histogram in ns. The footer's total count must match
// the last line's: a file cut short is an error.
func readHgrm(path string) (*hdrhistogram.Histogram, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := hdrhistogram.New(hgrmLowest, hgrmHighest, hgrmDigits)
	var last int64
	total := int64(-1)
	sc := bufio.NewScanner(f)
	cut := func(line int, format string, args ...any) error {
		return fmt.Errorf("line %d: %s: the file is cut short or corrupt", line, fmt.Sprintf(format, args...))
	}
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "" || strings.HasPrefix(text, "Value"):
			continue
		case strings.HasPrefix(text, "#[Max"):
			_, after, ok := strings.Cut(text, "Total count")
			if !ok {
				return nil, cut(line, "footer without a total count")
			}
			total, err = strconv.ParseInt(strings.Trim(after, " =]"), 10, 64)
			if err != nil {
				return nil, cut(line, "total count: %v", err)
			}
			continue
		case strings.HasPrefix(text, "#"):
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 4 {
			return nil, cut(line, "want 4 columns (value, percentile, total count, 1/(1-percentile)), got %d", len(fields))
		}
		us, err1 := strconv.ParseFloat(fields[0], 64)
		count, err2 := strconv.ParseInt(fields[2], 10, 64)
		if err := errors.Join(err1, err2); err != nil || us < 0 || count < last {
			return nil, cut(line, "not a value and a cumulative count: %q", text)
		}
		ns := min(max(int64(us*1e3+0.5), hgrmLowest), int64(hgrmHighest))
		if err := h.RecordValues(ns, count-last); err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		last = count
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if total < 0 {
		return nil, errors.New("no footer with the total count: the file is cut short")
	}
	if total != last {
		return nil, fmt.Errorf("the percentiles count %d values, the footer %d: the file is cut short", last, total)
	}
	return h, nil
}
