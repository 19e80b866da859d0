package astmut

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const clampSrc = `package clamp

func limit(n int64) uint32 {
	if n > 1<<32-1 {
		n = 1<<32 - 1
	}
	return uint32(n)
}

func floor(n, lo int) int {
	if lo > n {
		n = lo
	}
	return n
}

func notClamp(n, lo int) int {
	if n < lo {
		n = lo + 1
	}
	return n
}

func withElse(n, hi int) int {
	if n > hi {
		n = hi
	} else {
		n++
	}
	return n
}

func twoStatements(n, hi int) int {
	if n > hi {
		n = hi
		println(n)
	}
	return n
}

func called(n int) int {
	if n > size() {
		n = size()
	}
	return n
}

func size() int { return 8 }
`

// The boundary of a clamp's condition is hinted equivalent; near misses
// (another value, an else, more statements, a call) are not.
func TestClampBoundaryHint(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"go.mod": "module example.com/clamp\n\ngo 1.22\n", "clamp.go": clampSrc} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := Enumerate(dir, []Operator{ConditionalBoundary})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"limit": true, "floor": true, "notClamp": false, "withElse": false, "twoStatements": false, "called": false}
	seen := map[string]bool{}
	for _, m := range ms {
		w, ok := want[m.Func]
		if !ok {
			continue
		}
		seen[m.Func] = true
		h := m.EquivalentHint()
		if got := strings.HasPrefix(h, "clamps "); got != w {
			t.Errorf("%s (%s): hint %q; want a clamp hint: %v", m.Func, m.ID, h, w)
		}
	}
	for f := range want {
		if !seen[f] {
			t.Errorf("no conditional-boundary mutant in %s", f)
		}
	}
}
