package disk

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// unwrittenBytes returns how many bytes of path the file system maps as
// allocated but unwritten (FIEMAP_EXTENT_UNWRITTEN), and how many as
// mapped at all.
func unwrittenBytes(t *testing.T, path string) (unwritten, mapped int64) {
	t.Helper()
	const (
		fsIocFiemap     = 0xC020660B
		extentLast      = 0x1
		extentUnwritten = 0x800
		extents         = 64
		fiemapFlagSync  = 0x1
	)
	type fiemapExtent struct {
		Logical, Physical, Length uint64
		_                         [2]uint64
		Flags                     uint32
		_                         [3]uint32
	}
	type fiemap struct {
		Start, Length                        uint64
		Flags, Mapped, ExtentCount, Reserved uint32
		Extents                              [extents]fiemapExtent
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := uint64(0)
	for {
		fm := fiemap{Start: start, Length: ^uint64(0), Flags: fiemapFlagSync, ExtentCount: extents}
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&fm))); errno != 0 {
			t.Skipf("FIEMAP on %s: %v", path, errno)
		}
		if fm.Mapped == 0 {
			return unwritten, mapped
		}
		for _, e := range fm.Extents[:fm.Mapped] {
			mapped += int64(e.Length)
			if e.Flags&extentUnwritten != 0 {
				unwritten += int64(e.Length)
			}
			start = e.Logical + e.Length
			if e.Flags&extentLast != 0 {
				return unwritten, mapped
			}
		}
	}
}

// TestFilePrewrite checks that Prewrite leaves the file written (no
// unwritten extents, which would make first writes commit the journal),
// zero, and allocated in full, where Preallocate alone leaves it unwritten;
// and that extending an existing file prewrites only the new part.
func TestFilePrewrite(t *testing.T) {
	dir := directDir(t)
	pre := filepath.Join(dir, "prealloc.img")
	f := openFile(t, pre, FileOptions{Size: 8 << 20, Create: true, Direct: true, Preallocate: true})
	f.Close()
	if un, _ := unwrittenBytes(t, pre); un == 0 {
		t.Skipf("the file system maps fallocated blocks as written: Prewrite makes no difference here")
	}

	path := filepath.Join(dir, "prewrite.img")
	f = openFile(t, path, FileOptions{Size: 8 << 20, Create: true, Direct: true, Prewrite: true})
	if un, mapped := unwrittenBytes(t, path); un != 0 || mapped != 8<<20 {
		t.Fatalf("prewritten file: %d bytes unwritten, %d mapped; want 0 and %d", un, mapped, 8<<20)
	}
	if got := readAligned(t, f, 1<<20, 4096); !bytes.Equal(got, make([]byte, 4096)) {
		t.Fatal("prewritten file is not zero")
	}
	data := AlignedBuffer(4096)
	copy(data, fill(1, 0, 4096))
	mustWrite(t, f, data, 8<<20-4096)
	mustFlush(t, f)
	f.Close()

	// Extending keeps the existing bytes and prewrites the rest.
	f = openFile(t, path, FileOptions{Size: 16 << 20, Direct: true, Prewrite: true})
	defer f.Close()
	if got := readAligned(t, f, 8<<20-4096, 4096); !bytes.Equal(got, data) {
		t.Fatal("extending with Prewrite overwrote existing data")
	}
	if un, mapped := unwrittenBytes(t, path); un != 0 || mapped != 16<<20 {
		t.Fatalf("extended file: %d bytes unwritten, %d mapped; want 0 and %d", un, mapped, 16<<20)
	}
}

func readAligned(t *testing.T, d Device, off int64, n int) []byte {
	t.Helper()
	p := AlignedBuffer(n)
	if got, err := d.ReadAt(p, off); err != nil || got != n {
		t.Fatalf("ReadAt(len %d, off %d) = %d, %v", n, off, got, err)
	}
	return p
}
