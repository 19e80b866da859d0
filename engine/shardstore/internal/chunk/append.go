package chunk

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/iosched"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

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

// An append writes a chunk through the dependency graph and the IO
// scheduler and returns two dependencies on it:
//
//   - written: persistent once the chunk's bytes are flushed, before any
//     superblock covers them. A layer that publishes the chunk through the
//     superblock itself (the index, whose root is in the superblock) can
//     depend on written alone: a superblock slot takes the root only once
//     the written dependency is issued (dep.Dependency.IsIssued), and then
//     records a write pointer past the chunk too, and goes to the device
//     in the same round. Depending on durable instead would wait for a
//     slot covering the chunk to be persisted first: one more round.
//   - durable: persistent once the chunk's bytes are flushed and a
//     superblock recording a write pointer past it is persisted.
//
// Written dependencies of one extent generation are a dep chain (a later
// chunk flushed implies the earlier ones are), so a dependency on many
// chunks stays a few nodes long.
//
// Appends block while the dependency graph or the scheduler's queue is
// full (back-pressure) and return ctx.Err() if ctx ends first.

// writtenChain marks the chains of chunks' data nodes, apart from the
// write-pointer chains of the same extent generations.
const writtenChain = 1 << 63

// Append stores payload (at most PayloadMax bytes) as one chunk appended
// to st's open extent, written only once d is persistent.
func (s *Store) Append(ctx context.Context, st Stream, payload []byte, d dep.Dependency) (loc Locator, written, durable dep.Dependency, err error) {
	return s.AppendPrefixed(ctx, st, payload, nil, d)
}

// AppendPrefixed is Append of one chunk whose payload is prefix followed
// by rest, joined as the frame is built: the bytes are copied once, not
// into a joined buffer first and then into the frame.
func (s *Store) AppendPrefixed(ctx context.Context, st Stream, prefix, rest []byte, d dep.Dependency) (loc Locator, written, durable dep.Dependency, err error) {
	if err := s.checkOpen(); err != nil {
		return Locator{}, dep.Dependency{}, dep.Dependency{}, err
	}
	if st >= streamCount {
		panic(fmt.Sprintf("chunk: stream %d", st))
	}
	n := len(prefix) + len(rest)
	if n > s.opts.ChunkPayloadMax {
		return Locator{}, dep.Dependency{}, dep.Dependency{}, fmt.Errorf("chunk: payload of %d bytes, at most %d: %w", n, s.opts.ChunkPayloadMax, engine.ErrInvalidArgument)
	}
	frame := AppendFramePrefixed(s.pool.get(FrameSize(n)), KindData, s.uuid(), prefix, rest)
	if err := s.admit(ctx, frame); err != nil {
		return Locator{}, dep.Dependency{}, dep.Dependency{}, err
	}
	ss := &s.streams[st]
	ss.mu.Lock()
	defer ss.mu.Unlock()
	off, err := s.placeLocked(st, ss, int64(len(frame)))
	if err != nil {
		s.unadmit(frame)
		return Locator{}, dep.Dependency{}, dep.Dependency{}, err
	}
	loc = Locator{Extent: ss.ext, Generation: ss.gen, Offset: uint32(off), Length: uint32(n)}
	var phase engine.Phase
	if s.opts.Observer != nil { // only an observer marks a context with its phase
		phase = engine.PhaseOf(ctx)
	}
	written, durable = s.enqueueLocked(st, ss, loc, frame, d, phase)
	return loc, written, durable, nil
}

// AppendSplit stores data as one or more chunks (an empty value takes
// one chunk with an empty payload), each written only once d is
// persistent. It returns their locators, in order, and the dependencies
// on all of them (durable includes d). On an error, the chunks already
// appended are garbage: no locator names them.
func (s *Store) AppendSplit(ctx context.Context, st Stream, data []byte, d dep.Dependency) (locs []Locator, written, durable dep.Dependency, err error) {
	per := s.opts.ChunkPayloadMax
	n := max(1, (len(data)+per-1)/per)
	locs = make([]Locator, 0, n)
	durable = d
	for i := range n {
		loc, w, cd, err := s.Append(ctx, st, data[i*per:min(len(data), (i+1)*per)], d)
		if err != nil {
			return nil, dep.Dependency{}, dep.Dependency{}, err
		}
		locs = append(locs, loc)
		written = written.And(w)
		durable = durable.And(cd)
	}
	return locs, written, durable, nil
}

// admit takes room for two nodes in the dependency graph and for frame in
// the scheduler's queue, or gives frame back to the pool and fails.
func (s *Store) admit(ctx context.Context, frame []byte) error {
	if err := s.g.Admit(ctx, 2); err != nil {
		s.pool.put([][]byte{frame})
		return err
	}
	if err := s.sched.Reserve(ctx, int64(len(frame))); err != nil {
		s.g.Release(2)
		s.pool.put([][]byte{frame})
		return err
	}
	return nil
}

// unadmit undoes admit for a frame that found no place.
func (s *Store) unadmit(frame []byte) {
	s.g.Release(2)
	s.sched.Unreserve(int64(len(frame)))
	s.pool.put([][]byte{frame})
}

// enqueueLocked queues frame, placed at loc in the stream's open extent,
// with the chunk's two nodes: its data node, written once d and the
// extent's reset are persistent, and its write-pointer node, persistent
// once a superblock records a write pointer past it. Called with ss.mu
// held, so a stream's chunks are queued in offset order.
func (s *Store) enqueueLocked(st Stream, ss *stream, loc Locator, frame []byte, d dep.Dependency, phase engine.Phase) (written, durable dep.Dependency) {
	after := dep.And(d, ss.resetD)
	if mutant.On(mutant.WriteWithoutResetDependency) {
		after = d // the reset is in the table already
	}
	data := s.g.NewNode(after, dep.Chain{ID: chainID(ss.ext, ss.gen) | writtenChain, Pos: loc.End()})
	wp := s.g.NewNode(dep.Dependency{}, dep.Chain{ID: chainID(ss.ext, ss.gen), Pos: loc.End()})
	s.sb.WaitWritePointer(ss.ext, ss.gen, loc.End(), wp)
	s.sched.Enqueue(&iosched.Write{
		Extent: ss.ext, Gen: ss.gen, Offset: int64(loc.Offset), Frame: frame, Node: data, Class: st.class(), Source: st.source(),
		Abandon: s.abandonFn, Phase: phase,
		Cache: st.owner() == extent.Data && len(frame) <= s.readMax,
	})
	ss.tail.AddOwned(wp.Dependency())
	s.chunks.Add(1)
	s.payloadBytes.Add(int64(loc.Length))
	return data.Dependency(), wp.Dependency()
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
