package merge

import (
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
)

func TestDedupBySignature(t *testing.T) {
	v := func(count int, ops ...string) checkers.Violation {
		return checkers.Violation{Ops: ops, Count: count, Summary: "s"}
	}
	vs := []checkers.Violation{
		v(0, `put "k1" size=0 seed=1`, `delete "k1"`, `get "k1"`),
		v(0, `put "k2" size=7 seed=9`, `delete "k2"`, `get "k2"`),
		v(2, `put "k9" size=3 seed=4`, `put "k8"`, `delete "k9"`, `get "k9"`),
		v(3, `put "a"`, `delete "a"`, `get "a"`),                  // merged earlier: counts 3
		v(0, `put "k1" size=0 seed=1`, `delete "k2"`, `get "k1"`), // another key: another bug
	}
	got := Dedup(vs)
	if len(got) != 3 {
		t.Fatalf("Dedup kept %d entries, want 3: %+v", len(got), got)
	}
	if got[0].Count != 5 || got[1].Count != 2 || got[2].Count != 1 {
		t.Fatalf("counts %d %d %d, want 5 2 1", got[0].Count, got[1].Count, got[2].Count)
	}
	if Signature(vs[0]) == Signature(vs[4]) {
		t.Fatal("a delete of another key has the same signature")
	}
	// An unminimized violation is known by its summary.
	a, b := vs[0], vs[1]
	a.NotMinimized, b.NotMinimized = "budget", "budget"
	b.Summary = "other"
	if Signature(a) == Signature(b) {
		t.Fatal("unminimized violations with different summaries share a signature")
	}
}
