package shardstore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// damageOptions: a 64 MiB device file of 1 MiB extents, whose superblock
// slots are 4 KiB each, so zeroing the first 8 KiB destroys both.
func damageOptions() Options {
	o := testOptions()
	o.DeviceBytes = 64 << 20
	o.ExtentBytes = 1 << 20
	o.ChunkPayloadMax = 0
	o.Direct, o.DirectSet = false, true
	o.EnsureDefaults()
	return o
}

// fill109 writes and syncs 109 keys through OpenDir, closes the store and
// returns the device file's path.
func fill109(t *testing.T, o Options) string {
	t.Helper()
	dir := t.TempDir()
	s, err := OpenDir(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 109 {
		if err := s.Put(t.Context(), fmt.Appendf(nil, "key-%03d", i), bytes.Repeat([]byte{byte(i)}, 100+i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, o.DevicePath)
}

func fileSum(t *testing.T, path string) ([32]byte, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b), int64(len(b))
}

func zeroAt(t *testing.T, path string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, n), off); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesDamagedSuperblock is the reproduction of the data-loss
// bug: a device holding 109 synced keys whose first 8 KiB (both superblock
// slots) are zeroed was taken for blank and formatted, losing every key.
// Each damage below must give ErrCorruption and leave the device file
// byte for byte as it was.
func TestOpenRefusesDamagedSuperblock(t *testing.T) {
	o := damageOptions()
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
		want   string // in the error
	}{
		{"both slots zeroed (dd bs=4096 count=2)", func(t *testing.T, path string) { zeroAt(t, path, 0, 8192) }, "superblock"},
		{"slots and format marker zeroed", func(t *testing.T, path string) {
			zeroAt(t, path, 0, 8192)
			zeroAt(t, path, o.DeviceBytes-4096, 4096)
		}, "extent 1, at byte 1048576, holds data"},
		{"both slots overwritten with garbage", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(bytes.Repeat([]byte("garbage!"), 1024), 0); err != nil {
				t.Fatal(err)
			}
		}, "byte 0 of the superblock area"},
		{"truncated by one extent", func(t *testing.T, path string) {
			if err := os.Truncate(path, o.DeviceBytes-o.ExtentBytes); err != nil {
				t.Fatal(err)
			}
		}, "device is 66060288 bytes (63 extents of 1MiB) but its superblock (slot 0) describes 64 extents, 67108864 bytes"},
		{"truncated by 4 KiB", func(t *testing.T, path string) {
			if err := os.Truncate(path, o.DeviceBytes-4096); err != nil {
				t.Fatal(err)
			}
		}, "truncated or extended"},
		{"extended by 16 extents", func(t *testing.T, path string) {
			if err := os.Truncate(path, o.DeviceBytes+16*o.ExtentBytes); err != nil {
				t.Fatal(err)
			}
		}, "describes 64 extents, 67108864 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := fill109(t, o)
			c.damage(t, path)
			before, size := fileSum(t, path)
			s, err := OpenDir(filepath.Dir(path), o)
			if err == nil {
				s.Close()
				t.Fatal("OpenDir of a damaged device succeeded")
			}
			if !errors.Is(err, engine.ErrCorruption) {
				t.Errorf("OpenDir = %v, want ErrCorruption", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("OpenDir = %v, want it to say %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if after, n := fileSum(t, path); after != before || n != size {
				t.Errorf("the refused open changed the device (%d bytes -> %d)", size, n)
			}
		})
	}
}

func TestOpenOtherExtentSize(t *testing.T) {
	o := damageOptions()
	path := fill109(t, o)
	before, _ := fileSum(t, path)
	o2 := o
	o2.ExtentBytes = 2 << 20
	s, err := OpenDir(filepath.Dir(path), o2)
	if err == nil {
		s.Close()
		t.Fatal("OpenDir with another extent size succeeded")
	}
	if !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), "open it with extent=1MiB") {
		t.Errorf("OpenDir = %v, want ErrInvalidArgument naming extent=1MiB", err)
	}
	if after, _ := fileSum(t, path); after != before {
		t.Error("the refused open changed the device")
	}
	// The right extent size still opens it, with every key.
	s, err = OpenDir(filepath.Dir(path), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Get(t.Context(), []byte("key-108")); err != nil || len(v) != 208 {
		t.Fatalf("get key-108 = %d bytes, %v", len(v), err)
	}
}

// TestForceFormat: the explicit format is the one way to reuse a damaged
// device, and it leaves an empty store.
func TestForceFormat(t *testing.T) {
	o := damageOptions()
	path := fill109(t, o)
	zeroAt(t, path, 0, 8192)
	if err := FormatDir(filepath.Dir(path), o, false); !errors.Is(err, engine.ErrCorruption) {
		t.Fatalf("FormatDir without force = %v, want ErrCorruption", err)
	}
	if err := FormatDir(filepath.Dir(path), o, true); err != nil {
		t.Fatal(err)
	}
	s, err := OpenDir(filepath.Dir(path), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(t.Context(), []byte("key-000")); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("get after a forced format = %v, want ErrNotFound", err)
	}
}

// TestFormatRefusesStore: formatting a device that holds a valid store
// needs force too.
func TestFormatRefusesStore(t *testing.T) {
	o := damageOptions()
	path := fill109(t, o)
	before, _ := fileSum(t, path)
	err := FormatDir(filepath.Dir(path), o, false)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("FormatDir of a valid store without force = %v, want a refusal naming --force", err)
	}
	if after, _ := fileSum(t, path); after != before {
		t.Error("the refused format changed the device")
	}
}

// TestOpenBlankFormats: a never-formatted device (zeros) is still
// formatted on open, and a formatted empty one is reopened, not formatted
// again.
func TestOpenBlankFormats(t *testing.T) {
	o := damageOptions()
	dir := t.TempDir()
	s, err := OpenDir(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, o.DevicePath)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b[len(b)-4096:], []byte(MarkerMagic)) {
		t.Error("format wrote no marker in the last sector")
	}
	// Zero the slots of the empty store: the marker still says it was
	// formatted, so a reopen refuses rather than guess.
	zeroAt(t, path, 0, 8192)
	if _, err := OpenDir(dir, o); !errors.Is(err, engine.ErrCorruption) || !strings.Contains(err.Error(), "format marker") {
		t.Fatalf("OpenDir of a formatted device with zeroed slots = %v, want ErrCorruption naming the format marker", err)
	}
}
