package chunk

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// rewriting reports whether -rewrite (the flag datadriven defines) is set:
// golden files are then regenerated instead of compared.
func rewriting() bool {
	f := flag.Lookup("rewrite")
	return f != nil && f.Value.String() == "true"
}

// recordingDevice logs the device writes and flushes a store makes. Writes
// between two flushes are reported as the merged byte ranges they cover, per
// extent, so the log does not depend on how the scheduler happened to batch
// them, only on what each flush made durable.
type recordingDevice struct {
	disk.Device
	extentBytes int64
	mu          sync.Mutex
	ranges      map[int64][][2]int64 // extent -> ranges written since the last flush
	log         []string
}

func (r *recordingDevice) WriteAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	e := off / r.extentBytes
	r.ranges[e] = append(r.ranges[e], [2]int64{off % r.extentBytes, off%r.extentBytes + int64(len(p))})
	r.mu.Unlock()
	return r.Device.WriteAt(p, off)
}

func (r *recordingDevice) Flush() error {
	r.mu.Lock()
	var es []int64
	for e := range r.ranges {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i] < es[j] })
	for _, e := range es {
		rs := r.ranges[e]
		sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
		var merged [][2]int64
		for _, x := range rs {
			if n := len(merged); n > 0 && x[0] <= merged[n-1][1] {
				merged[n-1][1] = max(merged[n-1][1], x[1])
			} else {
				merged = append(merged, x)
			}
		}
		for _, m := range merged {
			what := fmt.Sprintf("extent %d", e)
			if e == 0 {
				what = "superblock"
			}
			r.log = append(r.log, fmt.Sprintf("write %s [%d, %d)", what, m[0], m[1]))
		}
	}
	r.ranges = map[int64][][2]int64{}
	r.log = append(r.log, "flush")
	r.mu.Unlock()
	return r.Device.Flush()
}

func (r *recordingDevice) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.Join(r.log, "\n")
	r.log = nil
	return s
}

// TestGoldenWriteOrder pins the order of device writes and flushes for a
// fixed scenario. Regenerate with -rewrite and read the diff.
func TestGoldenWriteOrder(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	opts.Scheduler.FlushInterval = 1 << 40 // flush only when someone waits
	mem := newMem()
	if err := Format(mem, opts); err != nil {
		t.Fatal(err)
	}
	rec := &recordingDevice{Device: mem, extentBytes: opts.ExtentBytes, ranges: map[int64][][2]int64{}}
	s := openStore(t, rec, opts)
	var out strings.Builder
	step := func(name string, f func()) {
		f()
		fmt.Fprintf(&out, "## %s\n%s\n", name, rec.take())
	}
	var a, b, c Locator
	var da dep.Dependency
	step("put a (1000 bytes), wait for it", func() {
		var err error
		a, _, da, err = s.Append(ctx, StreamData, make([]byte, 1000), dep.Dependency{})
		if err != nil {
			t.Fatal(err)
		}
		if err := da.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	})
	step("put b and c (index stream) depending on a, sync", func() {
		var err error
		if b, _, _, err = s.Append(ctx, StreamData, make([]byte, 300), da); err != nil {
			t.Fatal(err)
		}
		if c, _, _, err = s.Append(ctx, StreamIndex, make([]byte, 200), da); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	})
	step("seal data, reset a's extent, put d, sync", func() {
		s.Seal(StreamData)
		if _, err := s.Reset(ctx, a.Extent); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := s.Append(ctx, StreamData, make([]byte, 100), dep.Dependency{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	})
	step("close", func() {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
	fmt.Fprintf(&out, "## locators\na %v\nb %v\nc %v\n", a, b, c)
	path := filepath.Join("testdata", "write_order.golden")
	if rewriting() {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if string(want) != out.String() {
		t.Fatalf("write order changed (run with -rewrite and review the diff):\n got:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestDataDriven runs the chunk store scripts in testdata/store:
//
//	put <name> [stream=data|evacuate|index|metadata] [size=N] [deps=a,b]
//	get <name>            read the chunk back, print its length and checksum
//	wait <name>           wait for its dependency
//	persistent            list which puts are persistent
//	sync | seal [stream=] | reset <name> (its extent) | extents
//	crash [seed=N] [policy=none|random|torn]   crash the device and reopen
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/store", func(t *testing.T, path string) {
		ctx := context.Background()
		opts := testOptions()
		opts.Scheduler.FlushInterval = 1 << 40
		mem := newMem()
		if err := Format(mem, opts); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, mem, opts)
		type put struct {
			loc Locator
			d   dep.Dependency
			sum uint32
		}
		puts := map[string]put{}
		var order []string
		streamArg := func(td *datadriven.TestData) Stream {
			if !td.HasArg("stream") {
				return StreamData
			}
			var v string
			td.ScanArgs(t, "stream", &v)
			for st := range streamCount {
				if st.String() == v {
					return st
				}
			}
			td.Fatalf(t, "unknown stream %q", v)
			return 0
		}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			name := ""
			if len(td.CmdArgs) > 0 && len(td.CmdArgs[0].Vals) == 0 {
				name = td.CmdArgs[0].Key
			}
			switch td.Cmd {
			case "put":
				size := 100
				if td.HasArg("size") {
					td.ScanArgs(t, "size", &size)
				}
				d := dep.Dependency{}
				if td.HasArg("deps") {
					var ds []string
					td.ScanArgs(t, "deps", &ds)
					for _, x := range ds {
						p, ok := puts[x]
						if !ok {
							td.Fatalf(t, "unknown put %q", x)
						}
						d = d.And(p.d)
					}
				}
				v := value(rand.New(rand.NewPCG(uint64(len(order)), 1)), size)
				l, _, pd, err := s.Append(ctx, streamArg(td), v, d)
				if err != nil {
					return "error: " + err.Error()
				}
				puts[name] = put{loc: l, d: pd, sum: crc(v)}
				order = append(order, name)
				return l.String()
			case "get":
				p := puts[name]
				got, err := s.GetChunk(ctx, p.loc)
				if err != nil {
					return "error: " + err.Error()
				}
				if crc(got) != p.sum {
					return "WRONG DATA"
				}
				return fmt.Sprintf("ok: %d bytes", len(got))
			case "wait":
				if err := puts[name].d.Wait(ctx); err != nil {
					return "error: " + err.Error()
				}
				return "ok"
			case "persistent":
				var b strings.Builder
				for _, n := range order {
					fmt.Fprintf(&b, "%s: %v\n", n, puts[n].d.IsPersistent())
				}
				return b.String()
			case "sync":
				if err := s.Sync(ctx); err != nil {
					return "error: " + err.Error()
				}
				return "ok"
			case "seal":
				s.Seal(streamArg(td))
				return "ok"
			case "reset":
				if _, err := s.Reset(ctx, puts[name].loc.Extent); err != nil {
					return "error: " + err.Error()
				}
				return fmt.Sprintf("extent %d: %+v", puts[name].loc.Extent, s.Extent(puts[name].loc.Extent))
			case "extents":
				var b strings.Builder
				for i, info := range s.Extents() {
					if info.Owner != extent.Free || info.Generation != 0 {
						fmt.Fprintf(&b, "%d: %v gen=%d wp=%d\n", i, info.Owner, info.Generation, info.WritePointer)
					}
				}
				return b.String()
			case "crash":
				seed, policy := 1, "torn"
				if td.HasArg("seed") {
					td.ScanArgs(t, "seed", &seed)
				}
				if td.HasArg("policy") {
					td.ScanArgs(t, "policy", &policy)
				}
				pol := map[string]disk.CrashPolicy{"none": disk.CrashNone, "random": disk.CrashRandom, "torn": disk.CrashTorn}[policy]
				img := mem.Crash(rand.New(rand.NewPCG(uint64(seed), 0)), pol)
				s.Close()
				mem = img
				var err error
				if s, err = Open(mem, opts); err != nil {
					return "error: " + err.Error()
				}
				t.Cleanup(func() { s.Close() })
				return "ok"
			}
			td.Fatalf(t, "unknown command %q", td.Cmd)
			return ""
		})
	})
}

func crc(b []byte) uint32 {
	var h uint32 = 2166136261
	for _, x := range b {
		h = (h ^ uint32(x)) * 16777619
	}
	return h
}
