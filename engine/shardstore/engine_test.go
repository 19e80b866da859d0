package shardstore

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/enginetest"
)

// testOptions are small: 1 MiB extents, a tiny cache and memtable, so that
// extents fill, the cache evicts and the memtable flushes within a test.
func testOptions() Options {
	return Options{
		ExtentBytes:   1 << 20,
		CacheBytes:    64 << 10,
		MemtableBytes: 16 << 10,
		Seed:          1,
	}
}

func TestEngineMem(t *testing.T) {
	enginetest.Run(t, enginetest.Config{Open: memOpener(testOptions())})
}

// memOpener opens stores with o on in-memory devices, one per directory,
// so that a reopen of a directory finds its device.
func memOpener(o Options) func(dir string) (engine.Engine, error) {
	var mu sync.Mutex
	devs := map[string]*disk.Mem{}
	return func(dir string) (engine.Engine, error) {
		mu.Lock()
		m, ok := devs[dir]
		if !ok {
			m = disk.NewMem(96<<20, 512)
			devs[dir] = m
		}
		mu.Unlock()
		return Open(m, o)
	}
}

func TestEngineFile(t *testing.T) {
	for _, direct := range []bool{false, true} {
		name := "buffered"
		if direct {
			name = "direct"
		}
		t.Run(name, func(t *testing.T) {
			enginetest.Run(t, enginetest.Config{RandomOps: 500, Open: func(dir string) (engine.Engine, error) {
				o := testOptions()
				o.DeviceBytes = 96 << 20
				o.Direct, o.DirectSet = direct, true
				return OpenDir(dir, o)
			}})
		})
	}
}

func TestDriverOptions(t *testing.T) {
	d := Driver()
	o, err := engine.Resolve(engine.Spec{Name: "shardstore", Options: []engine.Setting{{Key: "size", Value: "64MiB"}, {Key: "extent", Value: "1MiB"}, {Key: "sched", Value: "fifo"}}}, d.Options)
	if err != nil {
		t.Fatal(err)
	}
	e, err := d.Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Put(t.Context(), []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if got, err := e.Get(t.Context(), []byte("k")); err != nil || string(got) != "v" {
		t.Fatalf("get = %q, %v", got, err)
	}
	for v, want := range map[string]int64{"0": -1, "1MiB": 1 << 20} {
		o, err := engine.Resolve(engine.Spec{Name: "shardstore", Options: []engine.Setting{{Key: "value-cache", Value: v}}}, d.Options)
		if err != nil {
			t.Fatal(err)
		}
		if got := OptionsFromSpec(o).ValueCacheBytes; got != want {
			t.Errorf("value-cache=%s: ValueCacheBytes %d, want %d", v, got, want)
		}
	}
	o, err = engine.Resolve(engine.Spec{Name: "shardstore", Options: []engine.Setting{{Key: "io-depth", Value: "2"}}}, d.Options)
	if err != nil || OptionsFromSpec(o).IODepth != 2 {
		t.Fatalf("io-depth=2: %v, IODepth %d", err, OptionsFromSpec(o).IODepth)
	}
	for _, bad := range []string{"0", "-1"} {
		o, err := engine.Resolve(engine.Spec{Name: "shardstore", Options: []engine.Setting{{Key: "io-depth", Value: bad}}}, d.Options)
		if err == nil {
			err = d.Check(o)
		}
		if !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), "io-depth="+bad) {
			t.Errorf("io-depth=%s: %v, want an error naming it", bad, err)
		}
	}
	if _, err := engine.Resolve(engine.Spec{Name: "shardstore", Options: []engine.Setting{{Key: "sched", Value: "lifo"}}}, d.Options); err == nil {
		t.Fatal("sched=lifo accepted")
	}
}
