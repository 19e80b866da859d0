package iosched

import "sort"

// coalesce merges the adjacent ready appends of each extent into one
// region, and takes foreground extents before background ones.
type coalesce struct{}

func (coalesce) doc() string { return "coalesce merges adjacent appends into one IO" }

func (coalesce) plan(p *plan, qs []*extQueue) {
	// Stable: extents of one class keep the order they became active in.
	sort.SliceStable(qs, func(i, j int) bool {
		return qs[i].pending[0].Class < qs[j].pending[0].Class
	})
	for _, q := range qs {
		if p.full() {
			break
		}
		n := p.ready(q)
		for i := 0; i < n && !p.full(); {
			i = p.addRun(q, i, n)
		}
	}
}

// addRun adds to p the region of q's pending writes from i that are
// adjacent (same generation, each starting where the one before ends),
// below n and within the round's bytes, and returns the index past it.
//
// No IOBytesMax bound here: issue cuts a long region into device writes at
// sector boundaries, which can go concurrently; regions of one extent
// share a sector and cannot.
func (p *plan) addRun(q *extQueue, i, n int) int {
	first := q.pending[i]
	x := io{q: q, writes: []*Write{first}}
	size := len(first.Frame)
	for i++; i < n; i++ {
		w := q.pending[i]
		prev := x.writes[len(x.writes)-1]
		if w.Gen != prev.Gen || w.Offset != prev.end() || p.bytes+int64(size) >= p.budget {
			break
		}
		x.writes = append(x.writes, w)
		size += len(w.Frame)
	}
	p.add(x, size)
	return i
}
