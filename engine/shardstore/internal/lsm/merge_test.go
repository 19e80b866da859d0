package lsm

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk"
)

// TestMergeLimitModel: MergeLimit over random sorted sources (keys unique
// within a source, shared across them) equals a map model: each key once,
// from the newest (lowest-index) source holding it, in key order,
// tombstones dropped when asked, stopped at limit entries or at below.
// Replay a failure with go test ./engine/shardstore/internal/lsm -run
// TestMergeLimitModel -rapid.seed=N (rapid prints N).
func TestMergeLimitModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nsrc := rapid.IntRange(0, 12).Draw(t, "sources")
		sources := make([][]Entry, nsrc)
		for i := range sources {
			keys := rapid.SliceOfDistinct(rapid.IntRange(0, 40), rapid.ID).Draw(t, fmt.Sprint("keys", i))
			slices.Sort(keys)
			for _, k := range keys {
				e := Entry{Key: []byte(fmt.Sprintf("k%02d", k)), Kind: KindPut, Locs: []chunk.Locator{{Extent: 1, Offset: uint32(i)}}}
				if rapid.IntRange(0, 4).Draw(t, "tomb") == 0 {
					e = Entry{Key: e.Key, Kind: KindDelete}
				}
				sources[i] = append(sources[i], e)
			}
		}
		drop := rapid.Bool().Draw(t, "drop")
		limit := rapid.IntRange(0, 50).Draw(t, "limit")
		var below []byte
		if rapid.Bool().Draw(t, "bounded") {
			below = []byte(fmt.Sprintf("k%02d", rapid.IntRange(0, 41).Draw(t, "below")))
		}

		newest := map[string]Entry{}
		for i := len(sources) - 1; i >= 0; i-- { // newer sources overwrite
			for _, e := range sources[i] {
				newest[string(e.Key)] = e
			}
		}
		var want []Entry
		for _, k := range slices.Sorted(maps.Keys(newest)) {
			if len(want) == limit || below != nil && k >= string(below) {
				break
			}
			if e := newest[k]; !(drop && e.Kind == KindDelete) {
				want = append(want, e)
			}
		}
		got := MergeLimit(sources, drop, limit, below)
		if len(got) != len(want) {
			t.Fatalf("%d entries, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
		}
		for i := range got {
			g, w := got[i], want[i]
			if string(g.Key) != string(w.Key) || g.Kind != w.Kind || (g.Kind == KindPut && g.Locs[0] != w.Locs[0]) {
				t.Fatalf("entry %d: got %v, want %v", i, g, w)
			}
		}
	})
}
