package bbolt

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/enginetest"
)

// small keeps serial tests fast: with the default 10ms batch delay every
// lone Put waits 10ms for company, and the suite makes thousands of them.
func small(o Options) Options {
	o.MaxBatchDelay = time.Millisecond
	return o
}

func TestContract(t *testing.T) {
	enginetest.RunEach(t,
		enginetest.Config{Name: "batch=true", Open: enginetest.Opener(Open, small(Options{}))},
		enginetest.Config{Name: "batch=false", Open: enginetest.Opener(Open, small(Options{NoBatch: true}))},
		enginetest.Config{Name: "nosync=true,freelist=array,freelist-sync=true", Open: enginetest.Opener(Open, small(Options{NoSync: true, Freelist: FreelistArray, FreelistSync: true}))},
		enginetest.Config{Name: "nogrowsync=true,mmap=0", Open: enginetest.Opener(Open, small(Options{NoGrowSync: true, InitialMmapSize: -1}))},
		enginetest.Config{Name: "defaults", Open: enginetest.Opener(Open, Options{}), Heavy: "defaults wait 10ms per lone write",
			RandomOps: 300}, // at 10ms per lone write
	)
}

func TestDriver(t *testing.T) {
	enginetest.RunDriver(t, enginetest.DriverConfig{Driver: Driver(), Testdata: "testdata/driver",
		Decode: func(o engine.Options) any { return optionsFrom(o) }, Defaults: DefaultOptions()})
}

// TestBoltOptions: Options reach bbolt's options and its DB.
func TestBoltOptions(t *testing.T) {
	o := Options{NoSync: true, NoGrowSync: true, Freelist: FreelistArray, FreelistSync: true, InitialMmapSize: -1, NoBatch: true, MaxBatchSize: 10, MaxBatchDelay: 2 * time.Millisecond}
	bo := o.boltOptions()
	if !bo.NoSync || !bo.NoGrowSync || bo.FreelistType != "array" || bo.NoFreelistSync || bo.InitialMmapSize != 0 {
		t.Fatalf("bbolt options: %s", bo)
	}
	if bo := DefaultOptions().boltOptions(); bo.NoSync || bo.FreelistType != "hashmap" || !bo.NoFreelistSync || bo.InitialMmapSize != 10<<30 {
		t.Fatalf("default bbolt options: %s", bo)
	}
	d := enginetest.OpenTemp(t, Open, o)
	if db := d.lib.db; db.MaxBatchSize != 10 || db.MaxBatchDelay != 2*time.Millisecond || !db.NoSync {
		t.Fatalf("bbolt DB: batch %d/%s, nosync %v", db.MaxBatchSize, db.MaxBatchDelay, db.NoSync)
	}
}

func TestMaintain(t *testing.T) {
	d := enginetest.OpenTemp(t, Open, small(Options{}))
	enginetest.WantUnsupported(t, d, engine.MaintenanceOps()...)
}

// TestListChunks lists more keys than one chunk, with writes from inside the
// callback (which would deadlock a List holding a read transaction while the
// write grows the file).
func TestListChunks(t *testing.T) {
	d := enginetest.OpenTemp(t, Open, small(Options{InitialMmapSize: -1, NoBatch: true, NoSync: true}))
	ctx := context.Background()
	const n = 3*listChunk + 7
	err := d.lib.db.Update(func(tx *bolt.Tx) error {
		for i := range n {
			if err := tx.Bucket(bucket).Put([]byte(fmt.Sprintf("k%05d", i)), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	big := bytes.Repeat([]byte{'x'}, 64<<10)
	err = d.List(ctx, []byte("k00010"), []byte("k03000"), func(k []byte) bool {
		got = append(got, string(k))
		if len(got)%500 == 0 { // grow the file mid-List
			if err := d.Put(ctx, []byte(fmt.Sprintf("z%05d", len(got))), big); err != nil {
				t.Errorf("put inside List: %v", err)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2990 || got[0] != "k00010" || got[len(got)-1] != "k02999" || !slices.IsSorted(got) {
		t.Fatalf("List = %d keys, %q..%q", len(got), got[0], got[len(got)-1])
	}
}

func TestStats(t *testing.T) {
	d := enginetest.OpenTemp(t, Open, small(Options{NoBatch: true}))
	enginetest.Fill(t, d, 500, 200, 1000)
	s := d.Stats()
	// One commit per Put, two fdatasyncs per commit, at least a leaf page and
	// a meta page written per commit.
	if s.Metrics["commits"] != 500 || s.Flushes != 1000 || s.DeviceBytesWritten < 500*2*4096 || s.WriteAmplification() <= 1 {
		t.Fatalf("stats: %+v", s)
	}
	t.Logf("stats: %+v (write amplification %.2f)", s, s.WriteAmplification())
}

func TestSyncWithNoSync(t *testing.T) {
	d := enginetest.OpenTemp(t, Open, small(Options{NoSync: true}))
	ctx := context.Background()
	if err := d.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if s := d.Stats(); s.Flushes != 0 {
		t.Fatalf("nosync: %d flushes before Sync", s.Flushes)
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s := d.Stats(); s.Flushes != 1 {
		t.Fatalf("nosync: %d flushes after Sync, want 1", s.Flushes)
	}
}

// TestBatchGroupsCommits: concurrent Puts share commits.
func TestBatchGroupsCommits(t *testing.T) {
	d := enginetest.OpenTemp(t, Open, Options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if err := d.Put(ctx, []byte(fmt.Sprintf("w%02d-%02d", w, i)), []byte("v")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if c := d.Stats().Metrics["commits"]; c >= 320 || c < 1 {
		t.Fatalf("%v commits for 320 concurrent puts; want them batched", c)
	}
}

func BenchmarkEngine(b *testing.B) {
	enginetest.Bench(b, enginetest.BenchConfig{
		Configs: []enginetest.NamedOpen{
			{Name: "batch=true", Open: enginetest.Opener(Open, Options{})},
			{Name: "batch=false", Open: enginetest.Opener(Open, Options{NoBatch: true})},
			{Name: "nosync=true", Open: enginetest.Opener(Open, Options{NoSync: true})},
		},
		// One transaction: filling through Put would wait out a batch
		// delay per key.
		Load: func(e engine.Engine, v []byte) error {
			return e.(*DB).lib.db.Update(func(tx *bolt.Tx) error {
				for i := range enginetest.BenchKeys {
					if err := tx.Bucket(bucket).Put(enginetest.BenchKey(i), v); err != nil {
						return err
					}
				}
				return nil
			})
		},
	})
}
