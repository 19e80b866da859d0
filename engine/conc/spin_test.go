//go:build !interleave

package conc_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
)

// TestMutexExcludes: goroutines incrementing a plain counter under the
// spinning Mutex lose no increment, with the lock both briefly held
// (taken by the spin) and held past SpinMax (taken after parking), on two
// Ps and on one (where Lock parks at once).
func TestMutexExcludes(t *testing.T) {
	for _, procs := range []int{2, 1} {
		prev := runtime.GOMAXPROCS(procs)
		var mu conc.Mutex
		var wg conc.WaitGroup
		n := 0
		const workers, each = 4, 2000
		for w := range workers {
			wg.Add(1)
			conc.Go("worker", func() {
				defer wg.Done()
				for i := range each {
					mu.Lock()
					n++
					if w == 0 && i%500 == 0 {
						time.Sleep(2 * conc.SpinMax) // others spin out and park
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		runtime.GOMAXPROCS(prev)
		if n != workers*each {
			t.Fatalf("GOMAXPROCS=%d: counter %d, want %d", procs, n, workers*each)
		}
	}
	var mu conc.Mutex
	if !mu.TryLock() || mu.TryLock() {
		t.Fatal("TryLock: want true on a free Mutex, false on a held one")
	}
	mu.Unlock()
}

// TestRWMutex: readers share the lock, a writer excludes them, and writers
// and readers under contention see consistent state.
func TestRWMutex(t *testing.T) {
	var mu conc.RWMutex
	mu.RLock()
	if !mu.TryRLock() {
		t.Fatal("a second reader was refused")
	}
	if mu.TryLock() {
		t.Fatal("a writer got a lock readers hold")
	}
	mu.RUnlock()
	mu.RUnlock()
	mu.Lock()
	if mu.TryRLock() {
		t.Fatal("a reader got a lock a writer holds")
	}
	mu.Unlock()

	// The writers keep a == b; a reader never sees them differ.
	var a, b int
	var wg conc.WaitGroup
	bad := conc.Int64{}
	for w := range 4 {
		wg.Add(1)
		conc.Go("rw", func() {
			defer wg.Done()
			for i := range 3000 {
				if w%2 == 0 {
					mu.Lock()
					a++
					if i%1000 == 0 {
						time.Sleep(2 * conc.SpinMax)
					}
					b++
					mu.Unlock()
					continue
				}
				rl := mu.RLocker()
				rl.Lock()
				if a != b {
					bad.Add(1)
				}
				rl.Unlock()
			}
		})
	}
	wg.Wait()
	if bad.Load() != 0 || a != 6000 || b != 6000 {
		t.Fatalf("readers saw a != b %d times; a=%d b=%d, want 6000", bad.Load(), a, b)
	}
}
