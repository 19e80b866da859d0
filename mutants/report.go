package mutants

import (
	"encoding/json"
	"fmt"
	"github.com/gauntlet-kv/gauntlet/internal/shard"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Schema versions the report a run writes (mutants.json); its JSON
// Schema is reports/schema/mutants.schema.json.
const Schema = "gauntlet.mutants/v1"

// Baseline is the subject name of the unmutated engine, and Canary the
// catalogue's must-catch mutant.
const (
	Baseline = "none"
	Canary   = "canary"
)

// Report is a run's outcome: the matrix, the scores and whether they can
// be trusted.
type Report struct {
	Schema    string        `json:"schema"`
	Commit    string        `json:"commit"`
	Command   string        `json:"command"`
	Started   time.Time     `json:"started"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	Budget    time.Duration `json:"budget_ns"`
	Seed      uint64        `json:"seed"`
	Detectors []string      `json:"detectors"`
	Mutants   []Row         `json:"mutants"`
	// Scores are per detector, in Detectors' order; Combined counts a
	// mutant killed when any detector killed it.
	Scores   []Score `json:"scores"`
	Combined Score   `json:"combined"`
	// Trust is empty when the baseline passed every detector and the
	// canary was killed by every one; otherwise it says what failed, and
	// the scores mean nothing.
	Trust string `json:"trust,omitempty"`
	// Shard names the shard of a fleet run (--shard i/N) this report is:
	// it ran the baseline, the canary and every Nth other mutant. Shards
	// lists the shards harness merge joined into it.
	Shard  *shard.Meta  `json:"shard,omitempty"`
	Shards []shard.Meta `json:"shards,omitempty"`
}

// Row is one mutant across the detectors.
type Row struct {
	Name string `json:"name"`
	// Info describes a catalogued mutant (component, paper bug, what goes
	// wrong) or an AST mutant (its diff).
	Component string   `json:"component,omitempty"`
	Paper     int      `json:"paper,omitempty"`
	Class     string   `json:"class,omitempty"`
	Wrong     string   `json:"wrong,omitempty"`
	Diff      string   `json:"diff,omitempty"`
	Hint      string   `json:"equivalent_hint,omitempty"`
	Expect    []string `json:"expect,omitempty"`
	// Outcome is the row's combined outcome: killed if any detector
	// killed it, else survived if any ran it to the end, else the first
	// cell's.
	Outcome Outcome `json:"outcome"`
	// Cells are in the report's Detectors order.
	Cells []Cell `json:"cells"`
}

// Score is killed / (killed + survived), with every other outcome counted
// apart.
type Score struct {
	Detector string          `json:"detector"`
	Killed   int             `json:"killed"`
	Survived int             `json:"survived"`
	Other    map[Outcome]int `json:"other,omitempty"`
}

// Percent is the score, or -1 when nothing was scored.
func (s Score) Percent() float64 {
	if s.Killed+s.Survived == 0 {
		return -1
	}
	return 100 * float64(s.Killed) / float64(s.Killed+s.Survived)
}

// String is "29/31 (93.5%)" with the other outcomes after it.
func (s Score) String() string {
	if s.Killed+s.Survived == 0 {
		return "nothing scored" + s.otherString()
	}
	return fmt.Sprintf("%d/%d (%.1f%%)%s", s.Killed, s.Killed+s.Survived, s.Percent(), s.otherString())
}

func (s Score) otherString() string {
	var parts []string
	for _, o := range []Outcome{TimedOut, Unknown, NotViable, NotCovered, Waits, NotRun} {
		if n := s.Other[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; apart: " + strings.Join(parts, ", ")
}

func (s *Score) add(o Outcome) {
	switch o {
	case Killed:
		s.Killed++
	case Survived:
		s.Survived++
	default:
		if s.Other == nil {
			s.Other = map[Outcome]int{}
		}
		s.Other[o]++
	}
}

// Build assembles a report from the run's cells (as Run returns them, in
// subject-major order) and the rows describing the subjects (Name set,
// Cells empty). The baseline and the canary are judged for Trust and kept
// out of the scores.
func Build(rows []Row, dets []Detector, cells []Cell) Report {
	r := Report{Schema: Schema, Mutants: rows}
	for _, d := range dets {
		r.Detectors = append(r.Detectors, d.String())
	}
	r.Scores = make([]Score, len(dets))
	for i := range r.Scores {
		r.Scores[i].Detector = r.Detectors[i]
	}
	r.Combined.Detector = "combined"
	var distrust []string
	for ri := range r.Mutants {
		row := &r.Mutants[ri]
		row.Cells = cells[ri*len(dets) : (ri+1)*len(dets)]
		row.Outcome = combine(row.Cells)
		for di, c := range row.Cells {
			switch {
			case row.Name == Baseline && c.Outcome != Survived:
				distrust = append(distrust, fmt.Sprintf("%s did not pass the unmutated engine (%s%s)", r.Detectors[di], c.Outcome, because(c)))
			case row.Name == Canary && c.Outcome != Killed:
				distrust = append(distrust, fmt.Sprintf("%s did not kill the canary (%s%s)", r.Detectors[di], c.Outcome, because(c)))
			case row.Name != Baseline && row.Name != Canary:
				r.Scores[di].add(c.Outcome)
			}
		}
		if row.Name != Baseline && row.Name != Canary {
			r.Combined.add(row.Outcome)
		}
	}
	r.Trust = strings.Join(distrust, "; ")
	return r
}

func because(c Cell) string {
	if c.Why != "" {
		return ": " + c.Why
	}
	if c.Violation != "" {
		return ": " + c.Violation
	}
	return ""
}

// combine is a row's outcome over its cells.
func combine(cells []Cell) Outcome {
	if len(cells) == 0 {
		return Unknown
	}
	for _, want := range []Outcome{Killed, Survived, TimedOut, Unknown} {
		if slices.ContainsFunc(cells, func(c Cell) bool { return c.Outcome == want }) {
			return want
		}
	}
	return cells[0].Outcome
}

// JSON encodes r, indented.
func (r Report) JSON() ([]byte, error) {
	return json.MarshalIndent(r, "", "  ")
}

// Survivors are the scored mutants no detector killed.
func (r Report) Survivors() []Row {
	var out []Row
	for _, row := range r.Mutants {
		if row.Name != Baseline && row.Name != Canary && row.Outcome == Survived {
			out = append(out, row)
		}
	}
	return out
}

// mark is a cell in the terminal matrix.
func mark(c Cell) string {
	switch c.Outcome {
	case Killed:
		cases, _ := c.Effort()
		if c.Runs > 1 {
			return fmt.Sprintf("K %dc/%dr", cases, c.Runs)
		}
		return fmt.Sprintf("K %dc", cases)
	case Survived:
		return "."
	case TimedOut:
		return "T"
	case Unknown:
		return "?"
	case NotViable:
		return "nv"
	case NotCovered:
		return "nc"
	case Waits:
		return "w"
	case NotRun:
		return "-"
	}
	return string(c.Outcome)
}

// WriteSummary prints the matrix (K and the cases to the first kill,
// "." survived, T timed out, ? unknown, w waits for interleave), the
// scores with their denominators, the survivors, and Trust.
func (r Report) WriteSummary(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "mutant\t%s\t\n", strings.Join(r.Detectors, "\t"))
	for _, row := range r.Mutants {
		marks := make([]string, len(row.Cells))
		for i, c := range row.Cells {
			marks[i] = mark(c)
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", row.Name, strings.Join(marks, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := r.writeKills(w); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nscore (killed / killed+survived; canary and baseline not counted):")
	for _, s := range r.Scores {
		fmt.Fprintf(w, "  %-22s %s\n", s.Detector, s)
	}
	fmt.Fprintf(w, "  %-22s %s\n", "combined", r.Combined)
	if sv := r.Survivors(); len(sv) > 0 {
		fmt.Fprintf(w, "\nsurvivors (%d):\n", len(sv))
		for _, row := range sv {
			if row.Diff != "" {
				// The changed lines, without the diff's headers: the
				// reviewer's question is what the mutant did.
				fmt.Fprintf(w, "  %s:\n", row.Name)
				for _, l := range strings.Split(strings.TrimSpace(row.Diff), "\n") {
					if !strings.HasPrefix(l, "--- ") && !strings.HasPrefix(l, "+++ ") && !strings.HasPrefix(l, "@@") {
						fmt.Fprintf(w, "      %s\n", l)
					}
				}
			} else {
				fmt.Fprintf(w, "  %s: %s\n", row.Name, firstNonEmpty(row.Wrong))
			}
			if row.Hint != "" {
				fmt.Fprintf(w, "    possibly equivalent: %s\n", row.Hint)
			}
		}
	}
	if r.Trust != "" {
		fmt.Fprintf(w, "\nNOT TRUSTWORTHY: %s\n", r.Trust)
	}
	return nil
}

// writeKills prints, per killed mutant, its quickest kill: the detector,
// the cases and seconds to it over all the cell's runs, and the seed of
// the killing run (with the runs it took, when survivors got further
// rounds).
func (r Report) writeKills(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nto the kill (the quickest detector; cases and seconds over all its runs):")
	for _, row := range r.Mutants {
		if row.Name == Baseline || row.Outcome != Killed {
			continue
		}
		best := -1
		var bestT time.Duration
		for i, c := range row.Cells {
			if _, t := c.Effort(); c.Outcome == Killed && (best < 0 || t < bestT) {
				best, bestT = i, t
			}
		}
		c := row.Cells[best]
		cases, t := c.Effort()
		runs := ""
		if c.Runs > 1 {
			runs = fmt.Sprintf(" (run %d)", c.Runs)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d cases\t%.1fs\tseed %d%s\t\n", row.Name, r.Detectors[best], cases, t.Seconds(), c.Seed, runs)
	}
	return tw.Flush()
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return strings.SplitN(s, "\n", 2)[0]
		}
	}
	return ""
}
