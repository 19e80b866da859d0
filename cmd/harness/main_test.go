package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrorsAreOneLineExit2(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, `harness: unknown command "nope" for "harness"; run 'harness --help' for the list of verbs`},
		{[]string{"engine"}, `harness: unknown command "engine" for "harness"; did you mean engines?`},
		{[]string{"engines", "--nope"}, "harness: engines: unknown flag: --nope (see 'harness engines --help')"},
		{[]string{"engines", "nope"}, `harness: unknown engine "nope"; known engines: `},
		{[]string{"engines", "a", "b"}, "harness: accepts at most 1 arg(s), received 2"},
		{[]string{"version", "extra"}, `harness: unknown command "extra" for "harness version"`},
	}
	for _, c := range cases {
		code, stdout, stderr := runCLI(t, c.args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", c.args, code, exitUsage, stderr)
		}
		if !strings.HasPrefix(stderr, c.want) {
			t.Errorf("%q: stderr %q, want prefix %q", c.args, stderr, c.want)
		}
		if strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: stderr is not one line: %q", c.args, stderr)
		}
		if stdout != "" {
			t.Errorf("%q: printed to stdout on error: %q", c.args, stdout)
		}
	}
}

func TestEnginesListsEveryEngine(t *testing.T) {
	code, stdout, stderr := runCLI(t, "engines")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, d := range drivers() {
		if !strings.Contains(stdout, d.Name+"\n  "+d.Doc) {
			t.Errorf("engines output lacks %s and its doc:\n%s", d.Name, stdout)
		}
		for _, o := range d.Options {
			if !strings.Contains(stdout, "  "+o.Name+" ") {
				t.Errorf("engines output lacks option %s of %s", o.Name, d.Name)
			}
		}
		if len(d.Variants) > 0 && !strings.Contains(stdout, "--adaptive may run a case on: "+variantList(d.Variants)+"\n") {
			t.Errorf("engines output lacks the variants of %s", d.Name)
		}
	}
	code, stdout, _ = runCLI(t, "engines", "--json")
	var parsed []struct {
		Name     string
		Options  []struct{ Name, Default string }
		Variants []string
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &parsed) != nil || len(parsed) != len(drivers()) {
		t.Fatalf("engines --json: exit %d, %d engines parsed from %q", code, len(parsed), stdout)
	}
	for i, d := range drivers() {
		if got, want := strings.Join(parsed[i].Variants, "; "), variantList(d.Variants); got != want {
			t.Errorf("engines --json: %s variants %q, want %q", d.Name, got, want)
		}
	}
}

func TestEngineDefaultsResolve(t *testing.T) {
	// Every engine's defaults must parse: a bad default is a bug in the table.
	for _, d := range drivers() {
		_, o, err := resolveEngine(d.Name)
		if err != nil {
			t.Errorf("%s: %v", d.Name, err)
			continue
		}
		// And every variant over them: a check --adaptive opens each.
		for _, v := range d.Variants {
			vo, err := o.With(v...)
			if err == nil && d.Check != nil {
				err = d.Check(vo)
			}
			if err != nil {
				t.Errorf("%s: variant %v: %v", d.Name, v, err)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "harness ") || !strings.Contains(stdout, "go1.") {
		t.Fatalf("version: exit %d, %q", code, stdout)
	}
}

func TestWorkloadsListsNamed(t *testing.T) {
	code, stdout, _ := runCLI(t, "workloads")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, name := range []string{"ycsb-a", "ycsb-b", "ycsb-c", "ycsb-d", "ycsb-e", "ycsb-f", "fill-64k", "durable-put"} {
		if !strings.Contains(stdout, "\n"+name+" ") {
			t.Errorf("workloads output lacks %s:\n%s", name, stdout)
		}
	}
}

// TestExitForInterrupted: a verb stopped by a signal exits 128 plus the
// signal's number (130 SIGINT, 143 SIGTERM), with its one line, even when
// the error is wrapped.
func TestExitForInterrupted(t *testing.T) {
	for _, tc := range []struct {
		sig  os.Signal
		code int
	}{{os.Interrupt, exitInterrupted}, {syscall.SIGINT, 130}, {syscall.SIGTERM, exitTerminated}, {syscall.SIGTERM, 143}} {
		var errb bytes.Buffer
		err := fmt.Errorf("bench: %w", interruptedError{tc.sig, errors.New("interrupted; results in x")})
		if code := exitFor(err, &errb); code != tc.code || errb.String() != "harness: bench: interrupted; results in x\n" {
			t.Errorf("%v: exit %d, stderr %q; want %d and one line", tc.sig, code, errb.String(), tc.code)
		}
	}
}
