package pebble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/enginetest"
)

// small keeps test instances light: the defaults allocate up to 1 GiB of
// cache and 256 MiB of memtables, and the suite opens hundreds of instances.
func small(o Options) Options {
	o.MemTableSize = 4 << 20
	o.CacheSize = 8 << 20
	return o
}

func TestContract(t *testing.T) {
	configs := []struct {
		name string
		opts Options
	}{
		{"sync=false", small(Options{})},
		{"sync=true", small(Options{Sync: true})},
		{"wal=false", small(Options{DisableWAL: true})},
		{"defaults", Options{}},
	}
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "defaults" && testing.Short() {
				t.Skip("defaults open a 1 GiB cache; skipped with -short")
			}
			enginetest.Run(t, enginetest.Config{Open: func(dir string) (engine.Engine, error) {
				return Open(dir, c.opts)
			}})
		})
	}
}

func TestDriver(t *testing.T) {
	enginetest.RunDriver(t, enginetest.DriverConfig{
		Driver:      Driver(),
		DefaultSpec: "pebble:sync=false,wal=true,memtable=64MiB,cache=1GiB,compactions=3,l0-concurrency=2",
		Decode:      func(o engine.Options) any { return optionsFrom(o) },
		Defaults:    DefaultOptions(),
		Maps: []enginetest.SpecOptions{
			{Spec: "pebble:sync=true,memtable=8MiB,cache=16MiB,compactions=2,l0-concurrency=4",
				Want: Options{Sync: true, MemTableSize: 8 << 20, CacheSize: 16 << 20, CompactionsMax: 2, L0CompactionConcurrency: 4}},
			{Spec: "pebble:wal=false", Want: func() Options { o := DefaultOptions(); o.DisableWAL = true; return o }()},
		},
		Spec: "pebble:memtable=4MiB,cache=8MiB",
		Bad: []enginetest.SpecError{
			{Spec: "pebble:memtable=12XB", Want: "memtable=12XB"},
			{Spec: "pebble:nosuch=1", Want: `unknown option "nosuch"`},
			{Spec: "pebble:sync=maybe", Want: "sync=maybe"},
			{Spec: "pebble:memtable=512KiB", Want: "memtable=512KiB is outside 1MiB to 2GiB"},
			{Spec: "pebble:memtable=0", Want: "memtable=0B is outside"},
			{Spec: "pebble:cache=0,compactions=0", Want: "cache=0B is below 1MiB; compactions=0 is outside 1 to 64"},
			{Spec: "pebble:sync=true,wal=false", Want: "sync=true needs the WAL"},
			{Spec: "pebble:compactions=99999999999", Want: "compactions=99999999999 is outside"},
		},
	})
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
	d, err := Open(t.TempDir(), small(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
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
	for _, op := range []engine.MaintenanceOp{engine.Reclaim, engine.SuperblockFlush, engine.CacheFlush} {
		if err := d.Maintain(ctx, op); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Maintain(%s) = %v, want ErrUnsupported", op, err)
		}
	}
	if err := d.Maintain(ctx, "defrag"); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Errorf("Maintain(defrag) = %v, want ErrInvalidArgument", err)
	}
}

func TestStats(t *testing.T) {
	d, err := Open(t.TempDir(), small(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	before := d.Stats().Flushes
	v := bytes.Repeat([]byte{'v'}, 1000)
	for i := range 5000 {
		if err := d.Put(ctx, []byte(fmt.Sprintf("k%05d", i%2000)), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Maintain(ctx, engine.Compact); err != nil {
		t.Fatal(err)
	}
	s := d.Stats()
	if want := int64(5000 * (6 + 1000)); s.UserBytesWritten != want {
		t.Fatalf("UserBytesWritten = %d, want %d", s.UserBytesWritten, want)
	}
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

func BenchmarkPut1KiB(b *testing.B) {
	for _, o := range []struct {
		name string
		opts Options
	}{{"sync=false", Options{}}, {"sync=true", Options{Sync: true}}} {
		b.Run(o.name, func(b *testing.B) {
			d, err := Open(b.TempDir(), o.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			enginetest.BenchPut(b, d)
		})
	}
}

func BenchmarkPut1KiBParallel(b *testing.B) {
	d, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	enginetest.BenchPutParallel(b, d)
}

func BenchmarkGet1KiB(b *testing.B) {
	d, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	enginetest.BenchGet(b, d, nil)
}
