//go:build interleave

package conc

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// The interleave build's primitives. Each checks for a controlled
// execution (Run): inside one, it is a scheduling point and its blocking
// is the scheduler's (the task is marked blocked on the primitive's state
// and another runs); outside, it is package sync's. An object must stay on
// one side: one locked inside an execution and unlocked outside it is
// undefined, as is one shared between an execution and other goroutines.

// Locker is sync.Locker.
type Locker = sync.Locker

// Pool is sync.Pool: which buffer a Get returns changes no schedule.
type Pool = sync.Pool

// SpinMax is the default build's spin bound (spin.go); the interleave
// build does not spin.
const SpinMax = 20 * Microsecond

// Mutex is a mutual exclusion lock. The zero value is unlocked.
type Mutex struct {
	m      sync.Mutex
	locked bool
}

// Lock locks m.
func (m *Mutex) Lock() {
	s := cur()
	if s == nil {
		m.m.Lock()
		return
	}
	s.point()
	for m.locked {
		s.block(m, "Mutex.Lock", nil)
	}
	m.locked = true
}

// TryLock locks m if it is free, and reports whether it did.
func (m *Mutex) TryLock() bool {
	s := cur()
	if s == nil {
		return m.m.TryLock()
	}
	s.point()
	if m.locked {
		return false
	}
	m.locked = true
	return true
}

// Unlock unlocks m.
func (m *Mutex) Unlock() {
	s := cur()
	if s == nil {
		m.m.Unlock()
		return
	}
	if !m.locked {
		panic("conc: unlock of unlocked Mutex")
	}
	m.locked = false
	s.wakeAll(m)
	s.point()
}

// RWMutex is a reader/writer lock. A writer waiting blocks new readers,
// as in package sync. The zero value is unlocked.
type RWMutex struct {
	m       sync.RWMutex
	writer  bool
	readers int
	waiting int // writers waiting
}

// Lock locks m for writing.
func (m *RWMutex) Lock() {
	s := cur()
	if s == nil {
		m.m.Lock()
		return
	}
	s.point()
	if m.writer || m.readers > 0 {
		m.waiting++
		for m.writer || m.readers > 0 {
			s.block(m, "RWMutex.Lock", nil)
		}
		m.waiting--
	}
	m.writer = true
}

// RLock locks m for reading.
func (m *RWMutex) RLock() {
	s := cur()
	if s == nil {
		m.m.RLock()
		return
	}
	s.point()
	for m.writer || m.waiting > 0 {
		s.block(m, "RWMutex.RLock", nil)
	}
	m.readers++
}

// TryLock locks m for writing if it is free, and reports whether it did.
func (m *RWMutex) TryLock() bool {
	s := cur()
	if s == nil {
		return m.m.TryLock()
	}
	s.point()
	if m.writer || m.readers > 0 {
		return false
	}
	m.writer = true
	return true
}

// TryRLock locks m for reading if no writer holds or waits for it, and
// reports whether it did.
func (m *RWMutex) TryRLock() bool {
	s := cur()
	if s == nil {
		return m.m.TryRLock()
	}
	s.point()
	if m.writer || m.waiting > 0 {
		return false
	}
	m.readers++
	return true
}

// Unlock unlocks m for writing.
func (m *RWMutex) Unlock() {
	s := cur()
	if s == nil {
		m.m.Unlock()
		return
	}
	if !m.writer {
		panic("conc: unlock of unlocked RWMutex")
	}
	m.writer = false
	s.wakeAll(m)
	s.point()
}

// RUnlock undoes one RLock.
func (m *RWMutex) RUnlock() {
	s := cur()
	if s == nil {
		m.m.RUnlock()
		return
	}
	if m.readers == 0 {
		panic("conc: RUnlock of unlocked RWMutex")
	}
	m.readers--
	if m.readers == 0 {
		s.wakeAll(m)
	}
	s.point()
}

// RLocker returns a Locker whose Lock and Unlock are m's RLock and RUnlock.
func (m *RWMutex) RLocker() Locker { return rlocker{m} }

type rlocker struct{ m *RWMutex }

func (r rlocker) Lock()   { r.m.RLock() }
func (r rlocker) Unlock() { r.m.RUnlock() }

// Cond is a condition variable; make one with NewCond.
type Cond struct {
	// L is held while observing or changing the condition.
	L Locker
	c *sync.Cond
}

// NewCond returns a condition variable whose Wait releases and reacquires l.
func NewCond(l Locker) *Cond { return &Cond{L: l, c: sync.NewCond(l)} }

// Wait unlocks c.L, waits for a Signal or Broadcast, and locks c.L again.
func (c *Cond) Wait() {
	s := cur()
	if s == nil {
		c.c.Wait()
		return
	}
	// Registered as a waiter before unlocking, as sync.Cond: a Signal
	// after the unlock wakes it.
	if s.finishing {
		s.block(c, "Cond.Wait", nil) // unwinds
	}
	t := s.cur
	s.blockSeq++
	t.state, t.on, t.seq, t.op, t.ctx = blocked, c, s.blockSeq, "Cond.Wait", nil
	t.npc = runtime.Callers(2, t.pcs[:])
	c.L.Unlock()
	for t.state == blocked {
		s.block(c, "Cond.Wait", nil)
	}
	c.L.Lock()
}

// Signal wakes the task waiting longest on c, if any.
func (c *Cond) Signal() {
	s := cur()
	if s == nil {
		c.c.Signal()
		return
	}
	s.wakeOne(c)
	s.point()
}

// Broadcast wakes every task waiting on c.
func (c *Cond) Broadcast() {
	s := cur()
	if s == nil {
		c.c.Broadcast()
		return
	}
	s.wakeAll(c)
	s.point()
}

// WaitGroup waits for a collection of tasks to finish.
type WaitGroup struct {
	wg sync.WaitGroup
	n  int
}

// Add adds delta to the counter.
func (w *WaitGroup) Add(delta int) {
	s := cur()
	if s == nil {
		w.wg.Add(delta)
		return
	}
	w.n += delta
	if w.n < 0 {
		panic("conc: negative WaitGroup counter")
	}
	if w.n == 0 {
		s.wakeAll(w)
	}
	s.point()
}

// Done decrements the counter.
func (w *WaitGroup) Done() { w.Add(-1) }

// Wait blocks until the counter is zero.
func (w *WaitGroup) Wait() {
	s := cur()
	if s == nil {
		w.wg.Wait()
		return
	}
	s.point()
	for w.n > 0 {
		s.block(w, "WaitGroup.Wait", nil)
	}
}

// Go runs f in a new task and adds it to the group.
func (w *WaitGroup) Go(f func()) {
	w.Add(1)
	Go("WaitGroup.Go", func() { defer w.Done(); f() })
}

// Once runs a function once.
type Once struct {
	o       sync.Once
	done    bool
	running bool
}

// Do calls f unless Do has been called before; a concurrent caller waits
// for the first one's f to return.
func (o *Once) Do(f func()) {
	s := cur()
	if s == nil {
		o.o.Do(f)
		return
	}
	s.point()
	for o.running {
		s.block(o, "Once.Do", nil)
	}
	if o.done {
		return
	}
	o.running = true
	defer func() {
		o.running, o.done = false, true
		s.wakeAll(o)
	}()
	f()
}

// point is the scheduling point of an atomic access.
func point() {
	if s := cur(); s != nil {
		s.point()
	}
}

// Int32 is an atomic int32; every access is a scheduling point.
type Int32 struct{ v atomic.Int32 }

func (x *Int32) Load() int32        { point(); return x.v.Load() }
func (x *Int32) Store(v int32)      { point(); x.v.Store(v) }
func (x *Int32) Add(d int32) int32  { point(); return x.v.Add(d) }
func (x *Int32) Swap(v int32) int32 { point(); return x.v.Swap(v) }
func (x *Int32) CompareAndSwap(old, new int32) bool {
	point()
	return x.v.CompareAndSwap(old, new)
}

// Int64 is an atomic int64; every access is a scheduling point.
type Int64 struct{ v atomic.Int64 }

func (x *Int64) Load() int64        { point(); return x.v.Load() }
func (x *Int64) Store(v int64)      { point(); x.v.Store(v) }
func (x *Int64) Add(d int64) int64  { point(); return x.v.Add(d) }
func (x *Int64) Swap(v int64) int64 { point(); return x.v.Swap(v) }
func (x *Int64) CompareAndSwap(old, new int64) bool {
	point()
	return x.v.CompareAndSwap(old, new)
}

// Uint32 is an atomic uint32; every access is a scheduling point.
type Uint32 struct{ v atomic.Uint32 }

func (x *Uint32) Load() uint32         { point(); return x.v.Load() }
func (x *Uint32) Store(v uint32)       { point(); x.v.Store(v) }
func (x *Uint32) Add(d uint32) uint32  { point(); return x.v.Add(d) }
func (x *Uint32) Swap(v uint32) uint32 { point(); return x.v.Swap(v) }
func (x *Uint32) CompareAndSwap(old, new uint32) bool {
	point()
	return x.v.CompareAndSwap(old, new)
}

// Uint64 is an atomic uint64; every access is a scheduling point.
type Uint64 struct{ v atomic.Uint64 }

func (x *Uint64) Load() uint64         { point(); return x.v.Load() }
func (x *Uint64) Store(v uint64)       { point(); x.v.Store(v) }
func (x *Uint64) Add(d uint64) uint64  { point(); return x.v.Add(d) }
func (x *Uint64) Swap(v uint64) uint64 { point(); return x.v.Swap(v) }
func (x *Uint64) CompareAndSwap(old, new uint64) bool {
	point()
	return x.v.CompareAndSwap(old, new)
}

// Bool is an atomic bool; every access is a scheduling point.
type Bool struct{ v atomic.Bool }

func (x *Bool) Load() bool       { point(); return x.v.Load() }
func (x *Bool) Store(v bool)     { point(); x.v.Store(v) }
func (x *Bool) Swap(v bool) bool { point(); return x.v.Swap(v) }
func (x *Bool) CompareAndSwap(old, new bool) bool {
	point()
	return x.v.CompareAndSwap(old, new)
}

// Pointer is an atomic pointer to a T; every access is a scheduling point.
type Pointer[T any] struct{ v atomic.Pointer[T] }

func (x *Pointer[T]) Load() *T     { point(); return x.v.Load() }
func (x *Pointer[T]) Store(v *T)   { point(); x.v.Store(v) }
func (x *Pointer[T]) Swap(v *T) *T { point(); return x.v.Swap(v) }
func (x *Pointer[T]) CompareAndSwap(old, new *T) bool {
	point()
	return x.v.CompareAndSwap(old, new)
}

// Chan is a FIFO channel of T with a fixed capacity (0 is unbuffered). The
// zero value is not usable; call NewChan. A Chan made inside a controlled
// execution is the scheduler's; one made outside is a Go channel.
type Chan[T any] struct {
	c *chanState[T]
}

type chanState[T any] struct {
	plain  chan T // outside a controlled execution
	cap    int
	buf    []T
	sent   uint64 // values sent, ever
	recvd  uint64 // values received, ever
	closed bool
	recvW  int // tasks blocked in Recv
}

// NewChan returns a channel that holds up to capacity values.
func NewChan[T any](capacity int) Chan[T] {
	if cur() == nil {
		return Chan[T]{c: &chanState[T]{plain: make(chan T, capacity), cap: capacity}}
	}
	return Chan[T]{c: &chanState[T]{cap: capacity}}
}

// sched returns the scheduler for an operation on a scheduler's Chan, or
// nil for a Go channel; a scheduler's Chan outside its execution panics.
func (c Chan[T]) sched() *sched {
	if c.c.plain != nil {
		return nil
	}
	s := cur()
	if s == nil {
		panic("conc: a Chan made inside a controlled execution used outside it")
	}
	return s
}

// Send blocks until v is queued (an unbuffered Chan: received). Sending on
// a closed Chan panics.
func (c Chan[T]) Send(v T) {
	s := c.sched()
	if s == nil {
		c.c.plain <- v
		return
	}
	s.point()
	st := c.c
	if st.closed {
		panic("conc: send on closed Chan")
	}
	seq := st.sent
	st.sent++
	st.buf = append(st.buf, v)
	s.wakeAll(st)
	for seq >= st.recvd+uint64(st.cap) && !st.closed {
		s.block(st, "Chan.Send", nil)
	}
}

// TrySend queues v if there is room (an unbuffered Chan: a receiver
// waiting) and reports whether it did.
func (c Chan[T]) TrySend(v T) bool {
	s := c.sched()
	if s == nil {
		select {
		case c.c.plain <- v:
			return true
		default:
			return false
		}
	}
	s.point()
	st := c.c
	if st.closed {
		panic("conc: send on closed Chan")
	}
	if len(st.buf) < st.cap || (st.cap == 0 && len(st.buf) < st.recvW) {
		st.sent++
		st.buf = append(st.buf, v)
		s.wakeAll(st)
		return true
	}
	return false
}

// Recv blocks until a value arrives or the Chan is closed and drained; ok is
// false in the latter case.
func (c Chan[T]) Recv() (v T, ok bool) {
	v, ok, _ = c.recv(nil)
	return v, ok
}

// RecvContext is Recv that gives up when ctx is done, returning ctx.Err().
// A closed, drained Chan returns (zero, false, nil).
func (c Chan[T]) RecvContext(ctx context.Context) (v T, ok bool, err error) {
	return c.recv(ctx)
}

func (c Chan[T]) recv(ctx context.Context) (v T, ok bool, err error) {
	s := c.sched()
	if s == nil {
		if ctx == nil {
			v, ok = <-c.c.plain
			return v, ok, nil
		}
		select {
		case v, ok = <-c.c.plain:
			return v, ok, nil
		case <-ctx.Done():
			return v, false, ctx.Err()
		}
	}
	s.point()
	st := c.c
	for len(st.buf) == 0 && !st.closed {
		if ctx != nil && ctx.Err() != nil {
			return v, false, ctx.Err()
		}
		st.recvW++
		s.block(st, "Chan.Recv", ctx)
		st.recvW--
	}
	if len(st.buf) == 0 {
		return v, false, nil
	}
	return c.pop(s), true, nil
}

func (c Chan[T]) pop(s *sched) T {
	st := c.c
	v := st.buf[0]
	var zero T
	st.buf[0] = zero
	st.buf = st.buf[1:]
	st.recvd++
	s.wakeAll(st)
	return v
}

// TryRecv returns a queued value without blocking. ok is false if none was
// queued; closed reports a closed, drained Chan.
func (c Chan[T]) TryRecv() (v T, ok, closed bool) {
	s := c.sched()
	if s == nil {
		select {
		case v, ok = <-c.c.plain:
			return v, ok, !ok
		default:
			return v, false, false
		}
	}
	s.point()
	st := c.c
	if len(st.buf) > 0 {
		return c.pop(s), true, false
	}
	return v, false, st.closed
}

// Close closes the channel: queued values can still be received.
func (c Chan[T]) Close() {
	s := c.sched()
	if s == nil {
		close(c.c.plain)
		return
	}
	if c.c.closed {
		panic("conc: close of closed Chan")
	}
	c.c.closed = true
	s.wakeAll(c.c)
	s.point()
}

// Len is the number of queued values.
func (c Chan[T]) Len() int {
	if c.c.plain != nil {
		return len(c.c.plain)
	}
	return min(len(c.c.buf), c.c.cap)
}

// Cap is the capacity given to NewChan.
func (c Chan[T]) Cap() int { return c.c.cap }
