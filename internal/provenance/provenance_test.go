package provenance

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// newRepo makes a git repository with one commit whose go.mod declares
// module.
func newRepo(t *testing.T, module string) (dir, head string) {
	t.Helper()
	dir = t.TempDir()
	gitIn(t, dir, "init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+module+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, "add", "go.mod")
	gitIn(t, dir, "commit", "-q", "-m", "one")
	return dir, gitIn(t, dir, "rev-parse", "HEAD")
}

// TestReadIgnoresCurrentDirectory: a harness run inside another
// repository reports the commit of its own source, not that repository's.
func TestReadIgnoresCurrentDirectory(t *testing.T) {
	other, otherHead := newRepo(t, "example.com/other")
	t.Chdir(other)
	b := Read()
	if b.Commit == otherHead {
		t.Fatalf("Read in another repository stamped its commit %s", otherHead)
	}
	_, file, _, _ := runtime.Caller(0)
	// A test binary carries no VCS stamp: the commit comes from the
	// repository this file is in.
	if want := gitIn(t, filepath.Dir(file), "rev-parse", "HEAD"); b.Commit != want || b.From != "source" {
		t.Errorf("Read = %s from %q, want the source repository's HEAD %s", b.Commit, b.From, want)
	}
}

func TestFromRepo(t *testing.T) {
	dir, head := newRepo(t, "example.com/m")
	later := time.Now().Add(time.Hour)
	if c, mod, from := fromRepo(dir, "example.com/m", later); c != head || mod || from != "source" {
		t.Errorf("fromRepo = %s %v %q, want %s, unmodified, from source", c, mod, from, head)
	}
	if c, _, from := fromRepo(dir, "example.com/not-m", later); c != Unknown || !strings.Contains(from, "is not module example.com/not-m") {
		t.Errorf("fromRepo of another module = %s %q, want unknown", c, from)
	}
	if c, _, from := fromRepo(dir, "example.com/m", time.Now().Add(-time.Hour)); c != Unknown || !strings.Contains(from, "newer than the binary") {
		t.Errorf("fromRepo with a HEAD newer than the binary = %s %q, want unknown", c, from)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n// changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, mod, _ := fromRepo(dir, "example.com/m", later); c != head || !mod {
		t.Errorf("fromRepo of a modified tree = %s modified=%v, want %s modified", c, mod, head)
	}
	if c, _, from := fromRepo(t.TempDir(), "", later); c != Unknown || !strings.Contains(from, "not in a git repository") {
		t.Errorf("fromRepo outside git = %s %q, want unknown", c, from)
	}
}

func TestSourceRoot(t *testing.T) {
	root, err := SourceRoot()
	if err != nil {
		t.Fatal(err)
	}
	if m := goModModule(filepath.Join(root, "go.mod")); m != "github.com/gauntlet-kv/gauntlet" {
		t.Errorf("SourceRoot %s: go.mod declares %q", root, m)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "provenance", "provenance.go")); err != nil {
		t.Errorf("SourceRoot %s does not hold this package: %v", root, err)
	}
}
