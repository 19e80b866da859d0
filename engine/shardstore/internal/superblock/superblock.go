// Package superblock persists the extent table — each extent's soft write
// pointer, generation and owner — and a small root blob for the layer above
// (the index keeps its metadata's locator there).
//
// # Slots
//
// Extent 0 holds two slots. Writes alternate between them, and each carries
// a sequence number one higher than the last and a CRC-32C over its bytes,
// so a crash while one slot is being written leaves the other intact.
// Recovery reads both and takes the valid one with the higher sequence; no
// valid slot is an error wrapping engine.ErrCorruption.
//
// # Soft write pointers and dependencies
//
// The write pointer a slot records for an extent covers the data issued
// before the slot was prepared (DataIssued reports it): the data written
// by earlier rounds, which an earlier flush made durable, and the data of
// the slot's own round, which the one flush after the round makes durable
// together with the slot. A root likewise goes into a slot once every
// write it depends on is issued (dep.Dependency.IsIssued), not only once it
// is durable. One flush, not two, then makes a write, the index naming it
// and the superblock naming the index durable.
//
// The price is that a crash during that flush can keep the new slot and
// lose some of its round's writes. Recovery therefore verifies the newest
// slot against the other one (Verify): every frame between the older
// slot's write pointer and the newer's must be valid, and a CRC of their
// headers (UUIDs and checksums) must match the one the slot carries. The
// older slot was written by the previous flush round, which completed
// before this one started, so everything it names is durable. If the
// newest does not verify, recovery takes the older slot and first writes
// it again, with a higher sequence, over the newer one (Fallback), so that
// data written after recovery can never make the abandoned slot verify on
// a later recovery. Every open then starts an epoch (Begin): one more slot,
// whose sequence the store draws its frame UUIDs from, so the frames of
// two opens never share UUIDs. A clean close ends with a slot that
// advances nothing (Confirm), so the slot of the last data round is never
// the one recovery verifies.
//
// A chunk is durable once both its bytes and a superblock covering them
// are: WaitWritePointer registers a node that completes when a persisted
// slot records the chunk's extent at its generation with a write pointer
// at or past the chunk's end. This is the dependency the paper's bug #8
// lacked.
//
// A reset is durable once a slot records the extent's new generation:
// WaitGeneration. The first append to a reset extent depends on it, so a
// crash can never leave new data on the device under a superblock that
// still records the extent's old generation and write pointer.
//
// # Cadence
//
// The Manager implements iosched.Metadata: the IO scheduler asks it before
// every flush whether the superblock changed, writes it if so, and reports
// when it is durable. Changes nobody waits for are persisted at the
// scheduler's flush cadence; a waiter makes it urgent.
//
// # Concurrency
//
// A Manager is safe for concurrent use.
package superblock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// ErrReset fails the write-pointer node of a chunk whose extent was reset
// before the chunk was persisted: it never will be.
var ErrReset = errors.New("superblock: extent reset before the write was persisted")

// Recovered is what Recover found.
type Recovered struct {
	Image Image
	Slot  int // the slot it came from
	// Other is the other slot's image, if it is valid (OtherValid): the
	// state before Image's round, against which Image is verified.
	Other      Image
	OtherValid bool
	// FellBack reports that the newest slot did not verify and Image is
	// the older one, written again over it (see Fallback).
	FellBack bool
	// Seen is the highest sequence of any slot Recover decoded, verified
	// or not. Every slot written after recovery must be above it: a
	// sequence written again would draw the chunk UUIDs of the round that
	// wrote it (the paper's #15, identifiers assumed unique reused).
	Seen uint64
}

// WriteSlot writes img to slot (0 or 1) and flushes the device.
func WriteSlot(dev disk.Device, geo extent.Geometry, slot int, img Image) error {
	n := SlotBytes(geo.Count, geo.SectorSize)
	b := disk.AlignedBuffer(int(n))
	EncodeInto(b, img)
	if _, err := dev.WriteAt(b, int64(slot)*n); err != nil {
		return fmt.Errorf("superblock: write slot %d: %w", slot, err)
	}
	if err := dev.Flush(); err != nil {
		return fmt.Errorf("superblock: write slot %d: %w", slot, err)
	}
	return nil
}

// Begin starts a new epoch of the store recovered as r: it writes r's
// state again, one sequence higher, over the older slot, and flushes. The
// store's frames then carry UUIDs drawn from the new sequence, so two
// opens of one durable state never write the same UUIDs: without that, a
// store reopened after a failure (with a fixed seed, as the checkers run
// it) wrote byte-identical headers over the frames of the attempt before,
// and a slot covering frames that never reached the device verified
// against the earlier attempt's frames in their place. r must have been
// verified.
func Begin(dev disk.Device, geo extent.Geometry, r Recovered) (Recovered, error) {
	img := r.Image
	img.Sequence++
	img.DeltaCRC = 0 // it advances past the older slot (r.Image) over nothing
	slot := 1 - r.Slot
	if err := WriteSlot(dev, geo, slot, img); err != nil {
		return Recovered{}, err
	}
	return Recovered{Image: img, Slot: slot, Other: r.Image, OtherValid: true, FellBack: r.FellBack, Seen: r.Seen}, nil
}

// Fallback makes the older slot of r current: it writes it again, with a
// sequence above the newer one's, over the newer one, and returns the
// result. Recovery calls it when the newer slot did not verify.
func Fallback(dev disk.Device, geo extent.Geometry, r Recovered) (Recovered, error) {
	if !r.OtherValid {
		return Recovered{}, fmt.Errorf("superblock: fallback without a valid older slot: %w", engine.ErrCorruption)
	}
	img := r.Other
	img.Sequence = r.Image.Sequence + 1
	img.DeltaCRC = 0 // it advances past the older slot (itself) over nothing
	if err := WriteSlot(dev, geo, r.Slot, img); err != nil {
		return Recovered{}, err
	}
	return Recovered{Image: img, Slot: r.Slot, Other: r.Other, OtherValid: true, FellBack: true, Seen: r.Seen}, nil
}

// Format writes a fresh superblock for geo to both slots and flushes: every
// extent but 0 free at generation 0, sequence 1 in slot 0 and 0 in slot 1.
func Format(dev disk.Device, geo extent.Geometry) error {
	slot := SlotBytes(geo.Count, geo.SectorSize)
	if 2*slot > geo.ExtentBytes {
		return fmt.Errorf("superblock: two slots of %d bytes do not fit in an extent of %d bytes; use larger extents or fewer", slot, geo.ExtentBytes)
	}
	img := Image{ExtentBytes: geo.ExtentBytes, Records: make([]Record, geo.Count)}
	img.Records[0].Owner = extent.Super
	for i := 1; i >= 0; i-- {
		img.Sequence = uint64(1 - i)
		b := disk.AlignedBuffer(int(slot))
		EncodeInto(b, img)
		if _, err := dev.WriteAt(b, int64(i)*slot); err != nil {
			return fmt.Errorf("superblock: format slot %d: %w", i, err)
		}
	}
	if err := dev.Flush(); err != nil {
		return fmt.Errorf("superblock: format: %w", err)
	}
	return nil
}

// Recover reads both slots and returns the newest valid one, checked
// against geo.
func Recover(dev disk.Device, geo extent.Geometry) (Recovered, error) {
	slot := SlotBytes(geo.Count, geo.SectorSize)
	if 2*slot > geo.ExtentBytes {
		return Recovered{}, fmt.Errorf("superblock: two slots of %d bytes do not fit in an extent of %d bytes", slot, geo.ExtentBytes)
	}
	var best Recovered
	found := false
	var errs []error
	var imgs [2]*Image
	for i := 0; i < 2; i++ {
		b := disk.AlignedBuffer(int(slot))
		if _, err := dev.ReadAt(b, int64(i)*slot); err != nil {
			errs = append(errs, fmt.Errorf("slot %d: %w", i, err))
			continue
		}
		img, err := Decode(b)
		if err == nil && (img.ExtentBytes != geo.ExtentBytes || len(img.Records) != int(geo.Count)) {
			err = fmt.Errorf("superblock: slot %d describes %d extents of %d bytes, the options %d of %d bytes: %w",
				i, len(img.Records), img.ExtentBytes, geo.Count, geo.ExtentBytes, engine.ErrInvalidArgument)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("slot %d: %w", i, err))
			continue
		}
		imgs[i] = &img
		newer := img.Sequence > best.Image.Sequence
		if mutant.On(mutant.OlderSlotChosen) {
			newer = img.Sequence < best.Image.Sequence
		}
		if !found || newer {
			best, found = Recovered{Image: img, Slot: i}, true
		}
	}
	if !found {
		// One line: the slots' errors are separated by "; ", not by the
		// newline of errors.Join, since the CLI shows errors as one line.
		verbs := strings.TrimSuffix(strings.Repeat("%w; ", len(errs)), "; ")
		return Recovered{}, fmt.Errorf("superblock: no valid slot: "+verbs, anys(errs)...)
	}
	if o := imgs[1-best.Slot]; o != nil {
		best.Other, best.OtherValid = *o, true
	}
	for _, img := range imgs {
		if img != nil {
			best.Seen = max(best.Seen, img.Sequence)
		}
	}
	ok, err := true, error(nil)
	if !mutant.On(mutant.SlotNotVerified) {
		ok, err = Verify(dev, geo, best)
	}
	if err != nil {
		return Recovered{}, err
	}
	if !ok {
		// The newest slot's round did not finish its flush.
		return Fallback(dev, geo, best)
	}
	return best, nil
}

type waiter struct {
	node *dep.Node
	gen  uint32
	pos  int64
}

type extState struct {
	issGen uint32 // data is issued up to issWP at generation issGen
	issWP  int64
	pers   Record // as last persisted
	// acc is the CRC-32C of the headers of the frames issued at generation
	// issGen from accFrom (the write pointer of the last slot prepared) to
	// issWP: the extent's part of the next slot's DeltaCRC.
	acc        uint32
	accFrom    int64
	wpWaiters  []waiter // by pos; appends arrive in order
	genWaiters []waiter
	// abandonedGen/abandonedAt: the first append of generation abandonedGen
	// at or past offset abandonedAt was abandoned (its dependency failed);
	// abandonedAt is -1 if none was.
	abandonedGen uint32
	abandonedAt  int64
}

type rootUpdate struct {
	data []byte
	dep  dep.Dependency
	node *dep.Node
}

// token is a prepared slot write.
type token struct {
	img   Image
	slot  int
	roots int  // root updates included (a prefix of m.roots)
	delta bool // the slot advances some write pointer (Confirm)
}

// Manager keeps the superblock.
type Manager struct {
	geo       extent.Geometry
	table     *extent.Table
	g         *dep.Graph
	slotBytes int64
	snap      []extent.Info // Prepare's copy of the table (only the scheduler calls Prepare)

	mu       conc.Mutex
	seq      uint64 // of the last persisted slot
	slot     int    // the last persisted slot
	ext      []extState
	root     []byte // persisted
	roots    []rootUpdate
	dirty    bool
	buf      []byte
	inflight bool
	writes   int64
	// unconfirmed: the last slot persisted advanced write pointers, so
	// recovery would verify it (see Confirm); force makes the next
	// Prepare write a slot even if nothing changed.
	unconfirmed bool
	force       bool
}

// NewManager returns a manager that continues from rec, keeping table (which
// the caller restored from rec) persisted.
func NewManager(geo extent.Geometry, table *extent.Table, g *dep.Graph, rec Recovered) *Manager {
	m := &Manager{
		geo: geo, table: table, g: g,
		slotBytes: SlotBytes(geo.Count, geo.SectorSize),
		seq:       rec.Image.Sequence,
		slot:      rec.Slot,
		ext:       make([]extState, geo.Count),
		root:      slices.Clone(rec.Image.Root),
	}
	for i, r := range rec.Image.Records {
		m.ext[i] = extState{issGen: r.Generation, issWP: r.WritePointer, accFrom: r.WritePointer, pers: r, abandonedAt: -1}
	}
	m.buf = disk.AlignedBuffer(int(m.slotBytes))
	return m
}

// SlotBytes is the size of one slot.
func (m *Manager) SlotBytes() int64 { return m.slotBytes }

// Root returns the persisted root blob.
func (m *Manager) Root() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.root)
}

// Sequence returns the sequence number of the last persisted slot.
func (m *Manager) Sequence() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq
}

// Writes returns the number of slot writes persisted since NewManager.
func (m *Manager) Writes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// PersistedRecord returns the last persisted record of extent e.
func (m *Manager) PersistedRecord(e extent.ID) Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ext[e].pers
}

// WaitWritePointer registers n (a node on no other path to completion): it
// completes once a persisted slot records extent e at generation gen with a
// write pointer of at least pos, and fails with ErrReset if the extent is
// reset first. Registrations for one extent and generation come in pos
// order.
func (m *Manager) WaitWritePointer(e extent.ID, gen uint32, pos int64, n *dep.Node) {
	m.mu.Lock()
	defer m.mu.Unlock()
	x := &m.ext[e]
	if k := len(x.wpWaiters); k > 0 && x.wpWaiters[k-1].gen == gen && x.wpWaiters[k-1].pos > pos {
		panic(fmt.Sprintf("superblock: extent %d: waiter at %d after one at %d", e, pos, x.wpWaiters[k-1].pos))
	}
	x.wpWaiters = append(x.wpWaiters, waiter{node: n, gen: gen, pos: pos})
}

// WaitGeneration registers n: it completes once a persisted slot records
// extent e at generation gen or later — at once, if the last persisted
// slot already does.
//
// That case is not rare: a reset changes the extent table before its
// caller gets here, and the IO scheduler may prepare, write and persist a
// slot from that table in between. Persisted then found no waiter to
// complete, and no later slot would ever differ from it, so registering
// n as a waiter would leave it pending forever (and a Sync waiting on it
// hung with the scheduler idle).
func (m *Manager) WaitGeneration(e extent.ID, gen uint32, n *dep.Node) {
	m.mu.Lock()
	if m.ext[e].pers.Generation >= gen {
		m.mu.Unlock()
		m.g.MarkDurable(n) // without m.mu: the graph's lock is a leaf
		return
	}
	m.ext[e].genWaiters = append(m.ext[e].genWaiters, waiter{node: n, gen: gen})
	m.dirty = true
	m.mu.Unlock()
}

// Touch records that the table changed (an extent was allocated or reset):
// the superblock is dirty.
func (m *Manager) Touch() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dirty = true
}

// Reset records that extent e was reset to generation gen: write-pointer
// waiters of earlier generations fail with ErrReset.
func (m *Manager) Reset(e extent.ID, gen uint32) {
	m.mu.Lock()
	x := &m.ext[e]
	var failed []*dep.Node
	x.wpWaiters = slices.DeleteFunc(x.wpWaiters, func(w waiter) bool {
		if w.gen < gen {
			failed = append(failed, w.node)
			return true
		}
		return false
	})
	m.dirty = true
	m.mu.Unlock()
	for _, n := range failed {
		m.g.MarkFailed(n, fmt.Errorf("extent %d generation %d: %w", e, gen-1, ErrReset))
	}
}

// ErrAbandoned fails the write-pointer nodes of chunks at or after an
// abandoned append in the same extent generation: see Abandoned.
var ErrAbandoned = errors.New("superblock: an earlier append to the extent was abandoned")

// Abandoned records that the append at off of extent e, generation gen, was
// abandoned because its dependency failed (its bytes are padding). The
// write-pointer nodes of that extent generation at or past it then fail
// instead of completing: a write-pointer node being durable must imply that
// every chunk before it in the extent is (dep chains rely on it), so one
// abandoned chunk fails the later chunks of its extent generation too. Only
// a caller that builds on data it then resets before it is persisted can
// cause this.
func (m *Manager) Abandoned(e extent.ID, gen uint32, off int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	x := &m.ext[e]
	if x.abandonedAt < 0 || x.abandonedGen != gen || off < x.abandonedAt {
		x.abandonedGen, x.abandonedAt = gen, off
	}
}

// SetRoot replaces the root blob once d is persistent. n completes when a
// persisted slot holds this root or a later one.
func (m *Manager) SetRoot(data []byte, d dep.Dependency, n *dep.Node) {
	if len(data) > format.RootMax {
		panic(fmt.Sprintf("superblock: root of %d bytes, at most %d", len(data), format.RootMax))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roots = append(m.roots, rootUpdate{data: slices.Clone(data), dep: d, node: n})
	m.dirty = true
}

// Want implements iosched.Metadata. It is never urgent by itself: the
// scheduler knows when someone waits (a dep.Graph waiter, or a queued write
// blocked on a dependency) and flushes at once then.
//
// A pending root whose dependency has become persistent makes the
// superblock dirty too: Prepare skips a root that is not yet persistent and
// clears the flag, and nothing else would mark it again when the root's
// dependency completes — with no further data to write, the root would
// never be recorded and a Sync waiting on it would wait forever.
func (m *Manager) Want() (dirty, urgent bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dirty {
		return true, false
	}
	if !m.inflight {
		for _, r := range m.roots {
			if r.dep.IsIssued() {
				return true, false
			}
		}
	}
	return false, false
}

// DataIssued implements iosched.Metadata.
func (m *Manager) DataIssued(e extent.ID, gen uint32, start int64, frames [][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	x := &m.ext[e]
	if x.issGen != gen {
		if gen < x.issGen {
			return // a late write of a generation since reset
		}
		x.issGen, x.issWP, x.acc, x.accFrom = gen, 0, 0, 0
	}
	if start != x.issWP {
		panic(fmt.Sprintf("superblock: extent %d generation %d: writes issued at %d after %d", e, gen, start, x.issWP))
	}
	for _, f := range frames {
		x.acc = format.CRC(x.acc, f[:format.FrameHeaderSize])
		x.issWP += int64(len(f))
	}
	if len(frames) > 0 {
		m.dirty = true
	}
}

// deltaBase is where the bytes a slot recording r covers past the slot
// recording old begin: old's write pointer if both record the same
// generation and owner, else the extent's start.
func deltaBase(r, old Record) int64 {
	if r.Generation == old.Generation && r.Owner == old.Owner {
		return old.WritePointer
	}
	return 0
}

// deltaCRC folds one extent's CRC into a slot's DeltaCRC.
func deltaCRC(total uint32, e int, crc uint32) uint32 {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:], uint32(e))
	binary.LittleEndian.PutUint32(b[4:], crc)
	return format.CRC(total, b[:])
}

// Confirm implements iosched.Metadata: the scheduler calls it when it
// closes, with every write flushed. If the last slot persisted advanced
// write pointers, recovery would verify the bytes it covers, and would
// take a bit flipped in them on the device for a round that never
// finished, rolling back writes a completed flush acknowledged. Confirm
// then makes the superblock dirty, so that one more slot, advancing
// nothing, follows: the slot it confirms becomes the older one, which
// recovery trusts, and a flipped bit is reported where it is read.
func (m *Manager) Confirm() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.unconfirmed || m.inflight {
		return false
	}
	m.dirty, m.force = true, true
	return true
}

// Verify reports whether every frame the newest slot of r records past the
// older slot's write pointers is on dev as it was issued: each must be a
// valid frame, and the CRC of their headers (checksum and UUID included)
// must match the slot's DeltaCRC. A mismatch means the flush of the
// slot's round did not complete; the older slot is then the durable state
// (Fallback). With no valid older slot, the newest was written by a round
// that completed (the older one was torn by a later round's crash).
func Verify(dev disk.Device, geo extent.Geometry, r Recovered) (bool, error) {
	if !r.OtherValid {
		return true, nil
	}
	sector := int64(geo.SectorSize)
	var total uint32
	for i, rec := range r.Image.Records {
		if rec.Owner == extent.Free || rec.Owner == extent.Super {
			continue
		}
		lo := deltaBase(rec, r.Other.Records[i])
		if rec.WritePointer <= lo {
			continue
		}
		start := lo / sector * sector
		end := (rec.WritePointer + sector - 1) / sector * sector
		buf := disk.NewBuffer(dev, int(end-start))
		if _, err := dev.ReadAt(buf, geo.Base(extent.ID(i))+start); err != nil {
			return false, fmt.Errorf("superblock: verify sequence %d: read extent %d: %w", r.Image.Sequence, i, err)
		}
		var crc uint32
		for pos := lo; pos < rec.WritePointer; {
			n, ok := format.FrameSize(buf[pos-start : rec.WritePointer-start])
			if !ok {
				return false, nil // torn, never written, or another write's frame
			}
			crc = format.CRC(crc, buf[pos-start:pos-start+format.FrameHeaderSize])
			pos += int64(n)
		}
		total = deltaCRC(total, i, crc)
	}
	return total == r.Image.DeltaCRC, nil
}

// Prepare implements iosched.Metadata.
func (m *Manager) Prepare() ([]byte, int64, any, bool) {
	m.snap = m.table.SnapshotInto(m.snap)
	snap := m.snap
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.inflight {
		panic("superblock: Prepare with a write in flight")
	}
	m.dirty = false
	img := Image{ExtentBytes: m.geo.ExtentBytes, Records: make([]Record, len(snap))}
	changed, delta := false, false
	for i, info := range snap {
		r := Record{Generation: info.Generation, Owner: info.Owner}
		x := &m.ext[i]
		if info.Owner != extent.Free && info.Owner != extent.Super && x.issGen == info.Generation {
			r.WritePointer = min(x.issWP, info.WritePointer)
		}
		img.Records[i] = r
		if r != x.pers {
			changed = true
		}
		if lo := deltaBase(r, x.pers); r.WritePointer > lo {
			if x.accFrom != lo || r.WritePointer != x.issWP {
				panic(fmt.Sprintf("superblock: extent %d: slot covers [%d, %d), issued bytes checked [%d, %d)", i, lo, r.WritePointer, x.accFrom, x.issWP))
			}
			img.DeltaCRC = deltaCRC(img.DeltaCRC, i, x.acc)
			delta = true
		}
	}
	if m.force {
		changed, m.force = true, false
	}
	img.Root = m.root
	nroots := 0
	for i := len(m.roots) - 1; i >= 0; i-- {
		if mutant.On(mutant.SlotTakesUnissuedRoot) || m.roots[i].dep.IsIssued() {
			nroots = i + 1
			img.Root = m.roots[i].data
			changed = true
			break
		}
	}
	if !changed {
		return nil, 0, nil, false
	}
	img.Sequence = m.seq + 1
	slot := 1 - m.slot
	// The next slot's delta starts where this one ends.
	for i := range m.ext {
		x := &m.ext[i]
		x.acc, x.accFrom = 0, img.Records[i].WritePointer
	}
	EncodeInto(m.buf, img)
	m.inflight = true
	return m.buf, int64(slot) * m.slotBytes, &token{img: img, slot: slot, roots: nroots, delta: delta}, true
}

// Persisted implements iosched.Metadata.
func (m *Manager) Persisted(tok any) {
	t := tok.(*token)
	var done []*dep.Node
	type failure struct {
		n   *dep.Node
		err error
	}
	var failed []failure
	// The write-pointer waiters a slot completes (one per chunk written
	// since the last slot: tens of thousands under a stream of small puts)
	// leave their lists as whole prefixes, collected after the unlock:
	// every put registers one under m.mu, and a put that waited for a
	// walk of them all parked.
	var wpDone [][]waiter
	m.mu.Lock()
	m.inflight = false
	m.unconfirmed = t.delta
	m.seq, m.slot = t.img.Sequence, t.slot
	m.writes++
	m.root = t.img.Root
	taken := t.roots
	if mutant.On(mutant.SlotCompletesLaterRoots) {
		taken = len(m.roots) // roots set since Prepare too
	}
	for _, r := range m.roots[:taken] {
		done = append(done, r.node)
	}
	m.roots = slices.Delete(m.roots, 0, taken)
	for i, r := range t.img.Records {
		x := &m.ext[i]
		x.pers = r
		// Waiters are registered in (generation, position) order: those
		// this slot completes are the prefix of generation r.Generation
		// up to its write pointer (none if the list starts with another
		// generation).
		k := 0
		if len(x.wpWaiters) > 0 && x.wpWaiters[0].gen == r.Generation {
			k = sort.Search(len(x.wpWaiters), func(k int) bool {
				w := x.wpWaiters[k]
				return w.gen != r.Generation || w.pos > r.WritePointer
			})
		}
		if x.abandonedAt >= 0 {
			for _, w := range x.wpWaiters[:k] {
				if x.abandonedGen == w.gen && w.pos > x.abandonedAt {
					failed = append(failed, failure{w.node, fmt.Errorf("extent %d generation %d, chunk ending at %d: %w", i, w.gen, w.pos, ErrAbandoned)})
				} else {
					done = append(done, w.node)
				}
			}
		} else if k > 0 {
			wpDone = append(wpDone, x.wpWaiters[:k:k])
		}
		x.wpWaiters = x.wpWaiters[k:]
		if len(x.wpWaiters) == 0 {
			x.wpWaiters = nil // (not [k:k] of a large array: let it go)
		}
		x.genWaiters = slices.DeleteFunc(x.genWaiters, func(w waiter) bool {
			if r.Generation >= w.gen {
				done = append(done, w.node)
				return true
			}
			return false
		})
		if len(x.wpWaiters) > 0 || len(x.genWaiters) > 0 {
			m.dirty = true // maybe coverable by the next write
		}
	}
	if len(m.roots) > 0 {
		m.dirty = true
	}
	m.mu.Unlock()
	for _, ws := range wpDone {
		for _, w := range ws {
			done = append(done, w.node)
		}
	}
	m.g.MarkDurable(done...)
	for _, f := range failed {
		m.g.MarkFailed(f.n, f.err)
	}
}

func anys(errs []error) []any {
	a := make([]any, len(errs))
	for i, e := range errs {
		a[i] = e
	}
	return a
}
