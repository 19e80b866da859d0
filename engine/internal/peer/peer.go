// Package peer is the base of the peer adapters (engine/pebble,
// engine/badger, engine/bbolt): the part of putting a library behind
// engine.Engine that does not depend on the library. An adapter implements
// Library with its library's calls and nothing else; New wraps it in an
// Engine, which the adapter's DB embeds, and which
//
//   - checks the key (engine.CheckKey), the value (engine.CheckValue
//     against Config.ValueMax) and the context, in that order, before
//     anything reaches the library;
//   - admits every call through a gate.Gate, so that Close waits for the
//     calls in flight and every call after it, a second Close included,
//     returns an error wrapping engine.ErrClosed (the libraries themselves
//     panic or misbehave on use after close);
//   - wraps every error once as "<name>: <op>: <cause>", marking a full
//     disk (ENOSPC) with engine.ErrNoSpace and what the library reports as
//     corruption (Config.Corruption) with engine.ErrCorruption;
//   - refuses a maintenance operation engine does not name with
//     engine.ErrInvalidArgument before the library sees it;
//   - counts the key and value bytes Put accepted (Stats'
//     UserBytesWritten), and keeps Stats answering after Close from the
//     counters the adapter keeps itself.
//
// What a Library must do is in its method docs; what the contract asks of
// the whole is engine's package doc. enginetest.Run checks every adapter
// against it, the close-while-busy and process-kill subtests included.
package peer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/internal/gate"
)

// Library is what an adapter implements: its library's side of each call.
// Engine calls a method only with valid arguments, only while open, and
// never after Close has begun; Close itself is called once. Errors are
// returned as the library gives them (Engine wraps them), or with a step
// in front ("flush: %w") where a call is several library calls.
type Library interface {
	// Get returns a copy of the value stored under key, or
	// engine.ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Put stores value under key. The library must copy what it keeps.
	Put(key, value []byte) error
	// PutBatch stores every pair with the library's native batch, in
	// order (a later pair of the same key wins), copying what it keeps.
	PutBatch(kvs []engine.KV) error
	// Delete removes key; an absent key is not an error.
	Delete(key []byte) error
	// Sync makes every write acknowledged before the call durable.
	Sync() error
	// List calls fn for every key in [start, end) in ascending order until
	// fn returns false. fn may call the Engine (it may be refused with
	// engine.ErrClosed if Close has begun meanwhile).
	List(ctx context.Context, start, end []byte, fn func(key []byte) bool) error
	// Maintain runs op, which is one of engine.MaintenanceOps, or returns
	// errors.ErrUnsupported.
	Maintain(ctx context.Context, op engine.MaintenanceOp) error
	// Close shuts the library down cleanly: reopening loses nothing. Join
	// the errors of several steps with Join so each is reported on its own
	// line.
	Close() error
	// Stats adds the library's figures to s. With open false Close has
	// begun: only counters the adapter keeps itself may be read.
	Stats(s *engine.Stats, open bool)
}

// Config is what Engine needs to know about the adapter.
type Config struct {
	// Name is the adapter's name, the prefix of every error ("pebble").
	Name string
	// ValueMax is the largest value Put accepts.
	ValueMax int
	// Corruption reports whether the library means err as corruption.
	Corruption func(err error) bool
}

// Wrap adds the adapter's name and op to a library error, marking the
// conditions the contract names: a full disk wraps engine.ErrNoSpace, a
// corruption engine.ErrCorruption. Errors joined with Join are wrapped
// one by one. Adapters call it for the errors of Open, before there is an
// Engine.
func (c Config) Wrap(op string, err error) error {
	if j, ok := err.(joined); ok {
		errs := make([]error, len(j))
		for i, e := range j {
			errs[i] = c.Wrap(op, e)
		}
		return errors.Join(errs...)
	}
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%s: %s: %w: %w", c.Name, op, engine.ErrNoSpace, err)
	case c.Corruption != nil && c.Corruption(err):
		return fmt.Errorf("%s: %s: %w: %w", c.Name, op, engine.ErrCorruption, err)
	}
	return c.fail(op, err)
}

// fail prefixes an error that already says what it means (a sentinel,
// a context error, a refused argument).
func (c Config) fail(op string, err error) error {
	return fmt.Errorf("%s: %s: %w", c.Name, op, err)
}

// joined is the errors of a call made of several library steps.
type joined []error

func (j joined) Error() string {
	s := make([]string, len(j))
	for i, e := range j {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

func (j joined) Unwrap() []error { return j }

// Join joins the errors of a call made of several steps (flush, then
// close), dropping nils; Config.Wrap wraps each on its own line. It
// returns nil if every error is nil.
func Join(errs ...error) error {
	var j joined
	for _, e := range errs {
		if e != nil {
			j = append(j, e)
		}
	}
	if len(j) == 0 {
		return nil
	}
	return j
}

// Engine is a Library behind the engine contract. Its methods are the
// contract's; see the package doc for what it adds to the Library's.
type Engine struct {
	cfg       Config
	lib       Library
	gate      gate.Gate
	userBytes atomic.Int64
}

var (
	_ engine.Engine     = (*Engine)(nil)
	_ engine.Lister     = (*Engine)(nil)
	_ engine.Maintainer = (*Engine)(nil)
	_ engine.Statser    = (*Engine)(nil)
	_ engine.Limiter    = (*Engine)(nil)
	_ engine.Batcher    = (*Engine)(nil)
)

// New returns an open Engine over lib.
func New(lib Library, cfg Config) *Engine {
	e := &Engine{cfg: cfg, lib: lib}
	e.gate.Init()
	return e
}

// enter checks ctx and admits op; on nil the caller must call exit.
func (e *Engine) enter(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return e.cfg.fail(op, err)
	}
	if !e.gate.Enter() {
		return e.cfg.fail(op, engine.ErrClosed)
	}
	return nil
}

// enterKey is enter after checking key.
func (e *Engine) enterKey(ctx context.Context, op string, key []byte) error {
	if err := engine.CheckKey(key); err != nil {
		return e.cfg.fail(op, err)
	}
	return e.enter(ctx, op)
}

// Get returns a copy of the value stored under key.
func (e *Engine) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := e.enterKey(ctx, "get", key); err != nil {
		return nil, err
	}
	defer e.gate.Exit()
	v, err := e.lib.Get(key)
	if errors.Is(err, engine.ErrNotFound) {
		return nil, e.cfg.fail("get", engine.ErrNotFound)
	}
	if err != nil {
		return nil, e.cfg.Wrap("get", err)
	}
	return v, nil
}

// Put stores value under key.
func (e *Engine) Put(ctx context.Context, key, value []byte) error {
	if err := engine.CheckKey(key); err != nil {
		return e.cfg.fail("put", err)
	}
	if err := engine.CheckValue(value, e.cfg.ValueMax); err != nil {
		return e.cfg.fail("put", err)
	}
	if err := e.enter(ctx, "put"); err != nil {
		return err
	}
	defer e.gate.Exit()
	if err := e.lib.Put(key, value); err != nil {
		return e.cfg.Wrap("put", err)
	}
	e.userBytes.Add(int64(len(key) + len(value)))
	return nil
}

// PutBatch stores every pair through the library's native batch, after
// checking them all.
func (e *Engine) PutBatch(ctx context.Context, kvs []engine.KV) error {
	if err := engine.CheckBatch(kvs, e.cfg.ValueMax); err != nil {
		return e.cfg.fail("put batch", err)
	}
	if err := e.enter(ctx, "put batch"); err != nil {
		return err
	}
	defer e.gate.Exit()
	if len(kvs) == 0 {
		return nil
	}
	if err := e.lib.PutBatch(kvs); err != nil {
		return e.cfg.Wrap("put batch", err)
	}
	n := 0
	for _, kv := range kvs {
		n += len(kv.Key) + len(kv.Value)
	}
	e.userBytes.Add(int64(n))
	return nil
}

// Delete removes key.
func (e *Engine) Delete(ctx context.Context, key []byte) error {
	if err := e.enterKey(ctx, "delete", key); err != nil {
		return err
	}
	defer e.gate.Exit()
	if err := e.lib.Delete(key); err != nil {
		return e.cfg.Wrap("delete", err)
	}
	return nil
}

// Sync makes every write acknowledged before the call durable.
func (e *Engine) Sync(ctx context.Context) error {
	if err := e.enter(ctx, "sync"); err != nil {
		return err
	}
	defer e.gate.Exit()
	if err := e.lib.Sync(); err != nil {
		return e.cfg.Wrap("sync", err)
	}
	return nil
}

// Close waits for the calls in flight and closes the library. A second
// Close returns an error wrapping engine.ErrClosed.
func (e *Engine) Close() error {
	if !e.gate.Close() {
		return e.cfg.fail("close", engine.ErrClosed)
	}
	if err := e.lib.Close(); err != nil {
		return e.cfg.Wrap("close", err)
	}
	return nil
}

// List calls fn for each key in [start, end) in ascending order.
func (e *Engine) List(ctx context.Context, start, end []byte, fn func(key []byte) bool) error {
	if err := e.enter(ctx, "list"); err != nil {
		return err
	}
	defer e.gate.Exit()
	if err := e.lib.List(ctx, start, end, fn); err != nil {
		return e.cfg.Wrap("list", err)
	}
	return nil
}

// Maintain runs a background operation now, or returns an error wrapping
// errors.ErrUnsupported if the library has no such operation.
func (e *Engine) Maintain(ctx context.Context, op engine.MaintenanceOp) error {
	name := "maintain " + string(op)
	if err := e.enter(ctx, name); err != nil {
		return err
	}
	defer e.gate.Exit()
	known := false
	for _, k := range engine.MaintenanceOps() {
		known = known || op == k
	}
	if !known {
		return fmt.Errorf("%s: maintain %q: unknown operation (valid: %v): %w", e.cfg.Name, op, engine.MaintenanceOps(), engine.ErrInvalidArgument)
	}
	if err := e.lib.Maintain(ctx, op); err != nil {
		return e.cfg.Wrap(name, err)
	}
	return nil
}

// Limits reports the key and value limits.
func (e *Engine) Limits() engine.Limits {
	return engine.Limits{KeyMax: engine.KeyMax, ValueMax: e.cfg.ValueMax}
}

// Stats reports the user bytes written and the library's figures; after
// Close, those the adapter keeps itself.
func (e *Engine) Stats() engine.Stats {
	s := engine.Stats{UserBytesWritten: e.userBytes.Load()}
	open := e.gate.Enter()
	if open {
		defer e.gate.Exit()
	}
	e.lib.Stats(&s, open)
	return s
}
