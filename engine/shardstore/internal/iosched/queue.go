package iosched

import (
	"fmt"
	"slices"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// Write is one append.
type Write struct {
	Extent extent.ID
	Gen    uint32
	Offset int64  // within the extent
	Frame  []byte // the bytes to write at Offset
	Node   *dep.Node
	Class  Class
	// Source is the queue the write comes from, for a device that records
	// it (disk.TaggedWriter; an IO trace).
	Source disk.IOSource
	// Cache asks Options.Written to see the write's bytes (write-through).
	Cache bool
	// Phase is the engine phase whose work the write is (engine.PhaseOf
	// the appender's context), told to a recording device with the IO
	// (IOTag.Phase) so a fault there is attributed to it.
	Phase engine.Phase
	// Abandon, if set, is called when the write's dependency failed: it
	// must overwrite Frame, keeping its length, with bytes that hold no data
	// (a padding frame), which are then written in its place so the extent
	// has no hole. The node fails with the dependency's error.
	Abandon func(w *Write)

	seq          uint64
	blockedSince conc.Time
	blocked      bool
	depWait      conc.Duration // how long it waited on its dependencies
	enqueued     conc.Time     // when Enqueue took it, if the device is tagged
}

func (w *Write) end() int64 { return w.Offset + int64(len(w.Frame)) }

type extQueue struct {
	id       extent.ID
	pending  []*Write
	inflight []*Write
	active   bool
	// taken counts the pending writes the plan being built holds (see
	// take); zero between rounds.
	taken int
	// Issue state of the extent: the generation being written, the bytes
	// issued so far (both changed under Scheduler.mu) and the bytes of the
	// partial last sector (touched only by the worker).
	gen    uint32
	issued int64
	tail   []byte
	// The tail as of the last completed round, for ReadUnissued: the
	// bytes [tailAt, tailAt+len(pubTail)) of generation tailGen, the
	// extent's partial last page on the device (guarded by
	// Scheduler.mu).
	pubTail []byte
	tailAt  int64
	tailGen uint32
}

// Enqueue queues w, using len(w.Frame) reserved bytes. Writes to one extent
// must be enqueued in offset order, without gaps; the caller holds the lock
// that allocated the offset.
func (s *Scheduler) Enqueue(w *Write) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[w.Extent]
	if q == nil {
		q = &extQueue{id: w.Extent}
		s.queues[w.Extent] = q
	}
	if n := len(q.pending); n > 0 {
		last := q.pending[n-1]
		if last.Gen == w.Gen && last.end() != w.Offset {
			panic(fmt.Sprintf("iosched: extent %d: append at %d after one ending at %d", w.Extent, w.Offset, last.end()))
		}
	}
	s.seq++
	w.seq = s.seq
	if s.tagged {
		w.enqueued = s.opts.Clock.Now()
	}
	s.lastFrame = len(w.Frame)
	q.pending = append(q.pending, w)
	if !q.active {
		q.active = true
		s.active = append(s.active, q)
	}
	s.stats.QueueDepth++
	s.stats.QueueDepthMax = max(s.stats.QueueDepthMax, s.stats.QueueDepth)
	// A held queue (see holdLarge) need not wake the worker for a write
	// that does not bring it to an IO's worth.
	if !s.holding || s.queued.Load() >= int64(s.opts.IOBytesMax) {
		s.cond.Broadcast()
	}
}

// dequeue moves the first n pending writes of q in flight.
func (s *Scheduler) dequeue(q *extQueue, n int) {
	if n == 0 {
		return
	}
	for _, w := range q.pending[:n] {
		s.queued.Add(-int64(len(w.Frame)))
	}
	q.inflight = append(q.inflight, q.pending[:n]...)
	q.pending = slices.Delete(q.pending, 0, n)
	s.stats.QueueDepth -= int64(n)
	if len(q.pending) == 0 {
		q.active = false
		s.active = slices.DeleteFunc(s.active, func(x *extQueue) bool { return x == q })
	}
	s.cond.Broadcast() // room for Reserve
}
