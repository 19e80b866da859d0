package disk

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// memPageBytesMin is the smallest page Mem stores its contents in. Pages are
// allocated on first write, so a large, mostly empty Mem costs little, and
// shared copy-on-write between a Mem and its clones and crash states, so a
// crash copies only the pages that differ. 64 KiB keeps the page table small
// for gigabyte devices while a copy-on-write fault stays cheap.
const memPageBytesMin = 64 << 10

// memArenaKeepMax is the largest pending-write arena a Flush keeps for reuse
// (and Release recycles); a bigger one is released so one burst of writes
// does not pin memory.
const memArenaKeepMax = 16 << 20

// memPagePool and memArenaPool recycle the storage of released Mems (see
// Release) for later ones: checkers make a fresh Mem for every case, and
// allocating and zeroing its pages and growing its arena again dominated
// their cost. A recycled page holds stale bytes until write initializes it;
// a recycled arena is empty.
var (
	memPagePool  sync.Pool // of *[memPageBytesMin]byte
	memArenaPool sync.Pool // of *[]byte, length 0
)

// Mem is an in-memory Device that can be crashed. See the package
// documentation for the crash model.
//
// Mem stores the current contents in pages and every pending write as its
// offset, its new bytes and the bytes it overwrote (an undo log). Reads see
// the current contents. Flush drops the log. A crash rebuilds the durable
// contents by undoing the log on a copy-on-write clone, then applies the
// surviving writes: it costs the pending bytes, not the device size.
type Mem struct {
	mu         sync.Mutex
	size       int64
	sectorSize int
	pageBytes  int64
	pages      [][]byte // nil: all zero
	owned      []bool   // false: the page is shared and must be copied before writing
	pending    []memWrite
	arena      []byte // new and old bytes of the pending writes
	aligned    bool
	closed     bool
	released   bool
	stats      Stats
	// With armed set (StopAfter), stopIn more writes and flushes succeed
	// before power is cut; cut says one was refused since.
	armed  bool
	stopIn int
	cut    bool
	// cutTime is when power was cut (the refused IO, or Cut), on the
	// monotonic clock: a concurrent history orders its ops against it.
	cutTime time.Time
	onCut   func() // OnPowerCut
}

// memWrite is a pending write: its bytes are arena[at:at+n] (new) and
// arena[at+n:at+2n] (what they overwrote).
type memWrite struct {
	off int64
	at  int
	n   int
}

// NewMem returns a zeroed Mem of size bytes with the given sector size. It
// panics unless sectorSize is positive and size is a non-negative multiple of
// it: both are programming constants, never user input.
func NewMem(size int64, sectorSize int) *Mem {
	if sectorSize <= 0 {
		panic(fmt.Sprintf("disk: NewMem: sector size %d is not positive", sectorSize))
	}
	if size < 0 || size%int64(sectorSize) != 0 {
		panic(fmt.Sprintf("disk: NewMem: size %d is not a non-negative multiple of the sector size %d", size, sectorSize))
	}
	pageBytes := int64(sectorSize)
	if pageBytes < memPageBytesMin {
		// A whole number of sectors, so a sector never spans two pages.
		pageBytes = (memPageBytesMin + int64(sectorSize) - 1) / int64(sectorSize) * int64(sectorSize)
	}
	n := (size + pageBytes - 1) / pageBytes
	return &Mem{
		size:       size,
		sectorSize: sectorSize,
		pageBytes:  pageBytes,
		pages:      make([][]byte, n),
		owned:      make([]bool, n),
	}
}

// Size returns the capacity in bytes.
func (m *Mem) Size() int64 { return m.size }

// SectorSize returns the sector size given to NewMem.
func (m *Mem) SectorSize() int { return m.sectorSize }

// BufferAlignment implements BufferAligner: memory needs no alignment.
func (m *Mem) BufferAlignment() int { return 1 }

// RequireAligned makes every later IO whose offset or length is not a
// multiple of the sector size fail with ErrMisaligned, as direct IO on a File
// does, so an engine meant for O_DIRECT can be checked on a Mem. It is off by
// default.
func (m *Mem) RequireAligned(on bool) {
	m.mu.Lock()
	m.aligned = on
	m.mu.Unlock()
}

func (m *Mem) check(op string, off int64, n int) error {
	if m.closed {
		return fmt.Errorf("disk: mem: %s at offset %d length %d: %w", op, off, n, ErrClosed)
	}
	if err := checkRange("disk: mem", op, off, n, m.size); err != nil {
		return err
	}
	if m.aligned && (off%int64(m.sectorSize) != 0 || n%m.sectorSize != 0) {
		return fmt.Errorf("disk: mem: %s at offset %d length %d: offset and length must be multiples of the sector size %d: %w",
			op, off, n, m.sectorSize, ErrMisaligned)
	}
	return nil
}

// StopAfter arms m to lose power after n more writes and flushes succeed
// (n >= 0): every write and flush after them fails with ErrPowerCut and
// changes nothing. A negative n disarms m and restores power, clearing
// PowerCut. Reads are never refused. See the package documentation.
func (m *Mem) StopAfter(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.armed, m.stopIn, m.cut, m.cutTime = n >= 0, n, false, time.Time{}
}

// Disarm disarms m, as StopAfter(-1) does, unless its power has been cut
// already, and reports whether it had: one step, so a cut that lands
// concurrently (a background write) is either reported, with m still
// refusing writes for the crash that follows, or never happens.
func (m *Mem) Disarm() (cut bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cut {
		return true
	}
	m.armed, m.stopIn = false, 0
	return false
}

// OnPowerCut sets fn to be called when a power cut armed by StopAfter
// lands (once per StopAfter), with m's lock held: fn must not call m. A
// coverage recorder attributes the crash to the engine's phase then.
func (m *Mem) OnPowerCut(fn func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onCut = fn
}

// Cut cuts m's power now, from another goroutine while IO is in flight: a
// dirty reboot at an instant rather than after a count of IOs. Every write
// and flush that has not taken m's lock yet fails with ErrPowerCut and
// changes nothing, so the pending writes are frozen as they were at the
// cut for Crash and CrashStates to draw from; reads still see the current
// contents. PowerCut reports true from then on. It returns the number of
// writes pending at the cut. StopAfter(-1) restores power.
func (m *Mem) Cut() (pending int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.cut {
		m.cut, m.cutTime = true, time.Now()
	}
	m.armed, m.stopIn = true, 0
	return len(m.pending)
}

// CutTime returns when m's power was cut (by Cut, or by the first IO a
// StopAfter allowance refused), on the monotonic clock; the zero time if it
// has not been. An operation that returned before it finished its IO before
// the cut.
func (m *Mem) CutTime() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cutTime
}

// PowerCut reports whether m, armed by StopAfter, refused a write or flush
// (the operation running then was cut between two of its IOs), or Cut cut
// its power.
func (m *Mem) PowerCut() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cut
}

// powerCut counts one write or flush against StopAfter's allowance and
// reports the error that refuses it, if power is out. m.mu must be held.
func (m *Mem) powerCut(op string, off int64, n int) error {
	if !m.armed {
		return nil
	}
	if m.stopIn == 0 {
		m.powerOff()
		return fmt.Errorf("disk: mem: %s at offset %d length %d: %w", op, off, n, ErrPowerCut)
	}
	m.stopIn--
	return nil
}

// powerOff marks the power cut, noting when if it was on. m.mu must be
// held.
func (m *Mem) powerOff() {
	if !m.cut {
		if m.onCut != nil {
			m.onCut() // under m.mu: it must not call m
		}
		m.cut, m.cutTime = true, time.Now()
	}
}

// ReadAt reads len(p) bytes at off from the current (volatile) contents.
func (m *Mem) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("read", off, len(p)); err != nil {
		return 0, err
	}
	m.read(p, off)
	m.stats.Reads++
	m.stats.BytesRead += int64(len(p))
	return len(p), nil
}

// WriteAt writes p at off. The write is pending until the next Flush.
func (m *Mem) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("write", off, len(p)); err != nil {
		return 0, err
	}
	if err := m.powerCut("write", off, len(p)); err != nil {
		return 0, err
	}
	m.stats.Writes++
	m.stats.BytesWritten += int64(len(p))
	if len(p) == 0 {
		return 0, nil
	}
	if m.arena == nil {
		if a, ok := memArenaPool.Get().(*[]byte); ok {
			m.arena = *a
		}
	}
	at := len(m.arena)
	m.arena = slices.Grow(m.arena, 2*len(p))[:at+2*len(p)]
	copy(m.arena[at:], p)
	m.read(m.arena[at+len(p):], off)
	m.pending = append(m.pending, memWrite{off: off, at: at, n: len(p)})
	m.write(p, off)
	return len(p), nil
}

// Flush makes every pending write durable.
func (m *Mem) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("disk: mem: flush: %w", ErrClosed)
	}
	if m.armed && m.stopIn == 0 {
		m.powerOff()
		return fmt.Errorf("disk: mem: flush: %w", ErrPowerCut)
	}
	if m.armed {
		m.stopIn--
	}
	m.stats.Flushes++
	m.dropPending()
	return nil
}

func (m *Mem) dropPending() {
	m.pending = m.pending[:0]
	if cap(m.arena) > memArenaKeepMax {
		m.arena = nil
	} else {
		m.arena = m.arena[:0]
	}
}

// Close closes the Mem: later IO returns ErrClosed. Pending writes stay
// pending, so a closed Mem can still be crashed (Crash, CrashStates) or
// cloned; the results are open.
func (m *Mem) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("disk: mem: close: %w", ErrClosed)
	}
	m.closed = true
	return nil
}

// Release closes m, if it is open, and gives its storage back for later
// Mems to reuse, which then behave exactly like fresh zeroed ones. It is for
// a caller done with m for good: after Release, IO returns ErrClosed as after
// Close, and Clone, Durable, Crash, CrashStates, CrashStatesWhole and Image
// panic. Pages m shares copy-on-write with its clones and crash states stay
// theirs; only the storage m alone holds is recycled. Releasing twice does
// nothing.
func (m *Mem) Release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.released {
		return
	}
	m.closed, m.released = true, true
	for i, pg := range m.pages {
		if m.owned[i] && cap(pg) >= memPageBytesMin {
			memPagePool.Put((*[memPageBytesMin]byte)(pg[:memPageBytesMin]))
		}
	}
	m.pages, m.owned = nil, nil
	if m.arena != nil && cap(m.arena) <= memArenaKeepMax {
		a := m.arena[:0]
		memArenaPool.Put(&a)
	}
	m.arena, m.pending = nil, nil
}

// live panics if m was released: its contents are gone. m.mu must be held.
func (m *Mem) live(op string) {
	if m.released {
		panic("disk: Mem." + op + " after Release")
	}
}

// Pending returns the number of writes issued since the last Flush.
func (m *Mem) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pending)
}

// Stats returns the IO counters since NewMem (clones and crash states start
// at zero).
func (m *Mem) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Image returns a copy of the current contents, all Size bytes. It is meant
// for tests on small devices.
func (m *Mem) Image() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live("Image")
	b := make([]byte, m.size)
	m.read(b, 0)
	return b
}

// DiffBytes returns the number of bytes in which o's current contents differ
// from m's. Pages the two share copy-on-write (a clone, a crash state and
// the Mem it came from) are skipped unread, so comparing crash states with
// their device costs the pages their pending writes touched, not the
// device size. It panics if the sizes differ or either was released.
func (m *Mem) DiffBytes(o *Mem) int64 {
	if m == o {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	m.live("DiffBytes")
	o.live("DiffBytes")
	if m.size != o.size || m.pageBytes != o.pageBytes {
		panic(fmt.Sprintf("disk: Mem.DiffBytes: sizes %d and %d (pages %d and %d) differ", m.size, o.size, m.pageBytes, o.pageBytes))
	}
	var d int64
	for i, a := range m.pages {
		b := o.pages[i]
		switch {
		case len(a) == 0 && len(b) == 0:
		case len(a) == 0:
			d += nonZero(b)
		case len(b) == 0:
			d += nonZero(a)
		case &a[0] == &b[0]:
			// Shared: the same bytes.
		default:
			for j := range a {
				if a[j] != b[j] {
					d++
				}
			}
		}
	}
	return d
}

func nonZero(p []byte) int64 {
	var n int64
	for _, c := range p {
		if c != 0 {
			n++
		}
	}
	return n
}

// Clone returns an open copy of m with the same contents and the same pending
// writes, so a test can fork a device and continue each fork differently.
func (m *Mem) Clone() *Mem {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.share()
	c.pending = append([]memWrite(nil), m.pending...)
	c.arena = append([]byte(nil), m.arena...)
	return c
}

// Durable returns an open Mem holding m's durable contents: what a crash
// that keeps no pending write leaves. It is Crash(nil, CrashNone).
func (m *Mem) Durable() *Mem {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.durable()
}

// share returns a new Mem with m's current contents (pages shared
// copy-on-write), no pending writes, zero counters and m's alignment setting.
// m.mu must be held.
func (m *Mem) share() *Mem {
	m.live("Clone, Durable, Crash or CrashStates")
	c := &Mem{
		size:       m.size,
		sectorSize: m.sectorSize,
		pageBytes:  m.pageBytes,
		pages:      append([][]byte(nil), m.pages...),
		owned:      make([]bool, len(m.owned)),
		aligned:    m.aligned,
	}
	clear(m.owned)
	return c
}

// durable returns a new Mem holding the durable contents. m.mu must be held.
func (m *Mem) durable() *Mem {
	c := m.share()
	for i := len(m.pending) - 1; i >= 0; i-- {
		w := m.pending[i]
		c.write(m.arena[w.at+w.n:w.at+2*w.n], w.off)
	}
	return c
}

// newBytes returns the bytes pending write w wrote.
func (m *Mem) newBytes(w memWrite) []byte { return m.arena[w.at : w.at+w.n] }

// read copies the current contents at off into p. The range is valid.
func (m *Mem) read(p []byte, off int64) {
	for len(p) > 0 {
		i, o := off/m.pageBytes, off%m.pageBytes
		n := min(int64(len(p)), m.pageBytes-o)
		if pg := m.pages[i]; pg == nil {
			clear(p[:n])
		} else {
			copy(p[:n], pg[o:])
		}
		p, off = p[n:], off+n
	}
}

// write copies p into the current contents at off, copying shared pages
// first. The range is valid.
func (m *Mem) write(p []byte, off int64) {
	for len(p) > 0 {
		i, o := off/m.pageBytes, off%m.pageBytes
		n := min(int64(len(p)), m.pageBytes-o)
		if !m.owned[i] {
			m.pages[i], m.owned[i] = m.ownPage(m.pages[i], min(m.pageBytes, m.size-i*m.pageBytes)), true
		}
		copy(m.pages[i][o:], p[:n])
		p, off = p[n:], off+n
	}
}

// ownPage returns a new page of n bytes holding a copy of shared, or zeros
// if shared is nil: a recycled page if there is one.
func (m *Mem) ownPage(shared []byte, n int64) []byte {
	if m.pageBytes != memPageBytesMin {
		pg := make([]byte, n)
		copy(pg, shared)
		return pg
	}
	a, ok := memPagePool.Get().(*[memPageBytesMin]byte)
	if !ok {
		pg := make([]byte, n)
		copy(pg, shared)
		return pg
	}
	pg := a[:n]
	if shared == nil {
		clear(pg)
	} else {
		copy(pg, shared) // every page with the same index has length n
	}
	return pg
}

// CrashPolicy says which pending writes survive a Crash.
type CrashPolicy int

const (
	// CrashNone keeps no pending write: the result is the durable contents.
	CrashNone CrashPolicy = iota
	// CrashRandom keeps each pending write whole with probability 1/2,
	// independently.
	CrashRandom
	// CrashTorn keeps each pending write with probability 1/2; a kept write
	// that spans more than one sector is torn with probability 1/2, and then
	// each of its sector-writes is kept with probability 1/2. A sector-write
	// is never split.
	CrashTorn
)

func (p CrashPolicy) String() string {
	switch p {
	case CrashNone:
		return "none"
	case CrashRandom:
		return "random"
	case CrashTorn:
		return "torn"
	}
	return fmt.Sprintf("CrashPolicy(%d)", int(p))
}

// Crash returns a new, open Mem holding what a power failure now could leave:
// the durable contents plus the pending writes policy keeps, applied in issue
// order, all durable. m is unchanged and may be crashed again. rng supplies
// every random choice (it may be nil for CrashNone), so a seed reproduces the
// state.
func (m *Mem) Crash(rng *rand.Rand, policy CrashPolicy) *Mem {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.durable()
	switch policy {
	case CrashNone:
	case CrashRandom:
		for _, w := range m.pending {
			if rng.IntN(2) == 0 {
				c.write(m.newBytes(w), w.off)
			}
		}
	case CrashTorn:
		ss := int64(m.sectorSize)
		for _, w := range m.pending {
			if rng.IntN(2) != 0 {
				continue
			}
			first, last := w.off/ss, (w.off+int64(w.n)-1)/ss
			if first == last || rng.IntN(2) == 0 {
				c.write(m.newBytes(w), w.off)
				continue
			}
			for s := first; s <= last; s++ {
				if rng.IntN(2) == 0 {
					continue
				}
				lo, hi := max(w.off, s*ss), min(w.off+int64(w.n), (s+1)*ss)
				c.write(m.arena[w.at+int(lo-w.off):w.at+int(hi-w.off)], lo)
			}
		}
	default:
		panic(fmt.Sprintf("disk: Mem.Crash: unknown policy %v", policy))
	}
	return c
}
