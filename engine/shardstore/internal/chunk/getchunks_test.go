package chunk

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
)

// TestGetChunksReadsRunsWhole: a value's consecutive large chunks are
// read with one device read once on the device, queued ones and small
// ones as GetChunk reads them, every payload checked; a run crossing into
// another extent is split there; and a damaged frame inside a run fails
// the read with a FrameError, never returns its bytes.
func TestGetChunksReadsRunsWhole(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	s, m := newStore(t, opts)
	rng := rand.New(rand.NewPCG(5, 6))
	// 60 KiB in chunks of 8 KiB (above the cache's largest read, a
	// quarter of its 16 KiB): the eight cross from one 64 KiB extent into
	// the next after the small chunk before them.
	small := value(rng, 100)
	ls, _, _, err := s.Append(ctx, StreamData, small, dep.Dependency{})
	if err != nil {
		t.Fatal(err)
	}
	big := value(rng, 60<<10)
	locs, _, _, err := s.AppendSplit(ctx, StreamData, big, dep.Dependency{})
	if err != nil {
		t.Fatal(err)
	}
	all := append([]Locator{ls}, locs...)
	want := append([][]byte{small}, splitEvery(big, opts.ChunkPayloadMax)...)
	check := func(when string) {
		t.Helper()
		got, err := s.GetChunks(ctx, all)
		if err != nil {
			t.Fatalf("%s: GetChunks: %v", when, err)
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%s: chunk %d (%v): %d bytes, want %d", when, i, all[i], len(got[i]), len(want[i]))
			}
		}
	}
	check("queued")
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	reads := m.Stats().Reads
	check("on the device")
	if n := m.Stats().Reads - reads; n < 1 || n > 3 {
		t.Errorf("GetChunks of 8 chunks in two runs took %d device reads, want at most 3", n)
	}
	// Damage the payload of the third large chunk.
	l := locs[2]
	at := int64(l.Extent)*opts.ExtentBytes + int64(l.Offset) + 64
	sector := at / testSector * testSector
	b := make([]byte, testSector)
	if _, err := m.ReadAt(b, sector); err != nil {
		t.Fatal(err)
	}
	b[at-sector] ^= 0xff
	if _, err := m.WriteAt(b, sector); err != nil {
		t.Fatal(err)
	}
	var fe *FrameError
	if _, err := s.GetChunks(ctx, all); !errors.As(err, &fe) || !errors.Is(err, engine.ErrCorruption) {
		t.Fatalf("GetChunks over a damaged frame: %v, want a FrameError wrapping ErrCorruption", err)
	}
}

func splitEvery(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out, b = append(out, b[:n]), b[n:]
	}
	return append(out, b)
}
