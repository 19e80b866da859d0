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
type framePool struct {
	mu    conc.Mutex
	free  [][][]byte // by class
	bytes int
}

const (
	framePoolSmall = 4 << 10
	framePoolBytes = 16 << 20
)

func newFramePool(maxFrame int) *framePool {
	return &framePool{free: make([][][]byte, frameClass(maxFrame)+1)}
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
	p.mu.Lock()
	if l := p.free[c]; len(l) > 0 {
		b := l[len(l)-1]
		l[len(l)-1] = nil
		p.free[c] = l[:len(l)-1]
		p.bytes -= cap(b)
		p.mu.Unlock()
		return b[:0]
	}
	p.mu.Unlock()
	return make([]byte, 0, classBytes(c))
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
