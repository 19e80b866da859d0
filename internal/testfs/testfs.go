// Package testfs gives tests a small real file system to fill: a tmpfs of
// a chosen size, so disk-full paths run against the kernel's ENOSPC, not
// an imitation of it. The tests that use it run as root (CI does).
package testfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of size bytes on a new directory, unmounted when
// the test ends.
func Tmpfs(t testing.TB, size int) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a %d-byte tmpfs on %s (the test needs root): %v: %s", size, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// FillBut writes a file in dir that leaves free bytes of its file system
// available.
func FillBut(t testing.TB, dir string, free int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	n := int64(st.Bavail)*st.Bsize - free
	if err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, n), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Fill writes a file in dir until its file system is full, to the last
// sector a write can take.
func Fill(t testing.TB, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Write(buf)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("fill: a write of nothing")
		}
	}
	for { // pages written short of a whole buffer
		if _, err := f.Write(buf[:512]); err != nil {
			break
		}
	}
}
