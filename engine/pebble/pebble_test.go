package pebble

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

func TestDriverDefaultsMatchOptions(t *testing.T) {
	_, opts, err := engine.Drivers{Driver()}.Resolve("pebble")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := optionsFrom(opts), DefaultOptions(); got != want {
		t.Fatalf("driver defaults = %+v, want DefaultOptions() = %+v", got, want)
	}
	if want := "pebble:sync=false,wal=true,memtable=64MiB,cache=1GiB,compactions=3,l0-concurrency=2"; opts.Spec().String() != want {
		t.Fatalf("spec = %s, want %s", opts.Spec(), want)
	}
}

func TestDriverMapsOptions(t *testing.T) {
	_, opts, err := engine.Drivers{Driver()}.Resolve("pebble:sync=true,memtable=8MiB,cache=16MiB,compactions=2,l0-concurrency=4")
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Sync: true, MemTableSize: 8 << 20, CacheSize: 16 << 20, CompactionsMax: 2, L0CompactionConcurrency: 4}
	if got := optionsFrom(opts); got != want {
		t.Fatalf("options = %+v, want %+v", got, want)
	}
	_, opts, err = engine.Drivers{Driver()}.Resolve("pebble:wal=false")
	if err != nil {
		t.Fatal(err)
	}
	if o := optionsFrom(opts); !o.DisableWAL {
		t.Fatalf("wal=false gave %+v", o)
	}
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

func TestDriverBadOptions(t *testing.T) {
	tests := []struct {
		spec string
		want string // a fragment of the one-line error
	}{
		{"pebble:memtable=12XB", "memtable=12XB"},
		{"pebble:nosuch=1", `unknown option "nosuch"`},
		{"pebble:sync=maybe", "sync=maybe"},
		{"pebble:memtable=512KiB", "memtable=512KiB is outside 1MiB to 2GiB"},
		{"pebble:memtable=0", "memtable=0B is outside"},
		{"pebble:cache=0,compactions=0", "cache=0B is below 1MiB; compactions=0 is outside 1 to 64"},
		{"pebble:sync=true,wal=false", "sync=true needs the WAL"},
		{"pebble:compactions=99999999999", "compactions=99999999999 is outside"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			d, opts, err := engine.Drivers{Driver()}.Resolve(tc.spec)
			if err == nil {
				var e engine.Engine
				e, err = d.Open(t.TempDir(), opts)
				if err == nil {
					e.Close()
					t.Fatalf("%s opened", tc.spec)
				}
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error = %q, want one line containing %q", msg, tc.want)
			}
		})
	}
}

func TestDriverOpens(t *testing.T) {
	d, opts, err := engine.Drivers{Driver()}.Resolve("pebble:memtable=4MiB,cache=8MiB")
	if err != nil {
		t.Fatal(err)
	}
	e, err := d.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if got, err := e.Get(ctx, []byte("k")); err != nil || string(got) != "v" {
		t.Fatalf("get = %q, %v", got, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseWhileBusy closes the engine under concurrent load: every call
// returns nil or ErrClosed, none panics (Pebble itself panics on use after
// Close), and Close waits for the calls already inside.
func TestCloseWhileBusy(t *testing.T) {
	d, err := Open(t.TempDir(), small(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				k := []byte(fmt.Sprintf("w%d-%d", w, i%100))
				var err error
				switch i % 5 {
				case 0, 1:
					err = d.Put(ctx, k, k)
				case 2:
					_, err = d.Get(ctx, k)
					if errors.Is(err, engine.ErrNotFound) {
						err = nil
					}
				case 3:
					err = d.List(ctx, nil, nil, func([]byte) bool { return true })
				case 4:
					err = d.Sync(ctx)
				}
				if errors.Is(err, engine.ErrClosed) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := d.Close(); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("second close = %v, want ErrClosed", err)
	}
	if _, err := d.Get(ctx, []byte("k")); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("get after close = %v, want ErrClosed", err)
	}
	if s := d.Stats(); s.UserBytesWritten == 0 {
		t.Fatalf("Stats after close lost the counters: %+v", s)
	}
}

// TestListReentersDuringClose: a List callback that calls Get while a Close
// is waiting for the List does not deadlock (as it would with an RWMutex
// whose writer is queued): the Get is refused with ErrClosed, the List
// finishes, then Close.
func TestListReentersDuringClose(t *testing.T) {
	d, err := Open(t.TempDir(), small(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if err := d.Put(ctx, []byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error)
	var got []string
	err = d.List(ctx, nil, nil, func(k []byte) bool {
		if string(k) == "b" {
			go func() { closed <- d.Close() }()
			for !d.gate.Closing() { // Close has started waiting
				time.Sleep(time.Millisecond)
			}
		}
		v, err := d.Get(ctx, k)
		switch {
		case err == nil:
			got = append(got, string(v))
		case errors.Is(err, engine.ErrClosed):
			got = append(got, "closed")
		default:
			t.Errorf("get %s inside List: %v", k, err)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "va,closed,closed" {
		t.Fatalf("values = %v", got)
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

func TestBigValues(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB values; skipped with -short")
	}
	dir := t.TempDir()
	d, err := Open(dir, small(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 1))
	v := make([]byte, 64<<20)
	for i := range v {
		v[i] = byte(rng.Uint32())
	}
	if err := d.Put(ctx, []byte("big"), v); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, []byte("too-big"), make([]byte, ValueMax+1)); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Fatalf("put of ValueMax+1 bytes = %v, want ErrInvalidArgument", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = Open(dir, small(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := d.Get(ctx, []byte("big"))
	if err != nil || !bytes.Equal(got, v) {
		t.Fatalf("get big after reopen: %d bytes, %v", len(got), err)
	}
}

// TestNoGoroutineLeak opens and closes the engine and checks that the
// goroutine count returns to where it was.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		d, err := Open(t.TempDir(), small(Options{}))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Put(context.Background(), []byte("k"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before Open, %d after Close\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// The process-kill test: a child process puts, syncs, reports, keeps
// writing, and is killed with SIGKILL; everything acknowledged by the
// completed Sync must be there when the parent reopens.
const childEnv = "GAUNTLET_PEBBLE_KILL_CHILD"

func TestKillAfterSync(t *testing.T) {
	if dir := os.Getenv(childEnv); dir != "" {
		killChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillAfterSync$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "synced" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q, %v", line, err)
	}
	time.Sleep(20 * time.Millisecond) // let it write past the Sync
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	d, err := Open(dir, small(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for i := range killKeys {
		k := fmt.Sprintf("k%05d", i)
		got, err := d.Get(context.Background(), []byte(k))
		if err != nil || string(got) != "v-"+k {
			t.Fatalf("synced key %s after kill = %q, %v", k, got, err)
		}
	}
}

const killKeys = 3000

func killChild(dir string) {
	d, err := Open(dir, small(Options{}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	ctx := context.Background()
	for i := range killKeys {
		k := fmt.Sprintf("k%05d", i)
		if err := d.Put(ctx, []byte(k), []byte("v-"+k)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
	if err := d.Sync(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fmt.Println("synced")
	for i := 0; ; i++ { // unsynced writes until killed
		k := fmt.Sprintf("u%09d", i)
		if err := d.Put(ctx, []byte(k), bytes.Repeat([]byte{'u'}, 512)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
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
			benchPut(b, d)
		})
	}
}

// BenchmarkPut1KiBParallel runs 16 writers per CPU with the default
// options, where group commit (and for bbolt, batching) shows.
func BenchmarkPut1KiBParallel(b *testing.B) {
	d, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	v := bytes.Repeat([]byte{'v'}, 1024)
	var n atomic.Int64
	b.SetBytes(1024)
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := d.Put(ctx, benchKey(int(n.Add(1))), v); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkGet1KiB(b *testing.B) {
	d, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	benchGet(b, d)
}

const benchKeys = 100_000

func benchKey(i int) []byte { return []byte(fmt.Sprintf("bench-%08d", i%benchKeys)) }

func benchPut(b *testing.B, e engine.Engine) {
	ctx := context.Background()
	v := bytes.Repeat([]byte{'v'}, 1024)
	b.SetBytes(1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := e.Put(ctx, benchKey(i), v); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchGet(b *testing.B, e engine.Engine) {
	ctx := context.Background()
	v := bytes.Repeat([]byte{'v'}, 1024)
	for i := range benchKeys {
		if err := e.Put(ctx, benchKey(i), v); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Get(ctx, benchKey(rng.IntN(benchKeys))); err != nil {
			b.Fatal(err)
		}
	}
}
