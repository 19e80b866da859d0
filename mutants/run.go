package mutants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// Run runs every cell of cfg, reusing the cells an earlier run of the same
// commit saved, and returns them all in (subject, detector) order. A
// cancelled ctx stops the workers (their cells are not saved) and returns
// the context's error with the cells finished so far; a cell that was
// running has its subject, detector and elapsed time but no Outcome.
func Run(ctx context.Context, cfg Config) ([]Cell, error) {
	if cfg.Jobs < 1 {
		cfg.Jobs = 1
	}
	type todo struct {
		i       int
		subject int
		det     Detector
	}
	cells := make([]Cell, len(cfg.Subjects)*len(cfg.Detectors))
	var queue []todo
	resumed := 0
	counts := map[Outcome]int{}
	for si, s := range cfg.Subjects {
		for di, d := range cfg.Detectors {
			i := si*len(cfg.Detectors) + di
			switch c, ok := loadCell(cfg, s, d); {
			case s.Skip != "":
				cells[i] = Cell{Schema: CellSchema, Commit: cfg.Commit, Subject: s.Name, Detector: d, Seed: cfg.Seed, Outcome: s.Skip, Why: s.SkipWhy}
				counts[s.Skip]++
			case ok:
				cells[i] = c
				counts[c.Outcome]++
				resumed++
			default:
				queue = append(queue, todo{i, si, d})
			}
		}
	}
	// left counts each subject's cells still to run, for its Cleanup.
	left := map[int]int{}
	for _, t := range queue {
		left[t.subject]++
	}
	total := len(cells)
	done := total - len(queue)
	start := time.Now()
	var (
		mu       sync.Mutex
		next     int
		firstErr error
		prepared = map[int]*prep{}
	)
	budgetFor := func() time.Duration {
		if cfg.CellBudget > 0 {
			return cfg.CellBudget
		}
		left := cfg.Budget - time.Since(start)
		waiting := len(queue) - next + 1
		b := time.Duration(int64(left) * int64(cfg.Jobs) / int64(max(waiting, 1)))
		// With fewer cells left than jobs, a cell's share would reach past
		// the end of the run: no cell runs beyond the budget.
		b = min(b, left)
		return max(b, cellBudgetMin).Round(100 * time.Millisecond)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
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
				t := queue[next]
				next++
				budget := budgetFor()
				mu.Unlock()

				s := cfg.Subjects[t.subject]
				c, err := runOne(runCtx, cfg, s, t.det, budget, &mu, prepared, t.subject)

				mu.Lock()
				if left[t.subject]--; left[t.subject] == 0 && s.Cleanup != nil {
					s.Cleanup()
				}
				if err != nil {
					if runCtx.Err() != nil && c.Elapsed > 0 {
						// Stopped while running: kept unscored (no
						// Outcome, not saved) so a caller can say which
						// checks the stop cut short.
						cells[t.i] = c
					}
					if firstErr == nil && runCtx.Err() == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					return
				}
				cells[t.i] = c
				counts[c.Outcome]++
				done++
				if err := saveCell(cfg, s, c); err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				if cfg.Progress != nil {
					cfg.Progress(Progress{Done: done, Total: total, Resumed: resumed, Last: c, Counts: counts,
						Remaining: max(cfg.Budget-time.Since(start), 0)})
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return cells, firstErr
	}
	if err := ctx.Err(); err != nil {
		return cells, err
	}
	return cells, nil
}

// prep is a subject's prepared executable, built once for all its cells.
type prep struct {
	once sync.Once
	exe  string
	err  error
}

// runOne prepares s (once) and runs one cell of it.
func runOne(ctx context.Context, cfg Config, s Subject, d Detector, budget time.Duration, mu *sync.Mutex, prepared map[int]*prep, si int) (Cell, error) {
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
			return Cell{Schema: CellSchema, Commit: cfg.Commit, Subject: s.Name, Detector: d, Seed: cfg.Seed,
				Outcome: NotViable, Why: p.err.Error()}, nil
		}
		if p.err != nil {
			return Cell{}, fmt.Errorf("mutants: build %s: %w", s.Name, p.err)
		}
		exe = p.exe
	}
	cr := cellRun{exe: exe, subject: s, det: d, seed: cfg.Seed, budget: budget, cases: cfg.Cases, adaptive: cfg.Adaptive,
		dir: filepath.Join(cfg.OutDir, "cells", slug(s.Name), slug(d.String())), grace: cfg.grace(budget)}
	if cfg.Replay != nil {
		cr.replay = func(trace string) string { return cfg.Replay(s, d, trace) }
	}
	c, err := cr.run(ctx)
	c.Commit = cfg.Commit
	return c, err
}

// cellPath is where a run saves a cell.
func cellPath(cfg Config, s Subject, d Detector) string {
	return filepath.Join(cfg.OutDir, "cells", slug(s.Name), fmt.Sprintf("%s-%d.json", slug(d.String()), cfg.Seed))
}

// loadCell reads the cell an earlier run saved, if it is of this commit
// and seed and finished; anything else (absent, corrupt, another commit)
// is run again.
// Resumable reports whether cells of commit are saved and resumed: only a
// clean, known commit's.
func Resumable(commit string) bool {
	return commit != "" && !strings.HasPrefix(commit, "unknown") && !strings.HasSuffix(commit, "+modified")
}

func loadCell(cfg Config, s Subject, d Detector) (Cell, bool) {
	if !Resumable(cfg.Commit) {
		return Cell{}, false
	}
	b, err := os.ReadFile(cellPath(cfg, s, d))
	if err != nil {
		return Cell{}, false
	}
	var c Cell
	if json.Unmarshal(b, &c) != nil || c.Schema != CellSchema || c.Commit != cfg.Commit || c.Seed != cfg.Seed ||
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
	path := cellPath(cfg, s, c.Detector)
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
