package lsm

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// ycsbKeys returns n keys named as YCSB names them ("user" and a 64-bit
// FNV hash in decimal), sorted, as a run of a loaded YCSB data set holds.
func ycsbKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		h := uint64(14695981039346656037)
		v := uint64(i)
		for range 8 {
			h ^= v & 0xff
			h *= 1099511628211
			v >>= 8
		}
		keys[i] = strconv.AppendUint([]byte("user"), h>>1, 10)
	}
	return keys
}

func benchRun(b *testing.B, n int) (*Run, [][]byte) {
	keys := ycsbKeys(n)
	entries := make([]Entry, n)
	for i, k := range keys {
		entries[i] = Entry{Key: k, Kind: KindPut}
	}
	slices.SortFunc(entries, func(a, b Entry) int { return bytes.Compare(a.Key, b.Key) })
	return NewRun(entries), keys
}

// BenchmarkRunGet is a point lookup of a present key in one run, the
// index's share of a get that misses the memtable (go test -bench RunGet
// ./engine/shardstore/internal/lsm).
func BenchmarkRunGet(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			r, keys := benchRun(b, n)
			rng := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			for range b.N {
				if _, ok := r.Get(keys[rng.IntN(n)]); !ok {
					b.Fatal("a present key not found")
				}
			}
		})
	}
}

// BenchmarkRunGetAbsent is a lookup of a key the run does not hold that
// passes its bloom filter's test (the search itself).
func BenchmarkRunGetAbsent(b *testing.B) {
	r, keys := benchRun(b, 1_000_000)
	r.bloom = nil // every probe passes: measure the search
	absent := make([][]byte, len(keys))
	for i, k := range keys {
		absent[i] = append(bytes.Clone(k), 'x')
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for range b.N {
		if _, ok := r.Get(absent[rng.IntN(len(absent))]); ok {
			b.Fatal("an absent key found")
		}
	}
}

// BenchmarkBloomPresent is the bloom filter's probe of a present key in a
// run of a million entries (every probe's bit is set).
func BenchmarkBloomPresent(b *testing.B) {
	r, keys := benchRun(b, 1_000_000)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for range b.N {
		k := keys[rng.IntN(len(keys))]
		if !r.mayContain(k, Hash(k)) {
			b.Fatal("a false negative")
		}
	}
}

// BenchmarkHash compares the blocked filter's hash with the classic one's
// on a YCSB key (23 bytes).
func BenchmarkHash(b *testing.B) {
	k := []byte("user6284781860667377211")
	var sink uint64
	b.Run("xxhash", func(b *testing.B) {
		for range b.N {
			sink += Hash(k)
		}
	})
	b.Run("fnv1a", func(b *testing.B) {
		for range b.N {
			sink += fnv64(k)
		}
	})
	_ = sink
}
