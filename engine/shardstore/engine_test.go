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
	enginetest.Run(t, enginetest.Config{Open: memOpener(testOptions()), InMemory: true})
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

func TestDriver(t *testing.T) {
	enginetest.RunDriver(t, enginetest.DriverConfig{Driver: Driver(), Testdata: "testdata/driver",
		Machine: func(out string) string {
			out = strings.ReplaceAll(out, "row-cache="+engine.FormatSize(max(CacheBytesDefault/rowCacheShare, 1))+",", "row-cache=<an eighth of cache>,")
			return strings.ReplaceAll(out, "cache="+engine.FormatSize(CacheBytesDefault)+",", "cache=<a quarter of memory>,")
		}})
}

// TestDriverOptions: spec values that Options spell differently.
func TestDriverOptions(t *testing.T) {
	d := Driver()
	for v, want := range map[string]int64{"0": -1, "1MiB": 1 << 20} {
		o, err := engine.Resolve(engine.Spec{Name: "shardstore", Options: []engine.Setting{{Key: "value-cache", Value: v}}}, d.Options)
		if err != nil {
			t.Fatal(err)
		}
		if got := OptionsFromSpec(o).ValueCacheBytes; got != want {
			t.Errorf("value-cache=%s: ValueCacheBytes %d, want %d", v, got, want)
		}
	}
	o, err := engine.Resolve(engine.Spec{Name: "shardstore", Options: []engine.Setting{{Key: "io-depth", Value: "2"}}}, d.Options)
	if err != nil || OptionsFromSpec(o).IODepth != 2 {
		t.Fatalf("io-depth=2: %v, IODepth %d", err, OptionsFromSpec(o).IODepth)
	}
	for _, bad := range []string{"0", "-1"} {
		o, err := engine.Resolve(engine.Spec{Name: "shardstore", Options: []engine.Setting{{Key: "io-depth", Value: bad}}}, d.Options)
		if err == nil {
			err = d.Check(o)
		}
		if !errors.Is(err, engine.ErrInvalidArgument) {
			t.Errorf("io-depth=%s: %v, want ErrInvalidArgument", bad, err)
		}
	}
}
