package iosched

import (
	"context"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// waitFor polls cond until it holds (a state the scheduler reaches by
// itself, not a timing guess), failing after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestExpectHoldsRoundForWaiters: while an Expect is outstanding, a
// waiter on the graph does not start a flush round; the expected write,
// queued meanwhile, goes to the device under the same flush once done is
// called. Without done, the hold ends after ExpectMax; and a Sync-style
// Flush is never held.
func TestExpectHoldsRoundForWaiters(t *testing.T) {
	ctx := context.Background()
	geo, _ := extent.NewGeometry(1<<20, 64<<10, 512)
	clock := conc.NewManualClock(conc.Time{})
	g := dep.New(dep.Options{})
	s, err := New(disk.NewMem(1<<20, 512), geo, g, noMeta{}, Options{FlushInterval: 1 << 40, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	off := int64(0)
	write := func() dep.Dependency {
		t.Helper()
		if err := g.Admit(ctx, 1); err != nil {
			t.Fatal(err)
		}
		n := g.NewNode(dep.Dependency{}, dep.Chain{})
		if err := s.Reserve(ctx, 512); err != nil {
			t.Fatal(err)
		}
		s.Enqueue(&Write{Extent: 1, Offset: off, Frame: make([]byte, 512), Node: n})
		off += 512
		return n.Dependency()
	}
	wait := func(d dep.Dependency) conc.Chan[error] {
		c := conc.NewChan[error](1)
		conc.Go("waiter", func() { c.Send(d.Wait(ctx)) })
		return c
	}

	// Held until done: one round, one flush for both writes.
	done := s.Expect()
	first := wait(write())
	waitFor(t, "the round to be held", func() bool { return s.Stats().ExpectHolds == 1 })
	if st := s.Stats(); st.Flushes != 0 {
		t.Fatalf("a flush ran while held: %+v", st)
	}
	second := write()
	done()
	if err, _ := first.Recv(); err != nil {
		t.Fatal(err)
	}
	if !second.IsPersistent() {
		t.Error("the expected write missed the flush the waiter got")
	}
	if st := s.Stats(); st.Flushes != 1 || st.Writes != 2 {
		t.Errorf("want both writes under one flush: %+v", st)
	}

	// Never done: ExpectMax ends the hold.
	done = s.Expect()
	third := wait(write())
	waitFor(t, "the round to be held", func() bool { return s.Stats().ExpectHolds == 2 })
	clock.Advance(ExpectMax)
	if err, _ := third.Recv(); err != nil {
		t.Fatal(err)
	}
	done()

	// A Flush is not held: it ends the hold of a waiter's round too.
	done = s.Expect()
	defer done()
	fourth := wait(write())
	waitFor(t, "the round to be held", func() bool { return s.Stats().ExpectHolds == 3 })
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err, _ := fourth.Recv(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Flushes != 3 {
		t.Errorf("Flush: %+v; want a third flush", st)
	}
}

// TestExpectNotHeldForBlockedWriters: a round is not held for an Expect
// while a writer waits for room in the dependency graph: only a flush
// makes room, and the expected writes may be the ones waiting. The clock
// never advances here, so a hold would last forever.
func TestExpectNotHeldForBlockedWriters(t *testing.T) {
	ctx := context.Background()
	geo, _ := extent.NewGeometry(1<<20, 64<<10, 512)
	g := dep.New(dep.Options{NodesMax: 2})
	s, err := New(disk.NewMem(1<<20, 512), geo, g, noMeta{}, Options{FlushInterval: 1 << 40, Clock: conc.NewManualClock(conc.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := s.Expect()
	defer done()
	// Fill the graph with two undurable writes, then ask for a third node:
	// Admit blocks until a flush makes the first two durable.
	for i := range 2 {
		if err := g.Admit(ctx, 1); err != nil {
			t.Fatal(err)
		}
		n := g.NewNode(dep.Dependency{}, dep.Chain{})
		if err := s.Reserve(ctx, 512); err != nil {
			t.Fatal(err)
		}
		s.Enqueue(&Write{Extent: 1, Offset: int64(i) * 512, Frame: make([]byte, 512), Node: n})
	}
	if err := g.Admit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Flushes != 1 {
		t.Errorf("Admit got room after %d flushes, want 1", st.Flushes)
	}
}
