// Package enginetest is a reusable test suite for implementations of
// engine.Engine, in the spirit of testing/fstest: an engine passes the
// contract when
//
//	enginetest.Run(t, enginetest.Config{Open: func(dir string) (engine.Engine, error) { ... }})
//
// passes. Run opens the engine on fresh directories and reopens it on the same
// directory to test durability across Close.
//
// # What it verifies
//
// Get after Put, overwrite, Delete, ErrNotFound, empty values, binary keys,
// the key limits (1 and KeyMax bytes accepted; 0 and KeyMax+1 rejected with
// ErrInvalidArgument), values up to 16 MiB (or the engine's limit if lower)
// and, without -short, one of 64 MiB and a refusal one byte over the limit,
// Sync-Close-reopen keeps everything, Close without Sync loses nothing,
// ErrClosed after Close, concurrent use from many goroutines (run the suite
// under -race), a seeded random op sequence against engine/model with
// reopens, and, where implemented, the capabilities: Tracker dependencies
// become persistent by Sync, Lister order and bounds, Maintainer operations
// never change answers, Statser counts the key and value bytes Put accepted,
// CheckInvariants after every step.
//
// And the lifecycle every engine shares: Close under concurrent load (every
// call returns nil or ErrClosed, none panics, Stats keeps its counters), a
// List callback that calls the engine while Close waits (no deadlock), no
// goroutine left after Close, and a process killed with SIGKILL after a
// Sync (the subtest runs itself again in a child process of the test
// binary, kills it, and reopens: everything the Sync acknowledged is
// there; Config.InMemory for an engine whose data cannot outlive the
// process).
//
// RunDriver checks an engine's harness entry (engine.Driver): its echoed
// defaults, how specs map onto options, bad specs refused in one line. The
// Bench functions are the benchmarks every engine shares.
//
// # What it does not verify
//
// Crash consistency (checkers/crash does, with a crashable device or by
// killing a process), linearizability of concurrent histories
// (checkers/linearize), and performance.
package enginetest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
)

var seedFlag = flag.Uint64("enginetest.seed", 0, "seed for enginetest's randomized subtests (0: the fixed seed list)")

// Config describes the engine under test.
type Config struct {
	// Name names the configuration, as a subtest of RunEach.
	Name string
	// Heavy, if set, says why RunEach skips this configuration under
	// -short (a production-sized cache, a 10ms batch delay).
	Heavy string
	// Open opens the engine on dir. The suite calls it again on the same dir
	// after Close to check what survived.
	Open func(dir string) (engine.Engine, error)
	// ValueMax is the largest value size to test. Zero means the engine's
	// limit (engine.LimitsOf), capped at 16 MiB.
	ValueMax int
	// RandomOps is the length of the random op sequence checked against the
	// model; zero means 2000.
	RandomOps int
	// InMemory says that Open keeps the engine's data in the test process
	// (shardstore on a disk.Mem device): nothing can survive the process,
	// so the process-kill subtest (KillAfterSync) has nothing to check and
	// only says so.
	InMemory bool
}

// RunEach runs Run for each configuration, as a subtest named by its Name.
func RunEach(t *testing.T, cfgs ...Config) {
	for _, cfg := range cfgs {
		t.Run(cfg.Name, func(t *testing.T) {
			if cfg.Heavy != "" && testing.Short() {
				t.Skipf("%s; skipped with -short", cfg.Heavy)
			}
			Run(t, cfg)
		})
	}
}

type suite struct {
	t   *testing.T
	cfg Config
	ctx context.Context
}

// Run runs the contract suite as subtests of t.
func Run(t *testing.T, cfg Config) {
	if cfg.Open == nil {
		t.Fatal("enginetest: Config.Open is nil")
	}
	if cfg.RandomOps == 0 {
		cfg.RandomOps = 2000
	}
	s := &suite{t: t, cfg: cfg, ctx: context.Background()}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"GetAfterPut", s.testGetAfterPut},
		{"Overwrite", s.testOverwrite},
		{"Delete", s.testDelete},
		{"NotFound", s.testNotFound},
		{"EmptyValue", s.testEmptyValue},
		{"BinaryKeys", s.testBinaryKeys},
		{"KeyLimits", s.testKeyLimits},
		{"LargeValues", s.testLargeValues},
		{"ReturnedValueIsCopy", s.testReturnedValueIsCopy},
		{"SyncCloseReopen", s.testSyncCloseReopen},
		{"CloseLosesNothing", s.testCloseLosesNothing},
		{"UseAfterClose", s.testUseAfterClose},
		{"Concurrent", s.testConcurrent},
		{"RandomAgainstModel", s.testRandomAgainstModel},
		{"Tracker", s.testTracker},
		{"Batcher", s.testBatcher},
		{"Lister", s.testLister},
		{"Maintainer", s.testMaintainer},
		{"Statser", s.testStatser},
		{"CloseWhileBusy", s.testCloseWhileBusy},
		{"ListReentersDuringClose", s.testListReentersDuringClose},
		{"NoGoroutineLeak", s.testNoGoroutineLeak},
		{"HugeValues", s.testHugeValues},
		{"KillAfterSync", s.testKillAfterSync},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

// open opens the engine on dir and registers a Close at cleanup.
func (s *suite) open(t *testing.T, dir string) engine.Engine {
	t.Helper()
	e, err := s.cfg.Open(dir)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func (s *suite) mustPut(t *testing.T, e engine.Engine, k, v string) {
	t.Helper()
	if err := e.Put(s.ctx, []byte(k), []byte(v)); err != nil {
		t.Fatalf("put %q: %v", k, err)
	}
	checkInvariants(t, e)
}

func (s *suite) mustGet(t *testing.T, e engine.Engine, k, want string) {
	t.Helper()
	got, err := e.Get(s.ctx, []byte(k))
	if err != nil {
		t.Fatalf("get %q: %v, want %q", k, err, short(want))
	}
	if string(got) != want {
		t.Fatalf("get %q = %q, want %q", k, short(string(got)), short(want))
	}
}

func (s *suite) mustNotFound(t *testing.T, e engine.Engine, k string) {
	t.Helper()
	got, err := e.Get(s.ctx, []byte(k))
	if !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("get %q = %q, %v; want ErrNotFound", k, short(string(got)), err)
	}
}

func short(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%s...(%d bytes)", s[:40], len(s))
	}
	return s
}

func checkInvariants(t *testing.T, e engine.Engine) {
	t.Helper()
	if ic, ok := e.(engine.InvariantChecker); ok {
		if err := ic.CheckInvariants(); err != nil {
			t.Fatalf("CheckInvariants: %v", err)
		}
	}
}

func (s *suite) testGetAfterPut(t *testing.T) {
	e := s.open(t, t.TempDir())
	for i := range 100 {
		s.mustPut(t, e, fmt.Sprintf("key%03d", i), fmt.Sprintf("value%d", i))
	}
	for i := range 100 {
		s.mustGet(t, e, fmt.Sprintf("key%03d", i), fmt.Sprintf("value%d", i))
	}
}

func (s *suite) testOverwrite(t *testing.T) {
	e := s.open(t, t.TempDir())
	s.mustPut(t, e, "k", "v1")
	s.mustPut(t, e, "k", "v2-longer")
	s.mustGet(t, e, "k", "v2-longer")
	s.mustPut(t, e, "k", "3")
	s.mustGet(t, e, "k", "3")
}

func (s *suite) testDelete(t *testing.T) {
	e := s.open(t, t.TempDir())
	s.mustPut(t, e, "a", "1")
	s.mustPut(t, e, "b", "2")
	if err := e.Delete(s.ctx, []byte("a")); err != nil {
		t.Fatalf("delete a: %v", err)
	}
	checkInvariants(t, e)
	s.mustNotFound(t, e, "a")
	s.mustGet(t, e, "b", "2")
	if err := e.Delete(s.ctx, []byte("never-written")); err != nil {
		t.Fatalf("delete of an absent key: %v, want nil", err)
	}
	s.mustPut(t, e, "a", "again")
	s.mustGet(t, e, "a", "again")
}

func (s *suite) testNotFound(t *testing.T) {
	e := s.open(t, t.TempDir())
	s.mustNotFound(t, e, "missing")
	s.mustPut(t, e, "present", "x")
	s.mustNotFound(t, e, "presen")
	s.mustNotFound(t, e, "present\x00")
}

func (s *suite) testEmptyValue(t *testing.T) {
	e := s.open(t, t.TempDir())
	if err := e.Put(s.ctx, []byte("empty"), nil); err != nil {
		t.Fatalf("put nil value: %v", err)
	}
	if err := e.Put(s.ctx, []byte("empty2"), []byte{}); err != nil {
		t.Fatalf("put empty value: %v", err)
	}
	for _, k := range []string{"empty", "empty2"} {
		got, err := e.Get(s.ctx, []byte(k))
		if err != nil || len(got) != 0 {
			t.Fatalf("get %q = %q, %v; want empty value, nil (an empty value is present, not absent)", k, got, err)
		}
	}
}

func (s *suite) testBinaryKeys(t *testing.T) {
	e := s.open(t, t.TempDir())
	keys := [][]byte{{0}, {0, 0}, {0xff}, {0xff, 0xff, 0}, {1, 0, 1}, []byte("a\x00b")}
	for i, k := range keys {
		if err := e.Put(s.ctx, k, []byte{byte(i)}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	for i, k := range keys {
		got, err := e.Get(s.ctx, k)
		if err != nil || !bytes.Equal(got, []byte{byte(i)}) {
			t.Fatalf("get %q = %v, %v; want [%d]", k, got, err, i)
		}
	}
}

func (s *suite) testKeyLimits(t *testing.T) {
	e := s.open(t, t.TempDir())
	max := bytes.Repeat([]byte("k"), engine.KeyMax)
	if err := e.Put(s.ctx, max, []byte("v")); err != nil {
		t.Fatalf("put key of KeyMax=%d bytes: %v", engine.KeyMax, err)
	}
	if got, err := e.Get(s.ctx, max); err != nil || string(got) != "v" {
		t.Fatalf("get key of KeyMax bytes = %q, %v", got, err)
	}
	for _, k := range [][]byte{nil, {}, bytes.Repeat([]byte("k"), engine.KeyMax+1)} {
		if err := e.Put(s.ctx, k, []byte("v")); !errors.Is(err, engine.ErrInvalidArgument) {
			t.Errorf("put key of %d bytes: %v, want ErrInvalidArgument", len(k), err)
		}
		if _, err := e.Get(s.ctx, k); !errors.Is(err, engine.ErrInvalidArgument) {
			t.Errorf("get key of %d bytes: %v, want ErrInvalidArgument", len(k), err)
		}
		if err := e.Delete(s.ctx, k); !errors.Is(err, engine.ErrInvalidArgument) {
			t.Errorf("delete key of %d bytes: %v, want ErrInvalidArgument", len(k), err)
		}
	}
	checkInvariants(t, e)
}

func (s *suite) valueMax(e engine.Engine) int {
	if s.cfg.ValueMax > 0 {
		return s.cfg.ValueMax
	}
	return min(engine.LimitsOf(e).ValueMax, 16<<20)
}

func (s *suite) testLargeValues(t *testing.T) {
	dir := t.TempDir()
	e := s.open(t, dir)
	max := s.valueMax(e)
	sizes := []int{1, 4095, 4096, 4097, 65535, 65536, 65537, 1<<20 - 1, 1 << 20, max}
	rng := rand.New(rand.NewPCG(1, 2))
	vals := map[string][]byte{}
	for _, n := range sizes {
		if n > max {
			continue
		}
		v := make([]byte, n)
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		k := fmt.Sprintf("large-%d", n)
		vals[k] = v
		if err := e.Put(s.ctx, []byte(k), v); err != nil {
			t.Fatalf("put value of %d bytes: %v", n, err)
		}
		checkInvariants(t, e)
	}
	check := func(e engine.Engine) {
		for _, k := range slices.Sorted(maps.Keys(vals)) {
			got, err := e.Get(s.ctx, []byte(k))
			if err != nil || !bytes.Equal(got, vals[k]) {
				t.Fatalf("get %s: %d bytes, %v; want the %d bytes written", k, len(got), err, len(vals[k]))
			}
		}
	}
	check(e)
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	check(s.open(t, dir))
	if l, ok := e.(engine.Limiter); ok && l.Limits().ValueMax <= 64<<20 {
		e2 := s.open(t, t.TempDir())
		tooBig := make([]byte, l.Limits().ValueMax+1)
		if err := e2.Put(s.ctx, []byte("too-big"), tooBig); !errors.Is(err, engine.ErrInvalidArgument) {
			t.Fatalf("put value of ValueMax+1=%d bytes: %v, want ErrInvalidArgument", len(tooBig), err)
		}
	}
}

func (s *suite) testReturnedValueIsCopy(t *testing.T) {
	e := s.open(t, t.TempDir())
	v := []byte("original")
	if err := e.Put(s.ctx, []byte("k"), v); err != nil {
		t.Fatal(err)
	}
	copy(v, "XXXXXXXX") // the engine must not retain the caller's slice
	got, err := e.Get(s.ctx, []byte("k"))
	if err != nil || string(got) != "original" {
		t.Fatalf("get after the caller modified its value slice = %q, %v; want %q", got, err, "original")
	}
	copy(got, "YYYYYYYY") // nor hand out its own memory
	s.mustGet(t, e, "k", "original")
}

func (s *suite) testSyncCloseReopen(t *testing.T) {
	dir := t.TempDir()
	e := s.open(t, dir)
	for i := range 500 {
		s.mustPut(t, e, fmt.Sprintf("k%04d", i), fmt.Sprintf("v%d", i))
	}
	for i := 0; i < 500; i += 5 {
		if err := e.Delete(s.ctx, []byte(fmt.Sprintf("k%04d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Sync(s.ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	e = s.open(t, dir)
	checkInvariants(t, e)
	for i := range 500 {
		k := fmt.Sprintf("k%04d", i)
		if i%5 == 0 {
			s.mustNotFound(t, e, k)
		} else {
			s.mustGet(t, e, k, fmt.Sprintf("v%d", i))
		}
	}
	// A second generation of writes on the reopened engine survives too.
	s.mustPut(t, e, "k0001", "second")
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	e = s.open(t, dir)
	s.mustGet(t, e, "k0001", "second")
	s.mustGet(t, e, "k0002", "v2")
}

func (s *suite) testCloseLosesNothing(t *testing.T) {
	dir := t.TempDir()
	e := s.open(t, dir)
	s.mustPut(t, e, "synced", "1")
	if err := e.Sync(s.ctx); err != nil {
		t.Fatal(err)
	}
	s.mustPut(t, e, "unsynced", "2")
	s.mustPut(t, e, "synced", "overwritten-unsynced")
	if err := e.Delete(s.ctx, []byte("synced-then-deleted")); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	e = s.open(t, dir)
	s.mustGet(t, e, "unsynced", "2")
	s.mustGet(t, e, "synced", "overwritten-unsynced")
	s.mustNotFound(t, e, "synced-then-deleted")
}

func (s *suite) testUseAfterClose(t *testing.T) {
	e, err := s.cfg.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.mustPut(t, e, "k", "v")
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	k := []byte("k")
	checks := map[string]error{}
	_, checks["Get"] = e.Get(s.ctx, k)
	checks["Put"] = e.Put(s.ctx, k, k)
	checks["Delete"] = e.Delete(s.ctx, k)
	checks["Sync"] = e.Sync(s.ctx)
	if tr, ok := e.(engine.Tracker); ok {
		_, checks["PutTracked"] = tr.PutTracked(s.ctx, k, k)
		_, checks["DeleteTracked"] = tr.DeleteTracked(s.ctx, k)
	}
	if l, ok := e.(engine.Lister); ok {
		checks["List"] = l.List(s.ctx, nil, nil, func([]byte) bool { return true })
	}
	if m, ok := e.(engine.Maintainer); ok {
		checks["Maintain"] = m.Maintain(s.ctx, engine.Compact)
	}
	for _, name := range slices.Sorted(maps.Keys(checks)) {
		if !errors.Is(checks[name], engine.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, checks[name])
		}
	}
	if err := e.Close(); err != nil && !errors.Is(err, engine.ErrClosed) {
		t.Errorf("second Close: %v, want nil or ErrClosed", err)
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	dir := t.TempDir()
	e := s.open(t, dir)
	const workers, perWorker = 8, 200
	shared := func(i int) []byte { return []byte(fmt.Sprintf("shared%02d", i%10)) }
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				k := []byte(fmt.Sprintf("w%d-%04d", w, i))
				v := []byte(fmt.Sprintf("w%d-v%d", w, i))
				if err := e.Put(s.ctx, k, v); err != nil {
					errs <- fmt.Errorf("worker %d put %s: %w", w, k, err)
					return
				}
				if got, err := e.Get(s.ctx, k); err != nil || !bytes.Equal(got, v) {
					errs <- fmt.Errorf("worker %d get %s after its own put = %q, %v", w, k, got, err)
					return
				}
				if err := e.Put(s.ctx, shared(i), []byte(fmt.Sprintf("w%d", w))); err != nil {
					errs <- err
					return
				}
				if _, err := e.Get(s.ctx, shared(i+3)); err != nil && !errors.Is(err, engine.ErrNotFound) {
					errs <- err
					return
				}
				if i%50 == 0 {
					if err := e.Sync(s.ctx); err != nil {
						errs <- fmt.Errorf("worker %d sync: %w", w, err)
						return
					}
				}
				if i%3 == 0 {
					if err := e.Delete(s.ctx, k); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkInvariants(t, e)
	verify := func(e engine.Engine) {
		for w := range workers {
			for i := range perWorker {
				k := fmt.Sprintf("w%d-%04d", w, i)
				if i%3 == 0 {
					s.mustNotFound(t, e, k)
				} else {
					s.mustGet(t, e, k, fmt.Sprintf("w%d-v%d", w, i))
				}
			}
		}
		for i := range 10 {
			got, err := e.Get(s.ctx, shared(i))
			if err != nil || len(got) != 2 || got[0] != 'w' {
				t.Fatalf("shared key %s = %q, %v; want one worker's write", shared(i), got, err)
			}
		}
	}
	verify(e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	verify(s.open(t, dir))
}

// Opener adapts an adapter's Open(dir, options) to Config.Open, with o as
// the options.
func Opener[O any, E engine.Engine](open func(dir string, o O) (E, error), o O) func(dir string) (engine.Engine, error) {
	return func(dir string) (engine.Engine, error) {
		e, err := open(dir, o)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}

// OpenTemp opens an engine with open(dir, o) on a fresh directory of t,
// fails t if it cannot, and closes it when t ends (after a Close of the
// test's own, that second Close's ErrClosed is ignored).
func OpenTemp[O any, E engine.Engine](t testing.TB, open func(dir string, o O) (E, error), o O) E {
	t.Helper()
	e, err := open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// WantUnsupported checks that m refuses each op with an error wrapping
// errors.ErrUnsupported.
func WantUnsupported(t testing.TB, m engine.Maintainer, ops ...engine.MaintenanceOp) {
	t.Helper()
	for _, op := range ops {
		if err := m.Maintain(context.Background(), op); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Maintain(%s) = %v, want ErrUnsupported", op, err)
		}
	}
}

// Fill puts n values of size bytes ('v' repeated) to e, cycling over the
// keys "k00000" to the keys-th, and fails t on any error: load for a test
// of an engine's own figures. It returns the key and value bytes put.
func Fill(t testing.TB, e engine.Engine, n, keys, size int) int64 {
	t.Helper()
	v := bytes.Repeat([]byte{'v'}, size)
	var put int64
	for i := range n {
		k := []byte(fmt.Sprintf("k%05d", i%keys))
		if err := e.Put(context.Background(), k, v); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
		put += int64(len(k) + len(v))
	}
	return put
}

// testStatser checks the figure every engine can count exactly: the key
// and value bytes Put accepted.
func (s *suite) testStatser(t *testing.T) {
	e := s.open(t, t.TempDir())
	st, ok := e.(engine.Statser)
	if !ok {
		t.Logf("%T does not implement engine.Statser; nothing to check", e)
		return
	}
	before := st.Stats().UserBytesWritten
	put := Fill(t, e, 300, 100, 1000)
	if err := e.Delete(s.ctx, []byte("k00001")); err != nil {
		t.Fatal(err)
	}
	if err := e.Sync(s.ctx); err != nil {
		t.Fatal(err)
	}
	if got := st.Stats().UserBytesWritten - before; got != put {
		t.Fatalf("UserBytesWritten grew by %d after puts of %d key and value bytes", got, put)
	}
}
