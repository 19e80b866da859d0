package lsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
)

// TestRunSearchMatchesLinear checks the run's search index (common prefix
// and 8-byte numbers) against a linear scan, for key sets chosen to tie:
// keys sharing long prefixes, keys that are prefixes of others, keys with
// zero bytes (which the padding of short keys resembles), and lookups of
// keys below, inside and above the run's common prefix. Replay a failure
// with the -rapid.seed it prints.
func TestRunSearchMatchesLinear(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		alphabet := rapid.SampledFrom([]byte{0, 1, 'a', 'b', 0xff})
		prefix := rapid.SliceOfN(alphabet, 0, 10).Draw(t, "prefix")
		key := rapid.Custom(func(t *rapid.T) []byte {
			return append(slices.Clone(prefix), rapid.SliceOfN(alphabet, 0, 12).Draw(t, "suffix")...)
		})
		keys := rapid.SliceOfNDistinct(key, 0, 40, func(k []byte) string { return string(k) }).Draw(t, "keys")
		slices.SortFunc(keys, bytes.Compare)
		es := make([]Entry, len(keys))
		for i, k := range keys {
			es[i] = Entry{Key: k, Kind: KindPut, Locs: []chunk.Locator{{Extent: 1, Generation: 1, Offset: uint32(i), Length: 1}}}
		}
		r := NewRun(es)
		probes := append(slices.Clone(keys), rapid.SliceOfN(rapid.SliceOfN(alphabet, 0, 24), 1, 20).Draw(t, "probes")...)
		for _, k := range append(probes, key.Draw(t, "probe")) {
			want, _ := slices.BinarySearchFunc(es, k, func(e Entry, k []byte) int { return bytes.Compare(e.Key, k) })
			if got := r.Seek(k); got != want {
				t.Fatalf("Seek(%q) = %d, want %d in %q", k, got, want, keys)
			}
			e, ok := r.Get(k)
			if found := slices.ContainsFunc(keys, func(x []byte) bool { return bytes.Equal(x, k) }); ok != found || ok && !bytes.Equal(e.Key, k) {
				t.Fatalf("Get(%q) = %q, %v; present: %v", k, e.Key, ok, found)
			}
		}
	})
}

// TestBlockedFilterRate checks the blocked filter: no false negative, and
// a false-positive rate near the classic layout's (about 1% at 10 bits and
// 7 probes a key), measured over 200,000 absent keys.
func TestBlockedFilterRate(t *testing.T) {
	const n, absent = 100_000, 200_000
	keys := ycsbKeys(n)
	es := make([]Entry, n)
	for i, k := range keys {
		es[i] = Entry{Key: k, Kind: KindDelete}
	}
	slices.SortFunc(es, func(a, b Entry) int { return bytes.Compare(a.Key, b.Key) })
	r := NewRun(es)
	if !r.blocked {
		t.Fatal("a new run's filter is not blocked")
	}
	for _, k := range keys {
		if !r.mayContain(k, Hash(k)) {
			t.Fatalf("false negative for %q", k)
		}
	}
	fp := 0
	for i := range absent {
		k := fmt.Appendf(nil, "absent%d", i)
		if r.mayContain(k, Hash(k)) {
			fp++
		}
	}
	if rate := float64(fp) / absent; rate > 0.02 {
		t.Fatalf("false-positive rate %.4f, want under 0.02 (classic layout: about 0.008)", rate)
	} else {
		t.Logf("false-positive rate %.4f over %d absent keys", rate, absent)
	}
}

// TestClassicFilterStillDecodes checks that a run written with the classic
// filter layout (every run before FilterBlocked) decodes and answers, and
// that an unknown layout is refused as corruption.
func TestClassicFilterStillDecodes(t *testing.T) {
	r := sampleRun()
	classic := &Run{Entries: r.Entries, bloom: newBloom(len(r.Entries))}
	for _, e := range r.Entries {
		classic.bloom.add(e.Key)
	}
	b := EncodeRun(classic)
	if b[6] != FilterClassic {
		t.Fatalf("layout byte %d, want %d", b[6], FilterClassic)
	}
	got, err := DecodeRun(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.blocked {
		t.Fatal("a classic filter decoded as blocked")
	}
	for _, e := range r.Entries {
		if _, ok := got.Get(e.Key); !ok {
			t.Fatalf("%q not found through the classic filter", e.Key)
		}
	}
	bad := slices.Clone(EncodeRun(r))
	bad[6] = 7
	binary.LittleEndian.PutUint32(bad[len(bad)-4:], format.CRC(0, bad[:len(bad)-4]))
	if _, err := DecodeRun(bad); err == nil {
		t.Fatal("filter layout 7 decoded")
	}
}
