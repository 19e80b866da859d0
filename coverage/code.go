package coverage

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Go code coverage (harness coverage --code, and the baseline of harness
// mutants ast, which calls a mutant on a line no detector executed "not
// covered") is measured the one way these functions implement: a binary
// built with -cover runs each check with GOCOVERDIR set, and go tool
// covdata reads the counters.

// BuildCovered builds main (an import path or ./dir, relative to root)
// into bin with Go's coverage instrumentation of pkgs (comma-separated
// patterns) and of main itself: a binary whose main package is not
// instrumented writes no counters at exit. The counters are atomic, so a
// process may write them while it runs (runtime/coverage.WriteCountersDir:
// a kill-mode crash child does, just before it kills itself).
func BuildCovered(ctx context.Context, root, pkgs, main, bin string) error {
	c := exec.CommandContext(ctx, "go", "build", "-cover", "-covermode", "atomic", "-coverpkg", pkgs+","+main, "-o", bin, main)
	c.Dir = root
	if b, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -cover -coverpkg %s: %v: %s", pkgs, err, strings.TrimSpace(string(b)))
	}
	return nil
}

// Covdata runs go tool covdata mode (percent, func, textfmt, ...) on the
// counters in dirs, for pkgs (import paths; none: every package), with
// extra arguments (textfmt's -o FILE), and returns its output.
func Covdata(ctx context.Context, mode string, dirs, pkgs []string, extra ...string) (string, error) {
	args := []string{"tool", "covdata", mode, "-i", strings.Join(dirs, ",")}
	if len(pkgs) > 0 {
		args = append(args, "-pkg", strings.Join(pkgs, ","))
	}
	c := exec.CommandContext(ctx, "go", append(args, extra...)...)
	b, err := c.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool covdata %s -i %s: %v: %s", mode, strings.Join(dirs, ","), err, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

// WriteProfile writes the counters in dirs as a text coverage profile
// (the format of go test -coverprofile) to file: per basic block, how
// often it ran, summed over every process that wrote to dirs.
func WriteProfile(ctx context.Context, dirs []string, file string) error {
	_, err := Covdata(ctx, "textfmt", dirs, nil, "-o", file)
	return err
}
