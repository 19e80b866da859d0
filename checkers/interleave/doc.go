// Package interleave is the interleave checker: it runs concurrent
// scenarios over the real shardstore code under engine/conc's controlled
// scheduler (a binary built with -tags interleave), in the manner of
// Shuttle in the ShardStore paper: every goroutine, lock, condition,
// atomic access and timer of the engine is a scheduling point, one task
// runs at a time, and a strategy decides which.
//
// # Strategies
//
// Random picks uniformly among the runnable tasks. PCT (probabilistic
// concurrency testing) gives each task a random priority, runs the highest,
// and at depth-1 random steps drops the running task below all others: a
// bug that needs d orderings is found with a probability bounded below per
// execution. Replay plays a recorded schedule back and reports the step at
// which the code no longer follows it ("schedule diverged at step N: task
// X not runnable"), so a stale schedule is never taken for a pass.
//
// # Cases and harnesses
//
// A case is a function of its seed: the harness's keys and values, and the
// strategy's choices. Each case opens shardstore on a fresh in-memory
// device inside the controlled execution (so its background goroutines are
// tasks too), runs one harness, checks every answer and the final state
// against engine/model and the engine's CheckInvariants, and closes it.
// The harnesses: reclaim-compact (the paper's #14), background (client
// puts and gets against index flush, reclamation and superblock writes:
// #11, #16), list-delete (#13), backpressure (#12: many writers filling
// the dependency graph) and crash: a dirty reboot inside a concurrent
// execution, which the paper left unchecked. Writers put and Sync while
// index flush and reclamation run, and a crasher task cuts the device's
// power (disk.Mem.Cut) after a number of its own scheduling points, so the
// schedule decides what is in flight; every crash state the device can
// leave (or four torn samples) is then opened and checked: a key a
// returned Sync covered holds its value, any other key its one value or
// nothing, the invariants hold, and the last state takes, keeps and
// returns a new write. And close-busy: writers put while a closer task
// calls Close after a number of its own scheduling points, so the
// schedule decides which puts are in flight; Close must succeed and a
// reopen hold every put that returned nil (the close-ignores-calls-in-flight
// mutant: a bug enginetest's CloseWhileBusy found by timing, 2 runs in 300
// under -race, that PCT reaches at case 7). A wrong answer, a broken invariant, a panic, a
// deadlock, a task left running after Close or a livelock (the step bound)
// fails the case, and its replay string HARNESS:SEED:SCHEDULE (Replay)
// reproduces it exactly: harness check interleave --replay STRING.
//
// The tests (tags interleave, and interleave mutants) show the checker
// catching shardstore's concurrency mutants and replaying each from its
// schedule string; docs/TESTING.md has the rates and the depths. It also
// found a real bug: reclamation read the streams' open extents before the
// extent table, and reclaimed an extent a put had just opened
// (TestReclaimSkipsNewlyOpenExtent).
package interleave
