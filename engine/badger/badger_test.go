package badger

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4/options"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/enginetest"
)

// small keeps test instances light: the defaults have no caches but
// 64 MiB memtables, and the suite opens hundreds of instances.
func small(o Options) Options {
	o.MemTableSize, o.BlockCacheSize, o.IndexCacheSize = 8<<20, 8<<20, 8<<20
	return o
}

func TestContract(t *testing.T) {
	enginetest.RunEach(t,
		enginetest.Config{Name: "mode=lsm", Open: enginetest.Opener(Open, small(Options{Mode: ModeLSM}))},
		enginetest.Config{Name: "mode=vlog", Open: vlogOpener(small(Options{Mode: ModeVLog}))},
		enginetest.Config{Name: "mode=vlog,sync=true", Open: vlogOpener(small(Options{Mode: ModeVLog, SyncWrites: true}))},
		enginetest.Config{Name: "mode=lsm,sync=true,caches=off", Open: enginetest.Opener(Open, small(Options{SyncWrites: true, BlockCacheSize: -1, IndexCacheSize: -1}))},
		enginetest.Config{Name: "defaults", Open: enginetest.Opener(Open, Options{}), Heavy: "defaults open 64 MiB memtables"},
	)
}

// vlogOpener opens a DB in value-log mode without its Maintainer: value-log
// GC on demand resurrects deleted keys (see the package documentation), so
// the suite checks everything else.
func vlogOpener(o Options) func(dir string) (engine.Engine, error) {
	return func(dir string) (engine.Engine, error) {
		d, err := Open(dir, o)
		if err != nil {
			return nil, err
		}
		return withoutMaintainer{Engine: d, Lister: d, Statser: d, Limiter: d, Batcher: d}, nil
	}
}

// withoutMaintainer is a DB without its Maintainer capability.
type withoutMaintainer struct {
	engine.Engine
	engine.Lister
	engine.Statser
	engine.Limiter
	engine.Batcher
}

func TestDriver(t *testing.T) {
	enginetest.RunDriver(t, enginetest.DriverConfig{Driver: Driver(), Testdata: "testdata/driver",
		Decode: func(o engine.Options) any { return optionsFrom(o) }, Defaults: DefaultOptions()})
}

// TestBadgerOptions: Options reach Badger's options.
func TestBadgerOptions(t *testing.T) {
	o := Options{Mode: ModeVLog, SyncWrites: true, MemTableSize: 16 << 20, BlockCacheSize: -1, IndexCacheSize: -1, GCInterval: -1, GCDiscardRatio: 0.5}
	bo := o.badgerOptions("/x")
	if bo.ValueThreshold != VLogValueThreshold || !bo.SyncWrites || bo.MemTableSize != 16<<20 || bo.BlockCacheSize != 0 || bo.IndexCacheSize != 0 || bo.DetectConflicts {
		t.Fatalf("badger options: threshold %d, sync %v, memtable %d, caches %d/%d, conflicts %v",
			bo.ValueThreshold, bo.SyncWrites, bo.MemTableSize, bo.BlockCacheSize, bo.IndexCacheSize, bo.DetectConflicts)
	}
	// The defaults: uncompressed tables read from their mapping, no
	// block cache, every index in memory (see the package doc's A/B).
	if bo := DefaultOptions().badgerOptions("/x"); bo.ValueThreshold != LSMValueThreshold || bo.BlockCacheSize != 0 || bo.IndexCacheSize != 0 || bo.Compression != options.None {
		t.Fatalf("default badger options: threshold %d, caches %d/%d, compression %v", bo.ValueThreshold, bo.BlockCacheSize, bo.IndexCacheSize, bo.Compression)
	}
	z := DefaultOptions()
	z.Compression, z.BlockCacheSize = CompressionZSTD, 64<<20
	if err := z.Validate(); err != nil {
		t.Fatal(err)
	}
	if bo := z.badgerOptions("/x"); bo.Compression != options.ZSTD || bo.BlockCacheSize != 64<<20 {
		t.Fatalf("compression=zstd,block-cache=64MiB: compression %v, block cache %d", bo.Compression, bo.BlockCacheSize)
	}
}

func TestMaintain(t *testing.T) {
	d := enginetest.OpenTemp(t, Open, small(Options{Mode: ModeVLog}))
	ctx := context.Background()
	if err := d.Maintain(ctx, engine.Reclaim); err != nil {
		t.Fatalf("reclaim on an empty database: %v", err)
	}
	for round := range 3 {
		for i := range 1000 {
			if err := d.Put(ctx, []byte(fmt.Sprintf("k%04d", i)), bytes.Repeat([]byte{byte(round)}, 1000)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := d.Maintain(ctx, engine.Reclaim); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		got, err := d.Get(ctx, []byte(fmt.Sprintf("k%04d", i)))
		if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{2}, 1000)) {
			t.Fatalf("after reclaim: get k%04d = %d bytes, %v", i, len(got), err)
		}
	}
	enginetest.WantUnsupported(t, d, engine.IndexFlush, engine.Compact, engine.SuperblockFlush, engine.CacheFlush)
}

// TestReservedPrefix: Badger refuses keys that begin with "!badger!"; the
// adapter's key prefix makes them ordinary.
func TestReservedPrefix(t *testing.T) {
	d := enginetest.OpenTemp(t, Open, small(Options{}))
	ctx := context.Background()
	for _, k := range []string{"!badger!head", "!badger!", "!"} {
		if err := d.Put(ctx, []byte(k), []byte("v"+k)); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
		if got, err := d.Get(ctx, []byte(k)); err != nil || string(got) != "v"+k {
			t.Fatalf("get %q = %q, %v", k, got, err)
		}
	}
	var keys []string
	if err := d.List(ctx, nil, nil, func(k []byte) bool { keys = append(keys, string(k)); return true }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, " ") != "! !badger! !badger!head" {
		t.Fatalf("List = %q", keys)
	}
}

func TestStats(t *testing.T) {
	d := enginetest.OpenTemp(t, Open, small(Options{Mode: ModeVLog}))
	ctx := context.Background()
	enginetest.Fill(t, d, 5000, 2000, 1000)
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	s := d.Stats()
	// Every value went to the value log, with a header per entry.
	if s.Metrics["write_bytes_vlog"] < float64(s.UserBytesWritten) || s.WriteAmplification() <= 1 {
		t.Fatalf("vlog bytes %v, write amplification %.2f; want at least the user bytes", s.Metrics["write_bytes_vlog"], s.WriteAmplification())
	}
	if s.Metrics["adapter_syncs"] != 1 {
		t.Fatalf("adapter_syncs = %v, want 1", s.Metrics["adapter_syncs"])
	}
	t.Logf("stats: %+v (write amplification %.2f)", s, s.WriteAmplification())
}

// TestSyncCoversRotatedFiles writes enough to rotate memtables and checks
// that Sync advanced past the rotated WAL files (white box: it fsynced
// them).
func TestSyncCoversRotatedFiles(t *testing.T) {
	d := enginetest.OpenTemp(t, Open, small(Options{}))
	ctx := context.Background()
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	first := d.lib.syncMem
	v := bytes.Repeat([]byte{'v'}, 4000)
	for i := range 6000 { // 24 MB through 8 MiB memtables
		if err := d.Put(ctx, []byte(fmt.Sprintf("k%05d", i)), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if d.lib.syncMem <= first {
		t.Fatalf("newest synced memtable WAL %d -> %d; want it to advance past rotations", first, d.lib.syncMem)
	}
	if id, ok := fileID("00012.mem", ".mem"); !ok || id != 12 {
		t.Fatalf("fileID(00012.mem) = %d, %v", id, ok)
	}
	if _, ok := fileID("000003.vlog", ".mem"); ok {
		t.Fatal("fileID took a .vlog for a .mem")
	}
}

func BenchmarkEngine(b *testing.B) {
	enginetest.Bench(b, enginetest.BenchConfig{
		Configs: []enginetest.NamedOpen{
			{Name: "mode=lsm", Open: enginetest.Opener(Open, Options{})},
			{Name: "mode=vlog", Open: enginetest.Opener(Open, Options{Mode: ModeVLog})},
			{Name: "mode=lsm,sync=true", Open: enginetest.Opener(Open, Options{SyncWrites: true})},
		},
	})
}
