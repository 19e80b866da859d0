// Package coverage measures what a checker reaches: the named states an
// engine records through its engine.Observer (state coverage), and the
// cells of the fault space — op type × fault × engine phase — that the
// checker's cases hit (the fault-space matrix).
//
// A check that never reaches a state cannot find the bugs that live there
// (the ShardStore paper found a bug hidden only because the tests
// configured a huge cache). A Recorder is installed by `harness check`
// through the checker's target (target.Target.Observed), so every engine a
// run opens — each case, each reopen, each recovery after a crash —
// reports to the one Recorder of the run; the Result carries its Report,
// and `harness coverage` prints which events and cells each checker never
// reached, and `--require-states` fails a run that did not reach them.
//
// # Phases and attribution
//
// Engines say when they enter and leave a phase (engine.Phases); phases of
// different goroutines overlap (a put in the foreground while reclamation
// runs). A fault or a crash is attributed to the rarest phase active when
// it hit (the order of engine.Phases), else to engine.PhaseIdle. The
// attribution is the engine's phase, not the goroutine's: an IO error
// during a background reclamation that a client's get happened to issue
// counts as reclamation. Two events are derived from phases rather than
// emitted: compaction-while-reclaiming (a compaction began while a
// reclamation ran) and crash-during-reclamation (a crash was recorded while
// one ran).
//
// # What counts
//
// Counts are over every case a checker ran, shrinking steps included
// (rapid replays a failing case while it minimizes it), so they say how
// often a state was reached, not in how many distinct cases. A cell's
// Found counts the failing cases that hit it. Kill-mode crash checks run
// the engine in child processes that report no states.
//
// # Steering and code coverage
//
// Steer is the feedback loop of harness check --adaptive: after each case
// it turns what the Recorder counted into op and fault weights for the
// next (see Steer). BuildCovered, Covdata and WriteProfile are the one way
// Go code coverage is measured: harness coverage --code per checker, and
// the baseline by which harness mutants ast calls a mutant not covered.
//
// Without a Recorder an engine pays one nil check per would-be event
// (engine.Emit); BenchmarkHotPut1KiB in engine/shardstore shows no
// difference (docs/TESTING.md).
package coverage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// SchemaVersion is the version of Report's JSON form (and of coverage.json,
// `harness coverage`'s file). Additions keep it; a change of meaning bumps
// it.
const SchemaVersion = 1

// Fault is a kind of fault a checker injects.
type Fault string

// The faults.
const (
	FaultReadEIO  Fault = "eio-read"
	FaultWriteEIO Fault = "eio-write"
	FaultFlushEIO Fault = "eio-flush"
	FaultBitFlip  Fault = "bit-flip"
	FaultCrash    Fault = "crash"
	FaultTorn     Fault = "torn-write"
	FaultLatency  Fault = "latency"
	// FaultCancel: an op's context was canceled while it ran (a client
	// that gave up), not a device's fault.
	FaultCancel Fault = "cancel"
)

// Faults lists the faults, in a fixed order.
func Faults() []Fault {
	return []Fault{FaultReadEIO, FaultWriteEIO, FaultFlushEIO, FaultBitFlip, FaultCrash, FaultTorn, FaultLatency, FaultCancel}
}

// Cell is one cell of the fault-space matrix.
type Cell struct {
	Op    string       `json:"op"`
	Fault Fault        `json:"fault"`
	Phase engine.Phase `json:"phase"`
}

func (c Cell) String() string { return fmt.Sprintf("%s×%s×%s", c.Op, c.Fault, c.Phase) }

// CellCount is how often a cell was hit, and in how many failing cases.
type CellCount struct {
	Cell
	Count int64 `json:"count"`
	Found int64 `json:"found,omitempty"`
}

// Report is what a Recorder counted: the JSON form a Result carries.
type Report struct {
	Version int `json:"version"`
	// Events counts each event reached (absent: never).
	Events map[engine.Event]int64 `json:"events"`
	// Phases counts the times each phase was entered.
	Phases map[engine.Phase]int64 `json:"phases,omitempty"`
	// Cells are the fault-space cells hit, in a fixed order.
	Cells []CellCount `json:"cells,omitempty"`
}

// Merge adds o's counts to r (the Results of a check's --jobs workers, or
// several runs of one checker).
func (r *Report) Merge(o *Report) {
	if o == nil {
		return
	}
	r.Version = max(r.Version, o.Version)
	if r.Events == nil {
		r.Events = map[engine.Event]int64{}
	}
	for k, v := range o.Events {
		r.Events[k] += v
	}
	if len(o.Phases) > 0 && r.Phases == nil {
		r.Phases = map[engine.Phase]int64{}
	}
	for k, v := range o.Phases {
		r.Phases[k] += v
	}
	idx := map[Cell]int{}
	for i, c := range r.Cells {
		idx[c.Cell] = i
	}
	for _, c := range o.Cells {
		if i, ok := idx[c.Cell]; ok {
			r.Cells[i].Count += c.Count
			r.Cells[i].Found += c.Found
			continue
		}
		idx[c.Cell] = len(r.Cells)
		r.Cells = append(r.Cells, c)
	}
	sortCells(r.Cells)
}

func sortCells(cs []CellCount) {
	slices.SortFunc(cs, func(a, b CellCount) int {
		return strings.Compare(a.Cell.String(), b.Cell.String())
	})
}

// Reached reports whether the report reached name: an event, a phase
// ("phase:NAME"), or a cell ("OP×FAULT×PHASE", any part "*").
func (r *Report) Reached(name string) bool {
	if r == nil {
		return false
	}
	if p, ok := strings.CutPrefix(name, "phase:"); ok {
		return r.Phases[engine.Phase(p)] > 0
	}
	if parts := strings.Split(name, "×"); len(parts) == 3 {
		for _, c := range r.Cells {
			if c.Count > 0 && match(parts[0], c.Op) && match(parts[1], string(c.Fault)) && match(parts[2], string(c.Phase)) {
				return true
			}
		}
		return false
	}
	return r.Events[engine.Event(name)] > 0
}

func match(pat, s string) bool { return pat == "*" || pat == s }

// Missing returns the names of required not reached, in order.
func (r *Report) Missing(required []string) []string {
	var out []string
	for _, n := range required {
		if !r.Reached(n) {
			out = append(out, n)
		}
	}
	return out
}

// ParseRequired splits a --require-states list ("extent-reset,crash-during-reclamation")
// and checks each name: a known event, "phase:" and a known phase, or a
// cell of three parts. An engine's own event names are accepted if
// extra lists them.
func ParseRequired(list string, extra ...engine.Event) ([]string, error) {
	var names, bad []string
	known := map[string]bool{}
	for _, e := range append(engine.Events(), append(extra, engine.EventWriteStall)...) {
		known[string(e)] = true
	}
	for _, p := range engine.Phases() {
		known["phase:"+string(p)] = true
	}
	for n := range strings.SplitSeq(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		switch {
		case known[n], strings.HasPrefix(n, "sched-"), strings.Count(n, "×") == 2:
			names = append(names, n)
		default:
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("--require-states: unknown state %s: want events (%s), phase:NAME, sched-POLICY or a cell OP×FAULT×PHASE",
			strings.Join(bad, ", "), strings.Join(eventNames(engine.Events()), ", "))
	}
	if len(names) == 0 {
		return nil, errors.New("--require-states: empty list: name at least one event")
	}
	return names, nil
}

func eventNames(es []engine.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = string(e)
	}
	return out
}

// Recorder counts the events and phases engines report (it is an
// engine.Observer), and the faults a checker injects, per cell. It is safe
// for concurrent use. The zero value is not usable: call New.
type Recorder struct {
	mu     sync.Mutex
	events map[engine.Event]int64
	phases map[engine.Phase]int64
	active map[engine.Phase]int
	cells  map[Cell]*CellCount
	op     string
	// inCase are the cells hit since the case began, for Found.
	inCase map[Cell]bool
}

// New returns an empty Recorder.
func New() *Recorder {
	return &Recorder{
		events: map[engine.Event]int64{},
		phases: map[engine.Phase]int64{},
		active: map[engine.Phase]int{},
		cells:  map[Cell]*CellCount{},
		inCase: map[Cell]bool{},
	}
}

// Event implements engine.Observer.
func (r *Recorder) Event(ev engine.Event) {
	r.mu.Lock()
	r.events[ev]++
	r.mu.Unlock()
}

// Phase implements engine.Observer.
func (r *Recorder) Phase(p engine.Phase, begin bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !begin {
		// An engine abandoned by a crash may leave a phase after Crash
		// cleared it: never below zero.
		r.active[p] = max(0, r.active[p]-1)
		return
	}
	if p == engine.PhaseCompaction && r.active[engine.PhaseReclamation] > 0 {
		r.events[engine.EventCompactionWhileReclaiming]++
	}
	r.active[p]++
	r.phases[p]++
}

// phaseLocked is the phase a fault is attributed to now.
func (r *Recorder) phaseLocked() engine.Phase {
	for _, p := range engine.Phases() {
		if r.active[p] > 0 {
			return p
		}
	}
	return engine.PhaseIdle
}

// CurrentPhase returns the phase a fault would be attributed to now.
func (r *Recorder) CurrentPhase() engine.Phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.phaseLocked()
}

// BeginCase starts a case: Found marks the cells hit from here on.
func (r *Recorder) BeginCase() {
	r.mu.Lock()
	clear(r.inCase)
	r.op = ""
	r.mu.Unlock()
}

// SetOp says which op of the checker's alphabet runs now ("put",
// "dirty-reboot"): the op of the cells faults hit from here on.
func (r *Recorder) SetOp(op string) {
	r.mu.Lock()
	r.op = op
	r.mu.Unlock()
}

// Fault records that fault f hit now: in the current op and phase. A
// crash also ends every phase (the engine is gone) and counts
// crash-during-reclamation if one ran.
func (r *Recorder) Fault(f Fault) { r.faultIn(f, "") }

// faultIn is Fault in phase p if p is set (the phase that caused the IO),
// else in the rarest phase active now.
func (r *Recorder) faultIn(f Fault, p engine.Phase) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op := r.op
	if op == "" {
		op = "none"
	}
	if p == "" {
		p = r.phaseLocked()
	}
	c := Cell{Op: op, Fault: f, Phase: p}
	cc := r.cells[c]
	if cc == nil {
		cc = &CellCount{Cell: c}
		r.cells[c] = cc
	}
	cc.Count++
	r.inCase[c] = true
	if f == FaultCrash || f == FaultTorn {
		if r.active[engine.PhaseReclamation] > 0 {
			r.events[engine.EventCrashDuringReclamation]++
		}
		clear(r.active)
	}
}

// DeviceFault records a fault a disk.Faulty injected (its OnFault hook):
// an IO error by the IO's kind, or a bit flip. A failed write the engine
// tagged with its phase (disk.IO.Phase) is attributed to that phase: the
// engine's scheduler issues writes after the work that queued them (a
// compaction, an index flush) may have ended.
func (r *Recorder) DeviceFault(io disk.IO, flip bool) {
	switch {
	case flip:
		r.Fault(FaultBitFlip)
	case io.Op == disk.OpRead:
		r.Fault(FaultReadEIO)
	case io.Op == disk.OpWrite:
		r.faultIn(FaultWriteEIO, engine.Phase(io.Phase))
	case io.Op == disk.OpFlush:
		r.Fault(FaultFlushEIO)
	}
}

// Found marks the cells the current case hit as having found something:
// the case failed.
func (r *Recorder) Found() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.inCase {
		r.cells[c].Found++
	}
	clear(r.inCase)
}

// Report returns a snapshot of the counts.
func (r *Recorder) Report() *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &Report{Version: SchemaVersion, Events: map[engine.Event]int64{}, Phases: map[engine.Phase]int64{}}
	for k, v := range r.events {
		rep.Events[k] = v
	}
	for k, v := range r.phases {
		rep.Phases[k] = v
	}
	for _, c := range r.cells {
		rep.Cells = append(rep.Cells, *c)
	}
	sortCells(rep.Cells)
	return rep
}

// Latency records a latency fault: an IO delayed now
// (target.LatencyObserver).
func (r *Recorder) Latency() { r.Fault(FaultLatency) }

// PowerCut records a crash: a power cut armed on a disk.Mem landed now.
func (r *Recorder) PowerCut() { r.Fault(FaultCrash) }
