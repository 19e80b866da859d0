// Package chunk is shardstore's chunk store: all persistent data, the
// index's own runs included, is stored as framed chunks appended to extents.
//
// # Frames
//
// A frame is magic, version, kind, UUID, length, CRC-32C, payload and the
// UUID again (FORMAT.md has the bytes). AppendFrame encodes one; DecodeFrame
// decodes untrusted bytes into a verified frame or a *FrameError wrapping
// engine.ErrCorruption, never panicking. ScanBytes walks the frames packed
// in an extent for reclamation, resynchronising after a corrupt one without
// skipping a valid frame.
//
// # Store
//
// Store ties the parts together on a disk.Device:
//
//	Format(dev, opts)                 write an empty superblock
//	Open(dev, opts)                   recover from the newest valid superblock
//	PutChunk(ctx, stream, p, dep)     append one chunk    -> Locator, Dependency
//	Put(ctx, stream, value, dep)      split across chunks -> []Locator, Dependency
//	GetChunk(ctx, loc) / Get(ctx, locs)
//	Scan(ctx, extent, fn)             every frame below the write pointer
//	Reset(ctx, extent)                free an extent; its locators die
//	SetRoot(ctx, blob, dep) / Root()  the index layer's entry point
//	Sync(ctx), FlushSuperblock(ctx), Close()
//
// A chunk is written only once the dependency it is given is persistent,
// and the Dependency it returns is persistent once the chunk is durable and
// a superblock covering it is. Streams (data, evacuate, index, metadata)
// each append to their own open extent. Reads see a chunk at once (from the
// scheduler's queue until it is written), check the locator's generation
// and the write pointer, and go through the buffer cache for small frames.
//
// After a crash, Open trusts nothing past a recovered write pointer, and
// seals every extent it recovered: new chunks go to free extents only.
//
// # Concurrency
//
// A Store is safe for concurrent use.
package chunk
