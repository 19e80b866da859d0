package shardstore

import (
	"bytes"
	"encoding/binary"
	"math"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/cache"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/lsm"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// rowCache keeps recently read small values by key (Options.RowCacheBytes),
// so that a get of a hot key costs one map lookup: without it, a get of a
// key no longer in the memtable searched every run's filter and keys, and
// then copied the value out of the buffer cache page by page, about twenty
// cache misses (YCSB-C at a million records spent three quarters of its
// CPU there; docs/PERFORMANCE.md, "A row cache off the heap").
//
// It is split into shards by the key's hash. A shard is a ring of records
// (hash, key, value) in one byte slice held off the heap, oldest evicted
// first, and a map from the key's hash to its record: neither holds a
// pointer, so the collector does not look inside them (rows kept as Go
// objects, a million of them, cost more in collection than their hits
// saved). Each shard has its own lock.
//
// A write of a key drops the key's value and advances its shard's
// generation before its index update, and advances it again after
// (beginWrite, endWrite). A get that misses reads the generation before
// its index lookup and inserts the value it read only if the generation
// has not moved and no write of the shard is under way: so no value older
// than the index's can enter the cache, and none in it outlives the start
// of the write that replaced it. Gets stay linearizable: one that hits
// returns a value no write has yet begun to replace.
type rowCache struct {
	shards []rowShard
	mask   uint64
	mem    *cache.OffHeap // the rings, off the heap as the buffer cache's pages are
}

type rowShard struct {
	mu  conc.RWMutex
	gen conc.Uint64 // advanced by every write of a key of this shard
	// idx maps a key's hash to the offset of its record in buf. Keys
	// whose hashes collide share an entry: a record is returned only for
	// its own key.
	idx map[uint64]uint32
	buf []byte // the ring, allocated by the first insert
	cap int
	// The records lie in [head, tail), or, wrapped, in [head, end) and
	// then [0, tail).
	head, tail, end int
	wrapped         bool
	pending         int // writes between beginWrite and endWrite

	hits, misses conc.Int64
	_            [64]byte
}

// A record is its hash (8 bytes), key length (2), value length (4), 2
// bytes of padding, the key and the value, rounded up to 8 bytes.
const rowHeader = 16

func rowSize(key, value int) int { return (rowHeader + key + value + 7) &^ 7 }

// rowShardsMax shards the cache; a cache too small for it (the checkers'
// configurations) has fewer, at least rowShardMin bytes each.
const (
	rowShardsMax = 64
	rowShardMin  = 256 << 10
)

// newRowCache returns a cache of capacity bytes, or nil for none.
func newRowCache(capacity int64) *rowCache {
	if capacity <= 0 {
		return nil
	}
	n := 1
	for n < rowShardsMax && capacity/int64(2*n) >= rowShardMin {
		n *= 2
	}
	c := &rowCache{shards: make([]rowShard, n), mask: uint64(n - 1)}
	c.mem = cache.NewOffHeap(c)
	for i := range c.shards {
		c.shards[i].idx = map[uint64]uint32{}
		c.shards[i].cap = int(min(capacity/int64(n), math.MaxUint32))
	}
	return c
}

func (c *rowCache) shard(h uint64) *rowShard { return &c.shards[h&c.mask] }

// lookup returns key's record's value in sh.buf. Called with mu held.
func (sh *rowShard) lookup(h uint64, key []byte) ([]byte, bool) {
	off, ok := sh.idx[h]
	if !ok {
		return nil, false
	}
	r := sh.buf[off:]
	kn := int(binary.LittleEndian.Uint16(r[8:]))
	vn := int(binary.LittleEndian.Uint32(r[10:]))
	if !bytes.Equal(r[rowHeader:rowHeader+kn], key) {
		return nil, false
	}
	return r[rowHeader+kn : rowHeader+kn+vn], true
}

// rowMiss is what a get that missed hands its put: the key's hash, and
// the shard's generation before the caller's index lookup.
type rowMiss struct {
	h, gen uint64
}

// get returns a copy of key's cached value, or the rowMiss for put.
func (c *rowCache) get(key []byte) (v []byte, ok bool, miss rowMiss) {
	h := lsm.Hash(key)
	sh := c.shard(h)
	sh.mu.RLock()
	cached, ok := sh.lookup(h, key)
	if !ok {
		miss = rowMiss{h: h, gen: sh.gen.Load()}
		sh.mu.RUnlock()
		sh.misses.Add(1)
		return nil, false, miss
	}
	v = append(make([]byte, 0, len(cached)), cached...)
	sh.mu.RUnlock()
	sh.hits.Add(1)
	return v, true, rowMiss{}
}

// put caches a copy of value for key, read from the index after get
// missed, unless a write of a key of its shard came since.
func (c *rowCache) put(key, value []byte, miss rowMiss) {
	h, gen := miss.h, miss.gen
	sh := c.shard(h)
	n := rowSize(len(key), len(value))
	if n > sh.cap/4 {
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen.Load() != gen || sh.pending > 0 {
		return // the index may have changed since the value was read
	}
	if _, ok := sh.lookup(h, key); ok {
		return
	}
	if sh.buf == nil {
		sh.buf = c.mem.Alloc(sh.cap)
	}
	off := sh.room(n)
	r := sh.buf[off : off+n]
	binary.LittleEndian.PutUint64(r, h)
	binary.LittleEndian.PutUint16(r[8:], uint16(len(key)))
	binary.LittleEndian.PutUint32(r[10:], uint32(len(value)))
	copy(r[rowHeader:], key)
	copy(r[rowHeader+len(key):], value)
	sh.idx[h] = uint32(off)
}

// room evicts the oldest records until n bytes are free at the tail, and
// returns the tail, which it advances past them. Called with mu held.
func (sh *rowShard) room(n int) int {
	for {
		if !sh.wrapped {
			if sh.tail+n <= sh.cap {
				break
			}
			if sh.head == sh.tail { // empty
				sh.head, sh.tail = 0, 0
				continue
			}
			sh.end, sh.tail, sh.wrapped = sh.tail, 0, true
			continue
		}
		if sh.head-sh.tail >= n {
			break
		}
		sh.evict()
	}
	off := sh.tail
	sh.tail += n
	return off
}

// evict drops the oldest record. Called with mu held.
func (sh *rowShard) evict() {
	r := sh.buf[sh.head:]
	h := binary.LittleEndian.Uint64(r)
	if off, ok := sh.idx[h]; ok && int(off) == sh.head {
		delete(sh.idx, h)
	}
	sh.head += rowSize(int(binary.LittleEndian.Uint16(r[8:])), int(binary.LittleEndian.Uint32(r[10:])))
	switch {
	case sh.wrapped && sh.head == sh.end:
		sh.head, sh.wrapped = 0, false
	case !sh.wrapped && sh.head == sh.tail:
		sh.head, sh.tail = 0, 0
	}
}

// held is the bytes of the ring its records span. Called with mu held.
func (sh *rowShard) held() int {
	if sh.wrapped {
		return sh.end - sh.head + sh.tail
	}
	return sh.tail - sh.head
}

// beginWrite starts a write of key to the index: it drops the key's
// cached value, advances the shard's generation and counts the write
// pending until endWrite, called after the index update, advances the
// generation again. A get's insert needs the generation it read before
// its lookup and no write pending (see rowCache), so nothing read before
// an update enters the cache after it. The lock is not held across the
// update: held there, a put's lookup in the runs kept gets of hot keys
// from the shard (YCSB-A's put p99 tripled). A nil cache returns a nil
// shard, whose endWrite does nothing.
func (c *rowCache) beginWrite(key []byte) *rowShard {
	if c == nil {
		return nil
	}
	h := lsm.Hash(key)
	sh := c.shard(h)
	sh.mu.Lock()
	if _, ok := sh.lookup(h, key); ok && !mutant.On(mutant.RowCacheKeepsOverwritten) {
		delete(sh.idx, h) // its record stays until the ring passes it
	}
	sh.pending++
	sh.gen.Add(1)
	sh.mu.Unlock()
	return sh
}

func (sh *rowShard) endWrite() {
	if sh == nil {
		return
	}
	sh.mu.Lock()
	sh.pending--
	sh.gen.Add(1)
	sh.mu.Unlock()
}

// drop empties the cache (Maintain(engine.CacheFlush)).
func (c *rowCache) drop() {
	if c == nil {
		return
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.idx)
		sh.head, sh.tail, sh.end, sh.wrapped = 0, 0, 0, false
		sh.gen.Add(1)
		sh.mu.Unlock()
	}
}

// stats returns the hits, misses and bytes the records span.
func (c *rowCache) stats() (hits, misses, bytes int64) {
	if c == nil {
		return 0, 0, 0
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		hits += sh.hits.Load()
		misses += sh.misses.Load()
		bytes += int64(sh.held())
		sh.mu.RUnlock()
	}
	return hits, misses, bytes
}
