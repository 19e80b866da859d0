package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// The benchmarks every engine shares: 1 KiB values over BenchKeys keys.
// Each takes an open engine; the caller closes it.

// BenchKeys is how many distinct keys the benchmarks use.
const BenchKeys = 100_000

// BenchKey is the benchmarks' i-th key (i modulo BenchKeys).
func BenchKey(i int) []byte { return []byte(fmt.Sprintf("bench-%08d", i%BenchKeys)) }

// BenchPut puts 1 KiB values from one goroutine.
func BenchPut(b *testing.B, e engine.Engine) {
	ctx := context.Background()
	v := bytes.Repeat([]byte{'v'}, 1024)
	b.SetBytes(1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := e.Put(ctx, BenchKey(i), v); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchPutParallel puts 1 KiB values from 16 goroutines per CPU, where
// group commit (and for bbolt, batching) shows.
func BenchPutParallel(b *testing.B, e engine.Engine) {
	ctx := context.Background()
	v := bytes.Repeat([]byte{'v'}, 1024)
	var n atomic.Int64
	b.SetBytes(1024)
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := e.Put(ctx, BenchKey(int(n.Add(1))), v); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchGet gets 1 KiB values of random keys, after load has written all
// BenchKeys of them (nil: by Put; an engine whose lone Puts are slow, like
// bbolt's batches, loads in one transaction instead).
func BenchGet(b *testing.B, e engine.Engine, load func(value []byte) error) {
	ctx := context.Background()
	v := bytes.Repeat([]byte{'v'}, 1024)
	if load == nil {
		load = func(v []byte) error {
			for i := range BenchKeys {
				if err := e.Put(ctx, BenchKey(i), v); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if err := load(v); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Get(ctx, BenchKey(rng.IntN(BenchKeys))); err != nil {
			b.Fatal(err)
		}
	}
}
