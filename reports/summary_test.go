package reports

import (
	"bytes"
	"testing"

	"github.com/gauntlet-kv/gauntlet/bench"
)

func TestWriteSummary(t *testing.T) {
	for _, tc := range []struct {
		golden string
		report func() *bench.Report
	}{
		{"summary-1.golden", func() *bench.Report { return testReport(1) }},
		{"summary-3.golden", func() *bench.Report { return testReport(3) }},
		{"summary-partial.golden", func() *bench.Report {
			// Interrupted, no probe, one run failed, an A/B of two
			// shardstore schedulers, one open-loop workload, one fill
			// that stopped at a full device.
			r := testReport(1)
			r.Partial, r.Reason, r.Probe = true, "interrupted by signal", nil
			r.Runs[0].Error = "shardstore: extent 12: write beyond pointer"
			r.Runs[0].Errors = 3
			ab := r.Runs[0]
			ab.Error, ab.Errors = "", 0
			ab.Spec, ab.Options = "shardstore:cache=64MiB,sched=fifo", map[string]string{"cache": "64MiB", "sched": "fifo"}
			ab.OpsPerSec *= 0.8
			r.Runs[0].Spec, r.Runs[0].Options = "shardstore:cache=64MiB,sched=coalesce", map[string]string{"cache": "64MiB", "sched": "coalesce"}
			r.Runs = append(r.Runs, ab)
			for i := range r.Runs {
				if r.Runs[i].Workload == "fill-64k" {
					r.Runs[i].Mode, r.Runs[i].RateOpsPerSec = "open-loop", 8000
					if r.Runs[i].Engine == "shardstore" {
						r.Runs[i].Ended = "the device filled up after 15240 inserts (1.00 GB) in 2.00s: the figures cover the run until then"
					}
				}
			}
			return r
		}},
		{"summary-failed.golden", func() *bench.Report {
			// Engine errors and misses: counted in the errors column
			// and listed by op type under the table.
			r := testReport(1)
			run := &r.Runs[0]
			get, put := run.ByOp["read"], run.ByOp["update"]
			get.Misses, put.Errors = 5, 2
			run.ByOp["read"], run.ByOp["update"] = get, put
			run.Misses, run.Errors = 5, 2
			return r
		}},
		{"summary-resources.golden", func() *bench.Report {
			r := testReport(1)
			for i := range r.Runs {
				r.Runs[i].Resources = testResources()
				r.Runs[i].Resources.CPUUsPerOp *= float64(i + 1)
			}
			return r
		}},
		{"summary-empty.golden", func() *bench.Report { return &bench.Report{Schema: bench.SchemaVersion} }},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteSummary(&b, tc.report()); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.golden, b.Bytes())
		})
	}
}

func TestFormatUs(t *testing.T) {
	for us, want := range map[float64]string{
		0: "-", 0.25: "0.25µs", 8.5: "8.50µs", 85.26: "85.3µs", 999.4: "999µs", 999.6: "1.00ms",
		1234: "1.23ms", 45678: "45.7ms", 2.1e6: "2.10s", 125e6: "125s",
	} {
		if got := formatUs(us); got != want {
			t.Errorf("formatUs(%v) = %q, want %q", us, got, want)
		}
	}
}

func TestFormatSI(t *testing.T) {
	for x, want := range map[float64]string{
		0: "0", 12: "12.0", 999: "999", 1234: "1.23k", 56789: "56.8k", 182000: "182k", 999999: "1.00M", 2.5e9: "2.50G",
	} {
		if got := formatSI(x); got != want {
			t.Errorf("formatSI(%v) = %q, want %q", x, got, want)
		}
	}
}

// testResources are a run's resource figures, as a child process measures
// them.
func testResources() *bench.Resources {
	return &bench.Resources{
		CPUUserSec: 14.2, CPUSysSec: 3.1, CPUUsPerOp: 9.5,
		RSSPeakBytes: 412 << 20, RSSMeanBytes: 380 << 20, GoHeapPeakBytes: 120 << 20, GoHeapMeanBytes: 90 << 20, Samples: 101,
		DeviceReadBytes: 3 << 30, DeviceWriteBytes: 5 << 30, IOCounters: true,
		ReadAmplification: 2.9, WriteAmplification: 5.1,
	}
}
