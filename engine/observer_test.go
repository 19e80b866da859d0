package engine

import (
	"context"
	"testing"
)

type tally map[Event]int

func (t tally) Event(ev Event)           { t[ev]++ }
func (t tally) Phase(p Phase, bool bool) {}

// TestOptionsObserver: the observer rides in Options but is not part of
// the spec, so a result's echoed spec never names it.
func TestOptionsObserver(t *testing.T) {
	o, err := Resolve(Spec{Name: "x"}, []OptionDef{{Name: "a", Kind: KindInt, Default: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if o.Observer() != nil {
		t.Fatal("a resolved spec has an observer")
	}
	tl := tally{}
	ob := o.WithObserver(tl)
	if o.Observer() != nil || ob.Observer() == nil {
		t.Fatal("WithObserver changed the original or did not set the copy")
	}
	if ob.Spec().String() != o.Spec().String() {
		t.Fatalf("spec with an observer %q, without %q", ob.Spec(), o.Spec())
	}
	Emit(ob.Observer(), EventExtentReset)
	Emit(nil, EventExtentReset)
	if tl[EventExtentReset] != 1 {
		t.Fatalf("emitted once, counted %d", tl[EventExtentReset])
	}
}

// BenchmarkEmitNil is the cost of an event with no observer: a nil check.
func BenchmarkEmitNil(b *testing.B) {
	var obs Observer
	for b.Loop() {
		Emit(obs, EventCacheEviction)
	}
}

type phaseLog struct{ entered []Phase }

func (l *phaseLog) Event(Event) {}
func (l *phaseLog) Phase(p Phase, begin bool) {
	if begin {
		l.entered = append(l.entered, p)
	}
}

// TestEnterContext: with an observer, the phase is entered and marked on
// the context (the innermost mark wins); without one the context is the
// caller's, unmarked.
func TestEnterContext(t *testing.T) {
	ctx := context.Background()
	if got := EnterContext(ctx, nil, PhaseCompaction); got != ctx || PhaseOf(got) != "" {
		t.Errorf("without an observer: a new context (%v) or a phase (%q)", got != ctx, PhaseOf(got))
	}
	l := &phaseLog{}
	outer := EnterContext(ctx, l, PhaseForegroundWrite)
	inner := EnterContext(outer, l, PhaseReclamation)
	if PhaseOf(outer) != PhaseForegroundWrite || PhaseOf(inner) != PhaseReclamation {
		t.Errorf("PhaseOf: outer %q, inner %q", PhaseOf(outer), PhaseOf(inner))
	}
	if len(l.entered) != 2 || l.entered[1] != PhaseReclamation {
		t.Errorf("the observer heard %v entered", l.entered)
	}
}
