//go:build !linux

package disk

import (
	"errors"
	"os"
)

// Outside Linux File is buffered only: no O_DIRECT, no fallocate, no lock,
// and Flush is a full fsync.

const oDirect = 0

func fdatasync(f *os.File) error { return f.Sync() }

func fallocate(fd int, size int64) error {
	return errors.New("fallocate is not available on this operating system")
}

func lockFile(fd int) error { return nil }

func logicalBlockSize(fd int) (int, error) { return 512, nil }

func dioAlign(fd int) (mem, offset int, known bool) { return 0, 0, false }
