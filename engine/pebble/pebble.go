// Package pebble adapts CockroachDB's Pebble LSM tree
// (github.com/cockroachdb/pebble/v2) to engine.Engine, so gauntlet can check
// and benchmark it next to shardstore.
//
// # Configuration
//
// Pebble's own defaults (a 4 MiB memtable, an 8 MiB block cache, no bloom
// filters, one compaction at a time) are meant for tests. Options defaults to
// what a production deployment sets instead, taken from CockroachDB's
// DefaultPebbleOptions: a 64 MiB memtable with up to 4 queued, L0
// compaction triggered at 2 sublevels and writes never stopped before 1000,
// 32 KiB data blocks with 256 KiB index blocks, 10-bit bloom filters on every
// level but the last, up to 3 concurrent compactions, and the newest stable
// format. The block cache is a fixed 1 GiB rather than a fraction of RAM so
// that the same spec means the same engine on every machine the nightly job
// runs on; set cache= to match the machine when that matters more.
//
// Tuned against: CockroachDB's DefaultPebbleOptions, Pebble's production
// reference, taken as they are rather than re-tuned by measurement here.
// The reference for the bench's load of Pebble is issue 18's: an
// independent YCSB client loaded Pebble with 1M records in 12–17 s.
//
// # Durability
//
// With sync=false (the default) a Put is acknowledged once it is in the WAL's
// buffer, and Sync makes every acknowledged write durable by committing an
// empty synced WAL record (pebble.DB.LogData with pebble.Sync): Pebble's
// commit pipeline syncs the WAL up to and including that record, and
// concurrent Syncs share one fsync. With sync=true every write waits for its
// own WAL fsync (group-committed with concurrent writers) and Sync has nothing
// left to do. With wal=false there is no log: Sync and Close flush the
// memtables to sstables, which is slow but keeps the contract.
//
// # Limits
//
// Keys are 1 to engine.KeyMax bytes. Values are up to ValueMax (1 GiB), an
// adapter limit well inside Pebble's 4 GiB batch limit that keeps the memory
// one Put holds (the batch, the memtable copy) bounded.
//
// # Concurrency
//
// A DB is safe for concurrent use. Close waits for operations in flight, then
// closes Pebble; every call after Close, a second Close included, returns an
// error wrapping engine.ErrClosed.
package pebble

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/internal/peer"
)

// ValueMax is the largest value a DB accepts.
const ValueMax = 1 << 30

// Option bounds checked by Validate.
const (
	memTableSizeMin = 1 << 20
	memTableSizeMax = 2 << 30
	cacheSizeMin    = 1 << 20
	compactionsMax  = 64
)

// Options configure a DB. The zero value is valid: every zero field means its
// documented default.
type Options struct {
	// Observer, if set, hears what Pebble's EventListener offers: flushes
	// (engine.EventIndexFlush, the index-flush phase), compactions
	// (engine.EventCompaction, the compaction phase) and write stalls
	// (engine.EventWriteStall). Default nil: no listener.
	Observer engine.Observer
	// Sync makes every Put and Delete wait until its WAL record is on stable
	// storage. Default false: Sync makes acknowledged writes durable instead,
	// which is how Pebble is run when the caller batches its own durability
	// points.
	Sync bool
	// DisableWAL turns the write-ahead log off (the spec's wal=false). Then
	// Sync and Close flush the memtables, and Sync must be false.
	DisableWAL bool
	// MemTableSize is the size of one memtable. Default 64 MiB, CockroachDB's
	// setting; Pebble's own default of 4 MiB flushes tiny L0 files.
	MemTableSize int64
	// CacheSize is the block cache size. Default 1 GiB: fixed rather than a
	// fraction of RAM so a spec means the same engine on every machine.
	CacheSize int64
	// CompactionsMax is the most compactions Pebble runs at once. Default 3,
	// CockroachDB's default upper bound.
	CompactionsMax int
	// L0CompactionConcurrency is the number of L0 sublevels that allows one
	// more concurrent compaction out of L0. Default 2, CockroachDB's setting.
	L0CompactionConcurrency int
}

// DefaultOptions returns the options with every default filled in.
func DefaultOptions() Options {
	var o Options
	o.EnsureDefaults()
	return o
}

// EnsureDefaults sets every zero field to its default.
func (o *Options) EnsureDefaults() {
	if o.MemTableSize == 0 {
		o.MemTableSize = 64 << 20
	}
	if o.CacheSize == 0 {
		o.CacheSize = 1 << 30
	}
	if o.CompactionsMax == 0 {
		o.CompactionsMax = 3
	}
	if o.L0CompactionConcurrency == 0 {
		o.L0CompactionConcurrency = 2
	}
}

// Validate reports every problem with o, on one line. It expects
// EnsureDefaults to have run: a zero size is reported as too small.
func (o Options) Validate() error {
	var bad []string
	if o.MemTableSize < memTableSizeMin || o.MemTableSize > memTableSizeMax {
		bad = append(bad, fmt.Sprintf("memtable=%s is outside %s to %s",
			engine.FormatSize(o.MemTableSize), engine.FormatSize(memTableSizeMin), engine.FormatSize(memTableSizeMax)))
	}
	if o.CacheSize < cacheSizeMin {
		bad = append(bad, fmt.Sprintf("cache=%s is below %s", engine.FormatSize(o.CacheSize), engine.FormatSize(cacheSizeMin)))
	}
	if o.CompactionsMax < 1 || o.CompactionsMax > compactionsMax {
		bad = append(bad, fmt.Sprintf("compactions=%d is outside 1 to %d", o.CompactionsMax, compactionsMax))
	}
	if o.L0CompactionConcurrency < 1 {
		bad = append(bad, fmt.Sprintf("l0-concurrency=%d must be at least 1", o.L0CompactionConcurrency))
	}
	if o.Sync && o.DisableWAL {
		bad = append(bad, "sync=true needs the WAL (drop wal=false)")
	}
	if len(bad) > 0 {
		return fmt.Errorf("pebble: invalid options: %s: %w", strings.Join(bad, "; "), engine.ErrInvalidArgument)
	}
	return nil
}

// pebbleOptions translates o into Pebble's options. fs is the file system
// Pebble writes through.
func (o Options) pebbleOptions(fs vfs.FS) *pebble.Options {
	po := &pebble.Options{
		FS:                          fs,
		CacheSize:                   o.CacheSize,
		DisableWAL:                  o.DisableWAL,
		FormatMajorVersion:          pebble.FormatNewest,
		L0CompactionThreshold:       2,
		L0StopWritesThreshold:       1000,
		LBaseMaxBytes:               64 << 20,
		MemTableSize:                uint64(o.MemTableSize),
		MemTableStopWritesThreshold: 4,
		Logger:                      quietLogger{},
	}
	compactions := o.CompactionsMax
	po.CompactionConcurrencyRange = func() (int, int) { return 1, compactions }
	po.Experimental.L0CompactionConcurrency = o.L0CompactionConcurrency
	for i := range po.Levels {
		l := &po.Levels[i]
		l.BlockSize = 32 << 10
		l.IndexBlockSize = 256 << 10
		l.FilterPolicy = bloom.FilterPolicy(10)
	}
	// The last level holds most of the data and is where a point lookup ends
	// anyway; CockroachDB leaves its filter out to save the memory.
	po.Levels[len(po.Levels)-1].FilterPolicy = pebble.NoFilterPolicy
	if obs := o.Observer; obs != nil {
		po.EventListener = &pebble.EventListener{
			FlushBegin: func(pebble.FlushInfo) { obs.Phase(engine.PhaseIndexFlush, true) },
			FlushEnd: func(pebble.FlushInfo) {
				obs.Phase(engine.PhaseIndexFlush, false)
				obs.Event(engine.EventIndexFlush)
			},
			CompactionBegin: func(pebble.CompactionInfo) { obs.Phase(engine.PhaseCompaction, true) },
			CompactionEnd: func(pebble.CompactionInfo) {
				obs.Phase(engine.PhaseCompaction, false)
				obs.Event(engine.EventCompaction)
			},
			WriteStallBegin: func(pebble.WriteStallBeginInfo) { obs.Event(engine.EventWriteStall) },
		}
	}
	po.EnsureDefaults()
	return po
}

// quietLogger drops Pebble's informational messages and keeps errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	pebble.DefaultLogger.Errorf(format, args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}

// DB is a Pebble database behind the engine contract. Its methods are
// peer.Engine's (argument checks, the close gate, error wrapping), which
// implements engine.Engine, Lister, Maintainer, Statser and Limiter; what
// is Pebble's is library's.
type DB struct {
	*peer.Engine
	lib *library
}

// library is Pebble's side of each call (peer.Library).
type library struct {
	db        *pebble.DB
	opts      Options
	io        *ioCounters
	writeOpts *pebble.WriteOptions
}

// peerConfig is what peer.Engine knows of the adapter.
var peerConfig = peer.Config{Name: "pebble", ValueMax: ValueMax, Corruption: pebble.IsCorruptionError}

// Open opens (creating if needed) the Pebble database in dir.
func Open(dir string, o Options) (*DB, error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	io := &ioCounters{}
	db, err := pebble.Open(dir, o.pebbleOptions(countingFS{FS: vfs.Default, c: io}))
	if err != nil {
		return nil, peerConfig.Wrap("open "+dir, err)
	}
	l := &library{db: db, opts: o, io: io, writeOpts: pebble.NoSync}
	if o.Sync {
		l.writeOpts = pebble.Sync
	}
	return &DB{Engine: peer.New(l, peerConfig), lib: l}, nil
}

func (l *library) Get(key []byte) ([]byte, error) {
	v, closer, err := l.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, engine.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(v))
	copy(out, v)
	if err := closer.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// Put: Pebble copies key and value into its batch.
func (l *library) Put(key, value []byte) error { return l.db.Set(key, value, l.writeOpts) }

func (l *library) Delete(key []byte) error { return l.db.Delete(key, l.writeOpts) }

// PutBatch commits one pebble.Batch: one WAL record, one commit.
func (l *library) PutBatch(kvs []engine.KV) error {
	b := l.db.NewBatch()
	defer b.Close()
	for _, kv := range kvs {
		if err := b.Set(kv.Key, kv.Value, nil); err != nil {
			return err
		}
	}
	return b.Commit(l.writeOpts)
}

// Sync: see the package documentation for how, per configuration.
func (l *library) Sync() error {
	switch {
	case l.opts.DisableWAL:
		// No log to sync: the memtables are the only copy.
		if err := l.db.Flush(); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
	case l.opts.Sync:
		// Every acknowledged write already waited for its WAL fsync.
	default:
		// The WAL is one ordered log: syncing an empty record syncs every
		// record before it, and concurrent callers share the fsync.
		return l.db.LogData(nil, pebble.Sync)
	}
	return nil
}

func (l *library) Close() error {
	var flushErr error
	if l.opts.DisableWAL {
		// Pebble does not flush memtables on Close; without a WAL they would
		// be lost.
		if err := l.db.Flush(); err != nil {
			flushErr = fmt.Errorf("flush: %w", err)
		}
	}
	return peer.Join(flushErr, l.db.Close())
}

func (l *library) List(ctx context.Context, start, end []byte, fn func(key []byte) bool) error {
	it, err := l.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return err
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%256 == 0 {
			if err := ctx.Err(); err != nil {
				_ = it.Close()
				return err
			}
		}
		if !fn(it.Key()) {
			break
		}
	}
	return it.Close()
}

// Maintain: index-flush flushes the memtables, compact compacts the whole
// key range. Pebble has no separate reclamation (compaction drops dead
// data), superblock or cache flush.
func (l *library) Maintain(ctx context.Context, op engine.MaintenanceOp) error {
	switch op {
	case engine.IndexFlush:
		return l.db.Flush()
	case engine.Compact:
		return l.compactAll(ctx)
	}
	return errors.ErrUnsupported
}

// compactAll compacts [first key, last key] into the bottom levels.
func (l *library) compactAll(ctx context.Context) error {
	it, err := l.db.NewIterWithContext(ctx, nil)
	if err != nil {
		return err
	}
	var first, last []byte
	if it.First() {
		first = append([]byte(nil), it.Key()...)
		if it.Last() {
			last = append([]byte(nil), it.Key()...)
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	if first == nil || last == nil {
		// No live keys. Flush so tombstones in the memtable reach the
		// tables, where Pebble's own compactions drop them.
		return l.db.Flush()
	}
	// Compact's end is exclusive; last+0x00 is the smallest key after last.
	return l.db.Compact(ctx, first, append(last, 0), true)
}

// Stats reports IO counters since Open. The device figures are exact: every
// byte and sync Pebble issues passes through a counting file system. Metrics
// break the writes down from pebble.Metrics.
func (l *library) Stats(s *engine.Stats, open bool) {
	s.DeviceBytesWritten = l.io.written.Load()
	s.DeviceBytesRead = l.io.read.Load()
	s.Flushes = l.io.syncs.Load()
	if !open {
		return
	}
	m := l.db.Metrics()
	total := m.Total()
	var flushed, compacted, compactRead uint64
	for _, lv := range m.Levels {
		flushed += lv.TableBytesFlushed + lv.BlobBytesFlushed
		compacted += lv.TableBytesCompacted + lv.BlobBytesCompacted
		compactRead += lv.TableBytesRead
	}
	s.Metrics = map[string]float64{
		"wal_bytes_written":        float64(m.WAL.BytesWritten),
		"flush_bytes_written":      float64(flushed),
		"compaction_bytes_written": float64(compacted),
		"compaction_bytes_read":    float64(compactRead),
		"compactions":              float64(m.Compact.Count),
		"memtable_flushes":         float64(m.Flush.Count),
		"lsm_write_amp":            total.WriteAmp(),
		"read_amp":                 float64(m.ReadAmp()),
		"l0_sublevels":             float64(m.Levels[0].Sublevels),
		"l0_tables":                float64(m.Levels[0].TablesCount),
		"block_cache_hits":         float64(m.BlockCache.Hits),
		"block_cache_misses":       float64(m.BlockCache.Misses),
		"disk_usage_bytes":         float64(m.DiskSpaceUsage()),
	}
}
