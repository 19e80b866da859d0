package iosched

import (
	"cmp"
	"slices"

	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// elevator merges adjacent appends as coalesce does, then issues a round's
// regions in ascending device address, foreground and background alike:
// one sweep of the disk head per round (C-SCAN), where coalesce would
// jump from the foreground extents back to the background ones. On a hard
// disk a round's seeks then add up to at most one pass over the device.
//
// The sweep starts at the extent after the last one the previous round
// took from (plan.sweep) and wraps around, so a round that fills before
// reaching the high extents does not leave them for the next round to
// skip again: every extent with ready writes is reached within a sweep.
type elevator struct{}

func (elevator) doc() string {
	return "elevator merges adjacent appends and issues a round's IOs in one ascending sweep of the device (C-SCAN)"
}

func (elevator) plan(p *plan, qs []*extQueue) {
	// Extents lie on the device in ID order, so ID order is address order.
	slices.SortFunc(qs, func(a, b *extQueue) int { return cmp.Compare(a.id, b.id) })
	start, _ := slices.BinarySearchFunc(qs, p.sweep, func(q *extQueue, id extent.ID) int { return cmp.Compare(q.id, id) })
	for k := range qs {
		if p.full() {
			break
		}
		q := qs[(start+k)%len(qs)]
		n := p.ready(q)
		for i := 0; i < n && !p.full(); {
			i = p.addRun(q, i, n)
		}
		if n > 0 {
			p.sweep = q.id + 1
		}
	}
}
