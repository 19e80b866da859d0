//go:build !interleave

package conc

// Controlled says this build routes every primitive through a scheduler;
// the default build does not (build with -tags interleave).
const Controlled = false

// Active reports whether the caller runs inside a controlled execution:
// never, in this build.
func Active() bool { return false }

// Run refuses: the scheduler exists only under -tags interleave.
func Run(Strategy, int, func()) Outcome { return Outcome{Err: ErrNotControlled} }
