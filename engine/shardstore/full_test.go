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
// killed as hung). A put now reads nothing it cannot move, and moves
// nothing from an extent less than a sixteenth dead (reclaimRatioNeeded):
// without that, the three refused puts copied 1 MB, and with eight
// clients a fill of a 4 GiB device wrote 6.8 GiB for its last 55 puts.
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
	before, wbefore := dev.Stats().BytesRead, dev.Stats().BytesWritten
	for i := range 3 {
		if err := s.Put(ctx, fmt.Appendf(nil, "x%d", i), val); !errors.Is(err, engine.ErrNoSpace) {
			t.Fatalf("put on a full device: %v, want ErrNoSpace", err)
		}
	}
	if read := dev.Stats().BytesRead - before; read > o.ExtentBytes {
		t.Fatalf("three puts refused on a full device read %d bytes (%d MiB) of it, want at most an extent", read, read>>20)
	}
	t.Logf("three refused puts: %d bytes read, %d written, %d evacuated", dev.Stats().BytesRead-before, dev.Stats().BytesWritten-wbefore, s.stats.evacBytes.Load())
	if ev := s.stats.evacBytes.Load(); ev != 0 {
		// Every sealed extent is 97% live (a 60 KiB value does not fit
		// its last 3%): copying one frees too little to be worth it.
		t.Fatalf("a fill of live values evacuated %d bytes: reclamation copied nearly-live extents to free their tails", ev)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("sync on a full device: %v", err)
	}
}
