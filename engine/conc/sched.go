//go:build interleave

package conc

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Controlled says this build routes every primitive through the scheduler
// (Run); it is false in the default build, whose Run refuses.
const Controlled = true

// Task states.
const (
	runnable = iota
	blocked
	done
)

type task struct {
	id    int
	name  string
	fn    func()
	wake  chan struct{}
	state int
	// While blocked: on what (a primitive's state), since when (FIFO
	// order for Cond.Signal), the op, the call stack, and a context that
	// ends the wait.
	on   any
	seq  uint64
	op   string
	pcs  [8]uintptr
	npc  int
	ctx  context.Context
	ctxd bool // woken because ctx ended
}

type vtimer struct {
	when    Duration
	seq     uint64
	f       func()
	sleeper *task
	period  Duration
	stopped bool
}

type ctxWatch struct {
	ctx     context.Context
	f       func()
	stopped bool
}

type sched struct {
	strategy  Strategy
	maxSteps  int
	tasks     []*task
	cur       *task
	steps     int
	blockSeq  uint64
	timerSeq  uint64
	now       Duration
	timers    []*vtimer
	watches   []*ctxWatch
	out       Outcome
	finishing bool
	coord     *task
	done      chan struct{}
	exited    chan struct{}
	runnable  []int
}

var (
	// active is the scheduler of the controlled execution under way, nil
	// outside one: every primitive then behaves as in package sync.
	active atomic.Pointer[sched]
	// runMu makes controlled executions one at a time per process.
	runMu sync.Mutex
)

// epoch is what the virtual clock reads at the start of every execution.
var epoch = time.Unix(1_000_000_000, 0)

// Active reports whether the caller runs inside a controlled execution.
func Active() bool { return active.Load() != nil }

// Run runs fn as the main task of a controlled execution: fn and every
// task it starts with Go (and every timer and AfterFunc callback) run one
// at a time, switching only at this package's primitives, where strategy
// picks among the runnable tasks. The execution ends when no task can
// run and the main task has returned (tasks still blocked are Leaked),
// when all live tasks are blocked with no timer pending (Deadlock), after
// maxSteps scheduling points (StepLimit), when a task panics, or when the
// strategy returns an error. Tasks still alive at the end are unwound
// with runtime.Goexit. Executions are one at a time per process; code
// outside them, and other goroutines, must not use conc primitives while
// one runs.
func Run(strategy Strategy, maxSteps int, fn func()) Outcome {
	runMu.Lock()
	defer runMu.Unlock()
	s := &sched{strategy: strategy, maxSteps: maxSteps, done: make(chan struct{}), exited: make(chan struct{})}
	main := s.spawn("main", fn)
	active.Store(s)
	s.cur = main
	main.wake <- struct{}{}
	<-s.done
	active.Store(nil)
	s.out.Steps = s.steps
	s.out.Elapsed = s.now
	for _, t := range s.tasks {
		s.out.Tasks = append(s.out.Tasks, t.name)
	}
	return s.out
}

// spawn makes a runnable task whose goroutine waits for the baton.
func (s *sched) spawn(name string, fn func()) *task {
	t := &task{id: len(s.tasks), name: name, fn: fn, wake: make(chan struct{}, 1)}
	s.tasks = append(s.tasks, t)
	go s.body(t)
	return t
}

func (s *sched) body(t *task) {
	<-t.wake
	if s.finishing { // aborted before it ever ran
		t.state = done
		s.exited <- struct{}{}
		return
	}
	defer s.exit(t)
	t.fn()
}

// exit runs when a task's function returns, panics or is unwound.
func (s *sched) exit(t *task) {
	r := recover()
	t.state = done
	if s.finishing {
		if s.coord == t {
			close(s.done)
		} else {
			s.exited <- struct{}{}
		}
		return
	}
	if r != nil {
		s.out.Panic, s.out.PanicTask = r, fmt.Sprintf("%d %s", t.id, t.name)
		buf := make([]byte, 16<<10)
		s.out.PanicStack = string(buf[:runtime.Stack(buf, false)])
		s.finish(t)
		close(s.done)
		return
	}
	if !s.reschedule(t) {
		close(s.done) // t ended the execution
	}
}

// finish ends the execution: it unwinds every other live task, one at a
// time, and leaves t (the caller, the coordinator) to return or unwind.
func (s *sched) finish(t *task) {
	s.finishing, s.coord = true, t
	for _, o := range s.tasks {
		if o == t || o.state == done {
			continue
		}
		s.cur = o
		o.wake <- struct{}{}
		<-s.exited
	}
	s.cur = t
}

// point is a scheduling point of the running task.
func (s *sched) point() {
	if s.finishing {
		return
	}
	s.steps++
	if s.maxSteps > 0 && s.steps > s.maxSteps {
		s.out.StepLimit = true
		s.finish(s.cur)
		runtime.Goexit()
	}
	s.reschedule(s.cur)
}

// block parks the running task until another wakes it (wake, wakeAll),
// until ctx ends if ctx is not nil, or until a timer fires for it.
func (s *sched) block(on any, op string, ctx context.Context) {
	t := s.cur
	if s.finishing {
		runtime.Goexit() // nothing will wake it: unwind
	}
	s.blockSeq++
	t.state, t.on, t.seq, t.op, t.ctx, t.ctxd = blocked, on, s.blockSeq, op, ctx, false
	t.npc = runtime.Callers(3, t.pcs[:])
	s.reschedule(t)
}

// wakeAll makes every task blocked on on runnable.
func (s *sched) wakeAll(on any) {
	for _, t := range s.tasks {
		if t.state == blocked && t.on == on {
			t.state, t.on = runnable, nil
		}
	}
}

// wakeOne makes the task blocked longest on on runnable.
func (s *sched) wakeOne(on any) {
	var first *task
	for _, t := range s.tasks {
		if t.state == blocked && t.on == on && (first == nil || t.seq < first.seq) {
			first = t
		}
	}
	if first != nil {
		first.state, first.on = runnable, nil
	}
}

// reschedule picks the next task and hands it the baton; t is the task
// that called (runnable at a point, blocked, or done). It returns once t
// runs again (at once if it is chosen), or false if t finished and the
// execution ended, t coordinating.
func (s *sched) reschedule(t *task) bool {
	for {
		s.runnable = s.runnable[:0]
		for _, o := range s.tasks {
			if o.state == runnable {
				s.runnable = append(s.runnable, o.id)
			}
		}
		if len(s.runnable) > 0 {
			break
		}
		if s.pollContexts() || (s.tasks[0].state != done && s.fireTimer()) {
			continue
		}
		// Nothing can run.
		var live []Blocked
		for _, o := range s.tasks {
			if o.state == blocked {
				live = append(live, o.blocked())
			}
		}
		if s.tasks[0].state == done {
			s.out.Leaked = live
		} else {
			s.out.Deadlock = live
		}
		s.finish(t)
		if t.state == done {
			return false
		}
		runtime.Goexit()
	}
	next := s.runnable[0]
	if len(s.runnable) > 1 {
		cur := -1
		if t.state == runnable {
			cur = t.id
		}
		p := Point{Step: s.steps, Choice: len(s.out.Choices), Current: cur, Runnable: s.runnable}
		n, err := s.strategy.Next(p)
		if err == nil && !slices.Contains(s.runnable, n) {
			err = fmt.Errorf("conc: strategy chose task %d, not runnable (runnable: %v)", n, s.runnable)
		}
		if err != nil {
			s.out.Err = err
			s.finish(t)
			if t.state == done {
				return false
			}
			runtime.Goexit()
		}
		next = n
		s.out.Choices = append(s.out.Choices, n)
	}
	if next == t.id {
		return true
	}
	nt := s.tasks[next]
	s.cur = nt
	// Nothing of the scheduler may be read once the baton is handed on.
	finished := t.state == done
	nt.wake <- struct{}{}
	if finished {
		return true
	}
	<-t.wake
	if s.finishing {
		runtime.Goexit()
	}
	return true
}

// pollContexts starts the AfterFunc callbacks of contexts that ended and
// wakes tasks whose wait's context ended. It reports whether it did.
func (s *sched) pollContexts() bool {
	any := false
	for i := 0; i < len(s.watches); i++ {
		w := s.watches[i]
		if w.stopped || w.ctx.Err() == nil {
			continue
		}
		s.watches = slices.Delete(s.watches, i, i+1)
		i--
		w.stopped = true
		s.spawn("conc.AfterFunc", w.f)
		any = true
	}
	for _, t := range s.tasks {
		if t.state == blocked && t.ctx != nil && t.ctx.Err() != nil {
			t.state, t.on, t.ctxd = runnable, nil, true
			any = true
		}
	}
	return any
}

// fireTimer advances the virtual clock to the earliest pending timer and
// fires it. It reports whether there was one.
func (s *sched) fireTimer() bool {
	var first *vtimer
	for _, tm := range s.timers {
		if first == nil || tm.when < first.when || (tm.when == first.when && tm.seq < first.seq) {
			first = tm
		}
	}
	if first == nil {
		return false
	}
	if first.when > s.now {
		s.now = first.when
	}
	if first.period > 0 {
		first.when += first.period
	} else {
		s.removeTimer(first)
		first.stopped = true
	}
	if first.sleeper != nil {
		first.sleeper.state, first.sleeper.on = runnable, nil
	} else {
		s.spawn("conc.timer", first.f)
	}
	return true
}

func (s *sched) addTimer(d Duration, period Duration, f func(), sleeper *task) *vtimer {
	s.timerSeq++
	tm := &vtimer{when: s.now + max(d, 0), seq: s.timerSeq, f: f, sleeper: sleeper, period: period}
	s.timers = append(s.timers, tm)
	return tm
}

func (s *sched) removeTimer(tm *vtimer) bool {
	if i := slices.Index(s.timers, tm); i >= 0 {
		s.timers = slices.Delete(s.timers, i, i+1)
		return true
	}
	return false
}

// blocked describes a blocked task: the first frame outside package conc.
func (t *task) blocked() Blocked {
	b := Blocked{Task: t.id, Name: t.name, Op: t.op, Site: "?"}
	frames := runtime.CallersFrames(t.pcs[:t.npc])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, concPkg+".") || strings.HasSuffix(f.File, "_test.go") {
			b.Site, b.Func = fmt.Sprintf("%s:%d", shortFile(f.File), f.Line), f.Function
			break
		}
		if !more {
			break
		}
	}
	return b
}

const concPkg = "github.com/gauntlet-kv/gauntlet/engine/conc"

// shortFile keeps the last two elements of a path: "shardstore/index.go".
func shortFile(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i > 0 {
		if j := strings.LastIndexByte(p[:i], '/'); j >= 0 {
			return p[j+1:]
		}
	}
	return p
}

// cur returns the running scheduler, nil outside a controlled execution.
func cur() *sched { return active.Load() }

// Go runs fn as a new task (a goroutine outside a controlled execution).
// name labels it in schedules and deadlock reports.
func Go(name string, fn func()) {
	s := cur()
	if s == nil {
		go fn()
		return
	}
	if s.finishing {
		return // the execution is being unwound: nothing runs any more
	}
	s.spawn(name, fn)
	s.point()
}

// Yield is a scheduling point (runtime.Gosched outside a controlled
// execution).
func Yield() {
	if s := cur(); s != nil {
		s.point()
		return
	}
	runtime.Gosched()
}

// AfterFunc arranges for f to run in its own task after ctx is done, and
// returns a function that cancels that (context.AfterFunc). Inside a
// controlled execution a context's end is noticed when no task can run
// (the scheduler polls it before it declares a deadlock): contexts ended
// by real time are out of the scheduler's hands, so the harnesses cancel
// theirs explicitly.
func AfterFunc(ctx context.Context, f func()) (stop func() bool) {
	s := cur()
	if s == nil {
		return context.AfterFunc(ctx, f)
	}
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	w := &ctxWatch{ctx: ctx, f: f}
	if ctx.Err() != nil {
		w.stopped = true
		s.spawn("conc.AfterFunc", f)
		s.point()
		return func() bool { return false }
	}
	s.watches = append(s.watches, w)
	return func() bool {
		if w.stopped {
			return false
		}
		w.stopped = true
		if i := slices.Index(s.watches, w); i >= 0 {
			s.watches = slices.Delete(s.watches, i, i+1)
		}
		return true
	}
}
