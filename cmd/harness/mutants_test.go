package main

import (
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// TestMutantsList: the index names every catalogued mutant once, with its
// paper bug, and marks the ones waiting for a concurrent checker.
func TestMutantsList(t *testing.T) {
	code, stdout, stderr := runCLI(t, "mutants", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(stdout, "\n")
	for _, m := range mutant.Catalogue() {
		n := 0
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == m.Name {
				n++
				if m.Waits() != strings.Contains(l, "waits for interleave") {
					t.Errorf("%s: waits %v, line %q", m.Name, m.Waits(), l)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s listed %d times, want once:\n%s", m.Name, n, stdout)
		}
	}
}
