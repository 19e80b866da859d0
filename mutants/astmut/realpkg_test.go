package astmut

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// enumerateReal enumerates a real package twice, checks the results are
// equal and the IDs unique, logs the count per operator, and returns the
// mutants.
func enumerateReal(t *testing.T, pattern string) []Mutant {
	t.Helper()
	importPath, dir, err := PackageDir(context.Background(), pattern)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Enumerate(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Enumerate(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ms, again) {
		t.Errorf("%s: two Enumerate calls differ", importPath)
	}
	ids := map[string]bool{}
	counts := map[Operator]int{}
	hints := 0
	for _, m := range ms {
		if ids[m.ID] {
			t.Errorf("duplicate ID %s", m.ID)
		}
		ids[m.ID] = true
		counts[m.Operator]++
		if m.Package != importPath {
			t.Errorf("%s: package %q, want %q from go list", m.ID, m.Package, importPath)
		}
		if !strings.HasPrefix(m.ID, importPath+"/") {
			t.Errorf("ID %s does not start with %s/", m.ID, importPath)
		}
		if m.EquivalentHint() != "" {
			hints++
		}
	}
	t.Logf("%s: %d mutants, %d with an equivalence hint", importPath, len(ms), hints)
	for _, op := range Operators() {
		t.Logf("  %-22s %4d", op, counts[op])
		if counts[op] == 0 {
			t.Errorf("%s: no %s mutants", importPath, op)
		}
	}
	return ms
}

func TestEnumerateChunk(t *testing.T) {
	enumerateReal(t, "github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/chunk")
}

// TestEnumerateBbolt mutates a peer's package where it lies, in the module
// cache.
func TestEnumerateBbolt(t *testing.T) {
	ms := enumerateReal(t, "go.etcd.io/bbolt")
	if !strings.Contains(ms[0].File, "go.etcd.io/bbolt@") {
		t.Errorf("bbolt mutant in %s, want the module cache", ms[0].File)
	}
}

// TestBuildBbolt checks one bbolt mutant with an overlay build: it compiles,
// a deliberately broken copy does not, and no file of the module cache
// changes.
func TestBuildBbolt(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles bbolt twice")
	}
	ctx := context.Background()
	_, dir, err := PackageDir(ctx, "go.etcd.io/bbolt")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Enumerate(dir, []Operator{NegatedConditional})
	if err != nil {
		t.Fatal(err)
	}
	var m Mutant
	for _, x := range ms {
		if strings.HasSuffix(x.File, "/db.go") {
			m = x
			break
		}
	}
	before := dirState(t, dir)
	if err := Check(ctx, m, t.TempDir()); err != nil {
		t.Errorf("%s: %v\n%s", m.ID, err, m.Diff())
	}
	broken := m
	broken.ID += "-broken"
	broken.Replacement = "=!="
	wantNotViable(t, Check(ctx, broken, t.TempDir()), broken)
	checkDirUnchanged(t, dir, before)
}
