// Command harness drives storage engines with workloads, measures them, and
// checks them against reference models.
//
// Exit codes: 0 pass, 1 a violation or regression was found, 2 usage error
// (bad flag, unknown engine, bad option), 3 internal error (for bench: a
// run failed), 130 stopped by SIGINT (Ctrl-C) and 143 stopped by SIGTERM,
// as a shell reports a process those signals ended: what ran is kept and
// marked interrupted, and the code is never 0, so a CI job stopped by its
// timeout does not pass.
//
// This package is wiring only: the engine table (engines.go), the checker
// table (check.go), flag parsing, output, and calls into the packages that
// do the work (checkers/jobs supervises a check's worker processes).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/checkers/jobs"
	"github.com/gauntlet-kv/gauntlet/internal/cgroup"
)

// Exit codes. A run stopped by a signal exits as the shell reports a
// process killed by it (128 + the signal's number), so a CI job stopped by
// its timeout never reads as a pass.
// They are package jobs' (a check worker reports its verdict by them).
const (
	exitPass        = jobs.ExitPass
	exitViolation   = jobs.ExitViolation
	exitUsage       = jobs.ExitUsage
	exitInternal    = jobs.ExitInternal
	exitInterrupted = jobs.ExitInterrupted // SIGINT
	exitTerminated  = jobs.ExitTerminated  // SIGTERM
)

// interruptedError marks a verb stopped by a signal after it kept what it
// had done: exit 130 for SIGINT, 143 for SIGTERM. err, if set, says what
// was kept.
type interruptedError struct {
	sig os.Signal
	err error
}

func (e interruptedError) Error() string {
	if e.err == nil {
		return "interrupted by " + signalName(e.sig)
	}
	return e.err.Error()
}

func (e interruptedError) Unwrap() error { return e.err }

// code is the exit code for the signal: 128 plus its number.
func (e interruptedError) code() int {
	if s, ok := e.sig.(syscall.Signal); ok && s > 0 && s < 128 {
		return 128 + int(s)
	}
	return exitInterrupted
}

// signalName is the signal's conventional name: SIGINT, SIGTERM.
func signalName(sig os.Signal) string { return jobs.SignalName(sig) }

// usageError marks an error caused by the user's input: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// violationError marks a run that completed and found a violation or
// regression: exit 1. Its message is already printed by the verb. A quiet
// one is not printed at all: a check worker's parent reports it.
type violationError struct {
	msg   string
	quiet bool
}

func (e violationError) Error() string { return e.msg }

func main() {
	if dir := os.Getenv(cgroup.EnvJoin); dir != "" {
		joinCgroup(dir)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// joinCgroup moves this process, a bench run's child started with
// 'bench --memory', into the memory cgroup at dir and starts it again
// there (same PID, arguments and open files), so that every package's
// sizing at init (shardstore's cache default reads the limit) sees the
// limit.
func joinCgroup(dir string) {
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "harness: bench --memory: %v\n", err)
		os.Exit(exitInternal)
	}
	if err := cgroup.Join(dir); err != nil {
		fail(err)
	}
	os.Unsetenv(cgroup.EnvJoin)
	exe, err := os.Executable()
	if err != nil {
		fail(err)
	}
	fail(syscall.Exec(exe, os.Args, os.Environ()))
}

// run executes the CLI and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	return exitFor(root.ExecuteContext(context.WithValue(context.Background(), argsKey{}, args)), stderr)
}

// argsKey keys the command line's arguments in the context a verb runs
// in, for commandLine.
type argsKey struct{}

// exitFor prints err as one line on stderr and returns its exit code.
func exitFor(err error, stderr io.Writer) int {
	if err == nil {
		return exitPass
	}
	code := exitInternal
	var ue usageError
	var ve violationError
	var ie interruptedError
	var ce exitCodeError
	switch {
	case errors.As(err, &ce):
		return ce.code // the tagged harness that ran in this one's place said it all
	case errors.As(err, &ie):
		code = ie.code()
	case errors.As(err, &ue) || isCobraUsage(err):
		code = exitUsage
	case errors.As(err, &ve):
		code = exitViolation
		if ve.quiet {
			return code
		}
	}
	if errors.Is(err, errQuiet) {
		return code
	}
	fmt.Fprintf(stderr, "harness: %s\n", describe(err))
	return code
}

// isCobraUsage recognises cobra's own argument errors (unknown command,
// wrong number of arguments), which it returns as plain errors.
func isCobraUsage(err error) bool {
	// Flag errors arrive through the FlagErrorFunc as usageError already;
	// only cobra's argument checks remain. Match their prefixes only, so an
	// engine error that happens to say "invalid argument" is not taken for
	// a usage error.
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// describe renders err as the one line the user sees. Cobra's "unknown
// command" error carries its suggestions on further lines; fold them in.
func describe(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "unknown command") {
		first, rest, _ := strings.Cut(msg, "\n")
		var sugg []string
		for _, l := range strings.Split(rest, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "Did you mean") {
				sugg = append(sugg, l)
			}
		}
		if len(sugg) > 0 {
			return first + "; did you mean " + strings.Join(sugg, " or ") + "?"
		}
		return first + "; run 'harness --help' for the list of verbs"
	}
	return oneLine(msg)
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "harness",
		Short: "gauntlet: benchmark and verify key-value storage engines",
		Long: `harness drives storage engines with workloads, measures throughput and tail
latency, and checks conformance and crash consistency against reference models.
Start with 'harness run': a short bench of shardstore against its peers, its
checks, and an HTML report of both ('harness report' makes one of any results).

Exit codes: 0 pass, 1 violation or regression, 2 usage error, 3 internal error
(bench: a run failed), 130 stopped by SIGINT (Ctrl-C), 143 stopped by SIGTERM.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// No Run: a bare "harness" prints help, and an unknown verb is an
		// error with cobra's suggestions.
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		if !cmd.HasParent() {
			return usagef("%v (see 'harness --help')", err)
		}
		path := strings.TrimPrefix(cmd.CommandPath(), "harness ")
		return usagef("%s: %v (see 'harness %s --help')", path, err, path)
	})
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		newRunCmd(),
		newReportCmd(),
		newBenchCmd(),
		newProbeCmd(),
		newCheckCmd(),
		newMutantsCmd(),
		newMergeCmd(),
		newPlanCmd(),
		newCompareCmd(),
		newCoverageCmd(),
		newGateCmd(),
		newNightlyCmd(),
		newInternalCmd(),
		newShardstoreCmd(),
		newEnginesCmd(),
		newWorkloadsCmd(),
		newIOTraceCmd(),
		newVersionCmd(),
	)
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(root.FlagErrorFunc())
	}
	return root
}
