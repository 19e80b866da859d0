// Package shardtarget makes a checker target of the shardstore engine on an
// in-memory device (disk.Mem, behind a disk.Faulty with fault injection),
// with the check defaults shardstore's Driver().Device declares (see
// engine/shardstore/ondevice.go: a 1 MiB device of 64 KiB extents, chunks
// of at most 1 KiB, a tiny cache and memtable, time frozen, seeded chunk
// UUIDs).
//
// A check of an engine chosen by spec does not need this package: it goes
// through target.For, which reads the driver's Device hook. This package is
// for the checkers' own tests, which build shardstore targets from Go
// options, and it uses only the engine's public API: checkers never see
// shardstore's internals.
package shardtarget

import (
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore"
)

// Check defaults of options the engine spec does not set (shardstore's).
const (
	DeviceBytesDefault     = shardstore.CheckDeviceBytes
	ExtentBytesDefault     = shardstore.CheckExtentBytes
	CacheBytesDefault      = shardstore.CheckCacheBytes
	MemtableBytesDefault   = shardstore.CheckMemtableBytes
	ValueCacheBytesDefault = shardstore.CheckValueCacheBytes
	ChunkPayloadMaxDefault = shardstore.CheckChunkPayloadMax
	SectorBytes            = shardstore.CheckSectorBytes
	PageBytes              = shardstore.PageBytes
)

// Options returns the shardstore options a check uses by default.
func Options() shardstore.Options { return shardstore.CheckOptions() }

// Default returns the target of shardstore with the check defaults.
func Default() target.Target {
	t, err := New(Options(), DeviceBytesDefault)
	if err != nil {
		panic(err) // the defaults are valid
	}
	return t
}

// New returns a target that opens shardstore with opts on a disk.Mem of
// deviceBytes bytes (see shardstore.OnDevice). Its name is a spec of the
// effective options, which resolves back to the same target through
// FromOptions.
func New(opts shardstore.Options, deviceBytes int64) (target.Target, error) {
	d, err := shardstore.OnDevice(opts, deviceBytes)
	if err != nil {
		return target.Target{}, err
	}
	t := target.FromDevice(d)
	t.WithObserver = func(obs engine.Observer) (target.Target, error) {
		o := opts
		o.Observer = obs
		return New(o, deviceBytes)
	}
	return t, nil
}

// FromOptions returns the target of shardstore with options o, resolved
// from an engine spec against shardstore.Driver's options: those o sets
// apply, the others take the check defaults. It is target.For for
// shardstore.
func FromOptions(o engine.Options) (target.Target, error) {
	return target.For(shardstore.Driver(), o)
}
