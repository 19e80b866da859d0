package iosched

import (
	"fmt"
	"slices"
)

// issue writes the IOs and the superblock write sb, if any, with up to
// IODepth device writes in flight, and publishes them.
//
// Every region (an io) covers whole sectors: it starts at the sector that
// holds its first byte, rewriting the bytes of that sector already written
// (the extent's tail), and is padded with zeros to the end of its last
// sector. Two regions of one extent in one round share a sector, so they
// are written one after the other (in waves); the device writes of one
// region are cut at sector boundaries and never overlap, so they, the
// regions of other extents and the superblock all go concurrently.
func (s *Scheduler) issue(ios []io, sb *sbWrite) error {
	if len(ios) == 0 && sb == nil {
		return nil
	}
	regions, waves := s.regions(ios)
	var ps []*piece
	for wave := range waves {
		ps = s.cut(ps[:0], regions, wave, sb)
		sb = nil // in the first wave
		if err := s.writeWave(ps); err != nil {
			return err
		}
	}
	s.written(ios, regions)
	s.publish(ios, regions)
	return nil
}

// writeWave performs the device writes ps of one wave and counts them.
func (s *Scheduler) writeWave(ps []*piece) error {
	t0 := s.opts.Clock.Now()
	s.write(ps)
	d := s.opts.Clock.Since(t0)
	for _, p := range ps {
		if p.err != nil {
			if p.super {
				return fmt.Errorf("iosched: write superblock at %d: %w", p.off, p.err)
			}
			return fmt.Errorf("iosched: write at device offset %d (%d bytes): %w", p.off, len(p.buf), p.err)
		}
	}
	s.countWrites(ps, d)
	return nil
}

// written hands Options.Written the regions with writes that asked to be
// cached.
func (s *Scheduler) written(ios []io, regions []region) {
	if s.opts.Written == nil {
		return
	}
	var spans []Span
	for i, x := range ios {
		spans = spans[:0]
		for _, w := range x.writes {
			if w.Cache {
				spans = append(spans, Span{w.Offset, w.end()})
			}
		}
		if len(spans) > 0 {
			r := &regions[i]
			s.opts.Written(x.q.id, x.writes[0].Gen, r.start, r.buf, r.start+int64(r.dataEnd), spans)
		}
	}
}

// publish records that the regions' bytes are on the device: reads of
// them go there now, and the next flush makes them durable. The frames go
// back to Options.Recycle after the lock is released.
func (s *Scheduler) publish(ios []io, regions []region) {
	var recycled [][]byte
	s.mu.Lock()
	for i, x := range ios {
		s.publishRegion(x, &regions[i])
	}
	if len(ios) > 0 {
		s.stats.Rounds++
	}
	if s.opts.Recycle != nil {
		// Nothing reads a published write's frame (ReadUnissued and
		// Unissued look only at queued and in-flight ones).
		for _, x := range ios {
			for _, w := range x.writes {
				recycled = append(recycled, w.Frame)
				w.Frame = nil
			}
		}
	}
	s.mu.Unlock()
	if len(recycled) > 0 {
		s.opts.Recycle(recycled)
	}
}

// publishRegion publishes one region: its extent's issued bytes and tail,
// and its writes as unflushed. Called with s.mu held.
func (s *Scheduler) publishRegion(x io, r *region) {
	q, last := x.q, x.writes[len(x.writes)-1]
	s.setIssuedLocked(q, last.Gen, last.end())
	q.inflight = slices.Delete(q.inflight, 0, len(x.writes))
	// q.tail is final once the round's last region of q is written;
	// publishing it after each region is harmless.
	q.pubTail = append(q.pubTail[:0], q.tail...)
	q.tailAt, q.tailGen = last.end()-int64(len(q.tail)), last.Gen
	if !s.haveUnfl {
		s.haveUnfl, s.unflSince = true, s.opts.Clock.Now()
	}
	s.unflushed = append(s.unflushed, x.writes...)
	s.unflBytes += int64(len(r.buf))
	s.countPublished(x.writes)
}
