//go:build interleave

package conc_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
)

// random picks uniformly with a seeded generator (checkers/interleave has
// the real strategies; the scheduler's tests need only this and replay).
type random struct{ r *rand.Rand }

func newRandom(seed uint64) *random { return &random{rand.New(rand.NewPCG(seed, 0))} }

func (r *random) Next(p conc.Point) (int, error) { return p.Runnable[r.r.IntN(len(p.Runnable))], nil }

// replay plays recorded choices back.
type replay struct{ choices []int }

func (r *replay) Next(p conc.Point) (int, error) {
	if p.Choice >= len(r.choices) {
		return 0, fmt.Errorf("schedule ended at choice %d", p.Choice)
	}
	c := r.choices[p.Choice]
	if !slices.Contains(p.Runnable, c) {
		return 0, fmt.Errorf("schedule diverged at choice %d: task %d not runnable", p.Choice, c)
	}
	return c, nil
}

// lostUpdate is a read-modify-write race over an atomic: two tasks load,
// yield, store load+1. Some schedules lose an update.
func lostUpdate() (got *int64) {
	var n conc.Int64
	var wg conc.WaitGroup
	for range 2 {
		wg.Add(1)
		conc.Go("incr", func() {
			defer wg.Done()
			v := n.Load()
			conc.Yield()
			n.Store(v + 1)
		})
	}
	wg.Wait()
	r := n.Load()
	return &r
}

func TestSameSeedSameSchedule(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		var a, b int64
		o1 := conc.Run(newRandom(seed), 1000, func() { a = *lostUpdate() })
		o2 := conc.Run(newRandom(seed), 1000, func() { b = *lostUpdate() })
		if o1.Failed() || o2.Failed() {
			t.Fatalf("seed %d: %s %s", seed, o1.Problem(), o2.Problem())
		}
		if !slices.Equal(o1.Choices, o2.Choices) || a != b || o1.Steps != o2.Steps {
			t.Fatalf("seed %d: two runs differ: %v (%d) vs %v (%d)", seed, o1.Choices, a, o2.Choices, b)
		}
		o3 := conc.Run(&replay{o1.Choices}, 1000, func() { b = *lostUpdate() })
		if o3.Failed() || !slices.Equal(o1.Choices, o3.Choices) || a != b {
			t.Fatalf("seed %d: replay of %v gave %v (%d, want %d): %s", seed, o1.Choices, o3.Choices, b, a, o3.Problem())
		}
	}
}

func TestRandomFindsLostUpdate(t *testing.T) {
	seen := map[int64]bool{}
	for seed := uint64(1); seed <= 50; seed++ {
		var got int64
		o := conc.Run(newRandom(seed), 1000, func() { got = *lostUpdate() })
		if o.Failed() {
			t.Fatalf("seed %d: %s", seed, o.Problem())
		}
		seen[got] = true
	}
	if !seen[1] || !seen[2] {
		t.Fatalf("50 random schedules gave results %v: want both the lost update (1) and the serial result (2)", seen)
	}
}

func TestReplayDivergence(t *testing.T) {
	o := conc.Run(&replay{[]int{0, 0, 7}}, 1000, func() { lostUpdate() })
	if o.Err == nil || !strings.Contains(o.Err.Error(), "task 7 not runnable") {
		t.Fatalf("replay of an impossible choice: got %v, want a divergence naming task 7", o.Err)
	}
}

// TestDeadlock is a lock-order inversion: some schedules deadlock, and the
// report names both tasks and where each waits.
func TestDeadlock(t *testing.T) {
	var found conc.Outcome
	for seed := uint64(1); seed <= 100 && found.Deadlock == nil; seed++ {
		found = conc.Run(newRandom(seed), 1000, func() {
			var a, b conc.Mutex
			var wg conc.WaitGroup
			wg.Add(2)
			conc.Go("ab", func() { defer wg.Done(); a.Lock(); b.Lock(); b.Unlock(); a.Unlock() })
			conc.Go("ba", func() { defer wg.Done(); b.Lock(); a.Lock(); a.Unlock(); b.Unlock() })
			wg.Wait()
		})
	}
	if found.Deadlock == nil {
		t.Fatal("100 random schedules of a lock-order inversion found no deadlock")
	}
	p := found.Problem()
	for _, want := range []string{"deadlock", "ab in Mutex.Lock at conc/sched_test.go:", "ba in Mutex.Lock", "main in WaitGroup.Wait"} {
		if !strings.Contains(p, want) {
			t.Errorf("deadlock report lacks %q:\n%s", want, p)
		}
	}
	// Replaying the choices deadlocks again, at the same step.
	again := conc.Run(&replay{found.Choices}, 1000, func() {
		var a, b conc.Mutex
		var wg conc.WaitGroup
		wg.Add(2)
		conc.Go("ab", func() { defer wg.Done(); a.Lock(); b.Lock(); b.Unlock(); a.Unlock() })
		conc.Go("ba", func() { defer wg.Done(); b.Lock(); a.Lock(); a.Unlock(); b.Unlock() })
		wg.Wait()
	})
	if again.Deadlock == nil || again.Steps != found.Steps {
		t.Fatalf("replay: %s (steps %d, want a deadlock at %d)", again.Problem(), again.Steps, found.Steps)
	}
}

func TestStepBound(t *testing.T) {
	o := conc.Run(newRandom(1), 100, func() {
		var stop conc.Bool
		conc.Go("spinner", func() {
			for !stop.Load() {
				conc.Yield()
			}
		})
		for {
			conc.Yield() // never stops the spinner: a livelock
		}
	})
	if !o.StepLimit || o.Steps != 101 {
		t.Fatalf("a livelock: StepLimit %v after %d steps, want the bound of 100 to end it", o.StepLimit, o.Steps)
	}
}

func TestPanicReported(t *testing.T) {
	o := conc.Run(newRandom(1), 1000, func() {
		var wg conc.WaitGroup
		wg.Add(1)
		conc.Go("bad", func() { defer wg.Done(); panic("boom") })
		wg.Wait()
	})
	if o.Panic != "boom" || !strings.Contains(o.PanicTask, "bad") {
		t.Fatalf("panic: got %v in %q", o.Panic, o.PanicTask)
	}
}

// TestVirtualClock: timers fire only when every task is blocked, in
// deadline order, and the clock jumps to each deadline.
func TestVirtualClock(t *testing.T) {
	var order []string
	var at []conc.Duration
	o := conc.Run(newRandom(3), 1000, func() {
		clk := conc.DefaultClock()
		start := clk.Now()
		var wg conc.WaitGroup
		wg.Add(2)
		clk.AfterFunc(30*conc.Millisecond, func() { order = append(order, "timer30"); at = append(at, clk.Since(start)); wg.Done() })
		conc.Go("sleeper", func() {
			clk.Sleep(10 * conc.Millisecond)
			order = append(order, "slept10")
			at = append(at, clk.Since(start))
			wg.Done()
		})
		stopped := clk.AfterFunc(20*conc.Millisecond, func() { order = append(order, "stopped") })
		if !stopped.Stop() {
			t.Error("Stop of a pending timer reported it was not pending")
		}
		wg.Wait()
		v, _ := clk.After(5 * conc.Millisecond).Recv()
		at = append(at, v.Sub(start))
	})
	if o.Failed() {
		t.Fatal(o.Problem())
	}
	if !slices.Equal(order, []string{"slept10", "timer30"}) ||
		!slices.Equal(at, []conc.Duration{10 * conc.Millisecond, 30 * conc.Millisecond, 35 * conc.Millisecond}) {
		t.Fatalf("timers fired %v at %v", order, at)
	}
	if o.Elapsed != 35*conc.Millisecond {
		t.Fatalf("virtual time elapsed %v, want 35ms", o.Elapsed)
	}
}

func TestTicker(t *testing.T) {
	o := conc.Run(newRandom(1), 1000, func() {
		tk := conc.DefaultClock().NewTicker(conc.Second)
		for range 3 {
			tk.C.Recv()
		}
		tk.Stop()
	})
	if o.Failed() || o.Elapsed != 3*conc.Second {
		t.Fatalf("three ticks of 1s: %s, elapsed %v", o.Problem(), o.Elapsed)
	}
}

func TestCondChanOnceRWMutex(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		var got []int
		o := conc.Run(newRandom(seed), 10000, func() {
			var mu conc.Mutex
			cond := conc.NewCond(&mu)
			ready := false
			ch := conc.NewChan[int](0)
			var once conc.Once
			inits := 0
			var rw conc.RWMutex
			shared := 0
			var wg conc.WaitGroup
			for i := range 3 {
				wg.Go(func() {
					once.Do(func() { inits++ })
					mu.Lock()
					for !ready {
						cond.Wait()
					}
					mu.Unlock()
					rw.Lock()
					shared++
					rw.Unlock()
					ch.Send(i)
				})
			}
			mu.Lock()
			ready = true
			cond.Broadcast()
			mu.Unlock()
			for range 3 {
				v, _ := ch.Recv()
				got = append(got, v)
			}
			wg.Wait()
			rw.RLock()
			if shared != 3 || inits != 1 {
				panic(fmt.Sprintf("shared %d inits %d", shared, inits))
			}
			rw.RUnlock()
			ch.Close()
			if _, ok := ch.Recv(); ok {
				panic("Recv on a closed, drained Chan returned ok")
			}
		})
		if o.Failed() {
			t.Fatalf("seed %d: %s", seed, o.Problem())
		}
		slices.Sort(got)
		if !slices.Equal(got, []int{0, 1, 2}) {
			t.Fatalf("seed %d: received %v", seed, got)
		}
	}
}

// TestContextAfterFunc: a context cancelled inside the execution runs its
// AfterFunc as a task; RecvContext gives up.
func TestContextAfterFunc(t *testing.T) {
	o := conc.Run(newRandom(1), 1000, func() {
		ctx, cancel := context.WithCancel(context.Background())
		ran := conc.NewChan[bool](1)
		conc.AfterFunc(ctx, func() { ran.Send(true) })
		ch := conc.NewChan[int](0)
		errs := conc.NewChan[error](1)
		conc.Go("waiter", func() { _, _, err := ch.RecvContext(ctx); errs.Send(err) })
		conc.Yield()
		cancel()
		if v, _ := ran.Recv(); !v {
			panic("AfterFunc did not run")
		}
		if err, _ := errs.Recv(); err != context.Canceled {
			panic(fmt.Sprintf("RecvContext returned %v", err))
		}
	})
	if o.Failed() {
		t.Fatal(o.Problem())
	}
}

// TestLeaked: a task still blocked after main returns is reported, and
// unwound (its deferred calls run).
func TestLeaked(t *testing.T) {
	unwound := false
	o := conc.Run(newRandom(1), 1000, func() {
		var mu conc.Mutex
		cond := conc.NewCond(&mu)
		conc.Go("forever", func() {
			defer func() { unwound = true }()
			mu.Lock()
			defer mu.Unlock()
			for {
				cond.Wait()
			}
		})
		conc.Yield()
	})
	if o.Failed() || len(o.Leaked) != 1 || o.Leaked[0].Name != "forever" || !unwound {
		t.Fatalf("leaked %v, unwound %v: %s", o.Leaked, unwound, o.Problem())
	}
}

// TestOutsideExecution: without a scheduler the primitives are sync's,
// and goroutines really run in parallel.
func TestOutsideExecution(t *testing.T) {
	if conc.Active() {
		t.Fatal("Active outside Run")
	}
	var mu conc.Mutex
	var wg conc.WaitGroup
	n := 0
	for range 4 {
		wg.Add(1)
		conc.Go("w", func() { defer wg.Done(); mu.Lock(); n++; mu.Unlock() })
	}
	wg.Wait()
	if n != 4 {
		t.Fatal(n)
	}
}
