package checkers

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
)

// ErrEngineHang marks an engine call that did not return within its bound
// and ignored its context: the engine hangs. It is the engine's fault.
var ErrEngineHang = target.ErrHang

// EnvironmentError reports whether err comes from the machine rather than
// from the engine: a full, read-only or failing disk, permissions, a limit
// on open files or memory, a lock another process holds. A check that
// meets one cannot say anything about the engine: its verdict is unknown.
func EnvironmentError(err error) bool {
	for _, e := range []error{engine.ErrNoSpace, syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO, syscall.EACCES, syscall.EPERM,
		syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.EAGAIN, syscall.EBUSY, syscall.ETXTBSY} {
		if errors.Is(err, e) {
			return true
		}
	}
	// Some engines flatten the errors they wrap.
	return strings.Contains(err.Error(), "no space left on device")
}

// OpenFailed is the Result of a check whose engine would not open on a
// device or in a directory the check had just made for it, err saying why.
// A new engine must open, so it fails the check with one violation (the
// command that ran the check reproduces it), unless err is the machine's
// (EnvironmentError), which makes the check unknown. ok is false for the
// latter: the caller returns err as a check that could not run.
func OpenFailed(checker, engineName string, seed uint64, err error) (res Result, ok bool) {
	if EnvironmentError(err) {
		return Result{}, false
	}
	summary := fmt.Sprintf("opening a new engine failed: %v", err)
	if errors.Is(err, ErrEngineHang) {
		summary = fmt.Sprintf("opening a new engine did not return: %v", err)
	}
	return Result{Checker: checker, Engine: engineName, Seed: seed, Verdict: Fail, Violations: []Violation{{
		Summary:      summary,
		Ops:          []string{"# open a new engine (before any op)"},
		Expected:     "the engine opens",
		Actual:       err.Error(),
		NotMinimized: "nothing ran before the open; run the same check again to reproduce it",
	}}}, true
}
