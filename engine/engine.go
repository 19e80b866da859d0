// Package engine is the contract between gauntlet and the storage engines it
// drives: the Engine interface every engine implements, the small optional
// capabilities the checkers and benchmarks discover by type assertion, the
// sentinel errors, the key and value limits, and the engine spec string
// ("shardstore:extent=1MiB,sched=coalesce") that selects and configures an
// engine.
//
// # Contract
//
// Get returns ErrNotFound for an absent key. Put and Delete are acknowledged
// when they return nil: a later Get on the same Engine observes them. Sync makes
// every write acknowledged before the call durable on return. Close is a clean
// shutdown: reopening the engine on the same directory or device loses nothing
// acknowledged, synced or not, including a write that returned nil while Close
// ran (Close waits for calls in flight or refuses them). After Close every
// method returns ErrClosed.
//
// Keys are 1 to KeyMax bytes. Values are 0 bytes up to the engine's documented
// maximum (Limiter), at least ValueMaxMin. An engine never returns wrong data:
// bytes it cannot verify are reported as an error wrapping ErrCorruption.
//
// Engines copy the key and value slices they are given if they retain them,
// and the caller may modify a slice returned by Get.
//
// # Capabilities
//
// Tracker, Lister (and BoundedLister), Maintainer, InvariantChecker,
// Statser and Limiter are optional. Each is small so that an adapter can implement exactly what the
// underlying engine supports; a checker or workload that needs one it does not
// find reports that before it starts.
//
// # Concurrency
//
// An Engine is safe for concurrent use by multiple goroutines.
package engine

import (
	"context"
	"errors"
	"fmt"
)

// Engine is a durable key-value store.
type Engine interface {
	// Get returns the value stored for key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key []byte) ([]byte, error)
	// Put stores value under key, replacing any earlier value.
	Put(ctx context.Context, key, value []byte) error
	// Delete removes key. Deleting an absent key is not an error.
	Delete(ctx context.Context, key []byte) error
	// Sync returns once every write acknowledged before the call is durable.
	Sync(ctx context.Context) error
	// Close shuts the engine down cleanly; reopening loses nothing.
	Close() error
}

// Dependency is the soft-updates handle of one write: it reports whether the
// write (and everything it depends on) has reached stable storage.
type Dependency interface {
	// IsPersistent reports whether the write is durable now. It never blocks
	// and never issues IO.
	IsPersistent() bool
	// Wait blocks until the write is durable, the context ends, or the engine
	// fails or closes (then it returns that error).
	Wait(ctx context.Context) error
}

// Tracker is implemented by engines that can say when an individual write
// becomes durable. The crash checker relies on it for the persistence
// property: a write whose Dependency was persistent before a crash must be
// readable after it, unless a later persistent write superseded it.
type Tracker interface {
	PutTracked(ctx context.Context, key, value []byte) (Dependency, error)
	DeleteTracked(ctx context.Context, key []byte) (Dependency, error)
}

// KV is one write of a batch.
type KV struct {
	Key, Value []byte
}

// Batcher is implemented by engines with a native way to apply many puts
// as one call (Pebble's batches, Badger's WriteBatch, one bbolt
// transaction), which a bulk load uses: a million one-put commits cost
// bbolt a million fsyncs. A batch is not a transaction in the contract:
// once PutBatch returns nil every put is acknowledged, as if each had been
// Put; after an error any subset may have been applied (a full device may
// stop it half-way), except that an invalid key or value is refused with
// ErrInvalidArgument before any is. Durability is as for Put: Sync covers
// it. The slices may be reused once PutBatch returns.
type Batcher interface {
	PutBatch(ctx context.Context, kvs []KV) error
}

// CheckBatch checks every key and value of a batch against the contract's
// limits (CheckKey, CheckValue with valueMax), naming the first bad one.
func CheckBatch(kvs []KV, valueMax int) error {
	for i, kv := range kvs {
		if err := CheckKey(kv.Key); err != nil {
			return fmt.Errorf("batch put %d: %w", i, err)
		}
		if err := CheckValue(kv.Value, valueMax); err != nil {
			return fmt.Errorf("batch put %d: %w", i, err)
		}
	}
	return nil
}

// Lister is implemented by engines that can enumerate keys in ascending
// byte order.
type Lister interface {
	// List calls fn for every key k with start <= k < end, in ascending
	// order, until fn returns false. A nil start means the first key; a nil
	// end means no upper bound. The slice passed to fn is valid only during
	// the call.
	List(ctx context.Context, start, end []byte, fn func(key []byte) bool) error
}

// BoundedLister is implemented by Listers that do less work when told how
// many keys the caller wants: an engine that merges its index in batches
// sizes its first batch by it (a YCSB scan, a page of an object listing).
type BoundedLister interface {
	Lister
	// ListN is List that calls fn for at most n keys. An n below 1 is
	// ErrInvalidArgument.
	ListN(ctx context.Context, start, end []byte, n int, fn func(key []byte) bool) error
}

// MaintenanceOp names a background operation that a Maintainer can be asked
// to run now. Background operations never change what a Get returns.
type MaintenanceOp string

// The maintenance operations. An engine that has no such operation returns an
// error wrapping errors.ErrUnsupported.
const (
	IndexFlush      MaintenanceOp = "index-flush"      // write the in-memory index out
	Compact         MaintenanceOp = "compact"          // merge index runs
	Reclaim         MaintenanceOp = "reclaim"          // garbage-collect dead space
	SuperblockFlush MaintenanceOp = "superblock-flush" // persist write pointers and ownership
	CacheFlush      MaintenanceOp = "cache-flush"      // drop or write back cached pages
)

// MaintenanceOps lists every MaintenanceOp, in a fixed order.
func MaintenanceOps() []MaintenanceOp {
	return []MaintenanceOp{IndexFlush, Compact, Reclaim, SuperblockFlush, CacheFlush}
}

// Maintainer is implemented by engines whose background work can be
// triggered on demand, so checkers can interleave it with client operations.
type Maintainer interface {
	Maintain(ctx context.Context, op MaintenanceOp) error
}

// InvariantChecker is implemented by engines that can verify their own
// internal invariants. CheckInvariants returns nil or every violation found,
// joined with errors.Join.
type InvariantChecker interface {
	CheckInvariants() error
}

// Statser is implemented by engines that report IO counters for benchmark
// reports.
type Statser interface {
	Stats() Stats
}

// Stats are an engine's counters since it was opened. Fields an engine cannot
// measure are zero; Metrics holds engine-specific figures (scheduler queue
// depth, merges, compactions) under stable names.
type Stats struct {
	// UserBytesWritten counts key and value bytes accepted by Put.
	UserBytesWritten int64 `json:"user_bytes_written"`
	// DeviceBytesWritten counts bytes the engine wrote to its device or files.
	DeviceBytesWritten int64 `json:"device_bytes_written"`
	// DeviceBytesRead counts bytes the engine read from its device or files.
	DeviceBytesRead int64 `json:"device_bytes_read"`
	// Flushes counts device flushes (fsync, fdatasync or equivalent).
	Flushes int64 `json:"flushes"`
	// Metrics are named engine-specific figures.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// WriteAmplification is DeviceBytesWritten / UserBytesWritten, or 0 when
// nothing was written.
func (s Stats) WriteAmplification() float64 {
	if s.UserBytesWritten == 0 {
		return 0
	}
	return float64(s.DeviceBytesWritten) / float64(s.UserBytesWritten)
}

// Sentinel errors. Engines wrap them with context; callers test with
// errors.Is.
var (
	ErrNotFound        = errors.New("not found")
	ErrClosed          = errors.New("engine closed")
	ErrNoSpace         = errors.New("no space left")
	ErrCorruption      = errors.New("corruption")
	ErrInvalidArgument = errors.New("invalid argument")
)
