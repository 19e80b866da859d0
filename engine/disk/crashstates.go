package disk

import (
	"cmp"
	"fmt"
	"math/big"
	"slices"
)

// wholeGroupWritesMax bounds the writes in one group of CrashStatesWhole:
// the group's 2^n subsets are all visited to find the distinct ones.
const wholeGroupWritesMax = 20

// groupOutcomesCountMin is how many distinct outcomes of one group are
// counted, even past the caller's limit, so the error can say how many
// states there are rather than only "more than the limit".
const groupOutcomesCountMin = 1 << 12

// CrashStates returns every distinct state a crash could leave, each as a new,
// open Mem with nothing pending, when there are at most limit of them;
// otherwise it returns an error wrapping ErrTooManyStates that says how many
// there are.
//
// The unit of survival is the pending sector-write (one pending write's bytes
// within one sector): a state is the durable contents plus any subset of the
// pending sector-writes, applied in issue order, so where two kept
// sector-writes overlap the later one wins. This allows torn multi-sector
// writes, as CrashTorn does. Two subsets that produce the same bytes are one
// state: states are distinct by contents. Since sectors are independent, the
// count is the product over touched sectors of the number of distinct
// contents that sector can end up with. In particular k pending writes to k
// different sectors, one sector each, give exactly 2^k states, and m
// whole-sector writes to one sector give m+1.
//
// The order is deterministic; the first state is the durable contents (no
// pending write kept) and the current contents (all kept) is among them.
func (m *Mem) CrashStates(limit int) ([]*Mem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crashStates(limit, false)
}

// CrashStatesWhole is CrashStates with the pending write as the unit of
// survival: a state is the durable contents plus any subset of the pending
// writes, each applied whole, in issue order (as CrashRandom chooses). Writes
// that share no sector are independent, so k pending writes to disjoint
// sectors give exactly 2^k states whatever their lengths. A group of writes
// linked by shared sectors is enumerated through all its subsets, so a group
// of more than 20 writes is an error.
func (m *Mem) CrashStatesWhole(limit int) ([]*Mem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crashStates(limit, true)
}

// crashGroup is a set of sectors whose contents a crash chooses together, and
// the distinct contents they can end up with: outcomes[i] holds the sectors'
// bytes back to back, outcomes[0] being the durable contents.
type crashGroup struct {
	sectors  []int64
	outcomes [][]byte
}

// sectorWrite is the part of pending write w in sector s: bytes [lo, hi) of
// the device.
type sectorWrite struct {
	w      int
	s      int64
	lo, hi int64
}

// crashStates implements CrashStates (whole false) and CrashStatesWhole.
// m.mu must be held.
func (m *Mem) crashStates(limit int, whole bool) ([]*Mem, error) {
	mode := "torn"
	if whole {
		mode = "whole-write"
	}
	tooMany := func(count string) error {
		return fmt.Errorf("disk: mem: %s distinct crash states (%s, %d pending writes), more than the limit %d: %w",
			count, mode, len(m.pending), limit, ErrTooManyStates)
	}
	base := m.durable()
	ss := int64(m.sectorSize)
	// Give up on a group once it alone has more outcomes than this.
	groupMax := max(limit, groupOutcomesCountMin)

	// Cut every pending write into sector-writes, grouped by sector.
	bySector := map[int64][]sectorWrite{}
	for i, w := range m.pending {
		for s := w.off / ss; s*ss < w.off+int64(w.n); s++ {
			lo, hi := max(w.off, s*ss), min(w.off+int64(w.n), (s+1)*ss)
			bySector[s] = append(bySector[s], sectorWrite{w: i, s: s, lo: lo, hi: hi})
		}
	}
	sectors := make([]int64, 0, len(bySector))
	for s := range bySector {
		sectors = append(sectors, s)
	}
	slices.Sort(sectors)

	var groups []crashGroup
	if whole {
		var over string
		groups, over = m.wholeGroups(base, sectors, bySector, groupMax)
		if over != "" {
			return nil, tooMany(over)
		}
	} else {
		for _, s := range sectors {
			g := crashGroup{sectors: []int64{s}}
			outcomes, ok := m.distinct(base, g.sectors, bySector[s], groupMax)
			if !ok {
				return nil, tooMany(fmt.Sprintf("more than %d", groupMax))
			}
			g.outcomes = outcomes
			groups = append(groups, g)
		}
	}

	count := big.NewInt(1)
	for _, g := range groups {
		count.Mul(count, big.NewInt(int64(len(g.outcomes))))
	}
	if !count.IsInt64() || count.Int64() > int64(limit) {
		return nil, tooMany(count.String())
	}

	// Enumerate the product of the groups' outcomes, the first group's
	// choice varying fastest.
	n := int(count.Int64())
	states := make([]*Mem, 0, n)
	digits := make([]int, len(groups))
	for range n {
		st := base.share()
		for gi, g := range groups {
			if d := digits[gi]; d != 0 {
				for si, s := range g.sectors {
					st.write(g.outcomes[d][int64(si)*ss:int64(si+1)*ss], s*ss)
				}
			}
		}
		states = append(states, st)
		for gi := range digits {
			digits[gi]++
			if digits[gi] < len(groups[gi].outcomes) {
				break
			}
			digits[gi] = 0
		}
	}
	return states, nil
}

// distinct returns the distinct contents the given sectors can end up with
// when any subset of sws (sector-writes within them, in issue order) is
// applied to base; the first is base's contents. It gives up (false) once
// there are more than limit.
func (m *Mem) distinct(base *Mem, sectors []int64, sws []sectorWrite, limit int) ([][]byte, bool) {
	ss := int64(m.sectorSize)
	pos := make(map[int64]int64, len(sectors)) // sector -> offset in an outcome
	start := make([]byte, int64(len(sectors))*ss)
	for i, s := range sectors {
		pos[s] = int64(i) * ss
		base.read(start[int64(i)*ss:int64(i+1)*ss], s*ss)
	}
	outcomes := [][]byte{start}
	seen := map[string]bool{string(start): true}
	// Applying each sector-write, in order, to every outcome so far visits
	// every subset (later writes applied after earlier ones) up to equal
	// contents.
	for _, sw := range sws {
		data := m.arena[m.pending[sw.w].at+int(sw.lo-m.pending[sw.w].off):][:sw.hi-sw.lo]
		at := pos[sw.s] + sw.lo - sw.s*ss
		for _, o := range outcomes[:len(outcomes):len(outcomes)] {
			if string(o[at:at+int64(len(data))]) == string(data) {
				continue
			}
			next := slices.Clone(o)
			copy(next[at:], data)
			if seen[string(next)] {
				continue
			}
			seen[string(next)] = true
			outcomes = append(outcomes, next)
			if len(outcomes) > limit {
				return nil, false
			}
		}
	}
	return outcomes, true
}

// wholeGroups groups the pending writes into sets linked by shared sectors
// and finds each set's distinct outcomes by visiting all its subsets. If
// there are too many states it returns a description of how many instead.
func (m *Mem) wholeGroups(base *Mem, sectors []int64, bySector map[int64][]sectorWrite, limit int) ([]crashGroup, string) {
	// Union-find over pending writes: writes sharing a sector are joined.
	parent := make([]int, len(m.pending))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for _, s := range sectors {
		sws := bySector[s]
		for _, sw := range sws[1:] {
			a, b := find(sws[0].w), find(sw.w)
			if a != b {
				parent[max(a, b)] = min(a, b)
			}
		}
	}
	// Collect each group's writes (in issue order) and sectors (ascending).
	type group struct {
		writes  []int
		sectors []int64
	}
	byRoot := map[int]*group{}
	var order []*group
	for i := range m.pending {
		r := find(i)
		g := byRoot[r]
		if g == nil {
			g = &group{}
			byRoot[r] = g
			order = append(order, g)
		}
		g.writes = append(g.writes, i)
	}
	for _, s := range sectors {
		g := byRoot[find(bySector[s][0].w)]
		g.sectors = append(g.sectors, s)
	}

	ss := int64(m.sectorSize)
	var groups []crashGroup
	for _, g := range order {
		if len(g.writes) > wholeGroupWritesMax {
			return nil, fmt.Sprintf("up to 2^%d (%d of the pending writes share sectors; at most %d may)",
				len(g.writes), len(g.writes), wholeGroupWritesMax)
		}
		pos := make(map[int64]int64, len(g.sectors))
		start := make([]byte, int64(len(g.sectors))*ss)
		for i, s := range g.sectors {
			pos[s] = int64(i) * ss
			base.read(start[int64(i)*ss:int64(i+1)*ss], s*ss)
		}
		outcomes := [][]byte{start}
		seen := map[string]bool{string(start): true}
		buf := make([]byte, len(start))
		for mask := 1; mask < 1<<len(g.writes); mask++ {
			copy(buf, start)
			for bit, wi := range g.writes {
				if mask&(1<<bit) == 0 {
					continue
				}
				w := m.pending[wi]
				for s := w.off / ss; s*ss < w.off+int64(w.n); s++ {
					lo, hi := max(w.off, s*ss), min(w.off+int64(w.n), (s+1)*ss)
					copy(buf[pos[s]+lo-s*ss:], m.arena[w.at+int(lo-w.off):w.at+int(hi-w.off)])
				}
			}
			if seen[string(buf)] {
				continue
			}
			seen[string(buf)] = true
			outcomes = append(outcomes, slices.Clone(buf))
			if len(outcomes) > limit {
				return nil, fmt.Sprintf("more than %d", limit)
			}
		}
		groups = append(groups, crashGroup{sectors: g.sectors, outcomes: outcomes})
	}
	slices.SortFunc(groups, func(a, b crashGroup) int { return cmp.Compare(a.sectors[0], b.sectors[0]) })
	return groups, ""
}
