// Package format holds the constants of shardstore's on-disk format: the
// chunk frame and the superblock. They are part of the format: changing any
// of them makes existing devices unreadable, and requires a new Version.
// engine/shardstore/FORMAT.md describes the layout in prose with diagrams,
// and engine/shardstore/format.go re-exports these names for readers of the
// top-level package.
//
// All integers are little-endian. Checksums are CRC-32C (Castagnoli).
package format

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// Version is the format version of frames, index runs and metadata
// (superblock slots carry SBVersion). Decoders reject any other value.
const Version = 1

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// CRC extends crc with p using CRC-32C (Castagnoli), the checksum of every
// frame and superblock slot. Start with 0.
func CRC(crc uint32, p []byte) uint32 { return crc32.Update(crc, crcTable, p) }

// Chunk frame layout. A frame is
//
//	magic(2) version(1) kind(1) uuid(16) length(4) crc(4) payload(length) uuid(16)
//
// crc covers bytes [0, FrameCRCOffset) of the header followed by the
// payload. The trailing uuid equals the leading one; it lets a reader tell a
// frame whose tail was never written (torn by a crash) from a complete one
// without trusting the length field alone.
const (
	FrameMagic        uint16 = 0xC4D5 // bytes D5 C4 on disk
	FrameMagicOffset         = 0
	FrameVersionOff          = 2
	FrameKindOffset          = 3
	FrameUUIDOffset          = 4
	FrameLengthOffset        = 20
	FrameCRCOffset           = 24
	FrameHeaderSize          = 28
	FrameTrailerSize         = 16
	FrameOverhead            = FrameHeaderSize + FrameTrailerSize
	UUIDSize                 = 16
)

// FrameSize reports the size of the frame at the start of b if it is a
// complete, valid frame of a known kind (magic, version, kind, length within
// b, checksum, trailing uuid), and ok false otherwise. chunk.DecodeFrame
// says why a frame is invalid; this is the check recovery uses on frames it
// only needs to verify.
func FrameSize(b []byte) (n int, ok bool) {
	if len(b) < FrameOverhead || binary.LittleEndian.Uint16(b[FrameMagicOffset:]) != FrameMagic ||
		b[FrameVersionOff] != Version || (b[FrameKindOffset] != FrameData && b[FrameKindOffset] != FramePadding) {
		return 0, false
	}
	p := uint64(binary.LittleEndian.Uint32(b[FrameLengthOffset:]))
	if p > uint64(len(b)-FrameOverhead) {
		return 0, false
	}
	end := FrameHeaderSize + int(p)
	// Never past len(b), whatever the bound above says: recovery passes
	// a slice of a larger buffer, and bytes between len(b) and its
	// capacity (past the write pointer) are no part of the frame.
	if end+UUIDSize > len(b) {
		return 0, false
	}
	if CRC(CRC(0, b[:FrameCRCOffset]), b[FrameHeaderSize:end]) != binary.LittleEndian.Uint32(b[FrameCRCOffset:]) ||
		!bytes.Equal(b[end:end+UUIDSize], b[FrameUUIDOffset:FrameUUIDOffset+UUIDSize]) {
		return 0, false
	}
	return end + UUIDSize, true
}

// Frame kinds.
const (
	// FrameData holds a chunk's payload.
	FrameData byte = 1
	// FramePadding fills the space of a write that was abandoned after it
	// had been given an offset (its dependency failed): it keeps a scan in
	// step and holds no data. Its payload is zero bytes of the same length.
	FramePadding byte = 2
)

// Superblock slot layout. Extent 0 holds two slots, slot 0 at byte 0 and
// slot 1 at byte SlotBytes (the slot size rounded up to the sector size).
// A slot is
//
//	magic(8) version(2) reserved(2) recordSize(4) sequence(8)
//	extentBytes(8) extentCount(4) rootLength(4) deltaCRC(4) root(RootMax)
//	records(extentCount × RecordSize) crc(4)
//
// version is SBVersion. deltaCRC is the CRC-32C, over the pairs
// extent(4) crc(4) of every extent whose write pointer the slot advances
// past the other slot's, of each such extent's CRC-32C over the headers
// (FrameHeaderSize bytes) of the frames it advances over: recovery checks
// every such frame (FrameSize) and recomputes it, to tell a slot whose
// round's writes all reached the device (see package superblock). The
// headers hold the UUIDs, which never repeat on a device (each open draws
// them from a new superblock sequence) and so tell one write's frames from
// another's at the same offsets; FrameSize checks the rest. A CRC over
// whole frames would add nothing: a run or metadata payload ends with a
// CRC-32C of itself, which makes the CRC-32C of its frame the same for
// every payload of one length under one header.
//
// A record is
//
//	writePointer(8) generation(4) owner(1) reserved(3)
//
// crc covers every byte of the slot before it.
const (
	// MarkerMagic begins the format marker, which every format writes to
	// the device's last sector so that a formatted device is never taken
	// for a blank one (see FORMAT.md, Format marker).
	MarkerMagic              = "SHRDSTFM"
	SuperblockMagic          = "SHRDSTSB"
	SBVersionOffset          = 8
	SBRecordSizeOffset       = 12
	SBSequenceOffset         = 16
	SBExtentBytesOffset      = 24
	SBExtentCountOffset      = 32
	SBRootLengthOffset       = 36
	SBDeltaCRCOffset         = 40
	SBRootOffset             = 44
	RootMax                  = 512
	SBHeaderSize             = SBRootOffset + RootMax
	RecordSize               = 16
	RecordWritePointerOffset = 0
	RecordGenerationOffset   = 8
	RecordOwnerOffset        = 12
	SBTrailerSize            = 4
	// SBVersion is the superblock slot layout version: 2 added deltaCRC
	// (slots written in the same flush as the data they cover).
	SBVersion = 2
)

// Extent owners, as stored in a superblock record.
const (
	OwnerFree     byte = 0
	OwnerData     byte = 1
	OwnerIndex    byte = 2
	OwnerMetadata byte = 3
	OwnerSuper    byte = 4 // extent 0 only
	ownerCount         = 5
)

// ValidOwner reports whether b is a known owner value.
func ValidOwner(b byte) bool { return b < ownerCount }
