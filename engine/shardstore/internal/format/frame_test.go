package format

import (
	"encoding/binary"
	"testing"
)

// frame builds a frame of kind with payload, its checksum computed over
// whatever header it has: a test changes the header before sealing it.
func frame(kind byte, payload []byte, edit func(b []byte)) []byte {
	b := make([]byte, FrameOverhead+len(payload))
	binary.LittleEndian.PutUint16(b[FrameMagicOffset:], FrameMagic)
	b[FrameVersionOff] = Version
	b[FrameKindOffset] = kind
	for i := range UUIDSize {
		b[FrameUUIDOffset+i] = byte(0xA0 + i)
	}
	binary.LittleEndian.PutUint32(b[FrameLengthOffset:], uint32(len(payload)))
	copy(b[FrameHeaderSize:], payload)
	end := FrameHeaderSize + len(payload)
	copy(b[end:], b[FrameUUIDOffset:FrameUUIDOffset+UUIDSize])
	if edit != nil {
		edit(b)
	}
	binary.LittleEndian.PutUint32(b[FrameCRCOffset:], CRC(CRC(0, b[:FrameCRCOffset]), b[FrameHeaderSize:end]))
	return b
}

func TestFrameSizeKinds(t *testing.T) {
	payload := []byte("the payload")
	want := FrameOverhead + len(payload)
	for _, kind := range []byte{FrameData, FramePadding} {
		if n, ok := FrameSize(frame(kind, payload, nil)); !ok || n != want {
			t.Errorf("kind %d: FrameSize = %d, %v; want %d, true", kind, n, ok, want)
		}
	}
	// A checksum over the header does not make a frame of an unknown kind,
	// another version or another format (the magic) a chunk frame.
	for name, edit := range map[string]func(b []byte){
		"kind 0":     func(b []byte) { b[FrameKindOffset] = 0 },
		"kind 3":     func(b []byte) { b[FrameKindOffset] = 3 },
		"version":    func(b []byte) { b[FrameVersionOff] = Version + 1 },
		"magic":      func(b []byte) { b[FrameMagicOffset] ^= 0xFF },
		"magic high": func(b []byte) { b[FrameMagicOffset+1] ^= 0x01 },
	} {
		if n, ok := FrameSize(frame(FrameData, payload, edit)); ok {
			t.Errorf("%s: FrameSize = %d, true; want the frame refused", name, n)
		}
	}
}

// A frame cut short, by one byte or by most of it, is refused, without
// reading past the bytes given, even where the slice has capacity beyond
// them (recovery hands a frame its extent's buffer up to a write pointer).
func TestFrameSizeTruncated(t *testing.T) {
	payload := make([]byte, 100)
	full := frame(FrameData, payload, nil)
	for cut := 1; cut <= len(full); cut++ {
		if n, ok := FrameSize(full[:len(full)-cut]); ok {
			t.Fatalf("frame cut by %d bytes: FrameSize = %d, true", cut, n)
		}
	}
}
