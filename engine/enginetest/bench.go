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

// BenchConfig describes the engine for Bench.
type BenchConfig struct {
	// Configs are the configurations Put1KiB runs in, by name; the first
	// is the default, which Put1KiBParallel and Get1KiB run in.
	Configs []NamedOpen
	// Load, if set, writes every BenchKeys key with value to e faster than
	// Put one at a time can (bbolt: one transaction, where a lone Put
	// waits out a batch delay). Nil: Get1KiB loads by Put.
	Load func(e engine.Engine, value []byte) error
}

// NamedOpen is a configuration of the engine: a name and how to open it.
type NamedOpen struct {
	Name string
	Open func(dir string) (engine.Engine, error)
}

// Bench runs the benchmarks every engine shares, 1 KiB values over
// BenchKeys keys, as sub-benchmarks of b: Put1KiB/<config> from one
// goroutine, Put1KiBParallel from 16 goroutines per CPU (where group
// commit shows), Get1KiB of random keys.
func Bench(b *testing.B, cfg BenchConfig) {
	if len(cfg.Configs) == 0 {
		b.Fatal("enginetest: BenchConfig.Configs is empty")
	}
	open := func(b *testing.B, c NamedOpen) engine.Engine {
		e, err := c.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { e.Close() })
		return e
	}
	b.Run("Put1KiB", func(b *testing.B) {
		for _, c := range cfg.Configs {
			b.Run(c.Name, func(b *testing.B) { benchPut(b, open(b, c)) })
		}
	})
	b.Run("Put1KiBParallel", func(b *testing.B) { benchPutParallel(b, open(b, cfg.Configs[0])) })
	b.Run("Get1KiB", func(b *testing.B) {
		e := open(b, cfg.Configs[0])
		load := cfg.Load
		if load == nil {
			load = func(e engine.Engine, v []byte) error {
				for i := range BenchKeys {
					if err := e.Put(context.Background(), BenchKey(i), v); err != nil {
						return err
					}
				}
				return nil
			}
		}
		benchGet(b, e, load)
	})
}

// BenchKeys is how many distinct keys the benchmarks use.
const BenchKeys = 100_000

// BenchKey is the benchmarks' i-th key (i modulo BenchKeys).
func BenchKey(i int) []byte { return []byte(fmt.Sprintf("bench-%08d", i%BenchKeys)) }

func benchPut(b *testing.B, e engine.Engine) {
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

func benchPutParallel(b *testing.B, e engine.Engine) {
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

func benchGet(b *testing.B, e engine.Engine, load func(engine.Engine, []byte) error) {
	ctx := context.Background()
	if err := load(e, bytes.Repeat([]byte{'v'}, 1024)); err != nil {
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
