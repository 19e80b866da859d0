package coverage

import (
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// TestSteerFollowsRareStates: an arm whose cases keep reaching a rare
// state gains weight over one present in every case that reaches only
// common ones; when nothing rare comes any more the weights go back toward
// the fixed mix; no weight leaves [base/SteerBoostMax, base×SteerBoostMax].
func TestSteerFollowsRareStates(t *testing.T) {
	s := NewSteer(map[string]int{"get": 30, "compact": 3, "off": 0})
	w := s.Weights()
	if w["get"] != 30*SteerScale || w["compact"] != 3*SteerScale || w["off"] != 0 {
		t.Fatalf("before any case the weights are the base ones ×%d: %v", SteerScale, w)
	}
	rep := &Report{Events: map[engine.Event]int64{}}
	for i := range 200 {
		rep.Events[engine.EventCacheEviction] += 10 // every case
		used := []string{"get"}
		if i%10 == 0 {
			// A compact reaches a cell nothing else does, still rare.
			used = append(used, "compact")
			rep.Merge(&Report{Cells: []CellCount{{Cell: Cell{Op: "compact", Fault: FaultWriteEIO, Phase: engine.PhaseCompaction}, Count: 1}}})
		}
		s.Update(rep, used, nil)
		for a, v := range s.Weights() {
			b := map[string]int{"get": 30, "compact": 3}[a] * SteerScale
			if v < b/int(SteerCutMax)-1 || v > b*int(SteerBoostMax)+1 {
				t.Fatalf("case %d: weight of %s %d outside [%d/2, %d×8]", i, a, v, b, b)
			}
		}
	}
	w = s.Weights()
	if float64(w["compact"])/float64(w["get"]) <= 3.0/30 {
		t.Errorf("compact reaches a rare cell and get only a common event, yet compact:get is %d:%d, not above the base 3:30", w["compact"], w["get"])
	}
	if s.Seen() != 2 {
		t.Errorf("seen %d states, want 2 (an event and a cell)", s.Seen())
	}
	for range 500 {
		rep.Events[engine.EventCacheEviction] += 10
		s.Update(rep, []string{"get", "compact"}, nil)
	}
	w = s.Weights()
	if r := float64(w["compact"]) / float64(w["get"]); r < 0.08 || r > 0.12 {
		t.Errorf("with nothing rare any more compact:get should return near 3:30, got %d:%d", w["compact"], w["get"])
	}
}
