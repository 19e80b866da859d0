package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// GateSchema names the layout of Gate, the document `harness gate` writes;
// reports/schema/gate.schema.json describes it.
const GateSchema = "gauntlet.gate/v1"

// Gate is a pre-merge verdict: the checks, and optionally a perf
// comparison against a baseline and a mutation score, each pass or fail.
type Gate struct {
	Schema  string        `json:"schema"`
	Verdict string        `json:"verdict"` // pass, fail, interrupted
	Commit  string        `json:"commit"`
	Command string        `json:"command"`
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Engine  string        `json:"engine"`
	Seed    uint64        `json:"seed"`
	Budget  time.Duration `json:"budget_ns"`
	Checks  []GateCheck   `json:"checks"`
	Perf    *GatePerf     `json:"perf,omitempty"`
	Mutants *GateMutants  `json:"mutants,omitempty"`
	// Failures are the reasons for a fail, one line each.
	Failures []string `json:"failures,omitempty"`
}

// GateCheck is one detector's run on the engine.
type GateCheck struct {
	Detector string `json:"detector"`
	// Outcome: pass, fail (a violation, or the engine crashed under the
	// check), timed-out, unknown.
	Outcome   string        `json:"outcome"`
	Cases     int64         `json:"cases"`
	Ops       int64         `json:"ops"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	Violation string        `json:"violation,omitempty"`
	TraceOps  int           `json:"trace_ops,omitempty"`
	Trace     string        `json:"trace,omitempty"`
	Replay    string        `json:"replay,omitempty"`
	Why       string        `json:"why,omitempty"`
}

// GatePerf is the bench re-run with a baseline's configuration and the
// comparison of the two.
type GatePerf struct {
	Baseline    string   `json:"baseline"`
	Result      string   `json:"result"`
	Compared    int      `json:"compared"`
	Regressions []string `json:"regressions"`
	Improved    int      `json:"improved"`
}

// GateMutants is the catalogue's mutation score against a minimum.
type GateMutants struct {
	Score   string  `json:"score"`
	Percent float64 `json:"percent"` // -1 when nothing was scored
	Min     float64 `json:"min"`
	Report  string  `json:"report"`
	Trust   string  `json:"trust,omitempty"`
}

// JSON is the gate as its schema describes it.
func (g Gate) JSON() ([]byte, error) { return json.MarshalIndent(g, "", "  ") }

// WriteHead prints the five lines a CI log reader scans: the verdict,
// then one line each for the checks, perf, mutants and what to run next.
func (g Gate) WriteHead(w io.Writer) error {
	fmt.Fprintf(w, "gate: %s — %s, commit %.12s, %s\n", strings.ToUpper(g.Verdict), g.Engine, g.Commit, g.Elapsed.Round(time.Second))
	passed, worst := 0, ""
	for _, c := range g.Checks {
		if c.Outcome == "pass" {
			passed++
		} else if worst == "" {
			worst = fmt.Sprintf("; %s: %s", c.Detector, c.Outcome)
			if c.Violation != "" {
				worst += ": " + c.Violation
			}
		}
	}
	fmt.Fprintf(w, "checks: %d of %d passed%s\n", passed, len(g.Checks), worst)
	switch p := g.Perf; {
	case p == nil:
		fmt.Fprintln(w, "perf: not compared (--perf-baseline)")
	case len(p.Regressions) > 0:
		fmt.Fprintf(w, "perf: %d of %d figures significantly worse than %s: %s\n", len(p.Regressions), p.Compared, p.Baseline, p.Regressions[0])
	default:
		fmt.Fprintf(w, "perf: no figure of %d significantly worse than %s (%d better)\n", p.Compared, p.Baseline, p.Improved)
	}
	switch m := g.Mutants; {
	case m == nil:
		fmt.Fprintln(w, "mutants: not scored (--min-mutation-score)")
	case m.Trust != "":
		fmt.Fprintf(w, "mutants: score %s cannot be trusted: %s\n", m.Score, m.Trust)
	default:
		fmt.Fprintf(w, "mutants: score %s, minimum %g%%\n", m.Score, m.Min)
	}
	next := "nothing to do"
	for _, c := range g.Checks {
		if c.Replay != "" {
			next = "replay: " + c.Replay
			break
		}
	}
	if next == "nothing to do" && len(g.Failures) > 0 {
		next = "see: " + g.Failures[0]
	}
	_, err := fmt.Fprintln(w, next)
	return err
}
