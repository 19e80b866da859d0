package lsm

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
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

// scanSources splits a YCSB data set of n keys over runs as tiered
// compaction leaves them (fanout 4: up to three runs a level, each level
// four times the one below), newest (smallest) first, as a scan's merge
// sees them: every key in exactly one source.
func scanSources(n int) ([][]Entry, [][]byte) {
	keys := ycsbKeys(n)
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	var sizes []int
	for size, left := n/4, n; left > 0; size /= 4 {
		for range 3 {
			s := min(max(size, 1024), left)
			if s == 0 {
				break
			}
			sizes = append(sizes, s)
			left -= s
		}
	}
	slices.Reverse(sizes)
	var sources [][]Entry
	at := 0
	for _, s := range sizes {
		es := make([]Entry, s)
		for i, k := range keys[at : at+s] {
			es[i] = Entry{Key: k, Kind: KindPut}
		}
		slices.SortFunc(es, func(a, b Entry) int { return bytes.Compare(a.Key, b.Key) })
		sources = append(sources, es)
		at += s
	}
	return sources, keys
}

// scanSet is BenchmarkMergeLimitScan's data set, built once: go test
// calls a benchmark several times while it sizes b.N.
var (
	scanOnce sync.Once
	scanSet  struct {
		runs []*Run
		keys [][]byte
	}
)

// BenchmarkMergeLimitScan is the merge of a YCSB-E scan: the first 128
// entries (List's first batch) at or after a random key, from every
// source of a million keys (go test -bench MergeLimitScan).
func BenchmarkMergeLimitScan(b *testing.B) {
	scanOnce.Do(func() {
		var sources [][]Entry
		sources, scanSet.keys = scanSources(1_000_000)
		for _, s := range sources {
			scanSet.runs = append(scanSet.runs, NewRun(s))
		}
	})
	runs, keys := scanSet.runs, scanSet.keys
	rng := rand.New(rand.NewPCG(3, 4))
	from := make([][]Entry, len(runs))
	runtime.GC() // the set's garbage is not the merge's
	b.ResetTimer()
	for range b.N {
		start := keys[rng.IntN(len(keys))]
		for i, r := range runs {
			from[i] = r.Entries[r.Seek(start):]
		}
		if out := MergeLimit(from, true, 128, nil); len(out) == 0 {
			b.Fatalf("no entries at or after %q", start)
		}
	}
}
