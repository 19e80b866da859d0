package peer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
)

var errBroken = errors.New("broken page")

// fake is a Library that fails every call with err.
type fake struct {
	err    error
	closed int
}

func (f *fake) Get([]byte) ([]byte, error)                           { return nil, f.err }
func (f *fake) Put([]byte, []byte) error                             { return f.err }
func (f *fake) Delete([]byte) error                                  { return f.err }
func (f *fake) PutBatch([]engine.KV) error                           { return f.err }
func (f *fake) Sync() error                                          { return f.err }
func (f *fake) Close() error                                         { f.closed++; return f.err }
func (f *fake) Stats(*engine.Stats, bool)                            {}
func (f *fake) Maintain(context.Context, engine.MaintenanceOp) error { return f.err }
func (f *fake) List(context.Context, []byte, []byte, func([]byte) bool) error {
	return f.err
}

var cfg = Config{Name: "fake", ValueMax: 10, Corruption: func(err error) bool { return errors.Is(err, errBroken) }}

// TestErrors: every error says the adapter and the op, once, and marks
// what the contract names.
func TestErrors(t *testing.T) {
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		lib  error
		call func(e *Engine) error
		is   error
		want string
	}{
		{engine.ErrNotFound, func(e *Engine) error { _, err := e.Get(ctx, []byte("k")); return err }, engine.ErrNotFound, "fake: get: not found"},
		{fmt.Errorf("write: %w", syscall.ENOSPC), func(e *Engine) error { return e.Put(ctx, []byte("k"), nil) }, engine.ErrNoSpace, "fake: put: no space left: write: no space left on device"},
		{errBroken, func(e *Engine) error { return e.Delete(ctx, []byte("k")) }, engine.ErrCorruption, "fake: delete: corruption: broken page"},
		{nil, func(e *Engine) error { return e.Put(ctx, nil, nil) }, engine.ErrInvalidArgument, "fake: put: "},
		{nil, func(e *Engine) error { return e.Put(ctx, []byte("k"), make([]byte, 11)) }, engine.ErrInvalidArgument, "fake: put: "},
		{nil, func(e *Engine) error { return e.Sync(canceled) }, context.Canceled, "fake: sync: context canceled"},
		{errors.ErrUnsupported, func(e *Engine) error { return e.Maintain(ctx, engine.Compact) }, errors.ErrUnsupported, "fake: maintain compact: unsupported operation"},
		{nil, func(e *Engine) error { return e.Maintain(ctx, "defrag") }, engine.ErrInvalidArgument, `fake: maintain "defrag": unknown operation`},
		{Join(fmt.Errorf("flush: %w", errBroken), errors.New("lock held")), func(e *Engine) error { return e.Close() }, engine.ErrCorruption,
			"fake: close: corruption: flush: broken page\nfake: close: lock held"},
	} {
		e := New(&fake{err: tc.lib}, cfg)
		err := tc.call(e)
		if !errors.Is(err, tc.is) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("library error %v: got %q, want %v and %q", tc.lib, err, tc.is, tc.want)
		}
	}
}

// TestClosed: after Close every call is refused without reaching the
// library, a second Close included, and Stats still answers.
func TestClosed(t *testing.T) {
	ctx := context.Background()
	f := &fake{}
	e := New(f, cfg)
	if err := e.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"close":    e.Close(),
		"put":      e.Put(ctx, []byte("k"), nil),
		"delete":   e.Delete(ctx, []byte("k")),
		"sync":     e.Sync(ctx),
		"list":     e.List(ctx, nil, nil, func([]byte) bool { return true }),
		"maintain": e.Maintain(ctx, engine.Compact),
	} {
		if !errors.Is(err, engine.ErrClosed) || !strings.HasPrefix(err.Error(), "fake: ") {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if f.closed != 1 {
		t.Errorf("library closed %d times", f.closed)
	}
	if s := e.Stats(); s.UserBytesWritten != 2 {
		t.Errorf("Stats after Close: %+v", s)
	}
	if l := e.Limits(); l.ValueMax != 10 || l.KeyMax != engine.KeyMax {
		t.Errorf("Limits = %+v", l)
	}
}

func TestInt(t *testing.T) {
	for n, want := range map[int64]int{7: 7, -3: -3, 1 << 40: 1 << 40, 1 << 62: 1 << 62} {
		if got := Int(n); got != want {
			t.Errorf("Int(%d) = %d, want %d", n, got, want)
		}
	}
}
