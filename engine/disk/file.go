package disk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// BufferAlign is the memory alignment of AlignedBuffer: enough for direct IO
// on any device with logical blocks of up to 4096 bytes.
const BufferAlign = 4096

// Sector sizes File uses unless FileOptions.SectorSize says otherwise.
const (
	// SectorSizeBuffered is the sector size of a regular file opened
	// without Direct: the smallest unit any disk writes atomically.
	SectorSizeBuffered = 512
	// SectorSizeDirect is the sector size of a regular file opened with
	// Direct. Direct IO on a regular file must be aligned to the logical
	// block size of the disk under the file system (512 or 4096), or on
	// some file systems to their block size (4096 by default on ext4 and
	// xfs); 4096 satisfies both, and OpenFile checks it against the
	// alignment the kernel reports (statx STATX_DIOALIGN) where it can.
	SectorSizeDirect = 4096
)

// NewBuffer returns a zeroed slice of n bytes for IO on dev: aligned to
// BufferAlign (AlignedBuffer) unless dev says it needs no alignment
// (a BufferAligner returning 1 or less, as Mem does), which saves
// allocating and clearing up to BufferAlign bytes more per read.
func NewBuffer(dev Device, n int) []byte {
	if a, ok := dev.(BufferAligner); ok && a.BufferAlignment() <= 1 {
		return make([]byte, n)
	}
	return AlignedBuffer(n)
}

// BufferAligner is implemented by devices that know the memory alignment
// their IO buffers need.
type BufferAligner interface {
	BufferAlignment() int
}

// AlignedBuffer returns a zeroed slice of n bytes whose first byte is aligned
// to BufferAlign, for direct IO.
func AlignedBuffer(n int) []byte {
	if n == 0 {
		return []byte{}
	}
	b := make([]byte, n+BufferAlign)
	skip := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) % BufferAlign); r != 0 {
		skip = BufferAlign - r
	}
	return b[skip : skip+n : skip+n]
}

// FileOptions configure OpenFile. The zero value opens an existing regular
// file or block device at its current size, buffered.
type FileOptions struct {
	// Size is the device size in bytes, a multiple of the sector size. For
	// a regular file the file is extended to Size if it is shorter (never
	// truncated: if longer, the device is its first Size bytes); 0 means
	// the file's current size, so Size is required to create a file. For a
	// block device 0 means the whole device (rounded down to a whole sector)
	// and a larger Size than the device is an error.
	Size int64
	// Direct opens with O_DIRECT: IO bypasses the page cache and must be
	// aligned (see AlignedBuffer). Default false.
	Direct bool
	// Preallocate allocates the regular file's blocks up front
	// (fallocate), so writes cannot fail for lack of space and the file is
	// not fragmented. Ignored for block devices. Default false.
	Preallocate bool
	// Prewrite writes zeros over the part of a regular file that OpenFile
	// creates or extends, so the file system holds it as written blocks.
	// Preallocated (fallocate) blocks are "unwritten" on ext4 and xfs: the
	// first write into each converts it, a metadata change that makes
	// every fdatasync after it commit the file system's journal (about
	// three times the fdatasync latency on ext4: BenchmarkDurablePut, in
	// docs/PERFORMANCE.md). The cost is paid once, at open: writing Size
	// bytes at sequential bandwidth. Prewrite allocates the blocks as
	// Preallocate does (a full file system fails the open), so it makes
	// Preallocate redundant. Ignored for block devices. Default false.
	Prewrite bool
	// Create creates a regular file if path does not exist. Default false.
	Create bool
	// SectorSize overrides the sector size: a power of two, at least 512
	// and, with Direct, a multiple of the alignment the device requires.
	// Default 0: the block device's logical block size, or for a regular
	// file SectorSizeBuffered or SectorSizeDirect.
	SectorSize int
}

// File is a Device on a regular file or a block device.
type File struct {
	f          *os.File
	path       string
	size       int64
	sectorSize int
	memAlign   int // direct IO: required buffer alignment
	direct     bool
	block      bool
	closed     atomic.Bool
	aio        aio // WriteBatch's asynchronous IO context

	reads, writes, flushes, bytesRead, bytesWritten atomic.Int64
}

// OpenFile opens the regular file or block device at path as a Device.
// Errors are one line naming path and, where there is one, the fix.
func OpenFile(path string, opts FileOptions) (*File, error) {
	fail := func(format string, args ...any) (*File, error) {
		return nil, fmt.Errorf("disk: open %s: "+format, append([]any{path}, args...)...)
	}
	if opts.Size < 0 {
		return fail("FileOptions.Size %d is negative", opts.Size)
	}
	if s := opts.SectorSize; s != 0 && (s < 512 || s&(s-1) != 0) {
		return fail("FileOptions.SectorSize %d is not a power of two of at least 512", s)
	}

	fi, err := os.Stat(path)
	created := false
	switch {
	case errors.Is(err, os.ErrNotExist):
		if !opts.Create {
			return fail("no such file or device (set FileOptions.Create to create a regular file)")
		}
		if opts.Size == 0 {
			return fail("FileOptions.Size is required to create a file")
		}
		created = true
	case err != nil:
		return fail("%v", unwrapPath(err))
	case fi.IsDir():
		return fail("is a directory, not a file or block device (give a file path, e.g. %s)", filepath.Join(path, "disk.img"))
	case fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0:
		// A block device.
	case !fi.Mode().IsRegular():
		return fail("not a regular file or block device (mode %v)", fi.Mode())
	}
	block := !created && fi.Mode()&os.ModeDevice != 0

	flags := os.O_RDWR
	if created {
		flags |= os.O_CREATE | os.O_EXCL
	}
	if block {
		// On Linux, O_EXCL on a block device is an exclusive open: it fails
		// with EBUSY if the device is mounted or opened exclusively
		// elsewhere, so a typo cannot destroy a file system.
		flags |= os.O_EXCL
	}
	if opts.Direct {
		if oDirect == 0 {
			return fail("%v on this operating system (set Direct false): %w", "O_DIRECT is not available", ErrDirectUnsupported)
		}
		flags |= oDirect
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		err = unwrapPath(err)
		switch {
		case opts.Direct && errors.Is(err, syscall.EINVAL):
			return fail("the file system does not support direct IO (O_DIRECT); use a file on ext4 or xfs, or set Direct false: %w", ErrDirectUnsupported)
		case block && errors.Is(err, syscall.EBUSY):
			return fail("device is in use (mounted, or open exclusively by another program); unmount it or pick another device")
		case created && errors.Is(err, os.ErrNotExist):
			return fail("directory %s does not exist (create it first)", filepath.Dir(path))
		case errors.Is(err, os.ErrPermission):
			return fail("permission denied (run as a user who can write it, or pick another path)")
		}
		return fail("%v", err)
	}
	d := &File{f: f, path: path, direct: opts.Direct, block: block}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			if created {
				os.Remove(path)
			}
		}
	}()
	fd := int(f.Fd())

	if !block {
		// Two Files on one path would overwrite each other's data. The
		// lock dies with the file descriptor.
		if err := lockFile(fd); err != nil {
			return fail("in use: another File has it open (close that first): %v", err)
		}
	}

	// Sector size and direct IO alignment.
	d.sectorSize = opts.SectorSize
	d.memAlign = 1
	if block {
		lbs, err := logicalBlockSize(fd)
		if err != nil {
			return fail("get logical block size: %v", err)
		}
		if d.sectorSize == 0 {
			d.sectorSize = lbs
		} else if d.sectorSize%lbs != 0 {
			return fail("FileOptions.SectorSize %d is not a multiple of the device's logical block size %d", d.sectorSize, lbs)
		}
		if opts.Direct {
			d.memAlign = lbs
		}
	} else {
		if d.sectorSize == 0 {
			d.sectorSize = SectorSizeBuffered
			if opts.Direct {
				d.sectorSize = SectorSizeDirect
			}
		}
		if opts.Direct {
			d.memAlign = d.sectorSize
			mem, off, known := dioAlign(fd)
			if known && off == 0 {
				return fail("the file system does not support direct IO (O_DIRECT); use a file on ext4 or xfs, or set Direct false: %w", ErrDirectUnsupported)
			}
			if known {
				if d.sectorSize%off != 0 {
					return fail("FileOptions.SectorSize %d is not a multiple of the file system's direct IO alignment %d", d.sectorSize, off)
				}
				d.memAlign = mem
			}
		}
	}
	d.memAlign = min(d.memAlign, BufferAlign)

	// Size.
	ss := int64(d.sectorSize)
	if block {
		end, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return fail("get device size: %v", unwrapPath(err))
		}
		switch {
		case opts.Size == 0:
			d.size = end / ss * ss
			if d.size == 0 {
				return fail("device is empty (%d bytes)", end)
			}
		case opts.Size > end:
			return fail("device too small: it has %d bytes, FileOptions.Size asks for %d (give a Size of at most %d, or 0 for the whole device)", end, opts.Size, end/ss*ss)
		default:
			d.size = opts.Size
		}
	} else {
		cur := int64(0)
		if !created {
			cur = fi.Size()
		}
		d.size = opts.Size
		if d.size == 0 {
			d.size = cur
			if d.size == 0 {
				return fail("file is empty: set FileOptions.Size to extend it")
			}
		}
	}
	if d.size%ss != 0 {
		return fail("size %d is not a multiple of the sector size %d (use %d or %d)", d.size, ss, d.size/ss*ss, (d.size/ss+1)*ss)
	}

	if !block {
		extended := false
		cur := int64(0)
		if !created {
			cur = fi.Size()
		}
		if opts.Prewrite && cur < d.size {
			if err := prewrite(f, (cur+ss-1)/ss*ss, d.size); err != nil {
				if errors.Is(err, syscall.ENOSPC) {
					return fail("prewrite %d bytes: %w (free space or give a smaller FileOptions.Size)", d.size-cur, syscall.ENOSPC)
				}
				return fail("prewrite %d bytes: %v", d.size-cur, unwrapPath(err))
			}
			extended = true
		} else if opts.Preallocate {
			if err := fallocate(fd, d.size); err != nil {
				if errors.Is(err, syscall.ENOSPC) {
					return fail("preallocate %d bytes: %w (free space or give a smaller FileOptions.Size)", d.size, syscall.ENOSPC)
				}
				return fail("preallocate %d bytes: %w (set FileOptions.Preallocate false, or Prewrite, if the file system cannot)", d.size, err)
			}
			extended = true
		} else if fi == nil || fi.Size() < d.size || created {
			if err := f.Truncate(d.size); err != nil {
				return fail("extend to %d bytes: %v", d.size, unwrapPath(err))
			}
			extended = true
		}
		if extended {
			// Make the new size durable now, so a Flush later only has
			// data to write.
			if err := f.Sync(); err != nil {
				return fail("sync: %v", unwrapPath(err))
			}
		}
		if created {
			if err := syncDir(filepath.Dir(path)); err != nil {
				return fail("sync directory: %v", err)
			}
		}
	}

	if opts.Direct {
		// Some file systems accept O_DIRECT at open and refuse the first
		// IO; find out now rather than in the engine.
		buf := AlignedBuffer(d.sectorSize)
		if _, err := f.ReadAt(buf, 0); err != nil {
			err = unwrapPath(err)
			if errors.Is(err, syscall.EINVAL) {
				return fail("the file system does not support direct IO (O_DIRECT); use a file on ext4 or xfs, or set Direct false: %w", ErrDirectUnsupported)
			}
			return fail("direct read of sector 0: %v", err)
		}
	}
	ok = true
	return d, nil
}

// prewriteChunk is the size of one zero write of prewrite: large enough
// for sequential bandwidth, a multiple of any sector size.
const prewriteChunk = 8 << 20

// prewrite writes zeros over [from, to) of f; from and to are multiples of
// the sector size.
func prewrite(f *os.File, from, to int64) error {
	buf := AlignedBuffer(int(min(prewriteChunk, to-from)))
	for off := from; off < to; off += int64(len(buf)) {
		n := min(int64(len(buf)), to-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return unwrapPath(err)
	}
	defer f.Close()
	return unwrapPath(f.Sync())
}

// unwrapPath strips the *os.PathError our messages already say.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Path returns the path given to OpenFile.
func (d *File) Path() string { return d.path }

// Size returns the device size.
func (d *File) Size() int64 { return d.size }

// SectorSize returns the sector size; with Direct every IO's offset and
// length must be a multiple of it.
func (d *File) SectorSize() int { return d.sectorSize }

// Direct reports whether the file was opened with O_DIRECT.
func (d *File) Direct() bool { return d.direct }

// Stats returns the IO counters since OpenFile.
func (d *File) Stats() Stats {
	return Stats{
		Reads:        d.reads.Load(),
		Writes:       d.writes.Load(),
		Flushes:      d.flushes.Load(),
		BytesRead:    d.bytesRead.Load(),
		BytesWritten: d.bytesWritten.Load(),
	}
}

func (d *File) check(op string, p []byte, off int64) error {
	if d.closed.Load() {
		return fmt.Errorf("disk: %s: %s at offset %d length %d: %w", d.path, op, off, len(p), ErrClosed)
	}
	if err := checkRange("disk: "+d.path, op, off, len(p), d.size); err != nil {
		return err
	}
	if !d.direct || len(p) == 0 {
		return nil
	}
	ss := int64(d.sectorSize)
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	var what []string
	if off%ss != 0 {
		what = append(what, fmt.Sprintf("offset %d is not a multiple of %d", off, ss))
	}
	if int64(len(p))%ss != 0 {
		what = append(what, fmt.Sprintf("length %d is not a multiple of %d", len(p), ss))
	}
	if r := addr % uintptr(d.memAlign); r != 0 {
		what = append(what, fmt.Sprintf("buffer address is %d bytes past a %d-byte boundary (allocate it with disk.AlignedBuffer)", r, d.memAlign))
	}
	if what != nil {
		return fmt.Errorf("disk: %s: direct %s at offset %d length %d: %s: %w", d.path, op, off, len(p), strings.Join(what, ", "), ErrMisaligned)
	}
	return nil
}

// ioErr wraps an error from the operating system.
func (d *File) ioErr(op string, off int64, n int, err error) error {
	err = unwrapPath(err)
	switch {
	case errors.Is(err, os.ErrClosed):
		err = ErrClosed
	case errors.Is(err, io.EOF):
		err = fmt.Errorf("file ends before the device size %d (was it truncated?): %w", d.size, io.ErrUnexpectedEOF)
	}
	if op == "flush" {
		return fmt.Errorf("disk: %s: flush: %w", d.path, err)
	}
	return fmt.Errorf("disk: %s: %s at offset %d length %d: %w", d.path, op, off, n, err)
}

// ReadAt reads len(p) bytes at off.
func (d *File) ReadAt(p []byte, off int64) (int, error) {
	if err := d.check("read", p, off); err != nil {
		return 0, err
	}
	d.reads.Add(1)
	d.bytesRead.Add(int64(len(p)))
	n, err := d.f.ReadAt(p, off)
	if err != nil {
		return n, d.ioErr("read", off, len(p), err)
	}
	return n, nil
}

// WriteAt writes p at off. The write is durable once a later Flush returns.
func (d *File) WriteAt(p []byte, off int64) (int, error) {
	if err := d.check("write", p, off); err != nil {
		return 0, err
	}
	d.writes.Add(1)
	d.bytesWritten.Add(int64(len(p)))
	n, err := d.f.WriteAt(p, off)
	if err != nil {
		return n, d.ioErr("write", off, len(p), err)
	}
	return n, nil
}

// Flush makes every completed write durable (fdatasync).
func (d *File) Flush() error {
	if d.closed.Load() {
		return fmt.Errorf("disk: %s: flush: %w", d.path, ErrClosed)
	}
	d.flushes.Add(1)
	if err := fdatasync(d.f); err != nil {
		return d.ioErr("flush", 0, 0, err)
	}
	return nil
}

// Close closes the file without flushing.
func (d *File) Close() error {
	if d.closed.Swap(true) {
		return fmt.Errorf("disk: %s: close: %w", d.path, ErrClosed)
	}
	d.aio.destroy()
	if err := d.f.Close(); err != nil {
		return fmt.Errorf("disk: %s: close: %w", d.path, unwrapPath(err))
	}
	return nil
}
