// Package disk provides the block devices storage engines run on: File (a
// regular file or a block device, optionally with O_DIRECT), Mem (an
// in-memory device that tracks durable and volatile state per sector and can
// be crashed), and Faulty (a wrapper that injects IO errors, bit flips and
// latency).
//
// A Device is a fixed-size array of bytes addressed by offset. Writes become
// durable only when a later Flush returns; until then a crash may keep any
// subset of them (Mem models exactly that).
//
// # Devices
//
// Every Device has a fixed Size and a SectorSize, the unit of atomic writes.
// ReadAt and WriteAt transfer all of len(p) bytes or fail; an IO that does not
// fit the device fails with ErrOutOfRange and transfers nothing. After Close
// every method except Size and SectorSize returns ErrClosed. Errors wrap a
// sentinel of this package (or, for File, the operating system's error) and
// name the operation, offset and length.
//
// # File
//
// OpenFile opens a regular file or a block device. A regular file is created
// (FileOptions.Create) and extended to FileOptions.Size, optionally with
// fallocate (Preallocate) so later writes cannot fail for lack of space. A
// block device is used whole (Size 0) or in part. Flush is fdatasync.
//
// With FileOptions.Direct the file is opened with O_DIRECT: IO bypasses the
// page cache, so offsets and lengths must be multiples of SectorSize and
// buffers must be aligned in memory; allocate them with AlignedBuffer. A
// misaligned IO fails with an error wrapping ErrMisaligned that names the
// offset, length and the alignment required, before anything reaches the
// kernel. A file system that cannot do direct IO gives ErrDirectUnsupported
// at open. SectorSize is the block device's logical block size for a block
// device; for a regular file it is 512 when buffered and 4096 with Direct (no
// file system Linux supports needs more, see FileOptions.SectorSize), unless
// FileOptions.SectorSize says otherwise.
//
// # Mem
//
// Mem keeps the device in memory: the current contents, which reads see, and
// the ordered list of writes issued since the last Flush (the pending writes).
// Crash returns a new Mem holding what a power failure could leave behind:
// the durable contents plus a random choice of the pending writes, according
// to a CrashPolicy. CrashStates and CrashStatesWhole enumerate every distinct
// crash state when there are few. A Mem survives being crashed: the original
// is unchanged, so one state can be crashed many ways.
//
// A Mem's power can be cut before the crash: StopAfter(n) lets n more writes
// and flushes through, then refuses every later one with ErrPowerCut (the
// crash lands between two IOs of one operation); Cut cuts it at once, from
// any goroutine, while other goroutines' IO is in flight (a dirty reboot of a
// concurrent run). Either way the pending writes are frozen as they were at
// the cut for the crash to draw from, reads go on, and CutTime says when the
// power went.
//
// The unit of survival is a pending sector-write: the part of one pending
// write that falls in one sector. A crash keeps or loses each one whole, never
// part of it, so a sector never holds half of a write's bytes for it; when
// several surviving sector-writes hit the same sector they are applied in
// issue order, so the latest wins where they overlap. CrashRandom and
// CrashStatesWhole keep or lose whole writes (every sector-write of a write
// together); CrashTorn and CrashStates let a multi-sector write be torn at
// sector boundaries. For writes that cover whole sectors this is exactly what
// a disk can do: each sector ends up as it was after some prefix of its
// pending writes. For writes smaller than a sector the model is a little more
// adversarial than hardware: it may keep a later sub-sector write to a sector
// and lose an earlier one to a different part of the same sector.
//
// # Faulty
//
// Faulty wraps a Device. Faults (Inject) fail chosen IOs with an error that
// wraps both ErrInjected and syscall.EIO: the n-th read, write or flush, IOs
// in a byte range, or any predicate, once or persistently. A failed IO does
// not reach the wrapped device. Bit flips (Flip) corrupt the data a read
// returns without touching the device. Latency is a fixed delay per IO and
// optionally a hard-disk model (HDDModel: seek, rotation, transfer). Latency
// is accounted on a virtual clock (Faulty.Clock) and slept only if
// FaultyOptions.Sleep is set, so IO-scheduling policies can be compared
// deterministically and fast.
//
// # Concurrency
//
// File, Mem and Faulty are safe for concurrent use by multiple goroutines.
// Mem serializes all IO on one mutex; File issues concurrent IOs to the
// kernel in parallel.
package disk

import (
	"errors"
	"fmt"
)

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
	// ErrMisaligned: an IO's offset, length or buffer address does not meet
	// the device's alignment (direct IO on File, or a Mem that requires
	// aligned IO).
	ErrMisaligned = errors.New("disk: misaligned IO")
	// ErrDirectUnsupported: the file system cannot do direct IO (O_DIRECT).
	ErrDirectUnsupported = errors.New("disk: direct IO not supported")
	// ErrTooManyStates: Mem.CrashStates would return more states than its
	// limit.
	ErrTooManyStates = errors.New("disk: too many crash states")
	// ErrPowerCut: a Mem armed with StopAfter, or Cut, has lost power: it refuses
	// every later write and flush, so a crash taken from it lands between
	// two IOs of one operation.
	ErrPowerCut = errors.New("disk: power cut")
)

// Stats are a device's IO counters since it was opened or created. Failed
// IOs that were issued are counted; IOs rejected before issue (out of range,
// misaligned, closed) are not.
type Stats struct {
	Reads        int64 `json:"reads"`
	Writes       int64 `json:"writes"`
	Flushes      int64 `json:"flushes"`
	BytesRead    int64 `json:"bytes_read"`
	BytesWritten int64 `json:"bytes_written"`
}

// checkRange returns an error wrapping ErrOutOfRange unless [off, off+n) lies
// within a device of the given size. op and name are for the message.
func checkRange(name, op string, off int64, n int, size int64) error {
	if off < 0 || off > size || int64(n) > size-off {
		return fmt.Errorf("%s: %s at offset %d length %d: device has %d bytes: %w", name, op, off, n, size, ErrOutOfRange)
	}
	return nil
}
