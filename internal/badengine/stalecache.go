package badengine

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// StaleCache is the model behind a read cache whose fill races with
// writes: Get reads the store, yields, then caches what it read, while a
// Put or Delete that ran in between has already invalidated the entry. The
// cache then serves the old value to every later Get until the next write
// to the key: a stale read, which only concurrent clients can see (one
// client never writes inside its own Get). The linearizability checker
// must catch it; conformance, one op at a time, cannot.
func StaleCache() engine.Driver {
	return engine.Driver{Name: "stale-cache", Doc: "the model behind a racy read cache (tests only)",
		Open: func(dir string, _ engine.Options) (engine.Engine, error) {
			s, err := model.Open(dir)
			if err != nil {
				return nil, err
			}
			// Only the Engine of the model: its Tracker and Lister
			// would bypass the cache.
			return &staleCache{Engine: s, cache: map[string]model.Version{}}, nil
		}}
}

type staleCache struct {
	engine.Engine
	mu    sync.Mutex
	cache map[string]model.Version
}

func (s *staleCache) Get(ctx context.Context, key []byte) ([]byte, error) {
	s.mu.Lock()
	v, ok := s.cache[string(key)]
	s.mu.Unlock()
	if !ok {
		value, err := s.Engine.Get(ctx, key)
		switch {
		case err == nil:
			v = model.Version{Present: true, Value: value}
		case !errors.Is(err, engine.ErrNotFound):
			return nil, err
		}
		// The window: a write that lands here invalidates an entry
		// that is not there yet, and the fill below undoes it.
		runtime.Gosched()
		s.mu.Lock()
		s.cache[string(key)] = v
		s.mu.Unlock()
	}
	if !v.Present {
		return nil, engine.ErrNotFound
	}
	return bytes.Clone(v.Value), nil
}

func (s *staleCache) invalidate(key []byte) {
	s.mu.Lock()
	delete(s.cache, string(key))
	s.mu.Unlock()
}

func (s *staleCache) Put(ctx context.Context, key, value []byte) error {
	err := s.Engine.Put(ctx, key, value)
	s.invalidate(key)
	return err
}

func (s *staleCache) Delete(ctx context.Context, key []byte) error {
	err := s.Engine.Delete(ctx, key)
	s.invalidate(key)
	return err
}
