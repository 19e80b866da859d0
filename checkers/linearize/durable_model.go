package linearize

import (
	"bytes"
	"cmp"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// durableState is a key's state in DurableModel: the version it holds
// (cur), the versions a crash now could leave it with (cands: cur and
// every version it held since the last Sync linearized, sorted), and
// whether the crash has happened (then cur is the recovered version).
type durableState struct {
	cur     model.Version
	cands   []model.Version
	crashed bool
}

// compareVersions orders versions: absent first, then by value bytes.
func compareVersions(a, b model.Version) int {
	if a.Present != b.Present {
		if !a.Present {
			return -1
		}
		return 1
	}
	return bytes.Compare(a.Value, b.Value)
}

// with returns s.cands with v added, a new slice (states are values: an
// earlier state porcupine backtracks to must not change).
func (s durableState) with(v model.Version) []model.Version {
	i, found := slices.BinarySearchFunc(s.cands, v, compareVersions)
	if found {
		return s.cands
	}
	return slices.Insert(slices.Clip(s.cands), i, v)
}

// DurableModel is the porcupine model of a durable history (one with Syncs
// and a crash: History.Durable), partitioned by key like Model and
// stepping put, get and delete with model.Step, the same specification.
//
// A key's state is its current version plus the versions a crash could
// leave: every version it has held since the last Sync linearized (a
// completed Sync is a durability barrier: it is copied into every key's
// partition and, where porcupine places it, empties the key's candidates
// down to its current version). The crash is the key's first recover op
// (the read-back after recovery): it must find one of the candidates,
// which becomes the key's version. An op of before the crash that is
// linearized after it never took effect: a pending one may be (that is
// how "possibly applied" includes "not applied"); one that returned
// cannot, since it returned before the read-back was called.
//
// So the recovered version must be the key's version after some prefix of
// a linearization of the completed ops and a subset of the pending ones,
// a prefix holding every write acknowledged before a completed Sync was
// called. Modelling a Sync per key lets porcupine place it differently in
// each key's order: the check is at most weaker than one over all keys at
// once, never stronger, so it raises no false alarm.
func DurableModel() porcupine.Model {
	return porcupine.Model{
		Partition: durablePartition,
		Init:      func() any { return durableState{cands: []model.Version{{}}} },
		Step: func(state, input, _ any) (bool, any) {
			s, op := state.(durableState), input.(*Op)
			if s.crashed {
				switch {
				case op.Kind == KindRecover:
					return op.version().Equal(s.cur), s
				case op.Return == Pending:
					return true, s // never took effect
				}
				return false, s
			}
			switch op.Kind {
			case KindSync:
				if op.Return == Pending {
					return true, s // promised nothing
				}
				return true, durableState{cur: s.cur, cands: []model.Version{s.cur}}
			case KindRecover:
				got := op.version()
				if _, ok := slices.BinarySearchFunc(s.cands, got, compareVersions); !ok {
					return false, s
				}
				return true, durableState{cur: got, cands: []model.Version{got}, crashed: true}
			case model.KeyGet:
				_, read := model.Step(s.cur, op.Kind, nil)
				if op.Return != Pending && !read.Equal(op.version()) {
					return false, s
				}
				return true, s
			}
			var value []byte
			if op.Kind == model.KeyPut {
				value = op.version().Value
			}
			next, _ := model.Step(s.cur, op.Kind, value)
			return true, durableState{cur: next, cands: s.with(next)}
		},
		Equal: func(a, b any) bool {
			x, y := a.(durableState), b.(durableState)
			return x.crashed == y.crashed && x.cur.Equal(y.cur) &&
				slices.EqualFunc(x.cands, y.cands, func(v, w model.Version) bool { return v.Equal(w) })
		},
		Hash: func(state any) uint64 {
			s := state.(durableState)
			h := fnv.New64a()
			write := func(v model.Version) {
				if v.Present {
					h.Write([]byte{1})
					h.Write(v.Value)
				} else {
					h.Write([]byte{0})
				}
			}
			if s.crashed {
				h.Write([]byte{2})
			}
			write(s.cur)
			for _, v := range s.cands {
				write(v)
			}
			return h.Sum64()
		},
		DescribeOperation: func(input, _ any) string {
			op := input.(*Op)
			return op.call() + " → " + op.result()
		},
		DescribeState: func(state any) string { return describeDurable(state.(durableState)) },
	}
}

// describeDurable renders a durable state: "a1 (a crash may leave: absent,
// a1)", or "recovered a1".
func describeDurable(s durableState) string {
	if s.crashed {
		return "recovered " + describeVersion(s.cur)
	}
	var c []string
	for _, v := range s.cands {
		c = append(c, describeVersion(v))
	}
	return describeVersion(s.cur) + " (a crash may leave: " + strings.Join(c, ", ") + ")"
}

// durablePartition splits a durable history by key, as partition does,
// with every Sync that returned copied into each key's partition (a Sync
// is a barrier on every key) and those that did not left out (they
// promise nothing).
func durablePartition(history []porcupine.Operation) [][]porcupine.Operation {
	var syncs, rest []porcupine.Operation
	for _, o := range history {
		switch op := o.Input.(*Op); {
		case op.Kind == KindSync && op.Return != Pending:
			syncs = append(syncs, o)
		case op.Kind != KindSync:
			rest = append(rest, o)
		}
	}
	parts := partition(rest)
	for i := range parts {
		parts[i] = append(parts[i], syncs...)
		slices.SortStableFunc(parts[i], func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
	}
	return parts
}

// crashCut returns h's ops as a durable check sees them: an op called
// before the crash that returned after it is pending, since in a real
// crash its answer reaches no one (the device was cut while it ran).
func crashCut(h History) []Op {
	if h.Crash == 0 {
		return h.Ops
	}
	ops := slices.Clone(h.Ops)
	for i := range ops {
		op := &ops[i]
		if op.Kind != KindRecover && op.Call < h.Crash && op.Return != Pending && op.Return >= h.Crash {
			op.Return = Pending
			op.Found, op.Failed = false, false
			if op.Err == "" {
				op.Err = "returned after the crash"
			}
		}
	}
	return ops
}
