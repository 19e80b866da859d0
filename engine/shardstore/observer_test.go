package shardstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// countObserver counts events and phase entries.
type countObserver struct {
	mu     sync.Mutex
	events map[engine.Event]int
	phases map[engine.Phase]int
	depth  map[engine.Phase]int
}

func (o *countObserver) Event(ev engine.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events[ev]++
}

func (o *countObserver) Phase(p engine.Phase, begin bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if begin {
		o.phases[p]++
		o.depth[p]++
	} else {
		o.depth[p]--
	}
}

// TestObserverHearsStates: a store given an observer in its options
// reports the states a small workload reaches — overwrites on a tiny
// device, then reclamation and a reopen — and its phases begin and end in
// pairs.
func TestObserverHearsStates(t *testing.T) {
	ctx := context.Background()
	obs := &countObserver{events: map[engine.Event]int{}, phases: map[engine.Phase]int{}, depth: map[engine.Phase]int{}}
	o := Options{ExtentBytes: 64 << 10, CacheBytes: 32 << 10, MemtableBytes: 1 << 10, ValueCacheBytes: -1, Seed: 1, Observer: obs}
	mem := disk.NewMem(1<<20, 512)
	s, err := Open(mem, o)
	if err != nil {
		t.Fatal(err)
	}
	val := make([]byte, 3000)
	// Cold keys, written once: their chunks are live on an extent
	// reclamation frees, so it evacuates them.
	for i := range 4 {
		if err := s.Put(ctx, []byte(fmt.Sprintf("cold%d", i)), val); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		if err := s.Put(ctx, []byte(fmt.Sprintf("k%d", i%8)), val); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		if _, err := s.Get(ctx, []byte(fmt.Sprintf("k%d", (i*5)%8))); err != nil && (i >= 8 || !errors.Is(err, engine.ErrNotFound)) {
			t.Fatalf("get %d: %v", i, err)
		}
	}
	for _, op := range []engine.MaintenanceOp{engine.IndexFlush, engine.Compact, engine.Reclaim} {
		if err := s.Maintain(ctx, op); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(mem, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []engine.Event{engine.EventExtentReset, engine.EventChunkEvacuated, engine.EventCacheEviction,
		engine.EventWritesCoalesced, engine.EventIndexFlush, engine.EventReclaim, engine.EventRecovery, engine.SchedulerEvent("coalesce")} {
		if obs.events[ev] == 0 {
			t.Errorf("event %s never reported; got %v", ev, obs.events)
		}
	}
	for _, p := range []engine.Phase{engine.PhaseForegroundWrite, engine.PhaseIndexFlush, engine.PhaseCompaction, engine.PhaseReclamation, engine.PhaseRecovery} {
		if obs.phases[p] == 0 {
			t.Errorf("phase %s never entered; got %v", p, obs.phases)
		}
		if obs.depth[p] != 0 {
			t.Errorf("phase %s: %d more entries than exits", p, obs.depth[p])
		}
	}
}

// TestQueueBackpressureReached: with a small QueueBytesMax (spec option
// queue), puts of one client wait on the IO scheduler's queue and the
// observer hears queue-backpressure; at the default bound (64 MiB) a check
// device never fills it, which is why no checker reached it before.
func TestQueueBackpressureReached(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		queue int64
		want  bool
	}{{4 << 10, true}, {0, false}} {
		obs := &countObserver{events: map[engine.Event]int{}, phases: map[engine.Phase]int{}, depth: map[engine.Phase]int{}}
		o := Options{ExtentBytes: 64 << 10, CacheBytes: 32 << 10, MemtableBytes: 1 << 10, ValueCacheBytes: -1, Seed: 1, Observer: obs, QueueBytesMax: c.queue}
		s, err := Open(disk.NewMem(1<<20, 512), o)
		if err != nil {
			t.Fatal(err)
		}
		val := make([]byte, 3000)
		for i := range 100 {
			if err := s.Put(ctx, []byte(fmt.Sprintf("k%d", i%20)), val); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got := obs.events[engine.EventQueueBackpressure] > 0; got != c.want {
			t.Errorf("queue bound %d: queue-backpressure heard %v (%d times), want %v", c.queue, got, obs.events[engine.EventQueueBackpressure], c.want)
		}
	}
}

// phaseTags is a device that records the phase of every tagged write.
type phaseTags struct {
	*disk.Mem
	mu     sync.Mutex
	phases map[string]int
}

func (d *phaseTags) WriteAtTagged(p []byte, off int64, tag disk.IOTag) (int, error) {
	d.mu.Lock()
	d.phases[tag.Phase]++
	d.mu.Unlock()
	return d.WriteAt(p, off)
}

// TestWritesCarryTheirPhase: with an observer, the writes a compaction, an
// index flush and a put queue reach the device tagged with that phase
// (the recorder attributes a failed write to it), though the IO scheduler
// issues them later, when the phase may be over.
func TestWritesCarryTheirPhase(t *testing.T) {
	ctx := context.Background()
	obs := &countObserver{events: map[engine.Event]int{}, phases: map[engine.Phase]int{}, depth: map[engine.Phase]int{}}
	dev := &phaseTags{Mem: disk.NewMem(1<<20, 512), phases: map[string]int{}}
	s, err := Open(dev, Options{ExtentBytes: 64 << 10, CacheBytes: 32 << 10, MemtableBytes: 64 << 10, Seed: 1, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 { // eight runs: compaction merges them
		if err := s.Put(ctx, fmt.Appendf(nil, "k%d", i), make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		if err := s.Maintain(ctx, engine.IndexFlush); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Maintain(ctx, engine.Compact); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []engine.Phase{engine.PhaseForegroundWrite, engine.PhaseIndexFlush, engine.PhaseCompaction} {
		if dev.phases[string(p)] == 0 {
			t.Errorf("no write tagged %s; tags %v", p, dev.phases)
		}
	}
}
