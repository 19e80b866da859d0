package shardstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// TestShardNodeReclaimsWholeExtents runs a storage node's life on a small
// device: values of 256 KiB-2 MiB (several chunks each) put, read and
// deleted at random while the live data stays near 80% of the device, as
// the shard workload does. Every put must succeed (a fifth of the device
// is dead or free the whole time), every get return its value, and
// reclamation must move little: a deleted value's extents are freed whole
// when its chunks are consecutive and fill the extents (valueMu,
// chunkFitMin), and reclamation takes dead extents first. Before, a put
// that found no space reclaimed every extent with a dead byte, and moved
// 5.2 bytes for each byte written here (13 on the shard workload),
// where it now moves 0.02.
func TestShardNodeReclaimsWholeExtents(t *testing.T) {
	const seed = 7
	t.Logf("seed %d; replay: go test ./engine/shardstore -run TestShardNodeReclaimsWholeExtents", seed)
	ctx := context.Background()
	o := testOptions()
	o.ExtentBytes = 1 << 20 // chunks of 256 KiB
	mem := disk.NewMem(128<<20, 512)
	s, err := Open(mem, o)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	type shard struct {
		key  []byte
		size int
		seed uint64
	}
	value := func(sh shard) []byte {
		r := rand.New(rand.NewPCG(sh.seed, 1))
		v := make([]byte, sh.size)
		for i := range v {
			v[i] = byte(r.Uint32())
		}
		return v
	}
	var live []shard
	liveBytes := 0
	target := int(float64(mem.Size()) * 0.8 * 0.85) // 80% of what the reserve and streams leave
	n := 0
	var written int64
	for op := 0; op < 1500; op++ {
		switch {
		case liveBytes < target:
			sh := shard{key: fmt.Appendf(nil, "shard%06d", n), size: 256<<10 + rng.IntN(7<<18), seed: rng.Uint64()}
			n++
			if err := s.Put(ctx, sh.key, value(sh)); err != nil {
				t.Fatalf("op %d: put %s (%d bytes) with %d of %d bytes live: %v", op, sh.key, sh.size, liveBytes, mem.Size(), err)
			}
			live = append(live, sh)
			liveBytes += sh.size
			written += int64(sh.size)
		case rng.IntN(4) == 0:
			sh := live[rng.IntN(len(live))]
			got, err := s.Get(ctx, sh.key)
			if err != nil || !bytes.Equal(got, value(sh)) {
				t.Fatalf("op %d: get %s: %d bytes, %v; want %d", op, sh.key, len(got), err, sh.size)
			}
		default:
			i := rng.IntN(len(live))
			if err := s.Delete(ctx, live[i].key); err != nil {
				t.Fatalf("op %d: delete %s: %v", op, live[i].key, err)
			}
			liveBytes -= live[i].size
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
		}
	}
	if err := s.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	evac := s.stats.evacBytes.Load()
	t.Logf("%d shards put, %d MiB written, %d MiB evacuated, %d reclaims", n, written>>20, evac>>20, s.stats.reclaims.Load())
	if written < 4*mem.Size() {
		t.Fatalf("%d bytes written: want at least four times the device (%d), for reclamation to run throughout", written, 4*mem.Size())
	}
	if evac*10 > written {
		t.Errorf("reclamation evacuated %d bytes for %d written (%.2f): want at most a tenth", evac, written, float64(evac)/float64(written))
	}
	// Where reclamation's time went is reported: its batches' index
	// flushes, and the writes that waited for it in their own path.
	m := s.Stats().Metrics
	if m["reclaim_flush_seconds"] <= 0 || m["reclaim_barrier_seconds"] <= 0 {
		t.Errorf("reclaim_flush_seconds %v, reclaim_barrier_seconds %v: want both above 0 after %d reclaims",
			m["reclaim_flush_seconds"], m["reclaim_barrier_seconds"], s.stats.reclaims.Load())
	}
	if w, wmax := m["reclaim_wait_seconds"], m["reclaim_wait_max_seconds"]; (m["writes_no_space"] > 0) != (w > 0) || wmax > w || (w > 0) != (wmax > 0) {
		t.Errorf("%v writes without space waited %v s for reclamation, at most %v s: inconsistent", m["writes_no_space"], w, wmax)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(mem, o); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, sh := range live {
		got, err := s.Get(ctx, sh.key)
		if err != nil || !bytes.Equal(got, value(sh)) {
			t.Fatalf("after reopen: get %s: %d bytes, %v; want %d", sh.key, len(got), err, sh.size)
		}
	}
}

// TestExtentBytesDefault: 4 MiB extents up to 64 GiB, doubled above so
// that a device holds at most ExtentCountTarget; and a device formatted
// with another extent size opens with the default options, keeping its
// own (a device formatted under the old 16 MiB default still opens).
func TestExtentBytesDefault(t *testing.T) {
	for _, c := range []struct{ device, want int64 }{
		{64 << 20, 4 << 20}, {4 << 30, 4 << 20}, {64 << 30, 4 << 20}, {65 << 30, 8 << 20},
		{1 << 40, 64 << 20}, {16 << 40, 1 << 30},
	} {
		if got := DefaultExtentBytes(c.device); got != c.want {
			t.Errorf("DefaultExtentBytes(%d) = %d, want %d", c.device, got, c.want)
		}
	}
	ctx := context.Background()
	mem := disk.NewMem(64<<20, 512)
	o := testOptions()
	o.ExtentBytes = 2 << 20
	s, err := Open(mem, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, []byte("k"), bytes.Repeat([]byte("v"), 3<<20)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// An explicit other size is refused, with the fix named.
	o.ExtentBytes = 1 << 20
	if _, err := Open(mem, o); err == nil || !strings.Contains(err.Error(), "open it with extent=2MiB") {
		t.Fatalf("open with extent=1MiB of a device formatted with 2MiB: %v", err)
	}
	o.ExtentBytes, o.ChunkPayloadMax = 0, 0 // as the driver leaves them without extent=
	if s, err = Open(mem, o); err != nil {
		t.Fatalf("open with the default extent size: %v", err)
	}
	defer s.Close()
	if got := s.opts.ExtentBytes; got != 2<<20 {
		t.Errorf("extent size %d, want the device's 2 MiB", got)
	}
	if got, err := s.Get(ctx, []byte("k")); err != nil || len(got) != 3<<20 {
		t.Fatalf("get: %d bytes, %v", len(got), err)
	}
}
