package astmut

import (
	"reflect"
	"slices"
	"testing"
)

func TestSample(t *testing.T) {
	ms := enumerateFixture(t)
	const n = 10
	a := Sample(ms, n, 1)
	if len(a) != n {
		t.Fatalf("Sample returned %d mutants, want %d", len(a), n)
	}
	if b := Sample(ms, n, 1); !reflect.DeepEqual(a, b) {
		t.Errorf("Sample(seed 1) differs between two calls")
	}
	if c := Sample(ms, n, 2); reflect.DeepEqual(a, c) {
		t.Errorf("Sample(seed 2) equals Sample(seed 1)")
	}
	// The subset keeps the order of ms and has no repeats.
	index := map[string]int{}
	for i, m := range ms {
		index[m.ID] = i
	}
	var order []int
	for _, m := range a {
		order = append(order, index[m.ID])
	}
	if !slices.IsSorted(order) || len(slices.Compact(slices.Clone(order))) != n {
		t.Errorf("Sample positions %v, want strictly increasing", order)
	}
	if all := Sample(ms, len(ms)+5, 1); !reflect.DeepEqual(all, ms) {
		t.Errorf("Sample of more than len(ms) did not return ms")
	}
	if none := Sample(ms, 0, 1); len(none) != 0 {
		t.Errorf("Sample of 0 returned %d mutants", len(none))
	}
}
