// Package mutant is shardstore's seeded-bug switch: a catalogue of named,
// documented bugs (mutants), each guarded in the engine by one test of On,
// and the process-wide switch that turns one of them on.
//
// A mutant is a small, realistic change a competent engineer could make:
// it compiles, most things still work, and one property the checkers
// verify breaks. Running every checker against every mutant (harness
// mutants; mutants/catalogue_test.go) measures the checkers: a mutant no
// detector catches is a blind spot. The Canary is the mutant every checker
// must catch within its first few cases, proof that the checks can fail at all.
//
// # Cost
//
// The switch exists only in a binary built with -tags mutants. In a
// normal build On is a constant false that the compiler inlines, so each
//
//	if mutant.On(mutant.X) { buggy } else { correct }
//
// compiles to the correct branch alone, and Activate refuses every mutant
// with an error naming the build tag (TestZeroCost checks the inlining).
// With the tag, On is one atomic load and a compare.
//
// # Turning one on
//
// An engine spec names it: shardstore:mutant=<name>. shardstore's Open
// calls Activate and Close releases it, so a spec reaches every process
// that opens the engine (--jobs workers, kill-mode children, replays).
// One mutant at a time per process: Activate refuses a different one while
// another is active (the same one twice is fine; it is reference-counted).
//
// # Adding a mutant
//
//  1. A constant in mutant.go, at the end of its group (IDs are not
//     stored; names are).
//  2. A Catalogue entry: a kebab-case Name, the Component, what is Wrong
//     (the change and its effect, one or two sentences), the Paper bug it
//     mirrors (Figure 5 of Bornholt et al., SOSP 2021; 0 if none), its
//     Class, and Expect: the detectors that should catch it. A bug only a
//     concurrent checker can see sets Concurrency and says Why.
//  3. One guarded site in the engine, as small as the bug:
//     if mutant.On(mutant.X) { ... } else { ... } (two only when the bug
//     has two halves, as cache-not-drained-on-reset: the cache key and the
//     reset). Never inside internal/iosched while its split is under way:
//     place it where shardstore calls the scheduler, or in the dependency
//     graph. A package that gains its first site goes into TestZeroCost's
//     list.
//  4. Run go test -tags mutants ./mutants/: the catalogue test runs each
//     expected detector with the mutant on, and fails if none catches it.
package mutant
