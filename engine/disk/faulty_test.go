package disk

import (
	"bytes"
	"errors"
	"math/bits"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

func newFaulty(t testing.TB, dev Device, opts FaultyOptions) *Faulty {
	t.Helper()
	f, err := NewFaulty(dev, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// doOp issues one IO of the given kind and returns its error.
func doOp(f *Faulty, op Op, off int64) error {
	var err error
	switch op {
	case OpRead:
		_, err = f.ReadAt(make([]byte, 512), off)
	case OpWrite:
		_, err = f.WriteAt(fill(int(off), off, 512), off)
	case OpFlush:
		err = f.Flush()
	}
	return err
}

// The n-th op of a kind fails, and only it.
func TestFaultyNth(t *testing.T) {
	for _, op := range []Op{OpRead, OpWrite, OpFlush} {
		for _, nth := range []int64{1, 2, 7} {
			m := NewMem(64*512, 512)
			f := newFaulty(t, m, FaultyOptions{})
			f.FailNth(op, nth)
			// Interleave the other kinds: they must not count.
			var failed []int64
			for i := int64(1); i <= 10; i++ {
				for _, other := range []Op{OpRead, OpWrite, OpFlush} {
					if other != op {
						if err := doOp(f, other, i*512); err != nil {
							t.Fatalf("%v: %v failed: %v", op, other, err)
						}
					}
				}
				err := doOp(f, op, i*512)
				if err != nil {
					if !errors.Is(err, ErrInjected) || !errors.Is(err, syscall.EIO) {
						t.Fatalf("%v %d: error %v does not match ErrInjected and syscall.EIO", op, i, err)
					}
					var ie *InjectedError
					if !errors.As(err, &ie) || ie.IO.Op != op {
						t.Fatalf("%v %d: error %v is not an *InjectedError for the op", op, i, err)
					}
					failed = append(failed, i)
				}
			}
			if len(failed) != 1 || failed[0] != nth {
				t.Fatalf("FailNth(%v, %d): ops %v failed, want only op %d", op, nth, failed, nth)
			}
			fs := f.Faults()
			if errs := fs.ReadErrors + fs.WriteErrors + fs.FlushErrors; errs != 1 {
				t.Fatalf("FailNth(%v, %d): %d injected errors counted, want 1", op, nth, errs)
			}
			if f.Armed() != 0 {
				t.Fatalf("one-shot fault still armed after firing")
			}
		}
	}
}

// A failed write does not reach the device; a failed flush leaves writes
// pending.
func TestFaultyFailedIOHasNoEffect(t *testing.T) {
	m := NewMem(8*512, 512)
	f := newFaulty(t, m, FaultyOptions{})
	f.FailNth(OpWrite, 1)
	if _, err := f.WriteAt(fill(1, 0, 512), 0); !errors.Is(err, ErrInjected) {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(m.Image(), make([]byte, 8*512)) || m.Pending() != 0 {
		t.Fatal("a failed write reached the device")
	}
	mustWrite(t, f, fill(2, 0, 512), 0)
	f.FailNth(OpFlush, 1)
	if err := f.Flush(); !errors.Is(err, ErrInjected) {
		t.Fatalf("flush: %v", err)
	}
	if m.Pending() != 1 {
		t.Fatalf("after a failed flush Pending = %d, want 1", m.Pending())
	}
	if st := f.Stats(); st.Writes != 1 || st.Flushes != 0 {
		t.Fatalf("Stats counts failed IOs as issued: %+v", st)
	}
	if fs := f.Faults(); fs.Writes != 2 || fs.Flushes != 1 || fs.WriteErrors != 1 || fs.FlushErrors != 1 {
		t.Fatalf("Faults = %+v", fs)
	}
}

// Range, kind, predicate, persistence, custom error.
func TestFaultyPredicates(t *testing.T) {
	m := NewMem(64*512, 512)
	f := newFaulty(t, m, FaultyOptions{})
	// Persistent: reads overlapping extent [8 KiB, 12 KiB).
	id := f.Inject(Fault{Ops: OpRead, Off: 8 << 10, End: 12 << 10, Persistent: true})
	for _, tc := range []struct {
		op   Op
		off  int64
		fail bool
	}{
		{OpRead, 0, false},
		{OpRead, 8<<10 - 512, false}, // ends where the range starts
		{OpRead, 8<<10 - 256, true},  // overlaps its first byte (512-byte read)
		{OpRead, 10 << 10, true},
		{OpRead, 10 << 10, true}, // persistent
		{OpRead, 12 << 10, false},
		{OpWrite, 10 << 10, false},
		{OpFlush, 0, false}, // a range never matches a flush
	} {
		err := doOp(f, tc.op, tc.off)
		if (err != nil) != tc.fail {
			t.Errorf("%v at %d: err %v, want fail %v", tc.op, tc.off, err, tc.fail)
		}
	}
	if !f.Remove(id) || f.Remove(id) {
		t.Fatal("Remove of a persistent fault")
	}
	if err := doOp(f, OpRead, 10<<10); err != nil {
		t.Fatalf("read after Remove: %v", err)
	}

	// Persistent from the 3rd match on, with a predicate and its own error.
	f.Inject(Fault{
		Ops:        OpWrite,
		Match:      func(io IO) bool { return io.Len == 512 },
		Nth:        3,
		Persistent: true,
		Err:        syscall.ENOSPC,
	})
	mustWrite(t, f, make([]byte, 1024), 0) // no match
	mustWrite(t, f, make([]byte, 512), 0)
	mustWrite(t, f, make([]byte, 512), 0)
	for range 3 {
		_, err := f.WriteAt(make([]byte, 512), 0)
		if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrInjected) || errors.Is(err, syscall.EIO) {
			t.Fatalf("persistent fault with Err ENOSPC: %v", err)
		}
		if !strings.Contains(err.Error(), "write at offset 0 length 512") {
			t.Fatalf("error %q does not name the IO", err)
		}
	}
	f.Clear()
	mustWrite(t, f, make([]byte, 512), 0)

	// Out-of-range IOs go to the device, which rejects them; they match
	// nothing and count nothing.
	f.FailNth(OpRead, 1)
	if _, err := f.ReadAt(make([]byte, 512), m.Size()); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("read past end: %v", err)
	}
	if err := doOp(f, OpRead, 0); !errors.Is(err, ErrInjected) {
		t.Fatalf("the out-of-range read consumed the fault: %v", err)
	}
}

// Flips corrupt what a read returns, one bit in the range, and never the
// device.
func TestFaultyFlip(t *testing.T) {
	forSeeds(t, func(t *testing.T, rng *rand.Rand) {
		m := NewMem(16*512, 512)
		data := fill(1, 0, 16*512)
		mustWrite(t, m, data, 0)
		mustFlush(t, m)
		f := newFaulty(t, m, FaultyOptions{Rand: rng})
		lo, hi := int64(3000), int64(3100)
		f.Flip(Flip{Off: lo, End: hi, Persistent: true})
		for range 50 {
			off := int64(rng.IntN(12 * 512))
			n := 1 + rng.IntN(4*512)
			got := make([]byte, n)
			if _, err := f.ReadAt(got, off); err != nil {
				t.Fatal(err)
			}
			diff := 0
			for i := range got {
				if x := got[i] ^ data[off+int64(i)]; x != 0 {
					diff += bits.OnesCount8(x)
					if at := off + int64(i); at < lo || at >= hi {
						t.Fatalf("read [%d, %d): byte %d flipped, outside the range [%d, %d)", off, off+int64(n), at, lo, hi)
					}
				}
			}
			want := 0
			if overlaps(off, n, lo, hi) {
				want = 1
			}
			if diff != want {
				t.Fatalf("read [%d, %d): %d bits flipped, want %d", off, off+int64(n), diff, want)
			}
		}
		if !bytes.Equal(m.Image(), data) {
			t.Fatal("a flip changed the device")
		}
		// One-shot: the next overlapping read only.
		f.Clear()
		f.Flip(Flip{Off: 0, End: 1})
		a := mustRead(t, f, 0, 1)
		b := mustRead(t, f, 0, 1)
		if bits.OnesCount8(a[0]^data[0]) != 1 || b[0] != data[0] {
			t.Fatal("one-shot flip: want the first read corrupted and the second clean")
		}
	})
}

// A fixed delay is charged to every IO; Sleep is called with it.
func TestFaultyDelay(t *testing.T) {
	var slept []time.Duration
	f := newFaulty(t, NewMem(8*512, 512), FaultyOptions{
		Delay: 3 * time.Millisecond,
		Sleep: func(d time.Duration) { slept = append(slept, d) },
	})
	mustWrite(t, f, make([]byte, 512), 0)
	mustRead(t, f, 0, 512)
	mustFlush(t, f)
	if f.Clock() != 9*time.Millisecond || len(slept) != 3 || slept[0] != 3*time.Millisecond {
		t.Fatalf("Clock %v, slept %v; want 9ms over three 3ms sleeps", f.Clock(), slept)
	}
	fs := f.Faults()
	if fs.ReadTime+fs.WriteTime+fs.FlushTime != f.Clock() {
		t.Fatalf("per-kind times %+v do not add up to the clock %v", fs, f.Clock())
	}
}

// runHDD issues n 4 KiB writes, sequential or at random offsets, on a
// 1 GiB device, and returns the virtual clock.
func runHDD(t *testing.T, seed uint64, sequential bool, hdd HDDModel) time.Duration {
	t.Helper()
	const devBytes, io, n = 1 << 30, 4096, 500
	m := NewMem(devBytes, 512)
	f := newFaulty(t, m, FaultyOptions{HDD: &hdd, Rand: rand.New(rand.NewPCG(seed, 0))})
	offs := rand.New(rand.NewPCG(seed, 1))
	buf := make([]byte, io)
	for i := range n {
		off := int64(i) * io
		if !sequential {
			off = offs.Int64N(devBytes/io) * io
		}
		mustWrite(t, f, buf, off)
	}
	return f.Clock()
}

func TestHDDSequentialVsRandom(t *testing.T) {
	forSeeds(t, func(t *testing.T, rng *rand.Rand) {
		seed := rng.Uint64()
		for _, hdd := range []HDDModel{{}, {RotationRandom: true}} {
			seq := runHDD(t, seed, true, hdd)
			rnd := runHDD(t, seed, false, hdd)
			// Sequential: one seek, then 500 transfers of 4 KiB at 160 MB/s
			// (12.8ms). Random: ~500 × (seek ~9ms + rotation ~4ms).
			if seq > 40*time.Millisecond {
				t.Fatalf("%+v: sequential 500 × 4 KiB took %v of virtual time, want under 40ms", hdd, seq)
			}
			if ratio := float64(rnd) / float64(seq); ratio < 50 {
				t.Fatalf("%+v: random %v / sequential %v = %.1f, want at least 50", hdd, rnd, seq, ratio)
			}
			if rnd < 500*8*time.Millisecond || rnd > 500*20*time.Millisecond {
				t.Fatalf("%+v: random 500 × 4 KiB took %v, want 8 to 20ms per IO like a 7200 rpm disk", hdd, rnd)
			}
		}
	})
}

func TestHDDDeterministic(t *testing.T) {
	hdd := HDDModel{RotationRandom: true}
	a, b := runHDD(t, 5, false, hdd), runHDD(t, 5, false, hdd)
	if a != b {
		t.Fatalf("same seed, clocks %v and %v", a, b)
	}
	if c := runHDD(t, 6, false, hdd); c == a {
		t.Fatalf("different seeds, same clock %v: the rng is not used", c)
	}
}

func TestHDDModelTimes(t *testing.T) {
	var h HDDModel
	h.EnsureDefaults(1 << 30)
	if r := h.Rotation(); r < 8333*time.Microsecond || r > 8334*time.Microsecond {
		t.Fatalf("7200 rpm rotation = %v", r)
	}
	if h.FlushTime != h.Rotation() {
		t.Fatalf("FlushTime default %v, want one rotation", h.FlushTime)
	}
	for _, tc := range []struct {
		d    int64
		want time.Duration
	}{
		{0, 0},
		{1 << 30, 16 * time.Millisecond},
		{4 << 30, 16 * time.Millisecond}, // capped at full stroke
		{1 << 28, time.Millisecond + 15*time.Millisecond/2},
		{-(1 << 28), time.Millisecond + 15*time.Millisecond/2},
	} {
		if got := h.SeekTime(tc.d); got != tc.want {
			t.Errorf("SeekTime(%d) = %v, want %v", tc.d, got, tc.want)
		}
	}
	// A flush costs FlushTime and does not move the head: a sequential
	// write after it costs only its transfer.
	f := newFaulty(t, NewMem(1<<20, 512), FaultyOptions{HDD: &HDDModel{}})
	mustWrite(t, f, make([]byte, 1600), 0) // first IO at the head: no seek
	mustFlush(t, f)
	mustWrite(t, f, make([]byte, 1600), 1600)
	want := 2*10*time.Microsecond + h.Rotation()
	if got := f.Clock(); got != want {
		t.Fatalf("clock %v, want %v", got, want)
	}
}

func TestHDDModelValidate(t *testing.T) {
	bad := HDDModel{RPM: -1, SeekSettle: 5 * time.Millisecond, SeekFull: time.Millisecond, Bandwidth: -3, FlushTime: -1}
	_, err := NewFaulty(NewMem(512, 512), FaultyOptions{HDD: &bad})
	if err == nil {
		t.Fatal("invalid HDDModel accepted")
	}
	for _, field := range []string{"RPM", "SeekFull", "Bandwidth", "FlushTime"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}

// TestFaultyTagged: a tagged write's phase reaches OnFault with the IO it
// failed, and the tag reaches a wrapped device that takes one.
func TestFaultyTagged(t *testing.T) {
	inner := &tagRecorder{Mem: NewMem(1<<16, 512)}
	var got []IO
	f, err := NewFaulty(inner, FaultyOptions{OnFault: func(io IO, flip bool) { got = append(got, io) }})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if _, err := f.WriteAtTagged(buf, 0, IOTag{Source: SourceBackground, Phase: "compaction"}); err != nil {
		t.Fatal(err)
	}
	if len(inner.tags) != 1 || inner.tags[0].Phase != "compaction" || inner.tags[0].Source != SourceBackground {
		t.Fatalf("wrapped device saw tags %+v, want the one written", inner.tags)
	}
	f.Inject(Fault{Ops: OpWrite, Nth: 1})
	if _, err := f.WriteAtTagged(buf, 512, IOTag{Phase: "index-flush"}); !errors.Is(err, ErrInjected) {
		t.Fatalf("armed write = %v, want ErrInjected", err)
	}
	if len(got) != 1 || got[0].Phase != "index-flush" || got[0].Op != OpWrite || got[0].Off != 512 {
		t.Fatalf("OnFault heard %+v, want the failed write with its phase", got)
	}
}

type tagRecorder struct {
	*Mem
	tags []IOTag
}

func (r *tagRecorder) WriteAtTagged(p []byte, off int64, tag IOTag) (int, error) {
	r.tags = append(r.tags, tag)
	return r.WriteAt(p, off)
}

func TestFaultyClose(t *testing.T) {
	m := NewMem(4096, 512)
	f := newFaulty(t, m, FaultyOptions{})
	f.FailNth(OpWrite, 1)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 1), 0); !errors.Is(err, ErrClosed) || errors.Is(err, ErrInjected) {
		t.Fatalf("write after Close = %v, want ErrClosed", err)
	}
	if _, err := m.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrClosed) {
		t.Fatal("Close did not close the wrapped device")
	}
}

// TestNewBuffer: a buffer for a Mem (or a Faulty over one) need not be
// aligned; for any other device it is aligned for direct IO. Either way it
// is n zero bytes.
func TestNewBuffer(t *testing.T) {
	mem := NewMem(1<<20, 512)
	f, err := NewFaulty(mem, FaultyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var other struct{ Device } // a device that says nothing of alignment
	other.Device = mem
	for _, c := range []struct {
		name    string
		dev     Device
		aligned bool
	}{{"mem", mem, false}, {"faulty over mem", f, false}, {"unknown device", other, true}} {
		if a, ok := c.dev.(BufferAligner); ok != !c.aligned || ok && a.BufferAlignment() != 1 {
			t.Errorf("%s: BufferAligner %v", c.name, ok)
		}
		for _, n := range []int{0, 1, 4096, 5000} {
			b := NewBuffer(c.dev, n)
			if len(b) != n || !bytes.Equal(b, make([]byte, n)) {
				t.Fatalf("%s: NewBuffer(%d) gave %d bytes, not all zero", c.name, n, len(b))
			}
			if c.aligned && n > 0 && uintptr(unsafe.Pointer(&b[0]))%BufferAlign != 0 {
				t.Errorf("%s: NewBuffer(%d) not aligned to %d", c.name, n, BufferAlign)
			}
		}
	}
}
