package mutant_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

var kebab = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

var components = map[string]bool{
	"chunk store": true, "index": true, "superblock": true, "recovery": true, "reclamation": true,
	"buffer cache": true, "value cache": true, "row cache": true, "decoder": true, "dependency graph": true,
	"io scheduler": true, "api": true,
}

// TestCatalogue checks every entry is complete and consistent.
func TestCatalogue(t *testing.T) {
	cat := mutant.Catalogue()
	if len(cat) < 30 {
		t.Errorf("%d mutants, want at least 30", len(cat))
	}
	if cat[0].ID != mutant.Canary || cat[0].Name != "canary" {
		t.Errorf("first mutant is %v %q, want the canary", cat[0].ID, cat[0].Name)
	}
	names := map[string]bool{}
	for i, m := range cat {
		if m.ID != mutant.ID(i+1) {
			t.Errorf("%s: ID %d at position %d: keep the catalogue in ID order", m.Name, m.ID, i)
		}
		if !kebab.MatchString(m.Name) || names[m.Name] || m.Name == "none" {
			t.Errorf("%q: want a unique kebab-case name", m.Name)
		}
		names[m.Name] = true
		if !components[m.Component] {
			t.Errorf("%s: component %q", m.Name, m.Component)
		}
		if m.Wrong == "" || m.Class == "" || m.Paper < 0 || m.Paper > 16 {
			t.Errorf("%s: incomplete entry %+v", m.Name, m)
		}
		if m.Concurrency != (m.Why != "") {
			t.Errorf("%s: Concurrency %v, Why %q: a concurrency mutant says why, no other does", m.Name, m.Concurrency, m.Why)
		}
		if !m.Concurrency && len(m.Expect) == 0 {
			t.Errorf("%s: no expected detector", m.Name)
		}
		if got, ok := mutant.Lookup(m.Name); !ok || got.ID != m.ID {
			t.Errorf("Lookup(%q) = %v, %v", m.Name, got.ID, ok)
		}
	}
	if _, ok := mutant.Lookup("none"); ok {
		t.Error(`Lookup("none") found a mutant`)
	}
	if len(cat[0].Expect) < 4 {
		t.Errorf("the canary expects %v: want every checker and mode", cat[0].Expect)
	}
}

func TestActivateNone(t *testing.T) {
	for _, name := range []string{"", "none"} {
		release, err := mutant.Activate(name)
		if err != nil {
			t.Fatalf("Activate(%q): %v", name, err)
		}
		release()
	}
	if mutant.On(mutant.Canary) {
		t.Error("On(Canary) with no mutant active")
	}
}

func TestActivateOff(t *testing.T) {
	if mutant.Built() {
		t.Skip("built with -tags mutants: TestActivateOn covers this build") // the other build's test
	}
	_, err := mutant.Activate("canary")
	if !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), "-tags mutants") {
		t.Errorf("Activate(canary) in a normal build = %v, want an error naming -tags mutants", err)
	}
	if mutant.On(mutant.Canary) {
		t.Error("On(Canary) in a normal build")
	}
}
