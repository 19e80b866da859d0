package chunk

import (
	"context"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
)

// The superblock glue: the root blob the index keeps in the superblock,
// slot writes on demand, and the hold on the IO scheduler's next round
// (Expect).

// SetRoot stores a small blob (at most 512 bytes) in the superblock once d
// is persistent; the index keeps its metadata's locator there. The returned
// dependency is persistent once a superblock holding it (or a later root)
// is.
func (s *Store) SetRoot(ctx context.Context, data []byte, d dep.Dependency) (dep.Dependency, error) {
	if err := s.checkOpen(); err != nil {
		return dep.Dependency{}, err
	}
	if len(data) > format.RootMax {
		return dep.Dependency{}, fmt.Errorf("chunk: root of %d bytes, at most %d: %w", len(data), format.RootMax, engine.ErrInvalidArgument)
	}
	if err := s.g.Admit(ctx, 1); err != nil {
		return dep.Dependency{}, err
	}
	n := s.g.NewNode(dep.Dependency{}, dep.Chain{})
	s.sb.SetRoot(data, d, n)
	s.mu.Lock()
	s.other = s.other.And(n.Dependency())
	s.mu.Unlock()
	s.sched.Kick()
	return n.Dependency(), nil
}

// Root returns the root blob of the last persisted superblock.
func (s *Store) Root() []byte { return s.sb.Root() }

// Expect says that writes the goroutines waiting on dependencies need are
// about to be appended; see iosched.Scheduler.Expect.
func (s *Store) Expect() (done func()) { return s.sched.Expect() }

// WriteSlot writes a superblock slot now if the superblock changed, with a
// device flush, rather than at the next cadence (Maintain's
// superblock-flush). It returns once a device flush that started after the
// call has finished.
func (s *Store) WriteSlot(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	return s.sched.Flush(ctx)
}
