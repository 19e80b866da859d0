//go:build !mutants

package mutant_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestZeroCost proves the switch costs nothing in a normal build: the
// compiler inlines On (a constant false), and inlines it at shardstore's
// seeded bugs, so each `if mutant.On(x)` folds to its correct branch.
func TestZeroCost(t *testing.T) {
	if testing.Short() {
		t.Log("short: checking the switch package only") // the engine's sites are the slower half
	}
	const pkg = "github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
	out := gcflagsM(t, pkg)
	if !strings.Contains(out, "can inline On") {
		t.Fatalf("go build -gcflags=-m %s: On is not inlinable:\n%s", pkg, out)
	}
	if testing.Short() {
		return
	}
	// Every package with a seeded bug: each call to On must be inlined.
	for _, p := range []string{
		"github.com/gauntlet-kv/gauntlet/engine/shardstore",
		"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk",
		"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep",
		"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/lsm",
		"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/superblock",
	} {
		out := gcflagsM(t, p)
		calls, inlined := 0, strings.Count(out, "inlining call to mutant.On")
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "mutant.On") && !strings.Contains(line, "inlining call") {
				calls++
				t.Errorf("%s: a call to mutant.On not inlined: %s", p, line)
			}
		}
		if inlined == 0 && calls == 0 {
			t.Errorf("%s: no seeded bug found (the -m output names no mutant.On): the list here is stale", p)
		}
	}
}

// gcflagsM compiles pkg alone with -m and returns the compiler's report.
func gcflagsM(t *testing.T, pkg string) string {
	t.Helper()
	cmd := exec.Command("go", "build", "-gcflags="+pkg+"=-m", "-o", "/dev/null", pkg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m %s: %v\n%s", pkg, err, out)
	}
	return string(out)
}
