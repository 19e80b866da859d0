package chunk

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

const benchDeviceBytes = 4 << 30

func benchStore(b *testing.B, opts Options) *Store {
	b.Helper()
	f, err := disk.OpenFile(filepath.Join(b.TempDir(), "dev"), disk.FileOptions{Size: benchDeviceBytes, Direct: true, Preallocate: true, Create: true})
	if errors.Is(err, disk.ErrDirectUnsupported) {
		b.Skipf("O_DIRECT unsupported here: %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	if err := Format(f, opts); err != nil {
		b.Fatal(err)
	}
	s, err := Open(f, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkAppend measures append throughput (fill: no waiting, one Sync at
// the end) with 4 KiB, 64 KiB and 1 MiB chunks on a file opened with
// O_DIRECT. Compare MB/s with the device's sequential write bandwidth
// (harness probe, or fio).
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10, 1 << 20} {
		for _, pol := range []string{"coalesce", "fifo"} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, pol), func(b *testing.B) {
				opts := DefaultOptions()
				opts.Scheduler.Policy = "coalesce"
				if pol == "fifo" {
					opts.Scheduler.Policy = "fifo"
				}
				s := benchStore(b, opts)
				ctx := context.Background()
				v := make([]byte, size)
				perFill := (benchDeviceBytes * 3 / 4) / int64(size+44)
				b.SetBytes(int64(size))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if int64(i+1)%perFill == 0 {
						b.StopTimer()
						recycle(b, s)
						b.StartTimer()
					}
					if _, _, _, err := s.Append(ctx, StreamData, v, dep.Dependency{}); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.Sync(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				st := s.Stats().Scheduler
				b.ReportMetric(float64(st.IOBytes)/float64(max(st.IOs, 1))/1024, "KiB/IO")
				b.ReportMetric(float64(st.Flushes), "flushes")
			})
		}
	}
}

// BenchmarkDurablePut: 16 clients each put 1 KiB and wait for it to be
// durable, in a loop. Reports durable puts per second; group commit is what
// makes this more than one put per two flushes.
func BenchmarkDurablePut(b *testing.B) {
	const clients = 16
	s := benchStore(b, DefaultOptions())
	ctx := context.Background()
	v := make([]byte, 1<<10)
	b.ResetTimer()
	var wg conc.WaitGroup
	var next conc.Int64
	for c := 0; c < clients; c++ {
		wg.Add(1)
		conc.Go("client", func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				_, _, d, err := s.Append(ctx, StreamData, v, dep.Dependency{})
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
	st := s.Stats().Scheduler
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
	b.ReportMetric(float64(b.N)/float64(max(st.Flushes, 1)), "puts/flush")
}

// recycle makes the device empty again, untimed: sync, seal, reset every
// data extent.
func recycle(b *testing.B, s *Store) {
	ctx := context.Background()
	if err := s.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	s.Seal(StreamData)
	var ds []dep.Dependency
	for i, info := range s.Extents() {
		if info.Owner == extent.Data {
			d, err := s.Reset(ctx, extent.ID(i))
			if err != nil {
				b.Fatal(err)
			}
			ds = append(ds, d)
		}
	}
	if err := dep.And(ds...).Wait(ctx); err != nil {
		b.Fatal(err)
	}
}
