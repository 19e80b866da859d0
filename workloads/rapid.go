package workloads

import "pgregory.net/rapid"

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
		return rapid.IntRange(0, n-1).Draw(t, label)
	}
}

// Rapid returns a rapid generator of b's ops. It draws through b, so it
// carries b's state (the keys put so far): use a fresh Biased per rapid
// test case.
func (b *Biased) Rapid() *rapid.Generator[Op] {
	return rapid.Custom(func(t *rapid.T) Op { return b.DrawFrom(RapidSource(t)) })
}
