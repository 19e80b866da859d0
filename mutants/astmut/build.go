package astmut

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// PackageDir resolves one package pattern (an import path such as
// go.etcd.io/bbolt, or a relative directory such as ./engine/shardstore)
// with `go list` run in the current directory, so a package of a dependency
// resolves to its directory in the module cache.
func PackageDir(ctx context.Context, pattern string) (importPath, dir string, err error) {
	out, err := goCmd(ctx, "", "list", "-f", "{{.ImportPath}} {{.Dir}}", "--", pattern)
	if err != nil {
		return "", "", fmt.Errorf("astmut: go list %s: %w", pattern, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 {
		return "", "", fmt.Errorf("astmut: go list %s: %d packages, want one", pattern, len(lines))
	}
	importPath, dir, ok := strings.Cut(lines[0], " ")
	if !ok || dir == "" {
		return "", "", fmt.Errorf("astmut: go list %s: no directory in %q", pattern, lines[0])
	}
	return importPath, dir, nil
}

// Names of the files WriteOverlay writes in its workdir.
const (
	// OverlayFile is the overlay JSON, passed to go as -overlay.
	OverlayFile = "overlay.json"
	// ModFile is the alternate go.mod, passed to go as -modfile, written
	// only for a mutant of a file in the module cache; go.sum is beside it.
	ModFile = "go.mod"
	// ModuleDir is the directory that holds the copy of a dependency's
	// module that ModFile's replace directive points to.
	ModuleDir = "module"
)

// WriteOverlay writes m's mutated file into workdir, under the original
// file's name, and beside it the overlay JSON mapping the source file to
// it, and returns the overlay's path. Nothing outside workdir is written:
// the source file and the module cache stay untouched.
//
// go refuses an overlay of a file beneath GOMODCACHE, so for a mutant of a
// dependency (a file in the module cache) WriteOverlay also copies that
// module's files into workdir/module (tests, testdata and nested modules
// left out; a copy already there is reused) and writes an alternate go.mod,
// workdir/go.mod: the main module's with a replace directive pointing the
// dependency at the copy, and the main go.sum beside it. The overlay then
// replaces the file of the copy, and go needs -modfile as well: Flags
// returns both.
//
// Mutants built concurrently need a workdir each; mutants built one after
// another may share one (each call rewrites the overlay).
func WriteOverlay(m Mutant, workdir string) (overlayPath string, err error) {
	w, err := writeOverlay(context.Background(), m, workdir)
	return w.overlay, err
}

// Flags writes what WriteOverlay writes and returns the go flags that build
// with m: -overlay, and -modfile for a dependency's mutant. A runner passes
// them to go test or go build run in the module root Build uses.
func Flags(ctx context.Context, m Mutant, workdir string) ([]string, error) {
	w, err := writeOverlay(ctx, m, workdir)
	if err != nil {
		return nil, err
	}
	return w.flags(), nil
}

// written is where writeOverlay put things and where go must run.
type written struct {
	root    string // the main module's root, to run go in
	overlay string
	modfile string // "" unless the mutant is in the module cache
}

func (w written) flags() []string {
	f := []string{"-overlay", w.overlay}
	if w.modfile != "" {
		f = append(f, "-modfile", w.modfile)
	}
	return f
}

func writeOverlay(ctx context.Context, m Mutant, workdir string) (written, error) {
	var w written
	src, err := m.Mutated()
	if err != nil {
		return w, err
	}
	if workdir, err = filepath.Abs(workdir); err != nil {
		return w, fmt.Errorf("astmut: %w", err)
	}
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return w, fmt.Errorf("astmut: %w", err)
	}
	replaced := m.File
	cache, err := goEnv(ctx, "GOMODCACHE")
	if err != nil {
		return w, err
	}
	if cache != "" && within(cache, m.File) {
		// A dependency's file: build against a copy of its module.
		modRoot := moduleRootOf(m.File)
		if modRoot == "" || !within(cache, modRoot) {
			return w, fmt.Errorf("astmut: mutant %s: no go.mod above %s in the module cache", m.ID, m.File)
		}
		gomod, err := goEnv(ctx, "GOMOD")
		if err != nil {
			return w, err
		}
		if gomod == "" || gomod == os.DevNull {
			return w, fmt.Errorf("astmut: mutant %s: the current directory is in no module, so nothing depends on %s", m.ID, modRoot)
		}
		w.root = filepath.Dir(gomod)
		copyDir := filepath.Join(workdir, ModuleDir)
		if err := copyModule(modRoot, copyDir); err != nil {
			return w, fmt.Errorf("astmut: mutant %s: copy %s: %w", m.ID, modRoot, err)
		}
		w.modfile = filepath.Join(workdir, ModFile)
		if err := writeModFile(gomod, modRoot, copyDir, w.modfile); err != nil {
			return w, fmt.Errorf("astmut: mutant %s: %w", m.ID, err)
		}
		rel, err := filepath.Rel(modRoot, m.File)
		if err != nil {
			return w, fmt.Errorf("astmut: %w", err)
		}
		replaced = filepath.Join(copyDir, rel)
	} else {
		w.root = moduleRootOf(m.File)
		if w.root == "" {
			return w, fmt.Errorf("astmut: mutant %s: %s is in no module", m.ID, m.File)
		}
	}
	mutated := filepath.Join(workdir, filepath.Base(m.File))
	if err := os.WriteFile(mutated, src, 0o644); err != nil {
		return w, fmt.Errorf("astmut: %w", err)
	}
	overlay := struct{ Replace map[string]string }{map[string]string{replaced: mutated}}
	data, err := json.Marshal(overlay)
	if err != nil {
		return w, fmt.Errorf("astmut: %w", err)
	}
	w.overlay = filepath.Join(workdir, OverlayFile)
	if err := os.WriteFile(w.overlay, data, 0o644); err != nil {
		return w, fmt.Errorf("astmut: %w", err)
	}
	return w, nil
}

// copyModule copies the module at src into dst, leaving out test files,
// testdata and nested modules, unless dst already holds a go.mod (a copy
// made for an earlier mutant in the same workdir).
func copyModule(src, dst string) error {
	if _, err := os.Stat(filepath.Join(dst, "go.mod")); err == nil {
		return nil
	}
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if p != src {
				name := d.Name()
				if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
					return filepath.SkipDir
				}
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// writeModFile writes to modfile the main go.mod with a replace directive
// pointing the module at modRoot to its copy, and copies the main go.sum
// beside it.
func writeModFile(gomod, modRoot, copyDir, modfile string) error {
	main, err := os.ReadFile(gomod)
	if err != nil {
		return err
	}
	dep, err := os.ReadFile(filepath.Join(modRoot, "go.mod"))
	if err != nil {
		return err
	}
	path := modulePath(dep)
	if path == "" {
		return fmt.Errorf("%s has no module line", filepath.Join(modRoot, "go.mod"))
	}
	main = append(main, fmt.Sprintf("\n// Added by astmut: build against a copy that an overlay can mutate.\nreplace %s => %s\n", path, copyDir)...)
	if err := os.WriteFile(modfile, main, 0o644); err != nil {
		return err
	}
	sum, err := os.ReadFile(filepath.Join(filepath.Dir(gomod), "go.sum"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.WriteFile(strings.TrimSuffix(modfile, ".mod")+".sum", sum, 0o644)
}

// moduleRootOf returns the directory of the nearest go.mod above file, or "".
func moduleRootOf(file string) string {
	for d := filepath.Dir(file); ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// within reports whether path lies in dir.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func goEnv(ctx context.Context, name string) (string, error) {
	out, err := goCmd(ctx, "", "env", name)
	if err != nil {
		return "", fmt.Errorf("astmut: go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// NotViableError reports that a mutant does not compile. Such a mutant is
// dropped, not counted as killed.
type NotViableError struct {
	ID string
	// Output is the first lines of the compiler's output.
	Output string
}

func (e *NotViableError) Error() string {
	return fmt.Sprintf("astmut: mutant %s does not compile:\n%s", e.ID, e.Output)
}

// Check compiles only m's package with the mutation overlaid (go build
// -overlay, the result discarded), which is much faster than linking a
// binary: it is the viability filter to run before Build. It returns a
// *NotViableError when the mutated package does not compile, another error
// when go could not be run or failed otherwise.
func Check(ctx context.Context, m Mutant, workdir string) error {
	if m.Package == "" {
		return fmt.Errorf("astmut: mutant %s: import path unknown", m.ID)
	}
	return buildMutant(ctx, m, workdir, os.DevNull, nil, m.Package)
}

// Build builds pkg (an import path or a directory pattern relative to the
// module root) into out with m overlaid, passing tags as -tags. It returns a
// *NotViableError when compiling fails, another error when go could not be
// run or failed otherwise.
//
// go runs in the root of the module that holds m's file, or, when that file
// lies in the module cache (a dependency's package), in the root of the
// main module of the current directory, the module that depends on it (see
// WriteOverlay).
func Build(ctx context.Context, m Mutant, workdir string, out string, tags []string, pkg string) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("astmut: %w", err)
	}
	return buildMutant(ctx, m, workdir, out, tags, pkg)
}

func buildMutant(ctx context.Context, m Mutant, workdir, out string, tags []string, pkg string) error {
	w, err := writeOverlay(ctx, m, workdir)
	if err != nil {
		return err
	}
	args := append([]string{"build"}, w.flags()...)
	args = append(args, "-o", out)
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	args = append(args, "--", pkg)
	_, err = goCmd(ctx, w.root, args...)
	var ge *goError
	if errors.As(err, &ge) && ctx.Err() == nil && compileError.Match(ge.stderr) {
		return &NotViableError{ID: m.ID, Output: firstLines(ge.stderr, 10)}
	}
	if err != nil {
		return fmt.Errorf("astmut: mutant %s: go %s: %w", m.ID, strings.Join(args, " "), err)
	}
	return nil
}

// compileError matches a compiler diagnostic, file.go:line:col: message.
var compileError = regexp.MustCompile(`(?m)^\S+\.go:\d+:\d+: `)

// goError is a go command that exited with a failure.
type goError struct {
	err    error
	stderr []byte
}

func (e *goError) Error() string {
	return fmt.Sprintf("%v: %s", e.err, firstLines(e.stderr, 10))
}

func (e *goError) Unwrap() error { return e.err }

// goCmd runs the go command in dir ("" for the current directory) and
// returns its standard output.
func goCmd(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, &goError{err: err, stderr: stderr.Bytes()}
	}
	return stdout.Bytes(), nil
}

// firstLines returns up to n lines of b.
func firstLines(b []byte, n int) string {
	lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", n+1)
	if len(lines) > n {
		lines[n] = "..."
	}
	return strings.Join(lines, "\n")
}
