package shardstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// TestFullDeviceRefusesFast: once a fill of live values has filled the
// device, a put is refused with ErrNoSpace without reading the device:
// every sealed extent is a reclamation candidate then (its unwritten tail
// counts as dead), and a put that found no space scanned each of them
// whole, in each of its two reclamation passes, only to find no room to
// move their live chunks. With eight clients on a 4 GiB device that was a
// minute without a single op finishing (the standard suite's fill-64k,
// killed as hung). A put now reads nothing it cannot move.
func TestFullDeviceRefusesFast(t *testing.T) {
	ctx := context.Background()
	o := Options{ExtentBytes: 1 << 20, CacheBytes: 1 << 20, Seed: 1}
	dev := disk.NewMem(64<<20, 512)
	s, err := Open(dev, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	val := make([]byte, 60<<10)
	n := 0
	for ; ; n++ {
		err := s.Put(ctx, fmt.Appendf(nil, "k%06d", n), val)
		if errors.Is(err, engine.ErrNoSpace) {
			break
		}
		if err != nil {
			t.Fatalf("put %d: %v", n, err)
		}
		if n > 2000 {
			t.Fatalf("%d puts of 60 KiB fit a 64 MiB device", n)
		}
	}
	if n < 700 {
		t.Fatalf("the device refused the fill after %d puts of 60 KiB (%d MiB of 64)", n, n*60>>10)
	}
	before := dev.Stats().BytesRead
	for i := range 3 {
		if err := s.Put(ctx, fmt.Appendf(nil, "x%d", i), val); !errors.Is(err, engine.ErrNoSpace) {
			t.Fatalf("put on a full device: %v, want ErrNoSpace", err)
		}
	}
	if read := dev.Stats().BytesRead - before; read > o.ExtentBytes {
		t.Fatalf("three puts refused on a full device read %d bytes (%d MiB) of it, want at most an extent", read, read>>20)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("sync on a full device: %v", err)
	}
}
