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
)

// Stream is where a chunk is appended: each stream has its own open extent,
// owner and scheduling class, so that client data, evacuated data and index
// runs never share an extent's queue (one stream's write waiting on a
// dependency does not hold back another's).
type Stream uint8

// The streams.
const (
	StreamData     Stream = iota // client values: data extents, foreground
	StreamEvacuate               // data moved by reclamation: data extents, background
	StreamIndex                  // index runs: index extents, background
	StreamMetadata               // index metadata: metadata extents, background
	streamCount
)

func (s Stream) owner() extent.Owner {
	switch s {
	case StreamData, StreamEvacuate:
		return extent.Data
	case StreamIndex:
		return extent.Index
	case StreamMetadata:
		return extent.Metadata
	}
	panic(fmt.Sprintf("chunk: stream %d", s))
}

// Reserve is how many free extents st leaves untouched, given the
// engine's reserve r (Options.ReserveExtents): the reservation ladder.
//
// Every stream but data appends on behalf of a later one: evacuated
// chunks are published by an index run, and a run by metadata naming it;
// and every way of freeing an extent ends in a metadata append (an index
// flush that makes chunks' deaths durable, or a publish that stops naming
// an index or metadata extent). If any stream but metadata could take the
// last free extent, the store could reach a state, with the metadata
// stream's extent sealed (every reopen seals them) or full, where no
// publish completes and so nothing can ever be freed. The ladder keeps
// that from happening: each stream leaves enough for the streams its
// appends wait on.
func (st Stream) Reserve(r int) int {
	switch st {
	case StreamData:
		return r
	case StreamEvacuate:
		// Like an index run, evacuation leaves the last free extent to
		// metadata. It may not leave enough for an index run too: the
		// engine admits an evacuation append only while the index flush
		// that publishes it can still complete (shardstore's
		// evacuationRoom), which is exact where a fixed reserve of two
		// would stop reclamation on a nearly full device for good.
		return min(1, r)
	case StreamIndex:
		return min(1, r) // the run's metadata
	}
	return 0
}

func (s Stream) class() iosched.Class {
	if s == StreamData {
		return iosched.Foreground
	}
	return iosched.Background
}

func (s Stream) String() string {
	switch s {
	case StreamData:
		return "data"
	case StreamEvacuate:
		return "evacuate"
	case StreamIndex:
		return "index"
	case StreamMetadata:
		return "metadata"
	}
	return fmt.Sprintf("stream(%d)", uint8(s))
}

// Options configure a Store. The zero value is valid; DefaultOptions
// returns it with every default filled in.
type Options struct {
	// ExtentBytes is the extent size, a multiple of the cache page size
	// (and so of the sector size). Default 16 MiB. Tests use 64 KiB.
	ExtentBytes int64
	// ChunkPayloadMax is the largest payload of one chunk; Put splits larger
	// values. Default 1 MiB. A frame (payload plus 44 bytes) must fit in an
	// extent.
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
	// Stream.Reserve(ReserveExtents) extents are free. Data may not take
	// the last ReserveExtents, evacuation the last two, the index the
	// last one, and metadata may take any: so evacuation leaves an index
	// flush its two extents, and an index run leaves its metadata one.
	// Default 0 (no reserve); the engine sets it.
	ReserveExtents int
	Scheduler      iosched.Options
	Cache          cache.Options
	Dep            dep.Options
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

// ScanEntry is one frame (or corrupt region) found by Store.Scan.
type ScanResult struct {
	ScanEntry
	// Locator names the frame; valid when Err is nil and Frame.Kind is
	// KindData.
	Locator Locator
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

type stream struct {
	mu     conc.Mutex
	open   bool
	ext    extent.ID
	gen    uint32
	tail   dep.Dependency // the write-pointer nodes of this stream's chunks
	resetD dep.Dependency // the reset of the open extent, if not yet durable
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
	readMax  int // frames longer are not read through the cache

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
		rng:     rand.New(rand.NewPCG(seed, rec.Image.Sequence)),
		// Each open draws different UUIDs: the sequence moves on.
		uuidBase: splitmix64(seed) ^ splitmix64(rec.Image.Sequence<<1|1),
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

// writeThrough caches the pages of a region just written that hold a data
// chunk small enough to be read through the cache (see iosched.Options.
// Written): a key read soon after it is written — the common case — then
// never goes to the device. Only whole pages below the region's last data
// byte are complete; the partial last page is rewritten, whole, by the
// extent's next region.
func (s *Store) writeThrough(e extent.ID, gen uint32, start int64, buf []byte, dataEnd int64, spans []iosched.Span) {
	pb := int64(s.cache.PageBytes())
	if s.table.Generation(e) != gen {
		return // reset since: nothing of this generation can be read
	}
	i := 0
	for p := start; p+pb <= dataEnd; p += pb {
		for i < len(spans) && spans[i].Hi <= p {
			i++
		}
		if i == len(spans) {
			return
		}
		if spans[i].Lo >= p+pb {
			continue // no cached chunk in this page
		}
		s.cache.Insert(cache.Key{Extent: e, Gen: gen, Page: uint32(p / pb)}, buf[p-start:p-start+pb])
	}
}

// Geometry returns the device's division into extents.
func (s *Store) Geometry() extent.Geometry { return s.geo }

// PayloadMax is the largest payload of one chunk.
func (s *Store) PayloadMax() int { return s.opts.ChunkPayloadMax }

// uuid returns a new frame UUID, never all zero (that would match the
// zeros of a never-written tail). Without Options.UUID it takes no lock:
// the i-th UUID of an open is two splitmix64 outputs of uuidBase+i, which
// are distinct for distinct i (splitmix64 is a bijection) and as
// unpredictable to the data as the random draws they replace.
func (s *Store) uuid() UUID {
	var id UUID
	if s.opts.UUID == nil {
		for {
			i := s.uuidCtr.Add(1)
			binary.LittleEndian.PutUint64(id[:8], splitmix64(s.uuidBase+2*i))
			binary.LittleEndian.PutUint64(id[8:], splitmix64(s.uuidBase+2*i+1))
			if id != (UUID{}) {
				return id
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		id = s.opts.UUID(s.rng)
		if id != (UUID{}) {
			return id
		}
	}
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return fmt.Errorf("chunk: store closed: %w", engine.ErrClosed)
	}
	return nil
}

// Put stores data as one or more chunks appended to st's open extent (or
// extents), each written only once d is persistent. It returns their
// locators, in order, and the dependency that is persistent once every
// chunk is durable: its bytes flushed and a superblock recording a write
// pointer past it persisted. An empty value takes one chunk with an empty
// payload.
//
// Put blocks while the dependency graph or the scheduler's queue is full
// (back-pressure) and returns ctx.Err() if ctx ends first. On an error, the
// chunks already appended are garbage: no locator names them.
func (s *Store) Put(ctx context.Context, st Stream, data []byte, d dep.Dependency) ([]Locator, dep.Dependency, error) {
	n := max(1, (len(data)+s.opts.ChunkPayloadMax-1)/s.opts.ChunkPayloadMax)
	locs := make([]Locator, 0, n)
	all := d
	for i := 0; i < n; i++ {
		lo := i * s.opts.ChunkPayloadMax
		hi := min(lo+s.opts.ChunkPayloadMax, len(data))
		loc, cd, err := s.PutChunk(ctx, st, data[lo:hi], d)
		if err != nil {
			return nil, dep.Dependency{}, err
		}
		locs = append(locs, loc)
		all = all.And(cd)
	}
	return locs, all, nil
}

// PutChunk stores payload (at most PayloadMax bytes) as one chunk. See Put.
func (s *Store) PutChunk(ctx context.Context, st Stream, payload []byte, d dep.Dependency) (Locator, dep.Dependency, error) {
	loc, _, durable, err := s.Append(ctx, st, payload, d)
	return loc, durable, err
}

// writtenChain marks the chains of chunks' data nodes, apart from the
// write-pointer chains of the same extent generations.
const writtenChain = 1 << 63

// Append is PutChunk that also returns the chunk's written dependency:
// persistent once the chunk's bytes are flushed, before any superblock
// covers them. A layer that publishes the chunk through the superblock
// itself (the index, whose root is in the superblock) can depend on
// written alone: a superblock slot takes the root only once the written
// dependency is issued (dep.Dependency.IsIssued), and then records a write
// pointer past the chunk too, and goes to the device in the same round.
// Depending on durable instead would wait for a slot covering the chunk
// to be persisted first: one more round.
//
// Written dependencies of one extent generation are a dep chain (a later
// chunk flushed implies the earlier ones are), so a dependency on many
// chunks stays a few nodes long.
func (s *Store) Append(ctx context.Context, st Stream, payload []byte, d dep.Dependency) (loc Locator, written, durable dep.Dependency, err error) {
	return s.Append2(ctx, st, payload, nil, d)
}

// Append2 is Append of the payload p1 followed by p2, which it does not
// join first: the frame is built from both (one copy of the bytes, not two).
func (s *Store) Append2(ctx context.Context, st Stream, p1, p2 []byte, d dep.Dependency) (loc Locator, written, durable dep.Dependency, err error) {
	if err := s.checkOpen(); err != nil {
		return Locator{}, dep.Dependency{}, dep.Dependency{}, err
	}
	if st >= streamCount {
		panic(fmt.Sprintf("chunk: stream %d", st))
	}
	n := len(p1) + len(p2)
	if n > s.opts.ChunkPayloadMax {
		return Locator{}, dep.Dependency{}, dep.Dependency{}, fmt.Errorf("chunk: payload of %d bytes, at most %d: %w", n, s.opts.ChunkPayloadMax, engine.ErrInvalidArgument)
	}
	frame := AppendFrame2(s.pool.get(FrameSize(n)), KindData, s.uuid(), p1, p2)
	size := int64(len(frame))
	if err := s.g.Admit(ctx, 2); err != nil {
		s.pool.put([][]byte{frame})
		return Locator{}, dep.Dependency{}, dep.Dependency{}, err
	}
	if err := s.sched.Reserve(ctx, size); err != nil {
		s.g.Release(2)
		s.pool.put([][]byte{frame})
		return Locator{}, dep.Dependency{}, dep.Dependency{}, err
	}
	ss := &s.streams[st]
	ss.mu.Lock()
	defer ss.mu.Unlock()
	off, err := s.appendLocked(st, ss, size)
	if err != nil {
		s.g.Release(2)
		s.sched.Unreserve(size)
		s.pool.put([][]byte{frame})
		return Locator{}, dep.Dependency{}, dep.Dependency{}, err
	}
	loc = Locator{Extent: ss.ext, Generation: ss.gen, Offset: uint32(off), Length: uint32(n)}
	data := s.g.NewNode(dep.And(d, ss.resetD), dep.Chain{ID: chainID(ss.ext, ss.gen) | writtenChain, Pos: loc.End()})
	wp := s.g.NewNode(dep.Dependency{}, dep.Chain{ID: chainID(ss.ext, ss.gen), Pos: loc.End()})
	s.sb.WaitWritePointer(ss.ext, ss.gen, loc.End(), wp)
	s.sched.Enqueue(&iosched.Write{
		Extent: ss.ext, Gen: ss.gen, Offset: off, Frame: frame, Node: data, Class: st.class(),
		Abandon: s.abandonFn,
		Cache:   st.owner() == extent.Data && len(frame) <= s.readMax,
	})
	ss.tail.AddOwned(wp.Dependency())
	s.chunks.Add(1)
	s.payloadBytes.Add(int64(n))
	return loc, data.Dependency(), wp.Dependency(), nil
}

// abandon turns a write whose dependency failed into a padding frame of the
// same size, so the extent keeps no hole and a scan stays in step, and tells
// the superblock, which fails the chunk's write-pointer node (and those of
// the later chunks of its extent generation: see superblock.Abandoned).
func (s *Store) abandon(w *iosched.Write) {
	s.sb.Abandoned(w.Extent, w.Gen, w.Offset)
	var id UUID
	copy(id[:], w.Frame[format.FrameUUIDOffset:])
	pad := make([]byte, len(w.Frame)-format.FrameOverhead)
	w.Frame = AppendFrame(w.Frame[:0], KindPadding, id, pad)
}

func chainID(e extent.ID, gen uint32) uint64 { return uint64(e)<<32 | uint64(gen) }

// appendLocked reserves size bytes in the stream's open extent, opening a
// new one if it is full.
func (s *Store) appendLocked(st Stream, ss *stream, size int64) (int64, error) {
	if ss.open {
		off, err := s.table.Append(ss.ext, ss.gen, size)
		if err == nil {
			return off, nil
		}
		if !errors.Is(err, extent.ErrFull) && !errors.Is(err, extent.ErrStale) {
			return 0, err
		}
		ss.open = false
	}
	// s.mu makes the ladder's check and the allocation one step, so two
	// streams allocating at once cannot both pass the check.
	s.mu.Lock()
	if r := st.Reserve(s.opts.ReserveExtents); r > 0 && s.table.FreeCount() <= r {
		s.mu.Unlock()
		return 0, fmt.Errorf("chunk: %v stream: the last %d free extents are reserved: %w", st, r, engine.ErrNoSpace)
	}
	e, gen, err := s.table.Allocate(st.owner())
	if err != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("chunk: %v stream: %w: %w", st, err, engine.ErrNoSpace)
	}
	rd := s.resets[e]
	if rd.IsPersistent() {
		delete(s.resets, e)
		rd = dep.Dependency{}
	}
	s.mu.Unlock()
	s.sb.Touch()
	ss.open, ss.ext, ss.gen, ss.resetD = true, e, gen, rd
	return s.table.Append(e, gen, size)
}

// Room returns how many bytes st can still append to its open extent
// without opening a new one: 0 if it has none.
func (s *Store) Room(st Stream) int64 {
	ss := &s.streams[st]
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ss.open {
		return 0
	}
	info := s.table.Info(ss.ext)
	if info.Generation != ss.gen {
		return 0
	}
	return s.geo.ExtentBytes - info.WritePointer
}

// FreeExtents returns the number of free extents.
func (s *Store) FreeExtents() int { return s.table.FreeCount() }

// Seal closes st's open extent: later chunks of the stream go to a new one.
func (s *Store) Seal(st Stream) {
	ss := &s.streams[st]
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.open = false
}

// OpenExtent returns the extent st appends to, if it has one.
func (s *Store) OpenExtent(st Stream) (extent.ID, bool) {
	ss := &s.streams[st]
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.ext, ss.open
}

// Get reads the value stored as locs by Put.
func (s *Store) Get(ctx context.Context, locs []Locator) ([]byte, error) {
	if len(locs) == 1 {
		return s.GetChunk(ctx, locs[0])
	}
	total := 0
	for _, l := range locs {
		total += int(l.Length)
	}
	out := make([]byte, 0, total)
	for _, l := range locs {
		p, err := s.GetChunk(ctx, l)
		if err != nil {
			return nil, err
		}
		out = append(out, p...)
	}
	return out, nil
}

// GetChunk reads one chunk's payload. It fails if the locator's extent was
// reset since (extent.ErrStale), if the frame reaches past the write pointer
// (extent.ErrBeyondWritePointer), or if the bytes do not verify (a
// *FrameError, wrapping engine.ErrCorruption). It never returns bytes other
// than the ones Put was given.
func (s *Store) GetChunk(ctx context.Context, loc Locator) ([]byte, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.gets.Add(1)
	n := loc.FrameBytes()
	if err := s.table.CheckRead(loc.Extent, loc.Generation, int64(loc.Offset), n); err != nil {
		return nil, fmt.Errorf("chunk: get %v: %w", loc, err)
	}
	// A frame below the bytes issued is on the device; only one above
	// can still be queued (ReadUnissued takes the scheduler's lock), and
	// one in the partial last page is also kept by the scheduler: the
	// newest frames, the ones most likely to be read, never wait on the
	// device.
	issued := s.sched.Issued(loc.Extent, loc.Generation)
	pb := int64(s.cache.PageBytes())
	var b []byte
	ok := false
	if int64(loc.Offset)+n > issued/pb*pb {
		b = make([]byte, n)
		if ok = s.sched.ReadUnissued(loc.Extent, loc.Generation, int64(loc.Offset), b); !ok {
			b = b[:0] // s.read fills it
		}
	}
	if !ok {
		if int64(loc.Offset)+n > issued {
			// Not queued, so issued since the load above (ReadUnissued
			// and the scheduler's publish share its lock): load it again.
			// A stale 0 would read as "recovered extent, all of it on the
			// device" and put pages of frames still queued, zeros, into
			// the cache.
			issued = s.sched.Issued(loc.Extent, loc.Generation)
		}
		var err error
		b, err = s.read(b, loc.Extent, loc.Generation, int64(loc.Offset), int(n), issued)
		if err != nil {
			return nil, fmt.Errorf("chunk: get %v: %w", loc, err)
		}
	}
	// The extent may have been reset while we read: then the bytes may be
	// another generation's. New data reaches a reset extent only after the
	// reset is persisted, which is after this check would see it.
	if g := s.table.Generation(loc.Extent); g != loc.Generation {
		return nil, fmt.Errorf("chunk: get %v: extent %d reset to generation %d during the read: %w", loc, loc.Extent, g, extent.ErrStale)
	}
	f, size, err := DecodeFrame(b, s.opts.ChunkPayloadMax)
	if err != nil {
		return nil, fmt.Errorf("chunk: get %v: %w", loc, err)
	}
	if int64(size) != n || f.Kind != KindData {
		return nil, fmt.Errorf("chunk: get %v: %w", loc, &FrameError{Reason: ReasonLocator, Detail: fmt.Sprintf("%v frame of %d bytes", f.Kind, size)})
	}
	return f.Payload, nil
}

// read returns n bytes at off of extent e (generation gen), through the
// buffer cache for small reads, in buf if it has room for them. issued is
// the scheduler's Issued for the extent generation, read before the caller
// looked for the frame in the queue.
func (s *Store) read(buf []byte, e extent.ID, gen uint32, off int64, n int, issued int64) ([]byte, error) {
	base := s.geo.Base(e)
	if n > s.readMax {
		return s.readDirect(base, off, n)
	}
	pb := int64(s.cache.PageBytes())
	if issued == 0 {
		// Nothing of this generation issued in this process, yet the frame
		// is below the write pointer and not queued: the extent was
		// recovered, and all of it below the write pointer is on the device.
		issued = s.table.Info(e).WritePointer
	}
	stable := issued / pb * pb
	out := buf[:0]
	if cap(out) < n {
		out = make([]byte, n)
	}
	out = out[:n]
	first, last := off/pb, (off+int64(n)-1)/pb
	// Pages not in the cache are read with one device read per run of
	// consecutive missing pages.
	var miss []byte
	missFrom := int64(-1)
	readMissing := func(upTo int64) error {
		if missFrom < 0 {
			return nil
		}
		cnt := upTo - missFrom
		if cap(miss) < int(cnt*pb) {
			miss = disk.NewBuffer(s.dev, int((last-missFrom+1)*pb))
		}
		buf := miss[:cnt*pb]
		if _, err := s.dev.ReadAt(buf, base+missFrom*pb); err != nil {
			return fmt.Errorf("read extent %d pages %d-%d: %w", e, missFrom, upTo-1, err)
		}
		given := false
		for p := missFrom; p < upTo; p++ {
			page := buf[(p-missFrom)*pb : (p-missFrom+1)*pb]
			lo, hi := max(off, p*pb), min(off+int64(n), (p+1)*pb)
			copy(out[lo-off:hi-off], page[lo-p*pb:hi-p*pb])
			if (p+1)*pb <= stable && s.table.Generation(e) == gen {
				s.cache.InsertOwned(cache.Key{Extent: e, Gen: gen, Page: uint32(p)}, page)
				given = true
			}
		}
		if given {
			miss = nil // the cache owns its pages now
		}
		missFrom = -1
		return nil
	}
	for p := first; p <= last; p++ {
		lo, hi := max(off, p*pb), min(off+int64(n), (p+1)*pb)
		hit := false
		if (p+1)*pb <= stable {
			hit = s.cache.Read(cache.Key{Extent: e, Gen: gen, Page: uint32(p)}, out[lo-off:hi-off], int(lo-p*pb))
		} else {
			// The partial last page (a frame that straddles into it):
			// the scheduler keeps it.
			hit = s.sched.ReadTail(e, gen, lo, out[lo-off:hi-off])
		}
		if hit {
			if err := readMissing(p); err != nil {
				return nil, err
			}
			continue
		}
		if missFrom < 0 {
			missFrom = p
		}
	}
	if err := readMissing(last + 1); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) readDirect(base, off int64, n int) ([]byte, error) {
	sector := int64(s.geo.SectorSize)
	start := off / sector * sector
	end := (off + int64(n) + sector - 1) / sector * sector
	buf := disk.NewBuffer(s.dev, int(end-start))
	if _, err := s.dev.ReadAt(buf, base+start); err != nil {
		return nil, fmt.Errorf("read %d bytes at %d: %w", len(buf), base+start, err)
	}
	return buf[off-start : off-start+int64(n)], nil
}

// Scan walks the frames of extent e below its write pointer, for
// reclamation: fn sees every frame with its locator, and every region that
// did not decode (a corrupt frame), until it returns false. The extent's
// generation must not change during the scan; if it does, Scan returns an
// error wrapping extent.ErrStale.
func (s *Store) Scan(ctx context.Context, e extent.ID, fn func(ScanResult) bool) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if !s.geo.Valid(e) || e == 0 {
		return fmt.Errorf("chunk: scan extent %d: no such data extent: %w", e, engine.ErrInvalidArgument)
	}
	gen := s.table.Generation(e)
	_, frames := s.sched.Unissued(e, gen)
	info := s.table.Info(e)
	if info.Generation != gen {
		return fmt.Errorf("chunk: scan extent %d: reset to generation %d during the scan: %w", e, info.Generation, extent.ErrStale)
	}
	// Bytes below the first unissued write are on the device.
	issued := info.WritePointer
	if len(frames) > 0 {
		issued = frames[0].Offset
	}
	buf := make([]byte, 0, info.WritePointer)
	if issued > 0 {
		b, err := s.readDirect(s.geo.Base(e), 0, int(issued))
		if err != nil {
			return fmt.Errorf("chunk: scan extent %d: %w", e, err)
		}
		buf = append(buf, b...)
	}
	for _, w := range frames {
		if w.Offset != int64(len(buf)) {
			panic(fmt.Sprintf("chunk: scan extent %d: unissued write at %d, have %d bytes", e, w.Offset, len(buf)))
		}
		buf = append(buf, w.Frame...)
	}
	buf = buf[:min(int64(len(buf)), info.WritePointer)]
	if g := s.table.Generation(e); g != info.Generation {
		return fmt.Errorf("chunk: scan extent %d: reset to generation %d during the scan: %w", e, g, extent.ErrStale)
	}
	var err error
	ScanBytes(buf, 0, s.opts.ChunkPayloadMax, func(se ScanEntry) bool {
		if err = ctx.Err(); err != nil {
			return false
		}
		r := ScanResult{ScanEntry: se}
		if se.Err == nil {
			r.Locator = Locator{Extent: e, Generation: info.Generation, Offset: uint32(se.Offset), Length: uint32(len(se.Frame.Payload))}
		}
		return fn(r)
	})
	return err
}

// Reset frees extent e: its write pointer returns to zero and its
// generation increments, so every locator into it is rejected from now on,
// and its cached pages are dropped. The returned dependency is persistent
// once a superblock recording the new generation is; the extent's next
// appends wait for it. The caller (reclamation) must make sure nothing it
// needs still lives in e, durably, before calling Reset. An extent a stream
// has open cannot be reset.
func (s *Store) Reset(ctx context.Context, e extent.ID) (dep.Dependency, error) {
	if err := s.checkOpen(); err != nil {
		return dep.Dependency{}, err
	}
	if !s.geo.Valid(e) || e == 0 {
		return dep.Dependency{}, fmt.Errorf("chunk: reset extent %d: no such data extent: %w", e, engine.ErrInvalidArgument)
	}
	for st := range s.streams {
		if x, open := s.OpenExtent(Stream(st)); open && x == e {
			return dep.Dependency{}, fmt.Errorf("chunk: reset extent %d: open for the %v stream: %w", e, Stream(st), engine.ErrInvalidArgument)
		}
	}
	if err := s.g.Admit(ctx, 1); err != nil {
		return dep.Dependency{}, err
	}
	// s.mu from the table's reset until the reset's dependency is in
	// s.resets: the extent is free, and so allocatable, as soon as the
	// table says so, and an append that allocated it in between found no
	// reset to depend on. Its new generation's data could then reach the
	// device before any slot recorded the reset, under a superblock that
	// still trusted the old generation's frames there
	// (TestCrashSuperblockWithData found it). appendLocked allocates and
	// reads s.resets under s.mu too.
	s.mu.Lock()
	gen := s.table.Reset(e)
	s.cache.DropExtent(e)
	s.sb.Reset(e, gen)
	n := s.g.NewNode(dep.Dependency{}, dep.Chain{})
	s.sb.WaitGeneration(e, gen, n)
	s.resets[e] = n.Dependency()
	s.other = s.other.And(n.Dependency())
	s.mu.Unlock()
	s.resetCount.Add(1)
	s.sched.Kick()
	return n.Dependency(), nil
}

// SetRoot stores a small blob (at most 512 bytes) in the superblock once d
// is persistent; the index keeps its metadata's locator there. The returned
// dependency is persistent once a superblock holding it (or a later root)
// is.
func (s *Store) SetRoot(ctx context.Context, data []byte, d dep.Dependency) (dep.Dependency, error) {
	if err := s.checkOpen(); err != nil {
		return dep.Dependency{}, err
	}
	if len(data) > format.RootMax {
		return dep.Dependency{}, fmt.Errorf("chunk: root of %d bytes, at most %d: %w", len(data), format.RootMax, engine.ErrInvalidArgument)
	}
	if err := s.g.Admit(ctx, 1); err != nil {
		return dep.Dependency{}, err
	}
	n := s.g.NewNode(dep.Dependency{}, dep.Chain{})
	s.sb.SetRoot(data, d, n)
	s.mu.Lock()
	s.other = s.other.And(n.Dependency())
	s.mu.Unlock()
	s.sched.Kick()
	return n.Dependency(), nil
}

// Root returns the root blob of the last persisted superblock.
func (s *Store) Root() []byte { return s.sb.Root() }

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

// Expect says that writes the goroutines waiting on dependencies need are
// about to be appended; see iosched.Scheduler.Expect.
func (s *Store) Expect() (done func()) { return s.sched.Expect() }

// FlushSuperblock persists the superblock now if it changed, rather than at
// the next cadence.
func (s *Store) FlushSuperblock(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	return s.sched.Flush(ctx)
}

// Close drains the scheduler (everything written is made durable, with the
// superblock) and stops the store. It does not close the device. After
// Close every method returns an error wrapping engine.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return fmt.Errorf("chunk: store closed: %w", engine.ErrClosed)
	}
	err := s.sched.Close()
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

// DropCache empties the buffer cache (Maintain(cache-flush)): the cache
// holds only clean pages, so nothing is written.
func (s *Store) DropCache() {
	for e := extent.ID(1); uint32(e) < s.geo.Count; e++ {
		s.cache.DropExtent(e)
	}
}
