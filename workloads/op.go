package workloads

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// OpKind is the kind of one operation. The numeric values are not part of
// any format (traces spell kinds by name); the checkers' alphabet order is
// given by Alphabet, not by these numbers.
type OpKind uint8

// The operation kinds. The first ten are the checkers' alphabet, simplest
// first; Insert and ReadModifyWrite are the YCSB operations that are not
// plain puts and gets; SuperblockFlush and CacheFlush complete the
// engine.MaintenanceOps.
const (
	OpGet             OpKind = iota // read one key
	OpPut                           // write one key (YCSB update)
	OpDelete                        // delete one key
	OpList                          // list keys in order from Key (YCSB scan)
	OpIndexFlush                    // engine.IndexFlush via engine.Maintainer
	OpCompact                       // engine.Compact via engine.Maintainer
	OpReclaim                       // engine.Reclaim via engine.Maintainer
	OpCleanReboot                   // close and reopen: the checker's business
	OpDirtyReboot                   // crash and reopen: the checker's business
	OpFailDiskOnce                  // inject one IO fault: the checker's business
	OpInsert                        // write a key never written before (YCSB insert)
	OpReadModifyWrite               // get then put the same key (YCSB read-modify-write)
	OpSuperblockFlush               // engine.SuperblockFlush via engine.Maintainer
	OpCacheFlush                    // engine.CacheFlush via engine.Maintainer

	opKindCount // keep last
)

var opKindNames = [opKindCount]string{
	OpGet:             "get",
	OpPut:             "put",
	OpDelete:          "delete",
	OpList:            "list",
	OpIndexFlush:      "index-flush",
	OpCompact:         "compact",
	OpReclaim:         "reclaim",
	OpCleanReboot:     "clean-reboot",
	OpDirtyReboot:     "dirty-reboot",
	OpFailDiskOnce:    "fail-disk-once",
	OpInsert:          "insert",
	OpReadModifyWrite: "rmw",
	OpSuperblockFlush: "superblock-flush",
	OpCacheFlush:      "cache-flush",
}

// String returns the kind's name as traces spell it: "get", "put",
// "index-flush", "rmw", ...
func (k OpKind) String() string {
	if k < opKindCount {
		return opKindNames[k]
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// OpKinds returns every kind in numeric order.
func OpKinds() []OpKind {
	kinds := make([]OpKind, opKindCount)
	for i := range kinds {
		kinds[i] = OpKind(i)
	}
	return kinds
}

// ParseOpKind is the inverse of OpKind.String.
func ParseOpKind(s string) (OpKind, bool) {
	for k, name := range opKindNames {
		if name == s {
			return OpKind(k), true
		}
	}
	return 0, false
}

// HasKey reports whether ops of this kind address one key (List's key is an
// optional start).
func (k OpKind) HasKey() bool {
	switch k {
	case OpGet, OpPut, OpDelete, OpInsert, OpReadModifyWrite:
		return true
	}
	return false
}

// Writes reports whether ops of this kind carry a value (Size and Seed).
func (k OpKind) Writes() bool {
	return k == OpPut || k == OpInsert || k == OpReadModifyWrite
}

// maintenance reports whether the kind is an engine.MaintenanceOp.
func (k OpKind) maintenance() bool {
	switch k {
	case OpIndexFlush, OpCompact, OpReclaim, OpSuperblockFlush, OpCacheFlush:
		return true
	}
	return false
}

// checkerOnly reports whether the kind is run by a checker, never by Apply.
func (k OpKind) checkerOnly() bool {
	return k == OpCleanReboot || k == OpDirtyReboot || k == OpFailDiskOnce
}

// Op is one operation, as a workload draws it, a checker applies it and a
// trace records it. The value is not stored: it is Size bytes filled by
// FillValue from Seed, so an op is small and a trace line is short.
type Op struct {
	Kind OpKind
	// Key is the key of Get, Put, Delete, Insert and ReadModifyWrite, and
	// the first key of List (nil: from the first key).
	Key []byte
	// End bounds List: keys < End (nil: no bound).
	End []byte
	// Size is the value length of Put, Insert and ReadModifyWrite.
	Size int
	// Seed is the value's content seed (FillValue); for DirtyReboot and
	// FailDiskOnce it seeds the checker's choice of crash state or fault.
	Seed uint64
	// ScanLen bounds List to at most ScanLen keys (0: no bound). It is
	// never negative: traces and workloads refuse it, and Apply returns
	// an error wrapping engine.ErrInvalidArgument.
	ScanLen int
}

// ListMore reports whether a List that has visited seen keys goes on to
// the next: ScanLen 0 lists every key in range, n > 0 at most n. Apply
// and the checkers that compare a List with the model bound it with this.
func (op Op) ListMore(seen int) bool {
	return op.ScanLen == 0 || seen < op.ScanLen
}

// String renders op as one trace line (without the newline).
func (op Op) String() string {
	return string(appendOp(nil, op))
}

// Value returns op's value, filled into dst if it is large enough.
func (op Op) Value(dst []byte) []byte {
	if cap(dst) < op.Size {
		dst = make([]byte, op.Size)
	}
	dst = dst[:op.Size]
	FillValue(dst, op.Seed)
	return dst
}

// Equal reports whether two ops are identical, nil and empty keys being
// distinct only for List bounds (where nil means unbounded and empty is
// never produced).
func (op Op) Equal(o Op) bool {
	return op.Kind == o.Kind && string(op.Key) == string(o.Key) && (op.Key == nil) == (o.Key == nil) &&
		string(op.End) == string(o.End) && (op.End == nil) == (o.End == nil) &&
		op.Size == o.Size && op.Seed == o.Seed && op.ScanLen == o.ScanLen
}

// splitmix64 is the finalizer of SplitMix64: a bijection of uint64 with good
// avalanche. It turns related seeds (0, 1, 2, ...) into unrelated ones.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// FillValue fills dst with bytes determined by seed alone: the same (seed,
// len(dst)) give the same bytes on every machine, and a shorter value is a
// prefix of a longer one with the same seed. It runs wyrand 8 bytes at a
// time (several GB/s), so generating values never dominates a benchmark.
//
// The bytes are part of the trace format: changing this function changes
// what replaying an old trace writes.
func FillValue(dst []byte, seed uint64) {
	const step = 0xa0761d6478bd642f
	s := splitmix64(seed)
	// Four words per iteration: each word depends only on the counter, so
	// the multiplications overlap (same bytes as one word at a time).
	for len(dst) >= 32 {
		s0 := s + step
		s1 := s0 + step
		s2 := s1 + step
		s3 := s2 + step
		s = s3
		h0, l0 := bits.Mul64(s0, s0^0xe7037ed1a0b428db)
		h1, l1 := bits.Mul64(s1, s1^0xe7037ed1a0b428db)
		h2, l2 := bits.Mul64(s2, s2^0xe7037ed1a0b428db)
		h3, l3 := bits.Mul64(s3, s3^0xe7037ed1a0b428db)
		d := dst[:32:32]
		binary.LittleEndian.PutUint64(d[0:], h0^l0)
		binary.LittleEndian.PutUint64(d[8:], h1^l1)
		binary.LittleEndian.PutUint64(d[16:], h2^l2)
		binary.LittleEndian.PutUint64(d[24:], h3^l3)
		dst = dst[32:]
	}
	for len(dst) >= 8 {
		s += step
		hi, lo := bits.Mul64(s, s^0xe7037ed1a0b428db)
		binary.LittleEndian.PutUint64(dst, hi^lo)
		dst = dst[8:]
	}
	if len(dst) > 0 {
		s += step
		hi, lo := bits.Mul64(s, s^0xe7037ed1a0b428db)
		w := hi ^ lo
		for i := range dst {
			dst[i] = byte(w >> (8 * i))
		}
	}
}

// ValueDigest returns a 64-bit digest of v, for recording what a Get
// returned without keeping the bytes. It is not cryptographic; it is fast
// (8 bytes per step) and stable across machines and releases.
func ValueDigest(v []byte) uint64 {
	const m = 0x9fb21c651e98df25
	h := uint64(len(v)) * 0xc2b2ae3d27d4eb4f
	for len(v) >= 8 {
		w := binary.LittleEndian.Uint64(v)
		hi, lo := bits.Mul64(h^w, m)
		h = hi ^ lo
		v = v[8:]
	}
	if len(v) > 0 {
		var w uint64
		for i, b := range v {
			w |= uint64(b) << (8 * i)
		}
		hi, lo := bits.Mul64(h^w^0xff51afd7ed558ccd, m)
		h = hi ^ lo
	}
	return splitmix64(h)
}

// SeedDigest returns ValueDigest of the value FillValue makes from (size,
// seed), without keeping it: what a checker compares a Get against.
func SeedDigest(size int, seed uint64) uint64 {
	// Mirrors FillValue and ValueDigest word by word, so the result equals
	// ValueDigest(FillValue(make([]byte, size), seed)) without the buffer.
	const m = 0x9fb21c651e98df25
	h := uint64(size) * 0xc2b2ae3d27d4eb4f
	s := splitmix64(seed)
	rest := size
	for ; rest >= 8; rest -= 8 {
		s += 0xa0761d6478bd642f
		hi, lo := bits.Mul64(s, s^0xe7037ed1a0b428db)
		hi, lo = bits.Mul64(h^(hi^lo), m)
		h = hi ^ lo
	}
	if rest > 0 {
		s += 0xa0761d6478bd642f
		hi, lo := bits.Mul64(s, s^0xe7037ed1a0b428db)
		w := (hi ^ lo) & (1<<(8*rest) - 1)
		hi, lo = bits.Mul64(h^w^0xff51afd7ed558ccd, m)
		h = hi ^ lo
	}
	return splitmix64(h)
}
