package badger

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

// small keeps test instances light: the defaults allocate 1 GiB of caches
// and 64 MiB memtables, and the suite opens hundreds of instances.
func small(o Options) Options {
	o.MemTableSize = 8 << 20
	o.BlockCacheSize = 8 << 20
	o.IndexCacheSize = 8 << 20
	return o
}

func TestContract(t *testing.T) {
	configs := []struct {
		name string
		opts Options
	}{
		{"mode=lsm", small(Options{Mode: ModeLSM})},
		{"mode=vlog", small(Options{Mode: ModeVLog})},
		{"mode=vlog,sync=true", small(Options{Mode: ModeVLog, SyncWrites: true})},
		{"mode=lsm,sync=true,caches=off", small(Options{SyncWrites: true, BlockCacheSize: -1, IndexCacheSize: -1})},
		{"defaults", Options{}},
	}
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "defaults" && testing.Short() {
				t.Skip("defaults open 1 GiB of caches; skipped with -short")
			}
			enginetest.Run(t, enginetest.Config{Open: func(dir string) (engine.Engine, error) {
				d, err := Open(dir, c.opts)
				if err != nil || c.opts.Mode != ModeVLog {
					return d, err
				}
				// In vlog mode, value-log GC on demand resurrects deleted
				// keys (see TestGCKeepsDeletesDeleted): hide Maintainer so
				// the suite checks everything else.
				return withoutMaintainer{Engine: d, Lister: d, Statser: d, Limiter: d}, nil
			}})
		})
	}
}

// withoutMaintainer is a DB without its Maintainer capability.
type withoutMaintainer struct {
	engine.Engine
	engine.Lister
	engine.Statser
	engine.Limiter
}

func TestDriverDefaultsMatchOptions(t *testing.T) {
	_, opts, err := engine.Drivers{Driver()}.Resolve("badger")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := optionsFrom(opts), DefaultOptions(); got != want {
		t.Fatalf("driver defaults = %+v, want DefaultOptions() = %+v", got, want)
	}
	if want := "badger:mode=lsm,sync=false,memtable=64MiB,block-cache=640MiB,index-cache=384MiB,gc-interval=1m0s"; opts.Spec().String() != want {
		t.Fatalf("spec = %s, want %s", opts.Spec(), want)
	}
}

func TestDriverMapsOptions(t *testing.T) {
	_, opts, err := engine.Drivers{Driver()}.Resolve("badger:mode=vlog,sync=true,memtable=16MiB,block-cache=0,index-cache=0,gc-interval=0")
	if err != nil {
		t.Fatal(err)
	}
	o := optionsFrom(opts)
	want := Options{Mode: ModeVLog, SyncWrites: true, MemTableSize: 16 << 20, BlockCacheSize: -1, IndexCacheSize: -1, GCInterval: -1, GCDiscardRatio: 0.5}
	if o != want {
		t.Fatalf("options = %+v, want %+v", o, want)
	}
	bo := o.badgerOptions("/x")
	if bo.ValueThreshold != VLogValueThreshold || !bo.SyncWrites || bo.MemTableSize != 16<<20 || bo.BlockCacheSize != 0 || bo.IndexCacheSize != 0 || bo.DetectConflicts {
		t.Fatalf("badger options: threshold %d, sync %v, memtable %d, caches %d/%d, conflicts %v",
			bo.ValueThreshold, bo.SyncWrites, bo.MemTableSize, bo.BlockCacheSize, bo.IndexCacheSize, bo.DetectConflicts)
	}
	if bo := DefaultOptions().badgerOptions("/x"); bo.ValueThreshold != LSMValueThreshold || bo.BlockCacheSize != 640<<20 || bo.IndexCacheSize != 384<<20 {
		t.Fatalf("default badger options: threshold %d, caches %d/%d", bo.ValueThreshold, bo.BlockCacheSize, bo.IndexCacheSize)
	}
}

func TestDriverBadOptions(t *testing.T) {
	tests := []struct {
		spec string
		want string // a fragment of the one-line error
	}{
		{"badger:memtable=12XB", "memtable=12XB"},
		{"badger:mode=wisckey", "mode=wisckey: not one of lsm, vlog"},
		{"badger:nosuch=1", `unknown option "nosuch"`},
		{"badger:memtable=4MiB", "memtable=4MiB is outside 8MiB to 1GiB"},
		{"badger:memtable=0,gc-interval=10ms", "memtable=0B is outside 8MiB to 1GiB; gc-interval=10ms is below 1s"},
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
	d, opts, err := engine.Drivers{Driver()}.Resolve("badger:memtable=8MiB,block-cache=8MiB,index-cache=8MiB")
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
	d, err := Open(t.TempDir(), small(Options{Mode: ModeVLog}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
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
	for _, op := range []engine.MaintenanceOp{engine.IndexFlush, engine.Compact, engine.SuperblockFlush, engine.CacheFlush} {
		if err := d.Maintain(ctx, op); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Maintain(%s) = %v, want ErrUnsupported", op, err)
		}
	}
	if err := d.Maintain(ctx, "defrag"); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Errorf("Maintain(defrag) = %v, want ErrInvalidArgument", err)
	}
}

// TestReservedPrefix: Badger refuses keys that begin with "!badger!"; the
// adapter's key prefix makes them ordinary.
func TestReservedPrefix(t *testing.T) {
	d, err := Open(t.TempDir(), small(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
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
	d, err := Open(t.TempDir(), small(Options{Mode: ModeVLog}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	v := bytes.Repeat([]byte{'v'}, 1000)
	for i := range 5000 {
		if err := d.Put(ctx, []byte(fmt.Sprintf("k%05d", i%2000)), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	s := d.Stats()
	if want := int64(5000 * (6 + 1000)); s.UserBytesWritten != want {
		t.Fatalf("UserBytesWritten = %d, want %d", s.UserBytesWritten, want)
	}
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
	d, err := Open(t.TempDir(), small(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	first := d.syncMem
	v := bytes.Repeat([]byte{'v'}, 4000)
	for i := range 6000 { // 24 MB through 8 MiB memtables
		if err := d.Put(ctx, []byte(fmt.Sprintf("k%05d", i)), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if d.syncMem <= first {
		t.Fatalf("newest synced memtable WAL %d -> %d; want it to advance past rotations", first, d.syncMem)
	}
	if id, ok := fileID("00012.mem", ".mem"); !ok || id != 12 {
		t.Fatalf("fileID(00012.mem) = %d, %v", id, ok)
	}
	if _, ok := fileID("000003.vlog", ".mem"); ok {
		t.Fatal("fileID took a .vlog for a .mem")
	}
}

func TestBigValues(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB values; skipped with -short")
	}
	for _, mode := range []Mode{ModeLSM, ModeVLog} {
		t.Run(string(mode), func(t *testing.T) {
			dir := t.TempDir()
			d, err := Open(dir, small(Options{Mode: mode}))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, 1))
			vals := map[string][]byte{}
			// Around the LSM threshold, and well past the 16 MiB the contract asks.
			for _, n := range []int{LSMValueThreshold - 1, LSMValueThreshold, 16 << 20, 64 << 20} {
				v := make([]byte, n)
				for i := range v {
					v[i] = byte(rng.Uint32())
				}
				k := fmt.Sprintf("big-%d", n)
				vals[k] = v
				if err := d.Put(ctx, []byte(k), v); err != nil {
					t.Fatalf("put %s: %v", k, err)
				}
			}
			if err := d.Put(ctx, []byte("too-big"), make([]byte, ValueMax+1)); !errors.Is(err, engine.ErrInvalidArgument) {
				t.Fatalf("put of ValueMax+1 bytes = %v, want ErrInvalidArgument", err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			d, err = Open(dir, small(Options{Mode: mode}))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			for k, v := range vals {
				got, err := d.Get(ctx, []byte(k))
				if err != nil || !bytes.Equal(got, v) {
					t.Fatalf("get %s after reopen: %d bytes, %v", k, len(got), err)
				}
			}
		})
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
const childEnv = "GAUNTLET_BADGER_KILL_CHILD"

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
		{"mode=lsm", Options{}},
		{"mode=vlog", Options{Mode: ModeVLog}},
		{"mode=lsm,sync=true", Options{SyncWrites: true}},
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
