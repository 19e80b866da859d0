package reports

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gauntlet-kv/gauntlet/bench"
)

// WriteBenchfmt writes r in the Go benchmark format, so benchstat and the
// rest of golang.org/x/perf read it unchanged:
//
//	goos: linux
//	cpu: AMD EPYC 7B13
//	BenchmarkYCSB/A/pebble  1234567  8102 ns/op  12.50 MB/s  5230 p50-ns  41000 p99-ns  97000 p99.9-ns
//
// One line per run; repetitions are repeated lines, which benchstat
// aggregates. The iteration count is the ops completed; ns/op is the
// inverse of ops/s (with N threads, wall time per op, as b.RunParallel
// reports it); MB/s counts value bytes; the latency percentiles are over
// all op types. Runs that completed no op are left out.
//
// Names: ycsb-a becomes YCSB/A (ycsb-a,records=500 becomes
// YCSB/A_records_500); other workloads get a capital first letter
// and '_' for spaces, '=', ',' and '/' (benchstat reads "key=value" name
// parts as configuration): "fill-64k" → "Fill-64k",
// "read=90,update=10" → "Read_90_update_10". The engine label is last.
func WriteBenchfmt(w io.Writer, r *bench.Report) error {
	v := newView(r)
	var b strings.Builder
	e := r.Env
	for _, kv := range [][2]string{
		{"goos", e.OS}, {"goarch", e.Arch}, {"pkg", "github.com/gauntlet-kv/gauntlet/bench"},
		{"cpu", e.CPU}, {"commit", e.Commit}, {"fs", e.FileSystem}, {"device", e.Device},
	} {
		if val := strings.Join(strings.Fields(kv[1]), " "); val != "" {
			fmt.Fprintf(&b, "%s: %s\n", kv[0], val)
		}
	}
	for i := range r.Runs {
		run := &r.Runs[i]
		if run.Ops <= 0 || run.OpsPerSec <= 0 {
			continue
		}
		name := benchName(run.Workload, v.labelOf[i])
		fmt.Fprintf(&b, "Benchmark%s \t%d\t%s ns/op\t%s MB/s\t%s p50-ns\t%s p99-ns\t%s p99.9-ns\n",
			name, run.Ops, nsValue(1e9/run.OpsPerSec), strconv.FormatFloat(run.MBPerSec, 'f', 2, 64),
			nsValue(run.All.P50us*1e3), nsValue(run.All.P99us*1e3), nsValue(run.All.P999us*1e3))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var ycsbName = regexp.MustCompile(`^(?i)ycsb-([a-z])(,.*)?$`)

// benchName is the benchmark name (after "Benchmark") of a workload and an
// engine label.
func benchName(workload, engine string) string {
	var wl string
	if m := ycsbName.FindStringSubmatch(workload); m != nil {
		wl = "YCSB/" + strings.ToUpper(m[1])
		if m[2] != "" {
			// Options stay in the name: ycsb-a,records=500 → YCSB/A_records_500.
			wl += benchPart(m[2])
		}
	} else {
		wl = benchPart(workload)
		r, n := utf8.DecodeRuneInString(wl)
		if up := unicode.ToUpper(r); up != r {
			wl = string(up) + wl[n:]
		} else if unicode.IsLower(r) {
			// The format does not allow a lower-case letter after
			// "Benchmark"; some lower-case letters have no upper case.
			wl = "W" + wl
		}
	}
	eng := benchPart(engine)
	// A trailing "-<digits>" is read as GOMAXPROCS: keep it off the name.
	if i := strings.LastIndexByte(eng, '-'); i >= 0 && i+1 < len(eng) && strings.Trim(eng[i+1:], "0123456789") == "" {
		eng = eng[:i] + "_" + eng[i+1:]
	}
	return wl + "/" + eng
}

// benchPart makes s one name part: no spaces, '=', ',' or '/'.
func benchPart(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '=' || r == ',' || r == '/' {
			return '_'
		}
		return r
	}, s)
	if s == "" {
		return "_"
	}
	return s
}

// nsValue formats a duration in nanoseconds: whole numbers, with one decimal
// below 100 ns where it still matters.
func nsValue(ns float64) string {
	if ns < 100 {
		return strconv.FormatFloat(ns, 'f', 1, 64)
	}
	return strconv.FormatFloat(ns, 'f', 0, 64)
}
