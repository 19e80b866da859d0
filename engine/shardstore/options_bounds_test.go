package shardstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
)

func TestDepNodesMaxValidated(t *testing.T) {
	o := CheckOptions()
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		t.Fatalf("check options: %v", err)
	}
	o.DepNodesMax = 1
	if err := o.Validate(); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Fatalf("DepNodesMax 1: Validate() = %v, want ErrInvalidArgument", err)
	}
}

// An extent size out of range is refused in the spec's own terms: the
// message names the option as the user wrote it (extent=), not the Go
// field Options.Validate speaks of.
func TestDriverExtentOutOfRange(t *testing.T) {
	d := Driver()
	for _, bad := range []string{"2KiB", "4GiB", "6KiB"} {
		o, err := engine.Resolve(engine.Spec{Name: "shardstore", Options: []engine.Setting{{Key: "extent", Value: bad}}}, d.Options)
		if err == nil {
			err = d.Check(o)
		}
		if !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), "extent="+bad) {
			t.Errorf("extent=%s: %v; want ErrInvalidArgument naming extent=%s", bad, err, bad)
		}
	}
}
