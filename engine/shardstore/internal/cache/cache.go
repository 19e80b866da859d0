// Package cache is shardstore's buffer cache: fixed-size pages of extent
// data, keyed by (extent, generation, page), evicted by CLOCK (second
// chance), an approximation of least recently used in which a hit only
// sets a flag: hits take the lock shared, so concurrent readers of hot
// pages do not serialize on it.
//
// Only immutable pages are cached: pages that lie wholly below the bytes the
// IO scheduler has issued for their extent generation. Appends never change
// such a page (a rewritten tail sector carries the same bytes), so a cached
// page is never stale while its generation lives. The generation in the key
// means a page of a reset extent can never answer a read of the new
// generation, and DropExtent drains a reset extent's pages at once so they
// do not hold capacity (the paper's bug #2 was a cache not drained after a
// reset).
//
// # Concurrency
//
// A Cache is safe for concurrent use. Get returns a copy; Read copies out
// of a page under the lock. A large cache is split into shards, each its
// own CLOCK under its own lock, chosen by the page's number and extent
// (consecutive pages go to consecutive shards): the IO scheduler's
// write-through inserts every page it writes, and a reader
// of another page then rarely waits for it (with one lock, a reader
// blocked behind an insert about one read in twenty under YCSB-A, and
// paid a goroutine wake-up for it).
package cache

import (
	"errors"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// Key names a page: bytes [Page*PageBytes, (Page+1)*PageBytes) of an extent
// at a generation.
type Key struct {
	Extent extent.ID
	Gen    uint32
	Page   uint32
}

// Options configure a Cache. The zero value is valid.
type Options struct {
	// CapacityBytes bounds the cached bytes. Default 64 MiB (shardstore
	// passes its own, a quarter of the machine's memory by default). Tests use a
	// few pages so that misses and evictions happen.
	CapacityBytes int64
	// PageBytes is the page size, a power of two and a multiple of the
	// device's sector size. Default 4096.
	PageBytes int
	// Observer hears evictions. Default nil.
	Observer engine.Observer
}

// Defaults.
const (
	CapacityBytesDefault = 64 << 20
	PageBytesDefault     = 4096
)

// EnsureDefaults fills in zero fields.
func (o *Options) EnsureDefaults() {
	if o.CapacityBytes == 0 {
		o.CapacityBytes = CapacityBytesDefault
	}
	if o.PageBytes == 0 {
		o.PageBytes = PageBytesDefault
	}
}

// Validate reports every invalid field.
func (o Options) Validate() error {
	var errs []error
	if o.PageBytes <= 0 || o.PageBytes&(o.PageBytes-1) != 0 {
		errs = append(errs, fmt.Errorf("page size %d is not a power of two", o.PageBytes))
	}
	if o.CapacityBytes < 0 {
		errs = append(errs, fmt.Errorf("capacity %d is negative", o.CapacityBytes))
	}
	if len(errs) > 0 {
		return fmt.Errorf("cache: %w", errors.Join(errs...))
	}
	return nil
}

// Stats are the cache's counters.
type Stats struct {
	Hits, Misses, Inserts, Evictions, Drops int64
	Pages                                   int64 // cached now
}

type entry struct {
	key  Key
	page []byte
	ref  conc.Bool // referenced since the clock hand last passed
	slot int       // index in shard.ring
	// prev and next link the shard's pages of key.Extent (shard.extents),
	// so that an extent's reset drops its pages without walking the
	// cache.
	prev, next *entry
}

// shard is one CLOCK of the cache.
type shard struct {
	mu       conc.RWMutex
	pages    map[Key]*entry
	ring     []*entry // the clock
	hand     int
	capPages int
	// extents heads each extent's list of pages in this shard: a reset
	// walked the whole cache under the store's lock (a gigabyte of 4 KiB
	// pages is 262,144 entries), once for each of a reclamation batch's
	// 64 extents.
	extents map[extent.ID]*entry

	hits, misses              conc.Int64
	inserts, evictions, drops int64 // guarded by mu
	// slab is where new page buffers are cut from, slabPages at a time:
	// a cache growing to a gigabyte made one allocation per 4 KiB page,
	// and loading a million records into it took 1.3 to 1.7 times as long
	// as into a cache of 64 MiB that reuses its evicted pages' buffers.
	slab   []byte   // guarded by mu
	free   [][]byte // buffers of removed pages, guarded by mu
	mapped *mapped  // the slabs held off the heap (offheap.go), guarded by mu
	_      [64]byte
}

// slabPages is how many page buffers one slab allocation holds.
const slabPages = 64

// newPage returns an empty buffer with room for a page of n bytes, cut
// from the shard's slab (only while the shard is growing: a full shard
// reuses its victims' buffers). Called with mu held.
func (sh *shard) newPage(n int) []byte {
	if k := len(sh.free); k > 0 && cap(sh.free[k-1]) >= n {
		p := sh.free[k-1]
		sh.free[k-1] = nil
		sh.free = sh.free[:k-1]
		return p
	}
	if len(sh.slab) < n {
		left := sh.capPages - len(sh.ring) + 1 // pages this shard may still add, this one included
		sh.slab = sh.mapped.alloc(n * max(1, min(slabPages, left)))
	}
	p := sh.slab[:0:n]
	sh.slab = sh.slab[n:]
	return p
}

// Cache is a buffer cache.
type Cache struct {
	opts   Options
	shards []shard
	mask   uint32 // len(shards)-1
}

// Shard sizing: a cache of at least shardPagesMin pages per shard is split
// into up to shardsMax shards. A small cache (the checkers' few pages) is
// one CLOCK, so that its evictions follow one order.
const (
	shardsMax     = 16
	shardPagesMin = 512
)

// New returns an empty cache. It panics on invalid options: the store
// validates them first.
func New(opts Options) *Cache {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	pages := int(opts.CapacityBytes / int64(opts.PageBytes))
	n := 1
	for n < shardsMax && pages/(2*n) >= shardPagesMin {
		n *= 2
	}
	c := &Cache{opts: opts, shards: make([]shard, n), mask: uint32(n - 1)}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.pages = map[Key]*entry{}
		sh.extents = map[extent.ID]*entry{}
		sh.mapped = &mapped{}
		sh.capPages = pages / n
		if i < pages%n {
			sh.capPages++
		}
	}
	c.freeOnCleanup()
	return c
}

// shard returns the shard that holds k: consecutive pages of an extent
// (a round's write-through) go to consecutive shards, so an extent's
// pages spread evenly, and each extent starts at another shard.
func (c *Cache) shard(k Key) *shard {
	return &c.shards[(k.Page+uint32(k.Extent)*5)&c.mask]
}

// PageBytes is the page size.
func (c *Cache) PageBytes() int { return c.opts.PageBytes }

// Get returns a copy of the cached page for k. (A copy: an evicted page's
// buffer is reused for the next page inserted.)
func (c *Cache) Get(k Key) ([]byte, bool) {
	sh := c.shard(k)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e, ok := sh.pages[k]
	if !ok {
		sh.misses.Add(1)
		return nil, false
	}
	sh.hits.Add(1)
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return append([]byte(nil), e.page...), true
}

// Read copies len(dst) bytes at offset off of the cached page for k into
// dst, and reports whether the page was cached.
func (c *Cache) Read(k Key, dst []byte, off int) bool {
	sh := c.shard(k)
	sh.mu.RLock()
	e, ok := sh.pages[k]
	if !ok {
		sh.mu.RUnlock()
		sh.misses.Add(1)
		return false
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	copy(dst, e.page[off:])
	sh.mu.RUnlock()
	sh.hits.Add(1)
	return true
}

// Insert caches a copy of page (PageBytes long) under k, evicting pages
// not referenced lately to stay within capacity.
func (c *Cache) Insert(k Key, page []byte) { c.insert(k, page, true) }

// InsertOwned is Insert without the copy: the cache keeps page itself, and
// the caller must never modify it again.
func (c *Cache) InsertOwned(k Key, page []byte) { c.insert(k, page, false) }

func (c *Cache) insert(k Key, page []byte, copyPage bool) {
	if len(page) != c.opts.PageBytes {
		panic(fmt.Sprintf("cache: page of %d bytes, want %d", len(page), c.opts.PageBytes))
	}
	sh := c.shard(k)
	if sh.capPages == 0 {
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.pages[k]; ok {
		return
	}
	var e *entry
	if len(sh.ring) >= sh.capPages {
		// Advance the hand to a page not referenced since it last
		// passed, clearing the flags it passes, and put the new page in
		// its slot, behind the hand: a new page gets a whole turn of the
		// clock to be referenced. (Swapping the ring's last page into the
		// slot instead put the newest page under the hand, to be evicted
		// by the next insert: write-through pages, the hottest, never
		// survived.) The new page takes the victim's entry and buffer:
		// every reader copies out under the lock this holds, so nothing
		// still reads it, and a cache that turns over (the write-through
		// of a write-heavy load) allocates nothing.
		for {
			sh.hand %= len(sh.ring)
			v := sh.ring[sh.hand]
			if v.ref.Load() {
				v.ref.Store(false)
				sh.hand++
				continue
			}
			delete(sh.pages, v.key)
			sh.unlink(v)
			sh.evictions++
			engine.Emit(c.opts.Observer, engine.EventCacheEviction)
			e = v
			sh.hand++
			break
		}
	} else {
		e = &entry{slot: len(sh.ring)}
		sh.ring = append(sh.ring, e)
	}
	e.key = k
	sh.link(e)
	e.ref.Store(false)
	if !copyPage {
		e.page = page[:len(page):len(page)]
	} else if cap(e.page) >= len(page) {
		e.page = append(e.page[:0], page...)
	} else {
		e.page = append(sh.newPage(len(page)), page...)
	}
	sh.pages[k] = e
	sh.inserts++
}

// DropExtent removes every page of extent e, of every generation,
// following each shard's list of the extent's pages.
func (c *Cache) DropExtent(e extent.ID) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for x := sh.extents[e]; x != nil; x = sh.extents[e] {
			sh.remove(x)
			sh.drops++
		}
		sh.mu.Unlock()
	}
}

// Check reports a cache whose bookkeeping disagrees with itself: a shard
// whose page map and clock ring hold different pages, that holds more
// pages than its capacity, or whose counts do not add up (every page held
// was inserted and not since evicted or dropped). A page the map has and
// the ring lacks is never evicted: the cache would grow without bound.
func (c *Cache) Check() error {
	var errs []error
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		if len(sh.pages) != len(sh.ring) {
			errs = append(errs, fmt.Errorf("cache: shard %d: %d pages mapped, %d in its clock ring", i, len(sh.pages), len(sh.ring)))
		}
		if len(sh.ring) > sh.capPages {
			errs = append(errs, fmt.Errorf("cache: shard %d: %d pages, capacity %d", i, len(sh.ring), sh.capPages))
		}
		for slot, e := range sh.ring {
			if e.slot != slot || sh.pages[e.key] != e {
				errs = append(errs, fmt.Errorf("cache: shard %d: ring slot %d holds page %+v of slot %d, mapped %v", i, slot, e.key, e.slot, sh.pages[e.key] == e))
				break
			}
		}
		if err := sh.checkExtents(); err != nil {
			errs = append(errs, fmt.Errorf("cache: shard %d: %w", i, err))
		}
		if held := sh.inserts - sh.evictions - sh.drops; held != int64(len(sh.ring)) {
			errs = append(errs, fmt.Errorf("cache: shard %d: %d inserts, %d evictions and %d drops leave %d pages, but it holds %d", i, sh.inserts, sh.evictions, sh.drops, held, len(sh.ring)))
		}
		sh.mu.RUnlock()
	}
	// The totals bench reports obey the same sum: each shard's part is
	// read under its lock, so it holds however the shards change between.
	if st := c.Stats(); st.Inserts-st.Evictions-st.Drops != st.Pages {
		errs = append(errs, fmt.Errorf("cache: Stats: %d inserts, %d evictions and %d drops, but %d pages", st.Inserts, st.Evictions, st.Drops, st.Pages))
	}
	return errors.Join(errs...)
}

// ExtentPages returns how many pages of extent e are cached.
func (c *Cache) ExtentPages(e extent.ID) int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		for x := sh.extents[e]; x != nil; x = x.next {
			n++
		}
		sh.mu.RUnlock()
	}
	return n
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	var st Stats
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		st.Hits += sh.hits.Load()
		st.Misses += sh.misses.Load()
		st.Inserts += sh.inserts
		st.Evictions += sh.evictions
		st.Drops += sh.drops
		st.Pages += int64(len(sh.ring))
		sh.mu.RUnlock()
	}
	return st
}

// remove takes e out of the shard. Called with mu held exclusively. The
// last page of the ring takes e's slot; the hand stays where it is.
func (sh *shard) remove(e *entry) {
	last := sh.ring[len(sh.ring)-1]
	sh.ring[e.slot] = last
	last.slot = e.slot
	sh.ring[len(sh.ring)-1] = nil
	sh.ring = sh.ring[:len(sh.ring)-1]
	delete(sh.pages, e.key)
	sh.unlink(e)
	// The buffer goes back for the next new page: a page cut from a slab
	// would otherwise keep its whole slab alive.
	sh.free = append(sh.free, e.page[:0])
}

// link puts e, keyed now, at the head of its extent's list. Called with mu
// held exclusively.
func (sh *shard) link(e *entry) {
	head := sh.extents[e.key.Extent]
	e.prev, e.next = nil, head
	if head != nil {
		head.prev = e
	}
	sh.extents[e.key.Extent] = e
}

// unlink takes e out of its extent's list. Called with mu held
// exclusively.
func (sh *shard) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else if e.next != nil {
		sh.extents[e.key.Extent] = e.next
	} else {
		delete(sh.extents, e.key.Extent)
	}
	if e.next != nil {
		e.next.prev = e.prev
	}
	e.prev, e.next = nil, nil
}

// checkExtents reports extent lists that disagree with the page map: a
// page missing from its extent's list would survive the extent's reset,
// holding capacity until the clock evicted it. Called with mu held.
func (sh *shard) checkExtents() error {
	n := 0
	for id, head := range sh.extents {
		if head == nil || head.prev != nil {
			return fmt.Errorf("extent %d: list head %v has a predecessor", id, head)
		}
		for x := head; x != nil; x = x.next {
			if x.key.Extent != id || sh.pages[x.key] != x {
				return fmt.Errorf("extent %d: list holds page %+v, mapped %v", id, x.key, sh.pages[x.key] == x)
			}
			if x.next != nil && x.next.prev != x {
				return fmt.Errorf("extent %d: page %+v's successor does not point back", id, x.key)
			}
			if n++; n > len(sh.pages) {
				return fmt.Errorf("extent lists hold more than the %d pages mapped (a cycle?)", len(sh.pages))
			}
		}
	}
	if n != len(sh.pages) {
		return fmt.Errorf("extent lists hold %d pages, %d mapped", n, len(sh.pages))
	}
	return nil
}
