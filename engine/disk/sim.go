package disk

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
)

// A simulated device: an in-memory Mem whose every IO takes the time a
// model of a hard disk or an SSD says it would, on a virtual clock instead
// of the wall clock. An engine opened on a Sim with Sim.Clock as its clock
// runs in virtual time: its latencies are the model's service times (and
// the queueing behind other IOs), not the machine's, so a run is the same
// for a seed however loaded the machine is, and a day of simulated IO
// takes seconds.
//
// The device has one queue: IOs are served one at a time in the order
// they reach it (a hard disk has one head; an SSD's internal parallelism
// is folded into its bandwidth). The CPU is free in virtual time.
//
// Two clocks. Made inside a controlled execution of engine/conc (-tags
// interleave, conc.Active), a Sim runs on the scheduler's virtual clock:
// an IO starts when the device is free (at the call, or when the IOs
// queued before it end), and its caller sleeps until it ends, while the
// other tasks run; the clock moves only when every task waits, so a run
// is a function of its schedule's seed alone (harness bench runs
// simulated engines so). Made anywhere else, a Sim has a ManualClock that
// each IO advances by its service time at once, whoever waits on it:
// the IOs are timed by the model, but which IOs the engine issues, and
// when, still depends on how the machine schedules its goroutines.

// SimKind is the model a Sim runs.
type SimKind string

// The models.
const (
	SimHDD SimKind = "hdd"
	SimSSD SimKind = "ssd"
)

// SSDModel is the latency of a flash device: an IO costs its access
// latency plus its length over the bandwidth; no seeks.
type SSDModel struct {
	// ReadLatency and WriteLatency are the fixed cost of an IO. Defaults
	// 80µs and 20µs (a datacenter NVMe drive's 4 KiB random read, and a
	// write absorbed by its power-protected cache).
	ReadLatency, WriteLatency time.Duration
	// Bandwidth in bytes per second. Default 2e9.
	Bandwidth float64
	// FlushTime is the cost of a Flush. Default 30µs (power-loss-protected
	// drives acknowledge a flush from their cache).
	FlushTime time.Duration
}

// SSD defaults.
const (
	SSDReadLatencyDefault  = 80 * time.Microsecond
	SSDWriteLatencyDefault = 20 * time.Microsecond
	SSDBandwidthDefault    = 2e9
	SSDFlushTimeDefault    = 30 * time.Microsecond
)

// EnsureDefaults fills every zero field with its default.
func (s *SSDModel) EnsureDefaults() {
	if s.ReadLatency == 0 {
		s.ReadLatency = SSDReadLatencyDefault
	}
	if s.WriteLatency == 0 {
		s.WriteLatency = SSDWriteLatencyDefault
	}
	if s.Bandwidth == 0 {
		s.Bandwidth = SSDBandwidthDefault
	}
	if s.FlushTime == 0 {
		s.FlushTime = SSDFlushTimeDefault
	}
}

// SimOptions configure a Sim. The zero value is a hard disk with the
// defaults of HDDModel and SimOptions.
type SimOptions struct {
	// Kind is the model: SimHDD (default) or SimSSD.
	Kind SimKind
	// HDD and SSD are the models' parameters (zero fields: defaults).
	// HDD.SeekFullBytes defaults to Capacity.
	HDD HDDModel
	SSD SSDModel
	// Capacity is the size of the disk the device is a part of, for the
	// seek curve: a store on the first 256 MiB of an 8 TB disk seeks over
	// a sliver of the stroke. Default: the device's size (the store spans
	// the whole stroke, the worst case).
	Capacity int64
	// WriteCache, for a hard disk: writes return once in the drive's cache
	// (their transfer over the link at LinkBandwidth), and the next Flush
	// pays for putting them on the platters (seek, rotation and transfer
	// of each in the order written) plus HDD.FlushTime. Off, every write
	// pays its media cost at once and a Flush costs nothing more. Default
	// off (WriteCacheSet false): a storage node that flushes for
	// durability gains nothing from a volatile cache it must drain.
	WriteCache    bool
	WriteCacheSet bool
	// LinkBandwidth is the host link's rate in bytes per second (a write
	// into the cache). Default 600e6 (SATA 6 Gb/s).
	LinkBandwidth float64
	// Start is the virtual clock's start. Default the Unix epoch.
	Start time.Time
}

// LinkBandwidthDefault is SATA 3's payload rate.
const LinkBandwidthDefault = 600e6

// SimStats are a Sim's totals.
type SimStats struct {
	Reads, Writes, Flushes int64
	// Busy is the virtual time the device spent serving IOs: with one
	// queue, the clock's advance.
	Busy time.Duration
	// SeekBytes sums the distance the head moved (hard disk).
	SeekBytes int64
}

// SimIO describes one IO a Sim served, for an observer (an IO trace).
type SimIO struct {
	// Start is the virtual time the IO started, Service how long it took.
	Start   time.Time
	Service time.Duration
	Op      Op // OpRead, OpWrite or OpFlush
	Off     int64
	Len     int
}

// Sim is a simulated device: see SimOptions.
type Sim struct {
	mem    *Mem
	clock  conc.Clock
	manual *conc.ManualClock // nil in a controlled execution
	// busyUntil is when the IOs queued so far end (controlled execution).
	busyUntil time.Time
	opts      SimOptions
	hdd       HDDModel
	ssd       SSDModel

	rng     *rand.Rand // HDD.RotationRandom's draws: seeded, so a run repeats
	mu      sync.Mutex // serializes IOs: one queue
	head    int64
	cached  []IO // unflushed writes in the drive's cache (WriteCache)
	stats   SimStats
	observe func(SimIO)
}

// NewSim makes a simulated device of size bytes (kept in memory) with
// sectors of sectorSize bytes.
func NewSim(size int64, sectorSize int, opts SimOptions) (*Sim, error) {
	if opts.Kind == "" {
		opts.Kind = SimHDD
	}
	var errs []error
	if opts.Kind != SimHDD && opts.Kind != SimSSD {
		errs = append(errs, fmt.Errorf("disk: sim kind %q: want %s or %s", opts.Kind, SimHDD, SimSSD))
	}
	if opts.Capacity == 0 {
		opts.Capacity = size
	}
	if opts.Capacity < size {
		errs = append(errs, fmt.Errorf("disk: sim capacity %d is below the device's %d bytes", opts.Capacity, size))
	}
	if opts.LinkBandwidth == 0 {
		opts.LinkBandwidth = LinkBandwidthDefault
	}
	if opts.LinkBandwidth < 0 || math.IsNaN(opts.LinkBandwidth) || math.IsInf(opts.LinkBandwidth, 0) {
		errs = append(errs, fmt.Errorf("disk: sim link bandwidth %v: must be positive", opts.LinkBandwidth))
	}
	if err := opts.HDD.Validate(); err != nil {
		errs = append(errs, err)
	}
	if opts.SSD.ReadLatency < 0 || opts.SSD.WriteLatency < 0 || opts.SSD.FlushTime < 0 || opts.SSD.Bandwidth < 0 {
		errs = append(errs, errors.New("disk: sim SSD latencies and bandwidth must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Start.IsZero() {
		opts.Start = time.Unix(0, 0)
	}
	s := &Sim{mem: NewMem(size, sectorSize), opts: opts, hdd: opts.HDD, ssd: opts.SSD,
		rng: rand.New(rand.NewPCG(1, 2))}
	if conc.Active() {
		s.clock = conc.DefaultClock()
	} else {
		s.manual = conc.NewManualClock(opts.Start)
		s.clock = s.manual
	}
	s.hdd.EnsureDefaults(opts.Capacity)
	s.ssd.EnsureDefaults()
	return s, nil
}

// Clock is the device's virtual clock: give it to the engine as its clock.
// In a controlled execution it is the scheduler's (conc.DefaultClock);
// elsewhere a ManualClock every IO advances by the IO's service time.
func (s *Sim) Clock() conc.Clock { return s.clock }

// Controlled reports whether the Sim runs on a controlled execution's
// clock, its runs then being deterministic (see Sim).
func (s *Sim) Controlled() bool { return s.manual == nil }

// Observe sets a function called with every IO served, in order, under the
// device's lock (keep it short). Nil: none.
func (s *Sim) Observe(f func(SimIO)) {
	s.mu.Lock()
	s.observe = f
	s.mu.Unlock()
}

// Stats returns the totals so far.
func (s *Sim) Stats() SimStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Options returns the options with their defaults.
func (s *Sim) Options() SimOptions {
	o := s.opts
	o.HDD, o.SSD = s.hdd, s.ssd
	return o
}

func (s *Sim) Size() int64     { return s.mem.Size() }
func (s *Sim) SectorSize() int { return s.mem.SectorSize() }

// media is a hard disk's time to put n bytes at off on or off the platter
// from where its head is, and moves the head.
func (s *Sim) media(off int64, n int) time.Duration {
	d := off - s.head
	if d < 0 {
		s.stats.SeekBytes -= d
	} else {
		s.stats.SeekBytes += d
	}
	s.head = off + int64(n)
	return s.hdd.cost(d, n, s.rng)
}

func bytesTime(n int, bw float64) time.Duration {
	return time.Duration(float64(n) / bw * float64(time.Second))
}

// serve charges one IO and tells the observer. Called with s.mu held; it
// returns how long the caller must then sleep (controlled execution: the
// IO queues behind the device's earlier ones), having advanced the
// ManualClock by the service time otherwise.
func (s *Sim) serve(op Op, off int64, n int, t time.Duration) time.Duration {
	now := s.clock.Now()
	start := now
	if s.manual == nil && s.busyUntil.After(now) {
		start = s.busyUntil
	}
	s.stats.Busy += t
	if s.observe != nil {
		s.observe(SimIO{Start: start, Service: t, Op: op, Off: off, Len: n})
	}
	if s.manual != nil {
		s.manual.Advance(t)
		return 0
	}
	s.busyUntil = start.Add(t)
	return s.busyUntil.Sub(now)
}

// wait sleeps out an IO's queueing and service on the controlled
// execution's clock (the device's lock released: other tasks queue IOs
// meanwhile).
func (s *Sim) wait(d time.Duration) {
	if d > 0 {
		s.clock.Sleep(d)
	}
}

func (s *Sim) ReadAt(p []byte, off int64) (int, error) {
	n, d, err := s.readAt(p, off)
	s.wait(d)
	return n, err
}

func (s *Sim) readAt(p []byte, off int64) (int, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.mem.ReadAt(p, off)
	if err != nil {
		return n, 0, err
	}
	s.stats.Reads++
	var t time.Duration
	if s.opts.Kind == SimSSD {
		t = s.ssd.ReadLatency + bytesTime(len(p), s.ssd.Bandwidth)
	} else {
		t = s.media(off, len(p))
	}
	return n, s.serve(OpRead, off, len(p), t), nil
}

func (s *Sim) WriteAt(p []byte, off int64) (int, error) {
	n, d, err := s.writeAt(p, off)
	s.wait(d)
	return n, err
}

func (s *Sim) writeAt(p []byte, off int64) (int, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.mem.WriteAt(p, off)
	if err != nil {
		return n, 0, err
	}
	s.stats.Writes++
	var t time.Duration
	switch {
	case s.opts.Kind == SimSSD:
		t = s.ssd.WriteLatency + bytesTime(len(p), s.ssd.Bandwidth)
	case s.opts.WriteCache:
		t = bytesTime(len(p), s.opts.LinkBandwidth)
		s.cached = append(s.cached, IO{Op: OpWrite, Off: off, Len: len(p)})
	default:
		t = s.media(off, len(p))
	}
	return n, s.serve(OpWrite, off, len(p), t), nil
}

func (s *Sim) Flush() error {
	d, err := s.flush()
	s.wait(d)
	return err
}

func (s *Sim) flush() (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.mem.Flush(); err != nil {
		return 0, err
	}
	s.stats.Flushes++
	var t time.Duration
	switch {
	case s.opts.Kind == SimSSD:
		t = s.ssd.FlushTime
	case s.opts.WriteCache:
		for _, io := range s.cached {
			t += s.media(io.Off, io.Len)
		}
		s.cached = s.cached[:0]
		t += s.hdd.FlushTime
	}
	return s.serve(OpFlush, 0, 0, t), nil
}

func (s *Sim) Close() error { return s.mem.Close() }
