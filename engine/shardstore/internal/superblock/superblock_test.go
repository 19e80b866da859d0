package superblock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
)

func testImage() Image {
	return Image{
		Sequence:    7,
		ExtentBytes: 64 << 10,
		Records: []Record{
			{Owner: extent.Super},
			{WritePointer: 1000, Generation: 2, Owner: extent.Data},
			{Generation: 5, Owner: extent.Free},
			{WritePointer: 64 << 10, Generation: 1, Owner: extent.Index},
		},
		Root:     []byte("root"),
		DeltaCRC: 0xdeadbeef,
	}
}

// TestSlotFixture pins the slot layout (FORMAT.md).
func TestSlotFixture(t *testing.T) {
	img := testImage()
	b := Encode(img, SlotBytes(4, 512))
	if len(b) != 1024 {
		t.Fatalf("slot of %d bytes, want 1024 (556+64+4 rounded to 512)", len(b))
	}
	if string(b[:8]) != "SHRDSTSB" || b[8] != 2 || b[12] != 16 || b[16] != 7 || b[24+2] != 1 || b[32] != 4 || b[36] != 4 ||
		b[40] != 0xef || b[43] != 0xde || string(b[44:48]) != "root" {
		t.Fatalf("header bytes % x", b[:48])
	}
	r1 := b[556+16:]
	if r1[0] != 0xe8 || r1[1] != 0x03 || r1[8] != 2 || r1[12] != 1 {
		t.Fatalf("record 1 bytes % x", r1[:16])
	}
	crcAt := 556 + 4*16
	want := crc32.Checksum(b[:crcAt], crc32.MakeTable(crc32.Castagnoli))
	if got := uint32(b[crcAt]) | uint32(b[crcAt+1])<<8 | uint32(b[crcAt+2])<<16 | uint32(b[crcAt+3])<<24; got != want {
		t.Fatalf("crc %#x, want %#x", got, want)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sequence != 7 || got.ExtentBytes != img.ExtentBytes || string(got.Root) != "root" || len(got.Records) != 4 || got.DeltaCRC != img.DeltaCRC || got.Records[1] != img.Records[1] || got.Records[3] != img.Records[3] {
		t.Fatalf("Decode = %+v", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Encode(testImage(), 1024)
	mod := func(f func(b []byte)) []byte { b := append([]byte(nil), good...); f(b); return b }
	recrc := func(b []byte) {
		n := 556 + 4*16
		c := format.CRC(0, b[:n])
		b[n], b[n+1], b[n+2], b[n+3] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
	}
	cases := []struct {
		name string
		b    []byte
		want Reason
	}{
		{"short", good[:100], ReasonTruncated},
		{"magic", mod(func(b []byte) { b[0] = 'X' }), ReasonMagic},
		{"version", mod(func(b []byte) { b[8] = 9 }), ReasonVersion},
		{"record size", mod(func(b []byte) { b[12] = 8 }), ReasonLayout},
		{"too many records", mod(func(b []byte) { b[34] = 1 }), ReasonLayout},
		{"root length", mod(func(b []byte) { b[37] = 9 }), ReasonLayout},
		{"bit flip", mod(func(b []byte) { b[600] ^= 4 }), ReasonChecksum},
		{"bad owner", mod(func(b []byte) { b[556+16+12] = 77; recrc(b) }), ReasonRecord},
		{"wp past extent", mod(func(b []byte) { b[556+16+4] = 1; recrc(b) }), ReasonRecord},
		{"free with wp", mod(func(b []byte) { b[556+32] = 1; recrc(b) }), ReasonRecord},
		{"extent 0 not super", mod(func(b []byte) { b[556+12] = 1; recrc(b) }), ReasonRecord},
		{"zeros", make([]byte, 1024), ReasonMagic},
	}
	for _, c := range cases {
		_, err := Decode(c.b)
		if !IsSlotError(err, c.want) || !errors.Is(err, engine.ErrCorruption) {
			t.Errorf("%s: Decode = %v, want %q wrapping ErrCorruption", c.name, err, c.want)
		}
	}
}

func TestRecoverPicksNewestValidSlot(t *testing.T) {
	geo, err := extent.NewGeometry(1<<20, 64<<10, 512)
	if err != nil {
		t.Fatal(err)
	}
	dev := disk.NewMem(1<<20, 512)
	if _, err := Recover(dev, geo); !errors.Is(err, engine.ErrCorruption) {
		t.Fatalf("Recover of a blank device = %v, want ErrCorruption", err)
	}
	if err := Format(dev, geo); err != nil {
		t.Fatal(err)
	}
	rec, err := Recover(dev, geo)
	if err != nil || rec.Slot != 0 || rec.Image.Sequence != 1 {
		t.Fatalf("after Format: %+v, %v; want slot 0 sequence 1", rec, err)
	}
	slot := SlotBytes(geo.Count, 512)
	img := rec.Image
	img.Sequence = 2
	img.Root = []byte("two")
	if _, err := dev.WriteAt(Encode(img, slot), slot); err != nil {
		t.Fatal(err)
	}
	if rec, err = Recover(dev, geo); err != nil || rec.Slot != 1 || string(rec.Image.Root) != "two" {
		t.Fatalf("newer slot 1: %+v, %v", rec, err)
	}
	// Tear slot 1 (its last sector never written): slot 0 wins.
	if _, err := dev.WriteAt(make([]byte, 512), 2*slot-512); err != nil {
		t.Fatal(err)
	}
	if rec, err = Recover(dev, geo); err != nil || rec.Slot != 0 || rec.Image.Sequence != 1 {
		t.Fatalf("torn slot 1: %+v, %v; want slot 0", rec, err)
	}
	// A device formatted with another geometry.
	other, _ := extent.NewGeometry(1<<20, 128<<10, 512)
	if _, err := Recover(dev, other); err == nil {
		t.Fatal("Recover with a different extent size succeeded")
	}
}

// FuzzDecodeSlot: any bytes give a SlotError or an image that re-encodes to
// the same bytes.
func FuzzDecodeSlot(f *testing.F) {
	f.Add(Encode(testImage(), 1024))
	f.Add(Encode(Image{ExtentBytes: 4096, Records: []Record{{Owner: extent.Super}}}, 1024))
	f.Add(make([]byte, 600))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := Decode(b)
		if err != nil {
			if !errors.Is(err, engine.ErrCorruption) {
				t.Fatalf("error %v does not wrap ErrCorruption", err)
			}
			return
		}
		n := format.SBHeaderSize + len(img.Records)*format.RecordSize + format.SBTrailerSize
		re := Encode(img, int64(n))
		img2, err := Decode(re)
		if err != nil || img2.Sequence != img.Sequence || img2.ExtentBytes != img.ExtentBytes ||
			string(img2.Root) != string(img.Root) || len(img2.Records) != len(img.Records) {
			t.Fatalf("re-encoded image does not decode the same: %v", err)
		}
		for i := range img.Records {
			if img.Records[i] != img2.Records[i] {
				t.Fatalf("record %d: %+v re-decodes as %+v", i, img.Records[i], img2.Records[i])
			}
		}
	})
}

// testFrame builds a data frame (FORMAT.md) with the given uuid byte.
func testFrame(id byte, payload []byte) []byte {
	uuid := bytes.Repeat([]byte{id}, format.UUIDSize)
	b := make([]byte, format.FrameHeaderSize, format.FrameOverhead+len(payload))
	binary.LittleEndian.PutUint16(b[format.FrameMagicOffset:], format.FrameMagic)
	b[format.FrameVersionOff] = format.Version
	b[format.FrameKindOffset] = format.FrameData
	copy(b[format.FrameUUIDOffset:], uuid)
	binary.LittleEndian.PutUint32(b[format.FrameLengthOffset:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[format.FrameCRCOffset:], format.CRC(format.CRC(0, b[:format.FrameCRCOffset]), payload))
	b = append(b, payload...)
	return append(b, uuid...)
}

// TestRecoverVerifiesNewestSlot: a slot written in the same flush as the
// frames it covers is trusted only if those frames reached the device. If
// they did not, recovery falls back to the older slot and writes it over
// the newer one, so that bytes written later at the same offsets cannot
// make the abandoned slot verify on a later recovery. Frames of another
// write in their place — same UUIDs and lengths, other payloads, each
// valid, ending in a checksum of their own like metadata does — do not
// verify either (a CRC over whole frames accepted those).
func TestRecoverVerifiesNewestSlot(t *testing.T) {
	geo, err := extent.NewGeometry(1<<20, 64<<10, 512)
	if err != nil {
		t.Fatal(err)
	}
	withCRC := func(p []byte) []byte { return binary.LittleEndian.AppendUint32(p, format.CRC(0, p)) }
	first := testFrame(1, withCRC([]byte("the older slot's frame")))
	ours := append(testFrame(2, withCRC([]byte("metadata naming run 56 "))), testFrame(3, []byte("data"))...)
	theirs := append(testFrame(2, withCRC([]byte("metadata naming run 94 "))), testFrame(3, []byte("DATA"))...)
	x := int64(len(first)) // the older slot's write pointer
	older := Image{Sequence: 5, ExtentBytes: geo.ExtentBytes, Records: make([]Record, geo.Count), DeltaCRC: 0x1234}
	older.Records[0].Owner = extent.Super
	older.Records[1] = Record{WritePointer: x, Generation: 3, Owner: extent.Data}
	newer := older
	newer.Sequence = 6
	newer.Records = slices.Clone(older.Records)
	newer.Records[1].WritePointer = x + int64(len(ours))
	newer.Root = []byte("new root")
	var hdrs uint32
	for p := 0; p < len(ours); {
		n, ok := format.FrameSize(ours[p:])
		if !ok {
			t.Fatal("test frame does not decode")
		}
		hdrs = format.CRC(hdrs, ours[p:p+format.FrameHeaderSize])
		p += n
	}
	newer.DeltaCRC = deltaCRC(0, 1, hdrs)

	setup := func(delta []byte) *disk.Mem {
		dev := disk.NewMem(1<<20, 512)
		if err := WriteSlot(dev, geo, 0, older); err != nil {
			t.Fatal(err)
		}
		if err := WriteSlot(dev, geo, 1, newer); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1024)
		copy(b, first)
		copy(b[x:], delta)
		if _, err := dev.WriteAt(b, geo.Base(1)); err != nil {
			t.Fatal(err)
		}
		return dev
	}
	isNewer := func(what string, rec Recovered) {
		t.Helper()
		if rec.FellBack || rec.Image.Sequence != 6 || string(rec.Image.Root) != "new root" || rec.Seen != 6 {
			t.Fatalf("%s: sequence %d, root %q, fell back %v; want the newer slot", what, rec.Image.Sequence, rec.Image.Root, rec.FellBack)
		}
	}
	isOlder := func(what string, rec Recovered, fellBack bool) {
		t.Helper()
		if rec.FellBack != fellBack || rec.Image.Sequence != 7 || rec.Image.Root != nil || rec.Image.Records[1] != older.Records[1] {
			t.Fatalf("%s: sequence %d, root %q, extent 1 %+v, fell back %v; want the older slot's state at sequence 7 (fell back %v)",
				what, rec.Image.Sequence, rec.Image.Root, rec.Image.Records[1], rec.FellBack, fellBack)
		}
		// Seen is the abandoned slot's sequence: what every later slot
		// must exceed (chunk.Store.CheckSequence).
		if fellBack && rec.Seen != 6 {
			t.Fatalf("%s: Seen %d, want 6, the sequence of the slot that did not verify", what, rec.Seen)
		}
	}

	rec, err := Recover(setup(ours), geo)
	if err != nil {
		t.Fatal(err)
	}
	isNewer("its frames on the device", rec)

	for _, c := range []struct {
		name  string
		delta []byte
	}{
		{"its frames lost", nil},
		{"the first frame lost", append(make([]byte, len(ours)-len(testFrame(3, []byte("data")))), testFrame(3, []byte("data"))...)},
		{"another write's frames in their place", theirs},
	} {
		dev := setup(c.delta)
		rec, err := Recover(dev, geo)
		if err != nil {
			t.Fatal(err)
		}
		isOlder(c.name, rec, true)
		// Later writes put the very frames the abandoned slot covered in
		// place (the same generation, reused after the fallback): it must
		// stay gone.
		if _, err := dev.WriteAt(append(append([]byte(nil), first...), append(ours, make([]byte, 1024-len(first)-len(ours))...)...), geo.Base(1)); err != nil {
			t.Fatal(err)
		}
		rec, err = Recover(dev, geo)
		if err != nil {
			t.Fatal(err)
		}
		isOlder(c.name+", then the frames written", rec, false)
	}
}

// TestFind locates a slot without being told the geometry: slot 0 at byte
// 0, or slot 1 after a slot of its own count when slot 0 is gone; nothing
// on a blank device, and not a magic found anywhere else.
func TestFind(t *testing.T) {
	geo, err := extent.NewGeometry(1<<20, 64<<10, 512)
	if err != nil {
		t.Fatal(err)
	}
	dev := disk.NewMem(1<<20, 512)
	if _, ok, err := Find(dev); ok || err != nil {
		t.Fatalf("Find on a blank device = %v, %v; want nothing", ok, err)
	}
	if err := Format(dev, geo); err != nil {
		t.Fatal(err)
	}
	f, ok, err := Find(dev)
	if !ok || err != nil || f.Slot != 0 || f.Count() != geo.Count || f.Image.ExtentBytes != 64<<10 || f.DeviceBytes() != 1<<20 {
		t.Fatalf("Find after Format = %+v, %v, %v; want slot 0 of 16 extents of 64 KiB", f, ok, err)
	}
	slot := SlotBytes(geo.Count, 512)
	if _, err := dev.WriteAt(make([]byte, 512), 0); err != nil { // slot 0's magic gone
		t.Fatal(err)
	}
	if f, ok, _ = Find(dev); !ok || f.Slot != 1 || f.Offset != slot {
		t.Fatalf("Find with slot 0 damaged = %+v, %v; want slot 1 at %d", f, ok, slot)
	}
	// A valid slot image at an offset no geometry puts a slot is not one.
	b := make([]byte, slot)
	if _, err := dev.ReadAt(b, slot); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.WriteAt(make([]byte, slot), slot); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.WriteAt(b, 3*slot); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ = Find(dev); ok {
		t.Fatal("Find took a slot image at an offset no geometry gives for a slot")
	}
}
