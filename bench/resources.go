package bench

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gauntlet-kv/gauntlet/internal/cgroup"
)

// Resources are what a run's measured phase cost the process running it
// (the child process of `harness bench`, so the engine's own, plus a
// driver whose cost BenchmarkDriverOverhead puts near 300 ns an op): CPU,
// memory and device traffic, the same way for every engine, whether it
// keeps counters of its own (Run.Stats) or not.
type Resources struct {
	// CPUUserSec and CPUSysSec are the process's rusage deltas over the
	// measured phase; CPUUsPerOp is their sum per op attempted (done,
	// failed or missed), in µs.
	CPUUserSec float64 `json:"cpu_user_sec"`
	CPUSysSec  float64 `json:"cpu_sys_sec"`
	CPUUsPerOp float64 `json:"cpu_us_per_op"`
	// RSS is VmRSS from /proc/self/status and GoHeap the bytes of live and
	// not yet swept heap objects (runtime/metrics), sampled every
	// ResourceSampleEvery over the measured phase: their peak and mean.
	RSSPeakBytes    int64 `json:"rss_peak_bytes"`
	RSSMeanBytes    int64 `json:"rss_mean_bytes"`
	GoHeapPeakBytes int64 `json:"go_heap_peak_bytes"`
	GoHeapMeanBytes int64 `json:"go_heap_mean_bytes"`
	Samples         int   `json:"samples"`
	// DeviceReadBytes and DeviceWriteBytes are the deltas of read_bytes
	// and write_bytes in /proc/self/io: what the process made the block
	// layer read (page-cache misses, O_DIRECT reads) and what it dirtied
	// or wrote directly, counted by the kernel for every engine alike.
	// Absent (zero, IOCounters false) where the kernel does not expose
	// them.
	DeviceReadBytes  int64 `json:"device_read_bytes"`
	DeviceWriteBytes int64 `json:"device_write_bytes"`
	IOCounters       bool  `json:"io_counters"`
	// ReadAmplification is DeviceReadBytes over the value bytes the
	// workload read, WriteAmplification DeviceWriteBytes over those it
	// wrote; zero when it read or wrote none.
	ReadAmplification  float64 `json:"read_amplification,omitempty"`
	WriteAmplification float64 `json:"write_amplification,omitempty"`
	// MemoryLimitBytes is the lowest cgroup memory limit the run's process
	// was under (cgroup.MemoryLimit), 0 if none.
	MemoryLimitBytes int64 `json:"memory_limit_bytes,omitempty"`
}

// ResourceSampleEvery is how often RSS and the Go heap are sampled.
const ResourceSampleEvery = 100 * time.Millisecond

// resourceMeter measures one phase: start it before the phase, stop it
// after.
type resourceMeter struct {
	ru0      syscall.Rusage
	rd0, wr0 int64
	io       bool
	stop     chan struct{}
	done     sync.WaitGroup
	// samples, written by the sampler until stop
	n                int
	rssMax, rssSum   int64
	heapMax, heapSum int64
	heapSample       []metrics.Sample
}

func startResources() *resourceMeter {
	m := &resourceMeter{stop: make(chan struct{})}
	m.heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	syscall.Getrusage(syscall.RUSAGE_SELF, &m.ru0)
	m.rd0, m.wr0, m.io = procIO()
	m.sample()
	m.done.Add(1)
	go func() {
		defer m.done.Done()
		t := time.NewTicker(ResourceSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.sample()
			}
		}
	}()
	return m
}

func (m *resourceMeter) sample() {
	if rss := procRSS(); rss > 0 {
		m.rssMax = max(m.rssMax, rss)
		m.rssSum += rss
	}
	metrics.Read(m.heapSample)
	var heap int64
	if v := m.heapSample[0].Value; v.Kind() == metrics.KindUint64 {
		heap = int64(v.Uint64())
	}
	m.heapMax = max(m.heapMax, heap)
	m.heapSum += heap
	m.n++
}

// finish stops the sampler and returns the phase's figures: ops is the
// ops attempted, read and written the value bytes the workload moved.
func (m *resourceMeter) finish(ops, read, written int64) *Resources {
	close(m.stop)
	m.done.Wait()
	m.sample()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	r := &Resources{
		CPUUserSec:       time.Duration(ru.Utime.Nano() - m.ru0.Utime.Nano()).Seconds(),
		CPUSysSec:        time.Duration(ru.Stime.Nano() - m.ru0.Stime.Nano()).Seconds(),
		RSSPeakBytes:     m.rssMax,
		RSSMeanBytes:     m.rssSum / int64(m.n),
		GoHeapPeakBytes:  m.heapMax,
		GoHeapMeanBytes:  m.heapSum / int64(m.n),
		Samples:          m.n,
		MemoryLimitBytes: cgroup.MemoryLimit(),
	}
	if ops > 0 {
		r.CPUUsPerOp = (r.CPUUserSec + r.CPUSysSec) * 1e6 / float64(ops)
	}
	if rd, wr, ok := procIO(); ok && m.io {
		r.IOCounters = true
		r.DeviceReadBytes, r.DeviceWriteBytes = max(rd-m.rd0, 0), max(wr-m.wr0, 0)
		if read > 0 {
			r.ReadAmplification = float64(r.DeviceReadBytes) / float64(read)
		}
		if written > 0 {
			r.WriteAmplification = float64(r.DeviceWriteBytes) / float64(written)
		}
	}
	return r
}

// procRSS is VmRSS of /proc/self/status in bytes, 0 where there is none.
func procRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return procField(b, "VmRSS:") * 1024 // the kernel writes kB
}

// procIO is read_bytes and write_bytes of /proc/self/io.
func procIO() (read, written int64, ok bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0, false
	}
	return procField(b, "read_bytes:"), procField(b, "write_bytes:"), true
}

// procField is the number after name at the start of a line of b.
func procField(b []byte, name string) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte(name)); ok {
			f := bytes.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			n, _ := strconv.ParseInt(string(f[0]), 10, 64)
			return n
		}
	}
	return 0
}

// spaceSampler samples, once a second of the measured phase, the device
// bytes the process has written (/proc/self/io) and the space the run's
// directory takes (allocated blocks): write amplification and reclaimed
// bytes over time, for a workload that keeps its device full (shard).
type spaceSampler struct {
	dir    string
	stop   chan struct{}
	done   sync.WaitGroup
	wr0    int64
	space0 int64
	wrs    []int64 // cumulative device bytes written, per second
	spaces []int64 // allocated bytes, at the end of each second
}

func startSpaceSampler(dir string) *spaceSampler {
	s := &spaceSampler{dir: dir, stop: make(chan struct{})}
	_, s.wr0, _ = procIO()
	s.space0 = dirSpace(dir)
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				_, wr, _ := procIO()
				s.wrs = append(s.wrs, wr-s.wr0)
				s.spaces = append(s.spaces, dirSpace(s.dir))
			}
		}
	}()
	return s
}

// finish stops the sampler and writes its samples into the timeline:
// per second the device bytes written, the space taken, and the bytes
// reclaimed so far — written beyond the growth of the space taken, that
// is, into space the engine freed (compaction, GC, extent reclamation)
// and reused. Zero for an engine that preallocates its device until it
// has filled it once.
func (s *spaceSampler) finish(tl []TimelinePoint) {
	close(s.stop)
	s.done.Wait()
	var prev int64
	for i := range min(len(tl), len(s.wrs)) {
		tl[i].DeviceWriteBytes = max(s.wrs[i]-prev, 0)
		prev = s.wrs[i]
		tl[i].SpaceBytes = s.spaces[i]
		tl[i].ReclaimedBytes = max(s.wrs[i]-(s.spaces[i]-s.space0), 0)
	}
}

// dirSpace is the space the files under dir take on the device: their
// allocated blocks, so a sparse device file counts what was written to it.
func dirSpace(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		var st syscall.Stat_t
		if syscall.Lstat(path, &st) == nil {
			total += st.Blocks * 512
		}
		return nil
	})
	return total
}
