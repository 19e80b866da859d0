package shardstore

import (
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk"
)

// Space: the admission checks that keep an index flush able to complete.
//
// Every way of freeing an extent ends in a metadata append (an index
// flush making chunks' deaths durable, or a publish that stops naming an
// index or metadata extent). The chunk store's reservation ladder
// (chunk.Stream.Reserved) keeps each stream from taking the free extents
// the streams its appends wait on need; the checks here admit a write
// (put or delete), an evacuation, or a run written by compaction or
// reclamation only while the index flush that would publish it can still
// complete. Together they keep the invariant that whatever the memtable
// holds can be published, even after a reopen has sealed every stream's
// extent: Sync and Close do not fail for space.

// indexRunRoom is the room an index flush's run needs in the index
// stream's open extent, or else a free one: a run of the memtable
// (MemtableBytes is when the memtable is written out; sealed memtables
// wait beside it while an index flush is under way), or of the entries
// the memtables hold now if that is more. The first alone is an estimate
// capped so that one new extent holds it, and it fell short: a put of a
// 64 KiB value names 65 chunks of the check configuration, six of them
// before the flusher ran made a run of 6,358 bytes against an estimate of
// 6,144, the open extent had room for 6,246, and with the last free extent
// kept for metadata a Sync failed for space (the crash checker, seed 3001;
// TestIndexRunRoomCountsEntries). The 4 KiB on top is the run's header
// and filter, and the entries of writes admitted but not yet in the
// memtable.
func (s *Store) indexRunRoom() int64 {
	return max(min(2*int64(s.opts.MemtableBytes)+4096, s.opts.ExtentBytes/2), s.unflushed.Load()+4096)
}

// indexMetaRoom is the room an index flush's metadata needs, naming every
// run (runsMax of them at most). An estimate, capped like indexRunRoom.
func (s *Store) indexMetaRoom() int64 { return min(8<<10, s.opts.ExtentBytes/2) }

// indexFlushRoom reports whether an index flush could complete now: the
// index stream has room for a run, or may take a free extent (the ladder),
// and the metadata stream has room, or a free extent is left for it.
//
// A write is admitted only while indexFlushRoom holds, and so is
// evacuation; together with the ladder this is the invariant that keeps
// Sync and Close from failing for space. Without it a reopen, which seals
// every stream's extent, could leave one free extent and a memtable
// needing two (an index run and metadata): Close then failed with
// ErrNoSpace, and reclamation, which must publish before it frees
// anything, could not help (TestCloseAfterReopenNearlyFull).
func (s *Store) indexFlushRoom() bool { return s.indexFlushRoomAfter(0) }

// indexFlushRoomAfter is indexFlushRoom after another run of extra bytes
// is appended to the index stream (compaction's, or a run rewritten by
// reclamation).
func (s *Store) indexFlushRoomAfter(extra int64) bool {
	return s.indexFlushRoomWith(extra, s.cs.FreeExtents())
}

// indexFlushRoomWith is indexFlushRoomAfter with free extents left.
func (s *Store) indexFlushRoomWith(extra int64, free int) bool {
	if free > chunk.StreamIndex.Reserved(s.opts.ReserveExtents)+1 {
		// Enough free extents for both streams to take a new one, however
		// little room their open extents have: the common case, decided
		// without the streams' locks.
		return true
	}
	needIdx := s.cs.Room(chunk.StreamIndex) < s.indexRunRoom()+extra
	needMeta := s.cs.Room(chunk.StreamMetadata) < s.indexMetaRoom()
	if !needIdx && !needMeta {
		return true
	}
	if needIdx {
		return free > chunk.StreamIndex.Reserved(s.opts.ReserveExtents) && free >= 1+b2i(needMeta)
	}
	return free >= 1
}

// evacuationRoom reports whether a chunk of n payload bytes can be
// evacuated with the index flush that publishes it still able to complete:
// when the evacuation stream's extent lacks room, the append takes a free
// extent, so the index flush must fit with one fewer.
func (s *Store) evacuationRoom(n int) bool {
	free := s.cs.FreeExtents()
	if free-1 <= chunk.StreamIndex.Reserved(s.opts.ReserveExtents)+1 {
		// The corner the checks below exist for: an extent taken for the
		// evacuation would leave only the ladder's last steps free (a
		// check's adaptive runs reach it on a device of eight extents,
		// the size=512KiB variant).
		engine.Emit(s.opts.Observer, engine.EventEvacuationAtReserve)
	}
	// Frame overhead and sector rounding are well under a sector.
	if s.cs.Room(chunk.StreamEvacuate) >= int64(n)+4096 {
		return s.indexFlushRoomWith(0, free)
	}
	if free <= chunk.StreamEvacuate.Reserved(s.opts.ReserveExtents) {
		// The ladder keeps these from the evacuation stream: its append
		// would fail, after reclamation had read the victim whole for it.
		return false
	}
	return s.indexFlushRoomWith(0, free-1)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
