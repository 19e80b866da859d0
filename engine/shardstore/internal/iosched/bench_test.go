package iosched

import (
	"context"
	"fmt"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// BenchmarkRounds measures one round of the scheduler end to end: 64
// appends over 4 extents are queued behind a gate, released together, and
// planned, written (to memory) and flushed as one round. An op is a round,
// so the figure is the scheduler's own cost per round, with no device
// latency in it. Frames of 100 bytes exercise sector tails and many merges;
// frames of 4 KiB, whole sectors.
func BenchmarkRounds(b *testing.B) {
	for _, policy := range []Policy{PolicyCoalesce, PolicyFIFO} {
		for _, size := range []int{100, 4096} {
			b.Run(fmt.Sprintf("policy=%s/frame=%d", policy, size), func(b *testing.B) {
				benchRounds(b, policy, size)
			})
		}
	}
}

func benchRounds(b *testing.B, policy Policy, size int) {
	const (
		extents   = 4
		perExtent = 16
		extBytes  = 1 << 20
	)
	ctx := context.Background()
	geo, _ := extent.NewGeometry((extents+1)*extBytes, extBytes, 512)
	mem := disk.NewMem((extents+1)*extBytes, 512)
	mem.RequireAligned(true)
	g := dep.New(dep.Options{})
	s, err := New(mem, geo, g, noMeta{}, Options{Policy: policy, FlushInterval: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var offs, gens [extents + 1]int64
	frames := make([][]byte, extents*perExtent)
	for i := range frames {
		frames[i] = make([]byte, size)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := g.Admit(ctx, extents*perExtent+1); err != nil {
			b.Fatal(err)
		}
		gate := g.NewNode(dep.Dependency{}, dep.Chain{})
		var all dep.Dependency
		for e := 1; e <= extents; e++ {
			if offs[e]+int64(perExtent*size) > extBytes {
				// A new generation restarts the extent, as a reset does.
				gens[e]++
				offs[e] = 0
			}
			for i := range perExtent {
				d := dep.Dependency{}
				if i == 0 {
					d = gate.Dependency()
				}
				node := g.NewNode(d, dep.Chain{})
				if err := s.Reserve(ctx, int64(size)); err != nil {
					b.Fatal(err)
				}
				s.Enqueue(&Write{Extent: extent.ID(e), Gen: uint32(gens[e]), Offset: offs[e], Frame: frames[(e-1)*perExtent+i], Node: node})
				offs[e] += int64(size)
				all = all.And(node.Dependency())
			}
		}
		g.MarkDurable(gate)
		if err := all.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(st.Rounds)/float64(b.N), "rounds/op")
}
