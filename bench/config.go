package bench

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gauntlet-kv/gauntlet/internal/shard"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// Config is one `harness bench` invocation. The zero value is not runnable;
// EnsureDefaults fills in what the user left out, Validate reports every
// problem at once.
type Config struct {
	// Engines are engine specs ("pebble:sync=true"), run in this order.
	Engines []string `json:"engines"`
	// Workloads are workload names or specs ("ycsb-a", "read=90,update=10").
	Workloads []string `json:"workloads"`
	// Dir is where each run gets a fresh subdirectory. Default: a new
	// temporary directory, removed afterwards.
	Dir string `json:"dir"`
	// Duration of each run's measured phase (default 10s), unless Ops is set.
	Duration time.Duration `json:"duration_ns"`
	// Ops, if positive, ends each run after this many ops instead.
	Ops int64 `json:"ops"`
	// Threads is the number of client goroutines; 0 means the workload's
	// own choice (16 for durable-put) or else 1.
	Threads int `json:"threads"`
	// Preload loads the workload's records before measuring (default true).
	Preload bool `json:"preload"`
	// LoadThreads is the load's client count (0: the run's threads, at
	// least LoadThreadsMin).
	LoadThreads int `json:"load_threads,omitempty"`
	// LoadBatch is how many records one load call writes through an
	// engine.Batcher (0: LoadBatchDefault; 1: one Put per record, as
	// every engine without a batch loads).
	LoadBatch int `json:"load_batch,omitempty"`
	// Warmup runs the workload unmeasured before the measured phase
	// (default 1s; 0 after EnsureDefaults means none was asked for).
	Warmup time.Duration `json:"warmup_ns"`
	// Repeat runs every (engine, workload) pair this many times, interleaved
	// A B C A B C so machine drift hits every engine alike (default 1).
	Repeat int `json:"repeat"`
	// Sync makes every write durable before it is acknowledged: the driver
	// calls Sync after each write, inside the measured latency.
	Sync bool `json:"sync"`
	// Rate, if positive, runs open loop at this many ops/s in total.
	Rate float64 `json:"rate_ops_per_sec"`
	// Seed makes the op sequence repeatable (default 1).
	Seed uint64 `json:"seed"`
	// Out is the directory the report, histograms and plots are written to.
	Out string `json:"out"`
	// Probe measures the device under Dir first.
	Probe bool `json:"probe"`
	// MemoryLimit, if positive, confines each run's child process to a
	// memory cgroup of this many bytes, page cache included (the Runner's
	// ChildEnv, set by 'harness bench --memory'), so that a data set
	// larger than it is read from the device by every engine alike.
	MemoryLimit int64 `json:"memory_limit,omitempty"`
	// ProbeBytes is the size of the probe's sequential-write file.
	ProbeBytes int64 `json:"probe_bytes"`
	// CPUProfile writes a Go CPU profile of each run's measured phase to
	// Out as <engine spec>-<workload>-r<rep>.cpu.pprof (for `go tool pprof`).
	CPUProfile bool `json:"cpu_profile,omitempty"`
	// Trace writes a Go execution trace of each run's measured phase to
	// Out as <engine spec>-<workload>-r<rep>.trace (for `go tool trace`): where
	// the client goroutines wait, and on what.
	Trace bool `json:"trace,omitempty"`
	// IOTrace records every device IO of each run (an engine with an
	// io-trace= option: shardstore, on a real or a simulated device) to
	// Out as <engine spec>-<workload>-r<rep>.iotrace (engine/iotrace;
	// harness iotrace plots it).
	IOTrace bool `json:"io_trace,omitempty"`
	// Records, if positive, is the record count of every workload that
	// loads records (not a fill, which loads none), and Values, if set,
	// the value sizes of every workload (a values= term: "4KiB",
	// "uniform:100B:10KiB"): scale as an axis, without respelling each
	// workload. A workload spec that gives records= or values= itself
	// keeps its own.
	Records int64  `json:"records,omitempty"`
	Values  string `json:"values,omitempty"`
	// Keep leaves each run's data directory in place (its path is printed
	// and recorded as the run's kept_dir) instead of removing it.
	Keep bool `json:"keep,omitempty"`
	// Shard, when set, makes this bench shard Index of Count of a fleet
	// run (harness bench --shard i/N): it runs the repetitions r with
	// (r-1) mod Count = Index, and harness merge joins the shards.
	Shard *shard.Meta `json:"shard,omitempty"`
}

// owns reports whether repetition rp (1-based) is this bench's to run.
func (c *Config) owns(rp int) bool {
	return c.Shard == nil || c.Shard.Shard().Owns(rp-1)
}

// Defaults and limits.
const (
	DurationDefault = 10 * time.Second
	WarmupDefault   = 1 * time.Second
	// RateMax is the highest open-loop rate: one op per 100 ns, about
	// what one dispatcher goroutine can hand out.
	RateMax = 1e7
	// ProbeBytesMin is the smallest probe file: one 1 MiB write.
	ProbeBytesMin = 1 << 20
	// LoadThreadsMin is the fewest clients a load runs with by default.
	LoadThreadsMin = 4
	// LoadBatchDefault records per batch: large enough that a commit is
	// paid per ten thousand records and that a bbolt transaction finds
	// several of its random keys on each leaf it rewrites (bbolt loaded 1M
	// records in 84 s with 1,000, 51 s with 10,000; the other engines
	// within their spread, docs/PERFORMANCE.md), small enough that a
	// batch (10 MB of 1 KB records) costs little memory per load client.
	LoadBatchDefault = 10000
)

// EnsureDefaults fills in unset fields.
func (c *Config) EnsureDefaults() {
	if c.Duration == 0 && c.Ops == 0 {
		c.Duration = DurationDefault
	}
	if c.Repeat == 0 {
		c.Repeat = 1
	}
	if c.LoadBatch == 0 {
		c.LoadBatch = LoadBatchDefault
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
}

// Validate reports every problem with c, joined.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Engines) == 0 {
		errs = append(errs, fmt.Errorf("no engine given (use --engine, e.g. --engine shardstore,pebble)"))
	}
	if len(c.Workloads) == 0 {
		errs = append(errs, fmt.Errorf("no workload given (use --workload, e.g. --workload ycsb-a)"))
	}
	if c.Duration < 0 || c.Ops < 0 {
		errs = append(errs, fmt.Errorf("--duration and --ops must not be negative"))
	}
	if c.Threads < 0 || c.Threads > 4096 {
		errs = append(errs, fmt.Errorf("--threads %d: want 1 to 4096 (or 0 for the workload's choice)", c.Threads))
	}
	if c.LoadThreads < 0 || c.LoadThreads > 4096 {
		errs = append(errs, fmt.Errorf("--load-threads %d: want 1 to 4096 (or 0 for the run's threads, at least %d)", c.LoadThreads, LoadThreadsMin))
	}
	if c.LoadBatch < 0 || c.LoadBatch > 1_000_000 {
		errs = append(errs, fmt.Errorf("--load-batch %d: want 1 (one put per record) to 1000000 records per batch (default %d)", c.LoadBatch, LoadBatchDefault))
	}
	if c.Repeat < 1 || c.Repeat > 1000 {
		errs = append(errs, fmt.Errorf("--repeat %d: want 1 to 1000", c.Repeat))
	}
	switch {
	case math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate < 0:
		errs = append(errs, fmt.Errorf("--rate %v: give a finite number of ops/s, or 0 for closed loop", c.Rate))
	case c.Rate > RateMax:
		// Past this the schedule's interval rounds towards 0 ns and the
		// dispatcher cannot keep up: the run would be closed loop while
		// labelled open loop.
		errs = append(errs, fmt.Errorf("--rate %v: at most %v ops/s can be scheduled (one op per %v); omit --rate to measure the most the engine sustains (closed loop)", c.Rate, float64(RateMax), time.Duration(float64(time.Second)/RateMax)))
	case c.Rate > 0 && c.Ops == 0 && c.Duration > 0 && c.Rate*c.Duration.Seconds() < 1:
		errs = append(errs, fmt.Errorf("--rate %v with --duration %s schedules less than one op: give a rate of at least %.3g ops/s or a longer --duration", c.Rate, c.Duration, 1/c.Duration.Seconds()))
	}
	if c.Probe && c.ProbeBytes < ProbeBytesMin {
		errs = append(errs, fmt.Errorf("--probe-bytes %d: want at least %d (one 1MiB write; default 256MiB)", c.ProbeBytes, ProbeBytesMin))
	}
	if c.Records < 0 {
		errs = append(errs, fmt.Errorf("--records %d: want a positive record count (or 0 for each workload's own)", c.Records))
	}
	if c.Values != "" {
		if _, err := workloads.ParseConfig("read=100,values=" + c.Values); err != nil {
			errs = append(errs, fmt.Errorf("--values %q: %v (give a size such as 4KiB, or a distribution such as uniform:100B:10KiB)", c.Values, err))
		}
	}
	if c.Warmup < 0 {
		errs = append(errs, fmt.Errorf("--warmup must not be negative"))
	}
	if c.Out == "" {
		errs = append(errs, fmt.Errorf("no output directory (use --out DIR)"))
	}
	return errors.Join(errs...)
}

// Scaled is workload spec as this config runs it: with Records and Values
// added as records= and values= terms where the spec has none of its own
// (Records not to a fill, which loads nothing). It is idempotent.
func (c *Config) Scaled(spec string) (string, error) {
	if c.Records <= 0 && c.Values == "" {
		return spec, nil
	}
	wc, err := workloads.ParseConfig(spec)
	if err != nil {
		return spec, err
	}
	has := func(term string) bool {
		for _, t := range strings.Split(spec, ",") {
			if strings.HasPrefix(strings.TrimSpace(t), term+"=") {
				return true
			}
		}
		return false
	}
	fill := wc.Mix.Insert > 0 && wc.Mix.Insert == wc.Mix.Total() && wc.Records == 0
	if c.Records > 0 && !fill && !has("records") {
		spec += ",records=" + strconv.FormatInt(c.Records, 10)
	}
	if c.Values != "" && !has("values") && !has("fields") && !has("fieldlength") {
		spec += ",values=" + c.Values
	}
	return spec, nil
}
