package chunk

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
)

var fixtureUUID = UUID{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// TestFrameFixture pins the bytes of a frame: a change here is a format
// change (see FORMAT.md). The CRC was checked against an independent
// CRC-32C implementation.
func TestFrameFixture(t *testing.T) {
	got := AppendFrame(nil, KindData, fixtureUUID, []byte("hi"))
	const want = "d5c4" + "01" + "01" + "000102030405060708090a0b0c0d0e0f" + "02000000" +
		"b1f85d0c" + "6869" + "000102030405060708090a0b0c0d0e0f"
	if h := hex.EncodeToString(got); h != want {
		t.Fatalf("frame bytes\n got %s\nwant %s", h, want)
	}
	f, n, err := DecodeFrame(got, 10)
	if err != nil || n != len(got) || string(f.Payload) != "hi" || f.UUID != fixtureUUID || f.Kind != KindData {
		t.Fatalf("DecodeFrame = %+v, %d, %v", f, n, err)
	}
}

func TestDecodeFrameRejects(t *testing.T) {
	good := AppendFrame(nil, KindData, fixtureUUID, []byte("payload"))
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		b    []byte
		max  int
		want Reason
	}{
		{"empty", nil, 100, ReasonTruncated},
		{"short", good[:10], 100, ReasonTruncated},
		{"magic", mod(func(b []byte) []byte { b[0] ^= 1; return b }), 100, ReasonMagic},
		{"version", mod(func(b []byte) []byte { b[2] = 2; return b }), 100, ReasonVersion},
		{"kind", mod(func(b []byte) []byte { b[3] = 9; return b }), 100, ReasonKind},
		{"length over max", good, 3, ReasonLength},
		{"length over buffer", good[:len(good)-1], 100, ReasonLength},
		{"payload bit flip", mod(func(b []byte) []byte { b[format.FrameHeaderSize] ^= 0x10; return b }), 100, ReasonChecksum},
		{"header bit flip", mod(func(b []byte) []byte { b[5] ^= 0x10; return b }), 100, ReasonChecksum},
		{"trailer", mod(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), 100, ReasonTrailerUUID},
		{"zeros", make([]byte, 100), 100, ReasonMagic},
	}
	for _, c := range cases {
		_, _, err := DecodeFrame(c.b, c.max)
		if !IsFrameError(err, c.want) || !errors.Is(err, engine.ErrCorruption) {
			t.Errorf("%s: DecodeFrame = %v, want %q wrapping ErrCorruption", c.name, err, c.want)
		}
	}
}

// TestTornFrame tears a frame at every sector boundary, over old bytes that
// are zeros or another frame, and with the UUID colliding with the magic:
// no torn combination decodes.
func TestTornFrame(t *testing.T) {
	const sector = 64
	payload := bytes.Repeat([]byte("abcdefgh"), 40) // 320 bytes: 6 sectors of frame
	for _, id := range []UUID{fixtureUUID, {0xD5, 0xC4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}} {
		newF := AppendFrame(nil, KindData, id, payload)
		olds := [][]byte{make([]byte, len(newF)), AppendFrame(nil, KindData, UUID{9}, bytes.Repeat([]byte{'z'}, len(payload)))}
		for _, old := range olds {
			nsec := (len(newF) + sector - 1) / sector
			// Every subset of sectors written, except all and none.
			for mask := 1; mask < 1<<nsec-1; mask++ {
				b := append([]byte(nil), old...)
				for s := 0; s < nsec; s++ {
					if mask&(1<<s) != 0 {
						copy(b[s*sector:min((s+1)*sector, len(b))], newF[s*sector:])
					}
				}
				if f, _, err := DecodeFrame(b, 1000); err == nil && !bytes.Equal(f.Payload, payload) && !bytes.Equal(b, old) {
					t.Fatalf("uuid %x, mask %b: torn frame decoded to wrong data", id, mask)
				} else if err == nil && bytes.Equal(f.Payload, payload) && mask != 1<<nsec-1 {
					t.Fatalf("uuid %x, mask %b: torn frame decoded", id, mask)
				}
			}
		}
	}
}

func TestScanBytesResync(t *testing.T) {
	var b []byte
	b = AppendFrame(b, KindData, UUID{1}, []byte("one"))
	junkAt := len(b)
	b = append(b, 0xD5, 0xC4, 1, 1, 0xFF, 0xFF) // a false magic
	b = AppendFrame(b, KindPadding, UUID{2}, make([]byte, 5))
	b = AppendFrame(b, KindData, UUID{3}, []byte("three"))
	var got []ScanEntry
	ScanBytes(b, 100, 64, func(e ScanEntry) bool { got = append(got, e); return true })
	if len(got) != 4 {
		t.Fatalf("got %d entries, want 4: %+v", len(got), got)
	}
	if got[1].Err == nil || got[1].Offset != 100+int64(junkAt) || got[1].Size != 6 {
		t.Fatalf("corrupt region = %+v, want 6 bytes at %d", got[1], 100+junkAt)
	}
	if got[2].Frame.Kind != KindPadding || string(got[3].Frame.Payload) != "three" {
		t.Fatalf("frames after the junk: %+v", got[2:])
	}
	n := 0
	ScanBytes(b, 0, 64, func(ScanEntry) bool { n++; return false })
	if n != 1 {
		t.Fatalf("scan went on after fn returned false")
	}
}

func TestLocatorEncoding(t *testing.T) {
	l := Locator{Extent: 7, Generation: 3, Offset: 4096, Length: 100}
	b, _ := l.AppendBinary(nil)
	if hex.EncodeToString(b) != "07000000"+"03000000"+"00100000"+"64000000" {
		t.Fatalf("locator bytes %x", b)
	}
	if got, err := DecodeLocator(b); err != nil || got != l {
		t.Fatalf("DecodeLocator = %v, %v", got, err)
	}
	if _, err := DecodeLocator(b[:15]); !errors.Is(err, engine.ErrCorruption) {
		t.Fatalf("DecodeLocator(15 bytes) = %v", err)
	}
	if l.String() != "e7.g3@4096+100" || l.End() != 4096+100+44 {
		t.Fatalf("String, End = %s, %d", l, l.End())
	}
}

// FuzzDecodeFrame: any bytes give a FrameError or a frame that re-encodes to
// exactly the bytes it was decoded from.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(AppendFrame(nil, KindData, fixtureUUID, []byte("hi")), 64)
	f.Add(AppendFrame(nil, KindPadding, UUID{0xD5, 0xC4}, make([]byte, 30)), 64)
	f.Add(make([]byte, 60), 64)
	f.Add([]byte{0xD5, 0xC4, 1, 1}, 1<<20)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 0 {
			max = -max
		}
		fr, n, err := DecodeFrame(b, max)
		if err != nil {
			if !errors.Is(err, engine.ErrCorruption) {
				t.Fatalf("error %v does not wrap ErrCorruption", err)
			}
			return
		}
		if re := AppendFrame(nil, fr.Kind, fr.UUID, fr.Payload); !bytes.Equal(re, b[:n]) {
			t.Fatalf("decoded frame re-encodes differently")
		}
		if len(fr.Payload) > max {
			t.Fatalf("payload of %d bytes over max %d", len(fr.Payload), max)
		}
		ScanBytes(b, 0, max, func(ScanEntry) bool { return true })
	})
}
