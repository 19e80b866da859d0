package bbolt

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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	configs := []struct {
		name string
		opts Options
	}{
		{"batch=true", small(Options{})},
		{"batch=false", small(Options{NoBatch: true})},
		{"nosync=true,freelist=array,freelist-sync=true", small(Options{NoSync: true, Freelist: FreelistArray, FreelistSync: true})},
		{"nogrowsync=true,mmap=0", small(Options{NoGrowSync: true, InitialMmapSize: -1})},
		{"defaults", Options{}},
	}
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "defaults" && testing.Short() {
				t.Skip("defaults wait 10ms per lone write; skipped with -short")
			}
			cfg := enginetest.Config{Open: func(dir string) (engine.Engine, error) {
				return Open(dir, c.opts)
			}}
			if c.name == "defaults" {
				cfg.RandomOps = 300 // at 10ms per lone write
			}
			enginetest.Run(t, cfg)
		})
	}
}

func TestDriverDefaultsMatchOptions(t *testing.T) {
	_, opts, err := engine.Drivers{Driver()}.Resolve("bbolt")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := optionsFrom(opts), DefaultOptions(); got != want {
		t.Fatalf("driver defaults = %+v, want DefaultOptions() = %+v", got, want)
	}
	if want := "bbolt:nosync=false,nogrowsync=false,freelist=map,freelist-sync=false,mmap=10GiB,batch=true,batch-size=1000,batch-delay=10ms"; opts.Spec().String() != want {
		t.Fatalf("spec = %s, want %s", opts.Spec(), want)
	}
}

func TestDriverMapsOptions(t *testing.T) {
	_, opts, err := engine.Drivers{Driver()}.Resolve("bbolt:nosync=true,nogrowsync=true,freelist=array,freelist-sync=true,mmap=0,batch=false,batch-size=10,batch-delay=2ms")
	if err != nil {
		t.Fatal(err)
	}
	o := optionsFrom(opts)
	want := Options{NoSync: true, NoGrowSync: true, Freelist: FreelistArray, FreelistSync: true, InitialMmapSize: -1, NoBatch: true, MaxBatchSize: 10, MaxBatchDelay: 2 * time.Millisecond}
	if o != want {
		t.Fatalf("options = %+v, want %+v", o, want)
	}
	bo := o.boltOptions()
	if !bo.NoSync || !bo.NoGrowSync || bo.FreelistType != "array" || bo.NoFreelistSync || bo.InitialMmapSize != 0 {
		t.Fatalf("bbolt options: %s", bo)
	}
	if bo := DefaultOptions().boltOptions(); bo.NoSync || bo.FreelistType != "hashmap" || !bo.NoFreelistSync || bo.InitialMmapSize != 10<<30 {
		t.Fatalf("default bbolt options: %s", bo)
	}
	d, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.db.MaxBatchSize != 10 || d.db.MaxBatchDelay != 2*time.Millisecond || !d.db.NoSync {
		t.Fatalf("bbolt DB: batch %d/%s, nosync %v", d.db.MaxBatchSize, d.db.MaxBatchDelay, d.db.NoSync)
	}
}

func TestDriverBadOptions(t *testing.T) {
	tests := []struct {
		spec string
		want string // a fragment of the one-line error
	}{
		{"bbolt:mmap=12XB", "mmap=12XB"},
		{"bbolt:freelist=list", "freelist=list: not one of map, array"},
		{"bbolt:nosuch=1", `unknown option "nosuch"`},
		{"bbolt:batch-size=0,batch-delay=0s", "batch-size=0 is outside 1 to 1048576; batch-delay=0s is outside (0, 1s]"},
		{"bbolt:mmap=2TiB", "mmap=2TiB is above 1TiB"},
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
	d, opts, err := engine.Drivers{Driver()}.Resolve("bbolt:batch-delay=1ms")
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
// returns nil or ErrClosed, none panics, and Close waits for the calls already
// inside.
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
	for _, op := range engine.MaintenanceOps() {
		if err := d.Maintain(ctx, op); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Maintain(%s) = %v, want ErrUnsupported", op, err)
		}
	}
	if err := d.Maintain(ctx, "defrag"); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Errorf("Maintain(defrag) = %v, want ErrInvalidArgument", err)
	}
}

// TestListChunks lists more keys than one chunk, with writes from inside the
// callback (which would deadlock a List holding a read transaction while the
// write grows the file).
func TestListChunks(t *testing.T) {
	d, err := Open(t.TempDir(), small(Options{InitialMmapSize: -1, NoBatch: true, NoSync: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	const n = 3*listChunk + 7
	err = d.db.Update(func(tx *bolt.Tx) error {
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
	d, err := Open(t.TempDir(), small(Options{NoBatch: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	v := bytes.Repeat([]byte{'v'}, 1000)
	for i := range 500 {
		if err := d.Put(ctx, []byte(fmt.Sprintf("k%05d", i%200)), v); err != nil {
			t.Fatal(err)
		}
	}
	s := d.Stats()
	if want := int64(500 * (6 + 1000)); s.UserBytesWritten != want {
		t.Fatalf("UserBytesWritten = %d, want %d", s.UserBytesWritten, want)
	}
	// One commit per Put, two fdatasyncs per commit, at least a leaf page and
	// a meta page written per commit.
	if s.Metrics["commits"] != 500 || s.Flushes != 1000 || s.DeviceBytesWritten < 500*2*4096 || s.WriteAmplification() <= 1 {
		t.Fatalf("stats: %+v", s)
	}
	t.Logf("stats: %+v (write amplification %.2f)", s, s.WriteAmplification())
}

func TestSyncWithNoSync(t *testing.T) {
	d, err := Open(t.TempDir(), small(Options{NoSync: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
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
	d, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
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
const childEnv = "GAUNTLET_BBOLT_KILL_CHILD"

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
	}{
		{"batch=true", Options{}},
		{"batch=false", Options{NoBatch: true}},
		{"nosync=true", Options{NoSync: true}},
	} {
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
	// One transaction: filling through Put would wait out a batch delay
	// per key.
	err := e.(*DB).db.Update(func(tx *bolt.Tx) error {
		for i := range benchKeys {
			if err := tx.Bucket(bucket).Put(benchKey(i), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
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
