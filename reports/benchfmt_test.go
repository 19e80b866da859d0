package reports

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestWriteBenchfmt(t *testing.T) {
	r := testReport(3)
	var b bytes.Buffer
	if err := WriteBenchfmt(&b, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "benchfmt-3.golden", b.Bytes())

	// Parse it back as the format specifies
	// (https://go.dev/design/14313-benchmark-format) and compare with
	// the report.
	results, config := parseBenchfmt(t, b.String())
	if len(results) != len(r.Runs) {
		t.Fatalf("%d results, want one per run (%d)", len(results), len(r.Runs))
	}
	for k, want := range map[string]string{"goos": "linux", "goarch": "amd64", "cpu": "AMD EPYC 7B13", "fs": "ext4"} {
		if config[k] != want {
			t.Errorf("config %s = %q, want %q", k, config[k], want)
		}
	}
	for i, res := range results {
		run := r.Runs[i]
		wantName := map[string]string{"ycsb-a": "YCSB/A", "fill-64k": "Fill-64k"}[run.Workload] + "/" + run.Engine
		if res.name != wantName {
			t.Errorf("result %d: name %q, want %q", i, res.name, wantName)
		}
		if res.iters != run.Ops {
			t.Errorf("%s: iterations %d, want %d ops", res.name, res.iters, run.Ops)
		}
		for unit, want := range map[string]float64{
			"ns/op": 1e9 / run.OpsPerSec, "MB/s": run.MBPerSec,
			"p50-ns": run.All.P50us * 1e3, "p99-ns": run.All.P99us * 1e3, "p99.9-ns": run.All.P999us * 1e3,
		} {
			got, ok := res.values[unit]
			if !ok {
				t.Errorf("%s: no %s", res.name, unit)
			} else if math.Abs(got-want) > 0.5+1e-9*want {
				t.Errorf("%s: %v %s, want %v", res.name, got, unit, want)
			}
		}
	}
}

func TestBenchName(t *testing.T) {
	for _, tc := range []struct{ workload, engine, want string }{
		{"ycsb-a", "pebble", "YCSB/A/pebble"},
		{"YCSB-F", "bbolt", "YCSB/F/bbolt"},
		{"fill-64k", "shardstore", "Fill-64k/shardstore"},
		{"read=90,update=10", "pebble", "Read_90_update_10/pebble"},
		{"durable put", "shardstore:sched=fifo,extent=1MiB", "Durable_put/shardstore:sched_fifo_extent_1MiB"},
		{"traces/a.trace", "pebble", "Traces_a.trace/pebble"},
		{"ycsb-a", "engine-2", "YCSB/A/engine_2"}, // not GOMAXPROCS 2
		{"ßig", "pebble", "Wßig/pebble"},          // ß has no single upper-case rune
		{"64k-fill", "pebble", "64k-fill/pebble"},
	} {
		if got := benchName(tc.workload, tc.engine); got != tc.want {
			t.Errorf("benchName(%q, %q) = %q, want %q", tc.workload, tc.engine, got, tc.want)
		}
	}
}

func TestWriteBenchfmtSkipsEmptyRuns(t *testing.T) {
	r := testReport(1)
	r.Runs[0].Ops, r.Runs[0].OpsPerSec = 0, 0
	var b bytes.Buffer
	if err := WriteBenchfmt(&b, r); err != nil {
		t.Fatal(err)
	}
	if results, _ := parseBenchfmt(t, b.String()); len(results) != len(r.Runs)-1 {
		t.Errorf("%d results, want %d", len(results), len(r.Runs)-1)
	}
}

type benchResult struct {
	name   string
	iters  int64
	values map[string]float64
}

// parseBenchfmt is a strict reader of the Go benchmark format: it fails the
// test on anything golang.org/x/perf/benchfmt would reject or misread.
func parseBenchfmt(t *testing.T, s string) ([]benchResult, map[string]string) {
	t.Helper()
	var results []benchResult
	config := map[string]string{}
	for n, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, "Benchmark"); ok {
			f := strings.Fields(rest)
			if len(f) < 4 || len(f)%2 != 0 {
				t.Fatalf("line %d: want name, iterations and value-unit pairs: %q", n+1, line)
			}
			r, _ := utf8.DecodeRuneInString(f[0])
			if unicode.IsLower(r) {
				t.Errorf("line %d: name starts lower-case: %q", n+1, f[0])
			}
			if strings.ContainsAny(f[0], "=,") {
				t.Errorf("line %d: name has '=' or ',': %q", n+1, f[0])
			}
			if i := strings.LastIndexByte(f[0], '-'); i >= 0 && strings.Trim(f[0][i+1:], "0123456789") == "" {
				t.Errorf("line %d: name ends in -N, read as GOMAXPROCS: %q", n+1, f[0])
			}
			iters, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || iters <= 0 {
				t.Errorf("line %d: iterations %q", n+1, f[1])
			}
			res := benchResult{name: f[0], iters: iters, values: map[string]float64{}}
			for i := 2; i < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
					t.Errorf("line %d: value %q", n+1, f[i])
				}
				if _, dup := res.values[f[i+1]]; dup {
					t.Errorf("line %d: unit %s twice", n+1, f[i+1])
				}
				res.values[f[i+1]] = v
			}
			results = append(results, res)
			continue
		}
		key, val, ok := strings.Cut(line, ": ")
		r, _ := utf8.DecodeRuneInString(key)
		if !ok || !unicode.IsLower(r) || strings.IndexFunc(key, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsUpper(r) }) >= 0 {
			t.Errorf("line %d: neither a result nor a key: value line: %q", n+1, line)
			continue
		}
		config[key] = val
	}
	return results, config
}
