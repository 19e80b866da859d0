package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShardstoreFormat: format writes a store to a new device, refuses
// one that holds a store or damaged data unless --force, and never
// changes a device it refuses.
func TestShardstoreFormat(t *testing.T) {
	dir := t.TempDir()
	spec := "shardstore:size=64MiB,extent=1MiB,direct=false"
	dev := filepath.Join(dir, "shardstore.dev")
	if code, out, stderr := runCLI(t, "shardstore", "format", "--dir", dir, "--engine", spec); code != 0 || !strings.Contains(out, "formatted") {
		t.Fatalf("format of a new device: exit %d, %q %q", code, out, stderr)
	}
	before, err := os.ReadFile(dev)
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "shardstore", "format", "--dir", dir, "--engine", spec)
	if code != exitUsage || !strings.Contains(stderr, "holds a store") || !strings.Contains(stderr, "--force") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("format of a formatted device without --force: exit %d, %q", code, stderr)
	}
	// Both slots zeroed: still refused without --force, as corruption.
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 8192), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	damaged, _ := os.ReadFile(dev)
	code, _, stderr = runCLI(t, "shardstore", "format", "--dir", dir, "--engine", spec)
	if code != exitUsage || !strings.Contains(stderr, "refusing to format") {
		t.Fatalf("format of a damaged device without --force: exit %d, %q", code, stderr)
	}
	if after, _ := os.ReadFile(dev); string(after) != string(damaged) {
		t.Fatal("a refused format changed the device")
	}
	if code, _, stderr := runCLI(t, "shardstore", "format", "--dir", dir, "--engine", spec, "--force"); code != 0 {
		t.Fatalf("format --force: exit %d, %q", code, stderr)
	}
	if after, _ := os.ReadFile(dev); string(after[:8192]) != string(before[:8192]) {
		t.Fatal("format --force did not write a fresh superblock")
	}
	if code, _, stderr := runCLI(t, "shardstore", "format", "--dir", dir, "--engine", "pebble"); code != exitUsage || !strings.Contains(stderr, "give a shardstore spec") {
		t.Fatalf("format --engine pebble: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "shardstore", "format"); code != exitUsage || !strings.Contains(stderr, "--dir is required") {
		t.Fatalf("format without --dir: exit %d, %q", code, stderr)
	}
}
