package reports_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/reports"
)

func ExampleWriteBenchfmt() {
	r := &bench.Report{
		Schema: bench.SchemaVersion,
		Env:    bench.Env{OS: "linux", Arch: "amd64", CPU: "AMD EPYC 7B13"},
		Runs: []bench.Run{{
			Engine: "pebble", Workload: "ycsb-a", Repetition: 1, Mode: "closed-loop", Threads: 4,
			ElapsedSec: 10, Ops: 1000000, OpsPerSec: 100000, MBPerSec: 102.4,
			All: bench.OpSummary{Count: 1000000, P50us: 31.5, P99us: 220, P999us: 650},
		}},
	}
	if err := reports.WriteBenchfmt(os.Stdout, r); err != nil {
		fmt.Println(err)
	}
	// Output:
	// goos: linux
	// goarch: amd64
	// pkg: github.com/gauntlet-kv/gauntlet/bench
	// cpu: AMD EPYC 7B13
	// BenchmarkYCSB/A/pebble 	1000000	10000 ns/op	102.40 MB/s	31500 p50-ns	220000 p99-ns	650000 p99.9-ns
}

func ExampleValidateBenchJSON() {
	r := bench.Report{
		Schema:  bench.SchemaVersion,
		Started: time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC),
		Runs:    []bench.Run{{Engine: "pebble", Workload: "ycsb-a", Repetition: 1, Mode: "closed-loop", Threads: 4}},
	}
	doc, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	fmt.Println(reports.ValidateBenchJSON(doc))
	doc = bytes.Replace(doc, []byte(`"closed-loop"`), []byte(`"half-open"`), 1)
	fmt.Println(reports.ValidateBenchJSON(doc))
	// Output:
	// <nil>
	// bench report does not match bench.schema.json: /runs/0/mode: value must be one of 'closed-loop', 'open-loop'
}
