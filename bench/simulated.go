package bench

import (
	"time"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// simulatedEngine is an engine on a simulated device (shardstore's
// device=hdd or device=ssd): every IO advances the device's virtual clock
// by its modeled service time, and the engine's own clock is that one.
type simulatedEngine interface{ SimDevice() *disk.Sim }

// simDevice returns eng's simulated device, nil if it runs on a real one.
func simDevice(eng engine.Engine) *disk.Sim {
	if s, ok := eng.(simulatedEngine); ok {
		return s.SimDevice()
	}
	return nil
}

// phaseClock returns how a phase starting now reads its elapsed time: the
// wall clock's monotonic reading, or, for an engine on a simulated device,
// the device's virtual clock, so that its latencies and throughput are
// the model's and not the machine's (Run.Simulated says so). CPU work is
// free in virtual time: a phase of ops that do no IO advances no virtual
// time, so a simulated phase also ends at its duration of wall time.
func phaseClock(eng engine.Engine) func() time.Duration {
	if sim := simDevice(eng); sim != nil {
		c := sim.Clock()
		start := c.Now()
		return func() time.Duration { return c.Now().Sub(start) }
	}
	start := time.Now()
	return func() time.Duration { return time.Since(start) }
}
