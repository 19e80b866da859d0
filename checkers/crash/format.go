package crash

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// The first open of a blank device formats it, and a power cut can land
// in the middle: the first thing a new disk in a fleet does, and the one
// crash no case of the block mode reaches (each case starts on a device
// its engine formatted without a cut). Block mode checks it before its
// cases: for every write and flush of that first open in turn, the power
// is cut there and each block-level crash state of the device (as a dirty
// reboot's) is opened again. The engine must then open an empty store, or
// refuse with an error wrapping engine.ErrCorruption (it cannot tell a
// torn format from a damaged store, and must not format over either). Any
// other answer is a violation: an error that blames the options, a key
// that appears from nowhere, a hang.

// formatCutsMax bounds the IOs of a first open the check cuts at: an
// engine whose first open writes more is cut at the first formatCutsMax.
const formatCutsMax = 64

// formatOpenTimeout bounds each open of the check.
const formatOpenTimeout = 10 * time.Second

// formatCutWhat names the check in its violations.
const formatCutWhat = "power cut during the first open (formatting a blank device)"

// checkFormatCrash runs the check. It returns a violation, or nil, and
// how many crash states it opened.
func checkFormatCrash(ctx context.Context, c Config) (v *checkers.Violation, states int, err error) {
	t := c.Target
	if !t.HasDevice() {
		return nil, 0, nil
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x666f726d6174)) // "format"
	for k := 0; k < formatCutsMax; k++ {
		if err := ctx.Err(); err != nil {
			return nil, states, nil // stopped: the cases' loop reports the interrupt
		}
		mem := t.NewMem()
		mem.StopAfter(k)
		e, err := t.OpenDeviceWithin(mem, formatOpenTimeout)
		if err != nil && !mem.PowerCut() {
			// Not the cut's doing: the machine's probe opened this
			// engine, so this is the engine's.
			return formatViolation(k, -1, 0, fmt.Sprintf("open with the power cut after %d IOs, before the cut landed: %v", k, err)), states, nil
		}
		if err == nil {
			e.Close() // on a cut device: its error does not matter
		}
		if !mem.PowerCut() {
			mem.Release()
			return nil, states, nil // the first open took fewer than k IOs: every cut is checked
		}
		sts, err := mem.CrashStates(CrashStatesMaxDefault)
		if errors.Is(err, disk.ErrTooManyStates) {
			sts = nil
			for range CrashSamplesDefault {
				sts = append(sts, mem.Crash(rng, disk.CrashTorn))
			}
		} else if err != nil {
			return nil, states, fmt.Errorf("crash: %s: crash states: %w", formatCutWhat, err)
		}
		mem.Release()
		for i, st := range sts {
			states++
			if v := reopenAfterFormatCut(ctx, c, st, k, i, len(sts)); v != nil {
				return v, states, nil
			}
			st.Release()
		}
	}
	return nil, states, nil
}

// reopenAfterFormatCut opens crash state i of n after a cut at IO k.
func reopenAfterFormatCut(ctx context.Context, c Config, st *disk.Mem, k, i, n int) *checkers.Violation {
	e, err := c.Target.OpenDeviceWithin(st, formatOpenTimeout)
	switch {
	case err == nil:
	case errors.Is(err, engine.ErrCorruption):
		return nil // refused: a torn format is not to be formatted over
	default:
		return formatViolation(k, i, n, fmt.Sprintf("open: %v; want an empty store, or a refusal wrapping engine.ErrCorruption", err))
	}
	defer e.Close()
	opCtx, cancel := context.WithTimeout(ctx, formatOpenTimeout)
	defer cancel()
	if l, ok := e.(engine.Lister); ok {
		var keys []string
		if err := l.List(opCtx, nil, nil, func(k []byte) bool { keys = append(keys, string(k)); return len(keys) < 4 }); err != nil {
			return formatViolation(k, i, n, fmt.Sprintf("the store opened, but listing it failed: %v", err))
		}
		if len(keys) > 0 {
			return formatViolation(k, i, n, fmt.Sprintf("the store opened holding keys %q, though none was ever written", keys))
		}
	}
	if _, err := e.Get(opCtx, []byte("k0")); !errors.Is(err, engine.ErrNotFound) {
		return formatViolation(k, i, n, fmt.Sprintf("the store opened, but Get(k0) of a key never written returned %v, want not found", err))
	}
	return nil
}

func formatViolation(k, i, n int, what string) *checkers.Violation {
	where := fmt.Sprintf("%s, cut after %d writes and flushes", formatCutWhat, k)
	if i >= 0 {
		where += fmt.Sprintf(", crash state %d of %d", i, n)
	}
	return &checkers.Violation{
		Summary:  where + ": " + what,
		Expected: "an empty store, or a refusal wrapping engine.ErrCorruption",
		Actual:   what,
		Ops:      []string{"# the first open of a blank device, its power cut after " + fmt.Sprint(k) + " writes and flushes"},
		// The check is a function of the engine (the seed only samples
		// crash states when there are too many), so a rerun repeats it.
		NotMinimized: "no ops ran: the check runs before block mode's cases; run the same check again (same seed) to reproduce it",
	}
}
