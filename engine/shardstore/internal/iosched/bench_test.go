package iosched

import (
	"context"
	"fmt"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// The rounds of the benchmarks: 64 appends over 4 extents. Frames of 100
// bytes exercise sector tails and many merges; frames of 4 KiB, whole
// sectors.
const (
	benchExtents   = 4
	benchPerExtent = 16
	benchExtBytes  = 1 << 20
)

// BenchmarkRounds measures one round of the scheduler end to end: the
// round's appends are queued behind a gate, released together, and
// planned, written (to memory) and flushed by the scheduler's goroutine
// as one round. An op is a round. The goroutine hand-offs dominate it, so
// it moves with the machine's load; BenchmarkRoundSteps is the steadier
// figure for the scheduler's own work.
func BenchmarkRounds(b *testing.B) {
	for _, policy := range []Policy{PolicyCoalesce, PolicyFIFO} {
		for _, size := range []int{100, 4096} {
			b.Run(fmt.Sprintf("policy=%s/frame=%d", policy, size), func(b *testing.B) {
				benchRounds(b, policy, size)
			})
		}
	}
}

// BenchmarkRoundSteps is BenchmarkRounds without the scheduler's
// goroutines: the benchmark takes each round, writes and flushes it
// itself, its device writes inline, so an op is the scheduler's own CPU
// time for a round (planning, regions, the copies into the IO buffer,
// publishing, completing the flush) with no wake-ups in it.
func BenchmarkRoundSteps(b *testing.B) {
	for _, policy := range []Policy{PolicyCoalesce, PolicyFIFO} {
		for _, size := range []int{100, 4096} {
			b.Run(fmt.Sprintf("policy=%s/frame=%d", policy, size), func(b *testing.B) {
				benchRoundSteps(b, policy, size)
			})
		}
	}
}

// benchDevice returns a memory device with room for the benchmarks'
// extents (extent 0 is left alone) and a graph.
func benchDevice() (*disk.Mem, extent.Geometry, *dep.Graph) {
	geo, _ := extent.NewGeometry((benchExtents+1)*benchExtBytes, benchExtBytes, 512)
	mem := disk.NewMem((benchExtents+1)*benchExtBytes, 512)
	mem.RequireAligned(true)
	return mem, geo, dep.New(dep.Options{})
}

// benchAppender queues a round's appends, frames reused, each extent
// starting a new generation when it is full (as a reset does).
type benchAppender struct {
	s      *Scheduler
	g      *dep.Graph
	offs   [benchExtents + 1]int64
	gens   [benchExtents + 1]uint32
	frames [][]byte
}

func newBenchAppender(s *Scheduler, g *dep.Graph, size int) *benchAppender {
	a := &benchAppender{s: s, g: g, frames: make([][]byte, benchExtents*benchPerExtent)}
	for i := range a.frames {
		a.frames[i] = make([]byte, size)
	}
	return a
}

// round queues a round's appends, the first of each extent depending on
// gate, and returns the dependency on the last of each extent (an extent's
// appends are durable in order), which costs the benchmark less than one
// on all of them.
func (a *benchAppender) round(b *testing.B, gate dep.Dependency) dep.Dependency {
	ctx := context.Background()
	size := len(a.frames[0])
	if err := a.g.Admit(ctx, len(a.frames)); err != nil {
		b.Fatal(err)
	}
	var all dep.Dependency
	for e := 1; e <= benchExtents; e++ {
		if a.offs[e]+int64(benchPerExtent*size) > benchExtBytes {
			a.gens[e]++
			a.offs[e] = 0
		}
		for i := range benchPerExtent {
			d := dep.Dependency{}
			if i == 0 {
				d = gate
			}
			node := a.g.NewNode(d, dep.Chain{})
			if err := a.s.Reserve(ctx, int64(size)); err != nil {
				b.Fatal(err)
			}
			a.s.Enqueue(&Write{Extent: extent.ID(e), Gen: a.gens[e], Offset: a.offs[e], Frame: a.frames[(e-1)*benchPerExtent+i], Node: node})
			a.offs[e] += int64(size)
			if i == benchPerExtent-1 {
				all = all.And(node.Dependency())
			}
		}
	}
	return all
}

func benchRounds(b *testing.B, policy Policy, size int) {
	ctx := context.Background()
	mem, geo, g := benchDevice()
	s, err := New(mem, geo, g, noMeta{}, Options{Policy: policy, FlushInterval: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a := newBenchAppender(s, g, size)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := g.Admit(ctx, 1); err != nil {
			b.Fatal(err)
		}
		gate := g.NewNode(dep.Dependency{}, dep.Chain{})
		all := a.round(b, gate.Dependency())
		g.MarkDurable(gate)
		if err := all.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(s.Stats().Rounds)/float64(b.N), "rounds/op")
}

func benchRoundSteps(b *testing.B, policy Policy, size int) {
	mem, geo, g := benchDevice()
	// IODepth 1: the device writes go inline, as there are no workers.
	s, err := newScheduler(mem, geo, g, noMeta{}, Options{Policy: policy, IODepth: 1, FlushInterval: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	a := newBenchAppender(s, g, size)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		all := a.round(b, dep.Dependency{})
		s.mu.Lock()
		ios := s.take()
		s.mu.Unlock()
		s.reportIssued(ios)
		if err := s.issue(ios, nil); err != nil {
			b.Fatal(err)
		}
		if err := s.flush(nil); err != nil {
			b.Fatal(err)
		}
		if !all.IsPersistent() {
			b.Fatal("a round left writes undurable")
		}
	}
}
