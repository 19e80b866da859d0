package iosched

import (
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// The device writes of a round go out one of three ways (write picks):
//
//   - inline, one after the other on the scheduler's goroutine, when there
//     is one or IODepth is 1;
//   - as one batch on a disk.BatchWriter (a File on Linux), which the
//     scheduler's goroutine keeps IODepth deep itself;
//   - otherwise on IODepth-1 worker goroutines, with the scheduler's
//     goroutine writing beside them.

// piece is one device write of a round. Its bytes are copied from the
// frames by whoever writes it, so that the copies overlap the device
// writes of the other pieces (in parallel on the workers, or each just
// before its submission on a disk.BatchWriter).
type piece struct {
	buf     []byte
	off     int64
	segs    []seg // the region's bytes
	at      int   // offset of buf within the region
	dataEnd int   // region offset past the last frame: padding beyond
	super   bool  // the superblock write (buf is ready)
	tag     disk.IOTag
	err     error
	wg      *conc.WaitGroup
}

// fill copies the piece's bytes from the frames (and pads it).
func (p *piece) fill() {
	if !p.super {
		n := max(0, min(len(p.buf), p.dataEnd-p.at))
		fillRange(p.segs, p.buf[:n], p.at)
		clear(p.buf[n:])
	}
}

// do fills and writes the piece, and tells its wait group.
func (p *piece) do(dev disk.Device) {
	p.fill()
	if tw, ok := dev.(disk.TaggedWriter); ok {
		_, p.err = tw.WriteAtTagged(p.buf, p.off, p.tag)
	} else {
		_, p.err = dev.WriteAt(p.buf, p.off)
	}
	if p.wg != nil {
		p.wg.Done()
	}
}

// useWorkers reports whether device writes go to worker goroutines.
func (s *Scheduler) useWorkers() bool { return s.opts.IODepth > 1 && s.batch == nil }

// startWorkers starts the worker goroutines, if they are used.
func (s *Scheduler) startWorkers() {
	if !s.useWorkers() {
		return
	}
	s.pieces = conc.NewChan[*piece](1024)
	s.wg.Add(s.opts.IODepth - 1)
	for range s.opts.IODepth - 1 {
		conc.Go("iosched.worker", func() {
			defer s.wg.Done()
			s.worker()
		})
	}
}

// stopWorkers ends the worker goroutines once they have written what was
// sent to them.
func (s *Scheduler) stopWorkers() {
	if s.useWorkers() {
		s.pieces.Close()
	}
}

// worker performs device writes for issue, so that up to IODepth are in
// flight.
func (s *Scheduler) worker() {
	for {
		p, ok := s.pieces.Recv()
		if !ok {
			return
		}
		p.do(s.dev)
	}
}

// write performs the device writes ps, up to IODepth at once, and returns
// when all are done; each piece's err says how it went.
func (s *Scheduler) write(ps []*piece) {
	switch {
	case len(ps) == 1 || s.opts.IODepth <= 1:
		for _, p := range ps {
			p.do(s.dev)
		}
	case s.batch != nil:
		s.writeBatch(ps)
	default:
		s.writeWorkers(ps)
	}
}

// writeBatch writes ps as one batch: one goroutine keeps IODepth writes in
// flight, with no hand-offs to the workers, each of which costs a wake-up
// (see BatchWriter). A piece's bytes are copied in just before it is
// submitted, while the device works on those submitted before it.
func (s *Scheduler) writeBatch(ps []*piece) {
	ws := make([]disk.BatchWrite, len(ps))
	for i, p := range ps {
		ws[i] = disk.BatchWrite{P: p.buf, Off: p.off}
	}
	s.batch.WriteBatch(ws, s.opts.IODepth, func(i int) { ps[i].fill() })
	for i, p := range ps {
		p.err = ws[i].Err
	}
}

// writeWorkers hands all but the first of ps to the workers and writes the
// first itself.
func (s *Scheduler) writeWorkers(ps []*piece) {
	var wg conc.WaitGroup
	wg.Add(len(ps) - 1)
	for _, p := range ps[1:] {
		p.wg = &wg
		s.pieces.Send(p)
	}
	ps[0].do(s.dev)
	// Help the workers rather than wait idle.
	for {
		p, ok, _ := s.pieces.TryRecv()
		if !ok {
			break
		}
		p.do(s.dev)
	}
	wg.Wait()
}
