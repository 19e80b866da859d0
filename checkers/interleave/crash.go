package interleave

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// crashStatesMax bounds the crash states a crash case opens: every one
// when there are at most this many, else this many torn samples.
const crashStatesMax = 4

// crashMidFlight is the harness of a dirty reboot inside a concurrent
// execution (the paper left these unchecked): writers put their own keys
// and Sync while background work runs, and a crasher task cuts the
// device's power after a number of its own scheduling points the case
// draws, so the schedule decides what was in flight. Then every crash
// state the device can leave is opened, each checked for persistence
// (every write a Sync covered before the cut is there, with its value)
// and for nothing invented (a key holds the one value ever written to it,
// or nothing), and the last one for forward progress. The cut lands at a
// step of the controlled execution, so a failing case replays from its
// schedule string.
func crashMidFlight(v *env) error {
	mem := v.in.Mem()
	if mem == nil {
		return nil // a directory engine: nothing to cut
	}
	const writers, each = 2, 8
	// Each key is written once, by one writer, with a value naming it:
	// what a state holds is that value or nothing.
	vals := map[string][]byte{}
	synced := map[string]bool{}
	for w := range writers {
		for i := range each {
			k := key(w*each + i)
			vals[string(k)] = v.value(k, 0, 200+v.rng.IntN(3000))
		}
	}
	acked := make([][]string, writers) // per writer, its puts a Sync may cover
	names := []string{"crasher", "flush", "reclaim"}
	fns := []func() error{
		func() error {
			for range v.rng.IntN(400) {
				conc.Yield()
			}
			mem.Cut()
			return nil
		},
		// Background work fails once the power is gone: its errors are
		// the crash, not a violation.
		func() error { v.maintain(engine.IndexFlush); return nil },
		func() error { v.maintain(engine.Reclaim); return nil },
	}
	for w := range writers {
		names = append(names, fmt.Sprintf("writer%d", w))
		fns = append(fns, func() error {
			for i := range each {
				k := key(w*each + i)
				v.ops++
				if v.e.Put(bg, k, vals[string(k)]) != nil {
					return nil // the cut: this put and the rest may be lost
				}
				acked[w] = append(acked[w], string(k))
				if i%3 == 2 || i == each-1 {
					v.ops++
					if v.e.Sync(bg) != nil {
						return nil
					}
					// Returned without error: durable, whatever the cut
					// does after.
					for _, a := range acked[w] {
						synced[a] = true
					}
				}
			}
			return nil
		})
	}
	if err := par(names, fns...); err != nil {
		return err
	}
	mem.Cut() // a schedule where every writer finished first still crashes
	for _, a := range acked {
		for _, k := range a {
			if synced[k] {
				v.cutSynced++
			} else {
				v.cutOpen++
			}
		}
	}
	v.in.Close()
	v.in.Abandon()

	states, err := mem.CrashStates(crashStatesMax)
	if errors.Is(err, disk.ErrTooManyStates) {
		rng := rand.New(rand.NewPCG(v.rng.Uint64(), 0x63757421))
		states = nil
		for range crashStatesMax {
			states = append(states, mem.Crash(rng, disk.CrashTorn))
		}
	} else if err != nil {
		return fmt.Errorf("crash states: %w", err)
	}
	for i, st := range states {
		if err := v.in.UseMem(st); err != nil {
			return err
		}
		if err := v.in.Open(); err != nil {
			return fmt.Errorf("crash state %d of %d: reopen: %w", i+1, len(states), err)
		}
		v.e = v.in.Engine
		if err := checkRecovered(v, vals, synced, writers*each); err != nil {
			return fmt.Errorf("crash state %d of %d: %w", i+1, len(states), err)
		}
		if i == len(states)-1 {
			// Forward progress: the recovered store takes, keeps and
			// returns a new write.
			k, val := key(writers*each), []byte("after the crash")
			if err := v.e.Put(bg, k, val); err != nil {
				return fmt.Errorf("crash state %d: put after recovery: %w", i+1, err)
			}
			if err := v.e.Sync(bg); err != nil {
				return fmt.Errorf("crash state %d: sync after recovery: %w", i+1, err)
			}
			if got, err := v.e.Get(bg, k); err != nil || !bytes.Equal(got, val) {
				return fmt.Errorf("crash state %d: get after recovery: %q, %v", i+1, got, err)
			}
			return nil // runCase closes it
		}
		if err := v.in.Close(); err != nil {
			return fmt.Errorf("crash state %d of %d: close: %w", i+1, len(states), err)
		}
	}
	return nil
}

// checkRecovered reads keys 0..n-1 of a recovered store: a synced key must
// hold its value, any other its value or nothing; then its invariants.
func checkRecovered(v *env, vals map[string][]byte, synced map[string]bool, n int) error {
	for i := range n {
		k := key(i)
		v.ops++
		got, err := v.e.Get(bg, k)
		switch {
		case errors.Is(err, engine.ErrNotFound) && synced[string(k)]:
			return fmt.Errorf("get %s: not found, but a Sync covering its put returned before the crash", k)
		case errors.Is(err, engine.ErrNotFound):
		case err != nil:
			return fmt.Errorf("get %s after recovery: %w", k, err)
		case !bytes.Equal(got, vals[string(k)]):
			return fmt.Errorf("get %s: %.40q, a value never written to it (want %.40q or nothing)", k, got, vals[string(k)])
		}
	}
	if ic, ok := v.e.(engine.InvariantChecker); ok {
		if err := ic.CheckInvariants(); err != nil {
			return fmt.Errorf("invariants after recovery: %w", err)
		}
	}
	return nil
}
