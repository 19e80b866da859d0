package superblock

import (
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// Two slots that fill extent 0 exactly fit: Recover takes the geometry
// Format wrote.
func TestRecoverSlotsFillingTheExtent(t *testing.T) {
	const count, extentBytes, sector = 64, 4096, 512
	geo, err := extent.NewGeometry(count*extentBytes, extentBytes, sector)
	if err != nil {
		t.Fatal(err)
	}
	if s := SlotBytes(geo.Count, sector); 2*s != geo.ExtentBytes {
		t.Fatalf("two slots of %d bytes in an extent of %d: the test wants them to fill it exactly", s, geo.ExtentBytes)
	}
	dev := disk.NewMem(count*extentBytes, sector)
	if err := Format(dev, geo); err != nil {
		t.Fatal(err)
	}
	if rec, err := Recover(dev, geo); err != nil || rec.Image.Sequence != 1 {
		t.Fatalf("Recover = %+v, %v; want the formatted slot", rec, err)
	}
}
