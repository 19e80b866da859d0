package conc_test

import (
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
)

// The default build's primitives must cost what package sync's do: these
// benchmarks are compared before and after a change to the build tags
// (docs/TESTING.md has the figures and the command).

func BenchmarkMutex(b *testing.B) {
	var mu conc.Mutex
	for b.Loop() {
		mu.Lock()
		mu.Unlock()
	}
}

func BenchmarkRWMutexRead(b *testing.B) {
	var mu conc.RWMutex
	for b.Loop() {
		mu.RLock()
		mu.RUnlock()
	}
}

func BenchmarkInt64Add(b *testing.B) {
	var n conc.Int64
	for b.Loop() {
		n.Add(1)
	}
}

func BenchmarkCondSignal(b *testing.B) {
	var mu conc.Mutex
	c := conc.NewCond(&mu)
	for b.Loop() {
		mu.Lock()
		c.Signal()
		mu.Unlock()
	}
}

func BenchmarkChanSendRecv(b *testing.B) {
	c := conc.NewChan[int](1)
	for b.Loop() {
		c.Send(1)
		c.Recv()
	}
}
