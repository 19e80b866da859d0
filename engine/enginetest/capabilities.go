package enginetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// seeds returns the seeds of the randomized subtests: the -enginetest.seed
// flag if set, else a fixed list so runs are repeatable.
func seeds() []uint64 {
	if *seedFlag != 0 {
		return []uint64{*seedFlag}
	}
	return []uint64{1, 2, 3}
}

// testRandomAgainstModel applies a seeded random sequence of puts, deletes,
// gets, syncs, maintenance and reopens to the engine and to the model, and
// compares every answer.
func (s *suite) testRandomAgainstModel(t *testing.T) {
	for _, seed := range seeds() {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("replay: go test -run '%s' -enginetest.seed=%d", t.Name(), seed)
			s.randomAgainstModel(t, seed)
		})
	}
}

func (s *suite) randomAgainstModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	dir := t.TempDir()
	e := s.open(t, dir)
	m := model.New()
	key := func() []byte { return []byte(fmt.Sprintf("key%02d", rng.IntN(40))) }
	value := func() []byte {
		sizes := []int{0, 1, 100, 4095, 4096, 4097, 20000}
		v := make([]byte, sizes[rng.IntN(len(sizes))])
		for i := range v {
			v[i] = byte('a' + rng.IntN(26))
		}
		return v
	}
	var trail []string // the ops so far, printed on failure
	fail := func(format string, args ...any) {
		t.Helper()
		last := trail[max(0, len(trail)-20):]
		t.Fatalf("seed %d, op %d: %s\nlast ops:\n  %s", seed, len(trail), fmt.Sprintf(format, args...), joinLines(last))
	}
	maint, _ := e.(engine.Maintainer)
	for range s.cfg.RandomOps {
		switch r := rng.IntN(100); {
		case r < 40:
			k := key()
			trail = append(trail, fmt.Sprintf("get %s", k))
			want, werr := m.Get(s.ctx, k)
			got, err := e.Get(s.ctx, k)
			if errors.Is(werr, engine.ErrNotFound) != errors.Is(err, engine.ErrNotFound) || (werr == nil && (err != nil || !bytes.Equal(got, want))) {
				fail("get %s = %s, %v; model says %s, %v", k, short(string(got)), err, short(string(want)), werr)
			}
		case r < 75:
			k, v := key(), value()
			trail = append(trail, fmt.Sprintf("put %s (%d bytes)", k, len(v)))
			m.Put(s.ctx, k, v)
			if err := e.Put(s.ctx, k, v); err != nil {
				fail("put %s: %v", k, err)
			}
		case r < 88:
			k := key()
			trail = append(trail, fmt.Sprintf("delete %s", k))
			m.Delete(s.ctx, k)
			if err := e.Delete(s.ctx, k); err != nil {
				fail("delete %s: %v", k, err)
			}
		case r < 93:
			trail = append(trail, "sync")
			if err := e.Sync(s.ctx); err != nil {
				fail("sync: %v", err)
			}
		case r < 98:
			if maint == nil {
				continue
			}
			op := engine.MaintenanceOps()[rng.IntN(len(engine.MaintenanceOps()))]
			trail = append(trail, fmt.Sprintf("maintain %s", op))
			if err := maint.Maintain(s.ctx, op); err != nil && !errors.Is(err, errors.ErrUnsupported) {
				fail("maintain %s: %v", op, err)
			}
		default:
			trail = append(trail, "reopen")
			if err := e.Close(); err != nil {
				fail("close: %v", err)
			}
			e = s.open(t, dir)
			maint, _ = e.(engine.Maintainer)
		}
		if ic, ok := e.(engine.InvariantChecker); ok {
			if err := ic.CheckInvariants(); err != nil {
				fail("CheckInvariants: %v", err)
			}
		}
	}
	// Finally every key agrees.
	for i := range 40 {
		k := []byte(fmt.Sprintf("key%02d", i))
		want, werr := m.Get(s.ctx, k)
		got, err := e.Get(s.ctx, k)
		if errors.Is(werr, engine.ErrNotFound) != errors.Is(err, engine.ErrNotFound) || (werr == nil && !bytes.Equal(got, want)) {
			fail("final get %s = %s, %v; model says %s, %v", k, short(string(got)), err, short(string(want)), werr)
		}
	}
}

func joinLines(ss []string) string {
	var b bytes.Buffer
	for i, s := range ss {
		if i > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString(s)
	}
	return b.String()
}

func (s *suite) testTracker(t *testing.T) {
	dir := t.TempDir()
	e := s.open(t, dir)
	tr, ok := e.(engine.Tracker)
	if !ok {
		t.Logf("%T does not implement engine.Tracker; nothing to check", e)
		return
	}
	var deps []engine.Dependency
	for i := range 50 {
		k := []byte(fmt.Sprintf("t%02d", i))
		d, err := tr.PutTracked(s.ctx, k, k)
		if err != nil {
			t.Fatalf("PutTracked %s: %v", k, err)
		}
		deps = append(deps, d)
		if i%7 == 0 {
			d, err := tr.DeleteTracked(s.ctx, k)
			if err != nil {
				t.Fatalf("DeleteTracked %s: %v", k, err)
			}
			deps = append(deps, d)
		}
		checkInvariants(t, e)
	}
	if err := e.Sync(s.ctx); err != nil {
		t.Fatal(err)
	}
	for i, d := range deps {
		if !d.IsPersistent() {
			t.Fatalf("dependency %d not persistent after Sync returned", i)
		}
		if err := d.Wait(s.ctx); err != nil {
			t.Fatalf("dependency %d: Wait after Sync: %v", i, err)
		}
	}
	// Tracked writes are ordinary writes.
	s.mustGet(t, e, "t01", "t01")
	s.mustNotFound(t, e, "t07")
}

func (s *suite) testLister(t *testing.T) {
	e := s.open(t, t.TempDir())
	l, ok := e.(engine.Lister)
	if !ok {
		t.Logf("%T does not implement engine.Lister; nothing to check", e)
		return
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var want []string
	for _, i := range rng.Perm(200) {
		k := fmt.Sprintf("l%03d", i)
		s.mustPut(t, e, k, "v")
		if i%4 != 0 {
			want = append(want, k)
		}
	}
	for i := 0; i < 200; i += 4 {
		if err := e.Delete(s.ctx, []byte(fmt.Sprintf("l%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	s.mustPut(t, e, "a-before", "v")
	s.mustPut(t, e, "m-after", "v")
	slices.Sort(want)
	list := func(start, end []byte, limit int) []string {
		var got []string
		err := l.List(s.ctx, start, end, func(k []byte) bool {
			got = append(got, string(k))
			return limit <= 0 || len(got) < limit
		})
		if err != nil {
			t.Fatalf("List(%q, %q): %v", start, end, err)
		}
		return got
	}
	all := list([]byte("l"), []byte("m"), 0)
	if !slices.Equal(all, want) {
		t.Fatalf("List(l, m) = %d keys, first %q; want %d keys in order, first %q", len(all), all[:min(3, len(all))], len(want), want[:3])
	}
	if got := list([]byte("l050"), []byte("l060"), 0); !slices.Equal(got, []string{"l050", "l051", "l053", "l054", "l055", "l057", "l058", "l059"}) {
		t.Fatalf("List(l050, l060) = %q", got)
	}
	if got := list(nil, nil, 3); !slices.Equal(got, []string{"a-before", "l001", "l002"}) {
		t.Fatalf("List(nil, nil) stopped after 3 = %q", got)
	}
	if got := list([]byte("l199"), nil, 0); !slices.Equal(got, []string{"l199", "m-after"}) {
		t.Fatalf("List(l199, nil) = %q", got)
	}
	if got := list([]byte("z"), nil, 0); len(got) != 0 {
		t.Fatalf("List(z, nil) = %q, want nothing", got)
	}
	b, ok := e.(engine.BoundedLister)
	if !ok {
		return
	}
	// ListN of n keys is List's first n, whatever n is against the
	// engine's batches; fn's false still stops it early.
	listN := func(start, end []byte, n, stop int) []string {
		var got []string
		err := b.ListN(s.ctx, start, end, n, func(k []byte) bool {
			got = append(got, string(k))
			return stop <= 0 || len(got) < stop
		})
		if err != nil {
			t.Fatalf("ListN(%q, %q, %d): %v", start, end, n, err)
		}
		return got
	}
	full := list(nil, nil, 0)
	for _, n := range []int{1, 2, 7, 64, 149, 150, 151, 1000} {
		want := full[:min(n, len(full))]
		if got := listN(nil, nil, n, 0); !slices.Equal(got, want) {
			t.Fatalf("ListN(nil, nil, %d) = %d keys %q..., want List's first %d", n, len(got), got[:min(3, len(got))], len(want))
		}
	}
	if got := listN([]byte("l050"), []byte("l060"), 5, 0); !slices.Equal(got, []string{"l050", "l051", "l053", "l054", "l055"}) {
		t.Fatalf("ListN(l050, l060, 5) = %q", got)
	}
	if got := listN([]byte("l050"), []byte("l060"), 100, 2); !slices.Equal(got, []string{"l050", "l051"}) {
		t.Fatalf("ListN(l050, l060, 100) stopped by fn after 2 = %q", got)
	}
	for _, n := range []int{0, -1} {
		err := b.ListN(s.ctx, nil, nil, n, func([]byte) bool { return true })
		if !errors.Is(err, engine.ErrInvalidArgument) {
			t.Fatalf("ListN(nil, nil, %d) = %v, want ErrInvalidArgument", n, err)
		}
	}
}

func (s *suite) testMaintainer(t *testing.T) {
	dir := t.TempDir()
	e := s.open(t, dir)
	mt, ok := e.(engine.Maintainer)
	if !ok {
		t.Logf("%T does not implement engine.Maintainer; nothing to check", e)
		return
	}
	for i := range 300 {
		s.mustPut(t, e, fmt.Sprintf("m%03d", i), fmt.Sprintf("v%d", i))
	}
	for i := 0; i < 300; i += 2 {
		if err := e.Delete(s.ctx, []byte(fmt.Sprintf("m%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(when string) {
		for i := range 300 {
			k := fmt.Sprintf("m%03d", i)
			got, err := e.Get(s.ctx, []byte(k))
			if i%2 == 0 {
				if !errors.Is(err, engine.ErrNotFound) {
					t.Fatalf("after %s: get %s = %q, %v; want ErrNotFound", when, k, got, err)
				}
			} else if err != nil || string(got) != fmt.Sprintf("v%d", i) {
				t.Fatalf("after %s: get %s = %q, %v", when, k, got, err)
			}
		}
	}
	for _, op := range engine.MaintenanceOps() {
		err := mt.Maintain(s.ctx, op)
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("Maintain(%s): %v", op, err)
		}
		checkInvariants(t, e)
		verify(string(op))
	}
	if err := mt.Maintain(s.ctx, "no-such-op"); err == nil {
		t.Fatalf("Maintain(no-such-op) = nil, want an error")
	}
}

// testBatcher: a batch's puts are all readable after PutBatch returns and
// after a Sync, close and reopen; a later pair of a key wins over an
// earlier one; the caller's slices may be reused at once; an invalid key
// anywhere refuses the whole batch before any put; an empty batch is a
// no-op; and a closed engine refuses a batch with ErrClosed.
func (s *suite) testBatcher(t *testing.T) {
	dir := t.TempDir()
	e, err := s.cfg.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	b, ok := e.(engine.Batcher)
	if !ok {
		t.Logf("%T does not implement engine.Batcher; nothing to check", e)
		return
	}
	if err := b.PutBatch(s.ctx, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	want := map[string]string{}
	buf := make([]byte, 0, 64<<10)
	for round := range 3 {
		var kvs []engine.KV
		buf = buf[:0]
		for i := range 200 {
			k := fmt.Sprintf("b%03d", (i*7+round*13)%250)
			v := fmt.Sprintf("round %d pair %d of %s", round, i, k)
			start := len(buf)
			buf = append(buf, v...)
			kvs = append(kvs, engine.KV{Key: []byte(k), Value: buf[start:len(buf):len(buf)]})
			want[k] = v
		}
		if err := b.PutBatch(s.ctx, kvs); err != nil {
			t.Fatalf("batch %d: %v", round, err)
		}
		// The caller reuses its buffers: the engine must have copied.
		clear(buf[:cap(buf)])
	}
	check := func(e engine.Engine, when string) {
		t.Helper()
		for k, v := range want {
			got, err := e.Get(s.ctx, []byte(k))
			if err != nil || string(got) != v {
				t.Fatalf("%s: get %q = %q, %v; want %q", when, k, short(string(got)), err, v)
			}
		}
	}
	check(e, "after the batches")
	checkInvariants(t, e)

	bad := []engine.KV{{Key: []byte("ok-1"), Value: []byte("x")}, {Key: nil, Value: []byte("y")}}
	if err := b.PutBatch(s.ctx, bad); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Fatalf("batch with an empty key: %v, want ErrInvalidArgument", err)
	}
	if _, err := e.Get(s.ctx, []byte("ok-1")); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("a refused batch applied its first put: get ok-1: %v", err)
	}

	if err := e.Sync(s.ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.PutBatch(s.ctx, []engine.KV{{Key: []byte("late"), Value: nil}}); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("batch after Close: %v, want ErrClosed", err)
	}
	e, err = s.cfg.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	check(e, "after a reopen")
}
