package pebble

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
)

type tally struct {
	mu     sync.Mutex
	events map[engine.Event]int
	phases map[engine.Phase]int
}

func (t *tally) Event(ev engine.Event) { t.mu.Lock(); t.events[ev]++; t.mu.Unlock() }
func (t *tally) Phase(p engine.Phase, begin bool) {
	t.mu.Lock()
	if begin {
		t.phases[p]++
	}
	t.mu.Unlock()
}

// TestObserverHearsFlushes: Pebble's flushes and compactions, through its
// EventListener, reach the observer in the options as the same events and
// phases as shardstore's index flushes and compactions.
func TestObserverHearsFlushes(t *testing.T) {
	obs := &tally{events: map[engine.Event]int{}, phases: map[engine.Phase]int{}}
	o := DefaultOptions()
	o.MemTableSize = 1 << 20
	o.Observer = obs
	db, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	val := make([]byte, 4096)
	for round := range 4 {
		for i := range 400 {
			if err := db.Put(ctx, []byte(fmt.Sprintf("k%05d", i)), val); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Maintain(ctx, engine.IndexFlush); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	if err := db.Maintain(ctx, engine.Compact); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.events[engine.EventIndexFlush] == 0 || obs.phases[engine.PhaseIndexFlush] == 0 || obs.events[engine.EventCompaction] == 0 {
		t.Fatalf("events %v, phases %v: want flushes and a compaction", obs.events, obs.phases)
	}
}
