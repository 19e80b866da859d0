package workloads

import (
	"sync"

	"pgregory.net/rapid"
)

// RapidSource returns a Source drawing from t, so a rapid property or state
// machine can drive a Biased generator and shrink its choices:
//
//	b, _ := workloads.NewBiased(workloads.BiasedOptions{})
//	t.Repeat(map[string]func(*rapid.T){"op": func(t *rapid.T) {
//		op := b.Rapid().Draw(t, "op")
//		...
//	}})
func RapidSource(t *rapid.T) Source {
	return func(label string, n int) int {
		return intRange(n).Draw(t, label)
	}
}

// intRanges holds rapid.IntRange(0, n-1) by n. A rapid generator is
// immutable once made (nothing here calls its String, the one method that
// sets state), so one serves every draw; making one per draw was a
// measurable part of a checker's cost.
var intRanges sync.Map // int → *rapid.Generator[int]

func intRange(n int) *rapid.Generator[int] {
	if g, ok := intRanges.Load(n); ok {
		return g.(*rapid.Generator[int])
	}
	g, _ := intRanges.LoadOrStore(n, rapid.IntRange(0, n-1))
	return g.(*rapid.Generator[int])
}

// Rapid returns a rapid generator of b's ops. It draws through b, so it
// carries b's state (the keys put so far): use a fresh Biased per rapid
// test case.
func (b *Biased) Rapid() *rapid.Generator[Op] {
	return rapid.Custom(func(t *rapid.T) Op { return b.DrawFrom(RapidSource(t)) })
}
