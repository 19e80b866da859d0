package cgroup

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseLimit(t *testing.T) {
	for in, want := range map[string]int64{
		"max\n":                 0, // v2, no limit
		"9223372036854771712\n": 0, // v1, no limit
		"8589934592\n":          8 << 30,
		"":                      0,
		"garbage":               0,
		"-1":                    0,
	} {
		if got := ParseLimit(in); got != want {
			t.Errorf("ParseLimit(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestMemoryLimitWalksUp: the lowest limit on the process's cgroup or an
// ancestor is the one that binds, in a v1 memory hierarchy laid out under
// a scratch Root as /proc/self/cgroup names it.
func TestMemoryLimitWalksUp(t *testing.T) {
	_, v1 := ownPaths()
	if v1 == "" {
		v1 = "/"
	}
	old := Root
	t.Cleanup(func() { Root = old })
	Root = t.TempDir()
	own := filepath.Join(Root, "memory", v1)
	if err := os.MkdirAll(own, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := MemoryLimit(); got != 0 {
		t.Fatalf("no limit files: MemoryLimit() = %d, want 0", got)
	}
	write := func(dir string, v string) {
		if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(own, "9223372036854771712\n")
	write(filepath.Join(Root, "memory"), "4294967296\n")
	if got := MemoryLimit(); got != 4<<30 {
		t.Fatalf("4 GiB on the root, none on the own cgroup: MemoryLimit() = %d, want %d", got, int64(4<<30))
	}
	write(own, "1073741824\n")
	if got := MemoryLimit(); got != 1<<30 {
		t.Fatalf("1 GiB on the own cgroup: MemoryLimit() = %d, want %d", got, int64(1<<30))
	}
}
