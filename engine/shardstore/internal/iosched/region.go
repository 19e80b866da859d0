package iosched

import (
	"fmt"
	"math/bits"
	"slices"
	"sort"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// A region is the device bytes one io covers: whole sectors, from the
// AlignBytes boundary at or below its first byte, rewriting the bytes of
// the extent already written there (the extent's tail), to the end of
// the sector that holds its last byte, padded with zeros.
type region struct {
	buf        []byte
	base       int64 // the extent's device offset
	start, end int64 // within the extent: start AlignBytes aligned, end sector aligned
	// wave orders the regions of one extent in a round: they share a
	// sector, so each is written after the one before.
	wave    int
	segs    []seg // the bytes: the tail, then the frames
	dataEnd int   // bytes past it are padding
	tag     disk.IOTag
}

// seg is bytes at an offset of a region.
type seg struct {
	at int
	b  []byte
}

// fillRange copies into dst the bytes of segs (sorted, contiguous from
// the first) at region offsets [lo, lo+len(dst)).
func fillRange(segs []seg, dst []byte, lo int) {
	hi := lo + len(dst)
	i := sort.Search(len(segs), func(i int) bool { return segs[i].at+len(segs[i].b) > lo })
	for ; i < len(segs) && segs[i].at < hi; i++ {
		sg := segs[i]
		from, to := max(lo, sg.at), min(hi, sg.at+len(sg.b))
		copy(dst[from-lo:to-lo], sg.b[from-sg.at:to-sg.at])
	}
}

// regions lays out the round's ios as regions in s.iobuf, and returns them
// and how many waves they take. Each extent's issue state (gen, tail) is
// touched only by this goroutine; the tail each region leaves is known
// once its bytes are, before the write.
func (s *Scheduler) regions(ios []io) ([]region, int) {
	regions := make([]region, len(ios))
	s.growBuf(s.bound(ios, regions))
	waves := 1
	seen := map[*extQueue]int{}   // regions of the queue so far
	ends := map[*extQueue]int64{} // where the queue's last region ended
	pos := 0
	for i, x := range ios {
		s.startGen(x)
		s.checkFollows(x, ends)
		r := &regions[i]
		r.wave = seen[x.q]
		seen[x.q]++
		waves = max(waves, r.wave+1)
		n := int(r.end - r.start)
		r.buf = s.iobuf[pos : pos+n : pos+n]
		pos += n
		s.segments(r, x)
	}
	return regions, waves
}

// bound sets each region's bounds from its io, and returns their total
// size.
func (s *Scheduler) bound(ios []io, regions []region) int {
	sector := int64(s.geo.SectorSize)
	align := int64(s.opts.AlignBytes) // a multiple of sector
	total := 0
	for i, x := range ios {
		first, last := x.writes[0], x.writes[len(x.writes)-1]
		start := first.Offset / align * align
		end := (last.end() + sector - 1) / sector * sector
		regions[i] = region{base: s.geo.Base(x.q.id), start: start, end: end}
		if s.tagged {
			regions[i].tag = ioTag(x.writes, s.opts.Clock.Now())
		}
		total += int(end - start)
	}
	return total
}

// ioTag describes a region's writes, issued at now, for a recording
// device: one extent holds one stream, so the first write's source is
// theirs; the waits are the oldest write's (the first: a queue is in
// offset order), from its enqueue to now, split at its dependency wait.
func ioTag(ws []*Write, now conc.Time) disk.IOTag {
	w := ws[0]
	t := disk.IOTag{Source: w.Source, DepWait: w.depWait, Phase: string(rarestPhase(ws))}
	t.Queued = max(0, now.Sub(w.enqueued)-w.depWait)
	return t
}

// rarestPhase is the phase of ws a fault in their IO is attributed to:
// the first of engine.Phases (rarest first) among theirs, "" if none has
// one. An index extent's IO can carry an index flush's run and a
// compaction's.
func rarestPhase(ws []*Write) engine.Phase {
	best, rank := engine.Phase(""), len(phaseRank)
	for _, w := range ws {
		if r, ok := phaseRank[w.Phase]; ok && r < rank {
			best, rank = w.Phase, r
		}
	}
	return best
}

var phaseRank = func() map[engine.Phase]int {
	m := map[engine.Phase]int{}
	for i, p := range engine.Phases() {
		m[p] = i
	}
	return m
}()

// growBuf makes s.iobuf hold at least total bytes.
func (s *Scheduler) growBuf(total int) {
	if cap(s.iobuf) < total {
		// Grown to the next power of two, from 64 KiB: a scheduler that
		// only ever writes small rounds (a checker's tiny device) does not
		// pay for a buffer sized for the largest.
		s.iobuf = disk.AlignedBuffer(1 << bits.Len(uint(max(total, 64<<10)-1)))
	}
}

// startGen resets x's extent's issue state when x starts it anew: a new
// generation, or offset 0 (the extent was reset).
func (s *Scheduler) startGen(x io) {
	q, first := x.q, x.writes[0]
	if first.Gen != q.gen || first.Offset == 0 {
		s.mu.Lock()
		s.setIssuedLocked(q, first.Gen, 0)
		q.tail = q.tail[:0]
		s.mu.Unlock()
	}
}

// checkFollows panics unless x starts where its extent's issued bytes (or
// its previous region of the round) end; ends records where x ends.
func (s *Scheduler) checkFollows(x io, ends map[*extQueue]int64) {
	q, first := x.q, x.writes[0]
	want, again := ends[q]
	if !again {
		want = q.issued
	}
	if first.Offset != want && !(again && first.Offset == 0) {
		panic(fmt.Sprintf("iosched: extent %d gen %d: write at %d, issued up to %d", q.id, q.gen, first.Offset, want))
	}
	ends[q] = x.writes[len(x.writes)-1].end()
}

// segments lists r's bytes (the extent's tail, then x's frames) and keeps the
// tail r leaves: its bytes past the last AlignBytes boundary, which the
// extent's next region rewrites.
func (s *Scheduler) segments(r *region, x io) {
	q, first, last := x.q, x.writes[0], x.writes[len(x.writes)-1]
	if int64(len(q.tail)) != first.Offset-r.start {
		panic(fmt.Sprintf("iosched: extent %d: tail of %d bytes for a write at %d", q.id, len(q.tail), first.Offset))
	}
	r.segs = make([]seg, 0, len(x.writes)+1)
	if len(q.tail) > 0 {
		r.segs = append(r.segs, seg{at: 0, b: slices.Clone(q.tail)})
	}
	if mutant.On(mutant.CoalesceReversesAppends) && s.opts.Policy == PolicyCoalesce {
		// The seeded bug: the merged appends laid out last first.
		at := int(first.Offset - r.start)
		for i := len(x.writes) - 1; i >= 0; i-- {
			r.segs = append(r.segs, seg{at: at, b: x.writes[i].Frame})
			at += len(x.writes[i].Frame)
		}
	} else {
		for _, w := range x.writes {
			r.segs = append(r.segs, seg{at: int(w.Offset - r.start), b: w.Frame})
		}
	}
	r.dataEnd = int(last.end() - r.start)
	align := int64(s.opts.AlignBytes)
	tailStart := last.end() / align * align
	q.tail = slices.Grow(q.tail[:0], int(last.end()-tailStart))[:last.end()-tailStart]
	fillRange(r.segs, q.tail, int(tailStart-r.start))
}

// cut appends to ps the device writes of the regions of one wave, and
// the superblock write sb first if there is one: each region is cut at
// sector boundaries into writes of at most IOBytesMax.
func (s *Scheduler) cut(ps []*piece, regions []region, wave int, sb *sbWrite) []*piece {
	if sb != nil {
		ps = append(ps, &piece{buf: sb.p, off: sb.off, super: true, tag: disk.IOTag{Source: disk.SourceSuperblock}})
	}
	sector := int64(s.geo.SectorSize)
	pieceMax := max(sector, int64(s.opts.IOBytesMax)/sector*sector)
	for i := range regions {
		r := &regions[i]
		if r.wave != wave {
			continue
		}
		for lo := int64(0); lo < int64(len(r.buf)); lo += pieceMax {
			hi := min(lo+pieceMax, int64(len(r.buf)))
			ps = append(ps, &piece{buf: r.buf[lo:hi], off: r.base + r.start + lo, segs: r.segs, at: int(lo), dataEnd: r.dataEnd, tag: r.tag})
		}
	}
	return ps
}
