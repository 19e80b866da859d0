// Package iosched is shardstore's IO scheduler: the only code that writes
// to the device.
//
// Writers hand it Writes: a frame's bytes at an offset of an extent, and the
// dependency-graph node of that write. The scheduler
//
//   - issues a write only once every node it depends on is durable, and the
//     appends of one extent strictly in offset order (a write whose
//     dependencies are not yet durable holds back the later appends of its
//     extent; appends to other extents go on);
//   - with the coalesce policy merges adjacent appends to the same extent
//     into one region, written as device writes of up to IOBytesMax bytes
//     cut at sector boundaries, up to IODepth of them in flight at once
//     (the elevator policy merges alike and orders a round's regions by
//     device address, one sweep per round);
//   - issues many writes, then covers all of them with one device Flush
//     (group commit), and before that Flush writes the superblock when it is
//     dirty, so one Flush both makes new data durable and persists the write
//     pointers of data made durable by the previous one;
//   - orders foreground writes before background ones within a round;
//   - keeps metrics: queue depth, IO sizes, merges, flushes, superblock
//     writes, time writes waited on their dependencies.
//
// # Rounds
//
// One goroutine runs rounds. A round takes every ready write (up to
// RoundBytesMax), issues them, and then flushes if a flush is due: someone
// is waiting for durability (dep.Graph.Waiters, or a write pointer a waiter
// needs), FlushBytes are unflushed, FlushInterval has passed since the
// oldest unflushed write or metadata change (the cadence), or Sync asked.
// While the device is busy with one round, new writes queue up and the next
// round takes them all: under load, rounds grow and flushes per write fall.
//
// # Sector alignment
//
// Frames are packed without gaps, but every device write covers whole
// sectors (direct IO requires it). A write therefore starts at the sector
// that holds its first byte, rewriting the bytes of that sector already
// written by earlier appends (the scheduler keeps them: the tail), and is
// padded with zeros to the end of its last sector. Since a crash never tears
// a sector, rewriting a sector with the same prefix never loses durable
// bytes.
//
// With Options.AlignBytes larger than a sector (shardstore sets it to the
// buffer cache's page size), a write starts at the page that holds its
// first byte instead, so that every page below its last byte is written
// whole by one device write: those pages are complete, and Options.Written
// can hand them to the cache as they go to the device (write-through).
//
// # Back-pressure
//
// Reserve blocks while more than QueueBytesMax bytes are queued and not yet
// issued. Writers reserve before they allocate an offset, so that a
// cancelled reservation never leaves a hole in an extent.
//
// # Concurrency
//
// A Scheduler is safe for concurrent use.
//
// # Layout
//
// The files follow a write through the scheduler: options.go, admission.go
// (Reserve, Expect), queue.go (Write, Enqueue, the per-extent queues),
// round.go (the goroutine: when a round is due, what holds it back),
// plan.go (what a round issues) with policy.go and one file per policy
// (fifo.go, coalesce.go, elevator.go), region.go (sector-aligned regions and their
// tails), issue.go (writing a round's regions and publishing them),
// backend.go (the device writes: inline, on workers or as a
// disk.BatchWriter batch), flush.go (device flushes, Flush), read.go
// (reads of bytes not yet on the device) and metrics.go.
package iosched

import (
	"fmt"
	"github.com/gauntlet-kv/gauntlet/engine"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// Metadata is the superblock as the scheduler sees it.
type Metadata interface {
	// Want reports whether a metadata write would change the persisted
	// state (dirty), and whether a waiter needs it now (urgent).
	Want() (dirty, urgent bool)
	// Prepare returns the metadata write to include in the coming flush:
	// bytes (sector aligned, for direct IO) and device offset. ok is false
	// if nothing changed.
	Prepare() (p []byte, off int64, token any, ok bool)
	// DataIssued reports that extent e at generation gen has the frames
	// issued, contiguous from start: the next device flush makes them
	// durable. The scheduler
	// reports a round's writes before it prepares the round's slot, so a
	// slot may record write pointers over data the same flush makes
	// durable (recovery verifies such data: see package superblock).
	DataIssued(e extent.ID, gen uint32, start int64, frames [][]byte)
	// Persisted reports that the write of token is durable.
	Persisted(token any)
	// Confirm is called when the scheduler closes with everything flushed:
	// true asks for one more flush round, with a slot (Prepare must return
	// one).
	Confirm() bool
}

// Scheduler issues writes to a device.
type Scheduler struct {
	opts   Options
	policy policy // opts.Policy's implementation
	// planEvent is the observer's name of a round opts.Policy planned.
	planEvent engine.Event
	dev       disk.Device
	geo       extent.Geometry
	g         *dep.Graph
	meta      Metadata

	// plan is the round being planned (see take), kept for its arrays.
	plan plan

	mu     conc.Mutex
	cond   *conc.Cond // wakes the worker and blocked Reserves
	queues []*extQueue
	active []*extQueue
	// queued counts the bytes reserved or queued, not yet issued. It is
	// an atomic so that Reserve's common case (room) takes no lock: it
	// changes by CompareAndSwap there and under mu elsewhere. stopped is
	// closing || err != nil, for the same check.
	queued    conc.Int64
	stopped   conc.Bool
	seq       uint64
	unflushed []*Write
	// spare is the unflushed list of the flush before last, emptied, for
	// the next: rebuilt from nil, tens of thousands of small writes between
	// flushes cost a dozen copies of it under mu per flush.
	spare      []*Write
	unflBytes  int64
	unflSince  conc.Time
	haveUnfl   bool
	cadenceDue bool
	timerArmed bool
	// expecting counts Expect calls not yet done; a round only for the
	// graph's waiters waits for them until expectUntil (see Expect).
	expecting   int
	expectUntil conc.Time
	expectTimer bool
	reserving   int // Reserve calls waiting for queue room
	// holding: the worker holds back the queued writes (see holdLarge), so an
	// Enqueue need not wake it unless it brings the queue to an IO's worth.
	holding bool
	// lastFrame is the size of the newest write queued: only a stream of
	// large writes is held back (see holdFrameMin).
	lastFrame int
	evals     uint64 // times look looked at the queues (for tests)
	// syncTarget is the count of completed flushes Flush callers wait for:
	// a flush is due while syncDone < syncTarget. (A count of waiting
	// callers instead kept the worker running empty flush rounds, each
	// preparing a superblock slot, until the woken caller got the lock to
	// leave — about a millisecond of spinning per Flush.)
	syncTarget uint64
	syncDone   uint64 // flushes completed
	flushing   bool   // a round that ends in a flush is under way: set when next takes it
	// blockedHeads: some queue's head waits on a dependency, which only
	// flushes (and superblock writes) can complete.
	blockedHeads bool
	closing      bool
	done         bool
	err          error
	stats        Stats
	iobuf        []byte
	pieces       conc.Chan[*piece] // device writes for the workers
	batch        disk.BatchWriter  // dev, if it is one: no workers then
	// tagged says dev records each write's disk.IOTag (an IO trace): only
	// then does Enqueue read the clock for it.
	tagged bool
	// issuedAt mirrors each queue's gen<<32 | issued, for Issued without
	// the lock (extents are at most 2 GiB, so issued fits in 32 bits).
	issuedAt []conc.Uint64
	wg       conc.WaitGroup
}

// New starts a scheduler for dev. Writes' nodes belong to g; meta is the
// superblock. Close stops it.
func New(dev disk.Device, geo extent.Geometry, g *dep.Graph, meta Metadata, opts Options) (*Scheduler, error) {
	s, err := newScheduler(dev, geo, g, meta, opts)
	if err != nil {
		return nil, err
	}
	g.SetWaitHook(s.Kick)
	s.startWorkers()
	s.wg.Add(1)
	conc.Go("iosched", func() {
		defer s.wg.Done()
		s.run()
	})
	return s, nil
}

// newScheduler returns a scheduler with no goroutines: New starts them,
// and the planner tests drive its rounds one step at a time instead.
func newScheduler(dev disk.Device, geo extent.Geometry, g *dep.Graph, meta Metadata, opts Options) (*Scheduler, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.AlignBytes == 0 {
		opts.AlignBytes = geo.SectorSize
	}
	if opts.AlignBytes%geo.SectorSize != 0 {
		return nil, fmt.Errorf("iosched: align bytes %d is not a multiple of the sector size %d", opts.AlignBytes, geo.SectorSize)
	}
	s := &Scheduler{opts: opts, policy: opts.Policy.impl(), dev: dev, geo: geo, g: g, meta: meta,
		queues: make([]*extQueue, geo.Count), issuedAt: make([]conc.Uint64, geo.Count)}
	s.cond = conc.NewCond(&s.mu)
	s.planEvent = engine.SchedulerEvent(string(opts.Policy))
	s.batch, _ = dev.(disk.BatchWriter)
	_, s.tagged = dev.(disk.TaggedWriter)
	s.plan.readyFn = func(q *extQueue) int { return s.readyHead(q, s.plan.now) }
	return s, nil
}

// Kick wakes the scheduler to re-evaluate: a waiter appeared, or metadata
// changed.
func (s *Scheduler) Kick() {
	s.mu.Lock()
	s.cond.Broadcast()
	s.mu.Unlock()
}

// Close drains the queue (every write whose dependencies can become
// durable is written and flushed, with the superblock) and stops the
// scheduler. It returns the device error that stopped it, if any.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	s.closing = true
	s.stopped.Store(true)
	s.cond.Broadcast()
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Err returns the device error that stopped the scheduler, if any.
func (s *Scheduler) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// fail stops the scheduler with the device error err: the graph fails
// every node with it, and callers waiting here get it.
func (s *Scheduler) fail(err error) {
	s.g.Fail(err)
	s.mu.Lock()
	if s.err == nil {
		s.err = err
		s.stopped.Store(true)
	}
	s.done = true
	s.cond.Broadcast()
	s.mu.Unlock()
}
