package shardtarget_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/checkers/target/shardtarget"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore"
)

func resolve(t *testing.T, spec string) engine.Options {
	t.Helper()
	_, o, err := engine.Drivers{shardstore.Driver()}.Resolve(spec)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestFromOptions: options the spec sets apply, the others take the check
// defaults, and the name spells out the effective options, resolving back
// to the same target.
func TestFromOptions(t *testing.T) {
	for _, c := range []struct{ spec, name string }{
		{"shardstore", "shardstore:size=1MiB,extent=64KiB,cache=16KiB,memtable=1KiB,value-cache=1KiB,row-cache=4KiB"},
		{"shardstore:sched=fifo,extent=32KiB", "shardstore:size=1MiB,extent=32KiB,cache=16KiB,memtable=1KiB,value-cache=1KiB,row-cache=4KiB,sched=fifo"},
		// cache=0 is the engine's default, sized from the machine's memory.
		{"shardstore:size=8MiB,cache=0,path=x,direct=false", "shardstore:size=8MiB,extent=64KiB,cache=" + engine.FormatSize(shardstore.DefaultOptions().CacheBytes) + ",memtable=1KiB,value-cache=1KiB,row-cache=4KiB"},
		{"shardstore:value-cache=0", "shardstore:size=1MiB,extent=64KiB,cache=16KiB,memtable=1KiB,value-cache=0B,row-cache=4KiB"},
		{"shardstore:flush-interval=5ms", "shardstore:size=1MiB,extent=64KiB,cache=16KiB,memtable=1KiB,value-cache=1KiB,row-cache=4KiB,flush-interval=5ms"},
	} {
		tg, err := shardtarget.FromOptions(resolve(t, c.spec))
		if err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		if tg.Name != c.name {
			t.Errorf("%s: name %q, want %q", c.spec, tg.Name, c.name)
		}
		again, err := shardtarget.FromOptions(resolve(t, tg.Name))
		if err != nil || again.Name != tg.Name || again.DeviceBytes != tg.DeviceBytes || again.Layout != tg.Layout {
			t.Errorf("%s: the name does not resolve back: %v %+v", c.spec, err, again)
		}
	}
	if tg := shardtarget.Default(); tg.DeviceBytes != shardtarget.DeviceBytesDefault || tg.Layout.ExtentBytes != shardtarget.ExtentBytesDefault ||
		tg.Layout.ChunkBytes != shardtarget.ChunkPayloadMaxDefault-4 || tg.Layout.ValueBytesMax != shardtarget.ExtentBytesDefault+1 {
		t.Errorf("default target: %+v", tg)
	}
}

func TestFromOptionsRejects(t *testing.T) {
	_, err := shardtarget.FromOptions(resolve(t, "shardstore:size=128KiB"))
	if !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), "at least 4 extents") {
		t.Errorf("size=128KiB: %v", err)
	}
	// The driver's own check rejects a bad extent size at resolve time,
	// before a target is built.
	_, _, err = engine.Drivers{shardstore.Driver()}.Resolve("shardstore:extent=1000B")
	if !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), "extent=1000B: want a multiple of 4KiB") {
		t.Errorf("extent=1000B: %v", err)
	}
}

// TestOpenDevice: the target opens shardstore on a Mem with every
// capability the checkers use, and reopens it after a clean shutdown.
func TestOpenDevice(t *testing.T) {
	ctx := context.Background()
	tg := shardtarget.Default()
	mem := disk.NewMem(tg.DeviceBytes, tg.SectorBytes)
	e, err := tg.OpenDevice(mem)
	if err != nil {
		t.Fatal(err)
	}
	for name, ok := range map[string]bool{
		"Tracker": is[engine.Tracker](e), "Lister": is[engine.Lister](e), "Maintainer": is[engine.Maintainer](e),
		"InvariantChecker": is[engine.InvariantChecker](e), "Statser": is[engine.Statser](e),
	} {
		if !ok {
			t.Errorf("shardstore is not an engine.%s", name)
		}
	}
	if err := e.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = tg.OpenDevice(mem)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if v, err := e.Get(ctx, []byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("get after reopen: %q, %v", v, err)
	}
}

func is[T any](e engine.Engine) bool { _, ok := e.(T); return ok }

// TestFor: target.For reads the driver's Device hook: shardstore gets a
// device target with the check defaults, an engine without the hook a
// directory target, whatever its name.
func TestFor(t *testing.T) {
	d, o, err := engine.Drivers{shardstore.Driver()}.Resolve("shardstore:sched=fifo")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := target.For(d, o)
	if err != nil || !tg.HasDevice() || tg.Name != shardtarget.Default().Name+",sched=fifo" || tg.DeviceBytes != shardtarget.DeviceBytesDefault {
		t.Errorf("shardstore: %+v, %v: want a device target with the check defaults", tg, err)
	}
	dirOnly := shardstore.Driver()
	dirOnly.Device = nil
	if tg, err := target.For(dirOnly, o); err != nil || tg.HasDevice() || tg.OpenDir == nil {
		t.Errorf("a shardstore driver without Device: %+v, %v: want a directory target", tg, err)
	}
	if _, err := target.For(d, resolve(t, "shardstore:size=128KiB")); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Errorf("size=128KiB: %v, want ErrInvalidArgument", err)
	}
}
