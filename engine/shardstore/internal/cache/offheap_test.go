package cache

import (
	"bytes"
	"runtime"
	"testing"
)

// TestLargeCacheOffHeap: a cache of many pages holds them in mappings, not
// on the Go heap (the heap grows by a small fraction of the pages
// inserted), reads them back intact, and unmaps them once the cache is
// unreachable.
func TestLargeCacheOffHeap(t *testing.T) {
	const pages = 4096 // 16 MiB of 4 KiB pages, 8 shards of 2 MiB
	before := unmappedBytes.Load()
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	h0 := heap()
	c := New(Options{CapacityBytes: pages * 4096})
	page := make([]byte, 4096)
	for p := range pages {
		page[0], page[4095] = byte(p), byte(p>>8)
		c.Insert(Key{Extent: 1, Page: uint32(p)}, page)
	}
	grew := int64(heap()) - int64(h0)
	mapped := c.MappedBytes()
	if mapped < pages*4096 {
		t.Fatalf("%d bytes mapped for %d pages of 4 KiB", mapped, pages)
	}
	if grew > pages*4096/4 {
		t.Fatalf("the Go heap grew by %d bytes for %d bytes of pages: the pages are on the heap", grew, pages*4096)
	}
	for p := range pages {
		got, ok := c.Get(Key{Extent: 1, Page: uint32(p)})
		if !ok || got[0] != byte(p) || got[4095] != byte(p>>8) || !bytes.Equal(got[1:4095], page[1:4095]) {
			t.Fatalf("page %d: cached %v, bytes %x..%x", p, ok, got[:1], got[len(got)-1:])
		}
	}
	runtime.KeepAlive(c)
	c = nil
	// The cleanup runs on its own goroutine after a collection finds the
	// cache unreachable: collect and yield until it has, a bounded number
	// of rounds.
	for i := 0; i < 1000 && unmappedBytes.Load()-before < mapped; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if got := unmappedBytes.Load() - before; got < mapped {
		t.Fatalf("%d of %d mapped bytes unmapped after the cache became unreachable", got, mapped)
	}
}

// TestSmallCacheOnHeap: a cache of a few pages (the checkers') maps
// nothing: a mapping per store would outlive it until a collection.
func TestSmallCacheOnHeap(t *testing.T) {
	c := New(Options{CapacityBytes: 16 * 512, PageBytes: 512})
	for p := range 64 {
		c.Insert(Key{Extent: 1, Page: uint32(p)}, make([]byte, 512))
	}
	if n := c.MappedBytes(); n != 0 {
		t.Fatalf("a cache of 16 pages mapped %d bytes", n)
	}
}
