package workloads

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"pgregory.net/rapid"
)

func mustBiased(t interface {
	Helper()
	Fatal(...any)
}, o BiasedOptions) *Biased {
	t.Helper()
	b, err := NewBiased(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBiasedWeights(t *testing.T) {
	rng := statRand(t)
	b := mustBiased(t, BiasedOptions{})
	const draws = 100000
	counts := map[OpKind]int{}
	for range draws {
		counts[b.Draw(rng).Kind]++
	}
	w := DefaultWeights()
	total := 0
	for _, v := range w {
		total += v
	}
	for _, k := range Alphabet() {
		if w[k] == 0 {
			if counts[k] != 0 {
				t.Errorf("%v has weight 0 and was drawn %d times", k, counts[k])
			}
			continue
		}
		within4Sigma(t, k.String(), counts[k], draws, float64(w[k])/float64(total))
	}
	// A zero weight disables an op; only the weighted ones are drawn.
	b = mustBiased(t, BiasedOptions{Weights: map[OpKind]int{OpPut: 1, OpCompact: 1, OpGet: 0}})
	for range 1000 {
		if k := b.Draw(rng).Kind; k != OpPut && k != OpCompact {
			t.Fatalf("drew %v with only put and compact enabled", k)
		}
	}
}

func TestBiasedOptionsErrors(t *testing.T) {
	_, err := NewBiased(BiasedOptions{Weights: map[OpKind]int{OpGet: -1, OpInsert: 3}, Keys: -5, HitPercent: 101, ListMax: -1})
	for _, want := range []string{"weight of get is -1", "weight of insert: not in the biased alphabet", "Keys -5", "HitPercent 101", "ListMax -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewBiased = %v, want it to mention %q", err, want)
		}
	}
	if _, err := NewBiased(BiasedOptions{Weights: map[OpKind]int{}}); err == nil || !strings.Contains(err.Error(), "every op weight is zero") {
		t.Errorf("all-zero weights: %v", err)
	}
}

func TestBiasedHitsAndKeys(t *testing.T) {
	rng := statRand(t)
	b := mustBiased(t, BiasedOptions{Weights: map[OpKind]int{OpGet: 1, OpPut: 1}, Keys: 1000})
	put := map[string]bool{}
	hits, gets := 0, 0
	for range 20000 {
		op := b.Draw(rng)
		if !bytes.HasPrefix(op.Key, []byte("k")) || len(op.Key) > 4 {
			t.Fatalf("key %q is not short and readable", op.Key)
		}
		switch op.Kind {
		case OpPut:
			put[string(op.Key)] = true
		case OpGet:
			if len(put) > 0 {
				gets++
				if put[string(op.Key)] {
					hits++
				}
			}
		}
	}
	if b.PutKeys() != len(put) {
		t.Errorf("PutKeys %d, want %d", b.PutKeys(), len(put))
	}
	// 90% aim at a put key; misses land on one by chance with probability
	// put/Keys, so the hit rate is at least 90% and at most 90% + 10%·(put/Keys).
	rate := float64(hits) / float64(gets)
	if rate < 0.88 || rate > 0.9+0.1*float64(len(put))/1000+0.02 {
		t.Errorf("gets hit put keys %.3f of the time, want about 0.9", rate)
	}
	// HitPercent -1: gets are spread over the whole key space.
	b = mustBiased(t, BiasedOptions{Weights: map[OpKind]int{OpGet: 1, OpPut: 1}, Keys: 1000, HitPercent: -1})
	b.DrawFrom(func(label string, n int) int { return 0 }) // one put of k0 (kind 0 is get; no keys yet)
	hits = 0
	for range 2000 {
		if op := b.Draw(rng); op.Kind == OpGet && string(op.Key) == "k0" {
			hits++
		}
	}
	if hits > 20 {
		t.Errorf("with hits off, k0 was read %d times", hits)
	}
	// A small key space: collisions happen.
	b = mustBiased(t, BiasedOptions{Weights: map[OpKind]int{OpPut: 1}, Keys: 4})
	keys := map[string]int{}
	for range 100 {
		keys[string(b.Draw(rng).Key)]++
	}
	if len(keys) != 4 {
		t.Errorf("4-key space used %d keys", len(keys))
	}
}

func TestBiasedBinaryKeys(t *testing.T) {
	b := mustBiased(t, BiasedOptions{BinaryKeys: true, Keys: 5000})
	seen := map[string]bool{}
	lengths := map[int]bool{}
	for i := range 5000 {
		k := b.Key(i)
		if err := engine.CheckKey(k); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		if seen[string(k)] {
			t.Fatalf("key %d duplicates another", i)
		}
		seen[string(k)] = true
		lengths[len(k)] = true
	}
	for _, n := range []int{1, 2, engine.KeyMax} {
		if !lengths[n] {
			t.Errorf("no key of %d bytes", n)
		}
	}
}

func TestBiasedSizes(t *testing.T) {
	rng := statRand(t)
	o := BiasedOptions{Weights: map[OpKind]int{OpPut: 1}, PageBytes: 512, ChunkBytes: 2048, ExtentBytes: 8192}
	b := mustBiased(t, o)
	counts := map[int]int{}
	const draws = 20000
	for range draws {
		op := b.Draw(rng)
		if op.Size > 8193 {
			t.Fatalf("size %d above the cap", op.Size)
		}
		counts[op.Size]++
	}
	boundary := 0
	for _, s := range []int{0, 1, 511, 512, 513, 2047, 2048, 2049, 8191, 8192, 8193} {
		if counts[s] == 0 {
			t.Errorf("boundary size %d never drawn", s)
		}
		boundary += counts[s]
	}
	// 11 of the 13 size classes are exact boundaries.
	if boundary < draws*11/13-draws/50 {
		t.Errorf("%d of %d sizes at a boundary, want about 11/13", boundary, draws)
	}
	// Values are unique per op: seeds differ.
	seeds := map[uint64]bool{}
	for range 1000 {
		seeds[b.Draw(rng).Seed] = true
	}
	if len(seeds) != 1000 {
		t.Errorf("%d distinct seeds in 1000 puts", len(seeds))
	}
}

func TestBiasedDeterminism(t *testing.T) {
	seed := testSeed(t)
	draw := func(s uint64) []Op {
		b := mustBiased(t, BiasedOptions{Weights: map[OpKind]int{OpGet: 3, OpPut: 3, OpList: 1, OpDirtyReboot: 1}})
		rng := rand.New(rand.NewPCG(s, 9))
		ops := make([]Op, 500)
		for i := range ops {
			ops[i] = b.Draw(rng)
		}
		return ops
	}
	a, c := draw(seed), draw(seed)
	if !slices.EqualFunc(a, c, Op.Equal) {
		t.Error("same seed, different ops")
	}
	if slices.EqualFunc(a, draw(seed+1), Op.Equal) {
		t.Error("different seeds, same ops")
	}
}

func TestBiasedSimplestFirst(t *testing.T) {
	// A source that always answers 0 — what a shrinker converges to — draws
	// the simplest op: a get of the first key; with only puts, an empty
	// value to the first key.
	zero := func(string, int) int { return 0 }
	op := mustBiased(t, BiasedOptions{}).DrawFrom(zero)
	if op.Kind != OpGet || string(op.Key) != "k0" {
		t.Errorf("all-zero draw = %v, want get k0", op)
	}
	op = mustBiased(t, BiasedOptions{Weights: map[OpKind]int{OpPut: 1}}).DrawFrom(zero)
	if op.Kind != OpPut || string(op.Key) != "k0" || op.Size != 0 {
		t.Errorf("all-zero put = %v, want put k0 of 0 bytes", op)
	}
	if got := Alphabet(); got[0] != OpGet || got[1] != OpPut || got[len(got)-1] != OpFailDiskOnce {
		t.Errorf("alphabet %v", got)
	}
}

func TestBiasedCheck(t *testing.T) {
	b := mustBiased(t, BiasedOptions{})
	err := b.Check(newMem())
	if err == nil || !strings.Contains(err.Error(), "engine.Lister") || !strings.Contains(err.Error(), "compact is enabled") {
		t.Errorf("Check on a plain engine: %v", err)
	}
	if err := b.Check(listingEngine{newMem()}); err != nil {
		t.Errorf("Check on a listing, maintaining engine: %v", err)
	}
}

// TestBiasedRapid drives an engine with a rapid state machine whose ops come
// from a Biased generator, comparing it with a map: the shape the
// conformance checker takes.
func TestBiasedRapid(t *testing.T) {
	var cases, applied, found int
	defer func() {
		t.Logf("%d cases, %d ops applied, %d gets found their key", cases, applied, found)
		// Per case, not in total: rapid runs a fifth of the cases and half
		// the steps under -short. A generator whose ops are mostly the
		// checker's or errors averages well under these.
		if cases == 0 || applied < 4*cases || found < cases {
			t.Errorf("the state machine barely ran: %d ops, %d hits in %d cases", applied, found, cases)
		}
	}()
	rapid.Check(t, func(rt *rapid.T) {
		cases++
		ctx := context.Background()
		b := mustBiased(rt, BiasedOptions{Keys: 8, PageBytes: 16, ChunkBytes: 64, ExtentBytes: 256})
		e := listingEngine{newMem()}
		model := map[string][]byte{}
		gen := b.Rapid()
		rt.Repeat(map[string]func(*rapid.T){
			"op": func(rt *rapid.T) {
				op := gen.Draw(rt, "op")
				r, err := Apply(ctx, e, op, nil)
				if errors.Is(err, ErrCheckerOp) {
					return // reboots are the checker's; nothing to do here
				}
				if err != nil {
					rt.Fatalf("%v: %v", op, err)
				}
				applied++
				if r.Found {
					found++
				}
				switch op.Kind {
				case OpPut:
					model[string(op.Key)] = op.Value(nil)
				case OpDelete:
					delete(model, string(op.Key))
				case OpGet:
					want, ok := model[string(op.Key)]
					if r.Found != ok || !bytes.Equal(r.Value, want) {
						rt.Fatalf("%v: found %v %x, model %v %x", op, r.Found, r.Value, ok, want)
					}
				case OpList:
					n := 0
					for k := range model {
						if (op.Key == nil || k >= string(op.Key)) && (op.End == nil || k < string(op.End)) {
							n++
						}
					}
					if op.ScanLen > 0 {
						n = min(n, op.ScanLen)
					}
					if r.Keys != n {
						rt.Fatalf("%v: listed %d keys, model %d", op, r.Keys, n)
					}
				}
			},
		})
	})
}
