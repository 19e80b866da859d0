package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Probe is what the device under a directory can do, measured in the same
// run as the engines so a report can state each engine's efficiency against
// the physical limit.
type Probe struct {
	Dir string `json:"dir"`
	// Direct is true when the probe used O_DIRECT (bypassing the page
	// cache); false when the file system refused it (tmpfs, for one) and the
	// figures include the page cache.
	Direct bool `json:"direct"`
	// SeqWriteMBps is the device's sequential write bandwidth with 1 MiB
	// writes, including the final fdatasync: the best of the passes below.
	// An engine's fill is measured against it.
	SeqWriteMBps float64 `json:"seq_write_mb_per_sec"`
	// The passes: writing the file the first time (the file system
	// allocates as it goes), then overwriting it with one write in flight,
	// with four and with eight (as an engine with an IO queue does:
	// shardstore keeps eight in flight by default). The first pass alone
	// varies widely between sittings on a virtual disk, and an engine's
	// fill can outrun it (docs/PERFORMANCE.md).
	SeqWriteFirstMBps float64 `json:"seq_write_first_mb_per_sec,omitempty"`
	SeqWriteQD1MBps   float64 `json:"seq_write_qd1_mb_per_sec,omitempty"`
	SeqWriteQD4MBps   float64 `json:"seq_write_qd4_mb_per_sec,omitempty"`
	SeqWriteQD8MBps   float64 `json:"seq_write_qd8_mb_per_sec,omitempty"`
	// FdatasyncP50us and FdatasyncP99us are the latency of a 4 KiB write
	// plus fdatasync at queue depth 1.
	FdatasyncP50us float64 `json:"fdatasync_p50_us"`
	FdatasyncP99us float64 `json:"fdatasync_p99_us"`
	// RandReadIOPS is 4 KiB random reads per second at queue depth 1, and
	// RandReadIOPSQD16 with 16 concurrent readers.
	RandReadIOPS     float64 `json:"rand_read_iops"`
	RandReadIOPSQD16 float64 `json:"rand_read_iops_qd16"`
	FileBytes        int64   `json:"file_bytes"`
	ElapsedSec       float64 `json:"elapsed_sec"`
}

// ProbeOptions bound the probe's cost.
type ProbeOptions struct {
	// FileBytes is the size of the sequentially written file; default 256 MiB.
	FileBytes int64
	// PhaseTime bounds each of the sync and read phases; default 2s.
	PhaseTime time.Duration
}

const probeBlock = 4096

// RunProbe measures the device under dir. It writes one temporary file and
// removes it.
func RunProbe(ctx context.Context, dir string, o ProbeOptions) (*Probe, error) {
	if o.FileBytes <= 0 {
		o.FileBytes = 256 << 20
	}
	o.FileBytes = (o.FileBytes + 1<<20 - 1) &^ (1<<20 - 1)
	if o.PhaseTime <= 0 {
		o.PhaseTime = 2 * time.Second
	}
	start := time.Now()
	path := filepath.Join(dir, fmt.Sprintf(".gauntlet-probe-%d", os.Getpid()))
	p := &Probe{Dir: dir, Direct: true, FileBytes: o.FileBytes}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC|unix.O_DIRECT, 0o600)
	if errors.Is(err, unix.EINVAL) {
		p.Direct = false
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", dir, err)
	}
	defer os.Remove(path)
	defer f.Close()

	buf := alignedBlock(1 << 20)
	for i := range buf {
		buf[i] = byte(i*7 + 1) // not zeros: some devices compress or dedupe
	}
	// Sequential write bandwidth: the first write of the file, then
	// overwrites at queue depth 1, 4 and 8 (writer i of n writes the MiB
	// blocks i, i+n, ...: n sequential writes in flight).
	pass := func(depth int) (float64, error) {
		t0 := time.Now()
		errs := make(chan error, depth)
		for w := range depth {
			wbuf := buf
			if w > 0 {
				wbuf = alignedBlock(len(buf))
				copy(wbuf, buf)
			}
			go func() {
				for off := int64(w) * int64(len(wbuf)); off < o.FileBytes; off += int64(depth * len(wbuf)) {
					if err := ctx.Err(); err != nil {
						errs <- err
						return
					}
					if _, err := f.WriteAt(wbuf, off); err != nil {
						errs <- fmt.Errorf("probe %s: sequential write at %d: %w", path, off, err)
						return
					}
				}
				errs <- nil
			}()
		}
		var first error
		for range depth {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		if first != nil {
			return 0, first
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return 0, fmt.Errorf("probe %s: fdatasync: %w", path, err)
		}
		return float64(o.FileBytes) / 1e6 / time.Since(t0).Seconds(), nil
	}
	for _, x := range []struct {
		depth int
		into  *float64
	}{{1, &p.SeqWriteFirstMBps}, {1, &p.SeqWriteQD1MBps}, {4, &p.SeqWriteQD4MBps}, {8, &p.SeqWriteQD8MBps}} {
		v, err := pass(x.depth)
		if err != nil {
			return nil, err
		}
		*x.into = v
		p.SeqWriteMBps = max(p.SeqWriteMBps, v)
	}

	// fdatasync latency at queue depth 1: 4 KiB overwrite then fdatasync.
	blk := buf[:probeBlock]
	var lat []time.Duration
	rng := rand.New(rand.NewPCG(1, 2))
	blocks := o.FileBytes / probeBlock
	deadline := time.Now().Add(o.PhaseTime)
	for len(lat) < 10000 && time.Now().Before(deadline) && ctx.Err() == nil {
		t := time.Now()
		if _, err := f.WriteAt(blk, rng.Int64N(blocks)*probeBlock); err != nil {
			return nil, fmt.Errorf("probe %s: write: %w", path, err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return nil, fmt.Errorf("probe %s: fdatasync: %w", path, err)
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		p.FdatasyncP50us = float64(lat[n/2].Nanoseconds()) / 1e3
		p.FdatasyncP99us = float64(lat[min(n-1, n*99/100)].Nanoseconds()) / 1e3
	}

	// Random 4 KiB reads.
	readPhase := func(workers int) (float64, error) {
		type res struct {
			n   int64
			err error
		}
		ch := make(chan res, workers)
		end := time.Now().Add(o.PhaseTime / 2)
		t := time.Now()
		for w := range workers {
			go func() {
				rb := alignedBlock(probeBlock)
				r := rand.New(rand.NewPCG(uint64(w), 99))
				var n int64
				for time.Now().Before(end) && ctx.Err() == nil {
					if _, err := f.ReadAt(rb, r.Int64N(blocks)*probeBlock); err != nil {
						ch <- res{n, err}
						return
					}
					n++
				}
				ch <- res{n, nil}
			}()
		}
		var total int64
		var firstErr error
		for range workers {
			r := <-ch
			total += r.n
			if r.err != nil && firstErr == nil {
				firstErr = r.err
			}
		}
		return float64(total) / time.Since(t).Seconds(), firstErr
	}
	if p.RandReadIOPS, err = readPhase(1); err != nil {
		return nil, fmt.Errorf("probe %s: random read: %w", path, err)
	}
	if p.RandReadIOPSQD16, err = readPhase(16); err != nil {
		return nil, fmt.Errorf("probe %s: random read: %w", path, err)
	}
	p.ElapsedSec = time.Since(start).Seconds()
	return p, ctx.Err()
}

// alignedBlock returns n bytes aligned to 4096, as O_DIRECT requires.
func alignedBlock(n int) []byte {
	b := make([]byte, n+4096)
	off := int(4096 - uintptr(unsafe.Pointer(&b[0]))%4096)
	if off == 4096 {
		off = 0
	}
	return b[off : off+n : off+n]
}
