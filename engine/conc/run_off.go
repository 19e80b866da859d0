//go:build !interleave

package conc

import "errors"

// Controlled says this build routes every primitive through a scheduler;
// the default build does not (build with -tags interleave).
const Controlled = false

// ErrNotControlled is Run's refusal in the default build.
var ErrNotControlled = errors.New("conc: controlled executions need a binary built with -tags interleave")

// Active reports whether the caller runs inside a controlled execution:
// never, in this build.
func Active() bool { return false }

// Run refuses: the scheduler exists only under -tags interleave.
func Run(Strategy, int, func()) Outcome { return Outcome{Err: ErrNotControlled} }
