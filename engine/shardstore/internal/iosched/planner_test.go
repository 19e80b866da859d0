package iosched

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// TestPlanner drives the scheduler's rounds one step at a time, with no
// goroutine of its own and a manual clock, and prints what each look at
// its state decides: which writes a round takes and how it groups them,
// whether it flushes, and what holds it back. The files in
// testdata/planner are the commands:
//
//	new [policy=P] [io-bytes=N] [round-bytes=N] [flush-bytes=N]
//	node NAME [deps=(A,B)]          a node that is not a write (a gate)
//	write NAME extent=E len=N [gen=G] [deps=(A,B)] [class=bg]
//	                                 an append at the extent's next offset
//	durable A B                     mark nodes durable
//	fail A                          fail a node (its dependants are abandoned)
//	waiter A                        a goroutine waits on A's dependency
//	expect / expect-done            Expect, and its done call
//	sync                            a Flush call (not waiting for it)
//	meta [dirty] [urgent]           the superblock's Want
//	advance D                       move the clock (fires the cadence)
//	close                           Close begins (not waiting for it)
//	step                            one look; a round is then carried out
func TestPlanner(t *testing.T) {
	datadriven.Walk(t, "testdata/planner", func(t *testing.T, path string) {
		h := &plannerHarness{}
		defer h.stop()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return h.do(t, d)
		})
	})
}

// planMeta is a superblock whose Want the test sets; a slot is one sector
// at device offset 0.
type planMeta struct {
	dirty, urgent bool
	persisted     int
}

func (m *planMeta) Want() (bool, bool) { return m.dirty, m.urgent }
func (m *planMeta) Prepare() ([]byte, int64, any, bool) {
	if !m.dirty {
		return nil, 0, nil, false
	}
	m.dirty, m.urgent = false, false
	return disk.AlignedBuffer(512), 0, nil, true
}
func (m *planMeta) DataIssued(extent.ID, uint32, int64, [][]byte) {}
func (m *planMeta) Persisted(any)                                 { m.persisted++ }
func (m *planMeta) Confirm() bool                                 { return false }

type plannerHarness struct {
	s      *Scheduler
	g      *dep.Graph
	clock  *conc.ManualClock
	meta   *planMeta
	nodes  map[string]*dep.Node
	names  []string // nodes in creation order
	writes map[*Write]string
	shown  map[string]bool     // nodes reported durable or failed
	next   map[extent.ID]int64 // each extent's next offset
	gen    map[extent.ID]int   // and its generation
	ctx    context.Context     // the waiters', cancelled by stop
	// live counts this graph's waiter goroutines not yet back from Wait.
	live   *atomic.Int32
	done   func() // Expect's
	cancel context.CancelFunc
}

func (h *plannerHarness) stop() {
	if h.cancel != nil {
		h.cancel() // ends the waiter goroutines
	}
}

func (h *plannerHarness) do(t *testing.T, d *datadriven.TestData) string {
	if d.Cmd != "new" && h.s == nil {
		d.Fatalf(t, "%s before new", d.Cmd)
	}
	switch d.Cmd {
	case "new":
		h.open(t, d)
	case "node":
		h.add(t, d, d.CmdArgs[0].Key)
	case "write":
		h.write(t, d)
	case "durable":
		for _, a := range d.CmdArgs {
			h.g.MarkDurable(h.node(t, d, a.Key))
		}
	case "fail":
		h.g.MarkFailed(h.node(t, d, d.CmdArgs[0].Key), errors.New("injected"))
	case "waiter":
		h.waiter(t, d)
	case "expect":
		h.done = h.s.Expect()
	case "expect-done":
		if h.done == nil {
			d.Fatalf(t, "expect-done before expect")
		}
		h.done()
		h.done = nil
	case "sync":
		h.s.mu.Lock()
		h.s.syncTarget = max(h.s.syncTarget, h.s.syncDone+1)
		h.s.mu.Unlock()
	case "meta":
		h.meta.dirty, h.meta.urgent = d.HasArg("dirty"), d.HasArg("urgent")
	case "advance":
		dur, err := time.ParseDuration(d.CmdArgs[0].Key)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		h.clock.Advance(dur)
	case "close":
		h.s.mu.Lock()
		h.s.closing = true
		h.s.mu.Unlock()
	case "step":
		return h.step(t)
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	return ""
}

func (h *plannerHarness) open(t *testing.T, d *datadriven.TestData) {
	h.stop()
	policy := string(PolicyCoalesce)
	var ioBytes, roundBytes, flushBytes int
	d.MaybeScanArgs(t, "policy", &policy)
	d.MaybeScanArgs(t, "io-bytes", &ioBytes)
	d.MaybeScanArgs(t, "round-bytes", &roundBytes)
	d.MaybeScanArgs(t, "flush-bytes", &flushBytes)
	geo, _ := extent.NewGeometry(8<<20, 1<<20, 512)
	mem := disk.NewMem(8<<20, 512)
	mem.RequireAligned(true)
	h.g = dep.New(dep.Options{})
	h.live = new(atomic.Int32)
	h.clock = conc.NewManualClock(time.Unix(0, 0))
	h.meta = &planMeta{}
	s, err := newScheduler(mem, geo, h.g, h.meta, Options{Policy: Policy(policy), IODepth: 1, Clock: h.clock,
		IOBytesMax: ioBytes, RoundBytesMax: int64(roundBytes), FlushBytes: int64(flushBytes)})
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	h.s = s
	h.nodes, h.names, h.writes, h.shown = map[string]*dep.Node{}, nil, map[*Write]string{}, map[string]bool{}
	h.next, h.gen = map[extent.ID]int64{}, map[extent.ID]int{}
	h.ctx, h.cancel = context.WithCancel(context.Background())
}

func (h *plannerHarness) node(t *testing.T, d *datadriven.TestData, name string) *dep.Node {
	n, ok := h.nodes[name]
	if !ok {
		d.Fatalf(t, "no node %q", name)
	}
	return n
}

// add creates node name, depending on the nodes of the deps argument.
func (h *plannerHarness) add(t *testing.T, d *datadriven.TestData, name string) *dep.Node {
	if _, ok := h.nodes[name]; ok {
		d.Fatalf(t, "node %q exists", name)
	}
	var deps dep.Dependency
	if a, ok := d.Arg("deps"); ok {
		for _, v := range a.Vals {
			deps = deps.And(h.node(t, d, v).Dependency())
		}
	}
	if err := h.g.Admit(context.Background(), 1); err != nil {
		d.Fatalf(t, "%v", err)
	}
	n := h.g.NewNode(deps, dep.Chain{})
	h.nodes[name] = n
	h.names = append(h.names, name)
	return n
}

func (h *plannerHarness) write(t *testing.T, d *datadriven.TestData) {
	name := d.CmdArgs[0].Key
	var e, size, gen int
	d.ScanArgs(t, "extent", &e)
	d.ScanArgs(t, "len", &size)
	d.MaybeScanArgs(t, "gen", &gen)
	class := Foreground
	if d.HasArg("class") {
		class = Background
	}
	id := extent.ID(e)
	if h.gen[id] != gen {
		// The first write of a generation starts the extent anew.
		h.gen[id], h.next[id] = gen, 0
	}
	w := &Write{Extent: id, Gen: uint32(gen), Offset: h.next[id], Frame: make([]byte, size), Node: h.add(t, d, name), Class: class,
		Abandon: func(w *Write) { clear(w.Frame) }}
	h.next[id] += int64(size)
	h.writes[w] = name
	if err := h.s.Reserve(context.Background(), int64(size)); err != nil {
		d.Fatalf(t, "%v", err)
	}
	h.s.Enqueue(w)
}

// waiter starts a goroutine waiting on the node's dependency, and returns
// once the graph counts it: once the graph counts every waiter goroutine
// not yet back from Wait. (Waiting for the count to move from what it was
// before hung once: an earlier waiter whose node had become durable left
// as this one arrived, and the count stayed where it was.) The graph's
// count is never above live: a goroutine leaves live only after Wait.
func (h *plannerHarness) waiter(t *testing.T, d *datadriven.TestData) {
	n := h.node(t, d, d.CmdArgs[0].Key)
	live, ctx := h.live, h.ctx
	live.Add(1)
	go func() {
		_ = n.Dependency().Wait(ctx)
		live.Add(-1)
	}()
	for int32(h.g.Waiters()) < live.Load() { // a condition, not a time
		runtime.Gosched()
	}
}

// step takes one look at the scheduler's state and prints what it
// decided; a round is then carried out and its effects printed.
func (h *plannerHarness) step(t *testing.T) string {
	h.s.mu.Lock()
	st, ios, flush := h.s.look()
	holding := h.s.holding
	h.s.mu.Unlock()
	var b strings.Builder
	switch st {
	case stepWait:
		b.WriteString("wait")
		if holding {
			b.WriteString(" (holding large writes)")
		}
	case stepHold:
		b.WriteString("hold (expect)")
	case stepAgain:
		b.WriteString("again")
	case stepExit:
		b.WriteString("exit")
	case stepRound:
		h.round(t, &b, ios, flush)
	}
	h.printQueues(&b)
	return b.String()
}

// round carries out a round and prints its regions, its device writes and
// the nodes it made durable.
func (h *plannerHarness) round(t *testing.T, b *strings.Builder, ios []io, flush bool) {
	fmt.Fprintf(b, "round")
	if flush {
		b.WriteString(" flush")
	}
	b.WriteString("\n")
	for _, x := range ios {
		first, last := x.writes[0], x.writes[len(x.writes)-1]
		fmt.Fprintf(b, "  extent %d gen %d [%d,%d):", x.q.id, first.Gen, first.Offset, last.end())
		for _, w := range x.writes {
			fmt.Fprintf(b, " %s", h.writes[w])
		}
		b.WriteString("\n")
	}
	before := h.s.Stats()
	if err := h.s.round(ios, flush); err != nil {
		t.Fatal(err)
	}
	after := h.s.Stats()
	fmt.Fprintf(b, "device: %d writes, %d bytes, %d flushes, %d superblock writes",
		after.IOs-before.IOs, after.IOBytes-before.IOBytes, after.Flushes-before.Flushes, after.SuperblockWrites-before.SuperblockWrites)
	var durable, failed []string
	for _, name := range h.names {
		n := h.nodes[name]
		switch {
		case h.shown[name]:
		case n.Durable():
			durable, h.shown[name] = append(durable, name), true
		case n.Err() != nil:
			failed, h.shown[name] = append(failed, name), true
		}
	}
	if len(durable) > 0 {
		fmt.Fprintf(b, "\ndurable: %s", strings.Join(durable, " "))
	}
	if len(failed) > 0 {
		fmt.Fprintf(b, "\nfailed: %s", strings.Join(failed, " "))
	}
}

// printQueues prints the writes still queued, by extent, a blocked one
// marked with a star.
func (h *plannerHarness) printQueues(b *strings.Builder) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	for _, q := range h.s.queues {
		if q == nil || len(q.pending) == 0 {
			continue
		}
		fmt.Fprintf(b, "\nqueued: extent %d:", q.id)
		for _, w := range q.pending {
			star := ""
			if w.blocked {
				star = "*"
			}
			fmt.Fprintf(b, " %s%s", h.writes[w], star)
		}
	}
}
