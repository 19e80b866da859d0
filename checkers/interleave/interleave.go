package interleave

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// Name is the checker's name in the harness's checker table.
const Name = "interleave"

// Defaults.
const (
	// StepsDefault bounds a case's scheduling points: far above what the
	// harnesses take (a few ten thousand), so reaching it is a livelock.
	StepsDefault = 2_000_000
	// DepthDefault is PCT's depth: the bugs of the catalogue need 1 to 3
	// ordering constraints (docs/TESTING.md has the depth that found each).
	DepthDefault = 3
	// pctSteps is PCT's estimate of a case's length, over which it spreads
	// its change points: the harnesses take 2,000 to 15,000 steps.
	pctSteps = 8_000
)

// Config is one run of the checker.
type Config struct {
	Target target.Target
	Seed   uint64
	Cases  int
	Budget time.Duration
	// Harness names one harness; "" cycles through all, one per case.
	Harness string
	// Strategy is "random" or "pct" (default).
	Strategy string
	Depth    int
	Steps    int
	// Replay renders the command that replays a replay string.
	Replay func(replay string) string
	Live   *checkers.Live
	Found  func(checkers.Violation)
}

// ErrUsage marks a bad setting of the checker: the CLI exits 2.
var ErrUsage = checkers.ErrBadTrace

// Validate checks c's settings, naming the bad one and the fix.
func (c *Config) validate() error {
	if !conc.Controlled {
		return conc.ErrNotControlled
	}
	if c.Harness != "" {
		if _, ok := lookup(c.Harness); !ok {
			return fmt.Errorf("--harness %s: no such harness (want one of %s): %w", c.Harness, harnessNames(), ErrUsage)
		}
	}
	switch c.Strategy {
	case "":
		c.Strategy = "pct"
	case "pct", "random":
	default:
		return fmt.Errorf("--strategy %s: want random or pct: %w", c.Strategy, ErrUsage)
	}
	if c.Depth == 0 {
		c.Depth = DepthDefault
	}
	if c.Depth < 1 {
		return fmt.Errorf("--depth %d: want PCT's depth, 1 or more: %w", c.Depth, ErrUsage)
	}
	if c.Steps <= 0 {
		c.Steps = StepsDefault
	}
	if c.Target.OpenDevice == nil {
		return fmt.Errorf("engine %s opens on a directory: the interleave checker runs an engine on an in-memory device (shardstore), whose every goroutine, lock and timer goes through engine/conc: %w", c.Target.Name, ErrUsage)
	}
	return nil
}

// caseSeed is the seed of case i of a run: its ops and its schedule.
func caseSeed(seed uint64, i int) uint64 { return seed*1_000_003 + uint64(i) }

// Run runs cases until c.Cases or c.Budget, each a harness under a fresh
// schedule, and stops at the first violation.
func Run(ctx context.Context, c Config) (checkers.Result, error) {
	if err := c.validate(); err != nil {
		return checkers.Result{}, err
	}
	res := checkers.Result{Checker: Name, Engine: c.Target.Name, Seed: c.Seed}
	start := time.Now()
	for i := 0; c.Cases <= 0 || i < c.Cases; i++ {
		if c.Budget > 0 && time.Since(start) >= c.Budget || ctx.Err() != nil {
			break
		}
		h := harnesses[i%len(harnesses)]
		if c.Harness != "" {
			h, _ = lookup(c.Harness)
		}
		seed := caseSeed(c.Seed, i)
		var strat conc.Strategy = NewPCT(seed, c.Depth, pctSteps)
		if c.Strategy == "random" {
			strat = NewRandom(seed)
		}
		cr := runCase(c.Target, h, seed, strat, c.Steps)
		res.Cases++
		res.Ops += int64(cr.ops)
		if c.Live != nil {
			c.Live.Add(1, int64(cr.ops))
		}
		if cr.problem != "" {
			res.Detected = time.Since(start)
			v := c.violation(cr, Replay{Harness: h.name, Seed: seed, Schedule: cr.out.Choices})
			if c.Found != nil {
				c.Found(v)
			}
			res.Violations = append(res.Violations, v)
			break
		}
	}
	res.Elapsed = time.Since(start)
	res.Verdict = checkers.Pass
	if len(res.Violations) > 0 {
		res.Verdict = checkers.Fail
	} else if ctx.Err() != nil {
		res.Verdict, res.Reason = checkers.Interrupted, context.Cause(ctx).Error()
	}
	return res, nil
}

// ReplayString runs the case of a replay string under its schedule.
func ReplayString(c Config, s string) (checkers.Result, error) {
	r, err := ParseReplay(s)
	if err != nil {
		return checkers.Result{}, fmt.Errorf("%w: %w", err, ErrUsage)
	}
	c.Harness = r.Harness
	if err := c.validate(); err != nil {
		return checkers.Result{}, err
	}
	h, _ := lookup(r.Harness)
	start := time.Now()
	cr := runCase(c.Target, h, r.Seed, NewReplay(r.Schedule), c.Steps)
	res := checkers.Result{Checker: Name, Engine: c.Target.Name, Seed: r.Seed, Cases: 1, Ops: int64(cr.ops), Elapsed: time.Since(start), Verdict: checkers.Pass}
	if cr.problem != "" {
		res.Verdict, res.Detected = checkers.Fail, res.Elapsed
		res.Violations = append(res.Violations, c.violation(cr, r))
	}
	if cr.out.Err != nil {
		// A schedule that diverged reproduces nothing: not a pass.
		res.Verdict, res.Reason = checkers.Unknown, cr.out.Err.Error()
		res.Violations = nil
	}
	return res, nil
}

func (c Config) violation(cr caseResult, r Replay) checkers.Violation {
	v := checkers.Violation{
		Summary: fmt.Sprintf("harness %s, %d scheduling points, %d choices: %s", r.Harness, cr.out.Steps, len(cr.out.Choices), firstLine(cr.problem)),
		Ops:     problemLines(cr.problem),
		Actual:  cr.problem,
		// A schedule is replayed as it ran; shrinking it is future work.
		NotMinimized: "a schedule is replayed as it ran, not shrunk",
	}
	if c.Replay != nil {
		v.Replay = c.Replay("'" + r.String() + "'") // the schedule holds * and ( )
	} else {
		v.Replay = r.String()
	}
	return v
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

type caseResult struct {
	out     conc.Outcome
	problem string // "" if the case held
	ops     int
}

// runCase runs harness h on a fresh engine under strategy: the engine's
// open, the harness, its checks and the close all inside one controlled
// execution, so that every goroutine of the engine is a task.
func runCase(tg target.Target, h harness, seed uint64, strategy conc.Strategy, steps int) caseResult {
	return runCaseEnv(tg, h, seed, strategy, steps, nil)
}

// runCaseEnv is runCase that hands the case's env to seen (for tests).
func runCaseEnv(tg target.Target, h harness, seed uint64, strategy conc.Strategy, steps int, seen func(*env)) caseResult {
	var herr error
	v := &env{rng: rand.New(rand.NewPCG(seed, 0x68)), m: model.New()}
	if seen != nil {
		seen(v)
	}
	out := conc.Run(strategy, steps, func() {
		in, err := tg.Start("", false)
		if err != nil {
			herr = fmt.Errorf("open: %w", err)
			return
		}
		v.e, v.in = in.Engine, in
		herr = h.run(v)
		if err := in.Close(); err != nil {
			herr = errors.Join(herr, fmt.Errorf("close: %w", err))
		}
	})
	cr := caseResult{out: out, ops: v.ops}
	switch {
	case out.Failed():
		cr.problem = out.Problem()
	case herr != nil:
		cr.problem = herr.Error()
	case len(out.Leaked) > 0:
		var b strings.Builder
		b.WriteString("tasks left running after Close:")
		for _, l := range out.Leaked {
			b.WriteString("\n  " + l.String())
		}
		cr.problem = b.String()
	}
	return cr
}

// problemLines are the lines of a problem a summary shows: all of a
// deadlock's (one per task), the first of a panic's (its stack is in
// Actual).
func problemLines(p string) []string {
	lines := strings.Split(p, "\n")
	if strings.HasPrefix(p, "deadlock") || strings.HasPrefix(p, "tasks left") {
		return lines
	}
	return lines[:1]
}
