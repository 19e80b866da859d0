package shardstore

import "testing"

func TestCacheDefaultFromMemory(t *testing.T) {
	if got := meminfoTotal("MemTotal:       24641484 kB\nMemFree: 1 kB\n"); got != 24641484<<10 {
		t.Fatalf("MemTotal parsed as %d", got)
	}
	for _, bad := range []string{"", "MemFree: 1 kB\n", "MemTotal: lots kB\n", "MemTotal: -5 kB\n"} {
		if got := meminfoTotal(bad); got != 0 {
			t.Fatalf("meminfo %q parsed as %d, want 0", bad, got)
		}
	}
	for in, want := range map[int64]int64{0: 1 << 30, 1 << 30: 256 << 20, 4 << 30: 1 << 30, 100 << 20: 64 << 20, 24641484 << 10: 5952 << 20} {
		if got := CacheBytesFor(in); got != want {
			t.Fatalf("CacheBytesFor(%d) = %d, want %d", in, got, want)
		}
	}
	d := defaultCacheBytes()
	if d < cacheDefaultMin || d%cacheDefaultRound != 0 {
		t.Fatalf("default cache %d bytes: not a multiple of 64 MiB of at least 64 MiB", d)
	}
	if m := memoryLimit(); m > 0 && d > max(cacheDefaultMin, m/cacheShareOfMemory) {
		t.Fatalf("default cache %d bytes over a quarter of the process's %d bytes of memory", d, m)
	}
	if DefaultOptions().CacheBytes != d {
		t.Fatalf("DefaultOptions().CacheBytes = %d, want the machine's default %d", DefaultOptions().CacheBytes, d)
	}
}
