// Package chunk is shardstore's chunk store: all persistent data, the
// index's own runs included, is stored as framed chunks appended to extents.
//
// # Frames
//
// A frame is magic, version, kind, UUID, length, CRC-32C, payload and the
// UUID again (FORMAT.md has the bytes). AppendFrame encodes one
// (AppendFramePrefixed from a payload in two parts); DecodeFrame
// decodes untrusted bytes into a verified frame or a *FrameError wrapping
// engine.ErrCorruption, never panicking. ScanBytes walks the frames packed
// in an extent for reclamation, resynchronising after a corrupt one without
// skipping a valid frame.
//
// # Store
//
// Store ties the parts together on a disk.Device. Its files, one concept
// each:
//
//	store.go   Options, Format, Open, Sync, Close, Stats
//	stream.go  the streams, the reservation ladder and extent allocation:
//	           Stream.Reserved, Room, Seal, OpenExtent
//	append.go  the append family, all through the dependency graph and
//	           the IO scheduler:
//	             Append(ctx, stream, p, dep)               one payload, one chunk
//	             AppendPrefixed(ctx, stream, pre, p, dep)  one chunk of pre+p, joined
//	                                                       as the frame is built
//	             AppendSplit(ctx, stream, value, dep)      split across chunks
//	           each returns the locator(s) and the written and durable
//	           dependencies
//	read.go    Get(ctx, locs), GetChunk(ctx, loc), the buffer cache's
//	           write-through and DropCache
//	scan.go    Scan(ctx, extent, fn): every frame below the write pointer;
//	           Reset(ctx, extent): free an extent, its locators die
//	root.go    SetRoot(ctx, blob, dep) / Root(): the index layer's entry
//	           point in the superblock; WriteSlot(ctx); Expect()
//
// A chunk is written only once the dependency it is given is persistent;
// its written dependency is persistent once the chunk's bytes are flushed,
// and its durable dependency once a superblock covering it is too. Streams
// (data, evacuate, index, metadata) each append to their own open extent,
// and take a new one only while more free extents remain than the
// reservation ladder keeps from them (Stream.Reserved). Reads see a chunk
// at once (from the scheduler's queue until it is written), check the
// locator's generation and the write pointer, and go through the buffer
// cache for small frames.
//
// Words: a device flush is disk.Device.Flush (fdatasync); a slot write is
// a superblock slot written to the device (WriteSlot); dropping the cache
// empties it of clean pages (DropCache). "Reserve" is the ladder's: the
// free extents a stream leaves to the streams its appends wait on. (The
// IO scheduler's Reserve, room in its queue, is its own word.)
//
// After a crash, Open trusts nothing past a recovered write pointer, and
// seals every extent it recovered: new chunks go to free extents only.
//
// # Concurrency
//
// A Store is safe for concurrent use.
package chunk
