//go:build mutants

package mutant_test

import (
	"errors"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

func TestActivateOn(t *testing.T) {
	if !mutant.Built() {
		t.Fatal("Built() = false with -tags mutants")
	}
	if _, err := mutant.Activate("no-such-bug"); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Errorf("Activate(no-such-bug) = %v, want ErrInvalidArgument", err)
	}
	r1, err := mutant.Activate("canary")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := mutant.Activate("canary")
	if err != nil {
		t.Fatalf("the same mutant twice: %v", err)
	}
	if _, err := mutant.Activate("older-slot-chosen"); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Errorf("a second mutant while canary is active = %v, want refused", err)
	}
	if !mutant.On(mutant.Canary) || mutant.On(mutant.OlderSlotChosen) || mutant.On(mutant.None) {
		t.Error("On disagrees with the active mutant")
	}
	r1()
	r1() // a release is idempotent
	if !mutant.On(mutant.Canary) {
		t.Error("canary off after one of two releases")
	}
	r2()
	if mutant.On(mutant.Canary) {
		t.Error("canary still on after both releases")
	}
	r3, err := mutant.Activate("older-slot-chosen")
	if err != nil {
		t.Fatalf("another mutant once none is active: %v", err)
	}
	r3()
}
