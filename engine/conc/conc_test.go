package conc_test

import (
	"context"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
)

func TestGoMutexCondWaitGroup(t *testing.T) {
	var mu conc.Mutex
	cond := conc.NewCond(&mu)
	var wg conc.WaitGroup
	n := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		conc.Go("worker", func() {
			defer wg.Done()
			mu.Lock()
			n++
			cond.Broadcast()
			mu.Unlock()
		})
	}
	mu.Lock()
	for n < 8 {
		cond.Wait()
	}
	mu.Unlock()
	wg.Wait()
	if n != 8 {
		t.Fatalf("n = %d, want 8", n)
	}
}

func TestChan(t *testing.T) {
	c := conc.NewChan[int](2)
	if !c.TrySend(1) || !c.TrySend(2) || c.TrySend(3) {
		t.Fatal("TrySend on a Chan of capacity 2: want true, true, false")
	}
	if c.Len() != 2 || c.Cap() != 2 {
		t.Fatalf("Len, Cap = %d, %d; want 2, 2", c.Len(), c.Cap())
	}
	if v, ok := c.Recv(); !ok || v != 1 {
		t.Fatalf("Recv = %d, %v; want 1, true", v, ok)
	}
	c.Close()
	if v, ok, closed := c.TryRecv(); !ok || closed || v != 2 {
		t.Fatalf("TryRecv = %d, %v, %v; want 2, true, false", v, ok, closed)
	}
	if _, ok, closed := c.TryRecv(); ok || !closed {
		t.Fatal("TryRecv on a closed drained Chan: want closed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := conc.NewChan[int](0).RecvContext(ctx); err != context.Canceled {
		t.Fatalf("RecvContext on a cancelled context = %v, want context.Canceled", err)
	}
}

func TestAfterFunc(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	fired := conc.NewChan[struct{}](1)
	conc.AfterFunc(ctx, func() { fired.Send(struct{}{}) })
	cancel()
	fired.Recv()
}

func TestManualClock(t *testing.T) {
	start := time.Date(2021, 10, 26, 0, 0, 0, 0, time.UTC)
	c := conc.NewManualClock(start)
	var order []string
	c.AfterFunc(20*conc.Millisecond, func() { order = append(order, "b") })
	c.AfterFunc(10*conc.Millisecond, func() { order = append(order, "a") })
	stopped := c.AfterFunc(15*conc.Millisecond, func() { order = append(order, "never") })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	tk := c.NewTicker(5 * conc.Millisecond)
	after := c.After(25 * conc.Millisecond)
	c.Advance(12 * conc.Millisecond)
	if len(order) != 1 || order[0] != "a" {
		t.Fatalf("after 12ms fired %v, want [a]", order)
	}
	if _, ok, _ := tk.C.TryRecv(); !ok {
		t.Fatal("ticker did not tick within 12ms")
	}
	c.Advance(20 * conc.Millisecond)
	if len(order) != 2 || order[1] != "b" {
		t.Fatalf("after 32ms fired %v, want [a b]", order)
	}
	if got, ok, _ := after.TryRecv(); !ok || !got.Equal(start.Add(25*conc.Millisecond)) {
		t.Fatalf("After(25ms) received %v, %v; want %v", got, ok, start.Add(25*conc.Millisecond))
	}
	tk.Stop()
	if got := c.Since(start); got != 32*conc.Millisecond {
		t.Fatalf("Since(start) = %v, want 32ms", got)
	}
	done := conc.NewChan[struct{}](1)
	conc.Go("sleeper", func() { c.Sleep(conc.Second); done.Send(struct{}{}) })
	for {
		if _, ok, _ := done.TryRecv(); ok {
			break
		}
		c.Advance(100 * conc.Millisecond)
		time.Sleep(time.Millisecond)
	}
}

func TestDefaultClock(t *testing.T) {
	c := conc.DefaultClock()
	t0 := c.Now()
	c.Sleep(time.Millisecond)
	if c.Since(t0) < time.Millisecond {
		t.Fatal("Sleep(1ms) returned early")
	}
	c.After(time.Millisecond).Recv()
	tk := c.NewTicker(time.Millisecond)
	tk.C.Recv()
	tk.Stop()
	fired := conc.NewChan[struct{}](1)
	c.AfterFunc(time.Millisecond, func() { fired.Send(struct{}{}) })
	fired.Recv()
}
