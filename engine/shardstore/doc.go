// Package shardstore is gauntlet's production storage engine: a key-value
// storage node on a raw device, modelled on Amazon S3's ShardStore (Bornholt
// et al., SOSP 2021).
//
// # Architecture
//
// The device is split into fixed-size extents (internal/extent). Extent 0
// holds the superblock; every other extent is free or owned by data, index
// or metadata, and is written append-only at a write pointer. Resetting an
// extent moves its write pointer back to zero and increments its
// generation, so a locator (extent, generation, offset, length) can never
// silently name reused space.
//
// All persistent data, the index's own runs included, is stored as chunks
// (internal/chunk): frames of magic, version, kind, UUID, length, CRC-32C,
// payload and the UUID again, packed back to back in an extent. FORMAT.md
// pins the bytes. Decoders treat the disk as untrusted: a frame that does
// not verify is an error wrapping engine.ErrCorruption, never a panic and
// never wrong data. Values larger than a chunk are split across several.
//
// Crash consistency is soft updates (internal/dep). Every write is a node
// of a dependency graph; the IO scheduler (internal/iosched) issues a node
// only once the nodes it depends on are durable, so at any instant the
// durable writes are closed under dependency. A chunk is durable once its
// bytes are flushed and a superblock recording a write pointer past it is
// persisted. The superblock (internal/superblock) is written in the same
// round as the data its write pointers cover, and one flush makes both
// durable; recovery verifies the newest slot (every frame it covers past
// the older slot must be valid, and a CRC of their headers must match) and
// falls back to the older one if that round never finished, so it trusts
// every frame below a write pointer and nothing past one. The scheduler coalesces adjacent appends into one
// region per extent and covers many writes, and the superblock, with one
// flush (group commit). A round's regions are cut at sector boundaries into
// device writes of up to 1 MiB, which go to the device Options.IODepth at a
// time together with the round's superblock write. On a file on Linux the
// scheduler's goroutine keeps them in flight itself with native
// asynchronous IO (disk.BatchWriter), copying each write's frames in just
// before submitting it while the device works on the ones before; on
// other devices worker goroutines write beside it. Handing writes to
// other goroutines costs a wake-up each, tens of µs on a small virtual
// machine, and after a flush the scheduler yields its P so that the
// writers it completed put their next writes before its next round.
//
// The buffer cache (internal/cache) holds pages keyed by (extent,
// generation, page) and is drained when an extent is reset. Eviction is
// CLOCK, so a hit takes the cache's lock shared; a large cache is 16
// shards, each a CLOCK under its own lock, so a get rarely waits for the
// scheduler's write-through of another page. A get reads the pages it
// misses with one device read and never takes the IO scheduler's lock for
// a chunk on whole pages already written; a chunk that reaches into the
// extent's partial last page reads that part from the scheduler's copy
// (the device's copy of that page is being rewritten). Its capacity is by
// default a quarter of the memory the process may use (memory.go: the
// device is read with O_DIRECT, so this is the only cache shardstore's
// reads have), and a large cache's page buffers are anonymous mappings
// off the Go heap, so a full cache costs its size and the collector
// neither counts nor marks it.
//
// Small values put recently are also kept, as copies, in the memtable
// entries that name them (Options.ValueCacheBytes, 4 MiB of values of at
// most 4 KiB by default), and a get of such a key returns the copy without
// reading its chunk. The chunk's bytes were last written by the IO
// scheduler's goroutine (its queue, its write-through of the cache page),
// so on another CPU; the reader's copy of them cost a cache miss per line,
// and a get from the copy takes about half the time of one from the chunk
// under YCSB-A ('harness bench' ycsb-a; docs/PERFORMANCE.md). A memtable
// written out as a run drops its copies, as does a relocation by
// reclamation.
//
// And small values read are kept by key in the row cache (rowcache.go,
// Options.RowCacheBytes, by default an eighth of the buffer cache), so a
// get of a hot key is one map lookup, not an index search and a read
// through the buffer cache: YCSB-C at a million records ran 1.6 times as
// fast with it (docs/PERFORMANCE.md, "A row cache off the heap"). A write
// of a key drops its value and advances its shard's generation before its
// index update, and advances it again after; a get caches what it read
// only if the generation has not moved since its lookup and no write of
// the shard is under way, so gets stay linearizable. Its rings of records
// are off the Go heap, like the buffer cache's pages.
//
// The engine's locks (engine/conc) spin for up to 20 µs before they park:
// a goroutine parked on a lock the scheduler holds for a microsecond
// waited tens of µs to run again on 2 vCPUs.
//
// A put of a small value is cheap by design, and kept so by
// BenchmarkHotPut1KiB (4 allocations per put of a hot key): it takes no
// lock the IO scheduler's goroutine takes on every round except the
// queue's (Enqueue) and the superblock's (the write pointer's waiter) —
// queue room is reserved by compare-and-swap, frame buffers come from a
// writers' stash refilled 32 at a time, and the space check reads an
// atomic free-extent count — because every such lock's cache line moves
// between CPUs when both take it. Dependencies a memtable or a stream
// accumulates grow in place (dep.Dependency.AddOwned), and the frame's
// CRC is taken over the frame buffer itself (crc32.Update makes its input
// escape to the heap).
//
// # Device file
//
// OpenDir creates a device file by writing zeros over it
// (disk.FileOptions.Prewrite), not by fallocate alone. On ext4,
// fallocated blocks are "unwritten" extents, and the first write into each
// converts it, a metadata change that makes the next fdatasync commit the
// journal: a device flush after such writes costs two to three times one
// after overwrites, and every append to a fresh device is such a first
// write. BenchmarkDurablePut measures it (µs/flush, against
// SHARDSTORE_BENCH_SKIP_PREWRITE=1; figures in docs/PERFORMANCE.md). The
// price is writing the device's size once, at creation (about 3 s for the
// default 4 GiB); Options.SkipPrewrite turns it off, and a block device
// needs none.
//
// # Index
//
// An LSM tree (internal/lsm) maps each key to the locators of its value's
// chunks; the values live outside the tree (WiscKey-like), so compaction
// rewrites only keys and locators. A put appends its value as data chunks
// (each payload starts with the key, so reclamation can find a chunk's
// entry) and inserts the entry into the memtable. An index flush writes
// the memtable out as a run — a sorted array of entries with a bloom
// filter, stored as chunks in index extents — when a writer waits for
// durability, when it reaches Options.MemtableBytes, or at
// Options.FlushInterval. The list of
// runs, newest first, is the metadata, stored as chunks in a metadata
// extent; the superblock's root blob holds the metadata's locators. Runs
// stay decoded in memory once written or recovered: a lookup probes the
// memtable, then each run's bloom filter (blocked: one cache line a run)
// and one search, newest first, and the first entry found wins (a
// tombstone means absent). A run's search goes through an array of each
// key's 8 bytes after the run's common prefix, so it touches whole keys
// only at the end. The index must therefore fit in memory, at about 50
// bytes plus the key per key. The memtable is a map for point lookups and
// an ordered tree (google/btree) beside it, so List starts at its first
// key and merges, in batches under the read lock, only the keys it
// returns; ListN (engine.BoundedLister) sizes its first batch by the keys
// the caller wants, and a batch's slices are recycled, so a scan
// allocates next to nothing.
//
// Compaction is tiered by level: a run an index flush wrote is at level 0, a merge
// yields a run one level above its inputs, and when four adjacent runs
// share a level they are merged, newest entry winning; tombstones are
// dropped only when the merge includes the oldest run, so nothing older
// can resurface. Levels are not stored: recovered runs get log4 of their
// entry count, kept non-decreasing from newest to oldest.
//
// # Durability chain
//
// A put is durable when its data chunks, the run holding its entry, the
// metadata naming that run and a superblock holding that metadata's root
// and write pointers covering all three are durable. PutTracked and
// DeleteTracked return that dependency; Sync waits for the one of the
// newest memtable, which covers everything acknowledged before it.
//
// The chain takes one device flush, not four: the run and the metadata do
// not wait for the data to be durable, and the root is set to depend on
// all three being written (the written dependency of chunk.Store's
// appends). The
// superblock slot takes the root once all three are issued, records write
// pointers past every chunk it names, and goes to the device with them,
// under one flush. A crash before that flush completes leaves the previous
// root (the older slot, or the newer one rejected by recovery's
// verification), which names only durable chunks. Concurrent writers share
// rounds (group commit): one run, one metadata chunk and one superblock
// write cover every writer that waited meanwhile. A writer that asks for
// the index flush also tells the IO scheduler to expect it
// (chunk.Store.Expect): a round that would start only for the writers
// waiting on the graph waits, at most iosched.ExpectMax, until the run,
// the metadata and the root are queued, so the writers' data, index and
// slot share one round and one device flush. (Started at once, the round
// carried the data and the device flush covering the index was the next
// one; BenchmarkDurablePut measures the hold, and docs/PERFORMANCE.md has
// its figures.)
//
// Close makes everything durable (a clean shutdown); reopening loses
// nothing. It first waits for the calls in progress (a count, as peers'
// engine/internal/gate keeps, not a lock, so a List callback's call is
// refused rather than deadlocked): a put that returns nil while Close runs
// is in the final flush, never appended after the IO scheduler stopped.
//
// # Reclamation
//
// Reclamation picks a sealed extent (no stream appends to it) with the
// highest dead-byte ratio (internal/reclaim; deterministic), counting a
// sealed extent's unwritten tail as dead (no stream will ever append
// there: a store reopened often sealed extents holding a few bytes and
// refused puts on an almost empty device). It runs in the background
// whenever fewer than the high watermark (Options.ReclaimFreeExtents, or a
// thirty-second of the device's extents if more) are free, on extents at
// least a quarter dead; when a put finds the device full, on extents at
// least a sixteenth dead until the low watermark (Options.ReclaimFreeExtents)
// is free, the put retrying while reclamation frees extents (below that a
// device full of live data refuses the put rather than copy sixteen live
// bytes for each it frees); a victim is read only if its first live chunk
// could be moved; and on every
// extent with a dead byte through Maintain(engine.Reclaim). Data extents
// are taken in batches of up to 64. For each it
//
//  1. waits for puts that appended to it to insert their entries (a
//     barrier on the put gate, one for every extent in the candidate list
//     taken before it);
//  2. unless no live byte is accounted to it (a deleted shard's extents:
//     nothing to read), scans its frames and looks each up in the index
//     (reverse lookup: is this locator part of the current entry of the
//     key in its header?);
//  3. copies live chunks to the evacuation stream and points the index at
//     the copies, under the index lock, only if the entry is unchanged;
//
// and then, for the batch,
//
//  4. index-flushes once and waits until the new root is durable — so the
//     relocations, and every put or delete that made a chunk dead, survive
//     any crash;
//  5. checks that no live byte remains in each extent, and only then resets
//     it.
//
// A value larger than a chunk is appended with its chunks consecutive in
// the data stream, the first cut to fill the open extent (valueMu,
// chunkFitMin), so that deleting it leaves extents wholly dead: on the
// shard workload at 80% full, reclamation moves 0.06 bytes per byte
// written.
//
// Stats reports where reclamation's time goes, in seconds since open:
// reclaim_barrier_seconds (step 1), reclaim_evacuate_seconds (2 and 3),
// reclaim_flush_seconds (4), and reclaim_wait_seconds with
// reclaim_wait_max_seconds for the writes that found no space and waited
// for reclamation in their own path (writes_no_space counts them).
//
// Index and metadata extents are reclaimed through the metadata: runs with
// chunks in the victim are rewritten, a new version is published, and the
// victim is reset once that version's root is durable and no version a
// crash could bring back names it. Compaction and reclamation hold one
// maintenance lock, so neither frees what the other is about to publish
// (the paper's bug #14), and relocations go into the memtable, which is
// newer than any run a compaction produces.
//
// # Space
//
// Every way of freeing an extent ends in a metadata append (an index
// flush making chunks' deaths durable, or a publish that stops naming an
// index or metadata extent), so space is reserved as a ladder
// (chunk.Stream.Reserved): client data may not take the last
// Options.ReserveExtents free extents, evacuation the last two, index runs
// the last one, and metadata may take any. And a write (put or delete) is
// admitted only if the index flush it needs can complete — the index
// stream has room for a run (of twice the memtable's flush size, or of
// the entries the memtables hold if more: one entry of a large value can
// pass that size) or may take a free extent, and one is left for the
// metadata — as is an evacuation, and compaction and reclamation
// write a run only if that stays true after it. Together these keep the
// invariant that whatever the memtable holds can be published, even after
// a reopen has sealed every stream's extent: Sync and Close do not fail
// for space (space.go). A write that finds no space reclaims once and then
// fails with engine.ErrNoSpace; reclamation and compaction that would need
// the reserved extents wait. Nothing acknowledged is lost.
//
// # Recovery
//
// Open reads the newest valid superblock slot (write pointers, generations,
// owners, root), seals every extent it finds in use, decodes the metadata
// the root names and every run it lists, and recounts the live bytes of
// each extent from the index. Nothing past a write pointer is read, so
// frames torn by a crash are ignored; extents left owned but unreferenced
// are freed by reclamation.
//
// Open formats a device only if it is blank: all zeros in the superblock
// area, in the format marker's last sector and at the start of every
// extent (FORMAT.md, Format marker). A device with data but no valid
// superblock slot is refused (NotBlankError, engine.ErrCorruption) and
// left byte for byte as it was: formatting it would lose every key on it
// for good. FormatDir with force ('harness shardstore format --force') is
// the only way to erase it. A device whose intact superblock describes
// another size or extent size is refused with both named.
//
// # Invariants
//
// CheckInvariants verifies run order and bloom filters, that every
// locator the index or a live version names lies in an extent of the
// right owner at its current generation below the write pointer, the
// live-byte accounting, and free extents' write pointers. It does not
// read chunks back (crash checkers do).
//
// # Files
//
// One concept a file: store.go (the Store, Open and recovery, Get, List,
// Sync, Close), write.go (the write path: Put, Delete and their Tracked
// forms, admission, appending a value's chunks, the memtable insert, a
// write's dependency), space.go (the admission checks above), index.go
// (index flush, publish, compaction, the background loops and their
// signals), reclaim.go, maintain.go (Maintain, CheckInvariants, Stats),
// open.go (formatting and the blank-device check), options.go, driver.go.
//
// # Words
//
// Each word means one thing here and in internal/chunk:
//
//   - device flush: disk.Device.Flush, fdatasync; engine.Stats.Flushes and
//     the sched_flushes metric count them.
//   - index flush: the memtable written out as a run and published
//     (indexFlush, Maintain(engine.IndexFlush)).
//   - slot write: a superblock slot written to the device, with a device
//     flush (chunk.Store.WriteSlot, Maintain(engine.SuperblockFlush), whose
//     name "superblock-flush" is the engine's API and stays).
//   - drop: the buffer cache emptied of its clean pages
//     (chunk.Store.DropCache, Maintain(engine.CacheFlush), "cache-flush").
//   - reserve: the free extents the reservation ladder keeps from a stream
//     (Options.ReserveExtents, chunk.Stream.Reserved). The IO scheduler's
//     Reserve, room in its queue, is internal/iosched's own word.
//   - write: a put or a delete.
//
// Options.FlushInterval (the spec's flush-interval=) is the cadence of
// both: writes nobody syncs are index-flushed, and issued writes flushed
// to the device, at most that long after they are acknowledged.
//
// # Concurrency
//
// Every goroutine, lock, condition variable, atomic and timer comes from
// engine/conc, so the interleave checker can control every schedule; a test
// rejects any file here that imports sync, sync/atomic or time, or contains
// a go statement.
//
// A Store is safe for concurrent use. Lock order: maintenance lock, then
// publish lock, then the index lock, then the current memtable's lock
// (a write inserts holding the index lock shared and the memtable's
// exclusively; whatever changes the index's shape holds the index lock
// exclusively); the put gate is never held with the maintenance lock's
// reclamation barrier.
package shardstore
