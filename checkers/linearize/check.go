package linearize

import (
	"cmp"
	"hash/fnv"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// Model is the porcupine model of a key-value store, partitioned by key:
// a key's state is its model.Version (a value's identity in place of its
// bytes), and a step is model.Step, the specification engine/model
// applies, so this checker and the reference model cannot disagree on
// what put, get and delete mean. An op's Input and Output are both its
// *Op. A get that did not return (Pending) may have read anything; a put
// or delete that did not return may have taken effect at any point after
// its call, or never.
func Model() porcupine.Model {
	return porcupine.Model{
		Partition: partition,
		Init:      func() any { return model.Version{} },
		Step: func(state, input, _ any) (bool, any) {
			v, op := state.(model.Version), input.(*Op)
			var value []byte
			if op.Kind == model.KeyPut {
				value = op.version().Value
			}
			next, read := model.Step(v, op.Kind, value)
			if op.Kind == model.KeyGet && op.Return != Pending && !read.Equal(op.version()) {
				return false, v
			}
			return true, next
		},
		Equal: func(a, b any) bool { return a.(model.Version).Equal(b.(model.Version)) },
		Hash: func(state any) uint64 {
			v := state.(model.Version)
			if !v.Present {
				return 0
			}
			h := fnv.New64a()
			h.Write(v.Value)
			return h.Sum64() | 1
		},
		DescribeOperation: func(input, _ any) string {
			op := input.(*Op)
			return op.call() + " → " + op.result()
		},
		DescribeState: func(state any) string { return describeVersion(state.(model.Version)) },
	}
}

// operations turns ops into porcupine's form.
func operations(ops []Op) []porcupine.Operation {
	out := make([]porcupine.Operation, len(ops))
	for i := range ops {
		op := &ops[i]
		out[i] = porcupine.Operation{ClientId: op.Client, Input: op, Output: op, Call: op.Call, Return: op.Return}
	}
	return out
}

// partition splits a history by key, keys in order: a key-value store is
// linearizable if and only if each key's history is.
func partition(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, o := range history {
		k := o.Input.(*Op).Key
		byKey[k] = append(byKey[k], o)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([][]porcupine.Operation, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}

// Check checks h with porcupine within timeout (0: none): porcupine.Ok,
// Illegal, or Unknown when the timeout ended the search first. A durable
// history (History.Durable) is checked with DurableModel, others with
// Model.
func Check(h History, timeout time.Duration) porcupine.CheckResult {
	m, ops := h.model()
	return porcupine.CheckOperationsTimeout(m, operations(ops), timeout)
}

// model is the porcupine model h is checked with and its ops as that
// model sees them.
func (h History) model() (porcupine.Model, []Op) {
	if h.Durable() {
		return DurableModel(), crashCut(h)
	}
	return Model(), h.Ops
}

// failure is what a history that is not linearizable is reported with.
type failure struct {
	key string
	// ops are the smallest failing partition's, in call order; stuck
	// indexes the first op no linearization of the key's history reaches,
	// and state describes the key's state after the longest linearizable
	// prefix porcupine found.
	ops   []Op
	stuck int
	state string
}

// smallestFailure checks each key's history alone, fewest ops first, and
// describes the first that is not linearizable (ok false if none is,
// within timeout each).
func smallestFailure(h History, timeout time.Duration) (failure, bool) {
	m, all := h.model()
	byKey := map[string][]Op{}
	var syncs []Op
	for _, op := range all {
		if op.Kind == KindSync {
			if op.Return != Pending {
				syncs = append(syncs, op)
			}
			continue
		}
		byKey[op.Key] = append(byKey[op.Key], op)
	}
	for k := range byKey {
		byKey[k] = append(byKey[k], syncs...) // a barrier on every key
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(byKey[a]), len(byKey[b])), cmp.Compare(a, b))
	})
	for _, k := range keys {
		ops := byKey[k]
		slices.SortStableFunc(ops, func(a, b Op) int { return cmp.Compare(a.Call, b.Call) })
		res, info := porcupine.CheckOperationsVerbose(m, operations(ops), timeout)
		if res != porcupine.Illegal {
			continue
		}
		f := failure{key: k, ops: ops}
		// The longest partial linearization: the ops it holds happened
		// in that order; the first op (by call) outside it is where every
		// order got stuck.
		var longest []int
		for _, p := range info.PartialLinearizations() {
			for _, l := range p {
				if len(l) > len(longest) {
					longest = l
				}
			}
		}
		in := make([]bool, len(ops))
		state := m.Init()
		for _, id := range longest {
			if id >= 0 && id < len(ops) {
				in[id] = true
				_, state = m.Step(state, &ops[id], &ops[id])
			}
		}
		f.state = m.DescribeState(state)
		f.stuck = max(0, slices.Index(in, false))
		return f, true
	}
	return failure{}, false
}

// visualize writes porcupine's HTML view of h to path, its search bounded
// by timeout (the view then shows what was found).
func visualize(h History, path string, timeout time.Duration) error {
	m, ops := h.model()
	_, info := porcupine.CheckOperationsVerbose(m, operations(ops), timeout)
	return porcupine.VisualizePath(m, info, path)
}
