// Package bbolt adapts etcd's bbolt (go.etcd.io/bbolt), a copy-on-write B+
// tree in one memory-mapped file, to engine.Engine, so gauntlet can check and
// benchmark it next to shardstore.
//
// # Configuration
//
// All keys live in one bucket. The defaults are what etcd, bbolt's main
// production user, runs: the hashmap freelist, the freelist not written at
// commit (rebuilt by scanning on open, which saves a page write per commit),
// a 10 GiB initial mmap so the file can grow for a long time without a remap
// (a remap waits for every read transaction), and an fsync per commit. Puts
// and Deletes go through DB.Batch by default, so concurrent writers share one
// commit and its two fsyncs; without batching bbolt commits and syncs once per
// write, and its throughput is one write per fsync pair. The price of
// batching is latency for a lone writer: a batch waits up to MaxBatchDelay
// (bbolt's default, 10ms) for company before it commits.
//
// Tuned against: etcd's configuration, bbolt's production reference, taken as
// it is; the bench's load goes through one transaction per batch of records
// (engine.Batcher), so a million-record load no longer commits once per
// record (issue 18).
//
// # Durability
//
// With nosync=false (the default) a write is acknowledged after its commit
// has been fdatasync'ed, so Sync has nothing left to do and returns at once.
// With nosync=true commits only write, and Sync calls DB.Sync (fdatasync); so
// it does with nogrowsync=true, which skips the fsync after the file grows.
//
// # Limits
//
// Keys are 1 to engine.KeyMax bytes. Values are up to bbolt's MaxValueSize
// (2 GiB - 2 bytes); a value occupies contiguous pages in the file and in the
// mmap, so very large values are costly.
//
// # Concurrency
//
// A DB is safe for concurrent use. List reads keys in chunks, each in its own
// read transaction, and calls its callback outside any transaction: a long
// read transaction would block the file from growing, and the callback may
// write. Close waits for operations in flight, then closes bbolt; every call
// after Close, a second Close included, returns an error wrapping
// engine.ErrClosed.
package bbolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/internal/peer"
)

// ValueMax is the largest value a DB accepts: bbolt's MaxValueSize.
const ValueMax = bolt.MaxValueSize

// FileName is the database file inside the directory Open is given.
const FileName = "bbolt.db"

// bucket holds every key.
var bucket = []byte("gauntlet")

// Freelist is bbolt's free-page index.
type Freelist string

// The freelist types.
const (
	// FreelistMap is a hashmap of free page runs: allocation is O(1) in the
	// number of free pages. etcd's default.
	FreelistMap Freelist = "map"
	// FreelistArray is bbolt's original sorted array, whose allocation scans
	// it: slow once the file has many free pages.
	FreelistArray Freelist = "array"
)

// Option bounds checked by Validate.
const (
	batchSizeMax  = 1 << 20
	batchDelayMax = time.Second
	mmapSizeMax   = 1 << 40
)

// Options configure a DB. The zero value is valid: every zero field means its
// documented default.
type Options struct {
	// NoSync skips the fsync at commit; Sync then syncs. Default false.
	NoSync bool
	// NoGrowSync skips the fsync after growing the file. Default false.
	NoGrowSync bool
	// Freelist is the free-page index. Default FreelistMap.
	Freelist Freelist
	// FreelistSync writes the freelist at every commit instead of rebuilding
	// it on open. Default false, as etcd runs.
	FreelistSync bool
	// InitialMmapSize is the first mmap size, so the file grows without
	// remapping. Default 10 GiB, etcd's; it reserves address space, not
	// memory. Negative maps only the file, as bbolt does by default (the
	// spec's mmap=0).
	InitialMmapSize int64
	// NoBatch commits every Put and Delete in its own transaction instead of
	// through DB.Batch. Default false (batching on).
	NoBatch bool
	// MaxBatchSize is the most writes one batch commits. Default 1000,
	// bbolt's.
	MaxBatchSize int
	// MaxBatchDelay is the longest a batch waits to fill. Default 10ms,
	// bbolt's.
	MaxBatchDelay time.Duration
}

// DefaultOptions returns the options with every default filled in.
func DefaultOptions() Options {
	var o Options
	o.EnsureDefaults()
	return o
}

// EnsureDefaults sets every zero field to its default.
func (o *Options) EnsureDefaults() {
	if o.Freelist == "" {
		o.Freelist = FreelistMap
	}
	if o.InitialMmapSize == 0 {
		o.InitialMmapSize = 10 << 30
	}
	if o.MaxBatchSize == 0 {
		o.MaxBatchSize = 1000 // bbolt's DefaultMaxBatchSize
	}
	if o.MaxBatchDelay == 0 {
		o.MaxBatchDelay = 10 * time.Millisecond // bbolt's DefaultMaxBatchDelay
	}
}

// Validate reports every problem with o, on one line. It expects
// EnsureDefaults to have run.
func (o Options) Validate() error {
	var bad []string
	if o.Freelist != FreelistMap && o.Freelist != FreelistArray {
		bad = append(bad, fmt.Sprintf("freelist=%s is not map or array", o.Freelist))
	}
	if o.InitialMmapSize > mmapSizeMax {
		bad = append(bad, fmt.Sprintf("mmap=%s is above %s", engine.FormatSize(o.InitialMmapSize), engine.FormatSize(mmapSizeMax)))
	}
	if o.MaxBatchSize < 1 || o.MaxBatchSize > batchSizeMax {
		bad = append(bad, fmt.Sprintf("batch-size=%d is outside 1 to %d", o.MaxBatchSize, batchSizeMax))
	}
	if o.MaxBatchDelay <= 0 || o.MaxBatchDelay > batchDelayMax {
		bad = append(bad, fmt.Sprintf("batch-delay=%s is outside (0, %s]", o.MaxBatchDelay, batchDelayMax))
	}
	if len(bad) > 0 {
		return fmt.Errorf("bbolt: invalid options: %s: %w", strings.Join(bad, "; "), engine.ErrInvalidArgument)
	}
	return nil
}

func (o Options) boltOptions() *bolt.Options {
	freelist := bolt.FreelistMapType
	if o.Freelist == FreelistArray {
		freelist = bolt.FreelistArrayType
	}
	return &bolt.Options{
		Timeout:         time.Second, // another process holds the file lock
		NoSync:          o.NoSync,
		NoGrowSync:      o.NoGrowSync,
		NoFreelistSync:  !o.FreelistSync,
		FreelistType:    freelist,
		InitialMmapSize: int(max(o.InitialMmapSize, 0)),
	}
}

// DB is a bbolt database behind the engine contract. Its methods are
// peer.Engine's (argument checks, the close gate, error wrapping), which
// implements engine.Engine, Lister, Maintainer, Statser and Limiter; what
// is bbolt's is library's.
type DB struct {
	*peer.Engine
	lib *library
}

// library is bbolt's side of each call (peer.Library).
type library struct {
	db       *bolt.DB
	opts     Options
	syncs    atomic.Int64 // explicit DB.Sync calls
	txidOpen int          // the last committed transaction at Open
}

// peerConfig is what peer.Engine knows of the adapter.
var peerConfig = peer.Config{Name: "bbolt", ValueMax: ValueMax, Corruption: func(err error) bool {
	return errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch)
}}

// Open opens (creating if needed) the database file FileName in dir.
func Open(dir string, o Options) (*DB, error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, peerConfig.Wrap("open", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o644, o.boltOptions())
	if err != nil {
		return nil, peerConfig.Wrap("open "+path, err)
	}
	db.MaxBatchSize = o.MaxBatchSize
	db.MaxBatchDelay = o.MaxBatchDelay
	l := &library{db: db, opts: o}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err == nil {
		err = db.View(func(tx *bolt.Tx) error {
			l.txidOpen = tx.ID()
			return nil
		})
	}
	if err != nil {
		db.Close()
		return nil, peerConfig.Wrap("open "+path, err)
	}
	return &DB{Engine: peer.New(l, peerConfig), lib: l}, nil
}

func (l *library) Get(key []byte) ([]byte, error) {
	var out []byte
	err := l.db.View(func(tx *bolt.Tx) error {
		// A cursor rather than Bucket.Get: Get answers nil for an absent
		// key, and the zero-length slice of an empty value may be nil too;
		// the cursor's key tells the two apart.
		k, v := tx.Bucket(bucket).Cursor().Seek(key)
		if k == nil || !bytes.Equal(k, key) {
			return engine.ErrNotFound
		}
		out = make([]byte, len(v)) // v points into the mmap
		copy(out, v)
		return nil
	})
	return out, err
}

// update commits fn, through DB.Batch unless batching is off. fn must be
// idempotent: Batch may run it more than once.
func (l *library) update(fn func(*bolt.Tx) error) error {
	if l.opts.NoBatch {
		return l.db.Update(fn)
	}
	return l.db.Batch(fn)
}

// Put: bbolt copies key and value into its pages at commit, which happens
// before Put returns.
func (l *library) Put(key, value []byte) error {
	return l.update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, value) })
}

// PutBatch is one read-write transaction: one commit (and, by default,
// one fsync) for the whole batch, its puts in key order (stable, so a
// later pair of a key still wins): a B+tree takes sorted inserts into the
// pages it just touched instead of a random page each.
func (l *library) PutBatch(kvs []engine.KV) error {
	sorted := slices.Clone(kvs)
	slices.SortStableFunc(sorted, func(a, b engine.KV) int { return bytes.Compare(a.Key, b.Key) })
	return l.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, kv := range sorted {
			if err := b.Put(kv.Key, kv.Value); err != nil {
				return err
			}
		}
		return nil
	})
}

func (l *library) Delete(key []byte) error {
	return l.update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete(key) })
}

// Sync: with fsync at commit (the default) every acknowledged write already
// is durable.
func (l *library) Sync() error {
	if !l.opts.NoSync && !l.opts.NoGrowSync {
		return nil
	}
	if err := l.db.Sync(); err != nil {
		return err
	}
	l.syncs.Add(1)
	return nil
}

func (l *library) Close() error {
	var syncErr error
	if l.opts.NoSync || l.opts.NoGrowSync {
		// bbolt's Close does not sync; the contract's clean shutdown
		// survives only a process exit without this.
		if err := l.db.Sync(); err != nil {
			syncErr = fmt.Errorf("sync: %w", err)
		}
	}
	return peer.Join(syncErr, l.db.Close())
}

// listChunk is how many keys List reads per read transaction.
const listChunk = 1024

// List reads keys listChunk at a time, each chunk in its own read
// transaction, and calls fn outside any transaction; a key written or
// deleted during List may or may not be seen.
func (l *library) List(ctx context.Context, start, end []byte, fn func(key []byte) bool) error {
	from := start
	keys := make([][]byte, 0, listChunk)
	for {
		keys = keys[:0]
		err := l.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			var k []byte
			if from == nil {
				k, _ = c.First()
			} else {
				k, _ = c.Seek(from)
			}
			for ; k != nil && len(keys) < listChunk; k, _ = c.Next() {
				if end != nil && bytes.Compare(k, end) >= 0 {
					break
				}
				keys = append(keys, bytes.Clone(k)) // k points into the mmap
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if !fn(k) {
				return nil
			}
		}
		if len(keys) < listChunk {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// The smallest key after the last one listed.
		from = append(keys[len(keys)-1], 0)
	}
}

// Maintain: bbolt has no background operation. It frees pages at commit
// and has no index separate from its data.
func (l *library) Maintain(context.Context, engine.MaintenanceOp) error {
	return errors.ErrUnsupported
}

// Stats reports IO counters since Open, derived from bbolt's transaction
// statistics. Every page a commit allocates is written once, plus one meta
// page per commit, so DeviceBytesWritten is pages allocated plus commits
// times the page size. Flushes counts two fdatasyncs per commit (data, then
// meta) when commits sync, plus explicit Syncs; the fsyncs after file growth
// are not counted. DeviceBytesRead is zero: reads are page faults on the
// mmap, invisible to bbolt.
func (l *library) Stats(s *engine.Stats, open bool) {
	s.Flushes = l.syncs.Load()
	if !open {
		return
	}
	var commits int64
	var size int64
	_ = l.db.View(func(tx *bolt.Tx) error {
		commits = int64(tx.ID() - l.txidOpen)
		size = tx.Size()
		return nil
	})
	st := l.db.Stats()
	pageSize := int64(l.db.Info().PageSize)
	s.DeviceBytesWritten = st.TxStats.GetPageAlloc() + commits*pageSize
	if !l.opts.NoSync {
		s.Flushes += 2 * commits
	}
	s.Metrics = map[string]float64{
		"commits":         float64(commits),
		"pages_allocated": float64(st.TxStats.GetPageCount()),
		"page_writes":     float64(st.TxStats.GetWrite()),
		"write_seconds":   st.TxStats.GetWriteTime().Seconds(),
		"free_pages":      float64(st.FreePageN),
		"pending_pages":   float64(st.PendingPageN),
		"file_size_bytes": float64(size),
		"node_splits":     float64(st.TxStats.GetSplit()),
		"node_rebalances": float64(st.TxStats.GetRebalance()),
	}
}
