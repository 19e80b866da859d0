// Package lsm holds the data structures of shardstore's index: an LSM tree
// mapping keys to chunk locators, with the values themselves outside the
// tree (WiscKey-like).
//
// # Pieces
//
//   - Memtable: the newest entries, in memory, unordered until flushed.
//   - Run: an immutable sorted array of entries with a bloom filter, stored
//     as chunks in index extents (EncodeRun / DecodeRun). Runs stay decoded
//     in memory once loaded: a lookup costs a bloom probe per run and one
//     binary search, never an IO.
//   - Metadata: the list of runs, newest first, with the locators of their
//     chunks (EncodeMetadata / DecodeMetadata), stored as chunks in a
//     metadata extent; the superblock's root blob holds the metadata's
//     locators (EncodeRoot / DecodeRoot).
//   - Merge: compaction's merge, newest wins, tombstones dropped only when
//     nothing older can resurface.
//
// Lookups go newest first: memtable, then runs in metadata order; the first
// entry found for a key is its current state (a tombstone means absent).
//
// # Decoders
//
// Every decoder treats its input as untrusted: magic, then version, then
// checksum, then every length against the bytes available. Failures are
// *DecodeError values wrapping engine.ErrCorruption; no input makes them
// panic (FuzzDecodeRun, FuzzDecodeMetadata, FuzzDecodeRoot).
//
// The package does no IO and holds no locks: the engine (package
// shardstore) owns the concurrency.
package lsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/cespare/xxhash/v2"
	"github.com/google/btree"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// Kind is an entry's kind. Part of the format.
type Kind uint8

// The kinds.
const (
	KindPut    Kind = 1 // the key maps to Locs
	KindDelete Kind = 2 // a tombstone: the key is absent
)

// Entry is the index's state for one key.
type Entry struct {
	Key  []byte
	Kind Kind
	Locs []chunk.Locator // the value's chunks in order; empty for a tombstone
	// Value is a copy of the value a memtable keeps for a put (see
	// Memtable.SetKeep), or nil. It is never encoded, and entries of runs
	// (and those Sorted returns) have none.
	Value []byte
}

// Size is the entry's encoded size in a run.
func (e Entry) Size() int {
	return uvarintLen(uint64(len(e.Key))) + len(e.Key) + 1 + uvarintLen(uint64(len(e.Locs))) + len(e.Locs)*chunk.LocatorSize
}

// Has reports whether e is a put whose value includes the chunk at loc.
func (e Entry) Has(loc chunk.Locator) bool {
	return e.Kind == KindPut && slices.Contains(e.Locs, loc)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Memtable holds the newest entries. It is not safe for concurrent use.
type Memtable struct {
	// m holds pointers so that a key set again is updated in place: one
	// map operation per set.
	m map[string]*Entry
	// ordered holds the same pointers in key order (google/btree), so a
	// scan starts at its first key and reads only the keys it returns: a
	// memtable that had to be sorted for every List made each YCSB-E scan
	// of a few keys sort tens of thousands. A key's first set inserts it;
	// later sets update the entry in place.
	ordered    *btree.BTreeG[*Entry]
	bytes      int
	valueBytes int // of the values kept (Entry.Value)
}

// memtableDegree is the ordered tree's degree: nodes of up to 63 keys.
const memtableDegree = 32

// NewMemtable returns an empty memtable.
func NewMemtable() *Memtable {
	return &Memtable{m: map[string]*Entry{}, ordered: btree.NewG(memtableDegree, func(a, b *Entry) bool { return bytes.Compare(a.Key, b.Key) < 0 })}
}

// Set records e, replacing any entry for its key, and returns the entry
// it replaced, if any. The memtable keeps e's Locs, and a copy of its Key
// (the caller's key may be reused); the caller must not modify the Locs
// afterwards.
func (t *Memtable) Set(e Entry) (old Entry, replaced bool) {
	return t.SetKeep(e, nil, 0)
}

// SetKeep is Set that also keeps a copy of value in the entry (Value),
// unless the values kept would then take more than keepMax bytes; a nil
// value keeps none. The copy goes into the replaced entry's buffer when it
// is large enough, so a key put over and over costs no allocation: a
// caller that reads Value must copy it out before the memtable's next
// SetKeep (under the lock that orders them), and the Value of the entry
// returned is no longer the old value.
func (t *Memtable) SetKeep(e Entry, value []byte, keepMax int) (old Entry, replaced bool) {
	p, replaced := t.m[string(e.Key)]
	if replaced {
		old = *p
		t.bytes -= old.Size()
		t.valueBytes -= len(old.Value)
		e.Key = old.Key
	} else {
		e.Key = bytes.Clone(e.Key)
	}
	e.Value = nil
	if mutant.On(mutant.ValueCopyOutlivesOverwrite) && replaced && value == nil {
		e.Value = old.Value // kept: the new entry brings no copy of its own
		t.valueBytes += len(old.Value)
	}
	if value != nil && t.valueBytes+len(value) <= keepMax {
		if replaced && cap(old.Value) >= len(value) {
			e.Value = append(old.Value[:0], value...)
		} else {
			e.Value = append(make([]byte, 0, len(value)), value...)
		}
		t.valueBytes += len(value)
	}
	if replaced {
		*p = e
	} else {
		p = new(Entry) // (not &e: e would go to the heap on every call)
		*p = e
		t.m[string(e.Key)] = p
		t.ordered.ReplaceOrInsert(p)
	}
	t.bytes += e.Size()
	return old, replaced
}

// Get returns the entry for key.
func (t *Memtable) Get(key []byte) (Entry, bool) {
	if p, ok := t.m[string(key)]; ok {
		return *p, true
	}
	return Entry{}, false
}

// Len is the number of entries.
func (t *Memtable) Len() int { return len(t.m) }

// ValueBytes is the size of the values kept (see SetKeep).
func (t *Memtable) ValueBytes() int { return t.valueBytes }

// Check recounts the memtable's sizes and reports a mismatch with those it
// keeps, or a value kept for a tombstone.
func (t *Memtable) Check() error {
	var errs []error
	size, values := 0, 0
	for k, e := range t.m {
		if k != string(e.Key) {
			errs = append(errs, fmt.Errorf("lsm: memtable: key %q holds the entry of %q", k, e.Key))
		}
		size += e.Size()
		values += len(e.Value)
		if e.Value != nil && e.Kind != KindPut {
			errs = append(errs, fmt.Errorf("lsm: memtable: key %q: a value kept for an entry of kind %d", k, e.Kind))
		}
	}
	if size != t.bytes || values != t.valueBytes {
		errs = append(errs, fmt.Errorf("lsm: memtable: entries of %d bytes and values of %d counted, %d and %d recounted", t.bytes, t.valueBytes, size, values))
	}
	return errors.Join(errs...)
}

// Bytes is the encoded size of the entries.
func (t *Memtable) Bytes() int { return t.bytes }

// Sorted returns the entries in key order.
func (t *Memtable) Sorted() []Entry {
	out := make([]Entry, 0, len(t.m))
	t.ordered.Ascend(func(p *Entry) bool {
		e := *p
		e.Value = nil
		out = append(out, e)
		return true
	})
	return out
}

// Range returns up to limit entries (tombstones included) with keys in
// [start, end), in key order; a nil start or end is unbounded, and a
// negative limit is none. more reports that entries in the range were
// left out: the first of them is next.
func (t *Memtable) Range(start, end []byte, limit int) (out []Entry, next []byte, more bool) {
	if limit > 0 {
		out = make([]Entry, 0, min(limit, t.ordered.Len()))
	}
	return t.RangeAppend(out, start, end, limit)
}

// RangeAppend is Range appending to out (whose length does not count
// toward limit): a scan passes a recycled slice, since one allocated per
// scan made YCSB-E's allocation rate, and the collections it brought,
// most of its CPU.
func (t *Memtable) RangeAppend(out []Entry, start, end []byte, limit int) (_ []Entry, next []byte, more bool) {
	base := len(out)
	visit := func(p *Entry) bool {
		if end != nil && bytes.Compare(p.Key, end) >= 0 {
			return false
		}
		if limit >= 0 && len(out)-base == limit {
			next, more = p.Key, true
			return false
		}
		e := *p
		e.Value = nil
		out = append(out, e)
		return true
	}
	if start == nil {
		t.ordered.Ascend(visit)
	} else {
		t.ordered.AscendGreaterOrEqual(&Entry{Key: start}, visit)
	}
	return out, next, more
}

// Run is an immutable sorted array of entries with a bloom filter.
type Run struct {
	Entries []Entry // sorted by key, one per key
	bloom   bloom
	// blocked: bloom is a blocked filter (FilterBlocked), every key's
	// probes in one 64-byte block, one cache miss per probe of a run;
	// otherwise the classic layout of format version 1 runs
	// (FilterClassic), whose 7 probes were 7 cache misses, about 0.5 to
	// 1 µs for a run of a million keys.
	blocked bool
	// The search index (see index): the prefix every key shares, and each
	// entry's next 8 key bytes as a big-endian number. A lookup binary
	// searches the numbers, contiguous in memory, and compares whole keys
	// only among the entries whose 8 bytes tie: a search of a million
	// entries by key compared about 20 keys behind two pointers each,
	// cache misses that cost about 2 µs.
	common []byte
	pfx    []uint64
}

// NewRun builds a run from entries sorted by key with no duplicates; it
// panics otherwise (a bug in the caller). The run takes entries: their
// keys are copied into one buffer, in order, and each entry's Key points
// into it.
func NewRun(entries []Entry) *Run {
	for i := 1; i < len(entries); i++ {
		if bytes.Compare(entries[i-1].Key, entries[i].Key) >= 0 {
			panic(fmt.Sprintf("lsm: run entries out of order at %d: %q then %q", i, entries[i-1].Key, entries[i].Key))
		}
	}
	// Keys side by side, as a decoded run's are: a scan's merge reads
	// each source's next key from the line after its last one, where
	// keys allocated one by one (a memtable's, merged into a flush or a
	// compaction) cost a cache miss each (BenchmarkMergeLimitScan).
	n := 0
	for _, e := range entries {
		n += len(e.Key)
	}
	keys := make([]byte, 0, n)
	for i := range entries {
		at := len(keys)
		keys = append(keys, entries[i].Key...)
		entries[i].Key = keys[at:len(keys):len(keys)]
	}
	r := &Run{Entries: entries, bloom: newBlockedBloom(len(entries)), blocked: true}
	for _, e := range entries {
		r.bloom.addBlocked(Hash(e.Key))
	}
	r.index()
	return r
}

// index builds the search index of sorted entries. Every key starts with
// the common prefix of the first and the last key; the 8 bytes after it,
// zero-padded, order the keys as bytes.Compare does, with ties.
func (r *Run) index() {
	if len(r.Entries) == 0 {
		return
	}
	first, last := r.Entries[0].Key, r.Entries[len(r.Entries)-1].Key
	n := 0
	for n < len(first) && n < len(last) && first[n] == last[n] {
		n++
	}
	r.common = first[:n:n]
	r.pfx = make([]uint64, len(r.Entries))
	for i, e := range r.Entries {
		r.pfx[i] = next8(e.Key[n:])
	}
}

// next8 is b's first 8 bytes, zero-padded, as a big-endian number.
func next8(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.BigEndian.Uint64(b)
	}
	var v uint64
	for i := range 8 {
		v <<= 8
		if i < len(b) {
			v |= uint64(b[i])
		}
	}
	return v
}

// search returns the index of the first entry with a key >= key, and
// whether that entry's key is key.
func (r *Run) search(key []byte) (int, bool) {
	n := len(r.Entries)
	if n == 0 {
		return 0, false
	}
	cpl := len(r.common)
	if len(key) < cpl {
		if bytes.Compare(key, r.common[:len(key)]) <= 0 {
			return 0, false // key is below every key of the run
		}
		return n, false
	}
	if c := bytes.Compare(key[:cpl], r.common); c != 0 {
		if c < 0 {
			return 0, false
		}
		return n, false
	}
	t := next8(key[cpl:])
	// lo: the first entry whose 8 bytes are >= t.
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.pfx[m] < t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	// hi: past the entries whose 8 bytes tie with t; key can only be
	// among them. Distinct keys rarely tie, so look at a few first.
	hi = lo
	for hi < n && r.pfx[hi] == t && hi-lo < 4 {
		hi++
	}
	if hi < n && r.pfx[hi] == t {
		hi += sort.Search(n-hi, func(i int) bool { return r.pfx[hi+i] > t })
	}
	i, ok := slices.BinarySearchFunc(r.Entries[lo:hi], key, func(e Entry, k []byte) int { return bytes.Compare(e.Key, k) })
	return lo + i, ok
}

// Get returns the run's entry for key.
func (r *Run) Get(key []byte) (Entry, bool) { return r.GetHashed(key, Hash(key)) }

// GetHashed is Get with the key's Hash, computed once for a lookup that
// probes every run.
func (r *Run) GetHashed(key []byte, h uint64) (Entry, bool) {
	if !r.mayContain(key, h) {
		return Entry{}, false
	}
	i, ok := r.search(key)
	if !ok {
		return Entry{}, false
	}
	return r.Entries[i], true
}

// Seek returns the index of the first entry with a key >= key.
func (r *Run) Seek(key []byte) int {
	i, _ := r.search(key)
	return i
}

// Merge merges sources, newest first, into one sorted list in which the
// newest entry of each key wins. Tombstones are dropped if dropTombstones
// is set: only when the sources include the oldest run, so that nothing
// older can resurface.
func Merge(sources [][]Entry, dropTombstones bool) []Entry {
	total := 0
	for _, s := range sources {
		total += len(s)
	}
	return MergeLimit(sources, dropTombstones, total, nil)
}

// MergeLimit is Merge that stops after limit entries or at the first key
// at or above below (nil: no bound): a scan merges the keys it returns,
// not every key after its start.
//
// The sources' heads sit in a binary min-heap ordered by key, then by
// source (newer first): an entry costs about 2·log2(sources) key
// comparisons, where a pass over every head cost two per source, and a
// scan merges the memtables and every run (YCSB-E at a million records:
// 16 sources, half its CPU in key comparisons).
func MergeLimit(sources [][]Entry, dropTombstones bool, limit int, below []byte) []Entry {
	total := 0
	for _, s := range sources {
		total += len(s)
	}
	return MergeAppend(make([]Entry, 0, min(total, limit)), sources, dropTombstones, limit, below)
}

// MergeAppend is MergeLimit appending to out, whose length counts toward
// limit: a scan's batches reuse one slice.
func MergeAppend(out []Entry, sources [][]Entry, dropTombstones bool, limit int, below []byte) []Entry {
	// The heap's arrays on the stack for the usual count of sources: a
	// scan merges every run, and two allocations per scan added up.
	var pos, heap [mergeSourcesMax]int
	m := merger{sources: sources}
	if len(sources) <= mergeSourcesMax {
		m.pos, m.heap = pos[:len(sources)], heap[:0]
	} else {
		m.pos, m.heap = make([]int, len(sources)), make([]int, 0, len(sources))
	}
	for i, s := range sources {
		if len(s) > 0 {
			m.heap = append(m.heap, i)
		}
	}
	for i := len(m.heap)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	for len(out) < limit && len(m.heap) > 0 {
		best := m.heap[0]
		e := sources[best][m.pos[best]]
		if below != nil && bytes.Compare(e.Key, below) >= 0 {
			return out
		}
		// Skip the older versions of the key: they are next in the heap
		// (equal keys order by source), at its root after each advance.
		m.advance()
		for len(m.heap) > 0 {
			i := m.heap[0]
			if !bytes.Equal(sources[i][m.pos[i]].Key, e.Key) {
				break
			}
			m.advance()
		}
		if e.Kind == KindDelete && dropTombstones {
			continue
		}
		out = append(out, e)
	}
	return out
}

// mergeSourcesMax is the count of sources MergeAppend merges without
// allocating: more than the memtables and runs a store usually has.
const mergeSourcesMax = 64

// merger is MergeLimit's heap of sources: heap holds the indices of the
// sources with entries left, pos each source's next entry.
type merger struct {
	sources [][]Entry
	pos     []int
	heap    []int
}

// less orders sources i and j by their next keys; equal keys keep the
// newer (lower index) source first.
func (m *merger) less(i, j int) bool {
	c := bytes.Compare(m.sources[i][m.pos[i]].Key, m.sources[j][m.pos[j]].Key)
	if c != 0 {
		return c < 0
	}
	if mutant.On(mutant.MergeOlderWins) {
		return i > j
	}
	return i < j
}

// advance moves the root's source to its next entry, dropping it from the
// heap when it has none left.
func (m *merger) advance() {
	i := m.heap[0]
	m.pos[i]++
	if m.pos[i] >= len(m.sources[i]) {
		last := len(m.heap) - 1
		m.heap[0] = m.heap[last]
		m.heap = m.heap[:last]
	}
	if len(m.heap) > 0 {
		m.down(0)
	}
}

// down restores the heap order below position at.
func (m *merger) down(at int) {
	h := m.heap
	for {
		l := 2*at + 1
		if l >= len(h) {
			return
		}
		c := l
		if r := l + 1; r < len(h) && m.less(h[r], h[l]) {
			c = r
		}
		if !m.less(h[c], h[at]) {
			return
		}
		h[at], h[c] = h[c], h[at]
		at = c
	}
}

// Bloom filter: 10 bits per key, 7 probes, double hashing of FNV-1a 64.
// Part of the format (it is stored in runs).
const (
	bloomBitsPerKey = 10
	bloomProbes     = 7
)

type bloom []byte

// The filter layouts, in byte 6 of a run's header.
const (
	FilterClassic = 0 // probe i at (h1 + i·h2) mod bits over the whole filter
	FilterBlocked = 1 // all probes in one 512-bit block chosen by h1
)

// bloomBlockBits is a blocked filter's block: a 64-byte cache line.
const bloomBlockBits = 512

func newBloom(n int) bloom {
	bits := max(64, n*bloomBitsPerKey)
	return make(bloom, (bits+7)/8)
}

func newBlockedBloom(n int) bloom {
	blocks := (max(64, n*bloomBitsPerKey) + bloomBlockBits - 1) / bloomBlockBits
	return make(bloom, blocks*bloomBlockBits/8)
}

// Hash is the blocked filter's hash of a key: xxHash64
// (github.com/cespare/xxhash), which reads 8 bytes a step where FNV-1a
// multiplies once a byte.
func Hash(b []byte) uint64 { return xxhash.Sum64(b) }

// fnv64 is the classic filter's hash: FNV-1a 64.
func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

func (f bloom) add(key []byte) {
	h := fnv64(key)
	h1, h2 := uint32(h), uint32(h>>32)|1
	n := uint32(len(f) * 8)
	for i := uint32(0); i < bloomProbes; i++ {
		b := (h1 + i*h2) % n
		f[b/8] |= 1 << (b % 8)
	}
}

func (f bloom) mayContain(key []byte) bool {
	if len(f) == 0 {
		return true
	}
	h := fnv64(key)
	h1, h2 := uint32(h), uint32(h>>32)|1
	n := uint32(len(f) * 8)
	if mutant.On(mutant.BloomFalseNegative) {
		n-- // the last bit index taken for the count
	}
	for i := uint32(0); i < bloomProbes; i++ {
		b := (h1 + i*h2) % n
		if f[b/8]&(1<<(b%8)) == 0 {
			return false
		}
	}
	return true
}

// blockedProbes returns the block of a blocked filter that holds the
// probes of hash h (its first byte) and the probes' first bit and stride
// within the block: probe i is bit (a + i·d) mod 512.
func (f bloom) blockedProbes(h uint64) (block int, a, d uint32) {
	blocks := uint64(len(f) / (bloomBlockBits / 8))
	block = int((uint64(uint32(h))*blocks)>>32) * (bloomBlockBits / 8)
	a = uint32(h >> 32)
	return block, a, a>>9 | 1
}

func (f bloom) addBlocked(h uint64) {
	block, a, d := f.blockedProbes(h)
	blk := f[block : block+bloomBlockBits/8]
	for i := uint32(0); i < bloomProbes; i++ {
		b := (a + i*d) % bloomBlockBits
		blk[b/8] |= 1 << (b % 8)
	}
}

func (f bloom) mayContainBlocked(h uint64) bool {
	block, a, d := f.blockedProbes(h)
	blk := f[block : block+bloomBlockBits/8]
	mod := uint32(bloomBlockBits)
	if mutant.On(mutant.BloomFalseNegative) {
		mod-- // the last bit index taken for the count
	}
	for i := uint32(0); i < bloomProbes; i++ {
		b := (a + i*d) % mod
		if blk[b/8]&(1<<(b%8)) == 0 {
			return false
		}
	}
	return true
}

// mayContain reports whether the run's filter lets key (of hash h) through.
func (r *Run) mayContain(key []byte, h uint64) bool {
	if len(r.bloom) == 0 {
		return true
	}
	if r.blocked {
		return r.bloom.mayContainBlocked(h)
	}
	return r.bloom.mayContain(key)
}

// DecodeError reports bytes of a run, metadata or root that do not decode.
// It wraps engine.ErrCorruption.
type DecodeError struct {
	What   string // "run", "metadata", "root"
	Reason string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("lsm: decode %s: %s: %v", e.What, e.Reason, engine.ErrCorruption)
}

// Unwrap returns engine.ErrCorruption.
func (e *DecodeError) Unwrap() error { return engine.ErrCorruption }

// Format constants of runs, metadata and the root blob. Part of the format.
const (
	RunMagic      = "SSRN"
	MetadataMagic = "SSMD"
	RootMagic     = "SSRT"
	// RunHeaderSize: magic(4) version(2) reserved(2) count(4) bloomBytes(4).
	RunHeaderSize = 16
	// MetadataHeaderSize: magic(4) version(2) reserved(2) nextRunID(8) runs(4).
	MetadataHeaderSize = 20
	// RootHeaderSize: magic(4) version(2) locators(2).
	RootHeaderSize = 8
	// RootLocatorsMax is how many metadata locators fit in the superblock's
	// root blob.
	RootLocatorsMax = (format.RootMax - RootHeaderSize - 4) / chunk.LocatorSize
)

// EncodeRun encodes a run:
//
//	header(16) bloom(bloomBytes) entries... crc(4)
//
// entry: keyLen(uvarint) key kind(1) nlocs(uvarint) locator(16)×nlocs.
func EncodeRun(r *Run) []byte {
	size := RunHeaderSize + len(r.bloom) + 4
	for _, e := range r.Entries {
		size += e.Size()
	}
	b := make([]byte, 0, size)
	b = append(b, RunMagic...)
	b = binary.LittleEndian.AppendUint16(b, format.Version)
	layout := byte(FilterClassic)
	if r.blocked {
		layout = FilterBlocked
	}
	b = append(b, layout, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Entries)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.bloom)))
	b = append(b, r.bloom...)
	for _, e := range r.Entries {
		b = binary.AppendUvarint(b, uint64(len(e.Key)))
		b = append(b, e.Key...)
		b = append(b, byte(e.Kind))
		b = binary.AppendUvarint(b, uint64(len(e.Locs)))
		for _, l := range e.Locs {
			b, _ = l.AppendBinary(b)
		}
	}
	return binary.LittleEndian.AppendUint32(b, format.CRC(0, b))
}

// checkFrame checks magic, version and the trailing checksum of b.
func checkFrame(what string, b []byte, magic string, header int) error {
	if len(b) < header+4 {
		return &DecodeError{what, fmt.Sprintf("%d bytes, shorter than the minimum %d", len(b), header+4)}
	}
	if string(b[:4]) != magic {
		return &DecodeError{what, fmt.Sprintf("bad magic %q", b[:4])}
	}
	if v := binary.LittleEndian.Uint16(b[4:]); v != format.Version {
		return &DecodeError{what, fmt.Sprintf("version %d, want %d", v, format.Version)}
	}
	body := b[:len(b)-4]
	if got, want := binary.LittleEndian.Uint32(b[len(b)-4:]), format.CRC(0, body); got != want {
		return &DecodeError{what, fmt.Sprintf("checksum %#08x, want %#08x", got, want)}
	}
	return nil
}

// reader decodes fields of untrusted bytes, recording the first failure.
type reader struct {
	b      []byte
	reason string
}

func (r *reader) fail(format string, args ...any) {
	if r.reason == "" {
		r.reason = fmt.Sprintf(format, args...)
	}
	r.b = nil
}

func (r *reader) uvarint(what string, maxv uint64) uint64 {
	if r.reason != "" {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad %s varint", what)
		return 0
	}
	if v > maxv {
		r.fail("%s %d exceeds %d", what, v, maxv)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(what string, n int) []byte {
	if r.reason != "" {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("%s of %d bytes, %d left", what, n, len(r.b))
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u32(what string) uint32 {
	p := r.bytes(what, 4)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

func (r *reader) u64(what string) uint64 {
	p := r.bytes(what, 8)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

func (r *reader) locs(n int) []chunk.Locator {
	p := r.bytes("locators", n*chunk.LocatorSize)
	if p == nil && n > 0 {
		return nil
	}
	out := make([]chunk.Locator, n)
	for i := range out {
		out[i], _ = chunk.DecodeLocator(p[i*chunk.LocatorSize:])
	}
	return out
}

// DecodeRun decodes a run written by EncodeRun. The run's slices alias b.
func DecodeRun(b []byte) (*Run, error) {
	const what = "run"
	if err := checkFrame(what, b, RunMagic, RunHeaderSize); err != nil {
		return nil, err
	}
	layout := b[6]
	if layout != FilterClassic && layout != FilterBlocked {
		return nil, &DecodeError{what, fmt.Sprintf("filter layout %d, want %d or %d", layout, FilterClassic, FilterBlocked)}
	}
	count := binary.LittleEndian.Uint32(b[8:])
	bloomBytes := binary.LittleEndian.Uint32(b[12:])
	if layout == FilterBlocked && bloomBytes%(bloomBlockBits/8) != 0 {
		return nil, &DecodeError{what, fmt.Sprintf("blocked filter of %d bytes, not whole %d-byte blocks", bloomBytes, bloomBlockBits/8)}
	}
	r := &reader{b: b[RunHeaderSize : len(b)-4]}
	// Every entry takes at least 3 bytes: bound count before allocating.
	if uint64(count)*3 > uint64(len(r.b)) {
		return nil, &DecodeError{what, fmt.Sprintf("%d entries cannot fit in %d bytes", count, len(r.b))}
	}
	f := r.bytes("bloom filter", int(bloomBytes))
	entries := make([]Entry, 0, count)
	for i := uint32(0); i < count && r.reason == ""; i++ {
		var e Entry
		klen := r.uvarint("key length", engine.KeyMax)
		e.Key = r.bytes("key", int(klen))
		if k := r.bytes("kind", 1); k != nil {
			e.Kind = Kind(k[0])
		}
		nlocs := r.uvarint("locator count", uint64(len(r.b)/chunk.LocatorSize))
		e.Locs = r.locs(int(nlocs))
		if r.reason != "" {
			break
		}
		switch {
		case len(e.Key) < engine.KeyMin:
			r.fail("entry %d: empty key", i)
		case e.Kind != KindPut && e.Kind != KindDelete:
			r.fail("entry %d: kind %d", i, e.Kind)
		case e.Kind == KindDelete && len(e.Locs) > 0:
			r.fail("entry %d: tombstone with %d locators", i, len(e.Locs))
		case e.Kind == KindPut && len(e.Locs) == 0:
			r.fail("entry %d: put without locators", i)
		case len(entries) > 0 && bytes.Compare(entries[len(entries)-1].Key, e.Key) >= 0:
			r.fail("entry %d: key out of order", i)
		}
		entries = append(entries, e)
	}
	if r.reason != "" {
		return nil, &DecodeError{what, r.reason}
	}
	if len(r.b) != 0 {
		return nil, &DecodeError{what, fmt.Sprintf("%d bytes after the last entry", len(r.b))}
	}
	run := &Run{Entries: entries, bloom: bloom(f), blocked: layout == FilterBlocked}
	run.index()
	return run, nil
}

// RunInfo describes one run in the metadata.
type RunInfo struct {
	ID      uint64
	Entries uint32
	Bytes   uint64          // encoded run size
	Locs    []chunk.Locator // the run's chunks, in order
}

// Metadata is the index's table of contents: its runs, newest first.
type Metadata struct {
	NextRunID uint64
	Runs      []RunInfo
}

// EncodeMetadata encodes m:
//
//	header(20) run... crc(4)
//
// run: id(8) entries(4) bytes(8) nlocs(4) locator(16)×nlocs.
func EncodeMetadata(m Metadata) []byte {
	b := make([]byte, 0, MetadataHeaderSize+4+len(m.Runs)*40)
	b = append(b, MetadataMagic...)
	b = binary.LittleEndian.AppendUint16(b, format.Version)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint64(b, m.NextRunID)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.Runs)))
	for _, r := range m.Runs {
		b = binary.LittleEndian.AppendUint64(b, r.ID)
		b = binary.LittleEndian.AppendUint32(b, r.Entries)
		b = binary.LittleEndian.AppendUint64(b, r.Bytes)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Locs)))
		for _, l := range r.Locs {
			b, _ = l.AppendBinary(b)
		}
	}
	return binary.LittleEndian.AppendUint32(b, format.CRC(0, b))
}

// DecodeMetadata decodes metadata written by EncodeMetadata.
func DecodeMetadata(b []byte) (Metadata, error) {
	const what = "metadata"
	if err := checkFrame(what, b, MetadataMagic, MetadataHeaderSize); err != nil {
		return Metadata{}, err
	}
	m := Metadata{NextRunID: binary.LittleEndian.Uint64(b[8:])}
	count := binary.LittleEndian.Uint32(b[16:])
	r := &reader{b: b[MetadataHeaderSize : len(b)-4]}
	if uint64(count)*24 > uint64(len(r.b)) {
		return Metadata{}, &DecodeError{what, fmt.Sprintf("%d runs cannot fit in %d bytes", count, len(r.b))}
	}
	seen := map[uint64]bool{}
	for i := uint32(0); i < count && r.reason == ""; i++ {
		var ri RunInfo
		ri.ID = r.u64("run id")
		ri.Entries = r.u32("entry count")
		ri.Bytes = r.u64("run bytes")
		n := r.u32("locator count")
		over := uint64(n)*chunk.LocatorSize > uint64(len(r.b))
		if mutant.On(mutant.MetadataBoundsOffByOne) {
			over = uint64(n)*chunk.LocatorSize >= uint64(len(r.b))
		}
		if r.reason == "" && over {
			r.fail("run %d: %d locators, %d bytes left", i, n, len(r.b))
			break
		}
		ri.Locs = r.locs(int(n))
		if r.reason != "" {
			break
		}
		var sum uint64
		for _, l := range ri.Locs {
			sum += uint64(l.Length)
		}
		switch {
		case len(ri.Locs) == 0:
			r.fail("run %d has no chunks", ri.ID)
		case sum != ri.Bytes:
			r.fail("run %d: chunks hold %d bytes, want %d", ri.ID, sum, ri.Bytes)
		case ri.ID >= m.NextRunID:
			r.fail("run id %d not below the next id %d", ri.ID, m.NextRunID)
		case seen[ri.ID]:
			r.fail("run id %d twice", ri.ID)
		}
		seen[ri.ID] = true
		m.Runs = append(m.Runs, ri)
	}
	if r.reason != "" {
		return Metadata{}, &DecodeError{what, r.reason}
	}
	if len(r.b) != 0 {
		return Metadata{}, &DecodeError{what, fmt.Sprintf("%d bytes after the last run", len(r.b))}
	}
	return m, nil
}

// EncodeRoot encodes the superblock root blob naming the metadata's chunks:
//
//	magic(4) version(2) nlocs(2) locator(16)×nlocs crc(4)
//
// It panics if there are more than RootLocatorsMax locators.
func EncodeRoot(locs []chunk.Locator) []byte {
	if len(locs) > RootLocatorsMax {
		panic(fmt.Sprintf("lsm: root of %d locators, at most %d", len(locs), RootLocatorsMax))
	}
	b := make([]byte, 0, RootHeaderSize+len(locs)*chunk.LocatorSize+4)
	b = append(b, RootMagic...)
	b = binary.LittleEndian.AppendUint16(b, format.Version)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(locs)))
	for _, l := range locs {
		b, _ = l.AppendBinary(b)
	}
	return binary.LittleEndian.AppendUint32(b, format.CRC(0, b))
}

// DecodeRoot decodes a root blob. An empty blob (a freshly formatted device)
// decodes to no locators.
func DecodeRoot(b []byte) ([]chunk.Locator, error) {
	const what = "root"
	if len(b) == 0 {
		return nil, nil
	}
	if err := checkFrame(what, b, RootMagic, RootHeaderSize); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint16(b[6:]))
	if RootHeaderSize+n*chunk.LocatorSize+4 != len(b) || n == 0 {
		return nil, &DecodeError{what, fmt.Sprintf("%d locators in %d bytes", n, len(b))}
	}
	r := &reader{b: b[RootHeaderSize : len(b)-4]}
	return r.locs(n), nil
}
