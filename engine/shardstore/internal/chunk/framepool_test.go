package chunk

import "testing"

// TestFramePool: every size gets a buffer with room for it, from a class
// no more than a step larger; a buffer put back is handed out again for
// any size of its class; the pool keeps at most framePoolBytes and ignores
// buffers it did not make (a foreign capacity) or that are too large.
func TestFramePool(t *testing.T) {
	const maxFrame = 1<<20 + 64
	p := newFramePool(maxFrame)
	for n := 0; n <= maxFrame; n += 97 {
		c := frameClass(n)
		step := 256
		if n > framePoolSmall {
			step = 4096
		}
		if b := classBytes(c); b < n || b >= n+step {
			t.Fatalf("size %d: class %d holds %d bytes", n, c, b)
		}
		if frameClass(classBytes(c)) != c {
			t.Fatalf("class %d: its size %d maps to class %d", c, classBytes(c), frameClass(classBytes(c)))
		}
	}
	b := p.get(65600)
	if len(b) != 0 || cap(b) < 65600 {
		t.Fatalf("get(65600): len %d cap %d", len(b), cap(b))
	}
	b = append(b, 1, 2, 3)
	p.put([][]byte{b})
	if c := p.get(65537); &c[:1][0] != &b[0] || len(c) != 0 {
		t.Fatal("a buffer put back is not reused for a size of its class")
	}
	if c := p.get(65537); &c[:1][0] == &b[0] {
		t.Fatal("a buffer handed out twice")
	}
	p.put([][]byte{make([]byte, 1000), make([]byte, 0, 2*maxFrame)})
	if p.bytes != 0 {
		t.Fatalf("pool kept %d bytes of buffers it did not make", p.bytes)
	}
	var many [][]byte
	for range 2 * framePoolBytes / (64 << 10) {
		many = append(many, p.get(64<<10))
	}
	p.put(many)
	if p.bytes > framePoolBytes || p.bytes < framePoolBytes-(64<<10) {
		t.Fatalf("pool keeps %d bytes, bound %d", p.bytes, framePoolBytes)
	}
}

// TestFramePoolStash: writers take the free lists' lock (the IO
// scheduler's) once per batch of frames, not per frame, and get every
// buffer put back exactly once.
func TestFramePoolStash(t *testing.T) {
	p := newFramePool(1 << 20)
	var bufs [][]byte
	for range 3 * stashBatch {
		bufs = append(bufs, p.get(1000))
	}
	p.put(bufs)
	takes := p.takes
	seen := map[*byte]bool{}
	for i := range 2 * stashBatch {
		b := p.get(1000)
		if cap(b) != classBytes(frameClass(1000)) || seen[&b[:1][0]] {
			t.Fatalf("get %d: a new or repeated buffer", i)
		}
		seen[&b[:1][0]] = true
	}
	if n := p.takes - takes; n != 2 {
		t.Fatalf("%d takes of the lock for %d frames, want 2 (batches of %d)", n, 2*stashBatch, stashBatch)
	}
	if p.bytes != stashBatch*classBytes(frameClass(1000)) {
		t.Fatalf("free lists keep %d bytes, want %d", p.bytes, stashBatch*classBytes(frameClass(1000)))
	}
}
