package dep

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
)

func newNode(t *testing.T, g *Graph, d Dependency, c Chain) *Node {
	t.Helper()
	if err := g.Admit(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	return g.NewNode(d, c)
}

func TestReadyAndDurable(t *testing.T) {
	g := New(Options{})
	a := newNode(t, g, Dependency{}, Chain{})
	b := newNode(t, g, a.Dependency(), Chain{})
	if ok, _ := b.Ready(); ok {
		t.Fatal("b ready before a is durable")
	}
	if (Dependency{}).IsPersistent() != true {
		t.Fatal("the empty dependency is not persistent")
	}
	g.MarkDurable(a)
	if ok, err := b.Ready(); !ok || err != nil {
		t.Fatalf("b.Ready() = %v, %v after a is durable", ok, err)
	}
	if !a.Dependency().IsPersistent() || b.Dependency().IsPersistent() {
		t.Fatal("IsPersistent wrong")
	}
	if g.Undurable() != 1 {
		t.Fatalf("Undurable = %d, want 1", g.Undurable())
	}
}

func TestAndPrunesAndCollapsesChains(t *testing.T) {
	g := New(Options{})
	x1 := newNode(t, g, Dependency{}, Chain{ID: 7, Pos: 10})
	x2 := newNode(t, g, Dependency{}, Chain{ID: 7, Pos: 20})
	y := newNode(t, g, Dependency{}, Chain{ID: 8, Pos: 5})
	z := newNode(t, g, Dependency{}, Chain{})
	d := And(x1.Dependency(), y.Dependency(), x2.Dependency(), z.Dependency(), z.Dependency())
	if len(d.Nodes()) != 3 {
		t.Fatalf("And kept %d nodes, want 3 (x2, y, z)", len(d.Nodes()))
	}
	g.MarkDurable(z)
	if n := len(And(d).Nodes()); n != 2 {
		t.Fatalf("And after z durable kept %d nodes, want 2", n)
	}
}

// TestAndOfTwoAllocatesNothing: the shapes an append makes (nothing and a
// node, a node and itself, two nodes of one chain) give one of the two
// dependencies back, the same answer the general case gives, without
// allocating; two nodes of different chains still make a new dependency.
func TestAndOfTwoAllocatesNothing(t *testing.T) {
	g := New(Options{})
	x1 := newNode(t, g, Dependency{}, Chain{ID: 7, Pos: 10})
	x2 := newNode(t, g, Dependency{}, Chain{ID: 7, Pos: 20})
	y := newNode(t, g, Dependency{}, Chain{ID: 8, Pos: 5})
	for _, c := range []struct {
		d, e Dependency
		want *Node
	}{
		{Dependency{}, x1.Dependency(), x1},
		{x1.Dependency(), Dependency{}, x1},
		{x1.Dependency(), x1.Dependency(), x1},
		{x1.Dependency(), x2.Dependency(), x2},
		{x2.Dependency(), x1.Dependency(), x2},
	} {
		var got Dependency
		if n := testing.AllocsPerRun(10, func() { got = c.d.And(c.e) }); n != 0 {
			t.Errorf("And allocated %v times", n)
		}
		if len(got.Nodes()) != 1 || got.Nodes()[0] != c.want {
			t.Errorf("And = %v, want the node at %d", got.Nodes(), c.want.chain.Pos)
		}
	}
	if d := x2.Dependency().And(y.Dependency()); len(d.Nodes()) != 2 {
		t.Fatalf("And of two chains kept %d nodes, want 2", len(d.Nodes()))
	}
	if n := testing.AllocsPerRun(10, func() { _ = x1.Dependency() }); n != 0 {
		t.Errorf("Dependency allocated %v times", n)
	}
}

// TestAddOwned: adding in place keeps the highest node of each chain and
// every unchained node, like And, reuses a durable node's slot, allocates
// only when it grows, and never writes to a slice it did not make.
func TestAddOwned(t *testing.T) {
	g := New(Options{})
	x1 := newNode(t, g, Dependency{}, Chain{ID: 7, Pos: 10})
	x2 := newNode(t, g, Dependency{}, Chain{ID: 7, Pos: 20})
	y := newNode(t, g, Dependency{}, Chain{ID: 8, Pos: 5})
	z := newNode(t, g, Dependency{}, Chain{})
	var d Dependency
	d.AddOwned(x1.Dependency())
	d.AddOwned(x2.Dependency())
	if x1.self[0] != x1 {
		t.Fatal("AddOwned wrote to a node's own slice")
	}
	d.AddOwned(y.Dependency())
	if n := testing.AllocsPerRun(10, func() { d.AddOwned(x1.Dependency()); d.AddOwned(y.Dependency()) }); n != 0 {
		t.Errorf("adding nodes already covered allocated %v times", n)
	}
	got := map[*Node]bool{}
	for _, n := range d.Nodes() {
		got[n] = true
	}
	if len(got) != 2 || !got[x2] || !got[y] {
		t.Fatalf("AddOwned kept %v, want x2 and y", d.Nodes())
	}
	g.MarkDurable(y)
	d.AddOwned(z.Dependency()) // takes y's slot
	if len(d.Nodes()) != 2 || d.Nodes()[0] != x2 && d.Nodes()[1] != x2 {
		t.Fatalf("after y durable, AddOwned(z) kept %v, want x2 and z", d.Nodes())
	}
}

func TestWaitFailAndCancel(t *testing.T) {
	g := New(Options{})
	woken := conc.NewChan[struct{}](1)
	g.SetWaitHook(func() { woken.TrySend(struct{}{}) })
	a := newNode(t, g, Dependency{}, Chain{})
	done := conc.NewChan[error](1)
	conc.Go("waiter", func() { done.Send(a.Dependency().Wait(context.Background())) })
	woken.Recv()
	g.MarkDurable(a)
	if err, _ := done.Recv(); err != nil {
		t.Fatalf("Wait = %v", err)
	}
	b := newNode(t, g, Dependency{}, Chain{})
	boom := errors.New("boom")
	g.MarkFailed(b, boom)
	if err := b.Dependency().Wait(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Wait on a failed node = %v", err)
	}
	if err := b.Dependency().Settle(context.Background()); err != nil {
		t.Fatalf("Settle on a failed node = %v", err)
	}
	c := newNode(t, g, b.Dependency(), Chain{})
	if _, err := c.Ready(); !errors.Is(err, boom) {
		t.Fatalf("Ready of a node depending on a failed one = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := c.Dependency().Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with a deadline = %v", err)
	}
	g.Stop()
	if err := c.Dependency().Wait(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("Wait after Stop = %v", err)
	}
}

func TestAdmitBackPressure(t *testing.T) {
	g := New(Options{NodesMax: 2})
	a := newNode(t, g, Dependency{}, Chain{})
	newNode(t, g, Dependency{}, Chain{})
	admitted := conc.NewChan[error](1)
	conc.Go("admit", func() { admitted.Send(g.Admit(context.Background(), 1)) })
	for g.Waiters() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, ok, _ := admitted.TryRecv(); ok {
		t.Fatal("Admit returned with the graph full")
	}
	g.MarkDurable(a)
	if err, _ := admitted.Recv(); err != nil {
		t.Fatal(err)
	}
	// A request larger than the limit is admitted once the graph drains.
	g2 := New(Options{NodesMax: 2})
	if err := g2.Admit(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
}

// TestAdmitBoundUnderConcurrency: Admit and NewNode take no lock, yet
// admitted and undurable nodes never exceed NodesMax, however admitters,
// creators and completers interleave; every admitter gets through.
func TestAdmitBoundUnderConcurrency(t *testing.T) {
	const max, workers, each = 8, 6, 2000
	g := New(Options{NodesMax: max})
	ctx := context.Background()
	var wg conc.WaitGroup
	var over conc.Int64
	done := conc.NewChan[*Node](max)
	for range workers {
		wg.Add(1)
		conc.Go("admitter", func() {
			defer wg.Done()
			for range each {
				if err := g.Admit(ctx, 1); err != nil {
					t.Error(err)
					return
				}
				if u := g.used.Load(); u > max {
					over.Store(u)
				}
				done.Send(g.NewNode(Dependency{}, Chain{}))
			}
		})
	}
	completed := 0
	for completed < workers*each {
		n, _ := done.Recv()
		g.MarkDurable(n)
		completed++
	}
	wg.Wait()
	if u := over.Load(); u != 0 {
		t.Fatalf("%d nodes admitted at once, NodesMax %d", u, max)
	}
	if g.Undurable() != 0 || g.used.Load() != 0 || g.admitted.Load() != 0 {
		t.Fatalf("after all completed: undurable %d used %d admitted %d", g.Undurable(), g.used.Load(), g.admitted.Load())
	}
}
