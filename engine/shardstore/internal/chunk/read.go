package chunk

import (
	"context"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/cache"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/iosched"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

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
		page := buf[p-start : p-start+pb]
		if mutant.On(mutant.CacheAliasesWriteBuffer) {
			s.cache.InsertOwned(pageKey(e, gen, p/pb), page) // the scheduler's buffer, not a copy
		} else {
			s.cache.Insert(pageKey(e, gen, p/pb), page)
		}
	}
}

// pageKey is the buffer cache's key of page p of extent e at generation
// gen: the generation keeps a reset extent's old pages from being read
// as its new ones.
func pageKey(e extent.ID, gen uint32, p int64) cache.Key {
	if mutant.On(mutant.CacheNotDrainedOnReset) {
		gen = 0 // pages keyed by extent and page alone
	}
	return cache.Key{Extent: e, Gen: gen, Page: uint32(p)}
}

// Get reads the value stored as locs by AppendSplit.
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
// than the ones the append was given.
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

// GetChunks reads the payloads of locs, in order, each checked as GetChunk
// checks it. Consecutive chunks of one extent generation too large for
// the cache and wholly on the device — a large value's chunks, appended
// one after another (shardstore's valueMu) — are read with one device
// read: a storage node's 8 MiB shard took eight 1 MiB reads one after
// the other, and its gets waited for each in turn behind the node's writes.
func (s *Store) GetChunks(ctx context.Context, locs []Locator) ([][]byte, error) {
	out := make([][]byte, len(locs))
	for i := 0; i < len(locs); {
		j := s.directRun(locs, i)
		if j-i < 2 {
			p, err := s.GetChunk(ctx, locs[i])
			if err != nil {
				return nil, err
			}
			out[i] = p
			i++
			continue
		}
		if err := s.getRun(ctx, locs[i:j], out[i:j]); err != nil {
			return nil, err
		}
		i = j
	}
	return out, nil
}

// directRun returns the end of the run of locators from locs[i] that
// getRun may read with one device read: in the same extent generation,
// each frame starting where the last ended, each above the cache's
// largest read, all below the bytes the scheduler has issued.
func (s *Store) directRun(locs []Locator, i int) int {
	first := locs[i]
	if first.FrameBytes() <= int64(s.readMax) {
		return i + 1
	}
	// Nothing of this generation issued in this process: a recovered
	// extent, or frames all still queued; GetChunk tells them apart, one
	// chunk at a time.
	issued := s.sched.Issued(first.Extent, first.Generation)
	end := int64(first.Offset) + first.FrameBytes()
	if end > issued {
		return i + 1
	}
	j := i + 1
	for ; j < len(locs); j++ {
		l := locs[j]
		if l.Extent != first.Extent || l.Generation != first.Generation || int64(l.Offset) != end ||
			l.FrameBytes() <= int64(s.readMax) || end+l.FrameBytes() > issued {
			break
		}
		end += l.FrameBytes()
	}
	return j
}

// getRun reads the chunks of run, consecutive in one extent generation
// and on the device (directRun), with one device read, into out.
func (s *Store) getRun(ctx context.Context, run []Locator, out [][]byte) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	first, last := run[0], run[len(run)-1]
	off, end := int64(first.Offset), int64(last.Offset)+last.FrameBytes()
	for _, l := range run {
		s.gets.Add(1)
		if err := s.table.CheckRead(l.Extent, l.Generation, int64(l.Offset), l.FrameBytes()); err != nil {
			return fmt.Errorf("chunk: get %v: %w", l, err)
		}
	}
	b, err := s.readDirect(s.geo.Base(first.Extent), off, int(end-off))
	if err != nil {
		return fmt.Errorf("chunk: get %v..%v: %w", first, last, err)
	}
	// As in GetChunk: a reset during the read may have given another
	// generation's bytes.
	if g := s.table.Generation(first.Extent); g != first.Generation {
		return fmt.Errorf("chunk: get %v: extent %d reset to generation %d during the read: %w", first, first.Extent, g, extent.ErrStale)
	}
	for k, l := range run {
		at := int64(l.Offset) - off
		n := l.FrameBytes()
		f, size, err := DecodeFrame(b[at:at+n:at+n], s.opts.ChunkPayloadMax)
		if err != nil {
			return fmt.Errorf("chunk: get %v: %w", l, err)
		}
		if int64(size) != n || f.Kind != KindData {
			return fmt.Errorf("chunk: get %v: %w", l, &FrameError{Reason: ReasonLocator, Detail: fmt.Sprintf("%v frame of %d bytes", f.Kind, size)})
		}
		out[k] = f.Payload
	}
	return nil
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
	out := buf[:0]
	if cap(out) < n {
		out = make([]byte, n)
	}
	r := pageRead{s: s, e: e, gen: gen, base: base, off: off, pb: pb,
		stable: issued / pb * pb, last: (off + int64(n) - 1) / pb, out: out[:n], missFrom: -1}
	for p := off / pb; p <= r.last; p++ {
		if r.hit(p) {
			if err := r.readMissing(p); err != nil {
				return nil, err
			}
			continue
		}
		if r.missFrom < 0 {
			r.missFrom = p
		}
	}
	if err := r.readMissing(r.last + 1); err != nil {
		return nil, err
	}
	return r.out, nil
}

// pageRead is one read through the cache, page by page: out gets the
// bytes from off of extent e (generation gen), at base on the device.
// Pages below stable are whole on the device and may be cached; pages not
// in the cache are read with one device read per run of consecutive
// missing pages.
type pageRead struct {
	s                   *Store
	e                   extent.ID
	gen                 uint32
	base, off, pb, last int64
	stable              int64
	out                 []byte
	miss                []byte // the device read's buffer
	missFrom            int64  // first page of the run of missing pages, or -1
}

// hit copies page p's part of the read from the cache, or, for the
// partial last page (a frame that straddles into it), from the
// scheduler's copy, and reports whether it was there.
func (r *pageRead) hit(p int64) bool {
	lo, hi := max(r.off, p*r.pb), min(r.off+int64(len(r.out)), (p+1)*r.pb)
	dst := r.out[lo-r.off : hi-r.off]
	if (p+1)*r.pb <= r.stable {
		return r.s.cache.Read(pageKey(r.e, r.gen, p), dst, int(lo-p*r.pb))
	}
	return r.s.sched.ReadTail(r.e, r.gen, lo, dst)
}

// readMissing reads the run of missing pages up to page upTo from the
// device, if there is one, and caches the stable ones.
func (r *pageRead) readMissing(upTo int64) error {
	if r.missFrom < 0 {
		return nil
	}
	s, pb, from := r.s, r.pb, r.missFrom
	cnt := upTo - from
	if cap(r.miss) < int(cnt*pb) {
		r.miss = disk.NewBuffer(s.dev, int((r.last-from+1)*pb))
	}
	buf := r.miss[:cnt*pb]
	if _, err := s.dev.ReadAt(buf, r.base+from*pb); err != nil {
		return fmt.Errorf("read extent %d pages %d-%d: %w", r.e, from, upTo-1, err)
	}
	for p := from; p < upTo; p++ {
		page := buf[(p-from)*pb : (p-from+1)*pb]
		lo, hi := max(r.off, p*pb), min(r.off+int64(len(r.out)), (p+1)*pb)
		copy(r.out[lo-r.off:hi-r.off], page[lo-p*pb:hi-p*pb])
		if (p+1)*pb <= r.stable && s.table.Generation(r.e) == r.gen {
			// A copy, into the cache's own (off-heap) buffers: a page of
			// this heap buffer kept by the cache kept the whole buffer
			// on the heap, and the next miss allocated another.
			s.cache.Insert(pageKey(r.e, r.gen, p), page)
		}
	}
	r.missFrom = -1
	return nil
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

// DropCache empties the buffer cache (Maintain(cache-flush)): the cache
// holds only clean pages, so nothing is written.
func (s *Store) DropCache() {
	for e := extent.ID(1); uint32(e) < s.geo.Count; e++ {
		s.cache.DropExtent(e)
	}
}
