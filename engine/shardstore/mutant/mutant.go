package mutant

// ID names one seeded bug. The zero value, None, is no bug. IDs are not
// stored anywhere: only names (Mutant.Name) cross a process boundary, in
// engine specs.
type ID uint16

// The mutants, Canary first. Add a constant at the end of its group, a
// Catalogue entry and one guarded site (see the package documentation).
const (
	None ID = iota
	Canary

	// Ordering and crash consistency.
	SyncBeforeRootDurable
	ResetBeforeIndexDurable
	RootWithoutDataDependency
	WriteWithoutResetDependency
	SlotTakesUnissuedRoot
	SlotCompletesLaterRoots
	PersistentChecksFirstNode
	UUIDReusedAcrossOpens

	// Error paths.
	CloseErrorSwallowed
	GetErrorAsNotFound
	FailedWaitSucceeds
	ReclaimForgetsAfterReadError

	// Recovery.
	OlderSlotChosen
	SlotNotVerified
	CloseSkipsFlushAfterReset
	CloseBeforeFinalFlush
	RecoveredMetadataUnowned

	// Index.
	FlushDropsTombstones
	CompactionDropsTombstones
	MergeOlderWins
	BloomFalseNegative
	ListEndInclusive

	// Reclamation and the chunk store.
	EvacuateWrongChunk
	ScanDropsLastByte
	LiveBytesNotReleased
	ValueSplitDropsTail

	// Decoders.
	FrameCRCSkipped
	MetadataBoundsOffByOne

	// Caches.
	CacheNotDrainedOnReset
	CacheAliasesWriteBuffer
	ValueCopyOutlivesOverwrite
	RowCacheKeepsOverwritten

	// IO scheduler.
	CoalesceReversesAppends

	// Concurrency: caught only by a concurrent checker.
	CompactionWithoutMaintenanceLock
	PutWithoutGate
	ListWithoutIndexLock
	AdmitWaitUnseen
	EvacuationOverwritesWrite
	CloseIgnoresCallsInFlight

	count // one past the last
)

// Detector is one way of running a checker: checkers.Checker's name, its
// --mode ("" for its default) and whether --faults is on.
type Detector struct {
	Checker string
	Mode    string
	Faults  bool
}

// String renders d as harness check flags: "crash --mode block",
// "conformance --faults".
func (d Detector) String() string {
	s := d.Checker
	if d.Mode != "" {
		s += " --mode " + d.Mode
	}
	if d.Faults {
		s += " --faults"
	}
	return s
}

// The detectors mutants expect today.
var (
	Conformance       = Detector{Checker: "conformance"}
	ConformanceFaults = Detector{Checker: "conformance", Faults: true}
	CrashBlock        = Detector{Checker: "crash", Mode: "block"}
	CrashKill         = Detector{Checker: "crash", Mode: "kill"}
	CrashBlockFaults  = Detector{Checker: "crash", Mode: "block", Faults: true}
	// Linearize runs clients concurrently, with maintenance racing them.
	Linearize = Detector{Checker: "linearize"}
)

// Mutant describes one seeded bug.
type Mutant struct {
	ID ID
	// Name is the kebab-case name an engine spec gives:
	// shardstore:mutant=<Name>.
	Name string
	// Component is where the bug is: chunk store, index, superblock,
	// recovery, reclamation, buffer cache, value cache, decoder,
	// dependency graph, io scheduler or api.
	Component string
	// Wrong says in one or two sentences what the realistic change is and
	// what goes wrong.
	Wrong string
	// Paper is the bug of the ShardStore paper's Figure 5 it mirrors
	// (1..16), 0 if none.
	Paper int
	// Class is functional, crash, concurrency, decoder or error path.
	Class string
	// Expect lists the detectors expected to catch it (at least one,
	// unless Concurrency).
	Expect []Detector
	// Concurrency marks a bug only a concurrent checker can see
	// (linearize, interleave). With Expect empty the runner reports it as
	// waiting for the interleave checker; with Expect naming a concurrent
	// detector it is run and scored as any other.
	Concurrency bool
	// Why says, for a Concurrency mutant, why no sequential check sees it.
	Why string
}

func d(ds ...Detector) []Detector { return ds }

// Waits reports whether m waits for the interleave checker: a concurrency
// mutant no shipped detector is expected to catch.
func (m Mutant) Waits() bool { return m.Concurrency && len(m.Expect) == 0 }

// catalogue is every mutant but None, in ID order.
var catalogue = []Mutant{
	{ID: Canary, Name: "canary", Component: "api", Class: "functional",
		Wrong:  "Get flips the first byte of every value it returns. Any checker must catch it within its first few cases (the first get of a written value): it proves the checks can fail.",
		Expect: d(Conformance, ConformanceFaults, CrashBlock, CrashKill, Linearize)},

	{ID: SyncBeforeRootDurable, Name: "sync-before-root-durable", Component: "superblock", Class: "crash",
		Wrong:  "Sync returns once the memtable's run is published, without waiting for the superblock slot holding its root to be durable: an acknowledged Sync is lost by a crash before the next slot write.",
		Expect: d(CrashBlock, CrashKill)},
	{ID: ResetBeforeIndexDurable, Name: "reset-before-index-durable", Component: "reclamation", Paper: 9, Class: "crash",
		Wrong: "Reclamation resets a data extent right after evacuating it, without first making the index update that stops naming it durable; a crash brings back a root whose entries name the reset extent's old generation. " +
			"(The paper's #9 was a crash during reclamation the model did not follow; here the engine itself mishandles that crash.)",
		Expect: d(CrashBlock)},
	{ID: RootWithoutDataDependency, Name: "root-without-data-dependency", Component: "dependency graph", Paper: 8, Class: "crash",
		Wrong: "An index flush sets the new root depending on the run it wrote but not on the data chunks the run names, so a slot can make the root durable while the data is still queued; a crash leaves entries naming chunks past the write pointer. " +
			"(The paper's #8: writes lacked a dependency on the soft write-pointer update.)",
		Expect: d(CrashBlock)},
	{ID: WriteWithoutResetDependency, Name: "write-without-reset-dependency", Component: "chunk store", Paper: 7, Class: "crash",
		Wrong: "A chunk appended to an extent just reset does not depend on the reset being recorded in a superblock, so new-generation bytes can reach the device under a slot that still trusts the old generation's frames there. " +
			"(The paper's #7: soft and hard write pointers disagreed in a crash after an extent reset.)",
		Expect: d(ConformanceFaults, CrashBlock, CrashBlockFaults)},
	{ID: SlotTakesUnissuedRoot, Name: "slot-takes-unissued-root", Component: "superblock", Class: "crash",
		Wrong:  "A superblock slot takes the newest root whether or not the run and metadata it depends on are issued; a crash after the slot's flush leaves a root naming metadata that never reached the device.",
		Expect: d(CrashBlock)},
	{ID: SlotCompletesLaterRoots, Name: "slot-completes-later-roots", Component: "superblock", Class: "crash",
		Wrong: "When a superblock slot is persisted, every pending root is completed, not only the ones the slot took: a root set after the slot was prepared (an index flush racing the round) counts as durable, so a Sync waiting on it returns though no slot names it, and a crash before the next slot loses what the Sync acknowledged. " +
			"(It replaces chain-keeps-earlier-node, a dependency that kept a chain's earlier node for its later one. That one is unreachable in every configuration a checker runs: a chain's nodes matter only to a slot's IsIssued check of a root, made right after the round's writes are marked issued; every chunk a root names is queued before the root is set, and a round takes every queued write (RoundBytesMax 32 MiB, on a 1 MiB check device) unless the scheduler holds large frames back (holdFrameMin 16 KiB, and a check's chunk payload is 1 KiB, with no spec option to change it). " +
			"So the later chunk was issued with the earlier one, or queued after the round's plan and then also after the root; sequential checks, harness check crash (27,600 cases) and the interleave crash harness (9,000 cases, pct and random) never saw it. " +
			"The chunk store's TestCrashSuperblockWithData and TestCrashDependencyClosed, with held frames and random dependencies, catch it; an engine-level check cannot.)",
		Expect: d(CrashBlock)},
	{ID: PersistentChecksFirstNode, Name: "persistent-checks-first-node", Component: "dependency graph", Class: "crash",
		Wrong: "A put's Dependency.IsPersistent looks at the first link of its chain only, its memtable's ticket (the run published), not the superblock root that ticket names, so a put's dependency reports persistent while the root covering it is not. " +
			"(A dep.Dependency of one node, the root, is what IsPersistent must consult; the ticket is only how it is found.)",
		Expect: d(CrashBlock)},
	{ID: UUIDReusedAcrossOpens, Name: "uuid-reused-across-opens", Component: "chunk store", Paper: 15, Class: "crash",
		Wrong: "Chunk UUIDs are drawn from the seed alone, not mixed with the superblock sequence, so two opens of one durable state write byte-identical frame headers and a slot covering frames that never reached the device verifies against an earlier attempt's. " +
			"(The paper's #15: locators other code assumed unique were reused.)",
		Expect: d(CrashBlock)},

	{ID: CloseErrorSwallowed, Name: "close-error-swallowed", Component: "api", Class: "error path",
		Wrong:  "Close ignores the errors of its final index flush and of the chunk store's drain (a failed device flush) and reports success, so writes lost to the device error look durable.",
		Expect: d(ConformanceFaults, CrashBlockFaults)},
	{ID: GetErrorAsNotFound, Name: "get-error-as-not-found", Component: "api", Class: "error path",
		Wrong:  "Get turns a read error on the key's chunks into ErrNotFound, as if the key were absent: a device error becomes a wrong answer instead of a failure.",
		Expect: d(ConformanceFaults, CrashBlockFaults)},
	{ID: FailedWaitSucceeds, Name: "failed-wait-succeeds", Component: "dependency graph", Class: "error path",
		Wrong: "A wait on a dependency returns success when the graph has failed on a device error, so a failed flush completes its waiters: Sync and Close acknowledge writes that never became durable. " +
			"(Placed in the dependency graph, where the IO scheduler's failure reaches waiters.)",
		Expect: d(CrashBlock, CrashBlockFaults)},
	{ID: ReclaimForgetsAfterReadError, Name: "reclaim-forgets-after-read-error", Component: "reclamation", Paper: 5, Class: "error path",
		Wrong:  "When the scan of a victim extent fails with a read error, reclamation treats the extent as holding nothing readable and resets it, forgetting its live chunks (the paper's #5).",
		Expect: d(ConformanceFaults, CrashBlockFaults)},

	{ID: OlderSlotChosen, Name: "older-slot-chosen", Component: "recovery", Class: "functional",
		Wrong: "Recovery compares the slots' sequence numbers the wrong way round and opens from the older slot, losing everything the newer one made durable. " +
			"(Only a crash shows it: a clean shutdown whose last slot advanced write pointers ends with a confirming slot of the same root, so after Close both slots agree.)",
		Expect: d(CrashBlock)},
	{ID: SlotNotVerified, Name: "slot-not-verified", Component: "recovery", Paper: 10, Class: "crash",
		Wrong: "Recovery trusts the newest slot without verifying the frames it covers past the older slot, so a slot whose round's flush never completed is taken, and torn or never-written frames below its write pointers are trusted. " +
			"(The paper's #10 trusted a torn frame after a crash.)",
		Expect: d(ConformanceFaults, CrashBlock, CrashBlockFaults)},
	{ID: CloseSkipsFlushAfterReset, Name: "close-skips-flush-after-reset", Component: "index", Paper: 3, Class: "functional",
		Wrong:  "Close skips its final index flush when an extent was reset since open, assuming reclamation's own index flush covered everything: writes after the reclamation are lost on reopen (the paper's #3).",
		Expect: d(Conformance, CrashBlock)},
	{ID: CloseBeforeFinalFlush, Name: "close-before-final-flush", Component: "api", Paper: 4, Class: "functional",
		Wrong: "Close marks the store closing before its final index flush, so the flush's waiter gives up with ErrClosed and unsynced writes are gone when the device is opened again. " +
			"(The paper's #4 lost shards when a disk was taken out of service and returned; here Close and reopen.)",
		Expect: d(Conformance, CrashBlock)},
	{ID: RecoveredMetadataUnowned, Name: "recovered-metadata-unowned", Component: "recovery", Paper: 6, Class: "crash",
		Wrong: "Recovery rebuilds the published version from the runs the root's metadata names but leaves out the metadata chunks themselves, so after a reboot nothing owns the metadata extent: reclamation finds it all dead and resets it while the superblock's root still names it, and the next open cannot read its index. " +
			"(The paper's #6: an extent-ownership dependency wrong after a reboot.)",
		Expect: d(Conformance, CrashBlock)},

	{ID: FlushDropsTombstones, Name: "flush-drops-tombstones", Component: "index", Class: "functional",
		Wrong:  "An index flush drops tombstones when it writes the memtable out as a run, as compaction of the oldest run may; a deleted key's older value in an older run resurfaces.",
		Expect: d(Conformance)},
	{ID: CompactionDropsTombstones, Name: "compaction-drops-tombstones", Component: "index", Class: "functional",
		Wrong:  "Compaction drops tombstones even when the merged runs do not include the oldest, so a value they deleted in an older run resurfaces.",
		Expect: d(Conformance)},
	{ID: MergeOlderWins, Name: "merge-older-wins", Component: "index", Class: "functional",
		Wrong:  "The run merge keeps the older source's entry when two sources hold a key (the tie goes the wrong way): compaction and listing bring back overwritten values and deleted keys.",
		Expect: d(Conformance)},
	{ID: BloomFalseNegative, Name: "bloom-false-negative", Component: "index", Class: "functional",
		Wrong:  "The bloom filter's probe takes the bit count minus one as its modulus while insertion uses the bit count, so lookups test the wrong bits and miss keys a run holds.",
		Expect: d(Conformance)},
	{ID: ListEndInclusive, Name: "list-end-inclusive", Component: "api", Class: "functional",
		Wrong:  "List clips each source with the end key included, so a listing of [start, end) also returns end.",
		Expect: d(Conformance)},

	{ID: EvacuateWrongChunk, Name: "evacuate-wrong-chunk", Component: "reclamation", Class: "functional",
		Wrong:  "Evacuation's reverse lookup matches a scanned chunk to the key's entry by extent alone, not by the full locator, so an overwritten value's old chunk is copied and the index pointed at it.",
		Expect: d(Conformance)},
	{ID: ScanDropsLastByte, Name: "scan-drops-last-byte", Component: "chunk store", Paper: 1, Class: "functional",
		Wrong: "The reclamation scan reads the victim up to its write pointer minus one (an off-by-one in the end offset), so the extent's last frame does not decode and its chunk is never evacuated. " +
			"(The paper's #1 was an off-by-one in reclamation for chunks near the page size.)",
		Expect: d(Conformance)},
	{ID: LiveBytesNotReleased, Name: "live-bytes-not-released", Component: "reclamation", Class: "functional",
		Wrong:  "An overwrite or delete does not subtract the replaced entry's chunks from the live-byte accounting, so reclamation ranks victims wrong and refuses to reset extents it emptied.",
		Expect: d(Conformance)},
	{ID: ValueSplitDropsTail, Name: "value-split-drops-tail", Component: "chunk store", Class: "functional",
		Wrong:  "A value larger than a chunk is split into len/per chunks rounded down, so its last partial chunk is never written and Get returns it truncated.",
		Expect: d(Conformance)},

	{ID: FrameCRCSkipped, Name: "frame-crc-skipped", Component: "decoder", Class: "decoder",
		Wrong:  "The frame decoder checks magic, version and length but not the CRC, so a flipped bit in a payload is returned as data.",
		Expect: d(ConformanceFaults, CrashBlockFaults)},
	{ID: MetadataBoundsOffByOne, Name: "metadata-bounds-off-by-one", Component: "decoder", Class: "decoder",
		Wrong:  "The metadata decoder's bounds check on a run's locators uses >= where > is right, so the last run's locators, which end exactly at the end of the buffer, are refused and a store with runs no longer opens.",
		Expect: d(Conformance)},

	{ID: CacheNotDrainedOnReset, Name: "cache-not-drained-on-reset", Component: "buffer cache", Paper: 2, Class: "functional",
		Wrong:  "The buffer cache keys pages by extent and page without the generation, and an extent reset does not drain it, so reads of the reused extent hit the old generation's pages (the paper's #2).",
		Expect: d(Conformance, CrashBlockFaults)},
	{ID: CacheAliasesWriteBuffer, Name: "cache-aliases-write-buffer", Component: "buffer cache", Class: "functional",
		Wrong:  "The write-through of a completed region inserts the IO scheduler's buffer into the cache without copying it; the scheduler reuses the buffer for its next round and the cached pages change under readers.",
		Expect: d(Conformance)},
	{ID: ValueCopyOutlivesOverwrite, Name: "value-copy-outlives-overwrite", Component: "value cache", Class: "functional",
		Wrong:  "The memtable keeps a key's value copy when the entry is replaced by one with no copy (a value too large to keep, or a tombstone), so Get returns the old value after an overwrite or a delete.",
		Expect: d(Conformance)},
	{ID: RowCacheKeepsOverwritten, Name: "row-cache-keeps-overwritten", Component: "row cache", Class: "functional",
		Wrong:  "A put or delete of a key leaves the key's value in the row cache, so Get returns the value read before the overwrite or the delete.",
		Expect: d(Conformance)},
	{ID: CoalesceReversesAppends, Name: "coalesce-reverses-appends", Component: "io scheduler", Class: "functional",
		Wrong:  "The coalesce policy lays out the appends it merges into one IO in reverse: the later append, which depends on the earlier one's bytes before it in the extent, is written at the earlier one's offset. A scheduling policy that reorders dependent writes: reads of either chunk find the other's frame (fifo, which merges nothing, is unaffected; the differential checker catches coalesce against fifo and elevator).",
		Expect: d(Conformance)},
	{ID: CompactionWithoutMaintenanceLock, Name: "compaction-without-maintenance-lock", Component: "index", Paper: 14, Class: "concurrency", Concurrency: true,
		Wrong: "The background loop compacts without the maintenance lock, so reclamation can rewrite a run a compaction is merging and the compaction's publish drops the rewritten run's recent entries (the paper's #14).",
		Why: "Sequential checks run maintenance one op at a time: compaction and reclamation never overlap, so the missing lock changes nothing they can observe. " +
			"(Only by timing can the background loop's compaction overlap a reclamation an op asked for: enginetest's RandomAgainstModel, on two cores, hit the compaction's adjacency panic.)"},
	{ID: PutWithoutGate, Name: "put-without-gate", Component: "chunk store", Paper: 11, Class: "concurrency", Concurrency: true,
		Wrong:  "A put appends its chunks and inserts its entry without holding the put gate, so reclamation's barrier does not wait for it: a chunk appended to a victim before the scan but indexed after it is dropped and its locator left naming a reset extent (the paper's #11, a race between write and flush).",
		Why:    "The gate only orders a put against a concurrent reclamation; with one op at a time a put's entry is always in the memtable before any reclamation starts.",
		Expect: d(Linearize)},
	{ID: ListWithoutIndexLock, Name: "list-without-index-lock", Component: "api", Paper: 13, Class: "concurrency", Concurrency: true,
		Wrong: "List merges the memtable and runs without the index lock, racing with a concurrent delete or index flush: it can miss keys or read a memtable being replaced (the paper's #13, listing racing removal).",
		Why:   "Without a concurrent writer the index does not change during a List, so the missing lock is invisible to a sequential check."},
	{ID: AdmitWaitUnseen, Name: "admit-wait-unseen", Component: "dependency graph", Paper: 12, Class: "concurrency", Concurrency: true,
		Wrong: "A writer that finds the dependency graph's node pool full waits for room in a plain loop on the graph's condition, without counting itself a waiter: the IO scheduler, seeing nobody wait, holds its round for the cadence (frozen in checks) and the superblock slot that would free the nodes never comes, so the writers deadlock. " +
			"(The paper's #12: buffer-pool exhaustion deadlocked threads waiting for a superblock update.)",
		Why: "The pool holds 65,536 nodes and a check's 1 MiB device far fewer chunks: one writer at a time never fills it, so no append ever waits for room; only many writers outrunning the device do."},
	{ID: EvacuationOverwritesWrite, Name: "evacuation-overwrites-write", Component: "reclamation", Paper: 16, Class: "concurrency", Concurrency: true,
		Wrong: "Evacuation points the key at the chunk's copy using the entry it looked up before the copy, without looking again under the index lock: a put or delete of the key that lands while the chunk is copied is overwritten, and the old value comes back. " +
			"(The paper's #16 raced bulk create against remove in the control plane; here a client's create or remove races evacuation's index update.)",
		Why: "A sequential check runs a reclamation as one op: no put or delete lands between evacuation's lookup and its index update, so the stale entry is always the current one. (Background reclamation could race a client op, but only by timing.)"},
	{ID: CloseIgnoresCallsInFlight, Name: "close-ignores-calls-in-flight", Component: "api", Class: "concurrency", Concurrency: true,
		Wrong: "Close goes straight to its final flush without waiting for the calls in progress: a put that passed the open check before Close began appends after the final flush (or after the IO scheduler stopped) and still returns nil, so a reopen lacks it, or Close fails with reservations the put admitted and had not used. " +
			"(Found in the engine, not seeded first: enginetest's CloseWhileBusy failed 2 runs in 300 under -race.)",
		Why: "A sequential check has no call in flight when it closes the store; only a put racing Close shows it."},
}

// Catalogue returns every mutant but None, Canary first, in ID order.
func Catalogue() []Mutant {
	out := make([]Mutant, len(catalogue))
	copy(out, catalogue)
	for i := range out {
		out[i].Expect = append([]Detector(nil), out[i].Expect...)
	}
	return out
}

// Lookup returns the mutant named name.
func Lookup(name string) (Mutant, bool) {
	for _, m := range catalogue {
		if m.Name == name {
			m.Expect = append([]Detector(nil), m.Expect...)
			return m, true
		}
	}
	return Mutant{}, false
}

// nameOf is id's name, for messages.
func nameOf(id ID) string {
	for _, m := range catalogue {
		if m.ID == id {
			return m.Name
		}
	}
	return "none"
}
