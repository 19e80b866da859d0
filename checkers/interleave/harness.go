package interleave

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// A harness is one concurrent scenario over an engine: it sets up state
// on the main task, runs its tasks concurrently, and checks what they saw
// and what the engine holds against the model.
type harness struct {
	name, doc string
	run       func(*env) error
}

// harnesses are the scenarios, in --harness order; the first is the
// default of a run that names none (a run without --harness cycles
// through all of them, one per case).
var harnesses = []harness{
	{"reclaim-compact", "reclamation ∥ compaction ∥ a client's put-then-get (the paper's #14: reclamation racing compaction)", reclaimCompact},
	{"background", "client puts and gets ∥ index flush, reclamation and superblock writes in the background", background},
	{"list-delete", "List ∥ deletes and index flushes (the paper's #13: listing racing removal)", listDelete},
	{"backpressure", "many writers at a full IO queue and a full dependency graph (the paper's #12 class: back-pressure that deadlocks)", backpressure},
	{"crash", "writers putting and syncing ∥ index flush and reclamation ∥ a power cut at a step the schedule decides; every crash state then checked for persistence and forward progress", crashMidFlight},
	{"close-busy", "writers putting ∥ a clean Close at a step the schedule decides; Close succeeds and a reopen holds every put that returned nil", closeBusy},
}

func lookup(name string) (harness, bool) {
	i := slices.IndexFunc(harnesses, func(h harness) bool { return h.name == name })
	if i < 0 {
		return harness{}, false
	}
	return harnesses[i], true
}

func harnessNames() string {
	var n []string
	for _, h := range harnesses {
		n = append(n, h.name)
	}
	return strings.Join(n, ", ")
}

// env is one case: the engine, the case's generator, and the model of
// what it must hold.
type env struct {
	e  engine.Engine
	in *target.Instance // the engine's instance: its device, reopening
	// cutSynced and cutOpen count, in a crash case, the keys a Sync had
	// covered when the power went and those put but not covered.
	cutSynced, cutOpen int
	rng                *rand.Rand
	m                  *model.Store
	ops                int
}

var bg = context.Background()

func key(i int) []byte { return fmt.Appendf(nil, "k%03d", i) }

// value is a value of n bytes that names its key and version, so a wrong
// answer says whose it is.
func (v *env) value(k []byte, version, n int) []byte {
	b := fmt.Appendf(nil, "%s.v%d.", k, version)
	for len(b) < n {
		b = append(b, byte('a'+v.rng.IntN(26)))
	}
	return b[:max(n, len(b))]
}

func (v *env) put(k, val []byte) error {
	v.ops++
	if err := v.e.Put(bg, k, val); err != nil {
		return fmt.Errorf("put %s: %w", k, err)
	}
	return v.m.Put(bg, k, val)
}

func (v *env) del(k []byte) error {
	v.ops++
	if err := v.e.Delete(bg, k); err != nil {
		return fmt.Errorf("delete %s: %w", k, err)
	}
	return v.m.Delete(bg, k)
}

func (v *env) maintain(op engine.MaintenanceOp) error {
	v.ops++
	m, ok := v.e.(engine.Maintainer)
	if !ok {
		return nil
	}
	if err := m.Maintain(bg, op); err != nil {
		return fmt.Errorf("maintain %s: %w", op, err)
	}
	return nil
}

// get checks that the engine answers k as the model does.
func (v *env) get(k []byte) error {
	v.ops++
	got, err := v.e.Get(bg, k)
	want, werr := v.m.Get(bg, k)
	switch {
	case errors.Is(werr, engine.ErrNotFound) && errors.Is(err, engine.ErrNotFound):
		return nil
	case err != nil && !errors.Is(err, engine.ErrNotFound):
		return fmt.Errorf("get %s: %w", k, err)
	case errors.Is(werr, engine.ErrNotFound):
		return fmt.Errorf("get %s: got %.40q, want not found", k, got)
	case errors.Is(err, engine.ErrNotFound):
		return fmt.Errorf("get %s: not found, want %.40q", k, want)
	case !bytes.Equal(got, want):
		return fmt.Errorf("get %s: got %.40q, want %.40q", k, got, want)
	}
	return nil
}

// checkAll compares every key of 0..n-1 with the model, then the engine's
// own invariants.
func (v *env) checkAll(n int) error {
	var errs []error
	for i := range n {
		errs = append(errs, v.get(key(i)))
	}
	if ic, ok := v.e.(engine.InvariantChecker); ok {
		if err := ic.CheckInvariants(); err != nil {
			errs = append(errs, fmt.Errorf("invariants: %w", err))
		}
	}
	return errors.Join(errs...)
}

// par runs fns as concurrent tasks named by names and waits for all.
func par(names []string, fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg conc.WaitGroup
	wg.Add(len(fns))
	for i, f := range fns {
		conc.Go(names[i], func() { defer wg.Done(); errs[i] = f() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// fill puts keys 0..n-1 with index flushes between, then overwrites and
// deletes some: several runs to compact and dead bytes to reclaim.
func (v *env) fill(n, size int) error {
	for i := range n {
		if err := v.put(key(i), v.value(key(i), 0, size)); err != nil {
			return err
		}
		if i%4 == 3 {
			if err := v.maintain(engine.IndexFlush); err != nil {
				return err
			}
		}
	}
	for i := 0; i < n; i += 2 {
		if err := v.put(key(i), v.value(key(i), 1, size)); err != nil {
			return err
		}
	}
	for i := 1; i < n; i += 4 {
		if err := v.del(key(i)); err != nil {
			return err
		}
	}
	return v.maintain(engine.IndexFlush)
}

func reclaimCompact(v *env) error {
	// Over 64 KiB of values, half overwritten: the first data extent is
	// sealed with dead bytes, a candidate for reclamation, while the
	// client's key may live on it.
	const n = 16
	if err := v.fill(n, 2500+v.rng.IntN(1500)); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	k := key(v.rng.IntN(n))
	val := v.value(k, 2, 200)
	err := par([]string{"reclaim", "compact", "client"},
		func() error { return v.maintain(engine.Reclaim) },
		func() error { return v.maintain(engine.Compact) },
		func() error {
			// The model is written after the engine returns; the get runs
			// after the put, on the same task.
			if err := v.put(k, val); err != nil {
				return err
			}
			if err := v.maintain(engine.IndexFlush); err != nil {
				return err
			}
			return v.get(k)
		})
	if err != nil {
		return err
	}
	if err := v.maintain(engine.Reclaim); err != nil {
		return err
	}
	return v.checkAll(n)
}

func background(v *env) error {
	// The clients' puts cross from one data extent to the next while
	// reclamation picks its victims among the sealed ones.
	const n = 12
	if err := v.fill(n, 2000+v.rng.IntN(1500)); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	client := func(lo int) func() error {
		return func() error {
			for i := lo; i < n; i += 2 {
				if err := v.put(key(i), v.value(key(i), 3, 3000)); err != nil {
					return err
				}
				if err := v.get(key(i)); err != nil {
					return err
				}
			}
			return nil
		}
	}
	err := par([]string{"client0", "client1", "flush", "reclaim", "superblock"},
		client(0), client(1),
		func() error { return v.maintain(engine.IndexFlush) },
		func() error { return v.maintain(engine.Reclaim) },
		func() error { return v.maintain(engine.SuperblockFlush) })
	if err != nil {
		return err
	}
	return v.checkAll(n)
}

func listDelete(v *env) error {
	const n = 10
	if err := v.fill(n, 100+v.rng.IntN(200)); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	l, ok := v.e.(engine.Lister)
	if !ok {
		return nil
	}
	// Keys the deleter leaves alone must be listed; the others may or
	// may not be, as the delete lands before or after the List passes.
	stable := map[string]bool{}
	var victims [][]byte
	for i := range n {
		if _, err := v.m.Get(bg, key(i)); err != nil {
			continue
		}
		if i%3 == 0 {
			victims = append(victims, key(i))
		} else {
			stable[string(key(i))] = true
		}
	}
	var listed []string
	err := par([]string{"list", "delete"},
		func() error {
			v.ops++
			return l.List(bg, nil, nil, func(k []byte) bool {
				listed = append(listed, string(k))
				return true
			})
		},
		func() error {
			for _, k := range victims {
				if err := v.del(k); err != nil {
					return err
				}
			}
			return v.maintain(engine.IndexFlush)
		})
	if err != nil {
		return err
	}
	if !slices.IsSorted(listed) {
		return fmt.Errorf("list: keys out of order: %q", listed)
	}
	for k := range stable {
		if !slices.Contains(listed, k) {
			return fmt.Errorf("list: missed %s, which no task deleted (listed %q)", k, listed)
		}
	}
	for _, k := range listed {
		if _, err := v.m.Get(bg, []byte(k)); err != nil && !slices.ContainsFunc(victims, func(b []byte) bool { return string(b) == k }) {
			return fmt.Errorf("list: returned %s, which was never written or was deleted before", k)
		}
	}
	return v.checkAll(n)
}

func backpressure(v *env) error {
	const writers, each = 4, 40
	names := make([]string, writers)
	fns := make([]func() error, writers)
	for w := range writers {
		names[w] = fmt.Sprintf("writer%d", w)
		fns[w] = func() error {
			for i := range each {
				k := key(w*each + i)
				if err := v.put(k, v.value(k, 0, 600+v.rng.IntN(600))); err != nil {
					return err
				}
			}
			return v.e.Sync(bg)
		}
	}
	if err := par(names, fns...); err != nil {
		return err
	}
	return v.checkAll(writers * each)
}

// closeBusy closes the store while writers put their own keys: a closer
// task calls Close after a number of its own scheduling points the case
// draws, so the schedule decides which puts are in flight. Close must
// return nil, every put must return nil or ErrClosed, and a reopen must
// hold every put that returned nil, with its value (a refused put may be
// there or not: it is the one in flight). Then the reopened store's
// invariants, and forward progress.
func closeBusy(v *env) error {
	const writers, each = 3, 6
	vals := map[string][]byte{}
	for w := range writers {
		for i := range each {
			k := key(w*each + i)
			vals[string(k)] = v.value(k, 0, 200+v.rng.IntN(2000))
		}
	}
	e := v.e
	acked := make([][]string, writers)
	var closeErr error
	names := []string{"closer"}
	fns := []func() error{func() error {
		for range v.rng.IntN(300) {
			conc.Yield()
		}
		closeErr = e.Close()
		return nil
	}}
	for w := range writers {
		names = append(names, fmt.Sprintf("writer%d", w))
		fns = append(fns, func() error {
			for i := range each {
				k := key(w*each + i)
				v.ops++
				err := e.Put(bg, k, vals[string(k)])
				if errors.Is(err, engine.ErrClosed) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("put %s while the store closes: %w", k, err)
				}
				acked[w] = append(acked[w], string(k))
			}
			return nil
		})
	}
	if err := par(names, fns...); err != nil {
		return err
	}
	if closeErr != nil {
		return fmt.Errorf("close while writers put: %w", closeErr)
	}
	v.in.Abandon() // closed above
	if err := v.in.Open(); err != nil {
		return fmt.Errorf("reopen after a close under writers: %w", err)
	}
	v.e = v.in.Engine
	for w := range acked {
		for _, k := range acked[w] {
			v.ops++
			got, err := v.e.Get(bg, []byte(k))
			if err != nil || !bytes.Equal(got, vals[k]) {
				return fmt.Errorf("get %s after a close and reopen: %.40q, %v; its put returned nil (want %.40q)", k, got, err, vals[k])
			}
		}
	}
	n := writers * each
	if err := checkRecovered(v, vals, nil, n); err != nil {
		return err
	}
	return v.put(key(n), []byte("after the close"))
}
