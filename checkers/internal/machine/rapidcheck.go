package machine

import (
	"time"

	"pgregory.net/rapid"
)

// RapidCheck runs rapid.Check of prop outside a *testing.T, with rapid's
// flags set for this one run (seed, cases, mean case length, shrink time)
// and serialized with every other checker's run in the process (rapid
// reads them from package flags). It reports whether a case failed, and
// rapid's messages. The differential checker drives its own state machine
// through it, as Run does the Machine's.
func RapidCheck(seed uint64, checks, steps int, shrink time.Duration, prop func(*rapid.T)) (failed bool, msgs []string) {
	t := &tb{name: "gauntlet"}
	rapidMu.Lock()
	defer rapidMu.Unlock()
	restore := rapidFlags(seed, checks, steps, shrink)
	defer restore()
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(stopRun); !ok {
					panic(r)
				}
			}
		}()
		rapid.Check(t, prop)
	}()
	return t.failed, t.msgs
}
