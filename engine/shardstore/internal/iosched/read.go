package iosched

import (
	"sort"

	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// ReadUnissued copies the frame written at (extent, gen, off) into dst
// (its length is the frame's) if it is still queued or being written, or
// lies in the extent's partial last page (the bytes past the last
// AlignBytes boundary below what is issued, which the scheduler keeps to
// rewrite), and reports whether it was. A frame not found here, that the
// extent table says exists, is on the device. The caller allocates dst,
// outside the lock the scheduler's goroutine also takes.
func (s *Scheduler) ReadUnissued(e extent.ID, gen uint32, off int64, dst []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[e]
	if q == nil {
		return false
	}
	for _, list := range [2][]*Write{q.inflight, q.pending} {
		if w := findFrame(list, gen, off, len(dst)); w != nil {
			copy(dst, w.Frame)
			return true
		}
	}
	return q.readTail(gen, off, dst)
}

// findFrame returns the write of list (in generation and offset order) at
// (gen, off) with a frame of n bytes, or nil.
func findFrame(list []*Write, gen uint32, off int64, n int) *Write {
	// The newest writes are read most: look at the last first.
	i := len(list) - 1
	if i < 0 {
		return nil
	}
	if w := list[i]; w.Gen != gen || w.Offset != off {
		i = sort.Search(len(list), func(i int) bool {
			w := list[i]
			return w.Gen > gen || (w.Gen == gen && w.Offset >= off)
		})
	}
	if i < len(list) && list[i].Gen == gen && list[i].Offset == off && len(list[i].Frame) == n {
		return list[i]
	}
	return nil
}

// ReadTail copies into dst the bytes at (extent, gen, off) if all of them
// lie in the extent's partial last page, which the scheduler keeps (see
// ReadUnissued), and reports whether they did. A frame that begins in a
// whole page and ends in the partial one is read from both: the whole
// page from the cache, the rest from here, never from the device, where
// that page is being rewritten.
func (s *Scheduler) ReadTail(e extent.ID, gen uint32, off int64, dst []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[e]
	return q != nil && q.readTail(gen, off, dst)
}

// readTail copies the bytes at (gen, off) into dst if the published tail
// holds all of them. Called with Scheduler.mu held.
func (q *extQueue) readTail(gen uint32, off int64, dst []byte) bool {
	n := int64(len(dst))
	if q.tailGen != gen || off < q.tailAt || off+n > q.tailAt+int64(len(q.pubTail)) {
		return false
	}
	copy(dst, q.pubTail[off-q.tailAt:off-q.tailAt+n])
	return true
}

// Issued returns how many bytes of extent e at generation gen have been
// written to the device (WriteAt returned); reads below it go to the device.
// It takes no lock, so that reads do not contend with the scheduler.
func (s *Scheduler) Issued(e extent.ID, gen uint32) int64 {
	v := s.issuedAt[e].Load()
	if uint32(v>>32) != gen {
		return 0
	}
	return int64(uint32(v))
}

// setIssuedLocked sets q's issue state. Called with mu held.
func (s *Scheduler) setIssuedLocked(q *extQueue, gen uint32, issued int64) {
	q.gen, q.issued = gen, issued
	s.issuedAt[q.id].Store(uint64(gen)<<32 | uint64(issued))
}

// Unissued returns copies of the writes of extent e at generation gen that
// are queued or being written, in offset order, and the offset the first
// would start at (the bytes below are on the device).
func (s *Scheduler) Unissued(e extent.ID, gen uint32) (issued int64, frames []Write) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[e]
	if q == nil {
		return 0, nil
	}
	if q.gen == gen {
		issued = q.issued
	}
	for _, list := range [][]*Write{q.inflight, q.pending} {
		for _, w := range list {
			if w.Gen == gen {
				frames = append(frames, Write{Extent: w.Extent, Gen: w.Gen, Offset: w.Offset, Frame: append([]byte(nil), w.Frame...)})
			}
		}
	}
	return issued, frames
}
