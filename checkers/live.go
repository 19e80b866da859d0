package checkers

import "sync/atomic"

// Live is a running check's case and op counts, read while it runs (a
// progress line off a terminal shows them, so a log shows a check that
// stopped making cases while it happens). A nil *Live counts nothing.
type Live struct {
	cases, ops atomic.Int64
}

// Add counts cases finished and the ops they ran.
func (l *Live) Add(cases, ops int64) {
	if l == nil {
		return
	}
	l.cases.Add(cases)
	l.ops.Add(ops)
}

// Counts returns the cases and ops counted so far (0, 0 for nil).
func (l *Live) Counts() (cases, ops int64) {
	if l == nil {
		return 0, 0
	}
	return l.cases.Load(), l.ops.Load()
}
