package iosched

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// Class separates client work from the engine's own.
type Class uint8

// The classes.
const (
	Foreground Class = iota // client puts
	Background              // reclamation, compaction, index flushes
)

// Options configure a Scheduler. The zero value is valid.
type Options struct {
	// Policy is the scheduling policy. Default PolicyCoalesce.
	Policy Policy
	// Observer hears the scheduler's events: coalesced writes, the
	// policy's rounds, writers blocked on a full queue. Default nil.
	Observer engine.Observer
	// IOBytesMax bounds one device write. A run of coalesced appends longer
	// than this is split at sector boundaries into several writes, issued
	// concurrently. Default 1 MiB: large enough to reach a device's
	// sequential bandwidth, small enough that several are in flight.
	IOBytesMax int
	// IODepth is how many device writes a round keeps in flight at once
	// (the appends of different extents, the pieces of a long run of one
	// extent, and the superblock). Default 8: a virtual SSD reaches its
	// bandwidth only with several writes in flight, and a durable-put
	// round's data, index, metadata and superblock writes then cost one
	// write latency, not four (harness bench fill-64k at io-depth 4, 8
	// and 16; figures in docs/PERFORMANCE.md). On a device that is a disk.BatchWriter (a File on Linux) the
	// scheduler's goroutine keeps them in flight itself; otherwise
	// IODepth-1 worker goroutines write beside it.
	IODepth int
	// RoundBytesMax bounds the bytes issued in one round before the
	// scheduler considers a flush. Default 32 MiB: a round's last writes
	// drain the device's queue before the next round refills it, which
	// costs a 64 KiB fill bandwidth when rounds are small (harness bench
	// fill-64k; figures in docs/PERFORMANCE.md). Rounds this large only form
	// when that much is queued; a Sync behind one waits for it.
	RoundBytesMax int64
	// QueueBytesMax bounds the bytes queued and not yet issued; Reserve
	// blocks beyond it. Default 64 MiB.
	QueueBytesMax int64
	// FlushBytes starts a flush once this many bytes are issued and not
	// flushed, even if nobody is waiting. Default 32 MiB.
	FlushBytes int64
	// FlushInterval is the cadence: unflushed writes and superblock changes
	// are made durable at most this long after they happen, even if nobody
	// waits for them. Default 50ms.
	FlushInterval conc.Duration
	// Clock times the cadence and the metrics. Default conc.DefaultClock().
	Clock conc.Clock
	// AlignBytes, a multiple of the sector size, is where a region's
	// first device write starts: at the AlignBytes boundary at or below
	// its first byte (rewriting the extent's bytes from there). Default:
	// the sector size.
	AlignBytes int
	// Written, if set, is called after a region's device writes returned:
	// extent e at generation gen holds buf's bytes from offset start
	// (AlignBytes aligned), with data up to dataEnd (the bytes from
	// dataEnd on are padding) and cache[i] saying whether the write at
	// offsets [cache[i].Lo, cache[i].Hi) asked to be cached (Write.Cache).
	// buf is reused afterwards: Written must copy what it keeps.
	Written func(e extent.ID, gen uint32, start int64, buf []byte, dataEnd int64, cache []Span)
	// Recycle, if set, takes back the frames of writes that are on the
	// device: once a round is published nothing reads a write's Frame
	// (ReadUnissued and Unissued copy under the lock that publishing
	// takes), so the scheduler hands them back, clears Write.Frame, and
	// the caller may reuse the buffers for new frames.
	Recycle func(frames [][]byte)
}

// Span is a byte range [Lo, Hi) of an extent.
type Span struct{ Lo, Hi int64 }

// Defaults.
const (
	IOBytesMaxDefault    = 1 << 20
	IODepthDefault       = 8
	RoundBytesMaxDefault = 32 << 20
	QueueBytesMaxDefault = 64 << 20
	FlushBytesDefault    = 32 << 20
	FlushIntervalDefault = 50 * conc.Millisecond
)

// EnsureDefaults fills in zero fields.
func (o *Options) EnsureDefaults() {
	if o.Policy == "" {
		o.Policy = PolicyCoalesce
	}
	if o.IOBytesMax == 0 {
		o.IOBytesMax = IOBytesMaxDefault
	}
	if o.IODepth == 0 {
		o.IODepth = IODepthDefault
	}
	if o.RoundBytesMax == 0 {
		o.RoundBytesMax = RoundBytesMaxDefault
	}
	if o.QueueBytesMax == 0 {
		o.QueueBytesMax = QueueBytesMaxDefault
	}
	if o.FlushBytes == 0 {
		o.FlushBytes = FlushBytesDefault
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = FlushIntervalDefault
	}
	if o.Clock == nil {
		o.Clock = conc.DefaultClock()
	}
}

// Validate reports every invalid field.
func (o Options) Validate() error {
	var errs []error
	if !slices.Contains(Policies(), o.Policy) {
		errs = append(errs, fmt.Errorf("policy %q: want one of %v", o.Policy, Policies()))
	}
	if o.IOBytesMax < 0 || o.RoundBytesMax < 0 || o.QueueBytesMax < 0 || o.FlushBytes < 0 || o.IODepth < 0 {
		errs = append(errs, errors.New("byte limits must not be negative"))
	}
	if o.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("flush interval %v is negative", o.FlushInterval))
	}
	if o.AlignBytes < 0 || o.AlignBytes&(o.AlignBytes-1) != 0 {
		errs = append(errs, fmt.Errorf("align bytes %d is not a power of two", o.AlignBytes))
	}
	if len(errs) > 0 {
		return fmt.Errorf("iosched: %w", errors.Join(errs...))
	}
	return nil
}
