package badengine

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync/atomic"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// ErrConflict is the error lossy's Put returns for the keys it refuses:
// an engine's transient failure (as Badger's transaction conflict), which
// a benchmark must count, not take for a success and not die of.
var ErrConflict = fmt.Errorf("badengine: lossy: conflict (try again)")

// Lossy is the model with two misbehaviours a benchmark must count: Get
// of a key in LostShare of the key space (by its hash, so the same keys
// every time) finds nothing, as if the record had been lost; and, once
// the engine has been synced (after a bench's load), Put of a key in
// ConflictShare fails with ErrConflict. Loading goes through the model's
// batch and succeeds.
func Lossy() engine.Driver {
	return engine.Driver{Name: "lossy", Doc: "the model losing some records and failing some puts (tests only)",
		Open: func(dir string, _ engine.Options) (engine.Engine, error) {
			s, err := model.Open(dir)
			if err != nil {
				return nil, err
			}
			return &lossy{Store: s}, nil
		}}
}

// LostShare and ConflictShare are the parts of the key space, out of
// 8, whose gets miss and whose puts fail (keys hash to 0..7).
const (
	LostShare     = 1 // keys hashing to 0
	ConflictShare = 1 // keys hashing to 1
)

// KeyClass is the hash bucket (0..7) of a key: 0 is lost, 1 conflicts.
func KeyClass(key []byte) uint32 {
	h := fnv.New32a()
	h.Write(key)
	return h.Sum32() % 8
}

type lossy struct {
	*model.Store
	synced atomic.Bool
}

func (s *lossy) Get(ctx context.Context, key []byte) ([]byte, error) {
	if KeyClass(key) == 0 {
		return nil, engine.ErrNotFound
	}
	return s.Store.Get(ctx, key)
}

func (s *lossy) Put(ctx context.Context, key, value []byte) error {
	if s.synced.Load() && KeyClass(key) == 1 {
		return fmt.Errorf("put %q: %w", key, ErrConflict)
	}
	return s.Store.Put(ctx, key, value)
}

func (s *lossy) Sync(ctx context.Context) error {
	s.synced.Store(true)
	return s.Store.Sync(ctx)
}
