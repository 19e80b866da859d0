package disk

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

const oDirect = unix.O_DIRECT

// fdatasync flushes f's data and the metadata needed to read it.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = ignoreEINTR(func() error { return unix.Fdatasync(int(fd)) })
	}); err != nil {
		return err
	}
	return serr
}

// fallocate allocates [0, size) and extends the file to size.
func fallocate(fd int, size int64) error {
	return ignoreEINTR(func() error { return unix.Fallocate(fd, 0, 0, size) })
}

// lockFile takes an exclusive, non-blocking flock.
func lockFile(fd int) error {
	return ignoreEINTR(func() error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) })
}

// logicalBlockSize is a block device's logical block size (BLKSSZGET).
func logicalBlockSize(fd int) (int, error) {
	return unix.IoctlGetInt(fd, unix.BLKSSZGET)
}

// dioAlign returns the direct IO memory and offset alignment the kernel
// reports for an open file (statx STATX_DIOALIGN, Linux 6.1 and later).
// known is false if the kernel or file system does not say; offset 0 with
// known true means the file does not support direct IO.
func dioAlign(fd int) (mem, offset int, known bool) {
	var st unix.Statx_t
	err := ignoreEINTR(func() error {
		return unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &st)
	})
	if err != nil || st.Mask&unix.STATX_DIOALIGN == 0 {
		return 0, 0, false
	}
	return int(st.Dio_mem_align), int(st.Dio_offset_align), true
}

func ignoreEINTR(fn func() error) error {
	for {
		if err := fn(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
