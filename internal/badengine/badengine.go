// Package badengine holds engines with known failures, for the harness's
// own tests: each is the reference model (engine/model) on a directory
// with one misbehaviour, so a test can show that the harness survives it
// and reports it. None is in the harness's engine table.
//
// "Reopened" below means opened on a directory an earlier process wrote:
// the model writes its snapshot at the first open, so a fresh directory
// has none and a directory reopened after a kill has one.
package badengine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// Drivers returns the bad engines:
//
//   - sigbus-reopen: Close of a reopened store dies of a real SIGBUS (a
//     write to a mapping past the end of its file), as Badger's Close does
//     on a full disk.
//   - hang-reopen: Get on a reopened store never returns.
//   - half-close: Close leaves a marker for HalfCloseWindow before it
//     finishes, and Open refuses a directory holding it (ErrCorruption): a
//     store killed inside Close cannot be reopened, as Badger's empty .mem
//     file after a kill between truncate and remove (dgraph-io/badger#2207).
//   - flaky-reopen: a reopen fails with ErrCorruption while the file named
//     by TokenEnv exists, and removes it: a violation that happens once and
//     that no replay reproduces.
//   - no-open: Open refuses every directory, a new one too (ErrCorruption),
//     as an engine whose format and recovery disagree does.
//   - hang-open: Open never returns, a new directory's too.
func Drivers() engine.Drivers {
	open := func(name string, wrap func(s *store) engine.Engine) engine.Driver {
		return engine.Driver{Name: name, Doc: "the model with a known failure (tests only)",
			Open: func(dir string, _ engine.Options) (engine.Engine, error) {
				_, err := os.Stat(filepath.Join(dir, model.SnapshotFile))
				reopened := err == nil
				if name == "half-close" {
					if _, err := os.Stat(filepath.Join(dir, halfClosed)); err == nil {
						return nil, fmt.Errorf("half-close: %s: a half-closed store (killed inside Close): %w", dir, engine.ErrCorruption)
					}
				}
				if name == "hang-open" {
					select {}
				}
				if name == "no-open" {
					return nil, fmt.Errorf("no-open: %s: no valid superblock: %w", dir, engine.ErrCorruption)
				}
				if name == "flaky-reopen" && reopened {
					if tok := os.Getenv(TokenEnv); tok != "" && os.Remove(tok) == nil {
						return nil, fmt.Errorf("flaky-reopen: %s: corrupt once: %w", dir, engine.ErrCorruption)
					}
				}
				s, err := model.Open(dir)
				if err != nil {
					return nil, err
				}
				return wrap(&store{Store: s, dir: dir, reopened: reopened}), nil
			}}
	}
	return engine.Drivers{
		open("sigbus-reopen", func(s *store) engine.Engine { return sigbusStore{s} }),
		open("hang-reopen", func(s *store) engine.Engine { return hangStore{s} }),
		open("half-close", func(s *store) engine.Engine { return halfCloseStore{s} }),
		open("flaky-reopen", func(s *store) engine.Engine { return s }),
		open("no-open", func(s *store) engine.Engine { return s }),
		open("hang-open", func(s *store) engine.Engine { return s }),
	}
}

// TokenEnv names the file whose existence makes flaky-reopen fail once.
const TokenEnv = "GAUNTLET_BADENGINE_TOKEN"

// HalfCloseWindow is how long half-close's Close keeps its marker: long
// enough that a kill timed a few milliseconds into Close lands inside it.
const HalfCloseWindow = 20 * time.Millisecond

const halfClosed = "half-closed"

type store struct {
	*model.Store
	dir      string
	reopened bool
}

type sigbusStore struct{ *store }

func (s sigbusStore) Close() error {
	if s.reopened {
		sigbus()
	}
	return s.Store.Close()
}

// sigbus writes to a shared mapping of an empty file: the kernel sends
// SIGBUS, and the Go runtime dies of it ("fatal error: fault").
func sigbus() {
	f, err := os.CreateTemp("", "badengine-sigbus-")
	if err != nil {
		panic(err)
	}
	os.Remove(f.Name())
	b, err := syscall.Mmap(int(f.Fd()), 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		panic(err)
	}
	b[0] = 1
	panic("badengine: the write past the end of the file did not fault")
}

type hangStore struct{ *store }

func (s hangStore) Get(ctx context.Context, key []byte) ([]byte, error) {
	for s.reopened {
		// As an engine deadlocked on its own lock; a sleep, not select{},
		// which the runtime would report as a deadlock and exit.
		time.Sleep(time.Hour)
	}
	return s.Store.Get(ctx, key)
}

type halfCloseStore struct{ *store }

func (s halfCloseStore) Close() error {
	marker := filepath.Join(s.dir, halfClosed)
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		return err
	}
	time.Sleep(HalfCloseWindow)
	err := s.Store.Close()
	return errors.Join(err, os.Remove(marker))
}
