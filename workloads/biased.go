package workloads

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// Source is where a Biased generator draws its choices: Source(label, n)
// returns an integer in [0, n), n >= 1. The label names the choice ("kind",
// "key", "size-class") so a property-based tester can log it. RandSource
// adapts a *rand.Rand; RapidSource (rapid.go) adapts a *rapid.T, whose
// shrinker then pulls every choice toward 0 — which is why every choice is
// laid out simplest first.
type Source func(label string, n int) int

// RandSource returns a Source drawing from rng.
func RandSource(rng *rand.Rand) Source {
	return func(_ string, n int) int { return rng.IntN(n) }
}

// Alphabet returns the ops a Biased generator draws from, simplest first:
// a shrinker that lowers the op choice turns a reboot into a maintenance
// op, a maintenance op into a list, and so on down to a get.
func Alphabet() []OpKind {
	return []OpKind{
		OpGet, OpPut, OpDelete, OpList,
		OpIndexFlush, OpSuperblockFlush, OpCacheFlush, OpCompact, OpReclaim,
		OpCleanReboot, OpDirtyReboot, OpFailDiskOnce,
	}
}

// DefaultWeights returns the default op weights of a Biased generator:
// mostly puts and gets, some deletes and lists, occasional maintenance and
// clean reboots. DirtyReboot and FailDiskOnce are off (0): the crash checker
// and fault-injection suites turn them on.
func DefaultWeights() map[OpKind]int {
	return map[OpKind]int{
		OpGet: 30, OpPut: 30, OpDelete: 8, OpList: 6,
		OpIndexFlush: 3, OpSuperblockFlush: 2, OpCacheFlush: 2, OpCompact: 3, OpReclaim: 3,
		OpCleanReboot: 2,
	}
}

// BiasedOptions configure a Biased generator. The zero value is valid:
// every field's default is given with it.
type BiasedOptions struct {
	// Weights are the relative weights of the ops of Alphabet; a kind
	// absent or weighted 0 is never drawn. Nil means DefaultWeights().
	Weights map[OpKind]int
	// HitPercent is the percentage of Gets, Deletes and lists that start
	// at a key already put (default 90; a negative value means 0: keys are
	// drawn from the whole key space).
	HitPercent int
	// Keys is the size of the key space (default 64). A small key space
	// makes overwrites and deletes of live keys common.
	Keys int
	// BinaryKeys replaces the readable key names ("k17") with binary keys of
	// lengths biased to 1 byte, engine.KeyMax bytes and in between, derived
	// from the key number. The key space is still Keys keys.
	BinaryKeys bool
	// PageBytes, ChunkBytes and ExtentBytes are the boundaries value sizes
	// cluster around (±1): default PageBytes, ChunkBytes, ExtentBytes. Give
	// the engine's own, made tiny in tests.
	PageBytes, ChunkBytes, ExtentBytes int
	// ValueBytesMax caps value sizes (default ExtentBytes+1).
	ValueBytesMax int
	// ListMax bounds the n of a List (default 16; 0 in an op means all).
	ListMax int
	// Seed is mixed into every value seed, so two runs of the same choices
	// with different Seeds write different bytes (default 0).
	Seed uint64
}

// Defaults of BiasedOptions.
const (
	HitPercentDefault = 90
	KeysDefault       = 64
	ListMaxDefault    = 16
)

// EnsureDefaults fills in zero fields.
func (o *BiasedOptions) EnsureDefaults() {
	if o.Weights == nil {
		o.Weights = DefaultWeights()
	}
	if o.HitPercent == 0 {
		o.HitPercent = HitPercentDefault
	}
	if o.Keys == 0 {
		o.Keys = KeysDefault
	}
	if o.PageBytes == 0 {
		o.PageBytes = PageBytes
	}
	if o.ChunkBytes == 0 {
		o.ChunkBytes = ChunkBytes
	}
	if o.ExtentBytes == 0 {
		o.ExtentBytes = ExtentBytes
	}
	if o.ValueBytesMax == 0 {
		o.ValueBytesMax = o.ExtentBytes + 1
	}
	if o.ListMax == 0 {
		o.ListMax = ListMaxDefault
	}
}

// Validate reports every problem with o (after EnsureDefaults).
func (o *BiasedOptions) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	// Walk the kinds in order, not the map, so the message is the same
	// every time.
	total := 0
	inAlphabet := map[OpKind]bool{}
	for _, k := range Alphabet() {
		inAlphabet[k] = true
	}
	for i := range 256 {
		k := OpKind(i)
		w, ok := o.Weights[k]
		if !ok {
			continue
		}
		if !inAlphabet[k] && w != 0 {
			bad("weight of %v: not in the biased alphabet", k)
		}
		if w < 0 {
			bad("weight of %v is %d: weights are 0 or more", k, w)
		}
		if inAlphabet[k] {
			total += max(w, 0)
		}
	}
	if total == 0 {
		bad("every op weight is zero")
	}
	if o.HitPercent > 100 {
		bad("HitPercent %d is above 100", o.HitPercent)
	}
	if o.Keys < 1 || o.Keys > 1<<24 {
		bad("Keys %d: the key space is 1 to %d keys", o.Keys, 1<<24)
	}
	if o.PageBytes < 2 || o.ChunkBytes < 2 || o.ExtentBytes < 2 {
		bad("page, chunk and extent sizes must be at least 2 bytes (page %d, chunk %d, extent %d)", o.PageBytes, o.ChunkBytes, o.ExtentBytes)
	}
	if o.ValueBytesMax < 1 {
		bad("ValueBytesMax %d is below 1", o.ValueBytesMax)
	}
	if o.ListMax < 1 {
		bad("ListMax %d is below 1", o.ListMax)
	}
	return errors.Join(errs...)
}

// Biased draws a checker's ops: an alphabet ordered simplest first,
// configurable weights, gets that mostly hit keys already put, value sizes
// clustered at page, chunk and extent boundaries ±1, and a small key space
// of short readable keys so collisions happen.
//
// It remembers the keys it has drawn puts for, so it is stateful: draw each
// test case's ops from a fresh Biased. It is not safe for concurrent use.
type Biased struct {
	o      BiasedOptions
	kinds  []OpKind // the alphabet with non-zero weights, in order
	cum    []int    // cumulative weights of kinds
	put    []int    // key numbers put so far, in first-put order
	isPut  map[int]bool
	sizes  []int // size classes at boundaries: see size
	keys   [][]byte
	nDrawn uint64
}

// NewBiased returns a generator with options o (defaults filled in).
func NewBiased(o BiasedOptions) (*Biased, error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("workloads: biased generator: %w", err)
	}
	b := &Biased{o: o, isPut: map[int]bool{}}
	total := 0
	for _, k := range Alphabet() {
		if w := o.Weights[k]; w > 0 {
			total += w
			b.kinds = append(b.kinds, k)
			b.cum = append(b.cum, total)
		}
	}
	b.sizes = []int{
		0, 1,
		o.PageBytes - 1, o.PageBytes, o.PageBytes + 1,
		o.ChunkBytes - 1, o.ChunkBytes, o.ChunkBytes + 1,
		o.ExtentBytes - 1, o.ExtentBytes, o.ExtentBytes + 1,
	}
	b.keys = make([][]byte, o.Keys)
	for i := range b.keys {
		b.keys[i] = b.makeKey(i)
	}
	return b, nil
}

// Options returns the options in use, defaults filled in.
func (b *Biased) Options() BiasedOptions { return b.o }

// Key returns the key of key number i (0 <= i < Keys): "k17", or a binary
// key when BinaryKeys is set.
func (b *Biased) Key(i int) []byte { return b.keys[i] }

func (b *Biased) makeKey(i int) []byte {
	if !b.o.BinaryKeys {
		return strconv.AppendInt([]byte{'k'}, int64(i), 10)
	}
	// Lengths cycle through the boundaries, the rest in between; the bytes
	// come from FillValue so they cover all 256 values. Key i's first bytes
	// hold i, so distinct key numbers give distinct keys.
	var n int
	switch i % 4 {
	case 0:
		n = 1 + i/4%4 // 1 to 4 bytes: the shortest keys
	case 1:
		n = engine.KeyMax - i/4%4
	default:
		n = 5 + int(splitmix64(uint64(i))%uint64(engine.KeyMax-8))
	}
	if n < 4 && i >= 1<<(8*n) {
		n = 4 // n bytes cannot hold i: keep the key unique
	}
	k := make([]byte, max(n, 4))
	FillValue(k, uint64(i)^0x6b6579)
	k[0], k[1], k[2], k[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	if n < 4 {
		k = k[4-n:]
	}
	return k
}

// PutKeys returns the number of distinct keys put so far.
func (b *Biased) PutKeys() int { return len(b.put) }

// Check reports a capability e lacks that the enabled ops need: List needs
// engine.Lister, maintenance ops engine.Maintainer. Reboots and disk faults
// are the checker's to provide.
func (b *Biased) Check(e engine.Engine) error {
	var errs []error
	for _, k := range b.kinds {
		switch {
		case k == OpList:
			if _, ok := e.(engine.Lister); !ok {
				errs = append(errs, fmt.Errorf("list is enabled and engine %T does not implement engine.Lister", e))
			}
		case k.maintenance():
			if _, ok := e.(engine.Maintainer); !ok {
				errs = append(errs, fmt.Errorf("%v is enabled and engine %T does not implement engine.Maintainer", k, e))
			}
		}
	}
	lim := engine.LimitsOf(e)
	if b.o.ValueBytesMax > lim.ValueMax {
		errs = append(errs, fmt.Errorf("values up to %d bytes, above engine %T's maximum of %d", b.o.ValueBytesMax, e, lim.ValueMax))
	}
	if b.o.BinaryKeys && lim.KeyMax < engine.KeyMax {
		errs = append(errs, fmt.Errorf("binary keys up to %d bytes, above engine %T's maximum of %d", engine.KeyMax, e, lim.KeyMax))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("workloads: biased generator: %w", err)
	}
	return nil
}

// Draw draws the next op from rng.
func (b *Biased) Draw(rng *rand.Rand) Op { return b.DrawFrom(RandSource(rng)) }

// DrawFrom draws the next op from src. Every choice's 0 is its simplest
// outcome: the first enabled op, a key already put, the first key, size 0.
func (b *Biased) DrawFrom(src Source) Op {
	w := src("kind", b.cum[len(b.cum)-1])
	i := 0
	for w >= b.cum[i] {
		i++
	}
	op := Op{Kind: b.kinds[i]}
	b.nDrawn++
	switch op.Kind {
	case OpGet, OpDelete:
		op.Key = b.keys[b.existingKey(src)]
	case OpPut:
		k := src("key", b.o.Keys)
		op.Key = b.keys[k]
		op.Size = b.size(src)
		op.Seed = splitmix64(b.o.Seed ^ splitmix64(b.nDrawn))
		if !b.isPut[k] {
			b.isPut[k] = true
			b.put = append(b.put, k)
		}
	case OpList:
		// Start: 0 means from the first key; else an existing key (mostly)
		// or any. End: 0 means no bound.
		if src("list-from", 2) == 1 {
			op.Key = b.keys[b.existingKey(src)]
		}
		if e := src("list-end", b.o.Keys+1); e > 0 {
			op.End = b.keys[e-1]
		}
		op.ScanLen = src("list-n", b.o.ListMax+1)
	case OpDirtyReboot, OpFailDiskOnce:
		op.Seed = uint64(src("fault-seed", 1<<30))
	}
	return op
}

// existingKey draws a key number: with probability HitPercent one already
// put (if any), else any.
func (b *Biased) existingKey(src Source) int {
	if len(b.put) > 0 && src("hit", 100) < b.o.HitPercent {
		return b.put[src("put-key", len(b.put))]
	}
	return src("key", b.o.Keys)
}

// sizeClasses is the number of value size classes: the 11 boundary sizes of
// b.sizes (0, 1, page±1, chunk±1, extent±1), small (2..64 bytes), and
// anything up to ValueBytesMax.
const sizeClasses = 13

// size draws a value size, mostly at the boundaries.
func (b *Biased) size(src Source) int {
	c := src("size-class", sizeClasses)
	var n int
	switch {
	case c < len(b.sizes):
		n = b.sizes[c]
	case c == len(b.sizes):
		n = 2 + src("size-small", 63)
	default:
		n = src("size-any", b.o.ValueBytesMax+1)
	}
	return min(n, b.o.ValueBytesMax)
}
