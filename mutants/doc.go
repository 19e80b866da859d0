// Package mutants measures whether gauntlet's checks catch bugs: it runs
// every selected checker against every selected mutant (a known bug put in
// an engine on purpose) and scores the checkers by the mutants they kill.
//
// A mutant is a Subject: a name, the engine spec that runs it (for a
// catalogued shardstore mutant, "shardstore:mutant=NAME", which reaches
// every worker, kill-mode child and replay command through the spec), the
// harness executable built with it, and the detectors its catalogue entry
// expects to catch it. A Detector is one way of running a checker: its
// name, its mode, and whether it injects faults ("crash/block",
// "conformance+faults").
//
// Run runs each (subject, detector) cell as a worker process of that
// executable — `harness check <checker> --engine <spec> --seed S --budget
// B` — and reads the Result the worker writes. A cell's Outcome is:
//
//   - killed: the checker reported a violation, or the engine panicked
//     under it (the worker, or its kill-mode child, died of a Go panic or
//     fatal error: a crash fails any job the check runs in; Why says
//     "crashed: " and the panic);
//     a worker stopped at its budget while minimizing a violation it found
//     (a hang costs an op timeout per shrink step) is killed too, with the
//     unminimized trace it wrote when it found it;
//   - survived: it passed its whole budget;
//   - timed-out: the worker ran past its budget and grace without having
//     found anything (scored apart);
//   - unknown: the checker could not decide (the engine failed in a way it
//     does not judge, the worker died other than by a panic);
//   - not-viable, not-covered: an AST mutant that does not compile, or
//     whose line no checker executes (never run);
//   - waits: a concurrency mutant no sequential checker can see, left for
//     the interleave checker.
//
// The score of a detector is killed / (killed + survived) over the
// mutants it ran; the combined score counts a mutant killed if any
// detector killed it. Every other outcome is counted apart and never in
// the denominator, so a score says exactly what it measured.
//
// Two rows keep a score honest. The baseline (no mutant) must pass every
// detector: a detector that fails on the correct engine kills nothing.
// The canary, a bug every checker must catch within its first few cases, must be
// killed by every detector: a runner that cannot fail cannot report a
// perfect score. Report.Trust says whether both held.
//
// A run is resumable: each finished cell is written to
// <out>/cells/<subject>/<detector>-<seed>.json with the commit it ran, and
// a later run with the same commit and seed reuses it. The whole run has a
// budget, shared out as it goes: each cell starts with the remaining time
// spread over the remaining cells and the parallel jobs, so the time a
// quickly killed mutant leaves goes to the cells after it. With
// Config.Rounds (harness mutants, mutants ast) the cells the score depends
// on run first (the baseline's, the canary's, each mutant's expected
// detectors; every detector of a mutant that expects none); a quarter of
// the budget, and what quick kills return, then go to the survivors: the
// expected cells of the mutants no detector killed run again on the next
// seeds (RoundSeed) until a run kills them or the budget is spent; the
// other cells run last, on what is left, at least cellBudgetLow each, and
// those it has no cellBudgetLow for are NotRun (counted apart). A cell then reports its killing run, how many runs
// it took (Runs) and the cases and seconds of them all (Cell.Effort).
package mutants
