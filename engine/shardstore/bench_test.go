package shardstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// benchStore opens a store with the default options on a 4 GiB file with
// O_DIRECT in a temporary directory.
func benchStore(b *testing.B) *Store { return benchStoreBytes(b, 4<<30) }

// benchStoreBytes is benchStore on a device file of deviceBytes.
func benchStoreBytes(b *testing.B, deviceBytes int64) *Store {
	b.Helper()
	o := Options{DeviceBytes: deviceBytes}
	if os.Getenv("SHARDSTORE_BENCH_SKIP_PREWRITE") != "" {
		o.SkipPrewrite = true // A/B the prewrite
	}
	if d, err := strconv.Atoi(os.Getenv("SHARDSTORE_BENCH_IO_DEPTH")); err == nil {
		o.IODepth = d
	}
	s, err := OpenDir(b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	if f, ok := s.dev.(*disk.File); ok && !f.Direct() {
		b.Logf("O_DIRECT unsupported here: buffered IO")
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func reportStats(b *testing.B, s *Store) {
	st := s.Stats()
	b.ReportMetric(st.WriteAmplification(), "WA")
	b.ReportMetric(float64(st.Flushes), "flushes")
	reportFlushes(b, s)
}

// reportFlushes reports the mean time of one device flush.
func reportFlushes(b *testing.B, s *Store) {
	sst := s.cs.Stats().Scheduler
	if sst.Flushes > 0 {
		b.ReportMetric(float64(sst.FlushNanos)/1e3/float64(sst.Flushes), "µs/flush")
	}
	if sst.WriteNanos > 0 {
		b.ReportMetric(float64(sst.IOBytes)/float64(sst.WriteNanos), "writeGB/s") // bytes per ns
		b.ReportMetric(float64(sst.IOBytes)/float64(max(sst.IOs, 1))/1024, "KiB/IO")
	}
}

// BenchmarkFill64KiB puts 64 KiB values from 4 clients without syncing, and
// syncs once at the end. Compare MB/s with the device's sequential write
// bandwidth (harness probe).
//
// Every value stays live, so the device must hold all b.N of them: it is
// 4 GiB, as for the other benchmarks, or larger when b.N needs it (a
// 3 s benchtime on a 2 GB/s device puts about 6 GB). b.N cannot be capped
// instead: ns/op divides the time by b.N, and doing fewer puts than b.N
// makes the framework raise it. The temporary directory needs about
// fillDeviceBytes(b.N) free.
func BenchmarkFill64KiB(b *testing.B) {
	const size, clients = 64 << 10, 4
	s := benchStoreBytes(b, fillDeviceBytes(b.N))
	ctx := context.Background()
	v := make([]byte, size)
	for i := range v {
		v[i] = byte(i * 7)
	}
	b.SetBytes(size)
	b.ResetTimer()
	var next conc.Int64
	var wg conc.WaitGroup
	for c := range clients {
		wg.Add(1)
		conc.Go("client", func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := s.Put(ctx, fmt.Appendf(nil, "fill%02d-%012d", c, i), v); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := s.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportStats(b, s)
}

// fillDeviceBytes is the device BenchmarkFill64KiB needs for n values:
// 4 GiB, or n values plus an eighth and 512 MiB (each 64 KiB value is one
// chunk of about 65.6 KB with its key and frame, and a 16 MiB extent holds
// 255 of them; the margin covers the index runs, metadata, reserved
// extents and rounding), in whole 16 MiB extents.
func fillDeviceBytes(n int) int64 {
	const perValue, extent = 66 << 10, 16 << 20
	need := int64(n)*perValue*9/8 + 512<<20
	return max(4<<30, (need+extent-1)/extent*extent)
}

// BenchmarkDurablePut: 16 clients each put a 1 KiB value and wait for it
// to be durable (PutTracked + Wait), in a loop.
func BenchmarkDurablePut(b *testing.B) {
	const clients = 16
	s := benchStore(b)
	ctx := context.Background()
	v := make([]byte, 1<<10)
	b.ResetTimer()
	var wg conc.WaitGroup
	var next conc.Int64
	for c := range clients {
		wg.Add(1)
		conc.Go("client", func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				d, err := s.PutTracked(ctx, fmt.Appendf(nil, "dp%02d-%012d", c, i), v)
				if err == nil {
					err = d.Wait(ctx)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
	b.ReportMetric(float64(b.N)/float64(max(s.Stats().Flushes, 1)), "puts/flush")
	reportFlushes(b, s)
}

// BenchmarkRandomGet1KiB loads 200k 1 KiB values (about 200 MiB, more than
// the 64 MiB cache), then gets random keys from 16 clients.
func BenchmarkRandomGet1KiB(b *testing.B) { benchGets(b, 200_000) }

// BenchmarkHotGet1KiB is BenchmarkRandomGet1KiB with 40k keys (about
// 45 MiB of frames), which fit in the 64 MiB cache: YCSB-C's shape, where
// gets cost CPU, not device reads.
func BenchmarkHotGet1KiB(b *testing.B) { benchGets(b, 40_000) }

func benchGets(b *testing.B, keys int) {
	const clients = 16
	s := benchStore(b)
	ctx := context.Background()
	v := make([]byte, 1<<10)
	for i := range keys {
		if err := s.Put(ctx, fmt.Appendf(nil, "get%09d", i), v); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var wg conc.WaitGroup
	var next conc.Int64
	for c := range clients {
		wg.Add(1)
		conc.Go("client", func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for next.Add(1) <= int64(b.N) {
				k := fmt.Appendf(nil, "get%09d", rng.IntN(keys))
				if _, err := s.Get(ctx, k); err != nil && !errors.Is(err, context.Canceled) {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
	cst := s.cs.Stats().Cache
	b.ReportMetric(float64(cst.Hits)/float64(max(cst.Hits+cst.Misses, 1)), "hit-ratio")
}

// BenchmarkHotPut1KiB puts 1 KiB values over 1000 keys from one client:
// YCSB-A's writes (the bench's ycsb-a has records=1000), without syncing.
// Its allocs/op is the put path's allocation count.
func BenchmarkHotPut1KiB(b *testing.B) {
	const keys = 1000
	s := benchStore(b)
	ctx := context.Background()
	v := make([]byte, 1<<10)
	ks := make([][]byte, keys)
	for i := range ks {
		ks[i] = fmt.Appendf(nil, "user%016d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Put(ctx, ks[i%keys], v); err != nil {
			b.Fatal(err)
		}
	}
}
