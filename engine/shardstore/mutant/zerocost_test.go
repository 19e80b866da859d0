//go:build !mutants

package mutant_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
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
	// Every package with a seeded bug, found in the source rather than
	// listed: a new package's first site is checked without anyone
	// remembering to add it (iosched's once was not).
	pkgs := sitePackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("found seeded bugs in %d packages (%v), want at least 5: the source walk is broken", len(pkgs), pkgs)
	}
	t.Logf("seeded bugs in %d packages: %v", len(pkgs), pkgs)
	for _, p := range pkgs {
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

// sitePackages returns the import path of every package under engine/
// whose non-test source calls mutant.On.
func sitePackages(t *testing.T) []string {
	t.Helper()
	const module = "github.com/gauntlet-kv/gauntlet"
	root := filepath.Join("..", "..", "..") // this package is engine/shardstore/mutant
	var pkgs []string
	err := filepath.WalkDir(filepath.Join(root, "engine"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		dir, _ := filepath.Rel(root, filepath.Dir(p))
		if filepath.ToSlash(dir) == "engine/shardstore/mutant" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "mutant.On(") {
			pkgs = append(pkgs, path.Join(module, filepath.ToSlash(dir)))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking the engine's source: %v", err)
	}
	slices.Sort(pkgs)
	return slices.Compact(pkgs)
}
