// Package disk provides the block devices storage engines run on: File (a
// regular file or a block device, optionally with O_DIRECT), Mem (an
// in-memory device that tracks durable and volatile state per sector and can
// be crashed), and Faulty (a wrapper that injects IO errors, bit flips and
// latency).
//
// A Device is a fixed-size array of bytes addressed by offset. Writes become
// durable only when a later Flush returns; until then a crash may keep any
// subset of them (Mem models exactly that).
package disk

import "errors"

// Device is a fixed-size block device.
type Device interface {
	// Size is the device's capacity in bytes; it never changes.
	Size() int64
	// SectorSize is the unit of atomic writes: a crash never leaves a sector
	// holding bytes of two different writes.
	SectorSize() int
	// ReadAt reads len(p) bytes at off. A read that does not fit the device
	// returns ErrOutOfRange.
	ReadAt(p []byte, off int64) (int, error)
	// WriteAt writes len(p) bytes at off. The write is volatile until Flush.
	WriteAt(p []byte, off int64) (int, error)
	// Flush makes every write that returned before the call durable.
	Flush() error
	// Close releases the device. It does not flush.
	Close() error
}

// Errors returned by devices.
var (
	// ErrOutOfRange: an IO extends past the end of the device.
	ErrOutOfRange = errors.New("disk: IO beyond end of device")
	// ErrClosed: the device was closed.
	ErrClosed = errors.New("disk: device closed")
	// ErrInjected marks an IO error injected by Faulty. It also matches
	// syscall.EIO-style handling: engines treat it as a real IO error.
	ErrInjected = errors.New("disk: injected IO error")
)
