// Package reclaim holds reclamation's policy: which extent to reclaim
// next. The procedure itself (scan, reverse lookup, evacuate, index update,
// reset) needs the index and the chunk store together and lives in package
// shardstore; keeping the choice here, as a pure function, makes it
// deterministic and testable on its own.
package reclaim

import "github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"

// Candidate is an extent reclamation may pick: sealed (no stream appends
// to it), owned, with WritePointer bytes written of which LiveBytes are
// still referenced, in an extent of Size bytes.
type Candidate struct {
	ID           extent.ID
	Owner        extent.Owner
	WritePointer int64
	LiveBytes    int64
	// Size is the extent's size; 0 counts only the written bytes (Dead).
	Size int64
}

// Dead is the candidate's unreferenced bytes: what reclaiming it frees.
// A sealed extent is never appended to again, so the bytes past its
// write pointer are lost until it is reset, as dead bytes are: with Size
// set they count too. (A store that reopened often sealed extents holding
// a few bytes each and, none of them with a dead byte, refused a put for
// space on a device almost empty.)
func (c Candidate) Dead() int64 {
	if c.Size > 0 {
		return c.Size - c.LiveBytes
	}
	return c.WritePointer - c.LiveBytes
}

// span is what the dead ratio is of: the extent, or its written bytes.
func (c Candidate) span() int64 {
	if c.Size > 0 {
		return c.Size
	}
	return c.WritePointer
}

// Choose returns the candidate with the highest dead-byte ratio (of its
// Size, if set), ties
// broken by more dead bytes and then by the lower extent ID, so the choice
// is deterministic. Candidates with no dead bytes, or whose dead ratio is
// below minDeadRatio, are never chosen: reclaiming them moves bytes and
// frees nothing. ok is false if there is none.
func Choose(cands []Candidate, minDeadRatio float64) (best Candidate, ok bool) {
	var bestRatio float64
	for _, c := range cands {
		if c.WritePointer <= 0 && c.LiveBytes == 0 {
			// An owned extent with nothing written: free at no cost.
			if !ok || bestRatio < 1 || (bestRatio == 1 && better(c, best)) {
				best, bestRatio, ok = c, 1, true
			}
			continue
		}
		if c.Dead() <= 0 {
			continue
		}
		r := float64(c.Dead()) / float64(c.span())
		if r < minDeadRatio {
			continue
		}
		if !ok || r > bestRatio || (r == bestRatio && better(c, best)) {
			best, bestRatio, ok = c, r, true
		}
	}
	return best, ok
}

func better(a, b Candidate) bool {
	if a.Dead() != b.Dead() {
		return a.Dead() > b.Dead()
	}
	return a.ID < b.ID
}
