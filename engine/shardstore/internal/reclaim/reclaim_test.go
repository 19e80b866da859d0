package reclaim

import (
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

func TestChoose(t *testing.T) {
	c := func(id extent.ID, wp, live int64) Candidate {
		return Candidate{ID: id, Owner: extent.Data, WritePointer: wp, LiveBytes: live}
	}
	tests := []struct {
		name  string
		cands []Candidate
		min   float64
		want  extent.ID
		ok    bool
	}{
		{"none", nil, 0, 0, false},
		{"all live", []Candidate{c(1, 100, 100), c(2, 50, 50)}, 0, 0, false},
		{"highest ratio", []Candidate{c(1, 100, 50), c(2, 100, 90), c(3, 10, 1)}, 0, 3, true},
		{"tie on ratio: more dead bytes", []Candidate{c(1, 10, 5), c(2, 100, 50)}, 0, 2, true},
		{"tie on everything: lower id", []Candidate{c(4, 100, 50), c(2, 100, 50)}, 0, 2, true},
		{"below the minimum ratio", []Candidate{c(1, 100, 90)}, 0.5, 0, false},
		{"empty owned extent first", []Candidate{c(1, 100, 10), c(7, 0, 0)}, 0, 7, true},
		// Sized: a sealed extent's unwritten tail is lost space too.
		{"sealed, all written live, most unwritten", []Candidate{{ID: 5, Owner: extent.Data, WritePointer: 12, LiveBytes: 12, Size: 1000}}, 0.25, 5, true},
		{"sealed and full of live bytes", []Candidate{{ID: 5, Owner: extent.Data, WritePointer: 1000, LiveBytes: 1000, Size: 1000}}, 0, 0, false},
		{"sized ratio", []Candidate{{ID: 1, WritePointer: 100, LiveBytes: 50, Size: 1000}, {ID: 2, WritePointer: 900, LiveBytes: 100, Size: 1000}}, 0, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Choose(tc.cands, tc.min)
			if ok != tc.ok || (ok && got.ID != tc.want) {
				t.Fatalf("Choose = %d, %v; want %d, %v", got.ID, ok, tc.want, tc.ok)
			}
		})
	}
}
