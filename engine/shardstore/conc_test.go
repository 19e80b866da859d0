package shardstore

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestConcurrencyGoesThroughConc parses every non-test Go file under
// engine/shardstore and fails if one imports sync, sync/atomic or time, or
// starts a goroutine with a bare go statement: all of those must go through
// engine/conc, so the interleave build can control every schedule.
// sync/atomic is forbidden too (conc re-exports the atomic types) so that a
// scheduler can treat atomic accesses as yield points.
func TestConcurrencyGoesThroughConc(t *testing.T) {
	forbidden := map[string]string{
		"sync":        "use conc.Mutex, conc.Cond, conc.WaitGroup, ...",
		"sync/atomic": "use conc.Int64, conc.Bool, conc.Pointer, ...",
		"time":        "use a conc.Clock and conc.Duration",
	}
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if why, bad := forbidden[p]; bad {
				t.Errorf("%s: imports %q: %s", fset.Position(imp.Pos()), p, why)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if g, ok := n.(*ast.GoStmt); ok {
				t.Errorf("%s: go statement: use conc.Go", fset.Position(g.Pos()))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Fatalf("checked only %d files: is the test running in engine/shardstore?", files)
	}
}

// TestConcCheckCatches makes sure the check above can fail.
func TestConcCheckCatches(t *testing.T) {
	src := "package x\nimport \"sync\"\nfunc f() { var mu sync.Mutex; go mu.Lock() }\n"
	f, err := parser.ParseFile(token.NewFileSet(), "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	goStmts := 0
	ast.Inspect(f, func(n ast.Node) bool {
		if _, ok := n.(*ast.GoStmt); ok {
			goStmts++
		}
		return true
	})
	if len(f.Imports) != 1 || goStmts != 1 {
		t.Fatalf("found %d imports and %d go statements, want 1 and 1", len(f.Imports), goStmts)
	}
}
