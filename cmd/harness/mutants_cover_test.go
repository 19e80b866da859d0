package main

import (
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/mutants"
	"github.com/gauntlet-kv/gauntlet/mutants/astmut"
)

// TestASTNotCovered: a mutant whose line the baseline's coverage profile
// (coverage.WriteProfile of the detectors' GOCOVERDIR counters) holds with
// a count of 0 is reported not covered and never built or run; one whose
// block ran is prepared; one in a file the profile lacks is not covered,
// saying so.
func TestASTNotCovered(t *testing.T) {
	const pkg = "github.com/gauntlet-kv/gauntlet/engine/shardstore"
	profile, err := astmut.ParseProfile(strings.NewReader("mode: atomic\n" +
		pkg + "/store.go:10.2,12.3 2 0\n" +
		pkg + "/store.go:20.2,22.3 2 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	mutant := func(file string, line int) astmut.Mutant {
		return astmut.Mutant{ID: file + ":" + string(rune('0'+line%10)), Package: pkg, File: "/src/engine/shardstore/" + file,
			Line: line, Col: 5, Operator: astmut.Operator("negate-condition"), Func: "(*Store).Put"}
	}
	subjects, rows := astSubjects([]astmut.Mutant{mutant("store.go", 11), mutant("store.go", 21), mutant("other.go", 5)}, profile, "shardstore", t.TempDir(), t.TempDir())
	if len(subjects) != 3 || len(rows) != 3 {
		t.Fatalf("%d subjects, %d rows, want 3", len(subjects), len(rows))
	}
	if s := subjects[0]; s.Skip != mutants.NotCovered || s.Prepare != nil || !strings.Contains(s.SkipWhy, "no detector executed") {
		t.Errorf("mutant on a line run 0 times: skip %q (%s), want %q", s.Skip, s.SkipWhy, mutants.NotCovered)
	}
	if s := subjects[1]; s.Skip != "" || s.Prepare == nil {
		t.Errorf("mutant on a line run 7 times: skip %q (%s), want it built and run", s.Skip, s.SkipWhy)
	}
	if s := subjects[2]; s.Skip != mutants.NotCovered || !strings.Contains(s.SkipWhy, "no blocks for this file") {
		t.Errorf("mutant in a file the profile lacks: skip %q (%s), want not covered, saying the profile has no blocks", s.Skip, s.SkipWhy)
	}
}
