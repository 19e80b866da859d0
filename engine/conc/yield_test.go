//go:build !interleave

package conc

import (
	"runtime"
	"testing"
)

// TestUnlockYieldsToParked: an unlock that leaves a goroutine parked on the
// lock hands it the processor, so the woken waiter takes the lock before
// the unlocker, which never blocks, can take it again. On one P (no
// spinning), for Mutex, and for RWMutex's writer with a parked writer and
// with a parked reader. The runtime takes the global run queue (where a
// yielding goroutine goes) first on one schedule in 61, so the waiter must
// win at least 90% of 200 rounds; without the yield it wins none (the
// unlocker runs on until it blocks).
func TestUnlockYieldsToParked(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var mu Mutex
	var rw1, rw2 RWMutex
	for _, tc := range []struct {
		name          string
		lock, unlock  func()
		wait, release func()
		parked        func() int32
	}{
		{"Mutex", mu.Lock, mu.Unlock, mu.Lock, mu.Unlock, mu.parked.Load},
		{"RWMutex writer", rw1.Lock, rw1.Unlock, rw1.Lock, rw1.Unlock, rw1.parked.Load},
		{"RWMutex reader", rw2.Lock, rw2.Unlock, rw2.RLock, rw2.RUnlock, rw2.parked.Load},
	} {
		const rounds = 200
		won := 0
		for range rounds {
			tc.lock()
			took, done := make(chan struct{}), make(chan struct{})
			go func() {
				tc.wait()
				close(took)
				tc.release()
				close(done)
			}()
			for tc.parked() == 0 {
				runtime.Gosched() // let the waiter run until it parks
			}
			tc.unlock()
			select {
			case <-took:
				won++
			default:
			}
			<-done
		}
		if won < rounds*9/10 {
			t.Fatalf("%s: the parked waiter took the lock before the unlocker went on in %d of %d rounds", tc.name, won, rounds)
		}
	}
}
