package shardstore

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// simRun opens shardstore on spec (a simulated device), runs n puts of
// 4000 bytes, each synced, then a get of each, and returns the virtual
// time they took and the device's totals.
func simRun(t *testing.T, spec string, n int) (time.Duration, disk.SimStats) {
	t.Helper()
	d := Driver()
	sp, err := engine.ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	o, err := engine.Resolve(sp, d.Options)
	if err != nil {
		t.Fatal(err)
	}
	e, err := d.Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	s := e.(*Store)
	if s.SimDevice() == nil {
		t.Fatalf("%s: not on a simulated device", spec)
	}
	ctx := context.Background()
	start := s.SimDevice().Clock().Now()
	val := make([]byte, 4000)
	for i := range n {
		val[0] = byte(i)
		if err := s.Put(ctx, fmt.Appendf(nil, "k%05d", i*7919%n), val); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if _, err := s.Get(ctx, fmt.Appendf(nil, "k%05d", i)); err != nil {
			t.Fatal(err)
		}
	}
	took := s.SimDevice().Clock().Now().Sub(start)
	st := s.SimDevice().Stats()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return took, st
}

// TestSimVirtualTime: a store on a simulated device is timed by the
// model, not the machine: the same run idle and under a parallel CPU load
// (spinning goroutines) takes the same virtual time within 3%, the hard
// disk about a thousand times the SSD. Not to the nanosecond: which writes
// the IO scheduler groups into a round, and so how many device writes and
// flushes a run does, still depends on when its goroutine wakes relative
// to the client's (a few writes in a thousand differ from run to run);
// the machine's speed enters only through that.
func TestSimVirtualTime(t *testing.T) {
	const n = 200
	for _, spec := range []string{"shardstore:device=hdd", "shardstore:device=hdd,sched=fifo,io-depth=1", "shardstore:device=ssd,sched=elevator"} {
		idle, st := simRun(t, spec, n)
		t.Logf("%s: %d durable puts and %d gets in %v virtual: %+v", spec, n, n, idle, st)
		var stop atomic.Bool
		var wg sync.WaitGroup
		for range 2 * runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for x := 0; !stop.Load(); x++ {
					if x%1000 == 0 {
						runtime.Gosched()
					}
				}
			}()
		}
		loaded, _ := simRun(t, spec, n)
		stop.Store(true)
		wg.Wait()
		if d := math.Abs(float64(loaded-idle)) / float64(idle); d > 0.03 {
			t.Errorf("%s: %v virtual under CPU load, %v idle: %.1f%% apart, want within 3%%", spec, loaded, idle, 100*d)
		}
		if st.Flushes < n || st.Writes < n {
			t.Errorf("%s: %+v: want a flush and a write per durable put at least", spec, st)
		}
	}
	hdd, _ := simRun(t, "shardstore:device=hdd", n)
	ssd, _ := simRun(t, "shardstore:device=ssd", n)
	if hdd < 100*ssd {
		t.Errorf("hdd %v, ssd %v: want the hard disk far slower", hdd, ssd)
	}
}
