//go:build !mutants

package mutant

import (
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// On reports whether mutant id is active. In a normal build no mutant can
// be: On is a constant false the compiler inlines, so every
// `if mutant.On(x) { buggy } else { correct }` compiles to the correct
// branch alone (TestZeroCost proves it).
func On(ID) bool { return false }

// Built reports whether this binary has the switch: false, it was built
// without -tags mutants.
func Built() bool { return false }

// Activate refuses every mutant in a normal build: it needs a binary
// built with -tags mutants. "" and "none" are no mutant, and succeed.
func Activate(name string) (release func(), err error) {
	if name == "" || name == "none" {
		return func() {}, nil
	}
	return nil, fmt.Errorf("shardstore: mutant=%s needs a harness built with -tags mutants (go run -tags mutants ./cmd/harness ...): %w", name, engine.ErrInvalidArgument)
}
