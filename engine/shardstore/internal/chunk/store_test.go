package chunk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/cache"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/superblock"
)

// Test geometry: 64 KiB extents on a 1 MiB device with 512-byte sectors
// (16 extents), chunks of at most 8 KiB, a cache of four 4 KiB pages.
const (
	testExtentBytes = 64 << 10
	testDeviceBytes = 1 << 20
	testSector      = 512
)

func testOptions() Options {
	var o Options
	o.ExtentBytes = testExtentBytes
	o.ChunkPayloadMax = 8 << 10
	o.Cache.CapacityBytes = 4 * 4096
	o.Seed = 1
	return o
}

func newMem() *disk.Mem {
	m := disk.NewMem(testDeviceBytes, testSector)
	m.RequireAligned(true)
	return m
}

func openStore(t testing.TB, dev disk.Device, opts Options) *Store {
	t.Helper()
	s, err := Open(dev, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t testing.TB, opts Options) (*Store, *disk.Mem) {
	t.Helper()
	m := newMem()
	if err := Format(m, opts); err != nil {
		t.Fatalf("Format: %v", err)
	}
	return openStore(t, m, opts), m
}

func value(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestAppendGetSyncReopen(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	s, m := newStore(t, opts)
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 511, 512, 513, 4096, 8 << 10, 8<<10 + 1, 20 << 10, 100}
	for range 24 {
		// Frames small enough for the cache (at most a quarter of it),
		// spread over more pages than it holds: reads evict.
		sizes = append(sizes, 900)
	}
	var locs [][]Locator
	var vals [][]byte
	var deps []dep.Dependency
	for _, n := range sizes {
		v := value(rng, n)
		l, _, d, err := s.AppendSplit(ctx, StreamData, v, dep.Dependency{})
		if err != nil {
			t.Fatalf("Put(%d bytes): %v", n, err)
		}
		if want := max(1, (n+opts.ChunkPayloadMax-1)/opts.ChunkPayloadMax); len(l) != want {
			t.Fatalf("Put(%d bytes) gave %d locators, want %d", n, len(l), want)
		}
		// Read your writes, whether queued, in flight or issued.
		got, err := s.Get(ctx, l)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("Get right after Put(%d bytes) = %d bytes, %v", n, len(got), err)
		}
		locs, vals, deps = append(locs, l), append(vals, v), append(deps, d)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	for i, d := range deps {
		if !d.IsPersistent() {
			t.Fatalf("put %d not persistent after Sync", i)
		}
	}
	check := func(s *Store, when string) {
		for i := range locs {
			got, err := s.Get(ctx, locs[i])
			if err != nil || !bytes.Equal(got, vals[i]) {
				t.Fatalf("%s: Get(%v) = %d bytes, %v; want %d bytes", when, locs[i], len(got), err, len(vals[i]))
			}
		}
	}
	check(s, "after sync")
	check(s, "after sync, cached")
	if st := s.Stats(); st.Cache.Hits == 0 || st.Cache.Evictions == 0 {
		t.Errorf("cache stats %+v: want hits and evictions with a 4-page cache", st.Cache)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.GetChunk(ctx, locs[0][0]); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
	// A crash after a clean close loses nothing.
	s2 := openStore(t, m.Crash(rand.New(rand.NewPCG(3, 4)), disk.CrashTorn), opts)
	check(s2, "after reopen")
	// Recovered extents are sealed: new chunks go to a fresh extent.
	l, _, _, err := s2.Append(ctx, StreamData, []byte("new"), dep.Dependency{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ls := range locs {
		for _, old := range ls {
			if old.Extent == l.Extent {
				t.Fatalf("after reopen, a new chunk went to extent %d, which holds recovered data", l.Extent)
			}
		}
	}
}

func TestResetRejectsOldLocators(t *testing.T) {
	ctx := context.Background()
	s, m := newStore(t, testOptions())
	old, _, _, err := s.Append(ctx, StreamData, []byte("before reset"), dep.Dependency{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reset(ctx, old.Extent); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Fatalf("Reset of the open extent = %v, want ErrInvalidArgument", err)
	}
	s.Seal(StreamData)
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetChunk(ctx, old); err != nil {
		t.Fatal(err)
	}
	rd, err := s.Reset(ctx, old.Extent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetChunk(ctx, old); !errors.Is(err, extent.ErrStale) {
		t.Fatalf("Get of a locator from before the reset = %v, want ErrStale", err)
	}
	if info := s.Extent(old.Extent); info.Generation != old.Generation+1 || info.Owner != extent.Free || info.WritePointer != 0 {
		t.Fatalf("extent after reset = %+v", info)
	}
	// The freed extent is reused (lowest free first) at the new generation,
	// at the same offset, and the old locator still does not read the new
	// chunk.
	nl, _, nd, err := s.Append(ctx, StreamData, []byte("after reset!"), dep.Dependency{})
	if err != nil {
		t.Fatal(err)
	}
	if nl.Extent != old.Extent || nl.Offset != old.Offset || nl.Length != old.Length || nl.Generation != old.Generation+1 {
		t.Fatalf("new locator %v, old %v: want the same place at the next generation", nl, old)
	}
	if _, err := s.GetChunk(ctx, old); !errors.Is(err, extent.ErrStale) {
		t.Fatalf("old locator after reuse = %v, want ErrStale", err)
	}
	if err := nd.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if !rd.IsPersistent() {
		t.Fatal("a chunk in a reset extent became durable before the reset")
	}
	// And after a crash.
	s.Close()
	s2 := openStore(t, m.Crash(rand.New(rand.NewPCG(1, 1)), disk.CrashRandom), testOptions())
	if _, err := s2.GetChunk(ctx, old); !errors.Is(err, extent.ErrStale) {
		t.Fatalf("old locator after reboot = %v, want ErrStale", err)
	}
	if got, err := s2.GetChunk(ctx, nl); err != nil || string(got) != "after reset!" {
		t.Fatalf("new locator after reboot = %q, %v", got, err)
	}
}

func TestReadBeyondWritePointer(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, testOptions())
	l, _, _, err := s.Append(ctx, StreamData, []byte("x"), dep.Dependency{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Locator{
		{Extent: l.Extent, Generation: l.Generation, Offset: l.Offset, Length: l.Length + 1},
		{Extent: l.Extent, Generation: l.Generation, Offset: uint32(l.End()), Length: 0},
		{Extent: l.Extent + 1, Generation: 0, Offset: 0, Length: 0},
	} {
		if _, err := s.GetChunk(ctx, bad); !errors.Is(err, extent.ErrBeyondWritePointer) {
			t.Errorf("Get(%v) = %v, want ErrBeyondWritePointer", bad, err)
		}
	}
	if _, err := s.GetChunk(ctx, Locator{Extent: 9999}); err == nil {
		t.Error("Get of extent 9999 succeeded")
	}
}

// A crash after the data of a chunk reached the device but before the
// superblock covered it: recovery must not trust it (it is past the write
// pointer), and the raw bytes, torn, must not decode.
func TestTornFrameAfterCrash(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	opts.Scheduler.FlushInterval = 1 << 40 // only explicit flushes
	// A queue of one sector's worth is issued at once, though nobody waits
	// (the scheduler holds back less than IOBytesMax).
	opts.Scheduler.IOBytesMax = 512
	s, m := newStore(t, opts)
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	v := value(rand.New(rand.NewPCG(5, 5)), 3000) // spans 6+ sectors
	l, _, d, err := s.Append(ctx, StreamData, v, dep.Dependency{})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the scheduler has issued it (not flushed: nobody waits).
	for s.sched.Issued(l.Extent, l.Generation) < l.End() {
		s.sched.Kick()
	}
	if d.IsPersistent() {
		t.Fatal("persistent without a flush")
	}
	rng := rand.New(rand.NewPCG(7, 7))
	torn := 0
	for i := 0; i < 200; i++ {
		c := m.Crash(rng, disk.CrashTorn)
		raw := readRaw(t, c, s.geo.Base(l.Extent)+int64(l.Offset), int(l.FrameBytes()))
		f, _, err := DecodeFrame(raw, opts.ChunkPayloadMax)
		if err == nil {
			if !bytes.Equal(f.Payload, v) {
				t.Fatalf("crash %d: torn frame decoded to wrong data", i)
			}
		} else {
			if !errors.Is(err, engine.ErrCorruption) {
				t.Fatalf("crash %d: decode error %v does not wrap ErrCorruption", i, err)
			}
			torn++
		}
		s2, err := Open(c, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s2.GetChunk(ctx, l); !errors.Is(err, extent.ErrBeyondWritePointer) {
			t.Fatalf("crash %d: Get of an unpersisted chunk after recovery = %v, want ErrBeyondWritePointer", i, err)
		}
		s2.Close()
	}
	if torn == 0 {
		t.Fatal("no crash tore the frame")
	}
}

// The paper's bug #10: a UUID that begins with the frame magic. A scan that
// meets a torn frame resynchronises by looking for the magic; it finds it in
// the UUID fields of the torn frame, and must not decode anything there, nor
// lose the frames after it.
func TestUUIDMagicCollisionTornFrame(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	opts.UUID = func(r *rand.Rand) UUID {
		var id UUID
		for i := range id {
			id[i] = byte(r.Uint32())
		}
		id[0], id[1] = byte(format.FrameMagic&0xff), byte(format.FrameMagic>>8)
		return id
	}
	s, _ := newStore(t, opts)
	rng := rand.New(rand.NewPCG(9, 9))
	var locs []Locator
	var vals [][]byte
	for i := 0; i < 3; i++ {
		v := value(rng, 1500)
		l, _, _, err := s.Append(ctx, StreamData, v, dep.Dependency{})
		if err != nil {
			t.Fatal(err)
		}
		locs, vals = append(locs, l), append(vals, v)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	img := readRaw(t, s.dev, s.geo.Base(locs[0].Extent), int(locs[2].End()))
	// Tear the middle frame: lose its first bytes (a sector never written),
	// keep the rest, as a crash that kept later sectors of a write can.
	mid := int(locs[1].Offset)
	for i := mid; i < mid+100; i++ {
		img[i] = 0
	}
	var got []ScanEntry
	ScanBytes(img, 0, opts.ChunkPayloadMax, func(e ScanEntry) bool { got = append(got, e); return true })
	if len(got) != 3 || got[0].Err != nil || got[1].Err == nil || got[2].Err != nil {
		t.Fatalf("scan of a torn middle frame: %d entries %+v; want frame, corrupt region, frame", len(got), got)
	}
	if !bytes.Equal(got[0].Frame.Payload, vals[0]) || !bytes.Equal(got[2].Frame.Payload, vals[2]) || got[2].Offset != int64(locs[2].Offset) {
		t.Fatal("scan returned the wrong frames around the torn one")
	}
	// The collision is real: the magic occurs at the torn frame's trailing
	// UUID, and decoding there fails.
	trail := int(locs[1].End()) - format.UUIDSize
	if _, _, err := DecodeFrame(img[trail:], opts.ChunkPayloadMax); err == nil {
		t.Fatal("a frame decoded at a UUID that collides with the magic")
	}
}

func TestScanAndEvacuate(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, testOptions())
	rng := rand.New(rand.NewPCG(1, 1))
	want := map[Locator][]byte{}
	for i := 0; i < 30; i++ {
		v := value(rng, rng.IntN(4000))
		l, _, _, err := s.Append(ctx, StreamData, v, dep.Dependency{})
		if err != nil {
			t.Fatal(err)
		}
		want[l] = v
	}
	e, _ := s.OpenExtent(StreamData)
	seen := 0
	check := func(when string) {
		seen = 0
		err := s.Scan(ctx, e, func(r ScanResult) bool {
			if r.Err != nil {
				t.Fatalf("%s: scan found corruption at %d: %v", when, r.Offset, r.Err)
			}
			if v, ok := want[r.Locator]; !ok || !bytes.Equal(v, r.Frame.Payload) {
				t.Fatalf("%s: scan found %v, not a chunk that was put there", when, r.Locator)
			}
			seen++
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for l := range want {
		if l.Extent != e {
			t.Fatalf("chunk %v not in the open extent %d", l, e)
		}
	}
	check("before sync") // some frames still queued
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	check("after sync")
	if seen != len(want) {
		t.Fatalf("scan saw %d frames, want %d", seen, len(want))
	}
}

func TestOptionsValidate(t *testing.T) {
	o := Options{ExtentBytes: 100, ChunkPayloadMax: -1}
	o.Scheduler.Policy = "lifo"
	o.EnsureDefaults()
	err := o.Validate()
	if err == nil {
		t.Fatal("invalid options validated")
	}
	for _, want := range []string{"extent size 100", "chunk payload max -1", `policy "lifo"`} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("Validate() = %v; want it to mention %q", err, want)
		}
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("DefaultOptions().Validate() = %v", err)
	}
}

func TestOpenUnformatted(t *testing.T) {
	_, err := Open(newMem(), testOptions())
	if !errors.Is(err, engine.ErrCorruption) {
		t.Fatalf("Open of a blank device = %v, want ErrCorruption", err)
	}
}

// readRaw reads n bytes at off, with sector-aligned IO.
func readRaw(t testing.TB, dev disk.Device, off int64, n int) []byte {
	t.Helper()
	ss := int64(dev.SectorSize())
	start := off / ss * ss
	end := (off + int64(n) + ss - 1) / ss * ss
	buf := disk.AlignedBuffer(int(end - start))
	if _, err := dev.ReadAt(buf, start); err != nil {
		t.Fatal(err)
	}
	return buf[off-start : off-start+int64(n)]
}

// TestWriteThroughCache: the pages a round of small data chunks completes
// go to the cache as they are written, so reading those chunks back does
// not touch the device; the partial last page is not cached (its bytes are
// rewritten by the next round) but read from the scheduler, and chunks
// too big to be read through the cache are not cached as they are
// written.
func TestWriteThroughCache(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	opts.CacheReadMax = 2048
	s, m := newStore(t, opts)
	rng := rand.New(rand.NewPCG(1, 2))
	pb := int64(s.cache.PageBytes())
	put := func(n int) (Locator, []byte) {
		t.Helper()
		v := value(rng, n)
		loc, _, d, err := s.Append(ctx, StreamData, v, dep.Dependency{})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Wait(ctx); err != nil { // one round per chunk
			t.Fatal(err)
		}
		return loc, v
	}
	var locs []Locator
	var vals [][]byte
	for range 20 { // 20 × (300 + 44) bytes: one page complete, one partial
		loc, v := put(300)
		locs, vals = append(locs, loc), append(vals, v)
	}
	end := int64(locs[len(locs)-1].End())
	if end/pb != 1 {
		t.Fatalf("the chunks end at %d: want one complete page of %d", end, pb)
	}
	if got := s.cache.ExtentPages(locs[0].Extent); got != 1 {
		t.Errorf("%d pages of the extent cached, want 1 (the complete one)", got)
	}
	// Every chunk reads back without the device: those on the complete
	// page from the cache, those on the partial page from the scheduler's
	// copy of it, and the one across the boundary from both.
	straddles := false
	for _, loc := range locs {
		straddles = straddles || (int64(loc.Offset) < pb && int64(loc.End()) > pb)
	}
	if !straddles {
		t.Fatal("no chunk straddles the page boundary")
	}
	before := m.Stats().Reads
	for i, loc := range locs {
		got, err := s.GetChunk(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, vals[i]) {
			t.Fatalf("chunk %d: wrong bytes", i)
		}
	}
	if n := m.Stats().Reads - before; n != 0 {
		t.Errorf("%d device reads for chunks just written, want 0 (write-through and the partial page)", n)
	}

	big, v := put(6000) // > CacheReadMax
	first, last := (int64(big.Offset)+pb-1)/pb, int64(big.End())/pb
	if first >= last {
		t.Fatalf("chunk at %d+%d covers no whole page", big.Offset, big.Length)
	}
	for p := first; p < last; p++ {
		if _, ok := s.cache.Get(cache.Key{Extent: big.Extent, Gen: big.Generation, Page: uint32(p)}); ok {
			t.Errorf("page %d, wholly inside a chunk too big for the cache, was cached", p)
		}
	}
	got, err := s.GetChunk(ctx, big)
	if err != nil || !bytes.Equal(got, v) {
		t.Fatalf("big chunk: %v, equal %v", err, bytes.Equal(got, v))
	}
}

// TestCloseConfirmsLastSlot: a clean Close ends with a slot that advances
// no write pointer, so recovery trusts the slot of the last data round
// without verifying its bytes: a bit flipped in them afterwards is
// reported by the read of that chunk (corruption), not taken for a round
// that never finished and rolled back (the chunk silently gone).
func TestCloseConfirmsLastSlot(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	s, m := newStore(t, opts)
	v := value(rand.New(rand.NewPCG(3, 3)), 500)
	loc, _, d, err := s.Append(ctx, StreamData, v, dep.Dependency{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rec, err := superblock.Recover(m, s.geo)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.OtherValid || !slices.Equal(rec.Image.Records, rec.Other.Records) || rec.Image.DeltaCRC != 0 {
		t.Fatalf("after Close: newest slot %d advances past slot %d (delta CRC %#x): want a confirming slot",
			rec.Image.Sequence, rec.Other.Sequence, rec.Image.DeltaCRC)
	}
	// Flip a bit in the chunk's payload on the device.
	off := s.geo.Base(loc.Extent) + int64(loc.Offset) + 60
	sec := off / testSector * testSector
	b := make([]byte, testSector)
	if _, err := m.ReadAt(b, sec); err != nil {
		t.Fatal(err)
	}
	b[off-sec] ^= 0x10
	if _, err := m.WriteAt(b, sec); err != nil {
		t.Fatal(err)
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, m, opts)
	if _, err := s2.GetChunk(ctx, loc); !errors.Is(err, engine.ErrCorruption) {
		t.Fatalf("Get of a chunk with a flipped bit after a clean close = %v, want ErrCorruption", err)
	}
}

// TestCheckSequence: after a format and after every reopen the store's
// superblock sequence is above every one recovery saw; a store whose
// sequence is not (an open that wrote no slot of its own, or a fallback
// that reused the abandoned slot's sequence) is reported, naming both.
func TestCheckSequence(t *testing.T) {
	opts := testOptions()
	s, m := newStore(t, opts)
	if err := s.CheckSequence(); err != nil {
		t.Fatalf("after a format: %v", err)
	}
	if _, _, _, err := s.Append(context.Background(), StreamData, []byte("v"), dep.Dependency{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, m, opts)
	if err := s2.CheckSequence(); err != nil {
		t.Fatalf("after a reopen: %v", err)
	}
	s2.seenSeq = s2.sb.Sequence() // as if Begin's slot had not been taken
	err := s2.CheckSequence()
	if want := fmt.Sprintf("sequence %d is not above %d", s2.seenSeq, s2.seenSeq); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("CheckSequence with the sequence recovery saw = %v, want an error saying %q", err, want)
	}
}
