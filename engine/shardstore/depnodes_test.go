package shardstore

import (
	"errors"
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
