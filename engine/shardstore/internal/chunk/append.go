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

// Put stores data as one or more chunks appended to st's open extent (or
// extents), each written only once d is persistent. It returns their
// locators, in order, and the dependency that is persistent once every
// chunk is durable: its bytes flushed and a superblock recording a write
// pointer past it persisted. An empty value takes one chunk with an empty
// payload.
//
// Put blocks while the dependency graph or the scheduler's queue is full
// (back-pressure) and returns ctx.Err() if ctx ends first. On an error, the
// chunks already appended are garbage: no locator names them.
func (s *Store) Put(ctx context.Context, st Stream, data []byte, d dep.Dependency) ([]Locator, dep.Dependency, error) {
	n := max(1, (len(data)+s.opts.ChunkPayloadMax-1)/s.opts.ChunkPayloadMax)
	locs := make([]Locator, 0, n)
	all := d
	for i := 0; i < n; i++ {
		lo := i * s.opts.ChunkPayloadMax
		hi := min(lo+s.opts.ChunkPayloadMax, len(data))
		loc, cd, err := s.PutChunk(ctx, st, data[lo:hi], d)
		if err != nil {
			return nil, dep.Dependency{}, err
		}
		locs = append(locs, loc)
		all = all.And(cd)
	}
	return locs, all, nil
}

// PutChunk stores payload (at most PayloadMax bytes) as one chunk. See Put.
func (s *Store) PutChunk(ctx context.Context, st Stream, payload []byte, d dep.Dependency) (Locator, dep.Dependency, error) {
	loc, _, durable, err := s.Append(ctx, st, payload, d)
	return loc, durable, err
}

// writtenChain marks the chains of chunks' data nodes, apart from the
// write-pointer chains of the same extent generations.
const writtenChain = 1 << 63

// Append is PutChunk that also returns the chunk's written dependency:
// persistent once the chunk's bytes are flushed, before any superblock
// covers them. A layer that publishes the chunk through the superblock
// itself (the index, whose root is in the superblock) can depend on
// written alone: a superblock slot takes the root only once the written
// dependency is issued (dep.Dependency.IsIssued), and then records a write
// pointer past the chunk too, and goes to the device in the same round.
// Depending on durable instead would wait for a slot covering the chunk
// to be persisted first: one more round.
//
// Written dependencies of one extent generation are a dep chain (a later
// chunk flushed implies the earlier ones are), so a dependency on many
// chunks stays a few nodes long.
func (s *Store) Append(ctx context.Context, st Stream, payload []byte, d dep.Dependency) (loc Locator, written, durable dep.Dependency, err error) {
	return s.Append2(ctx, st, payload, nil, d)
}

// Append2 is Append of the payload p1 followed by p2, which it does not
// join first: the frame is built from both (one copy of the bytes, not two).
func (s *Store) Append2(ctx context.Context, st Stream, p1, p2 []byte, d dep.Dependency) (loc Locator, written, durable dep.Dependency, err error) {
	if err := s.checkOpen(); err != nil {
		return Locator{}, dep.Dependency{}, dep.Dependency{}, err
	}
	if st >= streamCount {
		panic(fmt.Sprintf("chunk: stream %d", st))
	}
	n := len(p1) + len(p2)
	if n > s.opts.ChunkPayloadMax {
		return Locator{}, dep.Dependency{}, dep.Dependency{}, fmt.Errorf("chunk: payload of %d bytes, at most %d: %w", n, s.opts.ChunkPayloadMax, engine.ErrInvalidArgument)
	}
	frame := AppendFrame2(s.pool.get(FrameSize(n)), KindData, s.uuid(), p1, p2)
	size := int64(len(frame))
	if err := s.g.Admit(ctx, 2); err != nil {
		s.pool.put([][]byte{frame})
		return Locator{}, dep.Dependency{}, dep.Dependency{}, err
	}
	if err := s.sched.Reserve(ctx, size); err != nil {
		s.g.Release(2)
		s.pool.put([][]byte{frame})
		return Locator{}, dep.Dependency{}, dep.Dependency{}, err
	}
	ss := &s.streams[st]
	ss.mu.Lock()
	defer ss.mu.Unlock()
	off, err := s.appendLocked(st, ss, size)
	if err != nil {
		s.g.Release(2)
		s.sched.Unreserve(size)
		s.pool.put([][]byte{frame})
		return Locator{}, dep.Dependency{}, dep.Dependency{}, err
	}
	loc = Locator{Extent: ss.ext, Generation: ss.gen, Offset: uint32(off), Length: uint32(n)}
	data := s.g.NewNode(dep.And(d, ss.resetD), dep.Chain{ID: chainID(ss.ext, ss.gen) | writtenChain, Pos: loc.End()})
	wp := s.g.NewNode(dep.Dependency{}, dep.Chain{ID: chainID(ss.ext, ss.gen), Pos: loc.End()})
	s.sb.WaitWritePointer(ss.ext, ss.gen, loc.End(), wp)
	s.sched.Enqueue(&iosched.Write{
		Extent: ss.ext, Gen: ss.gen, Offset: off, Frame: frame, Node: data, Class: st.class(),
		Abandon: s.abandonFn,
		Cache:   st.owner() == extent.Data && len(frame) <= s.readMax,
	})
	ss.tail.AddOwned(wp.Dependency())
	s.chunks.Add(1)
	s.payloadBytes.Add(int64(n))
	return loc, data.Dependency(), wp.Dependency(), nil
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
