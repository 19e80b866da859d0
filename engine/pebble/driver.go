package pebble

import (
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/internal/peer"
)

// Driver returns the harness's entry for Pebble. Its option defaults are
// DefaultOptions, written as a user would type them.
func Driver() engine.Driver {
	d := DefaultOptions()
	return peer.Driver(engine.Driver{
		Name: "pebble",
		Doc:  "CockroachDB's Pebble LSM tree, configured as CockroachDB runs it",
		Options: []engine.OptionDef{
			{Name: "sync", Kind: engine.KindBool, Default: "false",
				Doc: "fsync the WAL on every write; false leaves durability to Sync, which group-commits"},
			{Name: "wal", Kind: engine.KindBool, Default: "true",
				Doc: "write-ahead log; false makes Sync and Close flush memtables (and forbids sync=true)"},
			{Name: "memtable", Kind: engine.KindSize, Default: engine.FormatSize(d.MemTableSize),
				Doc: "memtable size; CockroachDB's 64MiB, not Pebble's test-sized 4MiB"},
			{Name: "cache", Kind: engine.KindSize, Default: engine.FormatSize(d.CacheSize),
				Doc: "block cache size; fixed, not a fraction of RAM, so results compare across machines"},
			{Name: "compactions", Kind: engine.KindInt, Default: "3",
				Doc: "most concurrent compactions; CockroachDB's default"},
			{Name: "l0-concurrency", Kind: engine.KindInt, Default: "2",
				Doc: "L0 sublevels per extra concurrent L0 compaction; CockroachDB's setting"},
		},
	}, optionsFrom, Open)
}

// optionsFrom maps resolved spec options onto Options.
func optionsFrom(opts engine.Options) Options {
	return Options{
		Sync:                    opts.Bool("sync"),
		DisableWAL:              !opts.Bool("wal"),
		MemTableSize:            opts.Size("memtable"),
		CacheSize:               opts.Size("cache"),
		CompactionsMax:          peer.Int(opts.Int("compactions")),
		L0CompactionConcurrency: peer.Int(opts.Int("l0-concurrency")),
		Observer:                opts.Observer(),
	}
}
