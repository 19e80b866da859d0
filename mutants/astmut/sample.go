package astmut

import (
	"math/rand/v2"
	"slices"
)

// Sample returns n mutants of ms chosen by a PCG seeded with seed, in their
// order in ms: the same (ms, n, seed) gives the same subset on every run and
// machine. When n >= len(ms) it returns all of them. The result is a fresh
// slice.
func Sample(ms []Mutant, n int, seed uint64) []Mutant {
	if n >= len(ms) {
		return slices.Clone(ms)
	}
	if n <= 0 {
		return nil
	}
	// The second PCG word is fixed so that one number replays a sample.
	rng := rand.New(rand.NewPCG(seed, 0x6d75_7461_6e74_7321))
	picked := rng.Perm(len(ms))[:n]
	slices.Sort(picked)
	out := make([]Mutant, n)
	for i, j := range picked {
		out[i] = ms[j]
	}
	return out
}
