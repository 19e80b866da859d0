// Package testengines builds the targets the checkers' own tests run on:
// the model, toystore with each bug, shardstore and the peers.
package testengines

import (
	"os"

	"github.com/gauntlet-kv/gauntlet/checkers/internal/toystore"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/checkers/target/shardtarget"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore"
)

// WorkDir is a tmpfs if there is one (fsync-heavy engines run much
// faster), else the default temporary directory.
func WorkDir() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return ""
}

// Model is the reference model as an engine on a directory; it may be
// abandoned (a process crash) since it keeps nothing open.
func Model() target.Target {
	return target.Target{
		Name: "model", WorkDir: WorkDir(), Abandon: true,
		OpenDir: func(dir string) (engine.Engine, error) { return model.Open(dir) },
	}
}

// Toystore is toystore with bug on a disk.Mem.
func Toystore(bug toystore.Bug) target.Target {
	name := "toystore"
	if bug != toystore.BugNone {
		name += ":bug=" + string(bug)
	}
	return target.Target{
		Name:        name,
		OpenDevice:  func(dev disk.Device) (engine.Engine, error) { return toystore.Open(dev, bug) },
		DeviceBytes: 4 << 20,
	}
}

// Shardstore is shardstore on a disk.Mem with the checks' defaults (see
// shardtarget): a 1 MiB device of 64 KiB extents, a tiny cache and
// memtable, time frozen.
func Shardstore() target.Target { return shardtarget.Default() }

// ShardstoreSpec is shardstore with options (a spec such as
// "shardstore:size=2MiB,sched=fifo"), the others at the checks' defaults.
func ShardstoreSpec(spec string) (target.Target, error) {
	_, o, err := engine.Drivers{shardstore.Driver()}.Resolve(spec)
	if err != nil {
		return target.Target{}, err
	}
	return shardtarget.FromOptions(o)
}

// Driver makes a directory target from a driver and spec.
func Driver(table engine.Drivers, spec string) (target.Target, error) {
	d, o, err := table.Resolve(spec)
	if err != nil {
		return target.Target{}, err
	}
	t := target.FromDriver(d, o)
	t.WorkDir = WorkDir()
	return t, nil
}
