package workloads

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkNext(b *testing.B) {
	for _, name := range []string{"ycsb-a", "ycsb-b", "ycsb-c", "ycsb-d", "ycsb-e", "ycsb-f", "fill", "read=1,keys=hotspot", "read=1,keys=exponential"} {
		b.Run(name, func(b *testing.B) {
			w := mustParse(b, name+",records=1000000")
			g := w.NewGenerator(rand.New(rand.NewPCG(1, 2)))
			b.ReportAllocs()
			for b.Loop() {
				g.Next()
			}
		})
	}
}

func BenchmarkBiasedDraw(b *testing.B) {
	bi := mustBiased(b, BiasedOptions{})
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		bi.Draw(rng)
	}
}

func BenchmarkFillValue(b *testing.B) {
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	for i := 0; b.Loop(); i++ {
		FillValue(buf, uint64(i))
	}
}

func BenchmarkValueDigest(b *testing.B) {
	buf := make([]byte, 64<<10)
	FillValue(buf, 1)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		ValueDigest(buf)
	}
}

func BenchmarkZipfian(b *testing.B) {
	z := NewZipfian(0, 1_000_000, ZipfianTheta)
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		z.Next(rng)
	}
}
