package shardstore

import (
	"os"
	"strconv"
	"strings"

	"github.com/gauntlet-kv/gauntlet/internal/cgroup"
)

// The buffer cache's default is sized from the machine: shardstore reads
// its device with O_DIRECT, so its buffer cache is the only cache its
// reads have, where every peer here reads through the kernel's page cache
// as well (Pebble's block cache is 1 GiB, and its files sit in the page
// cache beside it; Badger and bbolt map their files). With the fixed
// 1 GiB this default replaced, a million 1 KB records (1.5 GB of chunks
// and index) missed the cache on one get in nine at YCSB-A, each miss a
// 60 µs read that held one of two cores' schedulers in a system call:
// 85.6k ops/s with a put p99 of 4.2 ms, against 154k and 232 µs with the
// data in cache (docs/PERFORMANCE.md, "The buffer cache's default").

// cacheShareOfMemory is the share of the memory the process may use that
// the default cache may grow to: a quarter, as a database server's buffer
// pool on a shared host is often sized, leaving the rest to the Go heap,
// the other engines of a bench, and the kernel.
const cacheShareOfMemory = 4

// cacheDefaultMin and cacheDefaultRound bound and round the default: a
// cache of at least 64 MiB, in multiples of 64 MiB, so `harness engines`
// shows a round figure.
const (
	cacheDefaultMin   = 64 << 20
	cacheDefaultRound = 64 << 20
	// cacheDefaultUnknown is the default where the memory cannot be read
	// (no /proc/meminfo): the block cache Pebble gets here.
	cacheDefaultUnknown = 1 << 30
)

// defaultCacheBytes is CacheBytesFor the memory the process may use.
func defaultCacheBytes() int64 { return CacheBytesFor(memoryLimit()) }

// CacheBytesFor is the default buffer cache for a process that may use
// memory bytes (0: unknown): a quarter of it, rounded down to 64 MiB, at
// least 64 MiB. A bench that gives each run a memory limit ('harness bench
// --memory') sets CacheBytesDefault from it, in the process that resolves
// the engine's options as in the run that uses them.
func CacheBytesFor(memory int64) int64 {
	if memory <= 0 {
		return cacheDefaultUnknown
	}
	return max(cacheDefaultMin, memory/cacheShareOfMemory/cacheDefaultRound*cacheDefaultRound)
}

// memoryLimit is the memory the process may use: the machine's
// (MemTotal), or its cgroup's limit if lower (a container's limit is the
// one that ends the process), or 0 if neither can be read.
func memoryLimit() int64 {
	total := meminfoTotal(readFile("/proc/meminfo"))
	if l := cgroup.MemoryLimit(); l > 0 && (total <= 0 || l < total) {
		total = l
	}
	return total
}

func readFile(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return string(b)
}

// meminfoTotal parses MemTotal out of /proc/meminfo's text, in bytes, or
// returns 0.
func meminfoTotal(s string) int64 {
	for _, line := range strings.Split(s, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || kb <= 0 {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
