package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/reports"
)

// runTestDrivers are the bench engines of the tests (benchTestDrivers)
// and the known-bug engine of the check tests, so that harness run can
// bench an engine whose check fails.
func runTestDrivers() engine.Drivers {
	d, err := testDrivers().Lookup("stale-delete")
	if err != nil {
		panic(err)
	}
	return append(benchTestDrivers(), d)
}

// checkResultDir runs a short check of the model into a new directory and
// returns it: a directory holding one real Result.
func checkResultDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if code, stdout, stderr := runCLI(t, "check", "conformance", "--engine", "model", "--cases", "3", "--out", dir); code != 0 {
		t.Fatalf("check exit %d\n%s%s", code, stdout, stderr)
	}
	return dir
}

func TestReportWritesThePage(t *testing.T) {
	dir := checkResultDir(t)
	code, stdout, stderr := runCLI(t, "report", dir)
	want := filepath.Join(dir, reports.HTMLFile)
	if code != 0 || stdout != "report: "+want+"\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and the page's path", code, stdout, stderr)
	}
	page, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"conformance on model", `<span class="badge pass">pass</span>`, "harness report " + dir} {
		if !strings.Contains(string(page), s) {
			t.Errorf("page lacks %q", s)
		}
	}
	// --out puts it elsewhere.
	other := filepath.Join(t.TempDir(), "night.html")
	if code, stdout, _ := runCLI(t, "report", dir, "--out", other); code != 0 || !strings.Contains(stdout, other) {
		t.Fatalf("--out: exit %d, %q", code, stdout)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal(err)
	}
}

func TestReportErrors(t *testing.T) {
	empty := t.TempDir()
	corrupt := checkResultDir(t)
	b, err := os.ReadFile(filepath.Join(corrupt, "conformance-model-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(corrupt, "conformance-model-1.json")
	if err := os.WriteFile(truncated, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no directory", []string{"report"}, "harness: report: name the directories holding results"},
		{"missing directory", []string{"report", filepath.Join(empty, "nope")}, "harness: report: " + filepath.Join(empty, "nope") + ": no such file or directory"},
		{"empty directory", []string{"report", empty}, "harness: report: no results found in " + empty + " ("},
		{"truncated result", []string{"report", corrupt}, "harness: report: " + truncated + ": not JSON, truncated or corrupt: unexpected end of JSON input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, c.args...)
			if code != exitUsage || !strings.HasPrefix(stderr, c.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
				t.Fatalf("exit %d, stderr %q, stdout %q; want exit 2 and one line starting %q", code, stderr, stdout, c.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(empty, reports.HTMLFile)); err == nil {
		t.Error("a page was written for an empty directory")
	}
}

// TestReportReadOnlyDirectory: a directory the report cannot be written
// to is one line and a non-zero exit, and leaves nothing behind. Root
// writes through permissions, so as root the directory is a tmpfs
// remounted read-only.
func TestReportReadOnlyDirectory(t *testing.T) {
	src := checkResultDir(t)
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
			t.Skipf("mount a tmpfs (as root): %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", dir).Run() })
	}
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
			t.Fatalf("remount read-only: %v: %s", err, out)
		}
	} else {
		os.Chmod(dir, 0o555)
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
	}
	code, stdout, stderr := runCLI(t, "report", dir)
	want := "harness: report: cannot write " + filepath.Join(dir, reports.HTMLFile) + ": "
	if code == 0 || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
		t.Fatalf("exit %d, stderr %q, stdout %q; want non-zero and one line starting %q", code, stderr, stdout, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the directory after the failed report, want the Result alone", len(entries))
	}
}

// TestCommandLine: the command a report records is the one the user
// typed, quoted as a shell would need it; without the arguments (a test's
// root), every flag set.
func TestCommandLine(t *testing.T) {
	line := func(ctx context.Context, args ...string) string {
		var got string
		cmd := newBenchCmd()
		cmd.RunE = func(c *cobra.Command, _ []string) error { got = commandLine(c); return nil }
		root := newRoot(nil, nil)
		root.RemoveCommand(root.Commands()...)
		root.AddCommand(cmd)
		root.SetArgs(args)
		if err := root.ExecuteContext(ctx); err != nil {
			t.Fatal(err)
		}
		return got
	}
	args := []string{"bench", "--engine", "pebble:sync=true", "--engine", "bbolt", "--quick", "--out", "my out", "--duration", "3s"}
	if got, want := line(context.Background(), args...), "harness bench --duration 3s --engine pebble:sync=true --engine bbolt --out 'my out' --quick"; got != want {
		t.Errorf("without the arguments: got  %s\nwant %s", got, want)
	}
	if got, want := line(context.WithValue(context.Background(), argsKey{}, args), args...), "harness bench --engine pebble:sync=true --engine bbolt --quick --out 'my out' --duration 3s"; got != want {
		t.Errorf("as typed: got  %s\nwant %s", got, want)
	}
	for in, want := range map[string]string{"ycsb-a,records=500": "ycsb-a,records=500", "": "''", "it's": `'it'\''s'`, "a b": "'a b'"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
