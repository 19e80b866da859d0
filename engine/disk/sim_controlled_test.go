//go:build interleave

package disk

import (
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
)

// firstRunnable always runs the lowest task: a fixed schedule.
type firstRunnable struct{}

func (firstRunnable) Next(p conc.Point) (int, error) { return p.Runnable[0], nil }

// TestSimControlled: made inside a controlled execution, a Sim runs on the
// scheduler's clock: an IO's caller sleeps until the IO ends, and an IO
// issued while another is at the device queues behind it, so two writers
// of one 4 KiB write each, on an SSD (20 µs + 2 µs), end at 22 and 44 µs
// of virtual time, and the observer sees the second start at 22.
func TestSimControlled(t *testing.T) {
	var ends []time.Duration
	var starts []time.Time
	out := conc.Run(firstRunnable{}, 0, func() {
		s, err := NewSim(1<<20, 512, SimOptions{Kind: SimSSD})
		if err != nil {
			t.Error(err)
			return
		}
		if !s.Controlled() {
			t.Error("a Sim made in a controlled execution is not on its clock")
		}
		s.Observe(func(io SimIO) { starts = append(starts, io.Start) })
		t0 := s.Clock().Now()
		var wg conc.WaitGroup
		var mu conc.Mutex
		for i := range 2 {
			wg.Add(1)
			conc.Go("writer", func() {
				defer wg.Done()
				if _, err := s.WriteAt(make([]byte, 4096), int64(i)*4096); err != nil {
					t.Error(err)
				}
				mu.Lock()
				ends = append(ends, s.Clock().Now().Sub(t0))
				mu.Unlock()
			})
		}
		wg.Wait()
	})
	if out.Failed() {
		t.Fatal(out.Problem())
	}
	one := SSDWriteLatencyDefault + bytesTime(4096, SSDBandwidthDefault)
	if len(ends) != 2 || ends[0] != one || ends[1] != 2*one {
		t.Errorf("writers ended at %v, want %v and %v", ends, one, 2*one)
	}
	if len(starts) != 2 || starts[1].Sub(starts[0]) != one {
		t.Errorf("IOs started at %v, want the second %v after the first", starts, one)
	}
}
