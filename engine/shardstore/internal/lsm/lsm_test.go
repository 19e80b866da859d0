package lsm

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk"
)

func sampleRun() *Run {
	var es []Entry
	for i := range 50 {
		e := Entry{Key: fmt.Appendf(nil, "key%03d", i), Kind: KindPut, Locs: []chunk.Locator{{Extent: 3, Generation: 1, Offset: uint32(i * 200), Length: 100}}}
		if i%7 == 0 {
			e = Entry{Key: e.Key, Kind: KindDelete}
		}
		es = append(es, e)
	}
	return NewRun(es)
}

func TestRunRoundTrip(t *testing.T) {
	r := sampleRun()
	b := EncodeRun(r)
	got, err := DecodeRun(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != len(r.Entries) {
		t.Fatalf("%d entries, want %d", len(got.Entries), len(r.Entries))
	}
	for _, e := range r.Entries {
		g, ok := got.Get(e.Key)
		if !ok || g.Kind != e.Kind || len(g.Locs) != len(e.Locs) || (len(e.Locs) > 0 && g.Locs[0] != e.Locs[0]) {
			t.Fatalf("get %q = %+v, %v; want %+v", e.Key, g, ok, e)
		}
	}
	if _, ok := got.Get([]byte("absent")); ok {
		t.Fatal("found an absent key")
	}
	// Every single-byte corruption is detected.
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x40
		if _, err := DecodeRun(c); !errors.Is(err, engine.ErrCorruption) {
			t.Fatalf("flip at %d: %v, want ErrCorruption", i, err)
		}
	}
}

func TestMetadataAndRootRoundTrip(t *testing.T) {
	m := Metadata{NextRunID: 9, Runs: []RunInfo{
		{ID: 8, Entries: 3, Bytes: 300, Locs: []chunk.Locator{{Extent: 2, Generation: 1, Offset: 0, Length: 300}}},
		{ID: 2, Entries: 1, Bytes: 250, Locs: []chunk.Locator{{Extent: 2, Generation: 1, Offset: 400, Length: 200}, {Extent: 4, Length: 50}}},
	}}
	got, err := DecodeMetadata(EncodeMetadata(m))
	if err != nil || got.NextRunID != 9 || len(got.Runs) != 2 || got.Runs[1].Locs[1].Extent != 4 {
		t.Fatalf("DecodeMetadata = %+v, %v", got, err)
	}
	locs := []chunk.Locator{{Extent: 5, Generation: 2, Offset: 44, Length: 1000}}
	gl, err := DecodeRoot(EncodeRoot(locs))
	if err != nil || len(gl) != 1 || gl[0] != locs[0] {
		t.Fatalf("DecodeRoot = %v, %v", gl, err)
	}
	if len(EncodeRoot(make([]chunk.Locator, RootLocatorsMax))) > 512 {
		t.Fatal("a full root does not fit in the superblock")
	}
}

func TestMerge(t *testing.T) {
	e := func(k string, kind Kind, off uint32) Entry {
		en := Entry{Key: []byte(k), Kind: kind}
		if kind == KindPut {
			en.Locs = []chunk.Locator{{Extent: 1, Offset: off, Length: 1}}
		}
		return en
	}
	newer := []Entry{e("a", KindPut, 2), e("c", KindDelete, 0)}
	older := []Entry{e("a", KindPut, 1), e("b", KindPut, 1), e("c", KindPut, 1)}
	got := Merge([][]Entry{newer, older}, false)
	if len(got) != 3 || got[0].Locs[0].Offset != 2 || got[2].Kind != KindDelete {
		t.Fatalf("Merge keep = %+v", got)
	}
	got = Merge([][]Entry{newer, older}, true)
	if len(got) != 2 || string(got[1].Key) != "b" {
		t.Fatalf("Merge drop = %+v", got)
	}
}

func FuzzDecodeRun(f *testing.F) {
	f.Add(EncodeRun(sampleRun()))
	f.Add(EncodeRun(NewRun(nil)))
	f.Add([]byte("SSRN"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRun(b)
		if err != nil {
			if !errors.Is(err, engine.ErrCorruption) {
				t.Fatalf("error %v does not wrap ErrCorruption", err)
			}
			return
		}
		// A run that decodes re-encodes to the same bytes.
		if !bytes.Equal(EncodeRun(r), b) {
			t.Fatalf("decoded run does not re-encode to its bytes")
		}
	})
}

func FuzzDecodeMetadata(f *testing.F) {
	f.Add(EncodeMetadata(Metadata{NextRunID: 3, Runs: []RunInfo{{ID: 1, Entries: 2, Bytes: 10, Locs: []chunk.Locator{{Extent: 1, Length: 10}}}}}))
	f.Add(EncodeMetadata(Metadata{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMetadata(b)
		if err != nil {
			if !errors.Is(err, engine.ErrCorruption) {
				t.Fatalf("error %v does not wrap ErrCorruption", err)
			}
			return
		}
		if !bytes.Equal(EncodeMetadata(m), b) {
			t.Fatalf("decoded metadata does not re-encode to its bytes")
		}
	})
}

func FuzzDecodeRoot(f *testing.F) {
	f.Add(EncodeRoot([]chunk.Locator{{Extent: 1, Length: 10}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := DecodeRoot(b); err != nil && !errors.Is(err, engine.ErrCorruption) {
			t.Fatalf("error %v does not wrap ErrCorruption", err)
		}
	})
}

// TestMemtableSetReturnsReplaced: Set reports the entry it replaced (what
// the store's live-byte accounting subtracts), and the byte count follows.
func TestMemtableSetReturnsReplaced(t *testing.T) {
	m := NewMemtable()
	a := Entry{Key: []byte("k"), Kind: KindPut, Locs: []chunk.Locator{{Extent: 3, Offset: 8, Length: 100}}}
	if _, replaced := m.Set(a); replaced {
		t.Fatal("first Set replaced something")
	}
	b := Entry{Key: []byte("k"), Kind: KindDelete}
	old, replaced := m.Set(b)
	if !replaced || old.Kind != KindPut || len(old.Locs) != 1 || old.Locs[0] != a.Locs[0] {
		t.Fatalf("second Set returned %+v, %v; want the first entry", old, replaced)
	}
	if m.Len() != 1 || m.Bytes() != b.Size() {
		t.Errorf("len %d bytes %d; want 1 and %d", m.Len(), m.Bytes(), b.Size())
	}
}

// TestMemtableSetKeep: a put's value is kept within the budget, a key put
// again reuses its buffer, a tombstone or a put without a value drops it,
// the counts stay exact (Check), and Sorted hands out no values.
func TestMemtableSetKeep(t *testing.T) {
	m := NewMemtable()
	loc := []chunk.Locator{{Extent: 1, Generation: 1, Offset: 0, Length: 10}}
	put := func(k string, v []byte) {
		t.Helper()
		m.SetKeep(Entry{Key: []byte(k), Kind: KindPut, Locs: loc}, v, 10)
		if err := m.Check(); err != nil {
			t.Fatal(err)
		}
	}
	put("a", []byte("123456"))
	if e, _ := m.Get([]byte("a")); string(e.Value) != "123456" || m.ValueBytes() != 6 {
		t.Fatalf("kept %q, %d bytes", e.Value, m.ValueBytes())
	}
	first, _ := m.Get([]byte("a"))
	put("a", []byte("abcd"))
	e, _ := m.Get([]byte("a"))
	if string(e.Value) != "abcd" || &e.Value[0] != &first.Value[0] || m.ValueBytes() != 4 {
		t.Fatalf("put again: kept %q (buffer reused %v), %d bytes", e.Value, &e.Value[0] == &first.Value[0], m.ValueBytes())
	}
	put("b", []byte("789012")) // 4+6 = 10: fits
	put("c", []byte("x"))      // 11: over the budget, not kept
	if e, _ := m.Get([]byte("c")); e.Value != nil || m.ValueBytes() != 10 {
		t.Fatalf("over the budget: kept %q, %d bytes", e.Value, m.ValueBytes())
	}
	put("d", []byte{}) // an empty value is kept (non-nil), and costs nothing
	if e, _ := m.Get([]byte("d")); e.Value == nil {
		t.Fatal("empty value not kept")
	}
	m.SetKeep(Entry{Key: []byte("b"), Kind: KindDelete}, nil, 10)
	if e, _ := m.Get([]byte("b")); e.Value != nil || m.ValueBytes() != 4 {
		t.Fatalf("tombstone: kept %q, %d bytes", e.Value, m.ValueBytes())
	}
	m.Set(Entry{Key: []byte("a"), Kind: KindPut, Locs: loc})
	if e, _ := m.Get([]byte("a")); e.Value != nil || m.ValueBytes() != 0 {
		t.Fatalf("Set without a value: kept %q, %d bytes", e.Value, m.ValueBytes())
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	put("c", []byte("xyz"))
	k := []byte("zz") // the caller's buffer, reused after Set
	m.Set(Entry{Key: k, Kind: KindDelete})
	k[0] = 'y'
	if _, ok := m.Get([]byte("zz")); !ok {
		t.Fatal("the memtable kept the caller's key buffer, not a copy")
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Sorted() {
		if e.Value != nil {
			t.Fatalf("Sorted: entry %q carries its value", e.Key)
		}
	}
}
