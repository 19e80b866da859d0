package chunk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// UUID identifies a frame. It is written before and after the payload.
type UUID [format.UUIDSize]byte

// Kind is a frame's kind byte.
type Kind byte

// Frame kinds.
const (
	KindData    = Kind(format.FrameData)
	KindPadding = Kind(format.FramePadding)
)

func (k Kind) String() string {
	switch k {
	case KindData:
		return "data"
	case KindPadding:
		return "padding"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// FrameSize is the number of bytes a frame with a payload of n bytes takes.
func FrameSize(n int) int { return n + format.FrameOverhead }

// AppendFrame appends the frame of payload to dst and returns the result.
func AppendFrame(dst []byte, kind Kind, id UUID, payload []byte) []byte {
	return AppendFramePrefixed(dst, kind, id, payload, nil)
}

// AppendFramePrefixed is AppendFrame of the payload prefix followed by
// rest, joined as they are copied into dst: the caller need not join them
// first (a copy of the bytes, and a buffer, per frame).
func AppendFramePrefixed(dst []byte, kind Kind, id UUID, prefix, rest []byte) []byte {
	n := len(prefix) + len(rest)
	if uint64(n) > 1<<32-1 {
		panic(fmt.Sprintf("chunk: payload of %d bytes", n))
	}
	start := len(dst)
	// The header and payload are copied into dst first and the CRC is
	// taken over dst: crc32.Update lets its input escape, so a header
	// array of our own, or the caller's payload, would be moved to the
	// heap (an allocation per frame).
	dst = slices.Grow(dst, format.FrameHeaderSize+n+format.FrameTrailerSize)
	dst = dst[:start+format.FrameHeaderSize]
	h := dst[start:]
	binary.LittleEndian.PutUint16(h[format.FrameMagicOffset:], format.FrameMagic)
	h[format.FrameVersionOff] = format.Version
	h[format.FrameKindOffset] = byte(kind)
	copy(h[format.FrameUUIDOffset:], id[:])
	binary.LittleEndian.PutUint32(h[format.FrameLengthOffset:], uint32(n))
	dst = append(dst, prefix...)
	dst = append(dst, rest...)
	body := dst[start+format.FrameHeaderSize:]
	crc := format.CRC(format.CRC(0, h[:format.FrameCRCOffset]), body)
	binary.LittleEndian.PutUint32(h[format.FrameCRCOffset:format.FrameHeaderSize], crc)
	dst = append(dst, id[:]...)
	if debugChecks {
		if _, _, err := DecodeFrame(dst[start:], n); err != nil {
			panic(fmt.Sprintf("chunk: frame just encoded does not decode: %v", err))
		}
	}
	return dst
}

// debugChecks re-decodes every frame right after encoding it. Turn it on
// when changing the encoder; off, the compiler drops the check.
const debugChecks = false

// Reason says why a frame did not decode.
type Reason string

// The reasons a frame is rejected, in the order they are checked.
const (
	ReasonTruncated   Reason = "truncated"
	ReasonMagic       Reason = "bad magic"
	ReasonVersion     Reason = "unknown version"
	ReasonKind        Reason = "unknown kind"
	ReasonLength      Reason = "length out of range"
	ReasonChecksum    Reason = "checksum mismatch"
	ReasonTrailerUUID Reason = "trailing uuid mismatch"
	ReasonLocator     Reason = "frame does not match locator"
)

// FrameError reports bytes that are not a valid frame. It wraps
// engine.ErrCorruption.
type FrameError struct {
	Reason Reason
	Detail string
}

func (e *FrameError) Error() string {
	if e.Detail == "" {
		return "chunk: corrupt frame: " + string(e.Reason)
	}
	return "chunk: corrupt frame: " + string(e.Reason) + ": " + e.Detail
}

// Unwrap returns engine.ErrCorruption.
func (e *FrameError) Unwrap() error { return engine.ErrCorruption }

// IsFrameError reports whether err is a FrameError with the given reason.
func IsFrameError(err error, r Reason) bool {
	var fe *FrameError
	return errors.As(err, &fe) && fe.Reason == r
}

// Frame is a decoded frame. Payload aliases the buffer it was decoded from.
type Frame struct {
	Kind    Kind
	UUID    UUID
	Payload []byte
}

// DecodeFrame decodes the frame at the start of b, whose payload may be at
// most payloadMax bytes, and returns it with the number of bytes it spans.
// b is untrusted: any bytes give a *FrameError or a frame whose checksum and
// trailing UUID were verified, never a panic.
func DecodeFrame(b []byte, payloadMax int) (Frame, int, error) {
	if len(b) < format.FrameOverhead {
		return Frame{}, 0, &FrameError{Reason: ReasonTruncated, Detail: fmt.Sprintf("%d bytes, a frame has at least %d", len(b), format.FrameOverhead)}
	}
	if m := binary.LittleEndian.Uint16(b[format.FrameMagicOffset:]); m != format.FrameMagic {
		return Frame{}, 0, &FrameError{Reason: ReasonMagic, Detail: fmt.Sprintf("%#04x", m)}
	}
	if v := b[format.FrameVersionOff]; v != format.Version {
		return Frame{}, 0, &FrameError{Reason: ReasonVersion, Detail: fmt.Sprintf("%d", v)}
	}
	k := Kind(b[format.FrameKindOffset])
	if k != KindData && k != KindPadding {
		return Frame{}, 0, &FrameError{Reason: ReasonKind, Detail: fmt.Sprintf("%d", byte(k))}
	}
	n := uint64(binary.LittleEndian.Uint32(b[format.FrameLengthOffset:]))
	if n > uint64(payloadMax) || n > uint64(len(b)-format.FrameOverhead) {
		return Frame{}, 0, &FrameError{Reason: ReasonLength, Detail: fmt.Sprintf("payload of %d bytes, at most %d allowed and %d available", n, payloadMax, len(b)-format.FrameOverhead)}
	}
	payload := b[format.FrameHeaderSize : format.FrameHeaderSize+int(n)]
	want := binary.LittleEndian.Uint32(b[format.FrameCRCOffset:])
	if got := format.CRC(format.CRC(0, b[:format.FrameCRCOffset]), payload); got != want && !mutant.On(mutant.FrameCRCSkipped) {
		return Frame{}, 0, &FrameError{Reason: ReasonChecksum, Detail: fmt.Sprintf("computed %#08x, stored %#08x", got, want)}
	}
	var f Frame
	f.Kind = k
	copy(f.UUID[:], b[format.FrameUUIDOffset:])
	end := format.FrameHeaderSize + int(n)
	if UUID(b[end:end+format.UUIDSize]) != f.UUID {
		return Frame{}, 0, &FrameError{Reason: ReasonTrailerUUID}
	}
	f.Payload = payload
	return f, end + format.UUIDSize, nil
}

// Locator names one chunk: the extent and generation it was written at, the
// frame's offset within the extent and the payload length. A locator is
// valid until its extent is reset; after that every read of it fails, so a
// locator can never silently name reused space.
type Locator struct {
	Extent     extent.ID
	Generation uint32
	Offset     uint32
	Length     uint32 // payload bytes
}

// LocatorSize is the size of an encoded Locator. Part of the format: index
// runs store locators so.
const LocatorSize = 16

// FrameBytes is the size of the frame the locator names.
func (l Locator) FrameBytes() int64 { return int64(l.Length) + format.FrameOverhead }

// End is the offset just past the frame within its extent.
func (l Locator) End() int64 { return int64(l.Offset) + l.FrameBytes() }

func (l Locator) String() string {
	return fmt.Sprintf("e%d.g%d@%d+%d", l.Extent, l.Generation, l.Offset, l.Length)
}

// AppendBinary appends the 16-byte little-endian encoding
// extent(4) generation(4) offset(4) length(4).
func (l Locator) AppendBinary(b []byte) ([]byte, error) {
	b = binary.LittleEndian.AppendUint32(b, uint32(l.Extent))
	b = binary.LittleEndian.AppendUint32(b, l.Generation)
	b = binary.LittleEndian.AppendUint32(b, l.Offset)
	b = binary.LittleEndian.AppendUint32(b, l.Length)
	return b, nil
}

// DecodeLocator decodes a locator written by AppendBinary. It checks only
// the size; the chunk store checks the rest when the locator is read.
func DecodeLocator(b []byte) (Locator, error) {
	if len(b) < LocatorSize {
		return Locator{}, fmt.Errorf("chunk: locator of %d bytes, want %d: %w", len(b), LocatorSize, engine.ErrCorruption)
	}
	return Locator{
		Extent:     extent.ID(binary.LittleEndian.Uint32(b[0:])),
		Generation: binary.LittleEndian.Uint32(b[4:]),
		Offset:     binary.LittleEndian.Uint32(b[8:]),
		Length:     binary.LittleEndian.Uint32(b[12:]),
	}, nil
}

// ScanEntry is one step of a scan over an extent's bytes: a frame, or a
// corrupt region the scan had to skip.
type ScanEntry struct {
	// Offset is where the frame or the corrupt region starts.
	Offset int64
	// Size is the frame's or the region's length in bytes.
	Size int64
	// Frame is the decoded frame; valid when Err is nil.
	Frame Frame
	// Err, if not nil, is the *FrameError of the first frame that failed
	// to decode at Offset; the Size bytes that follow could not be parsed.
	Err error
}

// ScanBytes walks the frames packed in b (an extent's bytes from offset
// base up to its write pointer) and calls fn for each, until fn returns
// false. When a frame does not decode, ScanBytes reports the failure and
// resynchronises at the next offset where a complete frame decodes; it
// never skips a valid frame and never invents one that does not verify.
// A resynchronisation can land on a frame embedded in a corrupt frame's
// payload (a value that itself contains a frame); that frame is genuine
// bytes but named by no index entry, so a reclaimer treats it as dead.
func ScanBytes(b []byte, base int64, payloadMax int, fn func(ScanEntry) bool) {
	off := 0
	for off < len(b) {
		f, n, err := DecodeFrame(b[off:], payloadMax)
		if err == nil {
			if !fn(ScanEntry{Offset: base + int64(off), Size: int64(n), Frame: f}) {
				return
			}
			off += n
			continue
		}
		next := resync(b, off+1, payloadMax)
		if !fn(ScanEntry{Offset: base + int64(off), Size: int64(next - off), Err: err}) {
			return
		}
		off = next
	}
}

// resync returns the first offset at or after from where a frame decodes,
// or len(b).
func resync(b []byte, from, payloadMax int) int {
	m0, m1 := byte(format.FrameMagic&0xff), byte(format.FrameMagic>>8)
	for i := from; i+format.FrameOverhead <= len(b); i++ {
		if b[i] != m0 || b[i+1] != m1 {
			continue
		}
		if _, _, err := DecodeFrame(b[i:], payloadMax); err == nil {
			return i
		}
	}
	return len(b)
}
