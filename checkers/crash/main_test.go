package crash_test

import (
	"os"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers/crash"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/toystore"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/badger"
	"github.com/gauntlet-kv/gauntlet/engine/bbolt"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/engine/pebble"
)

// table is the engines a kill-mode child of this test binary can open.
func table() engine.Drivers {
	return engine.Drivers{model.Driver(), toystore.Driver(), pebble.Driver(), badger.Driver(), bbolt.Driver()}
}

func TestMain(m *testing.M) {
	if code, ok := crash.ChildMain(table()); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
