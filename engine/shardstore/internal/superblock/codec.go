package superblock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
)

// Record is one extent's persisted state.
type Record struct {
	WritePointer int64
	Generation   uint32
	Owner        extent.Owner
}

// Image is the content of one superblock slot.
type Image struct {
	Sequence    uint64
	ExtentBytes int64
	Records     []Record // one per extent, extent 0 first
	Root        []byte   // at most format.RootMax bytes, opaque to the chunk store
	// DeltaCRC checks the bytes the slot's write pointers advance over
	// past the other slot's (see format and Verify).
	DeltaCRC uint32
}

// SlotBytes is the size of one slot for count extents: the encoded image
// rounded up to the sector size.
func SlotBytes(count uint32, sectorSize int) int64 {
	n := int64(format.SBHeaderSize) + int64(count)*format.RecordSize + format.SBTrailerSize
	s := int64(sectorSize)
	return (n + s - 1) / s * s
}

// Encode writes img into a slot of slotBytes bytes (zero padded).
func Encode(img Image, slotBytes int64) []byte {
	b := make([]byte, slotBytes)
	EncodeInto(b, img)
	return b
}

// EncodeInto writes img into b, which must be at least SlotBytes long; bytes
// after the image are zeroed.
func EncodeInto(b []byte, img Image) {
	if len(img.Root) > format.RootMax {
		panic(fmt.Sprintf("superblock: root of %d bytes", len(img.Root)))
	}
	n := format.SBHeaderSize + len(img.Records)*format.RecordSize
	if len(b) < n+format.SBTrailerSize {
		panic(fmt.Sprintf("superblock: slot of %d bytes for %d records", len(b), len(img.Records)))
	}
	clear(b)
	copy(b, format.SuperblockMagic)
	binary.LittleEndian.PutUint16(b[format.SBVersionOffset:], format.SBVersion)
	binary.LittleEndian.PutUint32(b[format.SBRecordSizeOffset:], format.RecordSize)
	binary.LittleEndian.PutUint64(b[format.SBSequenceOffset:], img.Sequence)
	binary.LittleEndian.PutUint64(b[format.SBExtentBytesOffset:], uint64(img.ExtentBytes))
	binary.LittleEndian.PutUint32(b[format.SBExtentCountOffset:], uint32(len(img.Records)))
	binary.LittleEndian.PutUint32(b[format.SBRootLengthOffset:], uint32(len(img.Root)))
	binary.LittleEndian.PutUint32(b[format.SBDeltaCRCOffset:], img.DeltaCRC)
	copy(b[format.SBRootOffset:], img.Root)
	for i, r := range img.Records {
		if r.WritePointer < 0 || r.WritePointer > img.ExtentBytes || !format.ValidOwner(byte(r.Owner)) {
			panic(fmt.Sprintf("superblock: invalid record for extent %d: %+v", i, r))
		}
		p := b[format.SBHeaderSize+i*format.RecordSize:]
		binary.LittleEndian.PutUint64(p[format.RecordWritePointerOffset:], uint64(r.WritePointer))
		binary.LittleEndian.PutUint32(p[format.RecordGenerationOffset:], r.Generation)
		p[format.RecordOwnerOffset] = byte(r.Owner)
	}
	binary.LittleEndian.PutUint32(b[n:], format.CRC(0, b[:n]))
}

// Reason says why a slot did not decode.
type Reason string

// The reasons a slot is rejected, in the order they are checked.
const (
	ReasonTruncated Reason = "truncated"
	ReasonMagic     Reason = "bad magic"
	ReasonVersion   Reason = "unknown version"
	ReasonLayout    Reason = "bad layout"
	ReasonChecksum  Reason = "checksum mismatch"
	ReasonRecord    Reason = "invalid record"
)

// SlotError reports a slot that is not a valid superblock. It wraps
// engine.ErrCorruption.
type SlotError struct {
	Reason Reason
	Detail string
}

func (e *SlotError) Error() string {
	if e.Detail == "" {
		return "superblock: corrupt slot: " + string(e.Reason)
	}
	return "superblock: corrupt slot: " + string(e.Reason) + ": " + e.Detail
}

// Unwrap returns engine.ErrCorruption.
func (e *SlotError) Unwrap() error { return engine.ErrCorruption }

// IsSlotError reports whether err is a SlotError with reason r.
func IsSlotError(err error, r Reason) bool {
	var se *SlotError
	return errors.As(err, &se) && se.Reason == r
}

// Decode decodes a slot. b is untrusted: any bytes give a *SlotError or an
// image whose checksum and records were verified, never a panic.
func Decode(b []byte) (Image, error) {
	bad := func(r Reason, format string, args ...any) (Image, error) {
		return Image{}, &SlotError{Reason: r, Detail: fmt.Sprintf(format, args...)}
	}
	if len(b) < format.SBHeaderSize+format.SBTrailerSize {
		return bad(ReasonTruncated, "%d bytes", len(b))
	}
	if !bytes.Equal(b[:len(format.SuperblockMagic)], []byte(format.SuperblockMagic)) {
		return bad(ReasonMagic, "%q", b[:len(format.SuperblockMagic)])
	}
	if v := binary.LittleEndian.Uint16(b[format.SBVersionOffset:]); v != format.SBVersion {
		return bad(ReasonVersion, "%d", v)
	}
	if rs := binary.LittleEndian.Uint32(b[format.SBRecordSizeOffset:]); rs != format.RecordSize {
		return bad(ReasonLayout, "record size %d, want %d", rs, format.RecordSize)
	}
	count := uint64(binary.LittleEndian.Uint32(b[format.SBExtentCountOffset:]))
	if count > uint64(len(b)-format.SBHeaderSize-format.SBTrailerSize)/format.RecordSize {
		return bad(ReasonLayout, "%d records do not fit in %d bytes", count, len(b))
	}
	rootLen := binary.LittleEndian.Uint32(b[format.SBRootLengthOffset:])
	if rootLen > format.RootMax {
		return bad(ReasonLayout, "root of %d bytes, at most %d", rootLen, format.RootMax)
	}
	n := format.SBHeaderSize + int(count)*format.RecordSize
	want := binary.LittleEndian.Uint32(b[n:])
	if got := format.CRC(0, b[:n]); got != want {
		return bad(ReasonChecksum, "computed %#08x, stored %#08x", got, want)
	}
	img := Image{
		Sequence:    binary.LittleEndian.Uint64(b[format.SBSequenceOffset:]),
		ExtentBytes: int64(binary.LittleEndian.Uint64(b[format.SBExtentBytesOffset:])),
		Records:     make([]Record, count),
		DeltaCRC:    binary.LittleEndian.Uint32(b[format.SBDeltaCRCOffset:]),
	}
	if img.ExtentBytes < extent.ExtentBytesMin || img.ExtentBytes > extent.ExtentBytesMax {
		return bad(ReasonLayout, "extent size %d", img.ExtentBytes)
	}
	if rootLen > 0 {
		img.Root = append([]byte(nil), b[format.SBRootOffset:format.SBRootOffset+int(rootLen)]...)
	}
	for i := range img.Records {
		p := b[format.SBHeaderSize+i*format.RecordSize:]
		r := Record{
			WritePointer: int64(binary.LittleEndian.Uint64(p[format.RecordWritePointerOffset:])),
			Generation:   binary.LittleEndian.Uint32(p[format.RecordGenerationOffset:]),
			Owner:        extent.Owner(p[format.RecordOwnerOffset]),
		}
		switch {
		case !format.ValidOwner(byte(r.Owner)):
			return bad(ReasonRecord, "extent %d: owner %d", i, r.Owner)
		case r.WritePointer < 0 || r.WritePointer > img.ExtentBytes:
			return bad(ReasonRecord, "extent %d: write pointer %d outside [0, %d]", i, r.WritePointer, img.ExtentBytes)
		case r.Owner == extent.Free && r.WritePointer != 0:
			return bad(ReasonRecord, "extent %d: free with write pointer %d", i, r.WritePointer)
		case (i == 0) != (r.Owner == extent.Super):
			return bad(ReasonRecord, "extent %d: owner %v", i, r.Owner)
		}
		img.Records[i] = r
	}
	return img, nil
}
