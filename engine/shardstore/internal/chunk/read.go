package chunk

import (
	"context"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/cache"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/iosched"
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
		s.cache.Insert(cache.Key{Extent: e, Gen: gen, Page: uint32(p / pb)}, buf[p-start:p-start+pb])
	}
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

// DropCache empties the buffer cache (Maintain(cache-flush)): the cache
// holds only clean pages, so nothing is written.
func (s *Store) DropCache() {
	for e := extent.ID(1); uint32(e) < s.geo.Count; e++ {
		s.cache.DropExtent(e)
	}
}
