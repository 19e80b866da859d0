// Package dep is shardstore's soft-updates dependency graph.
//
// Every write the engine makes is a Node. A node may depend on earlier
// nodes; the IO scheduler issues it only once every node it depends on is
// durable, so at any instant the set of durable writes is closed under
// dependency: a crash can lose a write, never keep one whose prerequisites it
// lost. A Dependency is a set of nodes (And takes the union); it is
// persistent when all of them are durable. It implements engine.Dependency.
//
// Nodes are created by the chunk store and completed by whoever knows they
// are durable: the IO scheduler after a device Flush, the superblock after
// the flush that persisted a write pointer.
//
// # Bounds
//
// The graph holds at most Options.NodesMax undurable nodes. Admit blocks
// (back-pressure) until there is room, so memory stays bounded however fast
// clients write; waiting in Admit counts as waiting for durability, so the
// scheduler flushes promptly instead of waiting for its cadence.
//
// Once durable a node keeps no references to other nodes, so a durable
// Dependency costs one pointer per node, and And prunes durable nodes.
//
// # Chains
//
// Nodes on a Chain are ordered: a node at position p being durable implies
// every node of the same chain at positions <= p is durable (the write
// pointer of one extent generation is such a chain: persisting it at offset
// p persists everything before p). And keeps only the highest node of each
// chain, so a dependency on thousands of chunks in a few extents stays a few
// nodes long.
//
// # Failure
//
// A node fails when it can never become durable (its extent was reset before
// it was persisted, or a node it depends on failed); Wait returns its error.
// Fail stops the whole graph after a device error: every Wait on an
// undurable node returns that error from then on.
//
// # Concurrency
//
// A Graph and its nodes are safe for concurrent use. The graph's lock is a
// leaf: no other lock is taken while it is held, and the wait hook is called
// without it.
package dep

import (
	"context"
	"errors"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// Options configure a Graph. The zero value is valid.
type Options struct {
	// NodesMax bounds the undurable nodes (admitted, created or in flight).
	// Default 65536: at two nodes per chunk, tens of thousands of chunks in
	// flight, far more than a device's queue needs.
	NodesMax int
	// Observer hears writers blocked on NodesMax. Default nil.
	Observer engine.Observer
}

// NodesMaxDefault is the default Options.NodesMax.
const NodesMaxDefault = 1 << 16

// EnsureDefaults fills in zero fields.
func (o *Options) EnsureDefaults() {
	if o.NodesMax == 0 {
		o.NodesMax = NodesMaxDefault
	}
}

// Validate reports every invalid field.
func (o Options) Validate() error {
	if o.NodesMax < 2 {
		return fmt.Errorf("dep: NodesMax %d: at least 2 are needed (a chunk takes two nodes)", o.NodesMax)
	}
	return nil
}

// ErrStopped is returned by Admit and Wait after Stop.
var ErrStopped = errors.New("dep: graph stopped")

const (
	statePending int32 = iota
	stateDurable
	stateFailed
)

// Chain orders nodes: see the package documentation.
type Chain struct {
	ID  uint64 // 0: the node is on no chain
	Pos int64
}

// Node is one write.
type Node struct {
	g     *Graph
	state conc.Int32
	// issued: the write is on its way to the device and the next device
	// flush covers it (MarkIssued). A superblock slot written with that
	// flush may already name it: see IsIssued.
	issued conc.Bool
	err    error // set before state becomes stateFailed
	chain  Chain
	// deps is set at creation and read only by the one goroutine that
	// issues the node (Ready), which also drops it.
	deps []*Node
	// self backs Dependency's slice: a dependency on one node allocates
	// nothing. (No Dependency's slice is ever written to.)
	self [1]*Node
}

// Graph is a dependency graph.
type Graph struct {
	opts Options
	// used is admitted plus undurable: what Admit bounds by NodesMax. The
	// three are atomics so that Admit and NewNode, on every append, take
	// no lock; a change that frees room (completion, Release) is made
	// under mu and broadcast on cond, where a blocked Admit re-checks it.
	used      conc.Int64
	undurable conc.Int64 // created and not yet complete
	admitted  conc.Int64 // admitted and not yet created
	failed    conc.Bool  // err is set
	// The counters above change on every append, in the writer's
	// goroutine; mu and waiters are read by the IO scheduler's on every
	// round. Apart, they do not share a cache line.
	_         [64]byte
	mu        conc.Mutex
	cond      *conc.Cond // broadcast when a node completes, room frees, or the graph fails
	waiters   conc.Int32 // changed under mu; read without it
	admitters int        // of the waiters, those blocked in Admit
	err       error      // set by Fail or Stop
	onWait    func()
}

// New returns an empty graph. It panics if opts are invalid (after defaults):
// options are validated by the store before it gets here.
func New(opts Options) *Graph {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	g := &Graph{opts: opts}
	g.cond = conc.NewCond(&g.mu)
	return g
}

// SetWaitHook sets a function called (without any lock held) whenever a
// caller starts to block in Wait or Admit. The IO scheduler uses it to
// start a flush at once rather than at its next cadence.
func (g *Graph) SetWaitHook(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.onWait = f
}

// Waiters returns how many callers are blocked in Wait or Admit.
func (g *Graph) Waiters() int {
	return int(g.waiters.Load())
}

// CheckDrained reports, once every node is complete and no reservation is
// outstanding (a store closed cleanly), whether the room the bound counts
// is all given back: room kept by a completed node would stall Admit for
// good after enough of them. It says nothing while nodes are pending.
// With drained set (nothing is being appended: a clean close) a
// reservation still admitted is a leak too: one an append took and, on an
// error path, neither used nor gave back. A count of callers blocked in
// Admit below zero is reported whenever: the IO scheduler reads it to
// decide whether a round may wait (Admitters), and a wrong count makes it
// never wait, or always.
func (g *Graph) CheckDrained(drained bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.admitters < 0 {
		return fmt.Errorf("dep: %d callers blocked in Admit: the count went below zero", g.admitters)
	}
	und, adm, used := g.undurable.Load(), g.admitted.Load(), g.used.Load()
	if drained && adm != 0 {
		return fmt.Errorf("dep: the store is drained, yet %d admitted reservations were neither used by a node nor released", adm)
	}
	if und == 0 && adm == 0 && used != 0 {
		return fmt.Errorf("dep: every node complete, yet %d of the bound's room still taken", used)
	}
	return nil
}

// Undurable returns the number of created, incomplete nodes.
func (g *Graph) Undurable() int {
	return int(g.undurable.Load())
}

// Admit reserves room for n nodes, blocking while the graph holds too many
// undurable ones. Each reservation is used by one NewNode. A request larger
// than NodesMax is admitted when the graph is empty, so it cannot wait
// forever.
func (g *Graph) Admit(ctx context.Context, n int) error {
	if !g.failed.Load() && g.tryAdmit(n) {
		return nil
	}
	if mutant.On(mutant.AdmitWaitUnseen) {
		// A plain wait for room: neither a waiter nor an admitter to the
		// IO scheduler, which then sees no reason to flush.
		g.mu.Lock()
		defer g.mu.Unlock()
		for g.err == nil && !g.tryAdmit(n) {
			g.cond.Wait()
		}
		return g.err
	}
	engine.Emit(g.opts.Observer, engine.EventDepBackpressure)
	g.mu.Lock()
	g.admitters++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.admitters--
		g.mu.Unlock()
	}()
	return g.block(ctx, func() (bool, error) {
		if g.err != nil {
			return true, g.err
		}
		return g.tryAdmit(n), nil
	})
}

// Admitters returns how many callers are blocked in Admit, waiting for
// room: nodes must become durable (a flush) before they go on.
func (g *Graph) Admitters() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.admitters
}

// tryAdmit takes n reservations if there is room for them (or nothing is
// in use: one write larger than NodesMax still goes through).
func (g *Graph) tryAdmit(n int) bool {
	for {
		u := g.used.Load()
		if u+int64(n) > int64(g.opts.NodesMax) && u != 0 {
			return false
		}
		if g.used.CompareAndSwap(u, u+int64(n)) {
			g.admitted.Add(int64(n))
			return true
		}
	}
}

// Release returns admitted reservations that will not be used.
func (g *Graph) Release(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if a := g.admitted.Add(-int64(n)); a < 0 {
		panic(fmt.Sprintf("dep: release of %d, %d admitted", n, a+int64(n)))
	}
	g.used.Add(-int64(n))
	g.cond.Broadcast()
}

// NewNode creates a node, using one admitted reservation, that depends on
// deps and sits on chain (Chain{} for none).
func (g *Graph) NewNode(deps Dependency, chain Chain) *Node {
	n := &Node{g: g, chain: chain}
	n.self[0] = n
	for _, d := range deps.nodes {
		if d.g != g {
			panic("dep: dependency on a node of another graph")
		}
		if d.state.Load() != stateDurable {
			n.deps = append(n.deps, d)
		}
	}
	if g.admitted.Add(-1) < 0 {
		panic("dep: NewNode without Admit")
	}
	g.undurable.Add(1) // used is unchanged: the reservation became the node
	return n
}

// Ready reports whether every node n depends on is durable, or the error of
// one that failed. Only the goroutine that issues n calls it; once it
// returns true n forgets its dependencies.
func (n *Node) Ready() (bool, error) {
	for len(n.deps) > 0 {
		d := n.deps[len(n.deps)-1]
		switch d.state.Load() {
		case stateDurable:
			n.deps[len(n.deps)-1] = nil
			n.deps = n.deps[:len(n.deps)-1]
		case stateFailed:
			return false, d.err
		default:
			return false, nil
		}
	}
	n.deps = nil
	return true, nil
}

// Durable reports whether n is durable.
func (n *Node) Durable() bool { return n.state.Load() == stateDurable }

// Err returns the error n failed with, or nil.
func (n *Node) Err() error {
	if n.state.Load() == stateFailed {
		return n.err
	}
	return nil
}

// Dependency returns the dependency on n alone.
func (n *Node) Dependency() Dependency { return Dependency{nodes: n.self[:]} }

// Chain returns n's chain.
func (n *Node) Chain() Chain { return n.chain }

// MarkIssued records that the nodes' writes are issued: the next device
// flush makes them durable. It does not wake waiters.
func MarkIssued(nodes ...*Node) {
	for _, n := range nodes {
		n.issued.Store(true)
	}
}

// MarkDurable records that the nodes are durable and wakes waiters.
func (g *Graph) MarkDurable(nodes ...*Node) {
	if len(nodes) == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range nodes {
		if !n.state.CompareAndSwap(statePending, stateDurable) {
			panic(fmt.Sprintf("dep: node completed twice (state %d)", n.state.Load()))
		}
	}
	g.undurable.Add(-int64(len(nodes)))
	g.used.Add(-int64(len(nodes)))
	g.cond.Broadcast()
}

// MarkFailed records that n can never become durable, with err.
func (g *Graph) MarkFailed(n *Node, err error) {
	if err == nil {
		panic("dep: MarkFailed with a nil error")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	n.err = err
	if !n.state.CompareAndSwap(statePending, stateFailed) {
		panic(fmt.Sprintf("dep: node completed twice (state %d)", n.state.Load()))
	}
	g.undurable.Add(-1)
	g.used.Add(-1)
	g.cond.Broadcast()
}

// Fail stops the graph after an unrecoverable error (a device error): every
// waiter and every later Admit or Wait on an undurable node returns err.
// The first error sticks.
func (g *Graph) Fail(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = err
		g.failed.Store(true)
	}
	g.cond.Broadcast()
}

// Stop is Fail with ErrStopped wrapped in engine.ErrClosed: the store is
// closing.
func (g *Graph) Stop() { g.Fail(fmt.Errorf("%w: %w", ErrStopped, engine.ErrClosed)) }

// Err returns the error the graph was failed or stopped with.
func (g *Graph) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// block waits on g.cond until check reports done (called with g.mu held),
// ctx ends, or the graph fails. It counts the caller as a waiter and calls
// the wait hook.
func (g *Graph) block(ctx context.Context, check func() (bool, error)) error {
	stop := conc.AfterFunc(ctx, func() {
		g.mu.Lock()
		g.cond.Broadcast()
		g.mu.Unlock()
	})
	defer stop()
	g.mu.Lock()
	g.waiters.Add(1)
	hook := g.onWait
	g.mu.Unlock()
	if hook != nil {
		hook()
	}
	g.mu.Lock()
	defer func() {
		g.waiters.Add(-1)
		g.mu.Unlock()
	}()
	for {
		if done, err := check(); done {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		g.cond.Wait()
	}
}

// Dependency is a set of writes. The zero value depends on nothing and is
// persistent.
type Dependency struct {
	nodes []*Node
}

var _ engine.Dependency = Dependency{}

// And returns the dependency on every write of ds. Durable writes are
// dropped and each chain keeps only its highest node.
func And(ds ...Dependency) Dependency {
	if len(ds) == 2 {
		if d, ok := and2(ds[0], ds[1]); ok {
			return d
		}
	}
	total := 0
	for _, d := range ds {
		total += len(d.nodes)
	}
	if total == 0 {
		return Dependency{}
	}
	out := Dependency{nodes: make([]*Node, 0, total)} // a slice of its own, as AddOwned needs
	for _, d := range ds {
		out.AddOwned(d)
	}
	return out
}

// and2 is And of two dependencies in the shapes an append makes, without
// allocating: one of them is the answer. ok is false for any other shape.
func and2(d, e Dependency) (Dependency, bool) {
	switch {
	case len(d.nodes) == 0:
		return e, len(e.nodes) <= 1
	case len(e.nodes) == 0:
		return d, len(d.nodes) <= 1
	case len(d.nodes) != 1 || len(e.nodes) != 1:
		return Dependency{}, false
	}
	m, n := d.nodes[0], e.nodes[0]
	switch {
	case m == n:
		return d, true
	case m.chain.ID != 0 && m.chain.ID == n.chain.ID:
		// A chain's later node implies its earlier ones.
		if later(n, m) {
			return e, true
		}
		return d, true
	}
	return Dependency{}, false
}

// later reports whether n, a node on m's chain, is further along it than
// m: a dependency on n implies one on m, so And keeps n.
func later(n, m *Node) bool {
	return n.chain.Pos > m.chain.Pos
}

// And returns the dependency on d and e.
func (d Dependency) And(e Dependency) Dependency { return And(d, e) }

// AddOwned makes d depend on e as well, in place: And without a new slice
// per call, for a dependency one owner accumulates (a memtable's, under
// the store's lock, one And per put) and hands to nobody until it stops
// adding. Its slice is then its own (AddOwned makes it), and nobody sees
// it change. Never call it on a dependency that may be shared.
func (d *Dependency) AddOwned(e Dependency) {
next:
	for _, n := range e.nodes {
		if n.state.Load() == stateDurable {
			continue
		}
		free := -1
		for i, m := range d.nodes {
			if m == n {
				continue next
			}
			if n.chain.ID != 0 && m.chain.ID == n.chain.ID {
				if later(n, m) {
					d.nodes[i] = n
				}
				continue next
			}
			if free < 0 && m.state.Load() == stateDurable {
				free = i
			}
		}
		if free >= 0 {
			d.nodes[free] = n // a durable node's slot
			continue
		}
		if len(d.nodes) == cap(d.nodes) {
			// A new slice: the first one may be another's (a node's own).
			d.nodes = append(make([]*Node, 0, 2*len(d.nodes)+2), d.nodes...)
		}
		d.nodes = append(d.nodes, n)
	}
}

// Nodes returns the writes of d. Do not modify the slice.
func (d Dependency) Nodes() []*Node { return d.nodes }

// IsPersistent reports whether every write of d is durable. It never blocks
// and never issues IO.
func (d Dependency) IsPersistent() bool {
	for _, n := range d.nodes {
		if n.state.Load() != stateDurable {
			return false
		}
	}
	return true
}

// IsIssued reports whether every write of d is durable or issued
// (MarkIssued): a device flush that starts now makes d persistent, unless
// a write fails.
func (d Dependency) IsIssued() bool {
	for _, n := range d.nodes {
		switch n.state.Load() {
		case stateDurable:
		case statePending:
			if !n.issued.Load() {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Err returns the error of a write of d that failed, or nil.
func (d Dependency) Err() error {
	for _, n := range d.nodes {
		if err := n.Err(); err != nil {
			return err
		}
	}
	return nil
}

// Wait blocks until every write of d is durable, one fails (its error), the
// graph fails (that error) or ctx ends (ctx.Err()).
func (d Dependency) Wait(ctx context.Context) error { return d.wait(ctx, false) }

// Settle blocks until every write of d is durable or has failed, the graph
// fails (that error) or ctx ends (ctx.Err()). Failed writes are not an
// error: Sync uses it, since a write that can never be durable (its extent
// was reset) is not something to wait for.
func (d Dependency) Settle(ctx context.Context) error { return d.wait(ctx, true) }

func (d Dependency) wait(ctx context.Context, settle bool) error {
	if d.IsPersistent() {
		return nil
	}
	if err := d.Err(); err != nil && !settle {
		return err
	}
	g := d.nodes[0].g
	return g.block(ctx, func() (bool, error) {
		all := true
		for _, n := range d.nodes {
			switch n.state.Load() {
			case stateFailed:
				if !settle {
					return true, n.err
				}
			case statePending:
				all = false
			}
		}
		if all {
			return true, nil
		}
		if g.err != nil {
			if mutant.On(mutant.FailedWaitSucceeds) {
				return true, nil // the graph stopped: nothing left to wait for
			}
			return true, g.err
		}
		return false, nil
	})
}

// String describes d for debugging: the number of undurable writes.
func (d Dependency) String() string {
	n := 0
	for _, x := range d.nodes {
		if x.state.Load() != stateDurable {
			n++
		}
	}
	return fmt.Sprintf("dep(%d undurable)", n)
}
