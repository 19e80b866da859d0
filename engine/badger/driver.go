package badger

import (
	"time"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/internal/peer"
)

// Driver returns the harness's entry for Badger. Its option defaults are
// DefaultOptions, written as a user would type them.
func Driver() engine.Driver {
	d := DefaultOptions()
	return peer.Driver(engine.Driver{
		Name: "badger",
		Doc:  "Dgraph's Badger, a WiscKey-style LSM tree with a value log",
		Options: []engine.OptionDef{
			{Name: "mode", Kind: engine.KindEnum, Default: string(d.Mode), Choices: []string{string(ModeLSM), string(ModeVLog)},
				Doc: "lsm keeps values under 1MiB in the LSM (Badger's default); vlog separates values of 64B or more, like shardstore"},
			{Name: "sync", Kind: engine.KindBool, Default: "false",
				Doc: "sync every write batch (SyncWrites); false leaves durability to Sync"},
			{Name: "memtable", Kind: engine.KindSize, Default: engine.FormatSize(d.MemTableSize),
				Doc: "memtable size; Badger's default"},
			{Name: "block-cache", Kind: engine.KindSize, Default: offSize(d.BlockCacheSize),
				Doc: "cache of decompressed blocks, needed by compression; 0 (off) reads uncompressed blocks from the mapped tables"},
			{Name: "index-cache", Kind: engine.KindSize, Default: offSize(d.IndexCacheSize),
				Doc: "index and bloom filter cache; 0 keeps every index in memory (Badger's default)"},
			{Name: "compression", Kind: engine.KindEnum, Default: string(d.Compression), Choices: []string{string(CompressionSnappy), string(CompressionZSTD), string(CompressionNone)},
				Doc: "table block compression; snappy (Badger's default) or zstd need block-cache="},
			{Name: "gc-interval", Kind: engine.KindDuration, Default: d.GCInterval.String(),
				Doc: "how often background value-log GC runs; 0 turns it off"},
		},
	}, optionsFrom, Open)
}

// optionsFrom maps resolved spec options onto Options, turning the spec's
// "0 means off" into the negative values Options uses for it.
func optionsFrom(opts engine.Options) Options {
	o := Options{
		Mode:           Mode(opts.String("mode")),
		SyncWrites:     opts.Bool("sync"),
		MemTableSize:   opts.Size("memtable"),
		BlockCacheSize: opts.Size("block-cache"),
		IndexCacheSize: opts.Size("index-cache"),
		GCInterval:     opts.Duration("gc-interval"),
		Compression:    Compression(opts.String("compression")),
		GCDiscardRatio: DefaultOptions().GCDiscardRatio,
	}
	if o.BlockCacheSize == 0 {
		o.BlockCacheSize = -1
	}
	if o.IndexCacheSize == 0 {
		o.IndexCacheSize = -1
	}
	if o.GCInterval == 0 {
		o.GCInterval = -time.Nanosecond
	}
	return o
}

// offSize writes a size option's default as the spec spells it: a
// negative size (off) as 0.
func offSize(n int64) string {
	if n < 0 {
		return "0"
	}
	return engine.FormatSize(n)
}
