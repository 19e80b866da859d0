package machine

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// opClock bounds the ops of one Machine. Each op runs under its own context
// (an opCtx): its deadline is OpTimeout after the op starts, or the base
// context's, whichever is earlier; it is done when that deadline passes,
// when the base context is done, or when the op returns. If an op has not
// returned 3×OpTimeout after it started, the watchdog stops the process
// with every goroutine's stack. Before that, half an OpTimeout past the
// deadline, an op still running is stuck (it ignores its context): the
// stuck hook, if set, hears of it once, so the violation can be written
// down before the watchdog ends the process.
//
// That is what context.WithTimeout and a time.AfterFunc watchdog per op
// give, without making and stopping two runtime timers per op: one timer
// serves all of a Machine's ops. It is armed for the earliest event of the
// running op (its deadline, then the watchdog's limit), and an op that
// starts while it is armed for an earlier instant leaves it be: when it
// fires, it acts on the op running then, and re-arms for that op's next
// event if there is one. Ops take microseconds, so the timer fires about
// once per OpTimeout while ops run, and not at all when idle.
type opClock struct {
	base    context.Context
	values  context.Context // base without its cancellation, for Value
	timeout time.Duration
	checker string // for the watchdog's message

	mu       sync.Mutex
	cur      *opCtx      // the running op; nil between ops
	timer    *time.Timer // nil until the first op
	when     time.Time   // when the timer fires; zero if not armed
	stopBase func() bool // stops the base context's AfterFunc; nil if none
	// stuck, if set, is called (with mu held, so the op cannot end and its
	// Machine move on meanwhile) once for an op still running half an
	// OpTimeout past its own deadline, with the op's number and
	// description and how long it has run.
	stuck func(n int, what string, running time.Duration)
}

func newOpClock(base context.Context, timeout time.Duration, checker string) *opClock {
	c := &opClock{base: base, values: context.WithoutCancel(base), timeout: timeout, checker: checker}
	if base.Done() != nil {
		c.stopBase = context.AfterFunc(base, func() { c.cancelCur(base.Err()) })
	}
	return c
}

// start begins op n (described by what) and returns its context.
func (c *opClock) start(n int, what string) *opCtx {
	now := time.Now()
	o := &opCtx{clock: c, n: n, what: what, started: now, deadline: now.Add(c.timeout)}
	if d, ok := c.base.Deadline(); ok && d.Before(o.deadline) {
		// Like context.WithDeadline: the base's earlier deadline is the
		// op's, and the base reports it.
		o.deadline = d
	} else {
		o.expires = o.deadline
		o.stuckAt = o.expires.Add(c.timeout / 2)
	}
	c.mu.Lock()
	c.cur = o
	if err := c.base.Err(); err != nil {
		c.mu.Unlock()
		o.cancel(err)
		return o
	}
	c.armLocked(o, now)
	c.mu.Unlock()
	return o
}

// end ends op o: its context is canceled, as WithTimeout's cancel does.
func (c *opClock) end(o *opCtx) {
	c.mu.Lock()
	if c.cur == o {
		c.cur = nil
	}
	c.mu.Unlock()
	o.cancel(context.Canceled)
}

// close stops the timer and the watch on the base context.
func (c *opClock) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.when = time.Time{}
	}
	if c.stopBase != nil {
		c.stopBase()
		c.stopBase = nil
	}
}

// next is o's next event after now: its deadline, unless that passed or
// belongs to the base, then the moment it is stuck, then the watchdog's
// limit.
func (c *opClock) next(o *opCtx, now time.Time) time.Time {
	if !o.expires.IsZero() && now.Before(o.expires) {
		return o.expires
	}
	if !o.stuckAt.IsZero() && !o.stuckSeen && now.Before(o.stuckAt) {
		return o.stuckAt
	}
	return o.started.Add(3 * c.timeout)
}

// armLocked makes sure the timer fires no later than o's next event.
// c.mu must be held.
func (c *opClock) armLocked(o *opCtx, now time.Time) {
	at := c.next(o, now)
	if !c.when.IsZero() && !c.when.After(at) {
		return // armed for an earlier instant: fire re-arms
	}
	c.when = at
	if c.timer == nil {
		c.timer = time.AfterFunc(at.Sub(now), c.fire)
	} else {
		c.timer.Reset(at.Sub(now))
	}
}

// fire is the timer's function: it expires the running op if its deadline
// has passed, stops the process if its watchdog limit has, and re-arms.
func (c *opClock) fire() {
	now := time.Now()
	c.mu.Lock()
	c.when = time.Time{}
	o := c.cur
	if o == nil {
		c.mu.Unlock()
		return
	}
	if !now.Before(o.started.Add(3 * c.timeout)) {
		c.mu.Unlock()
		debug.SetTraceback("all")
		panic(fmt.Sprintf("machine: %s checker: op %d (%s) has not returned in %s: the engine hangs (stacks follow)",
			c.checker, o.n, o.what, 3*c.timeout))
	}
	expire := !o.expires.IsZero() && !now.Before(o.expires)
	stuck := !o.stuckAt.IsZero() && !o.stuckSeen && !now.Before(o.stuckAt)
	if stuck {
		o.stuckSeen = true
	}
	c.armLocked(o, now)
	if stuck && c.stuck != nil {
		c.stuck(o.n, o.what, now.Sub(o.started))
	}
	c.mu.Unlock()
	if expire {
		o.cancel(context.DeadlineExceeded)
	}
}

// cancelCur cancels the running op, if any, with err (the base is done).
func (c *opClock) cancelCur(err error) {
	c.mu.Lock()
	o := c.cur
	c.mu.Unlock()
	if o != nil {
		o.cancel(err)
	}
}

// closedChan is the Done channel of an op context canceled before anybody
// asked for it.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// opCtx is the context of one op (see opClock). It implements the
// AfterFunc method the context package looks for, so context.AfterFunc and
// contexts derived from it cost no goroutine.
type opCtx struct {
	clock     *opClock
	n         int
	what      string
	started   time.Time
	deadline  time.Time // what Deadline reports
	expires   time.Time // when the op's own deadline cancels it; zero if the base's comes first
	stuckAt   time.Time // when an op still running is stuck; zero with expires
	stuckSeen bool      // the stuck hook has heard of it; guarded by clock.mu

	mu     sync.Mutex
	done   chan struct{} // made on demand
	closed bool          // done is (or would be) closed: cancel has run its funcs
	err    error
	funcs  []*func() // registered by AfterFunc, not yet run or stopped
}

func (o *opCtx) Deadline() (time.Time, bool) { return o.deadline, true }

func (o *opCtx) Done() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done == nil {
		if o.closed {
			return closedChan
		}
		o.done = make(chan struct{}) // cancel closes it
	}
	return o.done
}

func (o *opCtx) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

func (o *opCtx) Value(key any) any { return o.clock.values.Value(key) }

func (o *opCtx) String() string {
	return fmt.Sprintf("machine.opCtx(op %d, deadline %v)", o.n, o.deadline)
}

// AfterFunc runs f once o is done (at once if it is), as context.AfterFunc
// does, and returns a function that stops that: it reports whether it did.
// Unlike context.AfterFunc it runs f in the goroutine that cancels o, as
// the context package expects of a parent's AfterFunc method.
func (o *opCtx) AfterFunc(f func()) (stop func() bool) {
	o.mu.Lock()
	if o.err != nil {
		o.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	p := &f
	o.funcs = append(o.funcs, p)
	o.mu.Unlock()
	return func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		for i, q := range o.funcs {
			if q == p {
				o.funcs = append(o.funcs[:i], o.funcs[i+1:]...)
				return true
			}
		}
		return false
	}
}

// cancel makes o done with err, unless it is already done, and runs the
// functions registered with AfterFunc — before it closes Done, so that
// whoever sees Done closed also sees every context derived from o done.
// (Closing first let an op return on Done with a derived context not yet
// canceled.)
func (o *opCtx) cancel(err error) {
	o.mu.Lock()
	if o.err != nil {
		o.mu.Unlock()
		return
	}
	o.err = err
	funcs := o.funcs
	o.funcs = nil
	o.mu.Unlock()
	for _, f := range funcs {
		(*f)()
	}
	o.mu.Lock()
	o.closed = true
	if o.done != nil {
		close(o.done)
	}
	o.mu.Unlock()
}
