package superblock

import (
	"context"
	"errors"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// newTestManager formats a 16-extent device and returns a Manager over it,
// its table and its graph.
func newTestManager(t *testing.T) (*Manager, *extent.Table, *dep.Graph, *disk.Mem) {
	t.Helper()
	geo, err := extent.NewGeometry(1<<20, 64<<10, 512)
	if err != nil {
		t.Fatal(err)
	}
	dev := disk.NewMem(1<<20, 512)
	if err := Format(dev, geo); err != nil {
		t.Fatal(err)
	}
	rec, err := Recover(dev, geo)
	if err != nil {
		t.Fatal(err)
	}
	table := extent.NewTable(geo)
	for i, r := range rec.Image.Records {
		table.Restore(extent.ID(i), extent.Info{Generation: r.Generation, Owner: r.Owner, WritePointer: r.WritePointer})
	}
	g := dep.New(dep.Options{})
	return NewManager(geo, table, g, rec), table, g, dev
}

// round does what the IO scheduler does for a flush: prepare a slot, write
// it, flush, report it persisted. It reports whether there was a slot.
func round(t *testing.T, m *Manager, dev *disk.Mem) bool {
	t.Helper()
	p, off, tok, ok := m.Prepare()
	if !ok {
		return false
	}
	if _, err := dev.WriteAt(p, off); err != nil {
		t.Fatal(err)
	}
	if err := dev.Flush(); err != nil {
		t.Fatal(err)
	}
	m.Persisted(tok)
	return true
}

func newNode(t *testing.T, g *dep.Graph) *dep.Node {
	t.Helper()
	if err := g.Admit(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	return g.NewNode(dep.Dependency{}, dep.Chain{})
}

// TestWaitGenerationAlreadyPersisted is the interleaving behind a hang of
// chunk.TestCrashDependencyClosed (seeds 0x2d, 0xfe; about one run in a
// hundred): chunk.Store.Reset resets the extent table, then registers the
// reset's node with WaitGeneration. If the IO scheduler prepares, writes
// and persists a slot in between, that slot already records the new
// generation and Persisted finds no waiter; every later slot equals it, so
// Prepare reports nothing to write. The node must complete at
// registration, or nothing ever completes it and a Sync waits forever
// with the scheduler idle.
func TestWaitGenerationAlreadyPersisted(t *testing.T) {
	m, table, g, dev := newTestManager(t)
	e, _, err := table.Allocate(extent.Data)
	if err != nil {
		t.Fatal(err)
	}
	m.Touch()
	if !round(t, m, dev) {
		t.Fatal("no slot after an allocation")
	}

	// Store.Reset, with a scheduler round between the table's reset and
	// the registration of the reset's node.
	gen := table.Reset(e)
	m.Reset(e, gen)
	if !round(t, m, dev) {
		t.Fatal("no slot after a reset")
	}
	if got := m.PersistedRecord(e).Generation; got != gen {
		t.Fatalf("persisted generation %d, want %d", got, gen)
	}
	n := newNode(t, g)
	m.WaitGeneration(e, gen, n)

	// Scheduler rounds until nothing changes: the node must be durable.
	for i := 0; i < 3 && round(t, m, dev); i++ {
	}
	if !n.Durable() {
		t.Fatalf("reset of extent %d to generation %d: node pending although a persisted slot records the generation (dirty slot: %v)", e, gen, round(t, m, dev))
	}
	if dirty, _ := m.Want(); dirty {
		t.Error("superblock dirty with nothing left to persist")
	}

	// The ordinary order still waits for a slot: a reset registered before
	// any slot records it completes only once one is persisted.
	if x, _, err := table.Allocate(extent.Data); err != nil || x != e {
		t.Fatalf("Allocate = %d, %v; want extent %d", x, err, e)
	}
	gen = table.Reset(e)
	m.Reset(e, gen)
	n = newNode(t, g)
	m.WaitGeneration(e, gen, n)
	if n.Durable() {
		t.Fatal("reset node durable before any slot recorded the generation")
	}
	if !round(t, m, dev) || !n.Durable() {
		t.Fatal("reset node pending after a slot recorded the generation")
	}
}

// TestRootReadyAfterPrepareKeepsSuperblockDirty is the interleaving behind
// a hang the conformance checker found (reclamation's Sync waiting on a root
// with the IO scheduler and the index flusher idle): SetRoot marks the
// superblock dirty; a Prepare before the root's dependency is persistent
// skips the root and clears the flag; when the dependency then becomes
// persistent, nothing marked the superblock dirty again, so no slot ever
// recorded the root.
func TestRootReadyAfterPrepareKeepsSuperblockDirty(t *testing.T) {
	m, _, g, dev := newTestManager(t)
	data := newNode(t, g) // the run and metadata the root names
	rootNode := newNode(t, g)
	m.SetRoot([]byte("root-1"), data.Dependency(), rootNode)

	round(t, m, dev) // the scheduler's round starts before data is durable
	if rootNode.Durable() {
		t.Fatal("root recorded before its dependency was persistent")
	}
	g.MarkDurable(data)
	if dirty, _ := m.Want(); !dirty {
		t.Fatal("a root whose dependency is persistent waits, but the superblock is not dirty: nothing will ever record it")
	}
	if !round(t, m, dev) || !rootNode.Durable() {
		t.Fatal("the next round did not record the root")
	}
	if dirty, _ := m.Want(); dirty {
		t.Error("superblock dirty with nothing left to persist")
	}
}

// TestPersistedCompletesWritePointerWaiters: a persisted slot completes
// exactly the write-pointer waiters at or below the write pointer it
// records, in order, leaves the later ones for a later slot, and fails
// those past an abandoned append.
func TestPersistedCompletesWritePointerWaiters(t *testing.T) {
	m, table, g, dev := newTestManager(t)
	e, gen, err := table.Allocate(extent.Data)
	if err != nil {
		t.Fatal(err)
	}
	m.Touch()
	round(t, m, dev)
	const size = 100
	var nodes []*dep.Node
	var frames [][]byte
	for range 5 {
		off, err := table.Append(e, gen, size)
		if err != nil {
			t.Fatal(err)
		}
		n := newNode(t, g)
		m.WaitWritePointer(e, gen, off+size, n)
		nodes, frames = append(nodes, n), append(frames, make([]byte, size))
	}
	durable := func() (n int) {
		for _, x := range nodes {
			if x.Durable() {
				n++
			}
		}
		return n
	}
	m.DataIssued(e, gen, 0, frames[:2])
	if !round(t, m, dev) || durable() != 2 || !nodes[0].Durable() || !nodes[1].Durable() {
		t.Fatalf("after a slot covering 2 of 5 chunks: %d durable, want the first 2", durable())
	}
	m.DataIssued(e, gen, 2*size, frames[2:3])
	if !round(t, m, dev) || durable() != 3 {
		t.Fatalf("after a slot covering 3 of 5 chunks: %d durable, want 3", durable())
	}
	// The fifth append was abandoned (written as padding): its waiter
	// fails once a slot covers it; the fourth's completes.
	m.Abandoned(e, gen, 4*size)
	m.DataIssued(e, gen, 3*size, frames[3:])
	if !round(t, m, dev) || durable() != 4 {
		t.Fatalf("after a slot covering all 5 chunks: %d durable, want 4", durable())
	}
	if err := nodes[4].Err(); !errors.Is(err, ErrAbandoned) {
		t.Fatalf("the abandoned append's waiter: %v, want ErrAbandoned", err)
	}
}
