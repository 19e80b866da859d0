package shardstore

import (
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// TestOnDeviceIODepth: io-depth reaches a store opened on a device (a
// check's), and the spec echoes it, so differential checks of io-depth
// compare what they say they do. It was once dropped there.
func TestOnDeviceIODepth(t *testing.T) {
	d := Driver()
	for _, tc := range []struct {
		setting string
		want    int
		echo    bool
	}{{"", 8, false}, {"1", 1, true}, {"3", 3, true}} {
		spec := engine.Spec{Name: "shardstore"}
		if tc.setting != "" {
			spec.Options = []engine.Setting{{Key: "io-depth", Value: tc.setting}}
		}
		o, err := engine.Resolve(spec, d.Options)
		if err != nil {
			t.Fatal(err)
		}
		od, err := d.Device(o)
		if err != nil {
			t.Fatal(err)
		}
		e, err := od.Open(disk.NewMem(od.DeviceBytes, od.SectorBytes))
		if err != nil {
			t.Fatal(err)
		}
		if got := e.(*Store).opts.IODepth; got != tc.want {
			t.Errorf("io-depth=%q: the store runs io-depth %d, want %d", tc.setting, got, tc.want)
		}
		e.Close()
		if got := od.Spec.String(); (len(tc.setting) > 0) != containsSetting(od.Spec, "io-depth", tc.setting) {
			t.Errorf("io-depth=%q: spec %s, want io-depth echoed: %v", tc.setting, got, tc.echo)
		}
	}
}

func containsSetting(s engine.Spec, key, value string) bool {
	for _, o := range s.Options {
		if o.Key == key && o.Value == value {
			return true
		}
	}
	return false
}
