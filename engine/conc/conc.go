//go:build !interleave

package conc

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// Locks and waiting. In the default build these are the sync types, but
// for Mutex and RWMutex, which spin briefly before they park (spin.go).
type (
	Locker    = sync.Locker
	Cond      = sync.Cond
	WaitGroup = sync.WaitGroup
	Once      = sync.Once
	Pool      = sync.Pool
)

// NewCond returns a condition variable whose Wait releases and reacquires l.
func NewCond(l Locker) *Cond { return sync.NewCond(l) }

// Atomics. In the default build these are the sync/atomic types.
type (
	Int32  = atomic.Int32
	Int64  = atomic.Int64
	Uint32 = atomic.Uint32
	Uint64 = atomic.Uint64
	Bool   = atomic.Bool
)

// Pointer is an atomic pointer to a T.
type Pointer[T any] = atomic.Pointer[T]

// Go runs fn in a new goroutine. name labels the task in schedules and traces
// of the interleave build; it is ignored otherwise.
func Go(name string, fn func()) {
	_ = name
	go fn()
}

// Yield lets other runnable goroutines run before the caller goes on
// (runtime.Gosched): a goroutine about to block in a system call yields so
// that the goroutines it just woke run first.
func Yield() { runtime.Gosched() }

// AfterFunc arranges for f to run in its own task after ctx is done, and
// returns a function that cancels that (see context.AfterFunc). It is how a
// waiter on a Cond observes cancellation without a select.
func AfterFunc(ctx context.Context, f func()) (stop func() bool) {
	return context.AfterFunc(ctx, f)
}

// Chan is a FIFO channel of T with a fixed capacity (0 is unbuffered). The
// zero value is not usable; call NewChan.
type Chan[T any] struct{ c chan T }

// NewChan returns a channel that holds up to capacity values.
func NewChan[T any](capacity int) Chan[T] { return Chan[T]{c: make(chan T, capacity)} }

// Send blocks until v is queued. Sending on a closed Chan panics.
func (c Chan[T]) Send(v T) { c.c <- v }

// TrySend queues v if there is room and reports whether it did.
func (c Chan[T]) TrySend(v T) bool {
	select {
	case c.c <- v:
		return true
	default:
		return false
	}
}

// Recv blocks until a value arrives or the Chan is closed and drained; ok is
// false in the latter case.
func (c Chan[T]) Recv() (v T, ok bool) {
	v, ok = <-c.c
	return v, ok
}

// RecvContext is Recv that gives up when ctx is done, returning ctx.Err().
// A closed, drained Chan returns (zero, false, nil).
func (c Chan[T]) RecvContext(ctx context.Context) (v T, ok bool, err error) {
	select {
	case v, ok = <-c.c:
		return v, ok, nil
	case <-ctx.Done():
		return v, false, ctx.Err()
	}
}

// TryRecv returns a queued value without blocking. ok is false if none was
// queued; closed reports a closed, drained Chan.
func (c Chan[T]) TryRecv() (v T, ok, closed bool) {
	select {
	case v, ok = <-c.c:
		return v, ok, !ok
	default:
		return v, false, false
	}
}

// Close closes the channel: queued values can still be received.
func (c Chan[T]) Close() { close(c.c) }

// Len is the number of queued values.
func (c Chan[T]) Len() int { return len(c.c) }

// Cap is the capacity given to NewChan.
func (c Chan[T]) Cap() int { return cap(c.c) }
