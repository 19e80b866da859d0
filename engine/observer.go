package engine

import "context"

// Observer hears the named states an engine reaches: the events and phases
// below. It is how a checker learns what its cases exercised (package
// coverage counts them), so a generator that stops reaching a state is
// seen. It travels in an engine's Options (Options.WithObserver), never in
// the spec string and never in a package-level variable, so two engines
// in one process report to their own observers.
//
// An engine calls it from any goroutine, often with its own locks held:
// an Observer must be safe for concurrent use, cheap, and must not call
// the engine. Without one an engine pays a nil check per event (Emit).
type Observer interface {
	// Event records that the engine reached ev once.
	Event(ev Event)
	// Phase records that the engine entered (begin true) or left phase p.
	// Phases nest and overlap across goroutines (a put in the foreground
	// while reclamation runs in the background).
	Phase(p Phase, begin bool)
}

// Event names a state an engine reached. Engines may emit names of their
// own; those listed in Events are shardstore's.
type Event string

// Phase names a stretch of an engine's work. A fault or a crash is
// attributed to the phase the engine was in when it hit (package coverage).
type Phase string

// The phases, in the order a fault is attributed to them when several are
// active at once: the rarest first.
const (
	PhaseRecovery        Phase = "recovery"
	PhaseReclamation     Phase = "reclamation"
	PhaseCompaction      Phase = "compaction"
	PhaseIndexFlush      Phase = "index-flush"
	PhaseForegroundWrite Phase = "foreground-write"
	// PhaseIdle is none of the above: a read, or between ops.
	PhaseIdle Phase = "idle"
)

// Phases lists the phases, rarest first (PhaseIdle last).
func Phases() []Phase {
	return []Phase{PhaseRecovery, PhaseReclamation, PhaseCompaction, PhaseIndexFlush, PhaseForegroundWrite, PhaseIdle}
}

// The events shardstore emits. Each says the state it names; the phase in
// brackets is where it usually happens.
const (
	// EventExtentReset: an extent was reset (reclamation).
	EventExtentReset Event = "extent-reset"
	// EventChunkEvacuated: a live chunk was copied off an extent being
	// reclaimed (reclamation).
	EventChunkEvacuated Event = "chunk-evacuated"
	// EventFrameSkipped: a scan skipped a region that does not decode as
	// a frame, torn or corrupt (reclamation's scan; recovery trusts only
	// what the superblock's write pointers cover and never scans).
	EventFrameSkipped Event = "frame-skipped"
	// EventSuperblockFallback: recovery found the newest superblock slot
	// invalid (a slot write the crash tore, or whose round never finished)
	// and chose the older one (recovery).
	EventSuperblockFallback Event = "superblock-older-slot"
	// EventRecoveryDeadExtent: recovery found an owned extent that holds
	// no live byte: a reclamation the crash cut between its evacuation
	// and its reset, or one not yet begun (recovery).
	EventRecoveryDeadExtent Event = "recovery-dead-extent"
	// EventWritesCoalesced: adjacent appends went to the device as one IO.
	EventWritesCoalesced Event = "writes-coalesced"
	// EventCacheEviction: the buffer cache evicted a page for a new one.
	EventCacheEviction Event = "cache-eviction"
	// EventCompactionWhileReclaiming: a compaction began while a
	// reclamation was running (the paper's bug #14 lives there). No engine
	// emits it: an observer counts it from the phases.
	EventCompactionWhileReclaiming Event = "compaction-while-reclaiming"
	// EventCrashDuringReclamation: a crash cut the engine while a
	// reclamation was running. No engine emits it: an observer told of the
	// crash counts it from the phases.
	EventCrashDuringReclamation Event = "crash-during-reclamation"
	// EventNoSpace: a write was refused with ErrNoSpace.
	EventNoSpace Event = "enospc"
	// EventQueueBackpressure: a writer blocked on the IO scheduler's full
	// queue.
	EventQueueBackpressure Event = "queue-backpressure"
	// EventEvacuationAtReserve: reclamation asked to evacuate a chunk
	// when an extent taken for it would leave no more free extents than
	// the reservation ladder keeps for an index flush and its metadata, so
	// whether the flush that publishes the chunk can still complete
	// decided it (reclamation).
	EventEvacuationAtReserve Event = "evacuation-at-reserve"
	// EventDepBackpressure: a writer blocked on the dependency graph's
	// bound on undurable writes.
	EventDepBackpressure Event = "dep-backpressure"
	// EventWriteStall: a peer stalled writes on its background work
	// (Pebble's EventListener.WriteStallBegin). Shardstore's counterparts
	// are the two back-pressure events.
	EventWriteStall Event = "write-stall"
	// EventIndexFlush, EventCompaction, EventReclaim and EventRecovery
	// count the phases' runs.
	EventIndexFlush Event = "index-flush"
	EventCompaction Event = "compaction"
	EventReclaim    Event = "reclaim"
	EventRecovery   Event = "recovery"
)

// Events lists the events above, in their order.
func Events() []Event {
	return []Event{EventExtentReset, EventChunkEvacuated, EventFrameSkipped, EventSuperblockFallback,
		EventRecoveryDeadExtent, EventWritesCoalesced, EventCacheEviction, EventCompactionWhileReclaiming,
		EventCrashDuringReclamation, EventNoSpace, EventQueueBackpressure, EventEvacuationAtReserve, EventDepBackpressure,
		EventIndexFlush, EventCompaction, EventReclaim, EventRecovery}
}

// SchedulerEvent names the event of a round planned by the IO scheduling
// policy named policy: "sched-<policy>", one per policy path.
func SchedulerEvent(policy string) Event { return Event("sched-" + policy) }

// Emit records ev on obs, if there is one: a nil check when there is not.
func Emit(obs Observer, ev Event) {
	if obs != nil {
		obs.Event(ev)
	}
}

// Enter records that the engine entered phase p, if there is an observer;
// Leave records it left. Call them in pairs (defer engine.Leave(...)).
func Enter(obs Observer, p Phase) {
	if obs != nil {
		obs.Phase(p, true)
	}
}

// EnterContext is Enter that also returns ctx marked with p (PhaseOf), for
// work that queues IO a scheduler issues later: the IO is then attributed
// to p, the phase that caused it, not to whatever runs when it is issued
// (an index run written by a compaction goes to the device in a later
// round, after the compaction is over). Without an observer it returns
// ctx as it is, allocating nothing.
func EnterContext(ctx context.Context, obs Observer, p Phase) context.Context {
	if obs == nil {
		return ctx
	}
	obs.Phase(p, true)
	return context.WithValue(ctx, phaseKey{}, p)
}

type phaseKey struct{}

// PhaseOf returns the phase EnterContext marked ctx with, or "".
func PhaseOf(ctx context.Context) Phase {
	p, _ := ctx.Value(phaseKey{}).(Phase)
	return p
}

// Leave records that the engine left phase p, if there is an observer.
func Leave(obs Observer, p Phase) {
	if obs != nil {
		obs.Phase(p, false)
	}
}

// WithObserver returns o with obs as the observer the engine reports its
// states to. The observer is not an option of the spec: Spec and Map leave
// it out, and a spec resolved again has none.
func (o Options) WithObserver(obs Observer) Options {
	o.observer = obs
	return o
}

// Observer returns the observer set by WithObserver, or nil.
func (o Options) Observer() Observer { return o.observer }
