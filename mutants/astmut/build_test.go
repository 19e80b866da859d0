package astmut

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixtureMutant returns the fixture's mutant of op at line.
func fixtureMutant(t *testing.T, op Operator, line int) Mutant {
	t.Helper()
	for _, m := range enumerateFixture(t, op) {
		if m.Line == line {
			return m
		}
	}
	t.Fatalf("no %s mutant on fixture.go:%d", op, line)
	return Mutant{}
}

// fileState is what must not change about a file a mutant is built from.
type fileState struct {
	mtime time.Time
	sum   [sha256.Size]byte
}

// dirState records every file under dir.
func dirState(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	st := map[string]fileState{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		st[p] = fileState{info.ModTime(), sha256.Sum256(data)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func checkDirUnchanged(t *testing.T, dir string, before map[string]fileState) {
	t.Helper()
	after := dirState(t, dir)
	if len(after) != len(before) {
		t.Errorf("%s: %d files before, %d after", dir, len(before), len(after))
	}
	for p, b := range before {
		if a, ok := after[p]; !ok || a != b {
			t.Errorf("%s changed (mtime or sha256) while building a mutant", p)
		}
	}
}

func wantNotViable(t *testing.T, err error, m Mutant) {
	t.Helper()
	var nv *NotViableError
	if !errors.As(err, &nv) {
		t.Fatalf("%s: error %v, want a *NotViableError", m.ID, err)
	}
	if nv.ID != m.ID || !strings.Contains(nv.Output, filepath.Base(m.File)) {
		t.Errorf("NotViableError{ID: %s, Output: %q}, want ID %s and the compiler naming %s", nv.ID, nv.Output, m.ID, filepath.Base(m.File))
	}
}

// TestCheckFixture runs the viability check on fixture mutants whose fate
// is known: the removed calls keep their operands used, so they compile;
// -= on strings does not.
func TestCheckFixture(t *testing.T) {
	ctx := context.Background()
	viable := append(enumerateFixture(t, RemovedCall), fixtureMutant(t, Arithmetic, 23), fixtureMutant(t, LoopControl, 38))
	for _, m := range viable {
		if err := Check(ctx, m, t.TempDir()); err != nil {
			t.Errorf("%s: %v\n%s", m.ID, err, m.Diff())
		}
	}
	m := fixtureMutant(t, IncrementDecrement, 70) // s -= suffix
	wantNotViable(t, Check(ctx, m, t.TempDir()), m)
}

// TestBuildFixture links a command with a mutant overlaid and runs it: the
// mutation shows in its output, and the source stays as it was.
func TestBuildFixture(t *testing.T) {
	m := fixtureMutant(t, Arithmetic, 23) // total += xs[i] / 2
	before := dirState(t, fixtureDir)
	work := t.TempDir()
	bin := filepath.Join(work, "sum")
	if err := Build(context.Background(), m, work, bin, []string{"astmut_test"}, "./cmd/sum"); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	// 1/2 + 2/2 + 3/2 = 2 where the original doubles to 12.
	if got := strings.TrimSpace(string(out)); got != "2 <nil>" {
		t.Errorf("mutated sum printed %q, want \"2 <nil>\"", got)
	}
	checkDirUnchanged(t, fixtureDir, before)
}

// TestBuildNoPackage checks that Check refuses a mutant whose import path is
// unknown, without running go.
func TestBuildNoPackage(t *testing.T) {
	m := fixtureMutant(t, Arithmetic, 23)
	m.Package = ""
	err := Check(context.Background(), m, t.TempDir())
	var nv *NotViableError
	if err == nil || errors.As(err, &nv) {
		t.Errorf("Check without an import path: error %v, want a plain error", err)
	}
}

func TestWriteOverlay(t *testing.T) {
	m := fixtureMutant(t, Arithmetic, 23)
	work := t.TempDir()
	overlay, err := WriteOverlay(m, work)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(overlay)
	if err != nil {
		t.Fatal(err)
	}
	mutated := filepath.Join(work, "fixture.go")
	want := `{"Replace":{"` + m.File + `":"` + mutated + `"}}`
	if string(data) != want {
		t.Errorf("overlay %s, want %s", data, want)
	}
	got, err := os.ReadFile(mutated)
	if err != nil {
		t.Fatal(err)
	}
	if wantSrc, _ := m.Mutated(); string(got) != string(wantSrc) {
		t.Errorf("%s does not hold the mutated source", mutated)
	}
}
