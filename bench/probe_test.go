package bench_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/bench"
)

// TestProbe: every figure is measured, the sequential write bandwidth is
// the best of its four passes (first write, overwrites at queue depth 1,
// 4 and 8), and the probe leaves nothing behind.
func TestProbe(t *testing.T) {
	dir := t.TempDir()
	p, err := bench.RunProbe(context.Background(), dir, bench.ProbeOptions{FileBytes: 8 << 20, PhaseTime: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	passes := []float64{p.SeqWriteFirstMBps, p.SeqWriteQD1MBps, p.SeqWriteQD4MBps, p.SeqWriteQD8MBps}
	for i, v := range passes {
		if v <= 0 {
			t.Errorf("sequential write pass %d: %v MB/s", i, v)
		}
	}
	if want := slices.Max(passes); p.SeqWriteMBps != want {
		t.Errorf("sequential write %v MB/s, want the best pass, %v", p.SeqWriteMBps, want)
	}
	if p.FdatasyncP50us <= 0 || p.FdatasyncP99us < p.FdatasyncP50us || p.RandReadIOPS <= 0 || p.RandReadIOPSQD16 <= 0 {
		t.Errorf("probe %+v: a figure is missing", p)
	}
	if p.FileBytes != 8<<20 {
		t.Errorf("file of %d bytes, want %d", p.FileBytes, 8<<20)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the probe left %d files in %s", len(entries), dir)
	}
	// A cancelled probe stops with the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := bench.RunProbe(ctx, t.TempDir(), bench.ProbeOptions{FileBytes: 8 << 20}); err == nil {
		t.Error("a probe with a cancelled context succeeded")
	}
}
