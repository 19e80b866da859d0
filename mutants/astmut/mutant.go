package astmut

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Mutant is one mutation at one site: the bytes Original at byte Offset of
// File are replaced by Replacement. Every field is plain data, so a Mutant
// survives a round trip through JSON except for its equivalence hint.
type Mutant struct {
	// ID is stable across runs for the same source (see the package doc):
	// <package>/<file>:<line>:<col>:<operator>, with #2, #3, ... appended
	// to the second and later mutants that would otherwise share an ID.
	ID string
	// Package is the import path of the mutated package, empty when it is
	// not known (no go.mod above the directory).
	Package string
	// File is the absolute path of the mutated file.
	File string
	// Line and Col are the 1-based position of the mutated token or
	// statement; Col counts bytes, as go/token and coverage profiles do.
	Line, Col int
	// Operator is the kind of mutation.
	Operator Operator
	// Original is the source text replaced; Replacement replaces it.
	Original, Replacement string
	// Offset is the byte offset of Original in File.
	Offset int
	// Func names the enclosing function declaration: Open, (*DB).Open,
	// DB.Close; "func literal" for a function literal outside any
	// declaration; empty for a package-level declaration, which coverage
	// does not instrument.
	Func string

	hint string
}

// Apply returns src with the mutation applied, or an error when src does not
// hold Original at Offset (the file changed since Enumerate). src is not
// modified.
func (m Mutant) Apply(src []byte) ([]byte, error) {
	end := m.Offset + len(m.Original)
	if m.Offset < 0 || end > len(src) || string(src[m.Offset:end]) != m.Original {
		return nil, fmt.Errorf("astmut: %s: %s no longer holds %q at offset %d", m.ID, m.File, m.Original, m.Offset)
	}
	out := make([]byte, 0, len(src)-len(m.Original)+len(m.Replacement))
	out = append(out, src[:m.Offset]...)
	out = append(out, m.Replacement...)
	out = append(out, src[end:]...)
	return out, nil
}

// Mutated reads File and returns its mutated bytes.
func (m Mutant) Mutated() ([]byte, error) {
	src, err := os.ReadFile(m.File)
	if err != nil {
		return nil, fmt.Errorf("astmut: %s: %w", m.ID, err)
	}
	return m.Apply(src)
}

// Diff returns a one-hunk unified diff of the changed line(s), without
// context lines, for review. It reads File; if that fails, or the file
// changed, it falls back to a hunk of Original and Replacement alone.
func (m Mutant) Diff() string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s (%s)\n", m.File, m.File, m.ID)
	src, err := os.ReadFile(m.File)
	if err == nil {
		_, err = m.Apply(src)
	}
	if err != nil {
		fmt.Fprintf(&b, "@@ -%d +%d @@\n", m.Line, m.Line)
		writeLines(&b, "-", m.Original)
		writeLines(&b, "+", m.Replacement)
		return b.String()
	}
	end := m.Offset + len(m.Original)
	lo := bytes.LastIndexByte(src[:m.Offset], '\n') + 1
	hi := len(src)
	if i := bytes.IndexByte(src[end:], '\n'); i >= 0 {
		hi = end + i
	}
	before := string(src[lo:hi])
	after := string(src[lo:m.Offset]) + m.Replacement + string(src[end:hi])
	first := 1 + bytes.Count(src[:lo], []byte{'\n'})
	fmt.Fprintf(&b, "@@ -%d,%d +%d,%d @@\n", first, countLines(before), first, countLines(after))
	writeLines(&b, "-", before)
	writeLines(&b, "+", after)
	return b.String()
}

// EquivalentHint returns a short reason when the mutant is likely
// equivalent to the original program (no test could tell them apart), or ""
// when Enumerate saw no such reason. It is a hint for a reviewer looking at a
// survivor, not a verdict: the reasons are syntactic guesses, and a mutant
// with no hint may still be equivalent. Mutants that were not produced by
// Enumerate (decoded from JSON, say) have no hint.
func (m Mutant) EquivalentHint() string { return m.hint }

func countLines(s string) int { return strings.Count(s, "\n") + 1 }

func writeLines(b *strings.Builder, prefix, s string) {
	for line := range strings.SplitSeq(s, "\n") {
		b.WriteString(prefix)
		b.WriteString(line)
		b.WriteByte('\n')
	}
}
