package shardstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/superblock"
)

// NotBlankError is Open's refusal to format a device that has no valid
// superblock but holds data: a store whose superblock slots were damaged
// must be restored, not silently replaced by an empty one. It wraps
// engine.ErrCorruption. Format with force is the only way to reuse such a
// device.
type NotBlankError struct {
	// Damaged says why each superblock slot was rejected.
	Damaged error
	// Where names the first non-zero place a format would overwrite or
	// orphan: the superblock area, the format marker, or an extent's start.
	Where string
}

func (e *NotBlankError) Error() string {
	return fmt.Sprintf("shardstore: the device holds data (%s) but no valid superblock (%v): refusing to format over it; restore the device, or erase it with 'harness shardstore format --force'",
		e.Where, e.Damaged)
}

func (e *NotBlankError) Unwrap() error { return engine.ErrCorruption }

// openChunks opens the chunk store on dev, formatting dev first only if it
// is blank (see blankDevice) or opts.ForceFormat is set.
func openChunks(dev disk.Device, opts Options) (*chunk.Store, error) {
	copts := opts.chunkOptions()
	if opts.ForceFormat {
		if err := formatDevice(dev, opts); err != nil {
			return nil, err
		}
		return chunk.Open(dev, copts)
	}
	cs, err := chunk.Open(dev, copts)
	if err == nil {
		return cs, nil
	}
	if merr := geometryMismatch(dev, opts); merr != nil {
		return nil, merr
	}
	where, berr := nonBlank(dev, opts.ExtentBytes)
	switch {
	case berr != nil:
		return nil, fmt.Errorf("shardstore: open: %w (and reading the device to tell whether it is blank failed: %v)", err, berr)
	case where != "":
		return nil, &NotBlankError{Damaged: errors.Unwrap(err), Where: where}
	}
	if err := formatDevice(dev, opts); err != nil {
		return nil, err
	}
	if cs, err = chunk.Open(dev, copts); err != nil {
		return nil, fmt.Errorf("shardstore: open: %w", err)
	}
	return cs, nil
}

// formatDevice writes an empty superblock and then the format marker. The
// marker goes last, after the slots are durable: a crash in between leaves
// a valid superblock, while a marker written first and kept by a crash
// that lost the slots would make a device that never held a key refuse
// to open.
func formatDevice(dev disk.Device, opts Options) error {
	if err := chunk.Format(dev, opts.chunkOptions()); err != nil {
		return fmt.Errorf("shardstore: format: %w", err)
	}
	if err := writeMarker(dev, opts.ExtentBytes); err != nil {
		return fmt.Errorf("shardstore: format: %w", err)
	}
	if err := dev.Flush(); err != nil {
		return fmt.Errorf("shardstore: format: %w", err)
	}
	return nil
}

// geometryMismatch reports a device whose superblock is intact but was
// written for another geometry: the device file was truncated or extended
// since it was formatted (engine.ErrCorruption: the store's extents and
// the device no longer match), or the options give another extent size
// (engine.ErrInvalidArgument: open it with the one it was formatted with).
// It returns nil if no valid slot is found anywhere, or the slot found
// matches (the open failed for another reason).
func geometryMismatch(dev disk.Device, opts Options) error {
	f, ok, err := superblock.Find(dev)
	if err != nil || !ok {
		return nil
	}
	if f.Image.ExtentBytes != opts.ExtentBytes {
		return fmt.Errorf("shardstore: the device was formatted with extent=%s (%d extents), the options give extent=%s: open it with extent=%s: %w",
			engine.FormatSize(f.Image.ExtentBytes), f.Count(), engine.FormatSize(opts.ExtentBytes), engine.FormatSize(f.Image.ExtentBytes), engine.ErrInvalidArgument)
	}
	count := dev.Size() / opts.ExtentBytes
	if count != int64(f.Count()) {
		return fmt.Errorf("shardstore: the device is %d bytes (%d extents of %s) but its superblock (slot %d) describes %d extents, %d bytes: it was truncated or extended since it was formatted; restore its size to %d bytes: %w",
			dev.Size(), count, engine.FormatSize(opts.ExtentBytes), f.Slot, f.Count(), f.DeviceBytes(), f.DeviceBytes(), engine.ErrCorruption)
	}
	return nil
}

// nonBlank returns "" if dev is blank — never formatted, so a format
// loses nothing — or else the first place found that is not: the
// superblock area at the start of extent 0, the format marker in the
// device's last sector, or the first sector of any other extent (every
// extent ever written starts with a frame, and a reset does not erase it).
// The marker, which a format writes and later writes may overwrite only
// with data of the last extent, covers a device whose extents were of
// another size than the options now give.
func nonBlank(dev disk.Device, extentBytes int64) (string, error) {
	ss := int64(dev.SectorSize())
	size := dev.Size() / ss * ss
	if size < ss {
		return "", nil
	}
	head := min(int64(64<<10), size)
	if geo, err := extent.NewGeometry(dev.Size(), extentBytes, int(ss)); err == nil {
		// Both slots, however many extents.
		head = min(max(head, 2*superblock.SlotBytes(geo.Count, int(ss))), extentBytes, size)
	}
	head = head / ss * ss
	b := disk.AlignedBuffer(int(head))
	if _, err := dev.ReadAt(b, 0); err != nil {
		return "", err
	}
	if i := firstNonZero(b); i >= 0 {
		return fmt.Sprintf("byte %d of the superblock area is not zero", i), nil
	}
	sec := disk.AlignedBuffer(int(ss))
	if _, err := dev.ReadAt(sec, size-ss); err != nil {
		return "", err
	}
	if firstNonZero(sec) >= 0 {
		what := "data"
		if isMarker(sec) {
			what = "the format marker"
		}
		return fmt.Sprintf("the last sector, at byte %d, holds %s", size-ss, what), nil
	}
	if extentBytes <= 0 {
		return "", nil
	}
	for off := extentBytes; off+ss <= size; off += extentBytes {
		if _, err := dev.ReadAt(sec, off); err != nil {
			return "", err
		}
		if firstNonZero(sec) >= 0 {
			return fmt.Sprintf("extent %d, at byte %d, holds data", off/extentBytes, off), nil
		}
	}
	return "", nil
}

func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

// The format marker: the device's last sector, written by every format,
// so that a device is never taken for blank once it has been formatted,
// whatever extent size it is later opened with (see FORMAT.md).
//
//	magic(8) version(2) reserved(6) deviceBytes(8) extentBytes(8) crc(4)
const markerSize = 36

func writeMarker(dev disk.Device, extentBytes int64) error {
	ss := int64(dev.SectorSize())
	size := dev.Size() / ss * ss
	if size < 2*ss {
		return fmt.Errorf("device of %d bytes: too small", dev.Size())
	}
	b := disk.AlignedBuffer(int(ss))
	copy(b, format.MarkerMagic)
	binary.LittleEndian.PutUint16(b[8:], format.Version)
	binary.LittleEndian.PutUint64(b[16:], uint64(dev.Size()))
	binary.LittleEndian.PutUint64(b[24:], uint64(extentBytes))
	binary.LittleEndian.PutUint32(b[32:], format.CRC(0, b[:32]))
	if _, err := dev.WriteAt(b, size-ss); err != nil {
		return fmt.Errorf("format marker: %w", err)
	}
	return nil
}

func isMarker(b []byte) bool {
	if len(b) < markerSize || !bytes.HasPrefix(b, []byte(format.MarkerMagic)) {
		return false
	}
	return format.CRC(0, b[:32]) == binary.LittleEndian.Uint32(b[32:])
}
