//go:build !interleave

package conc

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// SpinMax bounds how long Mutex.Lock, RWMutex.Lock and RWMutex.RLock retry
// a held lock before they park the goroutine.
//
// Why spin at all: the engine's locks are held for a microsecond or two at a
// time, mostly by its own goroutines (the IO scheduler publishing a round,
// the write-through cache inserting a page), on a machine with few cores. A
// goroutine that parks on such a lock is readied, when the holder unlocks,
// onto the holder's own processor (P), where it waits until the holder
// blocks or an idle P steals it: tens of microseconds on a 2-vCPU virtual
// machine, for a wait of one. Measured under YCSB-A on one client
// (harness bench --trace): the client was blocked on these locks for 21 ms
// of 3 s, then waited 283 ms more to run again; p99.9 latency ~100 µs.
// sync.Mutex spins too, but for well under a microsecond, and RWMutex's
// readers not at all.
//
// A lock whose holder is not running (GOMAXPROCS=1, as the checkers run)
// cannot be released by spinning, so Lock parks at once there. And only
// one goroutine spins on a lock at a time, the others park: with many
// waiters (16 clients of durable puts on 2 vCPUs), spinners took the CPU
// the holder and the IO scheduler needed.
const SpinMax = 20 * time.Microsecond

// spinTries is how many attempts a spin makes between clock reads.
const spinTries = 64

// Mutex is sync.Mutex, but for a short spin before Lock parks (SpinMax).
// The zero value is unlocked; a Mutex must not be copied after first use.
type Mutex struct {
	m        sync.Mutex
	spinning atomic.Bool
	parked   atomic.Int32 // goroutines parked in Lock
}

// Lock locks m.
func (m *Mutex) Lock() {
	if m.m.TryLock() || spin(&m.spinning, m.m.TryLock) {
		return
	}
	m.parked.Add(1)
	m.m.Lock()
	m.parked.Add(-1)
}

// spin retries try for up to SpinMax and reports whether it succeeded. It
// does not spin where the holder cannot be running (one P), nor while
// another goroutine spins on the same lock (spinning).
func spin(spinning *atomic.Bool, try func() bool) bool {
	if runtime.GOMAXPROCS(0) < 2 || !spinning.CompareAndSwap(false, true) {
		return false
	}
	defer spinning.Store(false)
	start := time.Now()
	for {
		for range spinTries {
			if try() {
				return true
			}
		}
		if time.Since(start) > SpinMax {
			return false
		}
	}
}

// TryLock locks m if it is free, and reports whether it did.
func (m *Mutex) TryLock() bool { return m.m.TryLock() }

// Unlock unlocks m, and yields the processor if a goroutine is parked on
// m (yieldToParked).
func (m *Mutex) Unlock() {
	m.m.Unlock()
	if m.parked.Load() > 0 {
		yieldToParked()
	}
}

// yieldToParked gives the processor to the goroutine an unlock woke. The
// runtime readies it on the unlocker's own P, where it waits until the
// unlocker blocks or is preempted: a client goroutine that never blocks (a
// closed-loop bench of cached gets and puts) kept it waiting for up to its
// 10 ms time slice, with every other waiter queued behind it. Under
// YCSB-A at a million records a put's wait for the data stream's lock had
// a median of 2.8 ms and a p99 of 50 ms that way (docs/PERFORMANCE.md,
// "Yielding to a parked waiter").
func yieldToParked() { runtime.Gosched() }

// RWMutex is sync.RWMutex, but for a short spin before Lock and RLock park
// (SpinMax). The zero value is unlocked; an RWMutex must not be copied
// after first use.
type RWMutex struct {
	m        sync.RWMutex
	spinning atomic.Bool
	parked   atomic.Int32 // goroutines parked in Lock or RLock
}

// Lock locks m for writing.
func (m *RWMutex) Lock() {
	if m.m.TryLock() || spin(&m.spinning, m.m.TryLock) {
		return
	}
	m.parked.Add(1)
	m.m.Lock()
	m.parked.Add(-1)
}

// RLock locks m for reading.
func (m *RWMutex) RLock() {
	if m.m.TryRLock() || spin(&m.spinning, m.m.TryRLock) {
		return
	}
	m.parked.Add(1)
	m.m.RLock()
	m.parked.Add(-1)
}

// TryLock locks m for writing if it is free, and reports whether it did.
func (m *RWMutex) TryLock() bool { return m.m.TryLock() }

// TryRLock locks m for reading if no writer holds or waits for it, and
// reports whether it did.
func (m *RWMutex) TryRLock() bool { return m.m.TryRLock() }

// Unlock unlocks m for writing, and yields the processor if a goroutine is
// parked on m (yieldToParked).
func (m *RWMutex) Unlock() {
	m.m.Unlock()
	if m.parked.Load() > 0 {
		yieldToParked()
	}
}

// RUnlock undoes one RLock, and yields the processor if a goroutine is
// parked on m (yieldToParked).
func (m *RWMutex) RUnlock() {
	m.m.RUnlock()
	if m.parked.Load() > 0 {
		yieldToParked()
	}
}

// RLocker returns a Locker whose Lock and Unlock are m's RLock and RUnlock.
func (m *RWMutex) RLocker() Locker { return rlocker{m} }

type rlocker struct{ m *RWMutex }

func (r rlocker) Lock()   { r.m.RLock() }
func (r rlocker) Unlock() { r.m.RUnlock() }
