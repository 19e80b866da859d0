package coverage

import (
	"slices"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// DocSchema names the document `harness coverage` writes (coverage.json);
// reports/schema/coverage.schema.json is its JSON Schema.
const DocSchema = "gauntlet.coverage/v1"

// Doc is coverage.json: what each checker reached on one engine.
type Doc struct {
	Schema   string    `json:"schema"`
	Engine   string    `json:"engine"`
	Checkers []Checker `json:"checkers"`
	// CodeNever, with harness coverage --code, are the engine functions
	// no checker executed ("file:line: function").
	CodeNever []string `json:"code_never,omitempty"`
}

// Checker is one checker's run in a Doc.
type Checker struct {
	Checker string `json:"checker"`
	Mode    string `json:"mode,omitempty"`
	Faults  bool   `json:"faults"`
	Engine  string `json:"engine"`
	Verdict string `json:"verdict"`
	Cases   int64  `json:"cases"`
	Ops     int64  `json:"ops"`
	// ElapsedNS is the run's time.
	ElapsedNS int64 `json:"elapsed_ns"`
	// Result is the check Result file the entry was read from.
	Result string `json:"result"`
	// Coverage is the Result's; nil if it recorded none.
	Coverage *Report `json:"coverage"`
	// NeverEvents are the expected events it never reached.
	NeverEvents []engine.Event `json:"never_events"`
	// NeverFaults are the fault × phase pairs no op of it hit, as
	// "FAULT×PHASE".
	NeverFaults []string `json:"never_faults"`
	// Code, with harness coverage --code, is per engine package the
	// percentage of its statements the checker executed.
	Code map[string]float64 `json:"code,omitempty"`
}

// Never fills c's NeverEvents from expected and NeverFaults from every
// fault × phase pair.
func (c *Checker) Never(expected []engine.Event) {
	c.NeverEvents = []engine.Event{}
	c.NeverFaults = []string{}
	for _, ev := range expected {
		if c.Coverage == nil || c.Coverage.Events[ev] == 0 {
			c.NeverEvents = append(c.NeverEvents, ev)
		}
	}
	for _, f := range Faults() {
		for _, p := range engine.Phases() {
			if !c.Coverage.Reached("*×" + string(f) + "×" + string(p)) {
				c.NeverFaults = append(c.NeverFaults, string(f)+"×"+string(p))
			}
		}
	}
}

// Matrix sums a report's cells over ops: counts[fault][phase], in the
// orders of Faults and engine.Phases.
func (r *Report) Matrix() [][]int64 {
	fs, ps := Faults(), engine.Phases()
	m := make([][]int64, len(fs))
	for i := range m {
		m[i] = make([]int64, len(ps))
	}
	if r == nil {
		return m
	}
	for _, c := range r.Cells {
		i, j := slices.Index(fs, c.Fault), slices.Index(ps, c.Phase)
		if i >= 0 && j >= 0 {
			m[i][j] += c.Count
		}
	}
	return m
}
