// Package toystore is a small, honest storage engine on a disk.Device, with
// switches that inject known bugs. It exists to prove that the checkers can
// fail: each bug must be caught, with a short minimized sequence.
//
// # Format
//
// The device's first sector (512 bytes) holds the commit header; one
// append-only log starts after it (offset 512). Each record is
//
//	magic   uint16  0x7a5b
//	boot    uint32  the boot (open count) that wrote it
//	kind    uint8   1 put, 2 delete, 3 boot (klen and vlen 0)
//	klen    uint16
//	vlen    uint32
//	prev    uint32  crc of the previous record (0 for the first)
//	key     klen bytes
//	value   vlen bytes
//	crc     uint32  CRC-32C of everything above
//
// little-endian, back to back. Recovery scans from offset 512 and stops at
// the first record that is not valid: bad magic, lengths beyond the device,
// a checksum mismatch, or a prev that is not the crc of the record before.
// The chain and the boot number stop a record that survived a crash behind a
// lost one from coming back later: the record written over the lost one in
// a later boot never has the crc the survivor names. For that the boot
// number must never be reused, so Open appends a boot record and flushes it
// before it returns: a boot whose every other record was lost still counts.
// (Without it, a crash that lost a whole boot's records let the next boot
// rewrite them byte for byte, and a record behind them came back.)
//
// The commit header is
//
//	magic   uint16  0x7a5c
//	length  uint64  the end of the log the last Sync made durable
//	crc     uint32  CRC-32C of the above
//
// Sync flushes the log, then writes the header and flushes again; recovery
// refuses (engine.ErrCorruption) a log that ends before the header's
// length: durable records were lost. The header must never be durable
// before the log it covers, which takes the first flush; BugCommitFirst
// drops it.
//
// # Durability
//
// Writes reach the device at once (WriteAt) and become durable at the next
// Flush; Sync, Close and Maintain(IndexFlush) commit (flush, write the
// commit header, flush). A Dependency becomes
// persistent when a Flush that follows its write returns. The engine never
// closes the device: whoever opened it does.
//
// Get reads the record from the device and verifies its checksum, so an
// injected read error or bit flip gives an error, never wrong data.
package toystore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// Bug selects an injected bug.
type Bug string

// The bugs.
const (
	// BugNone is the correct engine.
	BugNone Bug = "none"
	// BugLoseLastWrite drops the last record of the log at recovery: the
	// last write before a reboot, synced or not, is lost.
	BugLoseLastWrite Bug = "lose-last-write"
	// BugStaleDelete writes the tombstone but leaves the key in the
	// in-memory index: Get returns the old value after Delete (until a
	// reboot rebuilds the index).
	BugStaleDelete Bug = "stale-delete"
	// BugEarlyPersist reports a Dependency persistent as soon as its write
	// reaches the device, before the device flush.
	BugEarlyPersist Bug = "early-persist"
	// BugNoChecksum skips the checksum on Get: a bit flipped on the way
	// from the device is returned as data. Only fault injection finds it.
	BugNoChecksum Bug = "no-checksum"
	// BugCommitFirst writes the commit header before the log it covers is
	// flushed, and flushes both at once: a crash between the header's
	// write and that flush can keep the header and lose the log, and the
	// store then cannot reopen. Only a crash inside a Sync finds it: the
	// header is written and flushed within the one call.
	BugCommitFirst Bug = "commit-first"
	// BugPersistOnFlushError takes an EIO from a device flush for a
	// transient error: it returns it, but marks the pending dependencies
	// persistent as if the flush had worked. Only a crash after an
	// injected flush error finds it: reopened on the same image the
	// writes are all still there, and a power cut's error is not an EIO.
	BugPersistOnFlushError Bug = "persist-on-flush-error"
	// BugBootReused skips the boot record Open appends, so a boot whose
	// every record was lost reuses its number: the next boot, writing the
	// same records again, rewrites them byte for byte, and a record that
	// survived behind them comes back (the paper's #15 class: identifiers
	// assumed unique reused). Only a crash whose lost writes are retried
	// (crash-version 4) finds it.
	BugBootReused Bug = "boot-reused"
	// BugUntrackedDelete returns no Dependency from DeleteTracked: the
	// delete is done and acknowledged, but nothing says when it is
	// durable, so a crash check that trusted it would never check the
	// delete's persistence (an AST mutant of shardstore's DeleteTracked,
	// err != nil negated, did this on every delete).
	BugUntrackedDelete Bug = "untracked-delete"
)

// Bugs lists every bug, BugNone first.
func Bugs() []Bug {
	return []Bug{BugNone, BugLoseLastWrite, BugStaleDelete, BugEarlyPersist, BugNoChecksum, BugCommitFirst, BugPersistOnFlushError, BugBootReused, BugUntrackedDelete}
}

const (
	magic      = 0x7a5b
	headerSize = 2 + 4 + 1 + 2 + 4 + 4
	crcSize    = 4
	kindPut    = 1
	kindDelete = 2
	kindBoot   = 3
	// logStart is where the log starts, after the commit header's sector.
	logStart    = 512
	commitMagic = 0x7a5c
	commitSize  = 2 + 8 + 4
	// ValueMax is the largest value toystore accepts.
	ValueMax = 1 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type loc struct {
	off  int64 // record start
	size int64 // whole record
}

// Store is the engine. It is safe for concurrent use (one mutex).
type Store struct {
	mu      sync.Mutex
	dev     disk.Device
	bug     Bug
	boot    uint32
	wp      int64
	lastCRC uint32
	index   map[string]loc
	pending []*dep // written, not yet flushed
	closed  bool
}

type dep struct {
	persistent atomic.Bool
	failed     atomic.Bool
}

func (d *dep) IsPersistent() bool { return d.persistent.Load() }

func (d *dep) Wait(ctx context.Context) error {
	if d.persistent.Load() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("toystore: write not persistent: call Sync")
}

// Open recovers the log on dev.
func Open(dev disk.Device, bug Bug) (*Store, error) {
	if !slices.Contains(Bugs(), bug) {
		return nil, fmt.Errorf("toystore: unknown bug %q", bug)
	}
	s := &Store{dev: dev, bug: bug, index: map[string]loc{}}
	type rec struct {
		l    loc
		key  string
		kind byte
		crc  uint32
		prev uint32
	}
	var recs []rec
	var off int64 = logStart
	var prev uint32
	hdr := make([]byte, headerSize)
	for {
		if off+headerSize+crcSize > dev.Size() {
			break
		}
		if _, err := dev.ReadAt(hdr, off); err != nil {
			return nil, fmt.Errorf("toystore: recover at %d: %w", off, err)
		}
		if binary.LittleEndian.Uint16(hdr) != magic {
			break
		}
		kind := hdr[6]
		klen := int64(binary.LittleEndian.Uint16(hdr[7:]))
		vlen := int64(binary.LittleEndian.Uint32(hdr[9:]))
		size := headerSize + klen + vlen + crcSize
		if (kind != kindPut && kind != kindDelete && kind != kindBoot) || (klen < 1) != (kind == kindBoot) || vlen > ValueMax || off+size > dev.Size() {
			break
		}
		b := make([]byte, size)
		if _, err := dev.ReadAt(b, off); err != nil {
			return nil, fmt.Errorf("toystore: recover at %d: %w", off, err)
		}
		crc := crc32.Checksum(b[:size-crcSize], crcTable)
		if crc != binary.LittleEndian.Uint32(b[size-crcSize:]) || binary.LittleEndian.Uint32(b[13:]) != prev {
			break
		}
		s.boot = max(s.boot, binary.LittleEndian.Uint32(b[2:]))
		recs = append(recs, rec{l: loc{off, size}, key: string(b[headerSize : headerSize+klen]), kind: kind, crc: crc, prev: prev})
		prev = crc
		off += size
	}
	if s.bug == BugLoseLastWrite {
		// The last put or delete goes, with the boot records after it.
		for j := len(recs) - 1; j >= 0; j-- {
			if recs[j].kind != kindBoot {
				off, prev = recs[j].l.off, recs[j].prev
				recs = recs[:j]
				break
			}
		}
	}
	for _, r := range recs {
		switch r.kind {
		case kindPut:
			s.index[r.key] = r.l
		case kindDelete:
			delete(s.index, r.key)
		}
	}
	if err := s.checkCommit(off); err != nil {
		return nil, err
	}
	s.wp, s.lastCRC = off, prev
	s.boot++
	if s.bug == BugBootReused {
		return s, nil
	}
	// The boot record, durable before Open returns, so this boot's number
	// is never reused (see the package documentation).
	if _, _, err := s.append(kindBoot, nil, nil); errors.Is(err, engine.ErrNoSpace) {
		return s, nil // a full log takes no record of this boot, nor any other
	} else if err != nil {
		return nil, err
	}
	if err := s.flush(); err != nil {
		return nil, err
	}
	return s, nil
}

// checkCommit refuses a log that ends at end, before the length the commit
// header says was made durable.
func (s *Store) checkCommit(end int64) error {
	b := make([]byte, commitSize)
	if _, err := s.dev.ReadAt(b, 0); err != nil {
		return fmt.Errorf("toystore: read the commit header: %w", err)
	}
	if binary.LittleEndian.Uint16(b) != commitMagic || crc32.Checksum(b[:commitSize-crcSize], crcTable) != binary.LittleEndian.Uint32(b[commitSize-crcSize:]) {
		return nil // never committed (a header torn by a crash is a sector: whole or not)
	}
	if l := int64(binary.LittleEndian.Uint64(b[2:])); end < l {
		return fmt.Errorf("toystore: the log ends at %d, before the %d bytes its commit header says are durable: %w", end, l, engine.ErrCorruption)
	}
	return nil
}

// commit makes the log durable and then records its length in the commit
// header (BugCommitFirst: the header first, one flush for both).
func (s *Store) commit() error {
	if s.bug != BugCommitFirst {
		if err := s.flush(); err != nil {
			return err
		}
	}
	b := make([]byte, commitSize)
	binary.LittleEndian.PutUint16(b, commitMagic)
	binary.LittleEndian.PutUint64(b[2:], uint64(s.wp))
	binary.LittleEndian.PutUint32(b[commitSize-crcSize:], crc32.Checksum(b[:commitSize-crcSize], crcTable))
	if _, err := s.dev.WriteAt(b, 0); err != nil {
		return fmt.Errorf("toystore: write the commit header: %w", err)
	}
	return s.flush()
}

func (s *Store) check(key []byte) error {
	if s.closed {
		return fmt.Errorf("toystore: %w", engine.ErrClosed)
	}
	if err := engine.CheckKey(key); err != nil {
		return fmt.Errorf("toystore: %w", err)
	}
	return nil
}

// Get implements engine.Engine.
func (s *Store) Get(_ context.Context, key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(key); err != nil {
		return nil, err
	}
	l, ok := s.index[string(key)]
	if !ok {
		return nil, fmt.Errorf("toystore: get %q: %w", key, engine.ErrNotFound)
	}
	b := make([]byte, l.size)
	if _, err := s.dev.ReadAt(b, l.off); err != nil {
		return nil, fmt.Errorf("toystore: get %q: %w", key, err)
	}
	klen := int(binary.LittleEndian.Uint16(b[7:]))
	if s.bug != BugNoChecksum && (crc32.Checksum(b[:l.size-crcSize], crcTable) != binary.LittleEndian.Uint32(b[l.size-crcSize:]) ||
		!bytes.Equal(b[headerSize:headerSize+klen], key)) {
		return nil, fmt.Errorf("toystore: get %q: record at %d fails its checksum: %w", key, l.off, engine.ErrCorruption)
	}
	return bytes.Clone(b[headerSize+klen : l.size-crcSize]), nil
}

// append writes one record and returns its location and dependency.
func (s *Store) append(kind byte, key, value []byte) (loc, *dep, error) {
	size := int64(headerSize + len(key) + len(value) + crcSize)
	if s.wp+size > s.dev.Size() {
		return loc{}, nil, fmt.Errorf("toystore: log full at %d: %w", s.wp, engine.ErrNoSpace)
	}
	b := make([]byte, size)
	binary.LittleEndian.PutUint16(b, magic)
	binary.LittleEndian.PutUint32(b[2:], s.boot)
	b[6] = kind
	binary.LittleEndian.PutUint16(b[7:], uint16(len(key)))
	binary.LittleEndian.PutUint32(b[9:], uint32(len(value)))
	binary.LittleEndian.PutUint32(b[13:], s.lastCRC)
	copy(b[headerSize:], key)
	copy(b[headerSize+len(key):], value)
	crc := crc32.Checksum(b[:size-crcSize], crcTable)
	binary.LittleEndian.PutUint32(b[size-crcSize:], crc)
	if _, err := s.dev.WriteAt(b, s.wp); err != nil {
		return loc{}, nil, fmt.Errorf("toystore: append at %d: %w", s.wp, err)
	}
	l := loc{s.wp, size}
	s.wp += size
	s.lastCRC = crc
	d := &dep{}
	if s.bug == BugEarlyPersist {
		d.persistent.Store(true)
	} else {
		s.pending = append(s.pending, d)
	}
	return l, d, nil
}

// PutTracked implements engine.Tracker.
func (s *Store) PutTracked(_ context.Context, key, value []byte) (engine.Dependency, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(key); err != nil {
		return nil, err
	}
	if err := engine.CheckValue(value, ValueMax); err != nil {
		return nil, fmt.Errorf("toystore: %w", err)
	}
	l, d, err := s.append(kindPut, key, value)
	if err != nil {
		return nil, err
	}
	s.index[string(key)] = l
	return d, nil
}

// DeleteTracked implements engine.Tracker.
func (s *Store) DeleteTracked(_ context.Context, key []byte) (engine.Dependency, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(key); err != nil {
		return nil, err
	}
	_, d, err := s.append(kindDelete, key, nil)
	if err != nil {
		return nil, err
	}
	if s.bug != BugStaleDelete {
		delete(s.index, string(key))
	}
	if s.bug == BugUntrackedDelete {
		return nil, nil
	}
	return d, nil
}

// Put implements engine.Engine.
func (s *Store) Put(ctx context.Context, key, value []byte) error {
	_, err := s.PutTracked(ctx, key, value)
	return err
}

// Delete implements engine.Engine.
func (s *Store) Delete(ctx context.Context, key []byte) error {
	_, err := s.DeleteTracked(ctx, key)
	return err
}

// flush flushes the device and settles the pending dependencies.
func (s *Store) flush() error {
	if err := s.dev.Flush(); err != nil {
		if s.bug == BugPersistOnFlushError && errors.Is(err, syscall.EIO) {
			for _, d := range s.pending {
				d.persistent.Store(true)
			}
			s.pending = s.pending[:0]
		}
		return fmt.Errorf("toystore: flush: %w", err)
	}
	for _, d := range s.pending {
		d.persistent.Store(true)
	}
	s.pending = s.pending[:0]
	return nil
}

// Sync implements engine.Engine.
func (s *Store) Sync(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("toystore: %w", engine.ErrClosed)
	}
	return s.commit()
}

// Close implements engine.Engine: it flushes and leaves the device open.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("toystore: %w", engine.ErrClosed)
	}
	s.closed = true
	return s.commit()
}

// List implements engine.Lister.
func (s *Store) List(_ context.Context, start, end []byte, fn func(key []byte) bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("toystore: %w", engine.ErrClosed)
	}
	var keys []string
	for k := range s.index {
		if (start == nil || k >= string(start)) && (end == nil || k < string(end)) {
			keys = append(keys, k)
		}
	}
	s.mu.Unlock()
	slices.Sort(keys)
	for _, k := range keys {
		if !fn([]byte(k)) {
			break
		}
	}
	return nil
}

// Maintain implements engine.Maintainer: index-flush commits (as Sync);
// compact, superblock-flush and cache-flush have nothing to do; reclaim is
// unsupported (the log only grows).
func (s *Store) Maintain(_ context.Context, op engine.MaintenanceOp) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("toystore: %w", engine.ErrClosed)
	}
	switch op {
	case engine.IndexFlush:
		return s.commit()
	case engine.Compact, engine.SuperblockFlush, engine.CacheFlush:
		return nil
	}
	return fmt.Errorf("toystore: %s: %w", op, errors.ErrUnsupported)
}

// CheckInvariants implements engine.InvariantChecker: every index entry
// lies below the write pointer.
func (s *Store) CheckInvariants() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for k, l := range s.index {
		if l.off < 0 || l.off+l.size > s.wp {
			errs = append(errs, fmt.Errorf("toystore: key %q at [%d,%d) beyond the write pointer %d", k, l.off, l.off+l.size, s.wp))
		}
	}
	return errors.Join(errs...)
}

// Limits implements engine.Limiter.
func (s *Store) Limits() engine.Limits {
	return engine.Limits{KeyMax: engine.KeyMax, ValueMax: ValueMax}
}

// fileStore closes its file device on Close.
type fileStore struct {
	*Store
	f *disk.File
}

func (s fileStore) Close() error {
	err := s.Store.Close()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// FileName is the device file toystore keeps in a directory.
const FileName = "toystore.dev"

// FileBytes is the size of the device file OpenDir creates.
const FileBytes = 16 << 20

// OpenDir opens toystore on a file device in dir (created if absent).
func OpenDir(dir string, bug Bug) (engine.Engine, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("toystore: %w", err)
	}
	f, err := disk.OpenFile(dir+"/"+FileName, disk.FileOptions{Size: FileBytes, Create: true})
	if err != nil {
		return nil, fmt.Errorf("toystore: %w", err)
	}
	s, err := Open(f, bug)
	if err != nil {
		f.Close()
		return nil, err
	}
	return fileStore{s, f}, nil
}

// Driver returns toystore's entry for an engine table: a file device in
// the directory, the bug chosen by the option bug=.
func Driver() engine.Driver {
	var choices []string
	for _, b := range Bugs() {
		choices = append(choices, string(b))
	}
	return engine.Driver{
		Name: "toystore",
		Doc:  "test engine: an append-only log on a device, with injectable bugs",
		Options: []engine.OptionDef{
			{Name: "bug", Kind: engine.KindEnum, Default: string(BugNone), Choices: choices, Doc: "the bug to inject"},
		},
		Open: func(dir string, o engine.Options) (engine.Engine, error) {
			return OpenDir(dir, Bug(o.String("bug")))
		},
	}
}
