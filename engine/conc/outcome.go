package conc

import (
	"errors"
	"fmt"
	"strings"
)

// The controlled scheduler's API, the same in both builds so that its
// users (checkers/interleave) compile in either; only the interleave
// build's Run runs anything (sched.go), the default build's refuses
// (run_off.go).

// ErrNotControlled is Run's refusal in the default build.
var ErrNotControlled = errors.New("conc: controlled executions need a binary built with -tags interleave")

// Strategy picks the task that runs at each scheduling point where more
// than one task could (checkers/interleave has random, PCT and replay).
type Strategy interface {
	// Next returns one of p.Runnable. An error ends the execution (a
	// replay that diverged); the Outcome carries it.
	Next(p Point) (int, error)
}

// Point is a scheduling point with a choice: two or more runnable tasks.
type Point struct {
	// Step counts the scheduling points of the execution so far, choices
	// or not (PCT places its priority change points on steps).
	Step int
	// Choice counts the points with a choice before this one.
	Choice int
	// Current is the task that reached the point, or -1 when it blocked
	// or finished (it is then not in Runnable).
	Current int
	// Runnable are the tasks that may run, by id (creation order: the
	// main task is 0), ascending.
	Runnable []int
}

// Outcome is how a controlled execution ended.
type Outcome struct {
	// Steps is the number of scheduling points passed.
	Steps int
	// Choices are the tasks the strategy chose, one per point with a
	// choice: replaying them reproduces the execution.
	Choices []int
	// Tasks names every task, by id.
	Tasks []string
	// Deadlock, if set, lists every task alive when all were blocked
	// with no timer pending, with where each waited.
	Deadlock []Blocked
	// StepLimit says the execution passed the step bound and was ended.
	StepLimit bool
	// Panic, if set, is what a task panicked with; PanicTask and
	// PanicStack say which task and where.
	Panic      any
	PanicTask  string
	PanicStack string
	// Leaked are tasks still blocked when the main task had returned and
	// nothing could run: goroutines a clean shutdown left behind.
	Leaked []Blocked
	// Err is the strategy's error (a replay that diverged).
	Err error
	// Elapsed is the virtual time the execution's clock advanced.
	Elapsed Duration
}

// Blocked is a task waiting on a primitive.
type Blocked struct {
	Task int
	Name string
	// Op is the primitive, e.g. "Mutex.Lock"; Site the file:line of the
	// call outside package conc, and Func its function.
	Op, Site, Func string
}

func (b Blocked) String() string {
	return fmt.Sprintf("task %d %s in %s at %s (%s)", b.Task, b.Name, b.Op, b.Site, b.Func)
}

// Failed reports whether the execution ended in a deadlock, a panic, the
// step bound or a strategy error.
func (o Outcome) Failed() bool {
	return len(o.Deadlock) > 0 || o.Panic != nil || o.StepLimit || o.Err != nil
}

// Problem describes a failed execution in a few lines ("" if it did not
// fail).
func (o Outcome) Problem() string {
	switch {
	case o.Err != nil:
		return o.Err.Error()
	case o.Panic != nil:
		return fmt.Sprintf("task %s panicked: %v\n%s", o.PanicTask, o.Panic, o.PanicStack)
	case len(o.Deadlock) > 0:
		var b strings.Builder
		fmt.Fprintf(&b, "deadlock: all %d live tasks blocked, no timer pending:", len(o.Deadlock))
		for _, d := range o.Deadlock {
			b.WriteString("\n  " + d.String())
		}
		return b.String()
	case o.StepLimit:
		return fmt.Sprintf("step bound reached after %d scheduling points (a livelock, or a bound too small)", o.Steps)
	}
	return ""
}
