package shardstore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/lsm"
)

// TestRowCacheRing: values put into a small row cache come back for their
// own keys only, while the ring wraps and evicts the oldest records many
// times over; the index never names more records than fit, and never a
// record overwritten since.
func TestRowCacheRing(t *testing.T) {
	const seed = 11
	t.Logf("seed %d; replay: go test ./engine/shardstore -run TestRowCacheRing", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	c := newRowCache(64 << 10) // one shard
	if len(c.shards) != 1 {
		t.Fatalf("%d shards, want 1", len(c.shards))
	}
	sh := &c.shards[0]
	want := map[string][]byte{}
	for i := range 20000 {
		key := []byte(fmt.Sprintf("key%05d", rng.IntN(3000)))
		if v, ok, miss := c.get(key); ok {
			if !bytes.Equal(v, want[string(key)]) {
				t.Fatalf("op %d: get %s: %d bytes, not the %d put", i, key, len(v), len(want[string(key)]))
			}
		} else {
			val := make([]byte, rng.IntN(2000))
			for j := range val {
				val[j] = byte(rng.Uint32())
			}
			want[string(key)] = val
			c.put(key, val, miss)
		}
		if i%1000 == 0 {
			if held := sh.held(); held > sh.cap || len(sh.idx)*rowHeader > held {
				t.Fatalf("op %d: %d records in %d bytes held of %d", i, len(sh.idx), held, sh.cap)
			}
		}
	}
	hits, misses, _ := c.stats()
	if hits == 0 || misses == 0 {
		t.Fatalf("%d hits, %d misses: want both", hits, misses)
	}
	// Every record the index names still holds its key.
	for h, off := range sh.idx {
		r := sh.buf[off:]
		if got := lsm.Hash(r[rowHeader : rowHeader+int(r[8])]); got != h {
			t.Fatalf("index entry %x names a record of hash %x", h, got)
		}
	}
}

// TestRowCacheWriteRace: a value read before a write of its key may not
// enter the cache after it (its generation moved), and a write drops the
// key's cached value; a get's value of another shard's key is unaffected.
func TestRowCacheWriteRace(t *testing.T) {
	c := newRowCache(1 << 20)
	k := []byte("k")
	_, ok, miss := c.get(k) // a get misses, then looks the key up: v1
	if ok {
		t.Fatal("hit in an empty cache")
	}
	sh := c.beginWrite(k) // a put of v2 lands in the index meanwhile
	sh.endWrite()
	c.put(k, []byte("v1"), miss) // the get caches what it read
	if v, ok, _ := c.get(k); ok {
		t.Fatalf("get after a write: %q cached from before it", v)
	}
	_, _, miss = c.get(k)
	c.put(k, []byte("v2"), miss)
	if v, ok, _ := c.get(k); !ok || string(v) != "v2" {
		t.Fatalf("get: %q, %v; want v2 cached", v, ok)
	}
	// A get whose lookup falls inside a write (after its beginWrite,
	// before its endWrite) may have read the index before the update:
	// it caches nothing, even with the generation it read.
	w := c.beginWrite(k)
	_, _, miss = c.get(k)
	c.put(k, []byte("v2, read mid-write"), miss)
	w.endWrite()
	if v, ok, _ := c.get(k); ok {
		t.Fatalf("get after a write: %q cached by a get during it", v)
	}
	c.beginWrite(k).endWrite() // a delete
	if v, ok, _ := c.get(k); ok {
		t.Fatalf("get after a delete: %q still cached", v)
	}
	c.drop()
	if _, _, b := c.stats(); b != 0 {
		t.Fatalf("%d bytes held after drop", b)
	}
}

// TestRowCacheStoreGets: through the store, a get of a value just
// overwritten or deleted never returns the old value from the row cache,
// and a hot key is answered by it.
func TestRowCacheStoreGets(t *testing.T) {
	s, err := Open(disk.NewMem(64<<20, 512), Options{RowCacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	key := []byte("hot")
	for i := range 50 {
		v := []byte(fmt.Sprintf("value %d", i))
		if err := s.Put(ctx, key, v); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(ctx); err != nil { // out of the memtable: gets read runs
			t.Fatal(err)
		}
		for range 3 {
			got, err := s.Get(ctx, key)
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("round %d: get %q, %v; want %q", i, got, err, v)
			}
		}
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, key); err == nil {
		t.Fatalf("get after delete: %q", got)
	}
	if m := s.Stats().Metrics; m["row_cache_hits"] < 50 {
		t.Fatalf("%v row cache hits for 150 gets of one key, 50 puts: want at least 50", m["row_cache_hits"])
	}
}
