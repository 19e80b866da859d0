package shardstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/lsm"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/superblock"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// Store is the shardstore engine. See the package documentation.
type Store struct {
	opts   Options
	dev    disk.Device
	ownDev bool      // Close closes dev (OpenDir)
	sim    *disk.Sim // the simulated device (device=hdd|ssd), else nil
	// unmutate releases Options.Mutant (a no-op when none is on).
	unmutate func()
	cs       *chunk.Store
	rows     *rowCache // nil: none (Options.RowCacheBytes)
	clock    conc.Clock

	// gate orders puts against reclamation: a put holds it shared from
	// appending its chunks until its entry is in the memtable; reclamation
	// takes it exclusively once after listing sealed candidates, before
	// evacuating any of them, so that every chunk in a victim has its entry
	// in the index before the scan.
	gate conc.RWMutex
	// valueMu makes the chunks of a value larger than a chunk consecutive
	// in the data stream: concurrent puts of large values (a storage
	// node's shards) interleaved their chunks, so each extent held pieces
	// of many values and a deleted one freed no extent whole. Taken inside
	// gate.
	valueMu conc.Mutex

	// mu guards the index: memtable, sealed memtables, runs and versions.
	// A write inserts into the current memtable holding mu shared and the
	// memtable's own lock (memtable.mu); everything else that changes the
	// index holds mu exclusively. With puts holding mu exclusively, a put
	// of a read-mostly load waited for every get inside it, and the gets
	// that came after for the put: at YCSB-B, 35k of 46k puts in 5 s
	// parked on mu, for 60 µs at the median and 8.7 ms at p99, since a
	// parked goroutine waits for a P that the gets do not give up
	// (docs/PERFORMANCE.md, "Puts beside gets").
	mu   conc.RWMutex
	mem  *memtable
	imms []*memtable // sealed, being written; newest first
	// unflushed is the encoded size of the entries in mem and imms: what
	// the next index flush writes as a run (indexRunRoom). Atomic, since
	// writes change it holding mu shared.
	unflushed conc.Int64
	runs      []*run // newest first
	nextRunID uint64
	versions  []*version // published and not yet superseded by a durable one, oldest first
	// live is the live (referenced) bytes per extent: atomic, since writes
	// change it holding mu shared. Read under mu exclusive, it is exact.
	live   []conc.Int64
	rootIn dep.Dependency // everything the newest root depends on

	// pubMu serializes publishing (writing metadata and setting the root)
	// so roots reach the superblock in version order.
	pubMu conc.Mutex
	// unpublished are the tickets of memtables whose run is in runs but
	// whose publish failed: the next publish names the run, and resolves
	// them. Guarded by pubMu.
	unpublished []*ticket
	// maintMu serializes compaction and reclamation with each other (the
	// paper's bug #14 was a race between them).
	maintMu conc.Mutex

	// tmu guards the tickets and the background tasks' signals.
	tmu              conc.Mutex
	tcond            *conc.Cond
	indexFlushWanted bool
	indexFlushDue    bool
	// expectDone releases the IO scheduler's hold for the index flush a
	// waiter asked for (chunk.Store.Expect); indexFlushLoop calls it once
	// the index flush is queued.
	expectDone  func()
	timerArmed  bool
	timerSet    conc.Bool // timerArmed, for armIndexFlushTimer's check without tmu
	maintWanted bool
	closing     bool
	wg          conc.WaitGroup

	closed conc.Bool
	// calls counts the calls in progress that passed the open check
	// (enter): Close sets closed, then waits for it to reach zero before
	// its final flush, so a write in flight when Close begins either
	// lands before that flush or is refused. A counter, not a lock: a
	// List callback may call the store while Close waits (it is refused).
	calls     conc.Int64
	callsMu   conc.Mutex
	callsCond *conc.Cond // broadcast when calls reaches zero on a closed store
	stats     counters
}

type counters struct {
	userBytes                           conc.Int64
	dataBytes, evacBytes, idxBytes      conc.Int64
	metaBytes                           conc.Int64
	indexFlushes, compactions, reclaims conc.Int64
	compactErrs, reclaimErrs, relocated conc.Int64
	staleRetries, valueHits             conc.Int64
	publishes                           conc.Int64
	writesNoSpace, reclaimBarriers      conc.Int64
	// Where reclamation's time goes, in nanoseconds: writes waiting for
	// it in their own path (and the longest such wait), its put-gate
	// barriers, reading and copying victims' live chunks, and its
	// batches' index flushes.
	reclaimWaitNs, reclaimWaitMaxNs conc.Int64
	barrierNs, evacuateNs, flushNs  conc.Int64
}

// addMax raises x to v if v is larger.
func addMax(x *conc.Int64, v int64) {
	for {
		old := x.Load()
		if v <= old || x.CompareAndSwap(old, v) {
			return
		}
	}
}

// memtable is the lsm memtable with the dependencies of its entries' data
// and the ticket its writers wait on.
type memtable struct {
	// mu guards t and deps while this is the store's current memtable
	// (writes change them holding Store.mu shared); a sealed memtable
	// changes no more.
	mu     conc.RWMutex
	t      *lsm.Memtable
	deps   dep.Dependency // written dependencies of the chunks its entries name
	ticket *ticket
}

func newMemtable() *memtable { return &memtable{t: lsm.NewMemtable(), ticket: &ticket{}} }

// ticket is how the writers of one memtable learn when it is durable:
// once its run is published, root is the dependency on the superblock
// holding a root that covers it. Fields are guarded by Store.tmu.
type ticket struct {
	sealed bool
	done   bool
	root   dep.Dependency
	err    error
}

// run is one index run: in memory, and where its chunks are.
type run struct {
	id      uint64
	r       *lsm.Run
	locs    []chunk.Locator
	bytes   uint64
	written dep.Dependency
	level   int // compaction level: see pickCompaction
}

// version is one published index state: its runs and the metadata naming
// them. root is persistent once a superblock holding its root is.
type version struct {
	runs     []*run
	metaLocs []chunk.Locator
	root     dep.Dependency
}

// Open opens the store on dev. A blank device (all zeros wherever a format
// would write or orphan data: see nonBlank) is formatted first; a device
// that holds data but no valid superblock is refused with a NotBlankError
// (engine.ErrCorruption), never formatted, unless opts.ForceFormat is set.
// The device stays the caller's: Close does not close it.
func Open(dev disk.Device, opts Options) (*Store, error) {
	opts.EnsureDefaults()
	if opts.extentAuto {
		if f, ok, err := superblock.Find(dev); err == nil && ok {
			opts.adoptExtentBytes(f.Image.ExtentBytes)
		} else {
			opts.adoptExtentBytes(DefaultExtentBytes(dev.Size()))
		}
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	// The mutant is on before the device is read, so recovery's seeded
	// bugs fire too.
	unmutate, err := mutant.Activate(opts.Mutant)
	if err != nil {
		return nil, err
	}
	engine.Enter(opts.Observer, engine.PhaseRecovery)
	defer engine.Leave(opts.Observer, engine.PhaseRecovery)
	cs, err := openChunks(dev, opts)
	if err != nil {
		unmutate()
		return nil, err
	}
	s := &Store{opts: opts, dev: dev, cs: cs, clock: opts.Clock, mem: newMemtable(), unmutate: unmutate,
		rows: newRowCache(opts.RowCacheBytes)}
	s.tcond = conc.NewCond(&s.tmu)
	s.callsCond = conc.NewCond(&s.callsMu)
	if err := s.recover(context.Background()); err != nil {
		cs.Close()
		unmutate()
		return nil, err
	}
	// Recovery seals the extents the streams were appending to: reclaim
	// at once if that left few free.
	s.maintWanted = cs.Stats().FreeExtents < opts.ReclaimFreeExtents
	s.wg.Add(2)
	conc.Go("shardstore.index-flush", func() { defer s.wg.Done(); s.indexFlushLoop() })
	conc.Go("shardstore.maintain", func() { defer s.wg.Done(); s.maintainLoop() })
	return s, nil
}

// recover loads the index named by the superblock's root.
func (s *Store) recover(ctx context.Context) error {
	geo := s.cs.Geometry()
	s.live = make([]conc.Int64, geo.Count)
	metaLocs, err := lsm.DecodeRoot(s.cs.Root())
	if err != nil {
		return fmt.Errorf("shardstore: recover: %w", err)
	}
	v := &version{metaLocs: metaLocs}
	if mutant.On(mutant.RecoveredMetadataUnowned) {
		v.metaLocs = nil // the runs seemed to be all the root owns
	}
	if len(metaLocs) > 0 {
		b, err := s.cs.Get(ctx, metaLocs)
		if err != nil {
			return fmt.Errorf("shardstore: recover: read metadata: %w", err)
		}
		meta, err := lsm.DecodeMetadata(b)
		if err != nil {
			return fmt.Errorf("shardstore: recover: %w", err)
		}
		s.nextRunID = meta.NextRunID
		for _, ri := range meta.Runs {
			b, err := s.cs.Get(ctx, ri.Locs)
			if err != nil {
				return fmt.Errorf("shardstore: recover: read run %d: %w", ri.ID, err)
			}
			r, err := lsm.DecodeRun(b)
			if err != nil {
				return fmt.Errorf("shardstore: recover: run %d: %w", ri.ID, err)
			}
			// Levels never decrease from newest to oldest.
			level := sizeLevel(len(r.Entries))
			if n := len(s.runs); n > 0 {
				level = max(level, s.runs[n-1].level)
			}
			s.runs = append(s.runs, &run{id: ri.ID, r: r, locs: ri.Locs, bytes: ri.Bytes, level: level})
		}
	}
	v.runs = slices.Clone(s.runs)
	s.versions = []*version{v}
	for _, e := range s.allLocked() {
		for _, l := range e.Locs {
			if !geo.Valid(l.Extent) {
				return fmt.Errorf("shardstore: recover: key %q names extent %d of %d: %w", e.Key, l.Extent, geo.Count, engine.ErrCorruption)
			}
			s.live[l.Extent].Add(l.FrameBytes())
		}
	}
	engine.Emit(s.opts.Observer, engine.EventRecovery)
	if s.opts.Observer != nil {
		for i, info := range s.cs.Extents() {
			if info.Owner == extent.Data && info.WritePointer > 0 && s.live[i].Load() == 0 {
				s.opts.Observer.Event(engine.EventRecoveryDeadExtent)
			}
		}
	}
	return nil
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return fmt.Errorf("shardstore: %w", engine.ErrClosed)
	}
	return nil
}

// enter begins a call: it refuses one on a closed store and counts it
// otherwise, until leave. Close waits for the count to drain. (The
// increment comes before the check, and Close's store before its read of
// the count, so either the call sees closed or Close sees the call.)
func (s *Store) enter() error {
	s.calls.Add(1)
	if s.closed.Load() {
		s.leave()
		return fmt.Errorf("shardstore: %w", engine.ErrClosed)
	}
	return nil
}

// leave ends a call begun by enter.
func (s *Store) leave() {
	if s.calls.Add(-1) == 0 && s.closed.Load() {
		s.callsMu.Lock()
		s.callsCond.Broadcast()
		s.callsMu.Unlock()
	}
}

// waitCalls waits, on a closed store, for the calls in progress to end.
func (s *Store) waitCalls() {
	s.callsMu.Lock()
	for s.calls.Load() != 0 {
		s.callsCond.Wait()
	}
	s.callsMu.Unlock()
}

// lookupLocked returns the newest entry for key. Called with mu held.
func (s *Store) lookupLocked(key []byte) (lsm.Entry, bool) {
	s.mem.mu.RLock()
	e, ok := s.mem.t.Get(key)
	s.mem.mu.RUnlock()
	if ok {
		return e, true
	}
	return s.lookupOlderLocked(key)
}

// lookupOlderLocked is lookupLocked past the memtable: the sealed
// memtables and the runs.
func (s *Store) lookupOlderLocked(key []byte) (lsm.Entry, bool) {
	for _, m := range s.imms {
		if e, ok := m.t.Get(key); ok {
			return e, true
		}
	}
	h := lsm.Hash(key)
	for _, r := range s.runs {
		if e, ok := r.r.GetHashed(key, h); ok {
			return e, true
		}
	}
	return lsm.Entry{}, false
}

// setLocked makes e the newest entry for its key, keeping the live-byte
// accounting. Called with mu held, shared or exclusively.
func (s *Store) setLocked(e lsm.Entry, written dep.Dependency) {
	s.setKeepLocked(e, nil, written)
}

// setKeepLocked is setLocked that also keeps a copy of value in the
// memtable for gets, within Options.ValueCacheBytes (see Get). It returns
// the memtable's size after the insert.
func (s *Store) setKeepLocked(e lsm.Entry, value []byte, written dep.Dependency) (size int) {
	m := s.mem
	m.mu.Lock()
	before := m.t.Bytes()
	// One map operation when the key's previous entry is in the memtable
	// (a hot key), not a lookup and then a set.
	old, ok := m.t.SetKeep(e, value, int(max(0, s.opts.ValueCacheBytes)))
	m.deps.AddOwned(written)
	size = m.t.Bytes()
	m.mu.Unlock()
	s.unflushed.Add(int64(size - before))
	if !ok {
		// The sealed memtables and runs do not change while mu is held,
		// shared or not. Another write of the key may have replaced this
		// one's entry already, and released its bytes before they are
		// added below: live is exact again once both are done.
		old, ok = s.lookupOlderLocked(e.Key)
	}
	if ok && !mutant.On(mutant.LiveBytesNotReleased) {
		for _, l := range old.Locs {
			s.live[l.Extent].Add(-l.FrameBytes())
		}
	}
	for _, l := range e.Locs {
		s.live[l.Extent].Add(l.FrameBytes())
	}
	return size
}

// Data chunk payloads are keyLen(uvarint) key valueBytes: the key lets
// reclamation find a chunk's index entry (reverse lookup) and lets Get
// check that a locator led to the right chunk. appendKeyPrefix appends
// the key prefix (keyLen key) to dst.
func appendKeyPrefix(dst, key []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(key))), key...)
}

// parseChunk splits a data chunk's payload into key and value bytes.
func parseChunk(p []byte) (key, val []byte, err error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n < engine.KeyMin || n > engine.KeyMax || uint64(len(p)-k) < n {
		return nil, nil, fmt.Errorf("shardstore: data chunk key prefix: %w", engine.ErrCorruption)
	}
	return p[k : k+int(n)], p[k+int(n):], nil
}

// Get returns the value stored for key.
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	v, err := s.get(ctx, key)
	if mutant.On(mutant.Canary) && len(v) > 0 {
		v[0] ^= 0xff
	}
	return v, err
}

func (s *Store) get(ctx context.Context, key []byte) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if err := engine.CheckKey(key); err != nil {
		return nil, err
	}
	var rowMiss rowMiss
	if s.rows != nil {
		v, ok, miss := s.rows.get(key)
		if ok {
			return v, nil
		}
		rowMiss = miss
	}
	for attempt := 0; ; attempt++ {
		s.mu.RLock()
		m := s.mem
		m.mu.RLock()
		e, ok := m.t.Get(key)
		if ok && e.Value != nil {
			// Kept by the memtable (Options.ValueCacheBytes): copied out
			// under its lock, since the next put of the key reuses it.
			v := append(make([]byte, 0, len(e.Value)), e.Value...)
			m.mu.RUnlock()
			s.mu.RUnlock()
			s.stats.valueHits.Add(1)
			return v, nil
		}
		m.mu.RUnlock()
		if !ok {
			e, ok = s.lookupOlderLocked(key)
		}
		s.mu.RUnlock()
		if !ok || e.Kind == lsm.KindDelete {
			return nil, fmt.Errorf("shardstore: get %q: %w", key, engine.ErrNotFound)
		}
		v, err := s.read(ctx, key, e.Locs)
		if err != nil && errors.Is(err, extent.ErrStale) && attempt < 4 {
			// Reclamation moved the chunks and reset the extent between the
			// lookup and the read: the index now names the new copy.
			s.stats.staleRetries.Add(1)
			continue
		}
		if err != nil && mutant.On(mutant.GetErrorAsNotFound) {
			return nil, fmt.Errorf("shardstore: get %q: %w", key, engine.ErrNotFound)
		}
		if err == nil && s.rows != nil && len(v) <= RowCacheValueMax {
			s.rows.put(key, v, rowMiss)
		}
		return v, err
	}
}

func (s *Store) read(ctx context.Context, key []byte, locs []chunk.Locator) ([]byte, error) {
	if len(locs) == 1 {
		p, err := s.cs.GetChunk(ctx, locs[0])
		if err != nil {
			return nil, fmt.Errorf("shardstore: get %q: %w", key, err)
		}
		// GetChunk returned a fresh buffer; the value is ours.
		return s.chunkValue(key, locs[0], p)
	}
	ps, err := s.cs.GetChunks(ctx, locs)
	if err != nil {
		return nil, fmt.Errorf("shardstore: get %q: %w", key, err)
	}
	total := 0
	for _, p := range ps {
		total += len(p)
	}
	out := make([]byte, 0, total)
	for i, p := range ps {
		v, err := s.chunkValue(key, locs[i], p)
		if err != nil {
			return nil, err
		}
		out = append(out, v...)
	}
	return out, nil
}

// chunkValue returns the value bytes of the data chunk payload p read at
// l for key, checking that the chunk is key's.
func (s *Store) chunkValue(key []byte, l chunk.Locator, p []byte) ([]byte, error) {
	k, v, err := parseChunk(p)
	if err != nil {
		return nil, fmt.Errorf("shardstore: get %q: chunk %v: %w", key, l, err)
	}
	if !bytes.Equal(k, key) {
		return nil, fmt.Errorf("shardstore: get %q: chunk %v holds key %q: %w", key, l, k, engine.ErrCorruption)
	}
	return v, nil
}

// Sync returns once every write acknowledged before the call is durable.
func (s *Store) Sync(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return s.syncRetry(ctx, false)
}

// syncRetry is sync, retried once if it fails with engine.ErrNoSpace after
// reclaiming every extent with dead bytes: an index flush needs free
// extents for its run and metadata, and a device can run out of them with
// most of its extents holding only old runs, old metadata and overwritten
// data — each reopen seals the extents its streams were appending to, and
// background reclamation starts only after an index flush. Without it, Sync, Close
// and compaction failed with ErrNoSpace on a 1 MiB device after five clean
// reboots of one tiny put each. maintLocked says the caller holds maintMu.
func (s *Store) syncRetry(ctx context.Context, maintLocked bool) error {
	err := s.sync(ctx)
	if !errors.Is(err, engine.ErrNoSpace) {
		return err
	}
	if !maintLocked {
		s.maintMu.Lock()
		defer s.maintMu.Unlock()
	}
	_ = s.reclaimLocked(ctx, reclaimAll) // what it freed shows in the retry
	return s.sync(ctx)
}

func (s *Store) sync(ctx context.Context) error {
	s.mu.RLock()
	t := s.mem.ticket
	s.mu.RUnlock()
	root, err := s.waitTicket(ctx, t)
	if err != nil {
		return err
	}
	if mutant.On(mutant.SyncBeforeRootDurable) {
		return nil // the run is published: taken for durable
	}
	if err := root.Wait(ctx); err != nil {
		return fmt.Errorf("shardstore: sync: %w", err)
	}
	return nil
}

// Close makes everything acknowledged durable and shuts the store down. Reopening
// loses nothing. Calls in progress finish first (later ones, and calls a
// List callback makes meanwhile, return ErrClosed), so a put that returns
// nil, even while Close runs, is durable once Close returns nil; Close
// called from inside a List callback would wait for itself.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return fmt.Errorf("shardstore: %w", engine.ErrClosed)
	}
	if !mutant.On(mutant.CloseIgnoresCallsInFlight) {
		s.waitCalls()
	}
	ctx := context.Background()
	markClosing := func() {
		s.tmu.Lock()
		s.closing = true
		s.tcond.Broadcast()
		s.tmu.Unlock()
	}
	// Let running maintenance finish, then index-flush.
	s.maintMu.Lock()
	if mutant.On(mutant.CloseBeforeFinalFlush) {
		markClosing()
	}
	var err error
	// The mutant takes the index flush reclamation made before a reset
	// for one that covers everything.
	if !mutant.On(mutant.CloseSkipsFlushAfterReset) || s.cs.Stats().Resets == 0 {
		err = s.syncRetry(ctx, true)
	}
	markClosing()
	s.maintMu.Unlock()
	s.wg.Wait()
	if cerr := s.cs.Close(); err == nil {
		err = cerr
	}
	if mutant.On(mutant.CloseErrorSwallowed) {
		err = nil
	}
	if s.ownDev {
		if derr := s.dev.Close(); err == nil {
			err = derr
		}
	}
	s.unmutate()
	return err
}

// Limits implements engine.Limiter.
func (s *Store) Limits() engine.Limits {
	return engine.Limits{KeyMax: engine.KeyMax, ValueMax: ValueMax}
}

// List calls fn for every key in [start, end) in order.
func (s *Store) List(ctx context.Context, start, end []byte, fn func(key []byte) bool) error {
	return s.list(ctx, start, end, 0, fn)
}

// ListN implements engine.BoundedLister: List of at most n keys, whose
// first batch merges n keys, not listBatchFirst (YCSB-E's scans of 1 to
// 100 keys merged 128 each).
func (s *Store) ListN(ctx context.Context, start, end []byte, n int, fn func(key []byte) bool) error {
	if n <= 0 {
		return fmt.Errorf("shardstore: list of at most %d keys: want n > 0: %w", n, engine.ErrInvalidArgument)
	}
	return s.list(ctx, start, end, n, fn)
}

// list is List, of at most n keys if n > 0.
func (s *Store) list(ctx context.Context, start, end []byte, n int, fn func(key []byte) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	// Batches, each merged under the read lock and delivered outside it
	// (fn may call the store): the first small, since a scan usually
	// wants a few keys, then doubling. A key present for the whole call
	// is listed, once, in order; a key written or deleted during it is
	// listed as one batch saw it.
	limit := listBatchFirst
	if n > 0 {
		limit = min(n, listBatchMax)
	}
	from := start
	for {
		b := getListBatch(limit)
		var next []byte
		if mutant.On(mutant.ListWithoutIndexLock) {
			b.es, next = s.mergedLocked(b.es, from, end, limit)
		} else {
			s.mu.RLock()
			b.es, next = s.mergedLocked(b.es, from, end, limit)
			s.mu.RUnlock()
		}
		for i, e := range b.es {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					b.put()
					return err
				}
			}
			if !fn(e.Key) {
				b.put()
				return nil
			}
		}
		got := len(b.es)
		b.put()
		if n > 0 {
			if n -= got; n == 0 {
				return ctx.Err()
			}
		}
		if next == nil {
			return ctx.Err()
		}
		from = next
		limit = min(2*limit, listBatchMax)
		if n > 0 {
			limit = min(limit, n)
		}
	}
}

// List's batches: the first of listBatchFirst keys, doubling up to
// listBatchMax.
const (
	listBatchFirst = 128
	listBatchMax   = 8192
)

// listBatch is a slice of entries recycled by List, for its batches and
// the memtables' ranges it merges: a scan of YCSB-E allocated 10 KB for
// its first batch, and the collections its allocations brought spent a
// third of its CPU in write barriers on these entries' pointers.
type listBatch struct{ es []lsm.Entry }

var listBatches = conc.Pool{New: func() any { return new(listBatch) }}

// getListBatch returns an empty batch with room for n entries.
func getListBatch(n int) *listBatch {
	b := listBatches.Get().(*listBatch)
	if cap(b.es) < n {
		b.es = make([]lsm.Entry, 0, n)
	}
	return b
}

// put gives b back once its keys are delivered, cleared so that a pooled
// batch keeps no key alive. Only its length is cleared: every batch in
// the pool is clear past it (a new one is, and each is cleared as it
// comes back), and clearing the whole capacity of entries with pointers
// cost a write barrier per word whenever a collection was under way.
// Batches hold up to listBatchMax entries, so the pool holds nothing
// larger.
func (b *listBatch) put() {
	clear(b.es)
	b.es = b.es[:0]
	listBatches.Put(b)
}

// allLocked returns the current entry of every present key, in order.
// Called with mu held.
func (s *Store) allLocked() []lsm.Entry {
	all, _ := s.mergedLocked(nil, nil, nil, -1)
	return all
}

// mergedLocked appends to out (empty) the current entry of up to limit
// present keys in [start, end), in order (a negative limit: every one),
// and returns it and the key to continue from (nil: none left).
// Called with mu held.
func (s *Store) mergedLocked(out []lsm.Entry, start, end []byte, limit int) ([]lsm.Entry, []byte) {
	// sources on the stack for the usual count, and the memtables'
	// ranges in recycled slices (given back once merged): allocations per
	// scan brought collections, whose write barriers on these entries'
	// pointers took a third of YCSB-E's CPU.
	var sourcesArr [24][]lsm.Entry
	sources := sourcesArr[:0]
	var memArr [8]*listBatch
	mems := memArr[:0]
	defer func() {
		for _, b := range mems {
			b.put()
		}
	}()
	// below: the merge is complete only under the first key a memtable
	// source left out.
	var below []byte
	fromMem := func(t *lsm.Memtable) {
		var es []lsm.Entry
		var next []byte
		var more bool
		if limit >= 0 && limit <= listBatchMax {
			b := getListBatch(min(limit, t.Len()))
			b.es, next, more = t.RangeAppend(b.es, start, end, limit)
			es = b.es
			mems = append(mems, b)
		} else {
			es, next, more = t.Range(start, end, limit)
		}
		if mutant.On(mutant.ListEndInclusive) && end != nil && !more {
			if e, ok := t.Get(end); ok {
				es = append(es, e)
			}
		}
		sources = append(sources, es)
		if more && (below == nil || bytes.Compare(next, below) < 0) {
			below = next
		}
	}
	if m := s.mem; m != nil {
		// The current memtable takes writes under mu shared: its own
		// lock, for the range only (not under the mutant, which races
		// writes by taking no lock at all).
		if !mutant.On(mutant.ListWithoutIndexLock) {
			m.mu.RLock()
		}
		fromMem(m.t)
		if !mutant.On(mutant.ListWithoutIndexLock) {
			m.mu.RUnlock()
		}
	}
	for _, m := range s.imms {
		fromMem(m.t)
	}
	for _, r := range s.runs {
		es := r.r.Entries
		lo, hi := 0, len(es)
		if start != nil {
			lo = r.r.Seek(start)
		}
		if end != nil {
			hi = r.r.Seek(end)
			if hi < len(es) && bytes.Equal(es[hi].Key, end) && mutant.On(mutant.ListEndInclusive) {
				hi++
			}
		}
		if lo < hi {
			sources = append(sources, es[lo:hi])
		}
	}
	if limit < 0 {
		limit = math.MaxInt
	}
	if out != nil || limit <= listBatchMax {
		out = lsm.MergeAppend(out, sources, true, limit, below)
	} else {
		out = lsm.MergeLimit(sources, true, limit, below)
	}
	switch {
	case len(out) == limit:
		// Continue after the last key returned: its successor in byte order.
		return out, append(bytes.Clone(out[len(out)-1].Key), 0)
	case below != nil:
		return out, below
	}
	return out, nil
}
