package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
	"github.com/gauntlet-kv/gauntlet/internal/provenance"
)

// builtTags are the build tags of this binary that change what the
// harness can run: a tagged harness built from it keeps them.
func builtTags() []string {
	var tags []string
	if conc.Controlled {
		tags = append(tags, "interleave")
	}
	if mutant.Built() {
		tags = append(tags, "mutants")
	}
	return tags
}

// taggedHarness returns a harness binary built with tags (and those this
// binary has) from this binary's source tree: out/bin/harness-<tags>,
// rebuilt only when a hash of the tree's Go sources and go.mod/go.sum
// differs from the one recorded beside it. what names the verb for
// messages ("mutants", "check interleave").
func taggedHarness(ctx context.Context, what string, tags []string, out string, log io.Writer) (string, error) {
	tags = append(slices.Clone(tags), builtTags()...)
	slices.Sort(tags)
	tags = slices.Compact(tags)
	root, err := provenance.SourceRoot()
	if err != nil {
		return "", fmt.Errorf("%s: this harness was built without -tags %s and %v: run go run -tags %q ./cmd/harness %s from a checkout",
			what, strings.Join(tags, ","), err, strings.Join(tags, " "), what)
	}
	bin, err := filepath.Abs(filepath.Join(out, "bin", "harness-"+strings.Join(tags, "-")))
	if err != nil {
		return "", err
	}
	hash, err := sourceHash(root)
	if err != nil {
		return "", fmt.Errorf("%s: hash the source in %s: %w", what, root, err)
	}
	if b, err := os.ReadFile(bin + ".hash"); err == nil && string(b) == hash {
		if _, err := os.Stat(bin); err == nil {
			fmt.Fprintf(log, "%s: using %s (built with -tags %q from this source)\n", what, bin, strings.Join(tags, " "))
			return bin, nil
		}
	}
	fmt.Fprintf(log, "%s: building the harness with -tags %q from %s into %s\n", what, strings.Join(tags, " "), root, bin)
	c := exec.CommandContext(ctx, "go", "build", "-tags", strings.Join(tags, " "), "-o", bin, "./cmd/harness")
	c.Dir = root
	if b, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s: go build -tags %q ./cmd/harness in %s: %v: %s", what, strings.Join(tags, " "), root, err, strings.TrimSpace(string(b)))
	}
	if err := os.WriteFile(bin+".hash", []byte(hash), 0o644); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return bin, nil
}

// sourceHash hashes the names and contents of the Go files, go.mod and
// go.sum under root (skipping hidden directories, testdata and out).
func sourceHash(root string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "out") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") && name != "go.mod" && name != "go.sum" || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// exitCodeError is the exit code of a harness this one ran in its place
// (a tagged build), which printed everything itself.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// runTagged runs this command line in a harness built with tags, with
// this process's standard streams, and returns its exit code as an error.
func runTagged(ctx context.Context, what, tags, out string, args []string, stdout, stderr io.Writer) error {
	bin, err := taggedHarness(ctx, what, strings.Fields(tags), out, stderr)
	if err != nil {
		return err
	}
	c := exec.CommandContext(ctx, bin, args...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, stdout, stderr
	err = c.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return exitCodeError{ee.ExitCode()}
	}
	return fmt.Errorf("%s: run %s: %w", what, bin, err)
}
