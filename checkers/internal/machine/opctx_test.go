package machine

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// hookEngine is the model with Get replaced by a test's function (nil: the
// model's Get).
type hookEngine struct {
	*model.Store
	get func(ctx context.Context, key []byte) ([]byte, error)
}

func (e *hookEngine) Get(ctx context.Context, key []byte) ([]byte, error) {
	if e.get != nil {
		return e.get(ctx, key)
	}
	return e.Store.Get(ctx, key)
}

// newHookMachine returns a machine on a hookEngine, checked with timeout.
func newHookMachine(t *testing.T, ctx context.Context, timeout time.Duration) (*Machine, *hookEngine) {
	t.Helper()
	e := &hookEngine{Store: model.New()}
	tg := target.Target{
		Name:       "hook",
		OpenDevice: func(disk.Device) (engine.Engine, error) { return e, nil },
	}
	m, err := New(ctx, Config{Checker: "test", Target: tg, OpTimeout: timeout}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, e
}

var getOp = workloads.Op{Kind: workloads.OpGet, Key: []byte("k1")}

type ctxKey struct{}

// TestOpContext checks what an engine sees of an op's context: the op's
// deadline, the base context's values, and a context that ends, with every
// AfterFunc and derived context, when the op returns.
func TestOpContext(t *testing.T) {
	const timeout = time.Minute
	base := context.WithValue(context.Background(), ctxKey{}, "v")
	m, e := newHookMachine(t, base, timeout)
	for i := range 3 { // the same through several ops
		var (
			opCtx        context.Context
			child        context.Context
			cancelChild  context.CancelFunc
			ran          = make(chan struct{})
			stopped      func() bool
			stopAfterOps func() bool
		)
		before := time.Now()
		e.get = func(ctx context.Context, key []byte) ([]byte, error) {
			opCtx = ctx
			if d, ok := ctx.Deadline(); !ok || d.Before(before.Add(timeout)) || d.After(time.Now().Add(timeout)) {
				t.Errorf("op %d: Deadline() = %v, %v: want OpTimeout after the op started", i, d, ok)
			}
			if ctx.Err() != nil {
				t.Errorf("op %d: Err() = %v during the op", i, ctx.Err())
			}
			select {
			case <-ctx.Done():
				t.Errorf("op %d: Done during the op", i)
			default:
			}
			if v := ctx.Value(ctxKey{}); v != "v" {
				t.Errorf("op %d: Value = %v, want the base context's", i, v)
			}
			child, cancelChild = context.WithCancel(ctx)
			context.AfterFunc(ctx, func() { close(ran) })
			stopped = context.AfterFunc(ctx, func() { t.Errorf("op %d: a stopped AfterFunc ran", i) })
			if !stopped() {
				t.Errorf("op %d: stopping an AfterFunc reported it already ran", i)
			}
			stopAfterOps = context.AfterFunc(ctx, func() {})
			return e.Store.Get(ctx, key)
		}
		if f := m.Step(getOp); f != nil {
			t.Fatalf("op %d: %v", i, f)
		}
		if !errors.Is(opCtx.Err(), context.Canceled) {
			t.Fatalf("op %d: after the op, Err() = %v, want Canceled", i, opCtx.Err())
		}
		select {
		case <-opCtx.Done():
		default:
			t.Fatalf("op %d: Done not closed after the op", i)
		}
		if !errors.Is(child.Err(), context.Canceled) {
			t.Fatalf("op %d: a derived context was not canceled with the op: %v", i, child.Err())
		}
		cancelChild()
		if stopAfterOps() {
			t.Fatalf("op %d: an AfterFunc had not started when the op returned", i)
		}
		<-ran // an AfterFunc runs when the op returns (the test times out if not)
	}
}

// TestHangReported checks that an op that runs past OpTimeout is reported
// as a hang, with its context past its deadline, also after ops that left
// the shared timer armed for earlier deadlines: many, and ops for half the
// timeout (the timer then fires well before the hanging op's deadline).
func TestHangReported(t *testing.T) {
	const timeout = 50 * time.Millisecond
	for _, tc := range []struct {
		ops int
		dur time.Duration
	}{{0, 0}, {1, 0}, {200, 0}, {1, timeout / 2}} {
		m, e := newHookMachine(t, context.Background(), timeout)
		before := 0
		for start := time.Now(); before < tc.ops || time.Since(start) < tc.dur; before++ {
			if f := m.Step(getOp); f != nil {
				t.Fatal(f)
			}
		}
		var child context.Context
		var cancelChild context.CancelFunc
		ran := make(chan struct{})
		e.get = func(ctx context.Context, key []byte) ([]byte, error) {
			child, cancelChild = context.WithCancel(ctx)
			context.AfterFunc(ctx, func() { close(ran) })
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Minute):
				return nil, errors.New("the op's context did not end")
			}
		}
		start := time.Now()
		f := m.Step(getOp)
		if f == nil || f.Kind != KindHang || f.OpIndex != before {
			t.Fatalf("after %d ops: Step = %v, want a hang at op %d", before, f, before)
		}
		if el := time.Since(start); el < timeout {
			t.Fatalf("after %d ops: hang reported after %v, before the timeout %v", before, el, timeout)
		} else if el > 20*timeout {
			t.Errorf("after %d ops: hang reported after %v, long after the timeout %v", before, el, timeout)
		}
		if !errors.Is(child.Err(), context.DeadlineExceeded) {
			t.Fatalf("after %d ops: a derived context ended with %v, want DeadlineExceeded", before, child.Err())
		}
		cancelChild()
		<-ran
	}
}

// TestSlowOpsNoHang checks that ops that together, not one by one, take
// longer than OpTimeout are not hangs: each op's deadline is its own.
func TestSlowOpsNoHang(t *testing.T) {
	// Each op sleeps a twentieth of the timeout: a loaded 2-core machine
	// (CI runs test packages in parallel) has fired such a timer four
	// times late, never twenty.
	const timeout = time.Second
	m, e := newHookMachine(t, context.Background(), timeout)
	e.get = func(ctx context.Context, key []byte) ([]byte, error) {
		select {
		case <-time.After(timeout / 20):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return e.Store.Get(ctx, key)
	}
	start := time.Now()
	for i := 0; time.Since(start) < 3*timeout/2; i++ {
		if f := m.Step(getOp); f != nil {
			t.Fatalf("op %d, %v into the run: %v", i, time.Since(start), f)
		}
	}
}

// TestBaseDone checks that an op ends when the base context does, and that
// this is not reported as a hang; a base deadline earlier than the op's is
// the op's.
func TestBaseDone(t *testing.T) {
	blocked := func(ctx context.Context, key []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	t.Run("canceled", func(t *testing.T) {
		base, cancel := context.WithCancel(context.Background())
		m, e := newHookMachine(t, base, time.Minute)
		if f := m.Step(getOp); f != nil {
			t.Fatal(f)
		}
		e.get = func(ctx context.Context, key []byte) ([]byte, error) {
			cancel()
			return blocked(ctx, key)
		}
		f := m.Step(getOp)
		if f == nil || f.Kind == KindHang || !strings.Contains(f.Summary, context.Canceled.Error()) {
			t.Fatalf("Step = %v, want an error that is not a hang", f)
		}
		// An op that starts after the base is done starts done.
		e.get = blocked
		if f := m.Step(getOp); f == nil || f.Kind == KindHang {
			t.Fatalf("Step after the base ended = %v, want an error that is not a hang", f)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		base, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		want, _ := base.Deadline()
		m, e := newHookMachine(t, base, time.Minute)
		e.get = func(ctx context.Context, key []byte) ([]byte, error) {
			if d, ok := ctx.Deadline(); !ok || !d.Equal(want) {
				t.Errorf("Deadline() = %v, %v, want the base's %v", d, ok, want)
			}
			return blocked(ctx, key)
		}
		f := m.Step(getOp)
		if f == nil || f.Kind == KindHang || !strings.Contains(f.Summary, context.DeadlineExceeded.Error()) {
			t.Fatalf("Step = %v, want an error that is not a hang", f)
		}
	})
}

// TestWatchdog checks that an op that ignores its context and runs past
// 3×OpTimeout stops the process with every goroutine's stack. The op runs
// in a child process.
func TestWatchdog(t *testing.T) {
	const env = "GAUNTLET_MACHINE_WATCHDOG_CHILD"
	if os.Getenv(env) == "1" {
		m, e := newHookMachine(t, context.Background(), 20*time.Millisecond)
		for range 100 {
			if f := m.Step(getOp); f != nil {
				t.Fatal(f)
			}
		}
		e.get = func(context.Context, []byte) ([]byte, error) { select {} }
		m.Step(getOp)
		t.Fatal("a hanging op returned")
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchdog$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child: %v, want it stopped by the watchdog; output:\n%s", err, out)
	}
	for _, want := range []string{
		`machine: test checker: op 100 (get "k1") has not returned in 60ms: the engine hangs`,
		"goroutine ",
		"hookEngine).Get",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child's output lacks %q:\n%s", want, out)
		}
	}
}

// TestStuckHook checks that an op which ignores its context is reported
// to the stuck hook once, half an OpTimeout past its deadline, while it
// still runs (before the watchdog's 3×OpTimeout), with its index, what it
// is and how long it has run; an op that returns at its deadline is not.
func TestStuckHook(t *testing.T) {
	const timeout = 100 * time.Millisecond
	m, e := newHookMachine(t, context.Background(), timeout)
	type call struct {
		n       int
		what    string
		running time.Duration
	}
	var calls []call
	release := make(chan struct{})
	m.OnStuck(func(n int, what string, running time.Duration) {
		calls = append(calls, call{n, what, running})
		if len(calls) == 1 {
			close(release) // the op may go on once the hook has run
		}
	})
	// An op that honours its deadline: a hang, but not stuck.
	e.get = func(ctx context.Context, key []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f := m.Step(getOp); f == nil || f.Kind != KindHang {
		t.Fatalf("op 0: %v, want a hang", f)
	}
	time.Sleep(timeout) // past where op 0 would have been stuck
	if len(calls) != 0 {
		t.Fatalf("the hook heard of an op that returned at its deadline: %+v", calls)
	}
	// An op that ignores its context until the hook has run.
	e.get = func(ctx context.Context, key []byte) ([]byte, error) {
		<-release
		return nil, ctx.Err()
	}
	start := time.Now()
	f := m.Step(getOp)
	el := time.Since(start)
	if f == nil || f.Kind != KindHang || f.OpIndex != 1 {
		t.Fatalf("op 1: %v, want a hang at op 1", f)
	}
	if len(calls) != 1 {
		t.Fatalf("hook called %d times, want once: %+v", len(calls), calls)
	}
	c := calls[0]
	if c.n != 1 || c.what != getOp.String() || c.running < timeout*3/2 || c.running > el {
		t.Errorf("hook heard %+v; want op 1 (%s), having run at least %s and no longer than the op's %s", c, getOp, timeout*3/2, el)
	}
}

// TestProbeHang: an engine whose open never returns (it ignores
// everything) is reported by the probe, after its bound, as
// checkers.ErrEngineHang, which checkers.OpenFailed makes a violation.
func TestProbeHang(t *testing.T) {
	const timeout = 50 * time.Millisecond
	tg := target.Target{Name: "hangs", OpenDevice: func(disk.Device) (engine.Engine, error) { select {} }}
	start := time.Now()
	_, err := probe(tg, t.TempDir(), timeout)
	if !errors.Is(err, checkers.ErrEngineHang) || time.Since(start) < timeout {
		t.Fatalf("probe = %v after %s; want ErrEngineHang after %s", err, time.Since(start), timeout)
	}
	r, ok := checkers.OpenFailed("test", tg.Name, 1, err)
	if !ok || r.Verdict != checkers.Fail || !strings.Contains(r.Violations[0].Summary, "did not return") {
		t.Fatalf("OpenFailed = %+v, %v; want a failing Result", r, ok)
	}
}
