package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/internal/shard"
)

// SchemaVersion names the layout of Report; it changes whenever a field's
// meaning changes. reports/schema/bench.schema.json describes it.
//
// v2 added, all optional, misses and the per-op-type errors and misses
// (an op that failed or missed no longer counts among ops), the write
// bytes, and the resource figures (Run.Resources); a v1 report reads as
// one whose runs had no misses and no resource figures.
const SchemaVersion = "gauntlet.bench/v2"

// SchemaVersionV1 is the layout before v2, still read.
const SchemaVersionV1 = "gauntlet.bench/v1"

// Report is the JSON document one `harness bench` invocation writes.
type Report struct {
	Schema  string    `json:"schema"`
	Started time.Time `json:"started"`
	// ElapsedSec is the wall time of the whole invocation.
	ElapsedSec float64 `json:"elapsed_sec"`
	// Partial is true when the run was interrupted (Ctrl-C, a fault): the
	// runs present are complete measurements, but not every planned run is.
	Partial bool   `json:"partial"`
	Reason  string `json:"reason,omitempty"`
	// Command is the command line that ran the bench ("harness bench
	// --quick"), as the CLI saw it; empty when a program ran it.
	Command string `json:"command,omitempty"`
	Env     Env    `json:"env"`
	Probe   *Probe `json:"probe,omitempty"`
	Config  Config `json:"config"`
	Runs    []Run  `json:"runs"`
	// Shards lists the shards of a fleet run harness merge joined into
	// this report (Config.Shard names a single shard's).
	Shards []shard.Meta `json:"shards,omitempty"`
}

// Run is the measurement of one engine on one workload, one repetition.
type Run struct {
	Engine     string            `json:"engine"`      // engine name
	Spec       string            `json:"spec"`        // full resolved spec, defaults included
	Options    map[string]string `json:"options"`     // the same, as a map
	Workload   string            `json:"workload"`    // as the user named it
	WorkloadIs string            `json:"workload_is"` // the resolved mix, in words
	Repetition int               `json:"repetition"`  // 1-based
	// Mode is "closed-loop" (each worker issues its next op when the last
	// returns: latency excludes queueing, throughput is what the engine
	// sustains) or "open-loop" (ops scheduled at RateOpsPerSec, latency
	// measured from the intended start: free of coordinated omission).
	Mode          string  `json:"mode"`
	RateOpsPerSec float64 `json:"rate_ops_per_sec,omitempty"`
	Threads       int     `json:"threads"`
	Sync          bool    `json:"sync"`
	PreloadOps    int64   `json:"preload_ops"`
	// Load is the load phase's own measurement (absent without one).
	Load       *LoadSummary `json:"load,omitempty"`
	WarmupSec  float64      `json:"warmup_sec"`
	ElapsedSec float64      `json:"elapsed_sec"` // measured phase only
	// Ops counts the ops that succeeded. Errors counts the ops an engine
	// failed (an error other than not-found) and Misses the reads that
	// found no record where the workload had loaded one (a workload
	// without deletes, after its load): neither counts among Ops, and
	// ByOp says which op types they were. An op error does not end the
	// run unless it is fatal (corruption, a closed engine, a full device
	// outside a fill); OpError keeps the first one's text.
	Ops          int64   `json:"ops"`
	Errors       int64   `json:"errors"`
	Misses       int64   `json:"misses,omitempty"`
	OpError      string  `json:"op_error,omitempty"`
	OpsPerSec    float64 `json:"ops_per_sec"`
	Bytes        int64   `json:"bytes"`                   // value bytes read and written
	BytesWritten int64   `json:"bytes_written,omitempty"` // of Bytes, those written
	MBPerSec     float64 `json:"mb_per_sec"`
	// All and ByOp hold latency figures in microseconds.
	All      OpSummary            `json:"all"`
	ByOp     map[string]OpSummary `json:"by_op"`
	Timeline []TimelinePoint      `json:"timeline"`
	// Stats are the engine's own counters, if it implements engine.Statser.
	Stats              *engine.Stats `json:"stats,omitempty"`
	WriteAmplification float64       `json:"write_amplification,omitempty"`
	// Histograms names the .hgrm percentile files written per op type.
	Histograms map[string]string `json:"histograms,omitempty"`
	// HistogramsHDR names the files holding the same histograms whole, in
	// HdrHistogram's compressed encoding (base64 text, values in ns): a
	// .hgrm keeps only percentile points, and harness merge needs every
	// bucket to merge the shards of a fleet run exactly.
	HistogramsHDR map[string]string `json:"histograms_hdr,omitempty"`
	// Error is set when the run ended early on an engine failure.
	Error string `json:"error,omitempty"`
	// Ended says why a run that did not fail ended before its duration or
	// op count: an insert-only workload (fill) that filled the device
	// ends there, and its figures cover the run until then.
	Ended string `json:"ended,omitempty"`
	// Partial is set when the child process running the run died before
	// sending its result: the figures are those of its last checkpoint
	// (ElapsedSec into the measured phase; checkpoints come once a
	// second), and Error says how it died.
	Partial bool `json:"partial,omitempty"`

	// MeasuredCPUSec is the CPU time, user and system, of the process that
	// ran the run, during the measured phase only: driver and engine,
	// every thread. Divided by Ops it is the CPU cost of an op.
	MeasuredCPUSec float64 `json:"measured_cpu_sec,omitempty"`
	// CPUUserSec and CPUSysSec are the CPU time of the child process that
	// ran the run, from start to exit (open, preload, warm-up and close
	// included), and MaxRSSBytes its peak resident set, all from its
	// rusage. Zero for a run that did not run in a child process.
	CPUUserSec  float64 `json:"cpu_user_sec,omitempty"`
	CPUSysSec   float64 `json:"cpu_sys_sec,omitempty"`
	MaxRSSBytes int64   `json:"max_rss_bytes,omitempty"`
	// Resources are the measured phase's CPU, memory and device traffic,
	// read the same way for every engine.
	Resources *Resources `json:"resources,omitempty"`
	// KeptDir is the run's data directory, left in place by --keep.
	KeptDir string `json:"kept_dir,omitempty"`
	// ChildLog names the file in the output directory holding what the
	// child process of a failed run wrote to stderr (a panic's goroutine
	// dump, say): its start and its end, if it was long.
	ChildLog string `json:"child_log,omitempty"`
	// Simulated says the engine ran on a simulated device (shardstore's
	// device=hdd|ssd) and the run's latencies, throughput and elapsed
	// time are in the device model's virtual time, not the machine's.
	Simulated bool `json:"simulated,omitempty"`
	// Controlled says the simulated run was one controlled execution of
	// engine/conc (a binary built with -tags interleave): deterministic,
	// the same figures from SimSeed and the commit on any machine load.
	// SimSeed is its workload's and schedule's seed (--seed plus the
	// repetition minus 1), SimSteps its scheduling points.
	Controlled bool   `json:"controlled,omitempty"`
	SimSeed    uint64 `json:"sim_seed,omitempty"`
	SimSteps   int64  `json:"sim_steps,omitempty"`
}

// OpSummary is the count, throughput and latency of one op type.
type OpSummary struct {
	Count     int64   `json:"count"`
	Errors    int64   `json:"errors"`
	Misses    int64   `json:"misses,omitempty"`
	OpsPerSec float64 `json:"ops_per_sec"`
	MeanUs    float64 `json:"mean_us"`
	P50us     float64 `json:"p50_us"`
	P90us     float64 `json:"p90_us"`
	P99us     float64 `json:"p99_us"`
	P999us    float64 `json:"p99_9_us"`
	P9999us   float64 `json:"p99_99_us"`
	MaxUs     float64 `json:"max_us"`
}

// TimelinePoint is one second of a run.
type TimelinePoint struct {
	Second int64 `json:"second"` // 1-based second of the measured phase
	Ops    int64 `json:"ops"`    // every op that ended, errors and misses included
	Errors int64 `json:"errors"`
	Misses int64 `json:"misses,omitempty"`
	// OpsPerSec is Ops over the length of this second of the run: a full
	// second except for the last, which holds only the phase's tail.
	OpsPerSec float64 `json:"ops_per_sec"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	MaxUs     float64 `json:"max_us"`
	// BytesWritten is the value bytes the second's writes wrote.
	BytesWritten int64 `json:"bytes_written,omitempty"`
	// DeviceWriteBytes is the device bytes the process wrote in the second
	// (/proc/self/io), SpaceBytes the space the run's directory took at its
	// end, and ReclaimedBytes the device bytes written so far beyond the
	// growth of that space: written into space the engine had freed.
	DeviceWriteBytes int64 `json:"device_write_bytes,omitempty"`
	SpaceBytes       int64 `json:"space_bytes,omitempty"`
	ReclaimedBytes   int64 `json:"reclaimed_bytes,omitempty"`
}

// ReadReport reads a report written by WriteReport, with an error naming
// the file and the problem if it is not one.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not a bench report: %v", path, err)
	}
	if r.Schema != SchemaVersion && r.Schema != SchemaVersionV1 {
		return nil, fmt.Errorf("%s: schema %q, want %q (a report from another harness version?)", path, r.Schema, SchemaVersion)
	}
	return &r, nil
}

// FailedByOp lists the run's errors and misses by op type, in op name
// order: "get_miss 3, put_error 1"; empty when every op succeeded.
func (r *Run) FailedByOp() string {
	names := make([]string, 0, len(r.ByOp))
	for name := range r.ByOp {
		names = append(names, name)
	}
	slices.Sort(names)
	var parts []string
	for _, name := range names {
		s := r.ByOp[name]
		if s.Errors > 0 {
			parts = append(parts, fmt.Sprintf("%s_error %d", name, s.Errors))
		}
		if s.Misses > 0 {
			parts = append(parts, fmt.Sprintf("%s_miss %d", name, s.Misses))
		}
	}
	return strings.Join(parts, ", ")
}
