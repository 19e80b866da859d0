package astmut

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A handmade profile of the fixture, its blocks laid out as go test
// -coverprofile lays them: Sum's loop ran, its error return and continue
// never did; Find is absent.
const fixtureProfile = `mode: count
example.com/fixture/fixture.go:14.33,15.18 1 3
example.com/fixture/fixture.go:15.18,17.3 1 0
example.com/fixture/fixture.go:18.2,19.31 2 3
example.com/fixture/fixture.go:19.31,20.35 1 9
example.com/fixture/fixture.go:20.35,21.12 1 0
example.com/fixture/fixture.go:23.3,23.21 1 0
example.com/fixture/fixture.go:23.3,23.21 1 4
other.example/pkg/fixture.go:1.1,100.1 5 1
`

func TestCovers(t *testing.T) {
	p, err := ParseProfile(strings.NewReader(fixtureProfile))
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != "count" || len(p.Blocks["example.com/fixture/fixture.go"]) != 7 {
		t.Fatalf("parsed mode %q and %d fixture blocks, want count and 7", p.Mode, len(p.Blocks["example.com/fixture/fixture.go"]))
	}
	tests := []struct {
		name           string
		m              Mutant
		covered, known bool
	}{
		{"condition ran", fixtureMutant(t, NegatedConditional, 15), true, true},
		{"error return never ran", fixtureMutant(t, ErrorNil, 16), false, true},
		{"loop condition ran", fixtureMutant(t, ConditionalBoundary, 19), true, true},
		{"continue never ran", fixtureMutant(t, LoopControl, 21), false, true},
		// A merged profile repeats a block: one count above zero covers.
		{"repeated block", fixtureMutant(t, Arithmetic, 23), true, true},
		{"function not in the profile", fixtureMutant(t, ConditionalBoundary, 36), false, false},
		{"no blocks for the file", withPackage(fixtureMutant(t, ConditionalBoundary, 36), "example.com/nothere"), false, false},
		{"no function", withFunc(fixtureMutant(t, NegatedConditional, 15), ""), false, false},
	}
	for _, tt := range tests {
		covered, known := p.Covers(tt.m)
		if covered != tt.covered || known != tt.known {
			t.Errorf("%s: Covers(%s) = %v, %v; want %v, %v", tt.name, tt.m.ID, covered, known, tt.covered, tt.known)
		}
	}
}

// TestCoversRealProfile classifies the fixture's mutants with a profile
// that go test writes, to check that Covers reads positions as the cover
// tool writes them.
func TestCoversRealProfile(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "cover.out")
	cmd := exec.Command("go", "test", "-covermode=count", "-coverprofile="+profile, ".")
	cmd.Dir = fixtureDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test -coverprofile: %v\n%s", err, out)
	}
	f, err := os.Open(profile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := ParseProfile(f)
	if err != nil {
		t.Fatal(err)
	}
	// TestSum calls Sum on positive values only.
	tests := []struct {
		m              Mutant
		covered, known bool
	}{
		{fixtureMutant(t, NegatedConditional, 15), true, true},   // len(xs) == 0
		{fixtureMutant(t, ErrorNil, 16), false, true},            // return 0, errEmpty
		{fixtureMutant(t, IncrementDecrement, 19), true, true},   // i++
		{fixtureMutant(t, LoopControl, 21), false, true},         // continue
		{fixtureMutant(t, RemovedAssignment, 23), true, true},    // total += ...
		{fixtureMutant(t, RemovedAssignment, 32), false, true},   // Find never ran
		{fixtureMutant(t, NegatedConditional, 36), false, false}, // case expressions have no block
	}
	for _, tt := range tests {
		covered, known := p.Covers(tt.m)
		if covered != tt.covered || known != tt.known {
			t.Errorf("Covers(%s) = %v, %v; want %v, %v", tt.m.ID, covered, known, tt.covered, tt.known)
		}
	}
}

func withPackage(m Mutant, pkg string) Mutant { m.Package = pkg; return m }
func withFunc(m Mutant, f string) Mutant      { m.Func = f; return m }

func TestParseProfileErrors(t *testing.T) {
	tests := []struct{ profile, want string }{
		{"mode: set\na/b.go:1.1,2.1 1 1\na/b.go:3.1,4 1 1\n", "line 3"},
		{"mode: set\na/b.go:1.1,2.1 1\n", "line 2"},
		{"mode: set\n\na/b.go:5.1,2.1 1 1\n", "line 3"},
		{"mode: set\na/b.go:1.1,2.1 1 x\n", "line 2"},
		{"mode: sometimes\n", "line 1"},
		{"a/b.go:1.1,2.1 1 1\n", "line 1"},
		{"mode: set\nmode: count\n", "line 2"},
		{"", "no mode line"},
	}
	for _, tt := range tests {
		_, err := ParseProfile(strings.NewReader(tt.profile))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseProfile(%q): error %v, want one naming %q", tt.profile, err, tt.want)
		}
	}
}
