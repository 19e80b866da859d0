package iosched

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// noMeta is a Metadata with no superblock.
type noMeta struct{}

func (noMeta) Want() (bool, bool)                            { return false, false }
func (noMeta) Prepare() ([]byte, int64, any, bool)           { return nil, 0, nil, false }
func (noMeta) DataIssued(extent.ID, uint32, int64, [][]byte) {}
func (noMeta) Confirm() bool                                 { return false }
func (noMeta) Persisted(any)                                 {}

// run enqueues n appends of size bytes to extent 1 while the scheduler is
// held back by an undurable dependency of the first, then releases it.
func run(t *testing.T, policy Policy, n, size int) (Stats, *disk.Mem) {
	return runOpts(t, Options{Policy: policy, FlushInterval: 1 << 40}, n, size)
}

func runOpts(t *testing.T, opts Options, n, size int) (Stats, *disk.Mem) {
	mem := disk.NewMem(1<<20, 512)
	mem.RequireAligned(true)
	return runDev(t, mem, opts, n, size), mem
}

// runDev is runOpts on dev, a 1 MiB device of 512-byte sectors.
func runDev(t *testing.T, dev disk.Device, opts Options, n, size int) Stats {
	ctx := context.Background()
	geo, _ := extent.NewGeometry(1<<20, 64<<10, 512)
	g := dep.New(dep.Options{})
	s, err := New(dev, geo, g, noMeta{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Admit(ctx, n+1); err != nil {
		t.Fatal(err)
	}
	gate := g.NewNode(dep.Dependency{}, dep.Chain{})
	var all dep.Dependency
	for i := 0; i < n; i++ {
		d := dep.Dependency{}
		if i == 0 {
			d = gate.Dependency()
		}
		node := g.NewNode(d, dep.Chain{})
		frame := make([]byte, size)
		for j := range frame {
			frame[j] = byte(i + 1)
		}
		if err := s.Reserve(ctx, int64(size)); err != nil {
			t.Fatal(err)
		}
		s.Enqueue(&Write{Extent: 1, Gen: 0, Offset: int64(i * size), Frame: frame, Node: node})
		all = all.And(node.Dependency())
	}
	g.MarkDurable(gate)
	if err := all.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return s.Stats()
}

// checkPacked checks that the n appends of size bytes of runDev lie packed
// at the start of extent 1, append i of byte i+1, and zeros after them up
// to the next sector.
func checkPacked(t *testing.T, dev disk.Device, n, size int) {
	t.Helper()
	end := (n*size + 511) / 512 * 512
	buf := make([]byte, end)
	if _, err := dev.ReadAt(buf, 64<<10); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		want := byte(0)
		if i < n*size {
			want = byte(i/size + 1)
		}
		if buf[i] != want {
			t.Fatalf("byte %d is %d, want %d", i, buf[i], want)
		}
	}
}

func TestCoalesceMergesAndGroupCommits(t *testing.T) {
	st, mem := run(t, PolicyCoalesce, 20, 300)
	if st.Writes != 20 || st.IOs != 1 || st.Merges != 19 || st.Flushes != 1 {
		t.Fatalf("coalesce: %+v; want 20 appends in 1 IO and 1 flush", st)
	}
	// Bytes are packed: append i at i*300, across sector boundaries.
	buf := make([]byte, 6144)
	if _, err := mem.ReadAt(buf, 64<<10); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if buf[i*300] != byte(i+1) || buf[i*300+299] != byte(i+1) {
			t.Fatalf("append %d not at %d", i, i*300)
		}
	}
	st, _ = run(t, PolicyFIFO, 20, 300)
	if st.IOs != 20 || st.Merges != 0 || st.Flushes != 1 {
		t.Fatalf("fifo: %+v; want 20 IOs, no merges, 1 flush", st)
	}
	// elevator merges as coalesce does, and the bytes land the same.
	st, mem = run(t, PolicyElevator, 20, 300)
	if st.Writes != 20 || st.IOs != 1 || st.Merges != 19 || st.Flushes != 1 {
		t.Fatalf("elevator: %+v; want 20 appends in 1 IO and 1 flush", st)
	}
	if _, err := mem.ReadAt(buf, 64<<10); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if buf[i*300] != byte(i+1) || buf[i*300+299] != byte(i+1) {
			t.Fatalf("elevator: append %d not at %d", i, i*300)
		}
	}
}

// TestLongRunSplitAtSectors: a run of coalesced appends longer than
// IOBytesMax is written as several device writes cut at sector boundaries,
// issued concurrently, and the bytes land packed as if written at once.
func TestLongRunSplitAtSectors(t *testing.T) {
	for _, depth := range []int{1, 4} {
		t.Run(fmt.Sprintf("depth=%d", depth), func(t *testing.T) {
			st, mem := runOpts(t, Options{IOBytesMax: 1000, IODepth: depth, FlushInterval: 1 << 40}, 20, 300)
			// 6000 bytes in 512-byte sectors: 6144 bytes, in pieces of at
			// most 512 (1000 rounded down to a sector).
			if st.Writes != 20 || st.IOs != 12 || st.IOBytes != 6144 || st.Merges != 19 || st.Flushes != 1 {
				t.Fatalf("%+v; want 20 appends in 12 IOs of 6144 bytes, 1 flush", st)
			}
			checkPacked(t, mem, 20, 300)
		})
	}
}

// TestLargeWritesHeldUntilAnIOsWorth: writes of at least holdFrameMin that
// nobody waits for stay queued until IOBytesMax of them are, then go to the
// device as one IO; a waiter sends held writes at once; small writes are
// never held.
func TestLargeWritesHeldUntilAnIOsWorth(t *testing.T) {
	ctx := context.Background()
	geo, _ := extent.NewGeometry(4<<20, 1<<20, 512)
	const size = holdFrameMin
	for _, tc := range []struct {
		name  string
		size  int
		count int // writes enqueued before the check
		held  bool
	}{
		{"large, less than an IO", size, 3, true},
		{"large, an IO's worth", size, 4, false},
		{"small", 512, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := disk.NewMem(4<<20, 512)
			g := dep.New(dep.Options{})
			s, err := New(mem, geo, g, noMeta{}, Options{IOBytesMax: 4 * size, FlushInterval: 1 << 40})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := g.Admit(ctx, tc.count); err != nil {
				t.Fatal(err)
			}
			var last *dep.Node
			for i := range tc.count {
				last = g.NewNode(dep.Dependency{}, dep.Chain{})
				if err := s.Reserve(ctx, int64(tc.size)); err != nil {
					t.Fatal(err)
				}
				s.Enqueue(&Write{Extent: 1, Offset: int64(i * tc.size), Frame: make([]byte, tc.size), Node: last})
			}
			want := int64(tc.count * tc.size)
			if !tc.held {
				// Not held: issued without anybody waiting. Kick until
				// the worker has taken them (it runs on its own). The
				// worker may have seen the last write reserved but not
				// yet queued, taken the others, and then held that one
				// alone: with large writes, count on the others only.
				min := want
				if tc.size >= holdFrameMin {
					min -= int64(tc.size)
				}
				for s.Issued(1, 0) < min {
					s.Kick()
				}
				return
			}
			// Held: once the worker has looked at the queue after the
			// last enqueue, every write is still queued; a waiter then
			// sends them.
			s.mu.Lock()
			e0 := s.evals
			s.mu.Unlock()
			for {
				s.Kick()
				s.mu.Lock()
				looked, queued := s.evals > e0, len(s.queues[1].pending)
				s.mu.Unlock()
				if looked {
					if queued != tc.count {
						t.Fatalf("%d of %d writes left queued with nobody waiting and less than an IO's worth: want all held", queued, tc.count)
					}
					break
				}
			}
			if err := last.Dependency().Wait(ctx); err != nil {
				t.Fatal(err)
			}
			if got := s.Issued(1, 0); got != want {
				t.Fatalf("after a wait: %d bytes issued, want %d", got, want)
			}
			if st := s.Stats(); st.IOs != 1 {
				t.Fatalf("%d IOs for the held writes, want 1", st.IOs)
			}
		})
	}
}

// TestRecycleAfterPublish: with Options.Recycle set, every write's frame
// comes back once, untouched, only after its bytes are on the device (the
// extent's issued offset covers it), and Write.Frame is cleared; reads of
// the extent's last partial page are still served from the scheduler.
func TestRecycleAfterPublish(t *testing.T) {
	ctx := context.Background()
	geo, _ := extent.NewGeometry(1<<20, 64<<10, 512)
	mem := disk.NewMem(1<<20, 512)
	g := dep.New(dep.Options{})
	const n, size = 20, 300
	var (
		s        *Scheduler
		recycled [][]byte
		early    []string
	)
	opts := Options{FlushInterval: 1 << 40, Recycle: func(frames [][]byte) {
		for _, f := range frames {
			// Frame i holds byte(i+1) and was written at i*size.
			end := int64(f[0]) * size
			if got := s.Issued(1, 0); got < end {
				early = append(early, fmt.Sprintf("frame %d back with %d bytes issued", f[0]-1, got))
			}
		}
		recycled = append(recycled, frames...)
	}}
	s, err := New(mem, geo, g, noMeta{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Admit(ctx, n); err != nil {
		t.Fatal(err)
	}
	var all dep.Dependency
	var writes []*Write
	for i := 0; i < n; i++ {
		node := g.NewNode(dep.Dependency{}, dep.Chain{})
		frame := bytes.Repeat([]byte{byte(i + 1)}, size)
		if err := s.Reserve(ctx, size); err != nil {
			t.Fatal(err)
		}
		w := &Write{Extent: 1, Offset: int64(i * size), Frame: frame, Node: node}
		writes = append(writes, w)
		s.Enqueue(w)
		all = all.And(node.Dependency())
		if i%7 == 6 { // several rounds
			if err := all.Wait(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := all.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// The last page is partial: served from the scheduler's tail copy.
	if b := make([]byte, size); !s.ReadUnissued(1, 0, (n-1)*size, b) || !bytes.Equal(b, bytes.Repeat([]byte{n}, size)) {
		t.Errorf("last frame from the scheduler: %x", b)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(early) > 0 {
		t.Fatalf("frames recycled before they were on the device: %v", early)
	}
	if len(recycled) != n {
		t.Fatalf("%d frames recycled, want %d", len(recycled), n)
	}
	seen := map[byte]bool{}
	for _, f := range recycled {
		if len(f) != size || !bytes.Equal(f, bytes.Repeat(f[:1], size)) || seen[f[0]] {
			t.Fatalf("recycled frame changed or returned twice: %x", f)
		}
		seen[f[0]] = true
	}
	for i, w := range writes {
		if w.Frame != nil {
			t.Errorf("write %d keeps its frame after recycling", i)
		}
	}
}

// batchMem is a disk.Mem that takes batches, recording their sizes and
// depths.
type batchMem struct {
	*disk.Mem
	batches []int
}

func (m *batchMem) WriteBatch(ws []disk.BatchWrite, depth int, prepare func(i int)) {
	m.batches = append(m.batches, len(ws), depth)
	for i := range ws {
		if prepare != nil {
			prepare(i)
		}
		ws[i].N, ws[i].Err = m.WriteAt(ws[i].P, ws[i].Off)
	}
}

// TestBatchWriterPieces: on a disk.BatchWriter a long run's pieces go to
// the device as one batch with IODepth in flight, each piece's bytes copied in
// by prepare, and land packed as with the workers.
func TestBatchWriterPieces(t *testing.T) {
	dev := &batchMem{Mem: disk.NewMem(1<<20, 512)}
	dev.RequireAligned(true)
	st := runDev(t, dev, Options{IOBytesMax: 1000, IODepth: 4, FlushInterval: 1 << 40}, 20, 300)
	// 6000 bytes in 12 pieces of 512: one batch, depth 4.
	if fmt.Sprint(dev.batches) != "[12 4]" || st.IOs != 12 || st.Writes != 20 {
		t.Errorf("batches (size, depth) %v, %d IOs of %d writes; want [12 4], 12 IOs of 20", dev.batches, st.IOs, st.Writes)
	}
	checkPacked(t, dev, 20, 300)
}

// TestReserveBackPressure: Reserve takes room without waiting while the
// queue has it, blocks once QueueBytesMax bytes are queued until a round
// takes some, gives up when its context does, and fails once the
// scheduler is closing.
func TestReserveBackPressure(t *testing.T) {
	ctx := context.Background()
	geo, _ := extent.NewGeometry(1<<20, 64<<10, 512)
	g := dep.New(dep.Options{})
	s, err := New(disk.NewMem(1<<20, 512), geo, g, noMeta{}, Options{QueueBytesMax: 2048, FlushInterval: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Admit(ctx, 3); err != nil {
		t.Fatal(err)
	}
	gate := g.NewNode(dep.Dependency{}, dep.Chain{}) // holds the writes queued
	var all dep.Dependency
	for i := range 2 {
		if err := s.Reserve(ctx, 1024); err != nil {
			t.Fatal(err)
		}
		n := g.NewNode(gate.Dependency(), dep.Chain{})
		s.Enqueue(&Write{Extent: 1, Offset: int64(i * 1024), Frame: make([]byte, 1024), Node: n})
		all = all.And(n.Dependency())
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Reserve(cancelled, 1024); err != context.Canceled {
		t.Fatalf("Reserve on a full queue with a cancelled context: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Reserve(ctx, 1024) }()
	for { // until it waits (a condition, not a time)
		select {
		case err := <-done:
			t.Fatalf("Reserve returned (%v) while the queue was full", err)
		default:
		}
		s.mu.Lock()
		waiting := s.reserving == 1
		s.mu.Unlock()
		if waiting {
			break
		}
		runtime.Gosched()
	}
	g.MarkDurable(gate) // the next round takes the queued writes
	s.Kick()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := all.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	s.Unreserve(1024)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(ctx, 1); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Reserve after Close: %v", err)
	}
}

// TestStatsCheck: counters that agree pass; a queue deeper than its
// recorded maximum, appends of no class and IOs missing from the size
// histogram are each reported.
func TestStatsCheck(t *testing.T) {
	ok := Stats{QueueDepth: 2, QueueDepthMax: 5, Writes: 3, ForegroundWrites: 1, BackgroundWrites: 2, IOs: 2}
	ok.IOSizeLog2[12] = 2
	if err := ok.Check(); err != nil {
		t.Fatalf("consistent stats: %v", err)
	}
	for _, c := range []struct {
		name string
		bad  func(*Stats)
		want string
	}{
		{"depth over max", func(s *Stats) { s.QueueDepthMax = 1 }, "most ever queued"},
		{"write of no class", func(s *Stats) { s.Writes++ }, "foreground"},
		{"IO not sized", func(s *Stats) { s.IOs++ }, "size histogram"},
	} {
		st := ok
		c.bad(&st)
		if err := st.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
}
