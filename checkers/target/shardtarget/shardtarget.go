// Package shardtarget makes a checker target of the shardstore engine on an
// in-memory device (disk.Mem, behind a disk.Faulty with fault injection),
// so the conformance and crash checkers can run it with block-level crash
// states and injected IO faults.
//
// It is the one place the checkers meet shardstore, and it uses only the
// engine's public API (engine/shardstore: Open, Options): checkers never
// see shardstore's internals. The harness CLI (harness check --engine
// shardstore) and the checkers' tests build their targets here.
//
// # Check defaults
//
// A check needs a small engine, so that extents fill, the memtable flushes,
// compaction and reclamation run, the cache evicts and the device runs
// full within a case of a few dozen ops. Options the engine spec leaves
// unset take these defaults instead of the engine's production ones:
//
//	size      DeviceBytesDefault (4 MiB: 64 extents)
//	extent    ExtentBytesDefault (64 KiB; chunks are at most a quarter of it)
//	cache     CacheBytesDefault (16 KiB: four pages)
//	memtable  MemtableBytesDefault (1 KiB: a run every dozen or so writes)
//	value-cache  ValueCacheBytesDefault (1 KiB: a few small values kept in
//	          the memtable, so gets exercise both the kept copies and the
//	          chunk path)
//
// Options a spec sets apply as given; "size" is then the size of the
// disk.Mem. "path" and "direct" do not apply (there is no file).
//
// Time is frozen: unless the spec sets flush-interval, the store runs on a
// conc.ManualClock that never advances, so no write becomes durable on a
// timer and a case does the same thing every time it runs (rapid needs
// that to shrink). Writes become durable through Sync, Close, the memtable
// filling up and maintenance, as the checkers drive them. With
// flush-interval set, the wall clock drives the cadence, and runs are no
// longer exactly reproducible.
//
// Chunk UUIDs are seeded (Options.Seed = 1), for the same reason.
package shardtarget

import (
	"fmt"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore"
)

// Check defaults of options the engine spec does not set.
const (
	DeviceBytesDefault   = 1 << 20
	ExtentBytesDefault   = 64 << 10
	CacheBytesDefault    = 16 << 10
	MemtableBytesDefault = 1 << 10
	// ValueCacheBytesDefault bounds the values the memtable keeps for gets
	// (shardstore.Options.ValueCacheBytes); the production default (4 MiB)
	// would answer nearly every get of a check from memory.
	ValueCacheBytesDefault = 1 << 10
	// SectorBytes is the disk.Mem's sector size.
	SectorBytes = 512
	// PageBytes is shardstore's buffer cache page size: value sizes
	// cluster around it.
	PageBytes = 4096
	// chunkHeaderBytes is the key header a data chunk's payload starts
	// with for the generator's keys ("k0" to "k63": a length byte and two
	// or three bytes), so a value of ChunkPayloadMax-chunkHeaderBytes bytes
	// fills one chunk exactly.
	chunkHeaderBytes = 4
)

// Options returns the shardstore options a check uses by default.
func Options() shardstore.Options {
	return shardstore.Options{
		ExtentBytes:     ExtentBytesDefault,
		CacheBytes:      CacheBytesDefault,
		MemtableBytes:   MemtableBytesDefault,
		ValueCacheBytes: ValueCacheBytesDefault,
		Seed:            1,
	}
}

// Default returns the target of shardstore with the check defaults.
func Default() target.Target {
	t, err := New(Options(), DeviceBytesDefault)
	if err != nil {
		panic(err) // the defaults are valid
	}
	return t
}

// New returns a target that opens shardstore with opts on a disk.Mem of
// deviceBytes bytes. opts.Clock, if nil, is a frozen conc.ManualClock made
// afresh for every open; FlushInterval and Seed take their defaults if
// zero. Its name is a spec of the effective options, which resolves back
// to the same target through FromOptions.
func New(opts shardstore.Options, deviceBytes int64) (target.Target, error) {
	frozen := opts.Clock == nil
	full := opts
	full.EnsureDefaults()
	if err := full.Validate(); err != nil {
		return target.Target{}, err
	}
	if deviceBytes < 4*full.ExtentBytes || deviceBytes%SectorBytes != 0 {
		return target.Target{}, fmt.Errorf("shardtarget: device of %d bytes: want a multiple of %d bytes holding at least 4 extents of %d bytes: %w",
			deviceBytes, SectorBytes, full.ExtentBytes, engine.ErrInvalidArgument)
	}
	spec := engine.Spec{Name: "shardstore", Options: []engine.Setting{
		{Key: "size", Value: engine.FormatSize(deviceBytes)},
		{Key: "extent", Value: engine.FormatSize(full.ExtentBytes)},
		{Key: "cache", Value: engine.FormatSize(full.CacheBytes)},
		{Key: "memtable", Value: engine.FormatSize(int64(full.MemtableBytes))},
		{Key: "value-cache", Value: engine.FormatSize(max(0, full.ValueCacheBytes))},
	}}
	if !frozen {
		spec.Options = append(spec.Options, engine.Setting{Key: "flush-interval", Value: time.Duration(full.FlushInterval).String()})
	}
	if full.Scheduler != "coalesce" {
		spec.Options = append(spec.Options, engine.Setting{Key: "sched", Value: string(full.Scheduler)})
	}
	return target.Target{
		Name: spec.String(),
		OpenDevice: func(dev disk.Device) (engine.Engine, error) {
			o := opts
			if frozen {
				o.Clock = conc.NewManualClock(time.Unix(0, 0))
			}
			if o.Seed == 0 {
				o.Seed = 1
			}
			return shardstore.Open(dev, o)
		},
		DeviceBytes: deviceBytes,
		SectorBytes: SectorBytes,
		Layout: target.Layout{
			PageBytes:     PageBytes,
			ChunkBytes:    full.ChunkPayloadMax - chunkHeaderBytes,
			ExtentBytes:   int(full.ExtentBytes),
			ValueBytesMax: int(full.ExtentBytes) + 1,
		},
	}, nil
}

// FromOptions returns the target of shardstore with options o, resolved
// from an engine spec against shardstore.Driver's options: those o sets
// apply, the others take the check defaults (see the package
// documentation).
func FromOptions(o engine.Options) (target.Target, error) {
	if o.Engine() != "shardstore" {
		return target.Target{}, fmt.Errorf("shardtarget: engine %q is not shardstore", o.Engine())
	}
	opts := Options()
	size := int64(DeviceBytesDefault)
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
		opts.ValueCacheBytes = o.Size("value-cache")
		if opts.ValueCacheBytes == 0 {
			opts.ValueCacheBytes = -1 // value-cache=0 keeps none
		}
	}
	if o.IsSet("flush-interval") {
		opts.FlushInterval = conc.Duration(o.Duration("flush-interval"))
		opts.Clock = conc.DefaultClock()
	}
	setString(&opts.Scheduler, o.String("sched"))
	t, err := New(opts, size)
	if err != nil {
		return target.Target{}, fmt.Errorf("engine %s: %w", o.Spec(), err)
	}
	return t, nil
}

// setString sets a string-typed field whose type lives in a package
// checkers may not import (shardstore's scheduler policy).
func setString[T ~string](p *T, s string) { *p = T(s) }
