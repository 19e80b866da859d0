package dep

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A failed node gives its room back, as a durable one does: the bound is
// on nodes still in flight, not on every node ever made.
func TestFailedNodesFreeRoom(t *testing.T) {
	g := New(Options{NodesMax: 2})
	for round := 0; round < 3; round++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := g.Admit(ctx, 2)
		cancel()
		if err != nil {
			t.Fatalf("round %d: Admit(2) with every earlier node failed = %v", round, err)
		}
		a, b := g.NewNode(Dependency{}, Chain{}), g.NewNode(Dependency{}, Chain{})
		g.MarkFailed(a, errors.New("a failed"))
		g.MarkFailed(b, errors.New("b failed"))
	}
	if g.Undurable() != 0 {
		t.Fatalf("Undurable = %d after every node failed", g.Undurable())
	}
}

// TestCheckDrained: a graph whose nodes all completed, durable or failed,
// has its room back; one that kept a completed node's room is named, and
// pending nodes or reservations are never judged.
func TestCheckDrained(t *testing.T) {
	g := New(Options{NodesMax: 4})
	if err := g.Admit(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	if err := g.CheckDrained(false); err != nil {
		t.Fatalf("reservations outstanding: %v, want no judgement", err)
	}
	a, b := g.NewNode(Dependency{}, Chain{}), g.NewNode(Dependency{}, Chain{})
	g.Release(1)
	if err := g.CheckDrained(false); err != nil {
		t.Fatalf("nodes pending: %v, want no judgement", err)
	}
	g.MarkDurable(a)
	g.MarkFailed(b, errors.New("b failed"))
	if err := g.CheckDrained(false); err != nil {
		t.Fatalf("every node complete: %v", err)
	}
	g.used.Add(1) // a completed node that kept its room (the AST mutant dep332)
	if err := g.CheckDrained(false); err == nil || !strings.Contains(err.Error(), "1 of the bound's room still taken") {
		t.Fatalf("a leaked reservation: %v, want it named", err)
	}
	g.used.Add(-1)
	g.admitters = -2 // an Admit that counted its wait down, not up (an AST mutant)
	if err := g.CheckDrained(false); err == nil || !strings.Contains(err.Error(), "-2 callers blocked in Admit") {
		t.Fatalf("a negative count of admitters: %v, want it named", err)
	}
}

// TestAdmittersCounted: a caller blocked in Admit counts while it waits and
// stops counting when it goes on, so the count is back to zero.
func TestAdmittersCounted(t *testing.T) {
	g := New(Options{NodesMax: 2})
	if err := g.Admit(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	n, m := g.NewNode(Dependency{}, Chain{}), g.NewNode(Dependency{}, Chain{})
	done := make(chan error, 1)
	go func() { done <- g.Admit(context.Background(), 1) }()
	for g.Admitters() != 1 {
		select {
		case err := <-done:
			t.Fatalf("Admit(1) with the graph full returned %v before any room was given back", err)
		default:
			time.Sleep(time.Millisecond) // polling a condition, not timing a result
		}
	}
	g.MarkDurable(n)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	g.NewNode(Dependency{}, Chain{})
	g.MarkDurable(m)
	if a := g.Admitters(); a != 0 {
		t.Errorf("Admitters = %d after the blocked Admit went on, want 0", a)
	}
	if err := g.CheckDrained(false); err != nil {
		t.Errorf("CheckDrained: %v", err)
	}
}
