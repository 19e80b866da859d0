package chunk

import (
	"errors"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/iosched"
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

// Reserved is how many free extents st leaves untouched, given the
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
func (st Stream) Reserved(r int) int {
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

// source is the stream's queue as an IO trace names it.
func (s Stream) source() disk.IOSource {
	switch s {
	case StreamData:
		return disk.SourceForeground
	case StreamEvacuate:
		return disk.SourceReclaim
	}
	return disk.SourceBackground
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

type stream struct {
	mu     conc.Mutex
	open   bool
	ext    extent.ID
	gen    uint32
	tail   dep.Dependency // the write-pointer nodes of this stream's chunks
	resetD dep.Dependency // the reset of the open extent, if not yet durable
}

// placeLocked takes size bytes at the write pointer of the stream's open
// extent, opening a new one (down the reservation ladder) if it is full,
// and returns their offset. Called with ss.mu held.
func (s *Store) placeLocked(st Stream, ss *stream, size int64) (int64, error) {
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
	if r := st.Reserved(s.opts.ReserveExtents); r > 0 && s.table.FreeCount() <= r {
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

// CheckFree reports whether the extent table's free count matches its
// free extents (extent.Table.CheckFree).
func (s *Store) CheckFree() error { return s.table.CheckFree() }

// CheckStats reports IO scheduler counters that contradict each other
// (iosched.Stats.Check).
func (s *Store) CheckStats() error { return s.sched.Stats().Check() }

// CheckCache reports a buffer cache whose bookkeeping disagrees with
// itself (cache.Cache.Check).
func (s *Store) CheckCache() error { return s.cache.Check() }

// CheckSequence reports a superblock sequence this open reuses: the last
// slot written must be above every slot recovery saw, or the chunk UUIDs
// drawn from the sequence repeat those of an earlier round, whose frames
// may still be on the device.
func (s *Store) CheckSequence() error {
	if q := s.sb.Sequence(); q <= s.seenSeq {
		return fmt.Errorf("chunk: superblock sequence %d is not above %d, the highest a slot held when the store was recovered: this open reuses a sequence, and the chunk UUIDs drawn from it", q, s.seenSeq)
	}
	return nil
}

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
