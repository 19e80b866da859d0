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
// persisted; the superblock (internal/superblock) records only write
// pointers over data already durable, so recovery trusts every frame below a
// write pointer and nothing past one. The scheduler coalesces adjacent
// appends into one device write and covers many writes, and the superblock,
// with one flush (group commit).
//
// The buffer cache (internal/cache) holds pages keyed by (extent,
// generation, page) and is drained when an extent is reset.
//
// Layers above the chunk store — the LSM index mapping keys to locators,
// reclamation, and the engine.Engine implementation — build on
// internal/chunk.Store.
//
// # Concurrency
//
// Every goroutine, lock, condition variable, atomic and timer comes from
// engine/conc, so the interleave checker can control every schedule; a test
// rejects any file here that imports sync, sync/atomic or time, or contains
// a go statement.
package shardstore
