package shardstore

import (
	"fmt"
	"strconv"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/iosched"
)

// How shardstore runs on a device its caller makes (engine.Driver.Device):
// the checkers run it so, on an in-memory, crashable disk.Mem.
//
// A check needs a small engine, so that extents fill, the memtable
// flushes, compaction and reclamation run, the cache evicts and the device
// runs full within a case of a few dozen ops. Options the engine spec
// leaves unset take these check defaults instead of the production ones:
//
//	size         CheckDeviceBytes (1 MiB: 16 extents)
//	extent       CheckExtentBytes (64 KiB; chunks are at most a quarter of it)
//	cache        CheckCacheBytes (16 KiB: four pages)
//	memtable     CheckMemtableBytes (1 KiB: a run every dozen or so writes)
//	value-cache  CheckValueCacheBytes (1 KiB: a few small values kept in the
//	             memtable, so gets exercise both the kept copies and the
//	             chunk path; the production 4 MiB would answer nearly every
//	             get from memory)
//	row-cache    CheckRowCacheBytes (4 KiB: values up to about 1,000
//	             bytes kept by key once read, a few at a time)
//
// and, with no spec option of its own, the chunk payload is at most
// CheckChunkPayloadMax (1 KiB) instead of a quarter extent (16 KiB). A
// checker's 64 short keys make index runs of one to a few KiB: with 16 KiB
// chunks a run never spanned two, so the code that splits a run, its
// metadata and root across chunks (and a crash between them) was out of
// every check's reach. At 1 KiB about half the runs span two chunks or
// more (checkers/target/shardtarget TestRunsSpanChunks), for about a fifth
// more CPU per case (values of an extent now take 65 chunks, not 5).
//
// The dependency graph holds at most CheckDepNodesMax (256) undurable
// nodes instead of 64Ki. A chunk takes two and the largest value 65
// chunks, so a correct engine still admits any put, flushing first when
// the graph is full; but a node that never completes (a write-pointer
// waiter lost, a failed node whose room is never given back) now stalls
// puts within a case, which conformance reports as an op that hangs. At
// 64Ki such a leak needed tens of thousands of chunks in one session.
//
// Options a spec sets apply as given; "size" is then the size of the
// device. "path", "direct" and "prewrite" do not apply (there is no
// file); "io-depth" applies as given (how many device writes the IO
// scheduler keeps in flight is a scheduling choice checkers/differential
// compares; it was once dropped here, so every io-depth ran the default);
// so does "queue" (a check sets it small to reach queue back-pressure).
// "mutant" applies as given: a seeded bug dropped here would
// let a check pass that should fail.
//
// Time is frozen: unless the spec sets flush-interval, the store runs on a
// conc.ManualClock that never advances, so no write becomes durable on a
// timer and a case does the same thing every time it runs (a shrinker
// needs that). Writes become durable through Sync, Close, the memtable
// filling up and maintenance. With flush-interval set, the wall clock
// drives the cadence, and runs are no longer exactly reproducible. Chunk
// UUIDs are seeded (Options.Seed = 1), for the same reason.
const (
	CheckDeviceBytes     = 1 << 20
	CheckExtentBytes     = 64 << 10
	CheckCacheBytes      = 16 << 10
	CheckMemtableBytes   = 1 << 10
	CheckValueCacheBytes = 1 << 10
	CheckRowCacheBytes   = 4 << 10
	CheckChunkPayloadMax = 1 << 10
	CheckDepNodesMax     = 256
	// CheckSectorBytes is the device's sector size.
	CheckSectorBytes = 512
	// PageBytes is the buffer cache's page size: value sizes cluster
	// around it.
	PageBytes = 4096
	// chunkHeaderBytes is the key header a data chunk's payload starts
	// with for a checker's keys ("k0" to "k63": a length byte and two or
	// three bytes), so a value of ChunkPayloadMax-chunkHeaderBytes bytes
	// fills one chunk exactly.
	chunkHeaderBytes = 4
)

// CheckOptions returns the options a check runs shardstore with by
// default.
func CheckOptions() Options {
	return Options{
		ExtentBytes:     CheckExtentBytes,
		CacheBytes:      CheckCacheBytes,
		MemtableBytes:   CheckMemtableBytes,
		ValueCacheBytes: CheckValueCacheBytes,
		RowCacheBytes:   CheckRowCacheBytes,
		ChunkPayloadMax: CheckChunkPayloadMax,
		DepNodesMax:     CheckDepNodesMax,
		Seed:            1,
	}
}

// roomBytes is OnDevice's RoomBytes: a quarter of what the device holds
// (capacity). Below it a write refused for space means reclamation failed
// to free what deletes and overwrites left dead: forced reclamation takes
// any extent a sixteenth dead, and a quarter leaves room for the chunk
// overhead, the index, versions a crash could still bring back and the
// extents reserved for index flushes.
func roomBytes(full Options, deviceBytes int64) int64 {
	full.DeviceBytes = deviceBytes
	return capacity(full) / 4
}

// OnDevice returns shardstore with opts on a device of deviceBytes bytes.
// opts.Clock, if nil, is a frozen conc.ManualClock made afresh for every
// open; FlushInterval and Seed take their defaults if zero. Its Spec
// spells out the effective options, and resolves back to the same engine
// through Driver().Device.
func OnDevice(opts Options, deviceBytes int64) (engine.OnDevice, error) {
	frozen := opts.Clock == nil
	full := opts
	full.EnsureDefaults()
	if err := full.Validate(); err != nil {
		return engine.OnDevice{}, err
	}
	if deviceBytes < 4*full.ExtentBytes || deviceBytes%CheckSectorBytes != 0 {
		return engine.OnDevice{}, fmt.Errorf("shardstore: device of %d bytes: want a multiple of %d bytes holding at least 4 extents of %d bytes: %w",
			deviceBytes, CheckSectorBytes, full.ExtentBytes, engine.ErrInvalidArgument)
	}
	spec := engine.Spec{Name: "shardstore", Options: []engine.Setting{
		{Key: "size", Value: engine.FormatSize(deviceBytes)},
		{Key: "extent", Value: engine.FormatSize(full.ExtentBytes)},
		{Key: "cache", Value: engine.FormatSize(full.CacheBytes)},
		{Key: "memtable", Value: engine.FormatSize(int64(full.MemtableBytes))},
		{Key: "value-cache", Value: engine.FormatSize(max(0, full.ValueCacheBytes))},
		{Key: "row-cache", Value: engine.FormatSize(max(0, full.RowCacheBytes))},
	}}
	if !frozen {
		spec.Options = append(spec.Options, engine.Setting{Key: "flush-interval", Value: full.FlushInterval.String()})
	}
	if full.Scheduler != "coalesce" {
		spec.Options = append(spec.Options, engine.Setting{Key: "sched", Value: string(full.Scheduler)})
	}
	if full.IODepth != iosched.IODepthDefault {
		spec.Options = append(spec.Options, engine.Setting{Key: "io-depth", Value: strconv.Itoa(full.IODepth)})
	}
	if full.QueueBytesMax != iosched.QueueBytesMaxDefault {
		spec.Options = append(spec.Options, engine.Setting{Key: "queue", Value: engine.FormatSize(full.QueueBytesMax)})
	}
	if full.Mutant != "" && full.Mutant != "none" {
		spec.Options = append(spec.Options, engine.Setting{Key: "mutant", Value: full.Mutant})
	}
	return engine.OnDevice{
		Spec: spec,
		Open: func(dev disk.Device) (engine.Engine, error) {
			o := opts
			if frozen {
				o.Clock = conc.NewManualClock(conc.Unix(0, 0))
			}
			if o.Seed == 0 {
				o.Seed = 1
			}
			return Open(dev, o)
		},
		DeviceBytes:   deviceBytes,
		RoomBytes:     roomBytes(full, deviceBytes),
		SectorBytes:   CheckSectorBytes,
		PageBytes:     PageBytes,
		ChunkBytes:    full.ChunkPayloadMax - chunkHeaderBytes,
		ExtentBytes:   int(full.ExtentBytes),
		ValueBytesMax: int(full.ExtentBytes) + 1,
	}, nil
}

// onDeviceFromSpec is Driver().Device: shardstore with the options o sets,
// the others at the check defaults.
func onDeviceFromSpec(o engine.Options) (engine.OnDevice, error) {
	opts := CheckOptions()
	size := int64(CheckDeviceBytes)
	if o.IsSet("size") {
		size = o.Size("size")
	}
	if o.IsSet("extent") {
		opts.ExtentBytes = o.Size("extent")
	}
	if o.IsSet("cache") {
		opts.CacheBytes = o.Size("cache")
	}
	if o.IsSet("memtable") {
		opts.MemtableBytes = int(o.Size("memtable"))
	}
	if o.IsSet("value-cache") {
		opts.ValueCacheBytes = valueCacheFromSpec(o.Size("value-cache"))
	}
	if o.IsSet("row-cache") {
		opts.RowCacheBytes = valueCacheFromSpec(o.Size("row-cache"))
	}
	if o.IsSet("flush-interval") {
		opts.FlushInterval = o.Duration("flush-interval")
		opts.Clock = conc.DefaultClock()
	}
	opts.Scheduler = OptionsFromSpec(o).Scheduler
	if o.IsSet("io-depth") {
		opts.IODepth = int(o.Int("io-depth"))
	}
	if o.IsSet("queue") {
		opts.QueueBytesMax = o.Size("queue")
	}
	opts.Mutant = o.String("mutant")
	opts.Observer = o.Observer()
	d, err := OnDevice(opts, size)
	if err != nil {
		return engine.OnDevice{}, fmt.Errorf("engine %s: %w", o.Spec(), err)
	}
	return d, nil
}
