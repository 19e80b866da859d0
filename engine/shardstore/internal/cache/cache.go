// Package cache is shardstore's buffer cache: fixed-size pages of extent
// data, keyed by (extent, generation, page), evicted least recently used.
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
// modified.
package cache

import (
	"container/list"
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
}

// Cache is a buffer cache.
type Cache struct {
	opts     Options
	mu       conc.Mutex
	pages    map[Key]*list.Element
	lru      *list.List // front: most recent
	byExtent map[extent.ID]map[*list.Element]struct{}
	stats    Stats
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
		pages:    map[Key]*list.Element{},
		lru:      list.New(),
		byExtent: map[extent.ID]map[*list.Element]struct{}{},
	}
}

// PageBytes is the page size.
func (c *Cache) PageBytes() int { return c.opts.PageBytes }

// Get returns the cached page for k.
func (c *Cache) Get(k Key) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.pages[k]
	if !ok {
		c.stats.Misses++
		return nil, false
	}
	c.stats.Hits++
	c.lru.MoveToFront(el)
	return el.Value.(*entry).page, true
}

// Insert caches a copy of page (PageBytes long) under k, evicting the least
// recently used pages to stay within capacity.
func (c *Cache) Insert(k Key, page []byte) {
	if len(page) != c.opts.PageBytes {
		panic(fmt.Sprintf("cache: page of %d bytes, want %d", len(page), c.opts.PageBytes))
	}
	if int64(c.opts.PageBytes) > c.opts.CapacityBytes {
		return
	}
	p := append([]byte(nil), page...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.pages[k]; ok {
		c.lru.MoveToFront(el)
		return
	}
	for int64(c.lru.Len()+1)*int64(c.opts.PageBytes) > c.opts.CapacityBytes {
		c.remove(c.lru.Back())
		c.stats.Evictions++
	}
	el := c.lru.PushFront(&entry{key: k, page: p})
	c.pages[k] = el
	set := c.byExtent[k.Extent]
	if set == nil {
		set = map[*list.Element]struct{}{}
		c.byExtent[k.Extent] = set
	}
	set[el] = struct{}{}
	c.stats.Inserts++
}

// DropExtent removes every page of extent e, of every generation.
func (c *Cache) DropExtent(e extent.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := range c.byExtent[e] {
		c.remove(el)
		c.stats.Drops++
	}
}

// ExtentPages returns how many pages of extent e are cached.
func (c *Cache) ExtentPages(e extent.ID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byExtent[e])
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Pages = int64(c.lru.Len())
	return s
}

func (c *Cache) remove(el *list.Element) {
	k := el.Value.(*entry).key
	c.lru.Remove(el)
	delete(c.pages, k)
	set := c.byExtent[k.Extent]
	delete(set, el)
	if len(set) == 0 {
		delete(c.byExtent, k.Extent)
	}
}
