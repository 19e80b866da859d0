package bbolt

import (
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/internal/peer"
)

// Driver returns the harness's entry for bbolt. Its option defaults are
// DefaultOptions, written as a user would type them.
func Driver() engine.Driver {
	d := DefaultOptions()
	return peer.Driver(engine.Driver{
		Name: "bbolt",
		Doc:  "etcd's bbolt, a copy-on-write B+ tree in one mmapped file, configured as etcd runs it",
		Options: []engine.OptionDef{
			{Name: "nosync", Kind: engine.KindBool, Default: "false",
				Doc: "skip the fsync at commit and leave durability to Sync; false syncs every commit"},
			{Name: "nogrowsync", Kind: engine.KindBool, Default: "false",
				Doc: "skip the fsync after growing the file"},
			{Name: "freelist", Kind: engine.KindEnum, Default: string(d.Freelist), Choices: []string{string(FreelistMap), string(FreelistArray)},
				Doc: "free-page index; map is O(1) allocation and etcd's default, array is bbolt's original"},
			{Name: "freelist-sync", Kind: engine.KindBool, Default: "false",
				Doc: "write the freelist at every commit; false rebuilds it on open, as etcd runs"},
			{Name: "mmap", Kind: engine.KindSize, Default: engine.FormatSize(d.InitialMmapSize),
				Doc: "initial mmap size (address space, not memory), etcd's 10GiB; 0 maps only the file"},
			{Name: "batch", Kind: engine.KindBool, Default: "true",
				Doc: "commit concurrent writes together with DB.Batch (group commit); false commits each write alone"},
			{Name: "batch-size", Kind: engine.KindInt, Default: "1000",
				Doc: "most writes per batch; bbolt's default"},
			{Name: "batch-delay", Kind: engine.KindDuration, Default: d.MaxBatchDelay.String(),
				Doc: "longest a batch waits to fill; bbolt's default, and a lone writer's added latency"},
		},
	}, optionsFrom, Open)
}

// optionsFrom maps resolved spec options onto Options.
func optionsFrom(opts engine.Options) Options {
	o := Options{
		NoSync:          opts.Bool("nosync"),
		NoGrowSync:      opts.Bool("nogrowsync"),
		Freelist:        Freelist(opts.String("freelist")),
		FreelistSync:    opts.Bool("freelist-sync"),
		InitialMmapSize: opts.Size("mmap"),
		NoBatch:         !opts.Bool("batch"),
		MaxBatchSize:    peer.Int(opts.Int("batch-size")),
		MaxBatchDelay:   opts.Duration("batch-delay"),
	}
	if o.InitialMmapSize == 0 {
		o.InitialMmapSize = -1
	}
	return o
}
