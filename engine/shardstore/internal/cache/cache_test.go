package cache

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"unsafe"

	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
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
			sh := c.shard(k(q))
			sh.mu.RLock()
			_, ok := sh.pages[k(q)]
			sh.mu.RUnlock()
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
	for _, e := range c.shards[0].ring {
		bufs[unsafe.SliceData(e.page)] = true
	}
	c.Insert(Key{Extent: 1, Page: 9}, bytes.Repeat([]byte{9}, 8))
	e := c.shards[0].pages[Key{Extent: 1, Page: 9}]
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

// TestShards: a large cache is split into shards that together hold its
// capacity; the pages of one extent spread over them, DropExtent empties
// every shard of the extent's pages, and a page's bytes come back intact
// whichever shard holds it.
func TestShards(t *testing.T) {
	const pageBytes, pages = 64, 16 * shardPagesMin
	c := New(Options{PageBytes: pageBytes, CapacityBytes: pages * pageBytes})
	if len(c.shards) != shardsMax {
		t.Fatalf("%d shards for %d pages, want %d", len(c.shards), pages, shardsMax)
	}
	page := func(e, p int) []byte {
		b := make([]byte, pageBytes)
		for i := range b {
			b[i] = byte(e*31 + p + i)
		}
		return b
	}
	// Two extents of pages/2 each fill the cache exactly: nothing evicted.
	for e := 1; e <= 2; e++ {
		for p := range pages / 2 {
			c.Insert(Key{Extent: extent.ID(e), Page: uint32(p)}, page(e, p))
		}
	}
	st := c.Stats()
	if st.Pages != pages || st.Evictions != 0 {
		// A shard holding more than its share would evict here.
		t.Fatalf("after inserting the capacity: %+v", st)
	}
	for i := range c.shards {
		if n := len(c.shards[i].ring); n < pages/shardsMax/2 {
			t.Errorf("shard %d holds %d of %d pages: the hash does not spread an extent's pages", i, n, pages)
		}
	}
	dst := make([]byte, pageBytes)
	for _, p := range []int{0, 1, 77, pages/2 - 1} {
		if !c.Read(Key{Extent: 2, Page: uint32(p)}, dst, 0) || !bytes.Equal(dst, page(2, p)) {
			t.Fatalf("page %d of extent 2 lost or wrong", p)
		}
	}
	c.DropExtent(1)
	if n := c.ExtentPages(1); n != 0 {
		t.Fatalf("DropExtent left %d pages", n)
	}
	if n := c.ExtentPages(2); n != pages/2 {
		t.Fatalf("DropExtent(1) left %d pages of extent 2, want %d", n, pages/2)
	}
	// A third extent of a whole cache's worth: the cache stays at its
	// capacity.
	for p := range pages {
		c.Insert(Key{Extent: 3, Page: uint32(p)}, page(3, p))
	}
	if st := c.Stats(); st.Pages != pages || st.Drops != pages/2 {
		t.Fatalf("after turning over: %+v", st)
	}
}

// TestConcurrentReadInsert runs readers against an inserter that turns the
// cache over (under -race in CI): a hit always returns the bytes inserted
// for that key.
func TestConcurrentReadInsert(t *testing.T) {
	const pageBytes, pages = 64, 4 * shardPagesMin
	c := New(Options{PageBytes: pageBytes, CapacityBytes: pages * pageBytes})
	fill := func(b []byte, p uint32) {
		for i := range b {
			b[i] = byte(p) ^ byte(i)
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst, want := make([]byte, pageBytes), make([]byte, pageBytes)
			for i := uint32(r); ; i += 7 {
				select {
				case <-stop:
					return
				default:
				}
				p := i % (3 * pages)
				if c.Read(Key{Extent: 1, Page: p}, dst, 0) {
					fill(want, p)
					if !bytes.Equal(dst, want) {
						t.Errorf("page %d: read %x, want %x", p, dst[:8], want[:8])
						return
					}
				}
			}
		}()
	}
	buf := make([]byte, pageBytes)
	for p := range uint32(3 * pages) {
		fill(buf, p)
		c.Insert(Key{Extent: 1, Page: p}, buf)
	}
	close(stop)
	wg.Wait()
}

// TestGrowingCacheAllocatesInSlabs checks that a growing cache cuts its
// page buffers from slabs (a few allocations per 64 pages, not one per
// page) and that the buffers of dropped pages go to the next new pages.
func TestGrowingCacheAllocatesInSlabs(t *testing.T) {
	c := New(Options{CapacityBytes: 4096 * 4096})
	page := make([]byte, 4096)
	n := uint32(0)
	allocs := testing.AllocsPerRun(1024, func() {
		c.Insert(Key{Extent: 1, Gen: 1, Page: n}, page)
		n++
	})
	// Per insert: the entry (the map grows now and then); the buffer once
	// per slab. A buffer per page makes it 2.
	if allocs > 1.5 {
		t.Fatalf("%.2f allocations per insert of a new page, want the buffer to come from a slab", allocs)
	} else {
		t.Logf("%.2f allocations per insert of a new page", allocs)
	}
	c.DropExtent(1)
	free := 0
	for i := range c.shards {
		free += len(c.shards[i].free)
	}
	if free != int(n) {
		t.Fatalf("%d buffers kept after dropping %d pages", free, n)
	}
	before := testing.AllocsPerRun(100, func() {
		c.Insert(Key{Extent: 2, Gen: 1, Page: n}, page)
		n++
	})
	if before > 1.5 {
		t.Fatalf("%.2f allocations per insert after a drop", before)
	}
}

// TestCheck: a cache that inserted, evicted and dropped pages agrees with
// itself; one whose page is mapped but out of the clock ring (never to be
// evicted), or whose counts do not add up, is reported.
func TestCheck(t *testing.T) {
	c := New(Options{CapacityBytes: 2 * 512, PageBytes: 512})
	page := bytes.Repeat([]byte{'x'}, 512)
	for p := range uint32(5) {
		c.Insert(Key{Extent: 1, Page: p}, page)
	}
	c.Insert(Key{Extent: 2}, page)
	c.DropExtent(1)
	if err := c.Check(); err != nil {
		t.Fatalf("after inserts, evictions and a drop: %v", err)
	}
	sh := &c.shards[0]
	e := sh.ring[len(sh.ring)-1]
	sh.ring = sh.ring[:len(sh.ring)-1] // mapped, out of the ring
	if err := c.Check(); err == nil || !bytes.Contains([]byte(err.Error()), []byte("pages mapped")) {
		t.Errorf("a page out of the ring: %v, want it reported", err)
	}
	sh.ring = append(sh.ring, e)
	sh.inserts++
	if err := c.Check(); err == nil || !bytes.Contains([]byte(err.Error()), []byte("inserts")) {
		t.Errorf("an insert counted twice: %v, want it reported", err)
	}
	sh.inserts--
	sh.unlink(e) // mapped and in the ring, but out of its extent's list
	if err := c.Check(); err == nil || !bytes.Contains([]byte(err.Error()), []byte("extent lists hold")) {
		t.Errorf("a page out of its extent's list: %v, want it reported", err)
	}
}

// TestDropExtentFollowsLists: a reset drops exactly its extent's pages,
// across shards and after evictions have reused entries of other
// extents, and the extent lists agree with the page map throughout.
func TestDropExtentFollowsLists(t *testing.T) {
	const pages = 4 * shardPagesMin // several shards
	c := New(Options{CapacityBytes: pages * 512, PageBytes: 512})
	if len(c.shards) < 2 {
		t.Fatalf("%d shards, want several", len(c.shards))
	}
	page := bytes.Repeat([]byte{'x'}, 512)
	// Five extents' worth of pages into a cache with room for four:
	// the first extent's pages are evicted, their entries reused by the
	// last's.
	for e := range extent.ID(5) {
		for p := range uint32(pages / 4) {
			c.Insert(Key{Extent: e + 1, Gen: 1, Page: p}, page)
		}
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	held := c.Stats().Pages
	n3 := c.ExtentPages(3)
	if n3 == 0 {
		t.Fatal("no page of extent 3 cached")
	}
	c.DropExtent(3)
	if got := c.ExtentPages(3); got != 0 {
		t.Errorf("%d pages of extent 3 after its drop", got)
	}
	for p := range uint32(pages / 4) {
		if _, ok := c.Get(Key{Extent: 3, Gen: 1, Page: p}); ok {
			t.Fatalf("page %d of the dropped extent still cached", p)
		}
	}
	if st := c.Stats(); st.Pages != held-int64(n3) || st.Drops != int64(n3) {
		t.Errorf("after dropping %d of %d pages: %+v", n3, held, st)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if c.ExtentPages(5) != pages/4 {
		t.Errorf("extent 5: %d pages cached, want %d", c.ExtentPages(5), pages/4)
	}
}

// BenchmarkDropExtent: the reset of one 4 MiB extent (1,024 pages of 4
// KiB) of a full cache of 256 MiB and of 1 GiB. The store holds its lock
// through it: walking the whole cache made its cost grow with the cache.
func BenchmarkDropExtent(b *testing.B) {
	for _, extents := range []int{64, 256} {
		b.Run(fmt.Sprintf("cache=%dMiB", extents*4), func(b *testing.B) {
			const perExtent = 1024
			c := New(Options{CapacityBytes: int64(extents) * perExtent * 4096})
			page := make([]byte, 4096)
			fill := func(e extent.ID, gen uint32) {
				for p := range uint32(perExtent) {
					c.Insert(Key{Extent: e, Gen: gen, Page: p}, page)
				}
			}
			for e := range extent.ID(extents) {
				fill(e+1, 1)
			}
			b.ResetTimer()
			for i := range b.N {
				e := extent.ID(i%extents) + 1
				c.DropExtent(e)
				b.StopTimer()
				fill(e, uint32(i+2)) // the cache full again
				b.StartTimer()
			}
		})
	}
}
