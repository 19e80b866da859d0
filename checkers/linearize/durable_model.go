package linearize

import (
	"cmp"
	"hash/fnv"
	"slices"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// durableState is a key's state in DurableModel: the version it holds
// (cur), whether a crash now could leave the key with the version its
// read-back after the crash found (reachable: that version is cur or one
// the key held since the last Sync linearized), and whether the crash has
// happened (then cur is the recovered version). fresh marks the initial
// state, before the first op says which version was read back.
//
// Tracking only the read-back's version, not the set of every version a
// crash could leave, keeps the states few: with a set, each subset of the
// pending writes since the last Sync was a state of its own, and a key
// with a few dozen writes cut by a full device was past porcupine's reach.
type durableState struct {
	cur       model.Version
	reachable bool
	crashed   bool
	fresh     bool
}

// DurableModel is the porcupine model of a durable history (one with Syncs
// and a crash: History.Durable), partitioned by key like Model and
// stepping put, get and delete with model.Step, the same specification.
//
// A key's state is its current version and whether a crash now could
// leave the version its recover op (the read-back after recovery) found:
// whether that version is the current one or one the key held since the
// last Sync linearized. A completed Sync is a durability barrier: it is
// copied into every key's partition and, where porcupine places it,
// forgets every version but the current one. The crash is the key's first
// recover op: it must find a version a crash could leave, which becomes
// the key's version. An op of before the crash that is linearized after
// it never took effect: a pending one may be (that is how "possibly
// applied" includes "not applied"); one that returned cannot, since it
// returned before the read-back was called.
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
		Init:      func() any { return durableState{fresh: true} },
		Step: func(state, input, _ any) (bool, any) {
			s, op := state.(durableState), input.(*Op)
			if s.fresh {
				// Nothing has happened to the key yet: it is absent.
				s.fresh, s.reachable = false, !op.recovered.Present
			}
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
				return true, durableState{cur: s.cur, reachable: s.cur.Equal(op.recovered)}
			case KindRecover:
				got := op.version()
				if !s.reachable || !got.Equal(op.recovered) {
					return false, s
				}
				return true, durableState{cur: got, reachable: true, crashed: true}
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
			return true, durableState{cur: next, reachable: s.reachable || next.Equal(op.recovered)}
		},
		Equal: func(a, b any) bool {
			x, y := a.(durableState), b.(durableState)
			return x.crashed == y.crashed && x.reachable == y.reachable && x.fresh == y.fresh && x.cur.Equal(y.cur)
		},
		Hash: func(state any) uint64 {
			s := state.(durableState)
			h := fnv.New64a()
			h.Write([]byte{b2i(s.crashed) | b2i(s.reachable)<<1 | b2i(s.fresh)<<2 | b2i(s.cur.Present)<<3})
			h.Write(s.cur.Value)
			return h.Sum64()
		},
		DescribeOperation: func(input, _ any) string {
			op := input.(*Op)
			return op.call() + " → " + op.result()
		},
		DescribeState: func(state any) string { return describeDurable(state.(durableState)) },
	}
}

func b2i(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// describeDurable renders a durable state: "#a1/10B (a crash now may
// leave the version read back)", or "recovered #a1/10B".
func describeDurable(s durableState) string {
	switch {
	case s.crashed:
		return "recovered " + describeVersion(s.cur)
	case s.fresh:
		return "absent"
	case s.reachable:
		return describeVersion(s.cur) + " (a crash now may leave the version read back)"
	}
	return describeVersion(s.cur) + " (a crash now may not leave the version read back: it was never written, or a Sync made a later one durable)"
}

// durablePartition splits a durable history by key, as partition does,
// with every Sync that returned copied into each key's partition (a Sync
// is a barrier on every key) and those that did not left out (they
// promise nothing). Each op is copied, and the copy told the version its
// key's first recover op read (Op.recovered).
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
		var recovered model.Version
		first := int64(-1)
		for _, o := range parts[i] {
			if op := o.Input.(*Op); op.Kind == KindRecover && (first < 0 || op.Call < first) {
				recovered, first = op.version(), op.Call
			}
		}
		parts[i] = append(parts[i], syncs...)
		for j := range parts[i] {
			c := *parts[i][j].Input.(*Op)
			c.recovered = recovered
			parts[i][j].Input, parts[i][j].Output = &c, &c
		}
		slices.SortStableFunc(parts[i], func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
	}
	return parts
}

// crashCut returns h's ops as a durable check sees them: an op that
// returned at or after the crash (called before it, or after it before the
// client saw the cut) is pending, since in a real crash its answer reaches
// no one.
func crashCut(h History) []Op {
	if h.Crash == 0 {
		return h.Ops
	}
	ops := slices.Clone(h.Ops)
	for i := range ops {
		op := &ops[i]
		if op.Kind != KindRecover && op.Return != Pending && op.Return >= h.Crash {
			op.Return = Pending
			op.Found, op.Failed = false, false
			if op.Err == "" {
				op.Err = "returned after the crash"
			}
		}
	}
	return ops
}
