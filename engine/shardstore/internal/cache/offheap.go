package cache

import (
	"runtime"
	"syscall"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
)

// Page buffers of a large cache live off the Go heap, in anonymous
// mappings, so that the collector neither counts nor marks them. On the
// heap, a full cache doubled the process's memory: the collector lets the
// heap grow to twice what it found live before it collects again
// (GOGC=100), so a store with 4 GiB of cached pages grew to 8 GiB of RSS
// on the garbage of its other work. Off the heap, the cache costs what it
// holds. The mappings are unmapped by a cleanup once the Cache is
// unreachable: no reader can hold one of its pages then, since Get and
// Read copy out under the shard's lock and no page buffer leaves the
// cache.

// mapped is one shard's mappings, apart from the shard so that the
// cleanup can free them without keeping the Cache reachable.
type mapped struct {
	regions [][]byte
}

// offHeapMin is the smallest slab put in a mapping: a checker's cache of
// a few pages stays on the heap, where the collector frees it with its
// store (a mapping is at least a page of address space, and its
// cleanup waits for a collection).
const offHeapMin = 64 << 10

// alloc returns n bytes: mapped if n is at least offHeapMin and the
// mapping succeeds, else from the heap.
func (m *mapped) alloc(n int) []byte {
	if n < offHeapMin {
		return make([]byte, n)
	}
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n) // out of address space or mappings: the heap still works
	}
	m.regions = append(m.regions, b)
	return b
}

// unmappedBytes counts the bytes unmapAll has unmapped, for the tests.
var unmappedBytes conc.Int64

// unmapAll unmaps every shard's mappings. Only the cleanup calls it.
func unmapAll(ms []*mapped) {
	for _, m := range ms {
		for _, b := range m.regions {
			if syscall.Munmap(b) == nil {
				unmappedBytes.Add(int64(len(b)))
			}
		}
		m.regions = nil
	}
}

// MappedBytes is the size of the cache's page buffers held off the heap.
func (c *Cache) MappedBytes() int64 {
	var n int64
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		for _, b := range sh.mapped.regions {
			n += int64(len(b))
		}
		sh.mu.RUnlock()
	}
	return n
}

// freeOnCleanup arranges for c's mappings to be unmapped once c is
// unreachable.
func (c *Cache) freeOnCleanup() {
	ms := make([]*mapped, len(c.shards))
	for i := range c.shards {
		ms[i] = c.shards[i].mapped
	}
	runtime.AddCleanup(c, unmapAll, ms)
}

// OffHeap hands out buffers held off the Go heap, as the cache's pages
// are, for another cache of the store (shardstore's row cache): its
// mappings are unmapped once the owner it was made for is unreachable.
type OffHeap struct {
	mu conc.Mutex
	m  *mapped
}

// NewOffHeap returns an OffHeap whose mappings live as long as owner.
func NewOffHeap[T any](owner *T) *OffHeap {
	m := &mapped{}
	runtime.AddCleanup(owner, func(m *mapped) { unmapAll([]*mapped{m}) }, m)
	return &OffHeap{m: m}
}

// Alloc returns n zero bytes, mapped if n is at least 64 KiB (else from
// the heap). The caller must not use them once the owner is unreachable.
func (o *OffHeap) Alloc(n int) []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m.alloc(n)
}
