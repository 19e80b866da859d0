package shardstore

import (
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
)

// The on-disk format. These constants are part of the format: changing any
// of them makes existing devices unreadable and needs a new FormatVersion.
// They are defined in internal/format, which the encoders and decoders use,
// and re-exported here next to FORMAT.md, which describes the layout.
const (
	// FormatVersion is written in every chunk frame and superblock slot.
	FormatVersion = format.Version

	// Chunk frame.
	FrameMagic       = format.FrameMagic // little-endian: bytes D5 C4
	FrameHeaderSize  = format.FrameHeaderSize
	FrameTrailerSize = format.FrameTrailerSize
	FrameOverhead    = format.FrameOverhead
	FrameData        = format.FrameData
	FramePadding     = format.FramePadding
	LocatorSize      = chunk.LocatorSize

	// Superblock.
	SuperblockMagic      = format.SuperblockMagic
	MarkerMagic          = format.MarkerMagic // the format marker, in the device's last sector
	SuperblockHeaderSize = format.SBHeaderSize
	SuperblockRecordSize = format.RecordSize
	SuperblockRootMax    = format.RootMax

	// Extent owners in superblock records.
	OwnerFree     = format.OwnerFree
	OwnerData     = format.OwnerData
	OwnerIndex    = format.OwnerIndex
	OwnerMetadata = format.OwnerMetadata
	OwnerSuper    = format.OwnerSuper
)
