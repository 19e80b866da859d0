package astmut

import (
	"bytes"
	"flag"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/fixture.golden")

// fixtureDir is the fixture package: a module of its own, so that go build
// ignores it from this module and the tests can build it.
const fixtureDir = "testdata/fixture"

func enumerateFixture(t *testing.T, ops ...Operator) []Mutant {
	t.Helper()
	ms, err := Enumerate(fixtureDir, ops)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// goldenLine is one mutant as fixture.golden spells it.
func goldenLine(m Mutant) string {
	s := fmt.Sprintf("%s %q -> %q func=%q", m.ID, m.Original, m.Replacement, m.Func)
	if h := m.EquivalentHint(); h != "" {
		s += " hint=" + h
	}
	return s
}

// TestEnumerateFixture pins every mutant of the fixture, its replacement,
// function and hint: read the diff of testdata/fixture.golden after -update.
func TestEnumerateFixture(t *testing.T) {
	ms := enumerateFixture(t)
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(goldenLine(m) + "\n")
	}
	golden := filepath.Join("testdata", "fixture.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("mutants differ from %s (rerun with -update and read the diff):\n%s", golden, got)
	}
}

// TestEnumerateFixtureSites spells out, operator by operator, which sites
// are mutated and which are skipped.
func TestEnumerateFixtureSites(t *testing.T) {
	tests := []struct {
		op   Operator
		want []string // file:line:col original -> replacement
	}{
		{ConditionalBoundary, []string{
			"fixture.go:19:16 < -> <=",
			"fixture.go:20:12 <= -> <",
			"fixture.go:36:10 > -> >=",
			"fixture.go:81:8 > -> >=",
		}},
		{NegatedConditional, []string{
			"fixture.go:15:13 == -> !=",
			"fixture.go:19:16 < -> >=",
			"fixture.go:20:12 <= -> >",
			"fixture.go:36:10 > -> <=",
			"fixture.go:39:10 == -> !=",
			"fixture.go:81:8 > -> <=",
		}},
		{Arithmetic, []string{
			"fixture.go:23:18 * -> /",
			"fixture.go:53:32 % -> *",
			"fixture.go:64:34 - -> +",
			// "<" + name is skipped; s += suffix is IncrementDecrement's.
		}},
		{IncrementDecrement, []string{
			"fixture.go:19:28 ++ -> --",
			"fixture.go:23:9 += -> -=",
			"fixture.go:52:13 -- -> ++",
			"fixture.go:57:3 ++ -> --",
			"fixture.go:70:4 += -> -=",
			"fixture.go:80:5 += -> -=",
		}},
		{InvertedLogic, []string{
			"fixture.go:20:17 && -> ||",
			"fixture.go:20:20 ! -> ",
		}},
		{RemovedCall, []string{
			`fixture.go:54:2 delete(t.counts, "") -> _ = t.counts`,
			`fixture.go:55:2 fmt.Println("add", k) -> _, _ = fmt.Println, k`,
			"fixture.go:58:2 t.note(k) -> _, _ = t.note, k",
			"fixture.go:85:2 first([]int{n}) -> _ = []int{n}",
		}},
		{RemovedAssignment, []string{
			"fixture.go:23:3 total += xs[i] * 2 -> _ = xs[i] * 2",
			"fixture.go:32:2 idx = -1 -> _ = -1",
			"fixture.go:37:4 idx = i -> _ = i",
			"fixture.go:53:2 t.stats.calls = t.stats.calls % 7 -> _ = t.stats.calls % 7",
			"fixture.go:70:2 s += suffix -> _ = suffix",
			"fixture.go:80:3 n += 1 -> _ = 1",
		}},
		{LoopControl, []string{
			"fixture.go:21:4 continue -> break",
			"fixture.go:38:4 break -> continue",
		}},
		{ErrorNil, []string{
			"fixture.go:16:13 errEmpty -> nil",
			`fixture.go:82:14 fmt.Errorf("fixture: drain: over %d", 1000) -> nil`,
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.op), func(t *testing.T) {
			var got []string
			for _, m := range enumerateFixture(t, tt.op) {
				if m.Operator != tt.op {
					t.Errorf("%s: operator %s, want only %s", m.ID, m.Operator, tt.op)
				}
				got = append(got, fmt.Sprintf("%s:%d:%d %s -> %s", filepath.Base(m.File), m.Line, m.Col, m.Original, m.Replacement))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// TestEnumerateFixtureFiles checks which files are mutated: not the test
// file, not the file a build constraint excludes, not the generated file.
func TestEnumerateFixtureFiles(t *testing.T) {
	abs, err := filepath.Abs(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range enumerateFixture(t) {
		if m.File != filepath.Join(abs, "fixture.go") {
			t.Errorf("%s: file %s, want only fixture.go", m.ID, m.File)
		}
		if m.Package != "example.com/fixture" {
			t.Errorf("%s: package %q, want example.com/fixture", m.ID, m.Package)
		}
		if !strings.HasPrefix(m.ID, "example.com/fixture/fixture.go:") {
			t.Errorf("ID %s does not start with the package and file", m.ID)
		}
	}
}

// TestMutatedBytes checks that every mutant changes its file only at its
// site, and that the mutated file still parses.
func TestMutatedBytes(t *testing.T) {
	for _, m := range enumerateFixture(t) {
		src, err := os.ReadFile(m.File)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Mutated()
		if err != nil {
			t.Fatal(err)
		}
		end := m.Offset + len(m.Original)
		if !bytes.HasPrefix(got, src[:m.Offset]) || !bytes.HasSuffix(got, src[end:]) ||
			len(got) != len(src)-len(m.Original)+len(m.Replacement) ||
			string(got[m.Offset:m.Offset+len(m.Replacement)]) != m.Replacement {
			t.Errorf("%s: mutated bytes differ from the original outside %d..%d", m.ID, m.Offset, end)
		}
		if bytes.Equal(got, src) {
			t.Errorf("%s: mutated bytes equal the original", m.ID)
		}
		if _, err := parser.ParseFile(token.NewFileSet(), m.File, got, 0); err != nil {
			t.Errorf("%s: mutated file does not parse: %v\n%s", m.ID, err, m.Diff())
		}
	}
}

// TestApplyStale checks that a mutant of a file that changed since
// Enumerate is refused, not applied at a wrong place.
func TestApplyStale(t *testing.T) {
	m := enumerateFixture(t, ErrorNil)[0]
	src, err := os.ReadFile(m.File)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(append([]byte("\n"), src...)); err == nil || !strings.Contains(err.Error(), "no longer holds") {
		t.Errorf("Apply to a shifted file: error %v, want one saying the file no longer holds the original", err)
	}
}

func TestDiff(t *testing.T) {
	var m Mutant
	for _, x := range enumerateFixture(t, Arithmetic) {
		if x.Line == 23 {
			m = x
		}
	}
	want := fmt.Sprintf(`--- %[1]s
+++ %[1]s (%[2]s)
@@ -23,1 +23,1 @@
-		total += xs[i] * 2
+		total += xs[i] / 2
`, m.File, m.ID)
	if got := m.Diff(); got != want {
		t.Errorf("Diff:\n%s\nwant:\n%s", got, want)
	}
}

func TestEnumerateUnknownOperator(t *testing.T) {
	if _, err := Enumerate(fixtureDir, []Operator{"swap-everything"}); err == nil || !strings.Contains(err.Error(), "swap-everything") {
		t.Errorf("error %v, want one naming the unknown operator", err)
	}
}
