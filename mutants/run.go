package mutants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config is one mutants run.
type Config struct {
	// Subjects are the mutants, the baseline ("none") among them if the
	// caller wants it judged.
	Subjects  []Subject
	Detectors []Detector
	Seed      uint64
	// Budget is the whole run's, shared out over the cells as they start
	// (see the package documentation); CellBudget, if set, is every
	// cell's instead. Cases, if set, caps each cell's cases as well.
	Budget     time.Duration
	CellBudget time.Duration
	Cases      int
	// Adaptive runs the detectors that can steer their generator
	// (conformance, crash block: checkers.Checker.Adaptive) with
	// --adaptive; the caller keys the saved cells apart (Commit).
	Adaptive bool
	// Rounds gives the mutants that survive the first round further
	// rounds with more seeds until Budget is spent (see Run); it needs a
	// shared Budget (no CellBudget).
	Rounds bool
	// Jobs is how many cells run at once (worker processes, one core
	// each).
	Jobs int
	// Grace is how long past its budget a cell may run before it is timed
	// out. Default 30s plus the cell's budget: shrinking a violation and
	// a kill-mode child's restarts take time the budget does not count.
	Grace time.Duration
	// OutDir holds cells/ (the saved cells) and the workers' traces.
	OutDir string
	// Commit keys the saved cells: a cell saved by another commit is run
	// again.
	Commit string
	// Replay renders the command that replays a trace of subject s under
	// detector d.
	Replay func(s Subject, d Detector, trace string) string
	// Progress, if set, is called after every cell (from one goroutine at
	// a time).
	Progress func(Progress)
}

// Progress is where a run stands.
type Progress struct {
	Done, Total int
	Resumed     int // cells reused from an earlier run
	Last        Cell
	Counts      map[Outcome]int
	Remaining   time.Duration // of the run's budget
}

// cellBudgetMin is the least a cell is given when the run's budget is
// nearly spent: below it, a checker cannot open an engine and run a case.
const cellBudgetMin = 2 * time.Second

// cellBudgetLow is what a cell no score depends on first gets in a run
// with rounds: a detector the mutant does not expect to catch it, run
// after the rounds for the rest of the matrix (a few hundred cases).
const cellBudgetLow = time.Second

// RoundsMax bounds the rounds of a run with Config.Rounds: enough for any
// budget the runs take (each round costs at least cellBudgetMin), a bound
// should the cells finish at once (a --cases cap).
const RoundsMax = 64

// roundsReserve is the share of the run's budget the first round leaves
// for the further rounds (Config.Rounds): a quarter, so a survivor gets
// more seeds even when the first round's cells all run to their budget.
const roundsReserve = 4

// RoundSeed is the seed of a cell's k-th run (k = 0 the first): the run's
// seed plus k, so each run's replay command names a seed the user can pass
// to harness check.
func RoundSeed(seed uint64, k int) uint64 { return seed + uint64(k) }

// todo is one run of one cell: the cell's index, its subject, its detector
// and the run's seed.
type todo struct {
	i       int
	subject int
	det     Detector
	seed    uint64
}

// Run runs every cell of cfg, reusing the cells an earlier run of the same
// commit saved, and returns them all in (subject, detector) order. A
// cancelled ctx stops the workers (their cells are not saved) and returns
// the context's error with the cells finished so far; a cell that was
// running has its subject, detector and elapsed time but no Outcome.
//
// With cfg.Rounds, the cells of the mutants no detector has killed run
// again with the next seeds (RoundSeed) while the budget lasts: each
// round's candidates are the surviving cells of the detectors the mutant
// expects (all its surviving cells if it names none, or none of those
// survived), each run RoundSeed(seed, k) for its next k, several seeds at
// once when fewer candidates than jobs are left. Which cells and seeds a
// round runs depends only on the outcomes before it, so a run is as
// deterministic as its cells. A cell then reports its killing run (or its
// last), with Runs and the cases and time of all its runs up to the kill.
func Run(ctx context.Context, cfg Config) ([]Cell, error) {
	if cfg.Jobs < 1 {
		cfg.Jobs = 1
	}
	cells := make([]Cell, len(cfg.Subjects)*len(cfg.Detectors))
	runs := make([][]Cell, len(cells)) // every run of each cell, in seed order
	var queue []todo
	resumed := 0
	counts := map[Outcome]int{}
	for si, s := range cfg.Subjects {
		for di, d := range cfg.Detectors {
			i := si*len(cfg.Detectors) + di
			switch c, ok := loadCell(cfg, s, d, cfg.Seed); {
			case s.Skip != "":
				cells[i] = Cell{Schema: CellSchema, Commit: cfg.Commit, Subject: s.Name, Detector: d, Seed: cfg.Seed, Outcome: s.Skip, Why: s.SkipWhy}
				counts[s.Skip]++
			case ok:
				runs[i] = append(runs[i], c)
				cells[i] = c
				counts[c.Outcome]++
				resumed++
			default:
				queue = append(queue, todo{i, si, d, cfg.Seed})
			}
		}
	}
	// left counts each subject's cells still to run, for its Cleanup.
	left := map[int]int{}
	for _, t := range queue {
		left[t.subject]++
	}
	rounds := cfg.Rounds && cfg.CellBudget == 0 && cfg.Budget > 0
	r := runner{cfg: cfg, cells: cells, runs: runs, counts: counts, left: left, prepared: map[int]*prep{},
		total: len(cells), done: len(cells) - len(queue), resumed: resumed, start: time.Now()}
	// With rounds, the cells that decide the score run first: the
	// baseline's, the canary's, and each mutant's expected detectors (all
	// of a mutant that names none). Then the survivors' rounds, then the
	// rest of the matrix, each of those at cellBudgetLow: the time they
	// need is kept aside from the start.
	var later []todo
	if rounds {
		var first []todo
		for _, t := range queue {
			if r.priority(t) {
				first = append(first, t)
			} else {
				later = append(later, t)
			}
		}
		queue = first
	}
	reserve := time.Duration(0)
	if rounds {
		reserve = cfg.Budget / roundsReserve
	}
	err := r.round(ctx, queue, reserve, cellBudgetMin, false)
	keep := time.Duration(0) // the later cells take what the rounds leave
	for k := 1; rounds && err == nil && k <= RoundsMax; k++ {
		queue = r.survivors()
		if len(queue) == 0 || cfg.Budget-time.Since(r.start)-keep < cellBudgetMin {
			break
		}
		r.total += len(queue)
		for _, t := range queue {
			if r.left[t.subject]++; r.left[t.subject] == 1 {
				// Its Cleanup ran after its last cell (an AST mutant's
				// binary is removed): it is prepared again.
				delete(r.prepared, t.subject)
			}
		}
		err = r.round(ctx, queue, keep, cellBudgetMin, false)
	}
	if err == nil && len(later) > 0 {
		// Only those the budget still has a second for: the rest are
		// not run, and say so.
		n := int(max(cfg.Budget-time.Since(r.start), 0) * time.Duration(cfg.Jobs) / cellBudgetLow)
		n = min(n, len(later))
		for _, t := range later[n:] {
			r.notRun(t)
		}
		err = r.round(ctx, later[:n], 0, cellBudgetLow, true)
	}
	if err != nil {
		return cells, err
	}
	if err := ctx.Err(); err != nil {
		return cells, err
	}
	return cells, nil
}

// notRun records t as not run: the budget had no time left for it.
// Called with no round running or with mu held.
func (r *runner) notRun(t todo) {
	s := r.cfg.Subjects[t.subject]
	r.cells[t.i] = Cell{Schema: CellSchema, Commit: r.cfg.Commit, Subject: s.Name, Detector: t.det, Seed: r.cfg.Seed,
		Outcome: NotRun, Why: "the run's budget went to the cells the score depends on and to the survivors' rounds first"}
	r.counts[NotRun]++
}

// runner is the state of a Run across its rounds.
type runner struct {
	cfg      Config
	mu       sync.Mutex
	cells    []Cell
	runs     [][]Cell
	counts   map[Outcome]int
	left     map[int]int
	prepared map[int]*prep
	total    int
	done     int
	resumed  int
	start    time.Time
}

// priority reports whether t is a cell the score depends on first: the
// baseline's, the canary's, or an expected detector's (any detector of a
// subject that names none).
func (r *runner) priority(t todo) bool {
	s := r.cfg.Subjects[t.subject]
	return s.Name == Baseline || s.Name == Canary || len(s.Expect) == 0 || slices.Contains(s.Expect, t.det)
}

// survivors is the next round's runs (see Run): for every mutant no
// detector killed, its surviving cells' next seeds.
func (r *runner) survivors() []todo {
	cfg := r.cfg
	var cand []int
	for si, s := range cfg.Subjects {
		if s.Name == Baseline || s.Skip != "" {
			continue
		}
		row := r.cells[si*len(cfg.Detectors) : (si+1)*len(cfg.Detectors)]
		if slices.ContainsFunc(row, func(c Cell) bool { return c.Outcome == Killed }) {
			continue
		}
		var all, expected []int
		for di, c := range row {
			if c.Outcome != Survived {
				continue
			}
			all = append(all, si*len(cfg.Detectors)+di)
			if slices.Contains(s.Expect, c.Detector) {
				expected = append(expected, si*len(cfg.Detectors)+di)
			}
		}
		if len(expected) > 0 {
			all = expected
		}
		cand = append(cand, all...)
	}
	if len(cand) == 0 {
		return nil
	}
	// Fewer candidates than jobs: each takes several seeds at once, so
	// the round keeps every core busy.
	per := max(1, r.cfg.Jobs/len(cand))
	var q []todo
	for _, i := range cand {
		si, di := i/len(cfg.Detectors), i%len(cfg.Detectors)
		for range per {
			q = append(q, todo{i, si, cfg.Detectors[di], RoundSeed(cfg.Seed, len(r.runs[i])+countRuns(q, i))})
		}
	}
	return q
}

// countRuns is how many of q run cell i.
func countRuns(q []todo, i int) int {
	n := 0
	for _, t := range q {
		if t.i == i {
			n++
		}
	}
	return n
}

// merge records run c of cell i and makes the cell its killing run (the
// first by seed), or else its last, with the effort of all its runs up
// to that one.
func (r *runner) merge(i int, c Cell) {
	rs := append(r.runs[i], c)
	slices.SortFunc(rs, func(a, b Cell) int { return cmpSeed(a.Seed, b.Seed) })
	r.runs[i] = rs
	pick := len(rs) - 1
	if k := slices.IndexFunc(rs, func(c Cell) bool { return c.Outcome == Killed }); k >= 0 {
		pick = k
	}
	out := rs[pick]
	if len(rs) > 1 {
		out.Runs = pick + 1
		for _, p := range rs[:pick+1] {
			out.TotalCases += p.Cases
			out.TotalElapsed += p.Elapsed
		}
		if out.Outcome == Killed && out.Detected > 0 {
			// To the detection, not through the kill's shrinking.
			out.TotalElapsed += out.Detected - out.Elapsed
		}
	}
	r.cells[i] = out
}

func cmpSeed(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// round runs queue, jobs at a time, sharing out what is left of the run's
// budget but reserve, at least least a cell. In the last round (last), a
// cell is not started once the budget has less than least left.
func (r *runner) round(ctx context.Context, queue []todo, reserve, least time.Duration, last bool) error {
	cfg := r.cfg
	var (
		next     int
		firstErr error
	)
	budgetFor := func() time.Duration {
		if cfg.CellBudget > 0 {
			return cfg.CellBudget
		}
		left := cfg.Budget - time.Since(r.start)
		share := left - reserve
		waiting := len(queue) - next + 1
		b := time.Duration(int64(share) * int64(cfg.Jobs) / int64(max(waiting, 1)))
		// With fewer cells left than jobs, a cell's share would reach past
		// the end of the run: no cell runs beyond the budget.
		b = min(b, left)
		return max(b, least).Round(100 * time.Millisecond)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	mu := &r.mu
	for range cfg.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next == len(queue) || firstErr != nil || runCtx.Err() != nil {
					mu.Unlock()
					return
				}
				if last && cfg.CellBudget == 0 && cfg.Budget-time.Since(r.start) < least {
					// The run's budget is spent: a cell started now
					// would run past it (a cell takes its budget and its
					// worker's start-up), so the rest are not run.
					for _, t := range queue[next:] {
						r.notRun(t)
						if r.left[t.subject]--; r.left[t.subject] == 0 && cfg.Subjects[t.subject].Cleanup != nil {
							cfg.Subjects[t.subject].Cleanup()
						}
					}
					next = len(queue)
					mu.Unlock()
					return
				}
				t := queue[next]
				next++
				budget := budgetFor()
				mu.Unlock()

				s := cfg.Subjects[t.subject]
				var (
					c   Cell
					err error
				)
				resumed := false
				if t.seed != cfg.Seed {
					c, resumed = loadCell(cfg, s, t.det, t.seed)
				}
				if !resumed {
					c, err = runOne(runCtx, cfg, s, t.det, t.seed, budget, mu, r.prepared, t.subject)
				}

				mu.Lock()
				if r.left[t.subject]--; r.left[t.subject] == 0 && s.Cleanup != nil {
					s.Cleanup()
				}
				if err != nil {
					if runCtx.Err() != nil && c.Elapsed > 0 && len(r.runs[t.i]) == 0 {
						// Stopped while running: kept unscored (no
						// Outcome, not saved) so a caller can say which
						// checks the stop cut short.
						r.cells[t.i] = c
					}
					if firstErr == nil && runCtx.Err() == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					return
				}
				if prev := r.cells[t.i].Outcome; prev != "" {
					r.counts[prev]--
				}
				r.merge(t.i, c)
				r.counts[r.cells[t.i].Outcome]++
				r.done++
				if resumed {
					r.resumed++
				} else if err := saveCell(cfg, s, c); err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				if cfg.Progress != nil {
					cfg.Progress(Progress{Done: r.done, Total: r.total, Resumed: r.resumed, Last: r.cells[t.i], Counts: r.counts,
						Remaining: max(cfg.Budget-time.Since(r.start), 0)})
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// prep is a subject's prepared executable, built once for all its cells.
type prep struct {
	once sync.Once
	exe  string
	err  error
}

// runOne prepares s (once) and runs one cell of it.
func runOne(ctx context.Context, cfg Config, s Subject, d Detector, seed uint64, budget time.Duration, mu *sync.Mutex, prepared map[int]*prep, si int) (Cell, error) {
	exe := s.Exe
	if s.Prepare != nil {
		mu.Lock()
		p := prepared[si]
		if p == nil {
			p = &prep{}
			prepared[si] = p
		}
		mu.Unlock()
		p.once.Do(func() { p.exe, p.err = s.Prepare(ctx) })
		if errors.Is(p.err, ErrNotViable) {
			return Cell{Schema: CellSchema, Commit: cfg.Commit, Subject: s.Name, Detector: d, Seed: seed,
				Outcome: NotViable, Why: p.err.Error()}, nil
		}
		if p.err != nil {
			return Cell{}, fmt.Errorf("mutants: build %s: %w", s.Name, p.err)
		}
		exe = p.exe
	}
	cr := cellRun{exe: exe, subject: s, det: d, seed: seed, budget: budget, cases: cfg.Cases, adaptive: cfg.Adaptive,
		dir: filepath.Join(cfg.OutDir, "cells", slug(s.Name), slug(d.String())), grace: cfg.grace(budget)}
	if cfg.Replay != nil {
		cr.replay = func(trace string) string { return cfg.Replay(s, d, trace) }
	}
	c, err := cr.run(ctx)
	c.Commit = cfg.Commit
	return c, err
}

// cellPath is where a run saves a cell.
func cellPath(cfg Config, s Subject, d Detector, seed uint64) string {
	return filepath.Join(cfg.OutDir, "cells", slug(s.Name), fmt.Sprintf("%s-%d.json", slug(d.String()), seed))
}

// loadCell reads the cell an earlier run saved, if it is of this commit
// and seed and finished; anything else (absent, corrupt, another commit)
// is run again.
// Resumable reports whether cells of commit are saved and resumed: only a
// clean, known commit's.
func Resumable(commit string) bool {
	return commit != "" && !strings.HasPrefix(commit, "unknown") && !strings.HasSuffix(commit, "+modified")
}

func loadCell(cfg Config, s Subject, d Detector, seed uint64) (Cell, bool) {
	if !Resumable(cfg.Commit) {
		return Cell{}, false
	}
	b, err := os.ReadFile(cellPath(cfg, s, d, seed))
	if err != nil {
		return Cell{}, false
	}
	var c Cell
	if json.Unmarshal(b, &c) != nil || c.Schema != CellSchema || c.Commit != cfg.Commit || c.Seed != seed ||
		c.Subject != s.Name || c.Detector != d || c.Outcome == "" {
		return Cell{}, false
	}
	return c, true
}

// saveCell writes a finished cell where loadCell finds it, atomically, so
// an interrupted run never leaves half a cell to resume from. Cells of an
// unknown commit, or of a tree with uncommitted changes, are not saved:
// nothing could tell them from another build's (the next edit keeps the
// same "+modified" commit).
func saveCell(cfg Config, s Subject, c Cell) error {
	if !Resumable(cfg.Commit) {
		return nil
	}
	path := cellPath(cfg, s, c.Detector, c.Seed)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("mutants: save cell: %w", err)
	}
	return os.Rename(tmp, path)
}

// slug makes a name safe as one path element.
func slug(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '+' {
			return r
		}
		return '_'
	}, s)
}

func (cfg Config) grace(budget time.Duration) time.Duration {
	if cfg.Grace > 0 {
		return cfg.Grace
	}
	return 30*time.Second + budget
}
