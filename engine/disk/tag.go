package disk

import "time"

// IOSource is the queue an IO came from, as an IO scheduler knows it and
// a device cannot tell: a recording device (engine/iotrace) keeps it.
type IOSource uint8

// The sources.
const (
	SourceUnknown    IOSource = iota
	SourceForeground          // client data
	SourceBackground          // the engine's own: index runs, their metadata
	SourceSuperblock          // a superblock slot
	SourceReclaim             // data moved by reclamation
)

// IOTag describes a write for a device that records it.
type IOTag struct {
	Source IOSource
	// DepWait is how long the write's oldest append waited for its
	// dependencies to be durable before it could be issued (0: none).
	DepWait time.Duration
	// Queued is how long that append then sat in the scheduler's queue
	// before the write was issued (dependency wait excluded).
	Queued time.Duration
	// Phase is the engine phase whose work the write is (an
	// engine.Phase: "compaction", "index-flush"...), "" if unknown: a
	// disk.Faulty passes it to OnFault with the IO it fails.
	Phase string
}

// TaggedWriter is a Device that takes a write's IOTag with it: an IO
// scheduler writes through WriteAtTagged when its device has it.
type TaggedWriter interface {
	Device
	WriteAtTagged(p []byte, off int64, tag IOTag) (int, error)
}
