// Package provenance says which source a running harness was built from:
// the commit every report and `harness version` carry.
//
// The commit comes from the binary itself: the VCS settings `go build`
// stamps (debug.ReadBuildInfo) when -buildvcs is not off. Where they are
// absent — `go run`, `go test`, GOFLAGS=-buildvcs=false — it comes from the
// git repository holding this package's own source file, as the compiler
// recorded its path, and only if that repository's go.mod declares the
// binary's module and its HEAD is no newer than the binary. Never from the
// current directory: a run started inside another repository must not be
// stamped with that repository's commit. When none of this holds (a
// -trimpath build, no git, a repository that moved on since the build) the
// commit is "unknown", not a guess.
package provenance

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Unknown is the commit of a build whose source cannot be told.
const Unknown = "unknown"

// Build describes the running binary.
type Build struct {
	Module    string // the main module's path
	Version   string // the main module's version, "(devel)" for a local build
	Commit    string // a full commit hash, or Unknown
	Modified  bool   // the source tree had uncommitted changes
	From      string // where Commit came from: "build", "source", or why it is Unknown
	GoVersion string
	// Deps maps every module linked in to its version.
	Deps map[string]string
}

// Read describes the running binary.
func Read() Build {
	b := Build{GoVersion: runtime.Version(), Commit: Unknown, Deps: map[string]string{}}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		b.From = "the binary carries no build information"
		return b
	}
	b.Module, b.Version = bi.Main.Path, bi.Main.Version
	for _, d := range bi.Deps {
		b.Deps[d.Path] = d.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit, b.From = s.Value, "build"
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	if b.From == "build" {
		return b
	}
	b.Commit, b.Modified, b.From = fromSource(b.Module)
	return b
}

// fromSource asks git about the repository holding this file's source.
func fromSource(module string) (commit string, modified bool, from string) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return Unknown, false, "built without VCS information and without source paths (-trimpath)"
	}
	var built time.Time
	if exe, err := os.Executable(); err == nil {
		if st, err := os.Stat(exe); err == nil {
			built = st.ModTime()
		}
	}
	return fromRepo(filepath.Dir(file), module, built)
}

// SourceRoot is the directory of the main module's source the running
// binary was built from (its go.mod declares the binary's module), for a
// verb that builds a variant of the harness (harness mutants). It is found
// from this package's own source path, never from the current directory.
func SourceRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", errors.New("the binary carries no source paths (-trimpath)")
	}
	module := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		module = bi.Main.Path
	}
	for dir := filepath.Dir(file); ; dir = filepath.Dir(dir) {
		if m := goModModule(filepath.Join(dir, "go.mod")); m != "" {
			if module != "" && m != module {
				return "", fmt.Errorf("its source %s is in module %s, not %s", dir, m, module)
			}
			return dir, nil
		}
		if dir == filepath.Dir(dir) {
			return "", fmt.Errorf("no go.mod above its source %s", filepath.Dir(file))
		}
	}
}

// fromRepo reads the commit of the git repository holding dir, if its
// go.mod declares module (any module if module is "") and its HEAD was
// committed no later than built (any time if built is zero).
func fromRepo(dir, module string, built time.Time) (commit string, modified bool, from string) {
	git := func(args ...string) (string, error) {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
		return strings.TrimSpace(string(out)), err
	}
	top, err := git("rev-parse", "--show-toplevel")
	if err != nil {
		return Unknown, false, "built without VCS information, and its source " + dir + " is not in a git repository"
	}
	if m := goModModule(filepath.Join(top, "go.mod")); module != "" && m != module {
		return Unknown, false, "built without VCS information, and the repository at " + top + " is not module " + module
	}
	head, err := git("rev-parse", "HEAD")
	if err != nil {
		return Unknown, false, "built without VCS information, and git could not read HEAD in " + top
	}
	// A HEAD committed after the binary was built is not what it was
	// built from.
	if ct, err := git("log", "-1", "--format=%ct", "HEAD"); err == nil && !built.IsZero() {
		if sec, err := strconv.ParseInt(ct, 10, 64); err == nil && time.Unix(sec, 0).After(built) {
			return Unknown, false, "built without VCS information, and the repository at " + top + " has commits newer than the binary"
		}
	}
	st, err := git("status", "--porcelain", "--untracked-files=no")
	return head, err == nil && st != "", "source"
}

// goModModule returns the module path a go.mod declares, or "".
func goModModule(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
