package testfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFill: after Fill the file system takes no more bytes; after FillBut
// it takes about the bytes left and no more.
func TestFill(t *testing.T) {
	dir := Tmpfs(t, 1<<20)
	FillBut(t, dir, 64<<10)
	if err := os.WriteFile(filepath.Join(dir, "small"), make([]byte, 32<<10), 0o644); err != nil {
		t.Fatalf("FillBut left less than 32 KiB: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	Fill(t, dir)
	err := os.WriteFile(filepath.Join(dir, "more"), make([]byte, 4096), 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("a write after Fill: %v, want ENOSPC", err)
	}
}
