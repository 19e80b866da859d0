package shardstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/iosched"
)

// Options configure a Store. The zero value is valid: every field has a
// documented default, filled in by EnsureDefaults. DefaultOptions returns
// a fresh value with the defaults.
type Options struct {
	// ExtentBytes is the extent size: a multiple of 4 KiB, 4 KiB to 2 GiB.
	// Default: a device's own if it is formatted, else DefaultExtentBytes
	// of its size: 4 MiB up to 64 GiB, large enough that appends are
	// sequential, small enough that a deleted shard frees extents whole.
	ExtentBytes int64
	// ChunkPayloadMax is the largest chunk payload; values are split into
	// chunks of at most this size. Default min(1 MiB, ExtentBytes/4).
	ChunkPayloadMax int
	// CacheBytes is the buffer cache's capacity. Default a quarter of the
	// memory the process may use (the machine's, or its cgroup's limit if
	// lower), rounded down to 64 MiB (memory.go says why: the device is
	// read with O_DIRECT, so this cache is the only one shardstore's
	// reads have, where the peers' reads also have the page cache). The
	// cache grows as it fills, and an idle store holds none of it; its
	// pages are held off the Go heap, so a full cache costs its size, not
	// twice it.
	CacheBytes int64
	// ValueCacheBytes bounds the copies of values the memtable keeps, so
	// that a get of a key put recently returns its value without reading
	// the key's chunk (through the IO scheduler's queue or the buffer
	// cache, both filled by another goroutine, which on a small machine
	// costs the reader cache misses for every line of the value). Only
	// values of at most ValueCacheValueMax are kept, and only while their
	// entry is in a memtable: a memtable written out as a run drops them.
	// Default 4 MiB; negative keeps none (every get reads chunks).
	ValueCacheBytes int64
	// RowCacheBytes bounds the row cache: values of at most
	// RowCacheValueMax, kept by key once read, so that a get of a hot key
	// costs one map lookup instead of an index search and a read through
	// the buffer cache (rowcache.go). Default an eighth of CacheBytes;
	// negative keeps none.
	RowCacheBytes int64
	// MemtableBytes: the memtable is written out as an index run once its
	// entries take this many bytes, even if nobody syncs. Default 4 MiB.
	MemtableBytes int
	// FlushInterval is the cadence: writes nobody syncs become durable
	// (data flushed, index run, metadata and superblock written) at most
	// about this long after they are acknowledged. Default 50ms.
	FlushInterval conc.Duration
	// Scheduler is the IO scheduling policy. Default iosched.PolicyCoalesce.
	Scheduler iosched.Policy
	// IODepth is how many device writes the IO scheduler keeps in flight
	// at once. Default iosched.IODepthDefault (8).
	IODepth int
	// QueueBytesMax bounds the bytes of writes queued in the IO scheduler
	// and not yet issued; a put that would pass it waits (queue
	// back-pressure). Default iosched.QueueBytesMaxDefault (64 MiB); a
	// check sets it small to reach the wait.
	QueueBytesMax int64
	// ReserveExtents: client puts fail with engine.ErrNoSpace rather than
	// take one of the last ReserveExtents free extents, which the index,
	// metadata and reclamation need to make progress on a full device
	// (evacuation may not take the last two, index runs the last one;
	// see the package documentation, Space). Default 4.
	ReserveExtents int
	// ReclaimFreeExtents is reclamation's low watermark: a write that
	// finds no space reclaims until this many extents are free, and
	// background reclamation keeps this many, or a thirty-second of the
	// device's extents if more, free. Default 2×ReserveExtents.
	ReclaimFreeExtents int
	// Seed seeds the chunk UUIDs. Default 0: random. Tests set it.
	Seed uint64
	// DepNodesMax bounds the dependency graph's undurable writes (each
	// chunk takes two nodes): a put past it waits for a flush. Default
	// dep.NodesMaxDefault; at least 2.
	DepNodesMax int
	// Mutant names a seeded bug of engine/shardstore/mutant to turn on
	// while the store is open. Only a binary built with -tags mutants has
	// them; elsewhere Open refuses any name but "" and "none".
	Mutant string
	// Clock is the source of time. Default conc.DefaultClock().
	Clock conc.Clock
	// Observer, if set, hears the states the store reaches (engine.Events
	// and engine.Phases): package coverage counts them per checker.
	// Default nil: each would-be event costs a nil check.
	Observer engine.Observer

	// Sim, if set, makes OpenDir run the store on a simulated device of
	// DeviceBytes in memory, in virtual time (sim.go). Default nil: a file.
	Sim *disk.SimOptions
	// IOTrace, if set, is a file OpenDir records every device IO into
	// (engine/iotrace). Default "": none.
	IOTrace string

	// DevicePath, DeviceBytes and Direct are used by OpenDir only.
	//
	// DevicePath is the file or block device to open; a relative path is
	// inside the directory. Default "shardstore.dev".
	DevicePath string
	// DeviceBytes is the size of a device file OpenDir creates. Default
	// 4 GiB (a block device is used whole).
	DeviceBytes int64
	// Direct opens the device with O_DIRECT. Default true (OpenDir falls
	// back to buffered IO where the file system cannot do direct IO);
	// DirectSet must be true for a false Direct to be honoured, so that
	// the zero value means the default.
	Direct    bool
	DirectSet bool

	// extentAuto and chunkAuto say ExtentBytes and ChunkPayloadMax were
	// defaulted (EnsureDefaults), so Open may take the device's own.
	extentAuto, chunkAuto bool
	// SkipPrewrite makes OpenDir preallocate a device file it creates
	// (fallocate) instead of writing zeros over it. Default false: the
	// file is prewritten (disk.FileOptions.Prewrite), which costs its size
	// at sequential bandwidth once, at creation (about 3 s for 4 GiB),
	// and then keeps every first write into it from converting an
	// unwritten extent: on ext4 that conversion makes each fdatasync
	// commit the journal, 2–3× the cost of the flush itself.
	SkipPrewrite bool
	// ForceFormat formats the device on open whatever it holds: every
	// key on it is lost. Without it Open formats only a blank device and
	// refuses one that holds data but no valid superblock (NotBlankError).
	// Only an explicit user action sets it ('harness shardstore format
	// --force'); no engine spec does.
	ForceFormat bool
}

// CacheBytesDefault is Options.CacheBytes's default on this machine: a
// quarter of the memory the process may use, in multiples of 64 MiB
// (memory.go).
var CacheBytesDefault = defaultCacheBytes()

// Defaults.
const (
	// ExtentBytesDefault is the extent size of a device of up to 64 GiB
	// (ExtentCountTarget extents of it); a larger device's default doubles
	// it until the device holds at most ExtentCountTarget (DefaultExtentBytes).
	// 4 MiB, not 16: a storage node's shards of 1-8 MiB, deleted at random
	// on a device kept 80% full, leave 4 MiB extents mostly wholly dead,
	// and 16 MiB extents holding parts of live ones: reclamation moved
	// 0.54 bytes per byte written with 16 MiB and 0.06 with 4 MiB, at
	// half the throughput (docs/PERFORMANCE.md, "The shard workload at 80%
	// full").
	ExtentBytesDefault = 4 << 20
	// ExtentCountTarget is the most extents a default extent size gives a
	// device: the superblock records 16 bytes an extent and is written whole
	// at each flush.
	ExtentCountTarget    = 16384
	MemtableBytesDefault = 4 << 20
	ValueCacheDefault    = 4 << 20
	// ValueCacheValueMax is the largest value the memtable keeps a copy
	// of (Options.ValueCacheBytes): a cache page. Larger values are
	// copied at a cost that a get saves little of (fill-64k's values).
	ValueCacheValueMax = 4 << 10
	// RowCacheValueMax is the largest value the row cache keeps.
	RowCacheValueMax = 4 << 10
	// rowCacheShare: the row cache's default is CacheBytes/rowCacheShare.
	rowCacheShare         = 8
	FlushIntervalDefault  = 50 * conc.Millisecond
	ReserveExtentsDefault = 4
	DevicePathDefault     = "shardstore.dev"
	DeviceBytesDefault    = 4 << 30
	// ValueMax is the largest value a Store accepts.
	ValueMax = 64 << 20
)

// DefaultExtentBytes is the extent size a device of deviceBytes is
// formatted with when Options.ExtentBytes is not given.
func DefaultExtentBytes(deviceBytes int64) int64 {
	e := int64(ExtentBytesDefault)
	for deviceBytes/e > ExtentCountTarget && e < extent.ExtentBytesMax {
		e *= 2
	}
	return e
}

func chunkPayloadDefault(extentBytes int64) int { return int(min(1<<20, extentBytes/4)) }

// adoptExtentBytes gives options whose extent size was defaulted the
// size the device was formatted with, so that a device formatted under
// another default (or with an explicit extent=) opens without naming it.
func (o *Options) adoptExtentBytes(formatted int64) {
	if !o.extentAuto || formatted == o.ExtentBytes {
		return
	}
	o.ExtentBytes = formatted
	if o.chunkAuto {
		o.ChunkPayloadMax = chunkPayloadDefault(formatted)
	}
}

// DefaultOptions returns the options with every default filled in.
func DefaultOptions() Options {
	var o Options
	o.EnsureDefaults()
	return o
}

// EnsureDefaults fills in zero fields.
func (o *Options) EnsureDefaults() {
	if o.DeviceBytes == 0 {
		o.DeviceBytes = DeviceBytesDefault
	}
	if o.ExtentBytes == 0 {
		o.ExtentBytes, o.extentAuto = DefaultExtentBytes(o.DeviceBytes), true
	}
	if o.ChunkPayloadMax == 0 {
		o.ChunkPayloadMax, o.chunkAuto = chunkPayloadDefault(o.ExtentBytes), true
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = CacheBytesDefault
	}
	if o.MemtableBytes == 0 {
		o.MemtableBytes = MemtableBytesDefault
	}
	if o.ValueCacheBytes == 0 {
		o.ValueCacheBytes = ValueCacheDefault
	}
	if o.RowCacheBytes == 0 {
		o.RowCacheBytes = max(o.CacheBytes/rowCacheShare, 1)
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = FlushIntervalDefault
	}
	if o.Scheduler == "" {
		o.Scheduler = iosched.PolicyCoalesce
	}
	if o.IODepth == 0 {
		o.IODepth = iosched.IODepthDefault
	}
	if o.QueueBytesMax == 0 {
		o.QueueBytesMax = iosched.QueueBytesMaxDefault
	}
	if o.ReserveExtents == 0 {
		o.ReserveExtents = ReserveExtentsDefault
	}
	if o.ReclaimFreeExtents == 0 {
		o.ReclaimFreeExtents = 2 * o.ReserveExtents
	}
	if o.Clock == nil {
		o.Clock = conc.DefaultClock()
	}
	if o.DevicePath == "" {
		o.DevicePath = DevicePathDefault
	}
	if o.DeviceBytes == 0 {
		o.DeviceBytes = DeviceBytesDefault
	}
	if !o.DirectSet {
		o.Direct, o.DirectSet = true, true
	}
}

// Validate reports every invalid field (call it after EnsureDefaults, or
// on options given explicitly to catch an explicit zero).
func (o Options) Validate() error {
	var errs []error
	if o.ExtentBytes < extent.ExtentBytesMin || o.ExtentBytes > extent.ExtentBytesMax || o.ExtentBytes%4096 != 0 {
		errs = append(errs, fmt.Errorf("extent size %d: want a multiple of 4KiB from %d to %d", o.ExtentBytes, extent.ExtentBytesMin, extent.ExtentBytesMax))
	}
	if o.ChunkPayloadMax < 256 || int64(o.ChunkPayloadMax)+format.FrameOverhead > o.ExtentBytes/2 {
		errs = append(errs, fmt.Errorf("chunk payload max %d: want at least 256 and a frame within half an extent (%d bytes)", o.ChunkPayloadMax, o.ExtentBytes/2))
	}
	if o.CacheBytes < 0 {
		errs = append(errs, fmt.Errorf("cache size %d is negative", o.CacheBytes))
	}
	if o.MemtableBytes < 0 {
		errs = append(errs, fmt.Errorf("memtable size %d is negative", o.MemtableBytes))
	}
	if o.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("flush interval %v is negative", o.FlushInterval))
	}
	if o.Scheduler != "" && !o.Scheduler.Valid() {
		errs = append(errs, fmt.Errorf("scheduler policy %q: want one of %v", o.Scheduler, iosched.Policies()))
	}
	if o.IODepth < 0 {
		errs = append(errs, fmt.Errorf("IO depth %d is negative", o.IODepth))
	}
	if o.QueueBytesMax < 0 {
		errs = append(errs, fmt.Errorf("queue bytes max %d is negative", o.QueueBytesMax))
	}
	if o.ReserveExtents < 0 || o.ReclaimFreeExtents < 0 {
		errs = append(errs, errors.New("reserve and reclaim thresholds must not be negative"))
	}
	if o.DeviceBytes < 0 {
		errs = append(errs, fmt.Errorf("device size %d is negative", o.DeviceBytes))
	}
	if o.DepNodesMax != 0 && o.DepNodesMax < 2 {
		errs = append(errs, fmt.Errorf("dependency nodes max %d: want at least 2 (a chunk takes two)", o.DepNodesMax))
	}
	if len(errs) > 0 {
		// One line: the CLI shows an error as one line, and every problem
		// should be in it.
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("shardstore: invalid options: %s: %w", strings.Join(msgs, "; "), engine.ErrInvalidArgument)
	}
	return nil
}

func (o Options) chunkOptions() chunk.Options {
	var c chunk.Options
	c.ExtentBytes = o.ExtentBytes
	c.ChunkPayloadMax = o.ChunkPayloadMax
	c.Seed = o.Seed
	c.Dep.NodesMax = o.DepNodesMax
	c.ReserveExtents = o.ReserveExtents
	c.Scheduler.Policy = o.Scheduler
	c.Scheduler.IODepth = o.IODepth
	c.Scheduler.QueueBytesMax = o.QueueBytesMax
	c.Scheduler.FlushInterval = o.FlushInterval
	c.Scheduler.Clock = o.Clock
	c.Cache.CapacityBytes = o.CacheBytes
	c.Observer, c.Scheduler.Observer, c.Cache.Observer, c.Dep.Observer = o.Observer, o.Observer, o.Observer, o.Observer
	if o.CacheBytes == 0 {
		c.Cache.CapacityBytes = 1 // the chunk cache treats 0 as its default
	}
	return c
}
