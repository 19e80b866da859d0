package superblock

import (
	"bytes"
	"encoding/binary"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
)

// findLimit bounds how far into the device Find looks for slot 1: the
// slot of a device with 4 KiB extents and 2^20 of them is 16 MiB.
const findLimit = 64 << 20

// Found is a valid slot located without knowing the device's geometry.
type Found struct {
	Image  Image
	Slot   int
	Offset int64
}

// Count is the number of extents the slot describes.
func (f Found) Count() uint32 { return uint32(len(f.Image.Records)) }

// DeviceBytes is the size of the device the slot was written for (at
// least: a device may end with less than an extent that nobody uses).
func (f Found) DeviceBytes() int64 { return int64(f.Count()) * f.Image.ExtentBytes }

// Find looks for a valid superblock slot at the places either slot could
// be for any geometry: slot 0 at byte 0, slot 1 at the first sector after
// a slot of its own count. Open uses it when Recover finds nothing for the
// geometry the options and the device size give, to tell a device whose
// size or extent size changed since it was formatted (its slots are intact
// but read at the wrong places) from one whose slots are damaged. It only
// reads. ok is false if no valid slot was found.
func Find(dev disk.Device) (Found, bool, error) {
	ss := int64(dev.SectorSize())
	limit := min(dev.Size(), findLimit) / ss * ss
	if limit < ss {
		return Found{}, false, nil
	}
	buf := disk.AlignedBuffer(int(limit))
	if _, err := dev.ReadAt(buf, 0); err != nil {
		return Found{}, false, err
	}
	magic := []byte(format.SuperblockMagic)
	for off := int64(0); off+format.SBHeaderSize+format.SBTrailerSize <= limit; off += ss {
		b := buf[off:]
		if !bytes.HasPrefix(b, magic) {
			continue
		}
		count := binary.LittleEndian.Uint32(b[format.SBExtentCountOffset:])
		if count < extent.CountMin {
			continue
		}
		slot := SlotBytes(count, int(ss))
		var which int
		switch off {
		case 0:
			which = 0
		case slot:
			which = 1
		default:
			continue // a magic somewhere else is not a slot
		}
		if off+slot > limit {
			continue
		}
		img, err := Decode(b[:slot])
		if err != nil {
			continue
		}
		return Found{Image: img, Slot: which, Offset: off}, true, nil
	}
	return Found{}, false, nil
}
