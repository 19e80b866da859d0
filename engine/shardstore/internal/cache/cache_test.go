package cache

import (
	"bytes"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"testing"
	"unsafe"
)

func TestEvictionAndDrain(t *testing.T) {
	c := New(Options{CapacityBytes: 2 * 512, PageBytes: 512})
	page := func(b byte) []byte { return bytes.Repeat([]byte{b}, 512) }
	k := func(e, g, p uint32) Key { return Key{Extent: extent.ID(e), Gen: g, Page: p} }
	c.Insert(k(1, 0, 0), page('a'))
	c.Insert(k(1, 0, 1), page('b'))
	if _, ok := c.Get(k(1, 0, 0)); !ok { // a is now most recent
		t.Fatal("miss on a cached page")
	}
	c.Insert(k(2, 0, 0), page('c')) // evicts b
	if _, ok := c.Get(k(1, 0, 1)); ok {
		t.Fatal("least recently used page not evicted")
	}
	if p, ok := c.Get(k(1, 0, 0)); !ok || p[0] != 'a' {
		t.Fatal("recent page evicted")
	}
	// A page of the same extent at another generation is another page.
	if _, ok := c.Get(k(1, 1, 0)); ok {
		t.Fatal("hit across generations")
	}
	c.DropExtent(1)
	if _, ok := c.Get(k(1, 0, 0)); ok || c.ExtentPages(1) != 0 {
		t.Fatal("DropExtent left pages of the extent")
	}
	if _, ok := c.Get(k(2, 0, 0)); !ok {
		t.Fatal("DropExtent dropped another extent's page")
	}
	st := c.Stats()
	if st.Evictions != 1 || st.Drops != 1 || st.Pages != 1 || st.Hits != 3 || st.Misses != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// TestNewPageSurvivesNextInsert: in a full cache of pages nobody read,
// each insert evicts the oldest page, never the one inserted just before
// (a page written through the cache is the likeliest to be read next).
func TestNewPageSurvivesNextInsert(t *testing.T) {
	const pages = 8
	c := New(Options{CapacityBytes: pages * 512, PageBytes: 512})
	k := func(p int) Key { return Key{Extent: 1, Page: uint32(p)} }
	for p := range 4 * pages {
		c.InsertOwned(k(p), make([]byte, 512))
		if p == 0 {
			continue
		}
		// The last `pages` inserted are exactly the cached ones: FIFO
		// order when nothing is referenced.
		if c.ExtentPages(1) != min(p+1, pages) {
			t.Fatalf("after insert %d: %d pages cached, want %d", p, c.ExtentPages(1), min(p+1, pages))
		}
		for q := max(0, p-pages+1); q <= p; q++ {
			c.mu.RLock()
			_, ok := c.pages[k(q)]
			c.mu.RUnlock()
			if !ok {
				t.Fatalf("after insert %d: page %d (of the last %d inserted) was evicted", p, q, pages)
			}
		}
	}
}

// TestInsertReusesVictimBuffer: once the cache is full, a page inserted
// with a copy takes the evicted page's buffer (no allocation per page of a
// cache that turns over), and Get hands out copies, so nothing outside
// the cache still holds a buffer it reuses.
func TestInsertReusesVictimBuffer(t *testing.T) {
	c := New(Options{PageBytes: 8, CapacityBytes: 32})
	for i := range 4 {
		c.Insert(Key{Extent: 1, Page: uint32(i)}, bytes.Repeat([]byte{byte(i + 1)}, 8))
	}
	bufs := map[*byte]bool{}
	for _, e := range c.ring {
		bufs[unsafe.SliceData(e.page)] = true
	}
	c.Insert(Key{Extent: 1, Page: 9}, bytes.Repeat([]byte{9}, 8))
	e := c.pages[Key{Extent: 1, Page: 9}]
	if e == nil || !bufs[unsafe.SliceData(e.page)] {
		t.Fatal("the new page did not take an evicted page's buffer")
	}
	p, ok := c.Get(Key{Extent: 1, Page: 9})
	if !ok || !bytes.Equal(p, bytes.Repeat([]byte{9}, 8)) {
		t.Fatalf("Get: %v %x", ok, p)
	}
	p[0] = 0
	if q, _ := c.Get(Key{Extent: 1, Page: 9}); q[0] != 9 {
		t.Error("Get returned the cache's own buffer")
	}
}
