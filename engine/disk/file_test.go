package disk

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

func openFile(t *testing.T, path string, opts FileOptions) *File {
	t.Helper()
	f, err := OpenFile(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// wantErr checks that err is non-nil, one line, and mentions every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk.img")
	f := openFile(t, path, FileOptions{Size: 1 << 20, Create: true})
	if f.Size() != 1<<20 || f.SectorSize() != SectorSizeBuffered || f.Direct() || f.Path() != path {
		t.Fatalf("Size %d SectorSize %d Direct %v Path %q", f.Size(), f.SectorSize(), f.Direct(), f.Path())
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 1<<20 {
		t.Fatalf("file not created at its size: %v, %v", fi, err)
	}
	if got := mustRead(t, f, 1000, 100); !bytes.Equal(got, make([]byte, 100)) {
		t.Fatal("new file not zero")
	}
	a := fill(1, 777, 5000)
	mustWrite(t, f, a, 777)
	mustWrite(t, f, fill(2, 1<<20-3, 3), 1<<20-3)
	mustFlush(t, f)
	want := Stats{Reads: 1, Writes: 2, Flushes: 1, BytesRead: 100, BytesWritten: 5003}
	if st := f.Stats(); st != want {
		t.Fatalf("Stats = %+v, want %+v", st, want)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen at its size (Size 0) and with an explicit Size.
	for _, size := range []int64{0, 1 << 20} {
		f = openFile(t, path, FileOptions{Size: size})
		if f.Size() != 1<<20 {
			t.Fatalf("reopened with Size %d: device size %d", size, f.Size())
		}
		if got := mustRead(t, f, 777, 5000); !bytes.Equal(got, a) {
			t.Fatal("reopened file lost the write")
		}
		if got := mustRead(t, f, 1<<20-3, 3); !bytes.Equal(got, fill(2, 1<<20-3, 3)) {
			t.Fatal("reopened file lost the last bytes")
		}
		f.Close()
	}

	// Reopen larger: extended, data kept, tail zero. Never shrunk.
	f = openFile(t, path, FileOptions{Size: 2 << 20})
	if got := mustRead(t, f, 777, 5000); !bytes.Equal(got, a) {
		t.Fatal("extending lost data")
	}
	if got := mustRead(t, f, 1<<20, 4096); !bytes.Equal(got, make([]byte, 4096)) {
		t.Fatal("extension not zero")
	}
	f.Close()
	f = openFile(t, path, FileOptions{Size: 4096})
	f.Close()
	if fi, _ := os.Stat(path); fi.Size() != 2<<20 {
		t.Fatalf("opening with a smaller Size truncated the file to %d", fi.Size())
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.img")
	_, err := OpenFile(missing, FileOptions{Size: 4096})
	wantErr(t, err, missing, "no such file", "Create")

	nodir := filepath.Join(dir, "nodir", "disk.img")
	_, err = OpenFile(nodir, FileOptions{Size: 4096, Create: true})
	wantErr(t, err, nodir, "does not exist")

	_, err = OpenFile(missing, FileOptions{Create: true})
	wantErr(t, err, missing, "Size is required")
	if _, statErr := os.Stat(missing); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatal("a failed open left a file behind")
	}

	_, err = OpenFile(dir, FileOptions{Size: 4096})
	wantErr(t, err, dir, "is a directory", "disk.img")

	_, err = OpenFile(missing, FileOptions{Size: 1000, Create: true})
	wantErr(t, err, missing, "size 1000", "multiple of the sector size 512", "512 or 1024")
	if _, statErr := os.Stat(missing); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatal("a failed create left a file behind")
	}

	_, err = OpenFile(missing, FileOptions{Size: -1, Create: true})
	wantErr(t, err, missing, "negative")
	_, err = OpenFile(missing, FileOptions{Size: 4096, Create: true, SectorSize: 1000})
	wantErr(t, err, missing, "SectorSize 1000")

	empty := filepath.Join(dir, "empty.img")
	os.WriteFile(empty, nil, 0o644)
	_, err = OpenFile(empty, FileOptions{})
	wantErr(t, err, empty, "empty", "Size")

	_, err = OpenFile("/dev/null", FileOptions{Size: 4096})
	wantErr(t, err, "/dev/null", "not a regular file or block device")

	// Two Files on one path.
	path := filepath.Join(dir, "disk.img")
	f := openFile(t, path, FileOptions{Size: 8192, Create: true})
	_, err = OpenFile(path, FileOptions{Size: 8192})
	wantErr(t, err, path, "in use")
	if _, err := os.Stat(path); err != nil {
		t.Fatal("a failed second open removed the file")
	}

	// Out of range and closed.
	if _, err := f.ReadAt(make([]byte, 2), 8191); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("read past end: %v", err)
	}
	if _, err := f.WriteAt(make([]byte, 1), -1); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("write before start: %v", err)
	}
	f.Close()
	for _, err := range []error{
		func() error { _, err := f.ReadAt(make([]byte, 1), 0); return err }(),
		func() error { _, err := f.WriteAt(make([]byte, 1), 0); return err }(),
		f.Flush(),
		f.Close(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("after Close: %v, want ErrClosed", err)
		}
	}
	// The lock went with Close.
	openFile(t, path, FileOptions{}).Close()
}

func TestFilePreallocate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk.img")
	f := openFile(t, path, FileOptions{Size: 8 << 20, Create: true, Preallocate: true})
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 8<<20 || st.Blocks*512 < 8<<20 {
		t.Fatalf("preallocated file: size %d, %d bytes allocated; want 8 MiB of each", st.Size, st.Blocks*512)
	}
	sparse := filepath.Join(t.TempDir(), "sparse.img")
	g := openFile(t, sparse, FileOptions{Size: 8 << 20, Create: true})
	defer g.Close()
	if err := syscall.Stat(sparse, &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 >= 8<<20 {
		t.Fatalf("without Preallocate the file has %d bytes allocated; the test cannot tell the two apart", st.Blocks*512)
	}
}

// directDir returns a directory on a file system that supports O_DIRECT:
// t.TempDir(), or $GAUNTLET_DIRECT_DIR. It fails the test (never skips)
// if neither does, saying how to fix it.
func directDir(t *testing.T) string {
	t.Helper()
	dirs := []string{t.TempDir()}
	if d := os.Getenv("GAUNTLET_DIRECT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, dir := range dirs {
		probe := filepath.Join(dir, "direct-probe.img")
		f, err := OpenFile(probe, FileOptions{Size: 4096, Create: true, Direct: true})
		if err == nil {
			f.Close()
			os.Remove(probe)
			return dir
		}
		if !errors.Is(err, ErrDirectUnsupported) {
			t.Fatalf("direct IO probe in %s: %v", dir, err)
		}
		t.Logf("%s: %v", dir, err)
	}
	t.Fatalf("no directory supports O_DIRECT (tried %q): set TMPDIR or GAUNTLET_DIRECT_DIR to a directory on ext4 or xfs", dirs)
	return ""
}

func TestFileDirect(t *testing.T) {
	path := filepath.Join(directDir(t), "direct.img")
	f := openFile(t, path, FileOptions{Size: 1 << 20, Create: true, Direct: true})
	if !f.Direct() || f.SectorSize() != SectorSizeDirect {
		t.Fatalf("Direct %v SectorSize %d", f.Direct(), f.SectorSize())
	}
	buf := AlignedBuffer(3 * 4096)
	copy(buf, fill(1, 8192, len(buf)))
	mustWrite(t, f, buf, 8192)
	mustFlush(t, f)
	got := AlignedBuffer(3 * 4096)
	if _, err := f.ReadAt(got, 8192); err != nil || !bytes.Equal(got, buf) {
		t.Fatalf("direct read back: %v, equal %v", err, bytes.Equal(got, buf))
	}

	// Misaligned offset, length, buffer: ErrMisaligned naming each problem,
	// and nothing written.
	unaligned := AlignedBuffer(4096 + 1)[1:]
	for _, tc := range []struct {
		p     []byte
		off   int64
		parts []string
	}{
		{AlignedBuffer(4096), 100, []string{"offset 100 length 4096", "offset 100 is not a multiple of 4096"}},
		{AlignedBuffer(4096)[:1000], 0, []string{"length 1000 is not a multiple of 4096"}},
		{unaligned, 4096, []string{"buffer address", "AlignedBuffer"}},
	} {
		for _, op := range []string{"read", "write"} {
			var err error
			if op == "read" {
				_, err = f.ReadAt(tc.p, tc.off)
			} else {
				_, err = f.WriteAt(tc.p, tc.off)
			}
			if !errors.Is(err, ErrMisaligned) {
				t.Fatalf("direct %s of %d bytes at %d: %v, want ErrMisaligned", op, len(tc.p), tc.off, err)
			}
			wantErr(t, err, append([]string{path, "direct " + op}, tc.parts...)...)
		}
	}
	if st := f.Stats(); st.Reads != 1 || st.Writes != 1 {
		t.Fatalf("misaligned IOs were counted as issued: %+v", st)
	}
	f.Close()

	// Reopen buffered: the direct write is there.
	g := openFile(t, path, FileOptions{})
	if got := mustRead(t, g, 8192, len(buf)); !bytes.Equal(got, buf) {
		t.Fatal("buffered reopen does not see the direct write")
	}
	g.Close()

	h, err := OpenFile(path, FileOptions{Direct: true, SectorSize: 512})
	if err != nil {
		// Allowed only if the file system says 512 is too small.
		wantErr(t, err, path, "direct IO alignment")
	} else {
		h.Close()
	}
}

func TestAlignedBuffer(t *testing.T) {
	for _, n := range []int{0, 1, 512, 4096, 10000} {
		b := AlignedBuffer(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("AlignedBuffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		if n > 0 && !isAligned(b, BufferAlign) {
			t.Fatalf("AlignedBuffer(%d) not aligned to %d", n, BufferAlign)
		}
	}
}

func isAligned(p []byte, align int) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(p)))%uintptr(align) == 0
}
