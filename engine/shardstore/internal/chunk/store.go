package chunk

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/cache"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/iosched"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/superblock"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// Options configure a Store. The zero value is valid; DefaultOptions
// returns it with every default filled in.
type Options struct {
	// ExtentBytes is the extent size, a multiple of the cache page size
	// (and so of the sector size). Default 16 MiB. Tests use 64 KiB.
	ExtentBytes int64
	// ChunkPayloadMax is the largest payload of one chunk; AppendSplit
	// splits larger values. Default 1 MiB. A frame (payload plus 44
	// bytes) must fit in an extent.
	ChunkPayloadMax int
	// CacheReadMax: frames longer than this, or than a quarter of the
	// cache, are read straight from the device, bypassing (and not
	// polluting) the buffer cache. Default 64 KiB.
	CacheReadMax int
	// Seed seeds the chunk UUIDs, mixed with the superblock sequence so that
	// each open draws different ones. Default 0: a random seed.
	Seed uint64
	// UUID, if set, replaces the UUID source: tests use it to force a UUID
	// that begins with the frame magic (the paper's bug #10).
	UUID func(r *rand.Rand) UUID
	// ReserveExtents sets the reservation ladder: a stream fails with
	// engine.ErrNoSpace rather than open a new extent when no more than
	// Stream.Reserved(ReserveExtents) extents are free. Data may not take
	// the last ReserveExtents, evacuation the last two, the index the
	// last one, and metadata may take any: so evacuation leaves an index
	// flush its two extents, and an index run leaves its metadata one.
	// Default 0 (no reserve); the engine sets it.
	ReserveExtents int
	// Observer hears the chunk store's events (the superblock slot
	// recovery chose). Default nil.
	Observer  engine.Observer
	Scheduler iosched.Options
	Cache     cache.Options
	Dep       dep.Options
}

// Defaults.
const (
	ExtentBytesDefault     = 16 << 20
	ChunkPayloadMaxDefault = 1 << 20
	CacheReadMaxDefault    = 64 << 10
)

// DefaultOptions returns the options with every default filled in.
func DefaultOptions() Options {
	var o Options
	o.EnsureDefaults()
	return o
}

// EnsureDefaults fills in zero fields.
func (o *Options) EnsureDefaults() {
	if o.ExtentBytes == 0 {
		o.ExtentBytes = ExtentBytesDefault
	}
	if o.ChunkPayloadMax == 0 {
		o.ChunkPayloadMax = ChunkPayloadMaxDefault
	}
	if o.CacheReadMax == 0 {
		o.CacheReadMax = CacheReadMaxDefault
	}
	o.Scheduler.EnsureDefaults()
	o.Cache.EnsureDefaults()
	o.Dep.EnsureDefaults()
}

// Validate reports every invalid field (after EnsureDefaults).
func (o Options) Validate() error {
	var errs []error
	if o.ExtentBytes < extent.ExtentBytesMin || o.ExtentBytes > extent.ExtentBytesMax {
		errs = append(errs, fmt.Errorf("extent size %d is outside [%d, %d]", o.ExtentBytes, extent.ExtentBytesMin, extent.ExtentBytesMax))
	}
	if o.Cache.PageBytes > 0 && o.ExtentBytes%int64(o.Cache.PageBytes) != 0 {
		errs = append(errs, fmt.Errorf("extent size %d is not a multiple of the cache page size %d", o.ExtentBytes, o.Cache.PageBytes))
	}
	if o.ChunkPayloadMax < 1 || int64(o.ChunkPayloadMax)+format.FrameOverhead > o.ExtentBytes/2 {
		errs = append(errs, fmt.Errorf("chunk payload max %d: a frame must fit in half an extent (%d bytes)", o.ChunkPayloadMax, o.ExtentBytes/2))
	}
	if o.CacheReadMax < 0 {
		errs = append(errs, fmt.Errorf("cache read max %d is negative", o.CacheReadMax))
	}
	for _, err := range []error{o.Scheduler.Validate(), o.Cache.Validate(), o.Dep.Validate()} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("chunk: invalid options: %w", errors.Join(errs...))
	}
	return nil
}

// Stats are the store's counters.
type Stats struct {
	Chunks           int64 // chunks put
	PayloadBytes     int64 // payload bytes put
	Gets             int64
	Resets           int64
	Scheduler        iosched.Stats
	Cache            cache.Stats
	SuperblockWrites int64
	FreeExtents      int
}

// Store is the chunk store: it appends framed chunks to extents through the
// dependency graph and the IO scheduler, reads them back through the buffer
// cache, and keeps the extent table in the superblock.
type Store struct {
	opts  Options
	dev   disk.Device
	geo   extent.Geometry
	table *extent.Table
	g     *dep.Graph
	sb    *superblock.Manager
	sched *iosched.Scheduler
	cache *cache.Cache
	pool  *framePool
	// abandonFn is s.abandon, made once: a method value per write
	// allocated.
	abandonFn func(*iosched.Write)

	streams [streamCount]stream

	mu     conc.Mutex // guards resets, other, rng
	resets map[extent.ID]dep.Dependency
	other  dep.Dependency // resets and root updates, for Sync
	rng    *rand.Rand
	// UUIDs without Options.UUID: uuidBase (from the seed and the
	// superblock sequence) plus a counter, through a mixing function.
	uuidBase uint64
	uuidCtr  conc.Uint64
	// seenSeq is the highest superblock sequence recovery saw on the
	// device (superblock.Recovered.Seen): every slot this open writes
	// must be above it (CheckSequence).
	seenSeq uint64
	readMax int // frames longer are not read through the cache

	closed conc.Bool

	chunks, payloadBytes, gets, resetCount conc.Int64
}

// Format writes an empty chunk store (a fresh superblock) to dev.
func Format(dev disk.Device, opts Options) error {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	geo, err := extent.NewGeometry(dev.Size(), opts.ExtentBytes, dev.SectorSize())
	if err != nil {
		return fmt.Errorf("chunk: format: %w", err)
	}
	return superblock.Format(dev, geo)
}

// Open recovers the chunk store on dev from its newest valid superblock.
// Extents that held data are sealed: appends go to free extents only, so
// nothing past a recovered write pointer is ever read or extended.
func Open(dev disk.Device, opts Options) (*Store, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	geo, err := extent.NewGeometry(dev.Size(), opts.ExtentBytes, dev.SectorSize())
	if err != nil {
		return nil, fmt.Errorf("chunk: open: %w", err)
	}
	if int64(opts.Cache.PageBytes)%int64(geo.SectorSize) != 0 {
		return nil, fmt.Errorf("chunk: open: cache page size %d is not a multiple of the sector size %d", opts.Cache.PageBytes, geo.SectorSize)
	}
	rec, err := superblock.Recover(dev, geo)
	if err != nil {
		return nil, fmt.Errorf("chunk: open: %w", err)
	}
	if rec.FellBack {
		engine.Emit(opts.Observer, engine.EventSuperblockFallback)
	}
	seen := rec.Seen
	if rec, err = superblock.Begin(dev, geo, rec); err != nil {
		return nil, fmt.Errorf("chunk: open: %w", err)
	}

	table := extent.NewTable(geo)
	for i, r := range rec.Image.Records {
		table.Restore(extent.ID(i), extent.Info{Generation: r.Generation, Owner: r.Owner, WritePointer: r.WritePointer})
	}
	seed := opts.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	s := &Store{
		opts:  opts,
		dev:   dev,
		geo:   geo,
		table: table,
		g:     dep.New(opts.Dep),
		cache: cache.New(opts.Cache),
		pool:  newFramePool(FrameSize(opts.ChunkPayloadMax)),
		// One read never takes more than a quarter of the cache: a frame
		// that would is read with one device read into its own buffer,
		// not copied through pages it would evict at once.
		readMax: min(opts.CacheReadMax, int(max(opts.Cache.CapacityBytes, 1)/4)),
		resets:  map[extent.ID]dep.Dependency{},
		seenSeq: seen,
		rng:     rand.New(rand.NewPCG(seed, rec.Image.Sequence)),
		// Each open draws different UUIDs: the sequence moves on.
		uuidBase: splitmix64(seed) ^ splitmix64(rec.Image.Sequence<<1|1),
	}
	if mutant.On(mutant.UUIDReusedAcrossOpens) {
		s.uuidBase = splitmix64(seed) // the seed alone: each open draws the same UUIDs
	}
	s.abandonFn = s.abandon
	s.sb = superblock.NewManager(geo, table, s.g, rec)
	// Regions start at cache pages, so the pages a write completes go to
	// the cache as they go to the device (writeThrough).
	sopts := opts.Scheduler
	sopts.AlignBytes = s.cache.PageBytes()
	sopts.Written = s.writeThrough
	sopts.Recycle = s.pool.put
	s.sched, err = iosched.New(dev, geo, s.g, s.sb, sopts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Geometry returns the device's division into extents.
func (s *Store) Geometry() extent.Geometry { return s.geo }

// PayloadMax is the largest payload of one chunk.
func (s *Store) PayloadMax() int { return s.opts.ChunkPayloadMax }

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return fmt.Errorf("chunk: store closed: %w", engine.ErrClosed)
	}
	return nil
}

// Extent returns extent e's state.
func (s *Store) Extent(e extent.ID) extent.Info { return s.table.Info(e) }

// Extents returns every extent's state, indexed by ID.
func (s *Store) Extents() []extent.Info { return s.table.Snapshot() }

// Pending returns the dependency on every write made so far.
func (s *Store) Pending() dep.Dependency {
	var ds []dep.Dependency
	for i := range s.streams {
		ss := &s.streams[i]
		ss.mu.Lock()
		ds = append(ds, dep.And(ss.tail)) // a copy: ss.tail changes in place (AddOwned)
		ss.mu.Unlock()
	}
	s.mu.Lock()
	s.other = dep.And(s.other)
	ds = append(ds, s.other)
	s.mu.Unlock()
	return dep.And(ds...)
}

// Sync returns once every write made before the call is durable, or has
// failed for good (a chunk whose extent was reset before it was persisted:
// its own dependency reports that).
func (s *Store) Sync(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	return s.Pending().Settle(ctx)
}

// Close drains the scheduler (everything written is made durable, with the
// superblock) and stops the store. It does not close the device. After
// Close every method returns an error wrapping engine.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return fmt.Errorf("chunk: store closed: %w", engine.ErrClosed)
	}
	err := s.sched.Close()
	if err == nil {
		// Drained: every node is complete, and the bound's room must be
		// free again (a leak shows only after thousands of nodes).
		err = s.g.CheckDrained(true)
	}
	s.g.Stop()
	return err
}

// Err returns the device error that stopped the store, if any: after one,
// every write fails and the store must be reopened.
func (s *Store) Err() error { return s.sched.Err() }

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Chunks:           s.chunks.Load(),
		PayloadBytes:     s.payloadBytes.Load(),
		Gets:             s.gets.Load(),
		Resets:           s.resetCount.Load(),
		Scheduler:        s.sched.Stats(),
		Cache:            s.cache.Stats(),
		SuperblockWrites: s.sb.Writes(),
		FreeExtents:      s.table.FreeCount(),
	}
}

// Metrics flattens Stats into engine.Stats metric names.
func (st Stats) Metrics() map[string]float64 {
	m := map[string]float64{
		"chunks":                  float64(st.Chunks),
		"chunk_payload_bytes":     float64(st.PayloadBytes),
		"chunk_gets":              float64(st.Gets),
		"extent_resets":           float64(st.Resets),
		"extents_free":            float64(st.FreeExtents),
		"superblock_writes":       float64(st.SuperblockWrites),
		"sched_rounds":            float64(st.Scheduler.Rounds),
		"sched_writes":            float64(st.Scheduler.Writes),
		"sched_ios":               float64(st.Scheduler.IOs),
		"sched_io_bytes":          float64(st.Scheduler.IOBytes),
		"sched_merges":            float64(st.Scheduler.Merges),
		"sched_flushes":           float64(st.Scheduler.Flushes),
		"sched_flush_seconds":     float64(st.Scheduler.FlushNanos) / 1e9,
		"sched_queue_depth":       float64(st.Scheduler.QueueDepth),
		"sched_queue_depth_max":   float64(st.Scheduler.QueueDepthMax),
		"sched_dep_wait_seconds":  float64(st.Scheduler.DepWaitNanos) / 1e9,
		"sched_foreground_writes": float64(st.Scheduler.ForegroundWrites),
		"sched_background_writes": float64(st.Scheduler.BackgroundWrites),
		"sched_expect_holds":      float64(st.Scheduler.ExpectHolds),
		"cache_hits":              float64(st.Cache.Hits),
		"cache_misses":            float64(st.Cache.Misses),
		"cache_evictions":         float64(st.Cache.Evictions),
		"cache_pages":             float64(st.Cache.Pages),
	}
	if st.Scheduler.IOs > 0 {
		m["sched_io_bytes_mean"] = float64(st.Scheduler.IOBytes) / float64(st.Scheduler.IOs)
	}
	return m
}
