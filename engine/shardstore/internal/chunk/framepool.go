package chunk

import "github.com/gauntlet-kv/gauntlet/engine/conc"

// framePool recycles frame buffers. A frame goes to the IO scheduler with
// its write and comes back (iosched.Options.Recycle) once the write is on
// the device and nothing reads it any more, so a stream of puts reuses a
// few buffers instead of allocating, clearing and collecting one per chunk
// (a 64 KiB fill spent a sixth of its client's CPU on that).
//
// Buffers are kept by size class — 256-byte steps up to 4 KiB, 4 KiB steps
// above — up to framePoolBytes in all; past that, and for frames larger
// than the largest class, they are left to the garbage collector.
//
// The writers take buffers from a stash of their own, refilled from the
// free lists a batch at a time (up to stashBatchBytes): the free lists'
// lock is also the IO scheduler's, which hands frames back once a round,
// and a writer that took it for every frame moved its cache line between
// CPUs on every put.
type framePool struct {
	mu    conc.Mutex // the free lists; put takes it from the IO scheduler's goroutine
	free  [][][]byte // by class
	bytes int
	takes int // times a writer took mu to refill its stash (for tests)

	smu   conc.Mutex // the stash; taken before mu
	stash [][][]byte // by class
}

const (
	framePoolSmall  = 4 << 10
	framePoolBytes  = 16 << 20
	stashBatch      = 32
	stashBatchBytes = 256 << 10
)

func newFramePool(maxFrame int) *framePool {
	n := frameClass(maxFrame) + 1
	return &framePool{free: make([][][]byte, n), stash: make([][][]byte, n)}
}

// frameClass returns the class of a frame of n bytes; its buffers hold
// classBytes(c) bytes.
func frameClass(n int) int {
	if n <= framePoolSmall {
		return (n + 255) >> 8
	}
	return framePoolSmall>>8 + (n-framePoolSmall+4095)>>12
}

func classBytes(c int) int {
	if c <= framePoolSmall>>8 {
		return c << 8
	}
	return framePoolSmall + (c-framePoolSmall>>8)<<12
}

// get returns an empty buffer with room for a frame of n bytes; its
// contents are not cleared.
func (p *framePool) get(n int) []byte {
	c := frameClass(n)
	if c >= len(p.free) {
		return make([]byte, 0, n)
	}
	p.smu.Lock()
	defer p.smu.Unlock()
	st := p.stash[c]
	if len(st) == 0 {
		batch := max(1, min(stashBatch, stashBatchBytes/classBytes(c)))
		p.mu.Lock()
		l := p.free[c]
		k := max(0, len(l)-batch)
		for _, b := range l[k:] {
			st = append(st, b)
			p.bytes -= cap(b)
		}
		clear(l[k:])
		p.free[c] = l[:k]
		p.takes++
		p.mu.Unlock()
	}
	if len(st) == 0 {
		p.stash[c] = st
		return make([]byte, 0, classBytes(c))
	}
	b := st[len(st)-1]
	st[len(st)-1] = nil
	p.stash[c] = st[:len(st)-1]
	return b[:0]
}

// put takes back buffers that get returned and nothing references any
// more.
func (p *framePool) put(bufs [][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range bufs {
		c := frameClass(cap(b))
		if c >= len(p.free) || classBytes(c) != cap(b) || p.bytes+cap(b) > framePoolBytes {
			continue
		}
		p.free[c] = append(p.free[c], b)
		p.bytes += cap(b)
	}
}
