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
// A Cache is safe for concurrent use. Pages returned by Get must not be
// modified. Read copies out of a page under the lock.
package cache

import (
	"errors"
	"fmt"

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
	// CapacityBytes bounds the cached bytes. Default 64 MiB. Tests use a
	// few pages so that misses and evictions happen.
	CapacityBytes int64
	// PageBytes is the page size, a power of two and a multiple of the
	// device's sector size. Default 4096.
	PageBytes int
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
	slot int       // index in Cache.ring
}

// Cache is a buffer cache.
type Cache struct {
	opts     Options
	mu       conc.RWMutex
	pages    map[Key]*entry
	ring     []*entry // the clock
	hand     int
	byExtent map[extent.ID]map[*entry]struct{}

	hits, misses              conc.Int64
	inserts, evictions, drops int64 // guarded by mu
}

// New returns an empty cache. It panics on invalid options: the store
// validates them first.
func New(opts Options) *Cache {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	return &Cache{
		opts:     opts,
		pages:    map[Key]*entry{},
		byExtent: map[extent.ID]map[*entry]struct{}{},
	}
}

// PageBytes is the page size.
func (c *Cache) PageBytes() int { return c.opts.PageBytes }

// Get returns a copy of the cached page for k. (A copy: an evicted page's
// buffer is reused for the next page inserted.)
func (c *Cache) Get(k Key) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.pages[k]
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return append([]byte(nil), e.page...), true
}

// Read copies len(dst) bytes at offset off of the cached page for k into
// dst, and reports whether the page was cached.
func (c *Cache) Read(k Key, dst []byte, off int) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.pages[k]
	if !ok {
		c.misses.Add(1)
		return false
	}
	c.hits.Add(1)
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	copy(dst, e.page[off:])
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
	if int64(c.opts.PageBytes) > c.opts.CapacityBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pages[k]; ok {
		return
	}
	e := &entry{key: k, slot: len(c.ring)}
	var victim []byte
	if int64(len(c.ring)+1)*int64(c.opts.PageBytes) > c.opts.CapacityBytes {
		// Advance the hand to a page not referenced since it last
		// passed, clearing the flags it passes, and put the new page in
		// its slot, behind the hand: a new page gets a whole turn of the
		// clock to be referenced. (Swapping the ring's last page into the
		// slot instead put the newest page under the hand, to be evicted
		// by the next insert: write-through pages, the hottest, never
		// survived.) The victim's buffer takes the new page's bytes:
		// every reader copies out under the lock this holds, so nothing
		// still reads it, and a cache that turns over (the write-through
		// of a write-heavy load) allocates nothing.
		for {
			c.hand %= len(c.ring)
			v := c.ring[c.hand]
			if v.ref.Load() {
				v.ref.Store(false)
				c.hand++
				continue
			}
			c.unmap(v)
			c.evictions++
			victim = v.page
			e.slot = c.hand
			c.ring[c.hand] = e
			c.hand++
			break
		}
	} else {
		c.ring = append(c.ring, e)
	}
	p := page
	if copyPage {
		if cap(victim) >= len(page) {
			p = append(victim[:0], page...)
		} else {
			p = append([]byte(nil), page...)
		}
	}
	e.page = p[:len(p):len(p)]
	c.pages[k] = e
	set := c.byExtent[k.Extent]
	if set == nil {
		set = map[*entry]struct{}{}
		c.byExtent[k.Extent] = set
	}
	set[e] = struct{}{}
	c.inserts++
}

// DropExtent removes every page of extent e, of every generation.
func (c *Cache) DropExtent(e extent.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for x := range c.byExtent[e] {
		c.remove(x)
		c.drops++
	}
}

// ExtentPages returns how many pages of extent e are cached.
func (c *Cache) ExtentPages(e extent.ID) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byExtent[e])
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(),
		Inserts: c.inserts, Evictions: c.evictions, Drops: c.drops,
		Pages: int64(len(c.ring)),
	}
}

// remove takes e out of the cache. Called with mu held exclusively. The
// last page of the ring takes e's slot.
func (c *Cache) remove(e *entry) {
	last := c.ring[len(c.ring)-1]
	c.ring[e.slot] = last
	last.slot = e.slot
	c.ring[len(c.ring)-1] = nil
	c.ring = c.ring[:len(c.ring)-1]
	c.unmap(e)
}

// unmap removes e from the maps (not from the ring). Called with mu held
// exclusively.
func (c *Cache) unmap(e *entry) {
	delete(c.pages, e.key)
	set := c.byExtent[e.key.Extent]
	delete(set, e)
	if len(set) == 0 {
		delete(c.byExtent, e.key.Extent)
	}
}
