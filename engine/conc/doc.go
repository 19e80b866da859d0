// Package conc holds every concurrency primitive the shardstore engine uses:
// goroutines (Go), locks (Mutex, RWMutex), condition variables (Cond),
// WaitGroup, Once, atomics (Int32, Int64, Uint32, Uint64, Bool, Pointer),
// a channel type (Chan), context cancellation hooks (AfterFunc), Yield and a Clock
// (Now, Sleep, After, AfterFunc timers, tickers).
//
// # Why a package of aliases
//
// The paper's checks run the engine under a controlled scheduler (Loom,
// Shuttle) that decides which thread runs at every synchronisation point, so a
// failing interleaving can be found, minimised and replayed from a string.
// That only works if no blocking point escapes the scheduler. The rule is
// therefore simple: code under engine/shardstore imports neither "sync",
// "sync/atomic" nor "time", and contains no bare go statement; a test in
// engine/shardstore enforces it by parsing every file.
//
// In the default build every name here is a type alias or a one-line wrapper
// of package sync, sync/atomic, time or context, so production code pays
// nothing; the additions are that Mutex and RWMutex retry a held lock for
// up to SpinMax before they park, and that an unlock that leaves a
// goroutine parked yields the processor to it (spin.go says why: on a
// small machine a parked goroutine waits far longer to run again than the
// engine's locks are held).
//
// # The interleave build
//
// Built with -tags interleave, the same names route through a controlled
// scheduler (sched.go, prim.go, vclock.go): Run(strategy, steps, fn) runs
// fn as the main task of an execution in which every task (a goroutine
// started with Go, a timer's or AfterFunc's callback) is a real goroutine
// handed a baton, so exactly one runs at a time; every primitive (lock,
// condition, WaitGroup, Once, atomic access, Chan operation, Go, Yield)
// is a scheduling point where the Strategy picks the next task among the
// runnable ones, and the Outcome records each choice, so that replaying
// the choices reproduces the execution. Blocking marks a task blocked on
// the primitive's state; when no task can run, the scheduler polls the
// contexts of AfterFunc and RecvContext, then fires the earliest timer of
// the virtual clock (DefaultClock inside an execution, reading a fixed
// epoch and moving only then), and if there is none it is a deadlock,
// reported with every task's name, primitive and file:line. A step bound
// ends livelocks; a panic in any task ends the execution; tasks alive at
// the end are unwound with runtime.Goexit. Outside an execution (package
// init, tests not under Run) the primitives are package sync's. The
// strategies (random, PCT, replay) and the harnesses over shardstore are
// in checkers/interleave. The default build's Run refuses
// (ErrNotControlled) and Controlled is false, so the checker compiles in
// both and the harness re-runs itself in a tagged binary.
//
// The API is shaped for the scheduler:
//
//   - every blocking operation is a method or function of this package
//     (Mutex.Lock, Cond.Wait, WaitGroup.Wait, Chan.Send/Recv, Clock.Sleep);
//   - goroutines are started with Go, which takes a name for traces;
//   - there is no select: code waits on a Cond, and timers and context
//     cancellation are delivered as callbacks (Clock.AfterFunc, AfterFunc)
//     that signal it, which a scheduler can run as ordinary tasks;
//   - time is read only from a Clock passed in, never from package time.
//
// Atomics go through this package too (a deliberate choice, stricter than
// allowing sync/atomic): a scheduler that treats atomic accesses as yield
// points, as Loom does, can then explore races between them.
//
// Use zero values (var mu conc.Mutex) and NewCond, exactly as with sync.
package conc
