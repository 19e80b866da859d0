package dep

import (
	"context"
	"errors"
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
