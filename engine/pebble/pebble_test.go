package pebble

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/enginetest"
)

// small keeps test instances light: the defaults allocate up to 1 GiB of
// cache and 256 MiB of memtables, and the suite opens hundreds of instances.
func small(o Options) Options {
	o.MemTableSize, o.CacheSize = 4<<20, 8<<20
	return o
}

func TestContract(t *testing.T) {
	enginetest.RunEach(t,
		enginetest.Config{Name: "sync=false", Open: enginetest.Opener(Open, small(Options{}))},
		enginetest.Config{Name: "sync=true", Open: enginetest.Opener(Open, small(Options{Sync: true}))},
		enginetest.Config{Name: "wal=false", Open: enginetest.Opener(Open, small(Options{DisableWAL: true}))},
		enginetest.Config{Name: "defaults", Open: enginetest.Opener(Open, Options{}), Heavy: "defaults open a 1 GiB cache"},
	)
}

func TestDriver(t *testing.T) {
	enginetest.RunDriver(t, enginetest.DriverConfig{Driver: Driver(), Testdata: "testdata/driver",
		Decode: func(o engine.Options) any { return optionsFrom(o) }, Defaults: DefaultOptions()})
}

// TestPebbleOptions: the defaults reach Pebble as CockroachDB sets them.
func TestPebbleOptions(t *testing.T) {
	po := DefaultOptions().pebbleOptions(nil)
	if po.MemTableSize != 64<<20 || po.L0CompactionThreshold != 2 || po.L0StopWritesThreshold != 1000 ||
		po.Levels[0].FilterPolicy.Name() != "rocksdb.BuiltinBloomFilter" || po.Levels[6].FilterPolicy.Name() == "rocksdb.BuiltinBloomFilter" {
		t.Fatalf("pebble options: memtable %d, L0 %d/%d, L0 filter %s, L6 filter %s", po.MemTableSize,
			po.L0CompactionThreshold, po.L0StopWritesThreshold, po.Levels[0].FilterPolicy.Name(), po.Levels[6].FilterPolicy.Name())
	}
	if lo, hi := po.CompactionConcurrencyRange(); lo != 1 || hi != 3 {
		t.Fatalf("compaction concurrency = %d..%d, want 1..3", lo, hi)
	}
}

func TestMaintain(t *testing.T) {
	d := enginetest.OpenTemp(t, Open, small(Options{}))
	ctx := context.Background()
	// Compact on an empty database is fine.
	if err := d.Maintain(ctx, engine.Compact); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := d.Put(ctx, []byte(fmt.Sprintf("k%04d", i)), bytes.Repeat([]byte{'x'}, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Maintain(ctx, engine.IndexFlush); err != nil {
		t.Fatal(err)
	}
	if n := d.Stats().Metrics["memtable_flushes"]; n < 1 {
		t.Fatalf("memtable_flushes = %v after index-flush", n)
	}
	if err := d.Maintain(ctx, engine.Compact); err != nil {
		t.Fatal(err)
	}
	if s := d.Stats(); s.Metrics["compactions"] < 1 || s.Metrics["l0_tables"] != 0 {
		t.Fatalf("after compact: %v compactions, %v L0 tables", s.Metrics["compactions"], s.Metrics["l0_tables"])
	}
	enginetest.WantUnsupported(t, d, engine.Reclaim, engine.SuperblockFlush, engine.CacheFlush)
}

func TestStats(t *testing.T) {
	d := enginetest.OpenTemp(t, Open, small(Options{}))
	ctx := context.Background()
	before := d.Stats().Flushes
	enginetest.Fill(t, d, 5000, 2000, 1000)
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Maintain(ctx, engine.Compact); err != nil {
		t.Fatal(err)
	}
	s := d.Stats()
	// WAL plus flush plus compaction: more than the user wrote.
	if wa := s.WriteAmplification(); wa <= 1 || s.Flushes <= before {
		t.Fatalf("write amplification %.2f, flushes %d -> %d; want > 1 and more flushes", wa, before, s.Flushes)
	}
	if s.Metrics["wal_bytes_written"] < float64(s.UserBytesWritten) {
		t.Fatalf("wal_bytes_written %v < user bytes %d", s.Metrics["wal_bytes_written"], s.UserBytesWritten)
	}
	t.Logf("stats: %+v (write amplification %.2f)", s, s.WriteAmplification())
}

// TestSyncIssuesFsync checks that Sync reaches the disk in the default
// configuration, and that sync=true writes do so themselves.
func TestSyncIssuesFsync(t *testing.T) {
	for _, o := range []Options{small(Options{}), small(Options{Sync: true})} {
		d, err := Open(t.TempDir(), o)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		before := d.Stats().Flushes
		if err := d.Put(ctx, []byte("k"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		afterPut := d.Stats().Flushes
		if err := d.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		afterSync := d.Stats().Flushes
		if o.Sync && afterPut == before {
			t.Errorf("sync=true: Put issued no fsync")
		}
		if !o.Sync && (afterPut != before || afterSync == afterPut) {
			t.Errorf("sync=false: fsyncs %d -> put %d -> sync %d; want none for Put, one for Sync", before, afterPut, afterSync)
		}
		d.Close()
	}
}

func BenchmarkEngine(b *testing.B) {
	enginetest.Bench(b, enginetest.BenchConfig{
		Configs: []enginetest.NamedOpen{
			{Name: "sync=false", Open: enginetest.Opener(Open, Options{})},
			{Name: "sync=true", Open: enginetest.Opener(Open, Options{Sync: true})},
		},
	})
}
