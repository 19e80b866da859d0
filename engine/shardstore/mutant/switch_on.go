//go:build mutants

package mutant

import (
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
)

// active is the mutant in force in this process (None if none); refs
// counts the Activate calls not yet released. The engine reads active at
// every seeded bug, so it is an atomic; mu orders activations. (engine/conc,
// as everywhere in shardstore: a test rejects sync and sync/atomic.)
var (
	active conc.Uint32
	mu     conc.Mutex
	refs   int
)

// On reports whether mutant id is active in this process.
func On(id ID) bool { return ID(active.Load()) == id && id != None }

// Built reports whether this binary has the switch: true, it was built
// with -tags mutants.
func Built() bool { return true }

// Activate makes the named mutant active in this process until release is
// called. Activating the active mutant again is fine (reference-counted);
// a different one while another is active is refused, since On is
// process-wide. "" and "none" are no mutant, and succeed.
func Activate(name string) (release func(), err error) {
	if name == "" || name == "none" {
		return func() {}, nil
	}
	m, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("shardstore: mutant=%s: no such mutant (harness mutants lists them; so does engine/shardstore/mutant.Catalogue): %w", name, engine.ErrInvalidArgument)
	}
	mu.Lock()
	defer mu.Unlock()
	if cur := ID(active.Load()); cur != None && cur != m.ID {
		return nil, fmt.Errorf("shardstore: mutant=%s: mutant %s is already active in this process (one mutant at a time): %w", name, nameOf(cur), engine.ErrInvalidArgument)
	}
	active.Store(uint32(m.ID))
	refs++
	var once conc.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			if refs--; refs == 0 {
				active.Store(uint32(None))
			}
		})
	}, nil
}

// ReleaseAll turns the active mutant off whatever its count: for tests of
// checkers/interleave, whose failing executions end without closing the
// store that activated it, before they turn on the next one.
func ReleaseAll() {
	mu.Lock()
	defer mu.Unlock()
	refs = 0
	active.Store(uint32(None))
}
