// Package model is gauntlet's reference model: the specification every
// engine is checked against. It is a map from key to value that also tracks
// persistence, so it can say what an engine may legally hold after a crash.
//
// # Persistence
//
// Every write gets a Dependency. A Dependency becomes persistent when Sync is
// called after its write, or when a checker calls Persist on it because the
// engine under test reported its own dependency for the same write
// persistent. Persisting a write also settles every earlier write to the same
// key: it supersedes them.
//
// Per key the model keeps the last persistent version (absent if none) and
// the later versions that are not yet persistent. Crash returns, per key, the
// versions an engine may hold after a crash: the persistent one or any later
// one (a write may reach the disk before anybody learns it has). Recover then
// settles each key on the version the engine was observed to hold.
//
// # As an engine
//
// A Store is also an engine.Engine (with Tracker, Lister, Limiter and
// InvariantChecker), so harness plumbing can be tested on it. Opened on a
// directory it writes its persistent state to a snapshot file on every Sync
// and on Close, and reads it on Open; New makes a purely in-memory Store.
// The snapshot costs O(keys) per Sync: the model is for correctness, not
// speed.
package model

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// ValueMax is the largest value the model accepts.
const ValueMax = 64 << 20

// Version is one state of a key: a value, or absent.
type Version struct {
	Present bool
	Value   []byte
}

func (v Version) String() string {
	if !v.Present {
		return "<absent>"
	}
	if len(v.Value) > 32 {
		return fmt.Sprintf("%q...(%d bytes)", v.Value[:32], len(v.Value))
	}
	return fmt.Sprintf("%q", v.Value)
}

// Equal reports whether two versions hold the same state.
func (v Version) Equal(w Version) bool {
	return v.Present == w.Present && (!v.Present || bytes.Equal(v.Value, w.Value))
}

type write struct {
	seq     uint64
	version Version
	dep     *Dep
}

type history struct {
	durable Version  // last persistent version
	pending []*write // later writes, oldest first, not yet persistent
}

// latest is what a Get returns now.
func (h *history) latest() Version {
	if n := len(h.pending); n > 0 {
		return h.pending[n-1].version
	}
	return h.durable
}

// Store is the reference model. It is safe for concurrent use.
type Store struct {
	mu     sync.Mutex
	keys   map[string]*history
	dirty  map[string]bool // keys with pending writes
	seq    uint64
	closed bool
	dir    string // "" for an in-memory Store
}

// New returns an empty in-memory Store.
func New() *Store {
	return &Store{keys: map[string]*history{}, dirty: map[string]bool{}}
}

// Dep is the model's Dependency for one write.
type Dep struct {
	s          *Store
	key        string
	seq        uint64
	persistent bool // guarded by s.mu
}

// IsPersistent implements engine.Dependency.
func (d *Dep) IsPersistent() bool {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	return d.persistent
}

// Wait implements engine.Dependency. The model never flushes on its own, so
// Wait on a write that is not persistent returns an error rather than
// blocking forever.
func (d *Dep) Wait(ctx context.Context) error {
	if d.IsPersistent() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("model: write %d to %q is not persistent and the model persists only at Sync", d.seq, d.key)
}

// Seq is the write's sequence number: writes are numbered from 1 in the
// order the Store applied them.
func (d *Dep) Seq() uint64 { return d.seq }

func (s *Store) check(key []byte) error {
	if s.closed {
		return fmt.Errorf("model: %w", engine.ErrClosed)
	}
	if err := engine.CheckKey(key); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}

func (s *Store) apply(key []byte, v Version) *Dep {
	s.seq++
	k := string(key)
	h := s.keys[k]
	if h == nil {
		h = &history{}
		s.keys[k] = h
	}
	d := &Dep{s: s, key: k, seq: s.seq}
	h.pending = append(h.pending, &write{seq: s.seq, version: v, dep: d})
	s.dirty[k] = true
	return d
}

// Get implements engine.Engine.
func (s *Store) Get(_ context.Context, key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(key); err != nil {
		return nil, err
	}
	if _, read := Step(s.latest(key), KeyGet, nil); read.Present {
		return bytes.Clone(read.Value), nil
	}
	return nil, fmt.Errorf("model: get %q: %w", key, engine.ErrNotFound)
}

// Latest returns key's current version, what Get would return, without
// copying the value: a checker comparing an engine's answer to the model's
// need not pay for a copy of every value it reads. The value is the model's
// own storage and must not be modified; it stays valid (the model never
// writes into a value it holds). Latest does not check the key or whether
// the Store is closed: an unknown key is absent.
func (s *Store) Latest(key []byte) Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest(key)
}

// latest is Latest with s.mu held.
func (s *Store) latest(key []byte) Version {
	if h := s.keys[string(key)]; h != nil {
		return h.latest()
	}
	return Version{}
}

// LiveBytes is the bytes of keys and values the Store holds now (each
// key's latest version).
func (s *Store) LiveBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for k, h := range s.keys {
		if v := h.latest(); v.Present {
			n += int64(len(k) + len(v.Value))
		}
	}
	return n
}

// Put implements engine.Engine.
func (s *Store) Put(ctx context.Context, key, value []byte) error {
	_, err := s.PutTracked(ctx, key, value)
	return err
}

// PutBatch implements engine.Batcher: every pair in order, after checking
// them all.
func (s *Store) PutBatch(ctx context.Context, kvs []engine.KV) error {
	if err := engine.CheckBatch(kvs, ValueMax); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	for _, kv := range kvs {
		if err := s.Put(ctx, kv.Key, kv.Value); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements engine.Engine.
func (s *Store) Delete(ctx context.Context, key []byte) error {
	_, err := s.DeleteTracked(ctx, key)
	return err
}

// PutTracked implements engine.Tracker.
func (s *Store) PutTracked(_ context.Context, key, value []byte) (engine.Dependency, error) {
	d, err := s.PutDep(key, value)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// DeleteTracked implements engine.Tracker.
func (s *Store) DeleteTracked(_ context.Context, key []byte) (engine.Dependency, error) {
	d, err := s.DeleteDep(key)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// PutDep is Put returning the model's own *Dep, for checkers.
func (s *Store) PutDep(key, value []byte) (*Dep, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(key); err != nil {
		return nil, err
	}
	if err := engine.CheckValue(value, ValueMax); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	next, _ := Step(s.latest(key), KeyPut, bytes.Clone(value))
	return s.apply(key, next), nil
}

// DeleteDep is Delete returning the model's own *Dep, for checkers.
func (s *Store) DeleteDep(key []byte) (*Dep, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(key); err != nil {
		return nil, err
	}
	next, _ := Step(s.latest(key), KeyDelete, nil)
	return s.apply(key, next), nil
}

// Sync implements engine.Engine: every write so far becomes persistent.
func (s *Store) Sync(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("model: %w", engine.ErrClosed)
	}
	s.persistAll()
	return s.save()
}

func (s *Store) persistAll() {
	for _, k := range sortedKeys(s.dirty) {
		h := s.keys[k]
		s.settle(h, h.pending[len(h.pending)-1])
	}
}

// settle makes w and every earlier pending write of h persistent.
func (s *Store) settle(h *history, w *write) {
	i := slices.Index(h.pending, w)
	if i < 0 {
		return // already settled
	}
	for _, p := range h.pending[:i+1] {
		p.dep.persistent = true
	}
	h.durable = w.version
	h.pending = slices.Delete(h.pending, 0, i+1)
	if len(h.pending) == 0 {
		delete(s.dirty, w.dep.key)
	}
}

// Persist records that the write behind d reached stable storage (the engine
// under test said so). Earlier writes to the same key are superseded.
func (s *Store) Persist(d *Dep) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.persistent {
		return
	}
	h := s.keys[d.key]
	for _, w := range h.pending {
		if w.dep == d {
			s.settle(h, w)
			return
		}
	}
}

// Crash returns, for every key that may be present after a crash, the
// versions an engine may legally hold: the last persistent version first,
// then each later write in order. A key not in the map must be absent.
func (s *Store) Crash() map[string][]Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]Version{}
	for k, h := range s.keys {
		vs := []Version{h.durable}
		for _, w := range h.pending {
			vs = append(vs, w.version)
		}
		if slices.ContainsFunc(vs, func(v Version) bool { return v.Present }) {
			out[k] = vs
		}
	}
	return out
}

// Allowed reports whether v is a version key may hold after a crash.
func (s *Store) Allowed(key []byte, v Version) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.keys[string(key)]
	if h == nil {
		return !v.Present
	}
	if h.durable.Equal(v) {
		return true
	}
	return slices.ContainsFunc(h.pending, func(w *write) bool { return w.version.Equal(v) })
}

// Recover settles the model after a crash: every key takes the version the
// engine was observed to hold (keys not in observed become absent), and all
// of it is persistent. It returns an error naming the first key whose
// observed version Crash did not allow.
func (s *Store) Recover(observed map[string]Version) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range sortedKeys(observed) {
		v := observed[k]
		h := s.keys[k]
		ok := h != nil && (h.durable.Equal(v) || slices.ContainsFunc(h.pending, func(w *write) bool { return w.version.Equal(v) }))
		if !ok && v.Present {
			return fmt.Errorf("model: after crash %q = %v, which was never written", k, v)
		}
	}
	for k, h := range s.keys {
		if _, ok := observed[k]; !ok && !h.durable.Equal(Version{}) && !slices.ContainsFunc(h.pending, func(w *write) bool { return !w.version.Present }) {
			return fmt.Errorf("model: after crash %q is absent, but its persistent value is %v", k, h.durable)
		}
	}
	for k, h := range s.keys {
		for _, w := range h.pending {
			w.dep.persistent = false // lost in the crash
		}
		h.pending = nil
		h.durable = observed[k]
	}
	s.dirty = map[string]bool{}
	return nil
}

// List implements engine.Lister.
func (s *Store) List(_ context.Context, start, end []byte, fn func(key []byte) bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("model: %w", engine.ErrClosed)
	}
	var keys []string
	for k, h := range s.keys {
		if h.latest().Present && (start == nil || k >= string(start)) && (end == nil || k < string(end)) {
			keys = append(keys, k)
		}
	}
	s.mu.Unlock()
	slices.Sort(keys)
	for _, k := range keys {
		if !fn([]byte(k)) {
			break
		}
	}
	return nil
}

// Limits implements engine.Limiter.
func (s *Store) Limits() engine.Limits {
	return engine.Limits{KeyMax: engine.KeyMax, ValueMax: ValueMax}
}

// CheckInvariants implements engine.InvariantChecker: pending writes are in
// sequence order and the dirty set names exactly the keys with pending writes.
func (s *Store) CheckInvariants() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, k := range sortedKeys(s.keys) {
		h := s.keys[k]
		if (len(h.pending) > 0) != s.dirty[k] {
			errs = append(errs, fmt.Errorf("model: key %q: %d pending writes but dirty=%v", k, len(h.pending), s.dirty[k]))
		}
		for i := 1; i < len(h.pending); i++ {
			if h.pending[i-1].seq >= h.pending[i].seq {
				errs = append(errs, fmt.Errorf("model: key %q: pending writes out of order", k))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return joinErrors(errs)
}

// Close implements engine.Engine: everything becomes persistent (a clean
// shutdown loses nothing) and later calls return ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("model: %w", engine.ErrClosed)
	}
	s.persistAll()
	err := s.save()
	s.closed = true
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
