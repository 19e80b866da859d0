package disk

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Op is a kind of IO. Ops combine as a bit set in Fault.Ops.
type Op uint8

// The kinds of IO.
const (
	OpRead Op = 1 << iota
	OpWrite
	OpFlush

	OpAll = OpRead | OpWrite | OpFlush
)

func (o Op) String() string {
	var names []string
	for _, k := range []struct {
		op   Op
		name string
	}{{OpRead, "read"}, {OpWrite, "write"}, {OpFlush, "flush"}} {
		if o&k.op != 0 {
			names = append(names, k.name)
			o &^= k.op
		}
	}
	if o != 0 || len(names) == 0 {
		names = append(names, fmt.Sprintf("Op(%#x)", uint8(o)))
	}
	return strings.Join(names, "|")
}

// IO describes one IO, for Fault.Match and InjectedError. A flush has Off 0
// and Len 0.
type IO struct {
	Op  Op
	Off int64
	Len int
	// Phase is the engine phase a write was issued for (IOTag.Phase,
	// through WriteAtTagged), "" if the writer did not say.
	Phase string
}

func (io IO) String() string {
	if io.Op == OpFlush {
		return "flush"
	}
	return fmt.Sprintf("%v at offset %d length %d", io.Op, io.Off, io.Len)
}

// Fault selects IOs to fail. An IO matches a fault when its kind is in Ops,
// it overlaps the byte range, and Match (if set) returns true. The fault
// fires on the Nth IO it matches, counted from when it was injected, and, if
// Persistent, on every match after that; a one-shot fault is removed when it
// fires. An IO on which any fault fires fails with an *InjectedError and is
// not issued to the wrapped device: a failed write changes nothing, a failed
// flush leaves the writes it would have made durable pending.
//
// IOs that Faulty rejects without issuing them (out of range, after Close)
// match no fault.
type Fault struct {
	// Ops are the kinds of IO the fault applies to. Zero means OpAll.
	Ops Op
	// Off and End restrict the fault to reads and writes that overlap the
	// byte range [Off, End); an extent range is expressed as its bytes. A
	// fault with a range never matches a flush. End 0 means no range.
	Off, End int64
	// Match, if set, must also return true for the IO to match. It is
	// called with Faulty's lock held and must not call Faulty.
	Match func(IO) bool
	// Nth is the match on which the fault fires first, 1-based. Zero means
	// 1: the next match.
	Nth int64
	// Persistent faults fire on the Nth match and every later one, until
	// removed.
	Persistent bool
	// Err is the cause InjectedError wraps besides ErrInjected. Nil means
	// syscall.EIO.
	Err error
}

// Flip corrupts reads: a read that overlaps [Off, End) and succeeds returns
// with one bit flipped, at a position in the overlap drawn from Faulty's rng.
// The wrapped device is not changed, so a reread can see the right data. A
// one-shot Flip is removed after it corrupts one read.
type Flip struct {
	Off, End   int64
	Persistent bool
}

// InjectedError is the error of an IO that Faulty failed. It matches
// ErrInjected and Err (syscall.EIO unless the Fault said otherwise) under
// errors.Is, so engines handle it as a real IO error and tests can tell it
// from one.
type InjectedError struct {
	IO  IO
	Err error
}

func (e *InjectedError) Error() string {
	return fmt.Sprintf("disk: faulty: %v: injected error: %v", e.IO, e.Err)
}

// Unwrap returns ErrInjected and the cause.
func (e *InjectedError) Unwrap() []error { return []error{ErrInjected, e.Err} }

// FaultyOptions configure a Faulty. The zero value is valid: no latency,
// virtual time only.
type FaultyOptions struct {
	// Rand draws the bit a Flip flips and, with HDDModel.RotationRandom,
	// rotational delays. Default rand.New(rand.NewPCG(0, 0)): a Faulty is
	// deterministic unless told otherwise. Faulty uses it under its lock.
	Rand *rand.Rand
	// Delay is added to the modeled time of every read, write and flush.
	// Default 0.
	Delay time.Duration
	// HDD, if set, models a hard disk's seek, rotation and transfer times;
	// zero fields take their defaults. Default nil: no disk model.
	HDD *HDDModel
	// Sleep, if set, is called with each IO's modeled time before the IO is
	// issued, for example time.Sleep to slow IO down in real time. With an
	// HDD model IOs are then serialized (a disk has one head), so real time
	// follows the virtual clock. Default nil: time is only accounted on the
	// virtual clock (Faulty.Clock), nothing sleeps.
	Sleep func(time.Duration)
	// OnFault, if set, is called after an IO failed by an injected error
	// (flip false) or a read corrupted by a Flip (flip true), outside
	// Faulty's lock: a coverage recorder counts what was injected where.
	// Default nil.
	OnFault func(io IO, flip bool)
}

// FaultStats counts what a Faulty saw and did.
type FaultStats struct {
	// Reads, Writes and Flushes count IOs that reached Faulty's fault
	// matching (issued or failed).
	Reads, Writes, Flushes int64
	// ReadErrors, WriteErrors and FlushErrors count injected failures.
	ReadErrors, WriteErrors, FlushErrors int64
	// Flips counts reads corrupted by a Flip.
	Flips int64
	// ReadTime, WriteTime and FlushTime are the modeled time spent per
	// kind; their sum is the virtual clock.
	ReadTime, WriteTime, FlushTime time.Duration
}

// Faulty wraps a Device and injects faults and latency; see the package
// documentation. Faults and flips are added and removed at any time.
type Faulty struct {
	dev   Device
	sleep func(time.Duration)
	delay time.Duration
	hdd   *HDDModel // with defaults; nil: none

	busy sync.Mutex // serializes IOs when sleeping with an HDD model

	onFault func(io IO, flip bool) // FaultyOptions.OnFault

	mu     sync.Mutex
	rng    *rand.Rand
	nextID int
	faults []*armedFault
	flips  []*armedFlip
	head   int64 // HDD model: where the previous IO ended
	clock  time.Duration
	closed bool
	fs     FaultStats
	stats  Stats
}

type armedFault struct {
	id      int
	f       Fault
	matches int64
}

type armedFlip struct {
	id int
	f  Flip
}

// NewFaulty wraps dev. It returns an error if opts.HDD is invalid.
func NewFaulty(dev Device, opts FaultyOptions) (*Faulty, error) {
	f := &Faulty{dev: dev, sleep: opts.Sleep, delay: opts.Delay, rng: opts.Rand, onFault: opts.OnFault}
	if opts.Delay < 0 {
		return nil, fmt.Errorf("disk: FaultyOptions.Delay %v: must not be negative", opts.Delay)
	}
	if opts.HDD != nil {
		if err := opts.HDD.Validate(); err != nil {
			return nil, err
		}
		h := *opts.HDD
		h.EnsureDefaults(dev.Size())
		f.hdd = &h
	}
	if f.rng == nil {
		f.rng = rand.New(rand.NewPCG(0, 0))
	}
	return f, nil
}

// Device returns the wrapped device.
func (f *Faulty) Device() Device { return f.dev }

// Size returns the wrapped device's size.
func (f *Faulty) Size() int64 { return f.dev.Size() }

// SectorSize returns the wrapped device's sector size.
func (f *Faulty) SectorSize() int { return f.dev.SectorSize() }

// Inject arms a fault and returns its id for Remove.
func (f *Faulty) Inject(fault Fault) int {
	if fault.Ops == 0 {
		fault.Ops = OpAll
	}
	if fault.Nth <= 0 {
		fault.Nth = 1
	}
	if fault.Err == nil {
		fault.Err = syscall.EIO
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.faults = append(f.faults, &armedFault{id: f.nextID, f: fault})
	return f.nextID
}

// FailNth arms a one-shot EIO on the nth IO of the given kinds from now
// (1-based), and returns its id.
func (f *Faulty) FailNth(ops Op, nth int64) int {
	return f.Inject(Fault{Ops: ops, Nth: nth})
}

// Flip arms a bit flip and returns its id for Remove. End 0 means the end
// of the device.
func (f *Faulty) Flip(flip Flip) int {
	if flip.End == 0 {
		flip.End = f.dev.Size()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.flips = append(f.flips, &armedFlip{id: f.nextID, f: flip})
	return f.nextID
}

// Remove disarms the fault or flip with the given id. It reports whether it
// was still armed (a one-shot that fired is not).
func (f *Faulty) Remove(id int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range f.faults {
		if a.id == id {
			f.faults = append(f.faults[:i], f.faults[i+1:]...)
			return true
		}
	}
	for i, a := range f.flips {
		if a.id == id {
			f.flips = append(f.flips[:i], f.flips[i+1:]...)
			return true
		}
	}
	return false
}

// Clear disarms every fault and flip.
func (f *Faulty) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults, f.flips = nil, nil
}

// Armed returns the number of faults and flips armed.
func (f *Faulty) Armed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.faults) + len(f.flips)
}

// Clock returns the total modeled time of every IO issued so far: the
// virtual clock.
func (f *Faulty) Clock() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

// Faults returns the fault and latency counters.
func (f *Faulty) Faults() FaultStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fs
}

// Stats returns the counters of IOs issued to the wrapped device.
func (f *Faulty) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// begin decides the fate of an IO: an injected error, or its modeled time.
// It returns ok false if the IO must go straight to the wrapped device
// (invalid, or Faulty closed: the device gives the error).
func (f *Faulty) begin(io IO) (d time.Duration, ok bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, true, fmt.Errorf("disk: faulty: %v: %w", io, ErrClosed)
	}
	if io.Op != OpFlush && checkRange("", "", io.Off, io.Len, f.dev.Size()) != nil {
		return 0, false, nil
	}
	switch io.Op {
	case OpRead:
		f.fs.Reads++
	case OpWrite:
		f.fs.Writes++
	case OpFlush:
		f.fs.Flushes++
	}
	var fired *armedFault
	kept := f.faults[:0]
	for _, a := range f.faults {
		if !a.match(io) {
			kept = append(kept, a)
			continue
		}
		a.matches++
		fires := a.matches == a.f.Nth || a.f.Persistent && a.matches > a.f.Nth
		if fires && fired == nil {
			fired = a
		}
		if !fires || a.f.Persistent {
			kept = append(kept, a)
		}
	}
	clear(f.faults[len(kept):])
	f.faults = kept
	if fired != nil {
		switch io.Op {
		case OpRead:
			f.fs.ReadErrors++
		case OpWrite:
			f.fs.WriteErrors++
		case OpFlush:
			f.fs.FlushErrors++
		}
		return 0, true, &InjectedError{IO: io, Err: fired.f.Err}
	}

	d = f.delay
	if f.hdd != nil {
		if io.Op == OpFlush {
			d += f.hdd.FlushTime
		} else {
			d += f.hdd.cost(io.Off-f.head, io.Len, f.rng)
			f.head = io.Off + int64(io.Len)
		}
	}
	f.clock += d
	switch io.Op {
	case OpRead:
		f.fs.ReadTime += d
		f.stats.Reads++
		f.stats.BytesRead += int64(io.Len)
	case OpWrite:
		f.fs.WriteTime += d
		f.stats.Writes++
		f.stats.BytesWritten += int64(io.Len)
	case OpFlush:
		f.fs.FlushTime += d
		f.stats.Flushes++
	}
	return d, true, nil
}

func (a *armedFault) match(io IO) bool {
	if a.f.Ops&io.Op == 0 {
		return false
	}
	if a.f.End != 0 && (io.Op == OpFlush || !overlaps(io.Off, io.Len, a.f.Off, a.f.End)) {
		return false
	}
	return a.f.Match == nil || a.f.Match(io)
}

// overlaps reports whether [off, off+n) and [lo, hi) share a byte.
func overlaps(off int64, n int, lo, hi int64) bool {
	return off < hi && lo < off+int64(n) && n > 0
}

// do runs an IO with its modeled latency.
func (f *Faulty) do(io IO, issue func() (int, error)) (int, error) {
	if f.sleep != nil && f.hdd != nil {
		f.busy.Lock()
		defer f.busy.Unlock()
	}
	d, ok, err := f.begin(io)
	if err != nil {
		if f.onFault != nil && errors.Is(err, ErrInjected) {
			f.onFault(io, false)
		}
		return 0, err
	}
	if ok && f.sleep != nil && d > 0 {
		f.sleep(d)
	}
	return issue()
}

// ReadAt reads from the wrapped device, unless a fault fires, and applies
// armed flips to the data.
func (f *Faulty) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.do(IO{Op: OpRead, Off: off, Len: len(p)}, func() (int, error) { return f.dev.ReadAt(p, off) })
	if err != nil {
		return n, err
	}
	f.mu.Lock()
	flipped := false
	kept := f.flips[:0]
	for _, a := range f.flips {
		if !overlaps(off, len(p), a.f.Off, a.f.End) {
			kept = append(kept, a)
			continue
		}
		lo, hi := max(off, a.f.Off), min(off+int64(len(p)), a.f.End)
		bit := f.rng.Int64N((hi - lo) * 8)
		p[lo-off+bit/8] ^= 1 << (bit % 8)
		f.fs.Flips++
		flipped = true
		if a.f.Persistent {
			kept = append(kept, a)
		}
	}
	clear(f.flips[len(kept):])
	f.flips = kept
	f.mu.Unlock()
	if flipped && f.onFault != nil {
		f.onFault(IO{Op: OpRead, Off: off, Len: len(p)}, true)
	}
	return n, nil
}

// WriteAt writes to the wrapped device unless a fault fires.
func (f *Faulty) WriteAt(p []byte, off int64) (int, error) {
	return f.do(IO{Op: OpWrite, Off: off, Len: len(p)}, func() (int, error) { return f.dev.WriteAt(p, off) })
}

// WriteAtTagged is WriteAt for a writer that tags its writes: the tag's
// phase goes with the IO to OnFault, and the tag on to the wrapped device
// if it takes one.
func (f *Faulty) WriteAtTagged(p []byte, off int64, tag IOTag) (int, error) {
	return f.do(IO{Op: OpWrite, Off: off, Len: len(p), Phase: tag.Phase}, func() (int, error) {
		if tw, ok := f.dev.(TaggedWriter); ok {
			return tw.WriteAtTagged(p, off, tag)
		}
		return f.dev.WriteAt(p, off)
	})
}

// BufferAlignment is the wrapped device's (BufferAligner), else
// BufferAlign.
func (f *Faulty) BufferAlignment() int {
	if a, ok := f.dev.(BufferAligner); ok {
		return a.BufferAlignment()
	}
	return BufferAlign
}

// Flush flushes the wrapped device unless a fault fires.
func (f *Faulty) Flush() error {
	_, err := f.do(IO{Op: OpFlush}, func() (int, error) { return 0, f.dev.Flush() })
	return err
}

// Close closes the wrapped device. Later IO returns ErrClosed.
func (f *Faulty) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return f.dev.Close()
}
