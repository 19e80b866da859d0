package iosched

// fifo issues the ready writes one per region, oldest first across
// extents: the baseline the other policies are measured against.
type fifo struct{}

func (fifo) doc() string { return "fifo issues one IO per append" }

func (fifo) plan(p *plan, qs []*extQueue) {
	// Every queue's ready head is counted first: the oldest write may be
	// at any queue's head.
	counts := make([]int, len(qs))
	taken := make([]int, len(qs))
	for i, q := range qs {
		counts[i] = p.ready(q)
	}
	for !p.full() {
		best := oldest(qs, counts, taken)
		if best < 0 {
			break
		}
		w := qs[best].pending[taken[best]]
		taken[best]++
		p.add(io{q: qs[best], writes: []*Write{w}}, len(w.Frame))
	}
}

// oldest returns the index of the queue whose next ready write
// (pending[taken[i]], if taken[i] < counts[i]) was enqueued first, or -1
// if no queue has one left.
func oldest(qs []*extQueue, counts, taken []int) int {
	best := -1
	for i, q := range qs {
		if taken[i] < counts[i] && (best < 0 || q.pending[taken[i]].seq < qs[best].pending[taken[best]].seq) {
			best = i
		}
	}
	return best
}
