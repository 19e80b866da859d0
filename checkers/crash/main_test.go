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
	"github.com/gauntlet-kv/gauntlet/internal/badengine"
)

// table is the engines a kill-mode child of this test binary can open:
// the harness's, toystore, and the engines with known failures.
func table() engine.Drivers {
	return append(engine.Drivers{model.Driver(), toystore.Driver(), pebble.Driver(), badger.Driver(), bbolt.Driver()}, badengine.Drivers()...)
}

func TestMain(m *testing.M) {
	if code, ok := crash.ChildMain(table()); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
