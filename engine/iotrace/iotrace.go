// Package iotrace records every IO an engine's device serves — when, where,
// how long, of what kind, from which queue, after how long a dependency
// wait — in a compact binary file, and reads it back for reports (IO size
// histogram, queue depth over time, seek distances, flush cadence, the
// latency breakdown of writes).
//
// # Format (version 2)
//
// A file is a header and records, all integers little-endian or unsigned
// varints (encoding/binary's Uvarint):
//
//	header:  "GIOTRACE" (8 bytes), version uint16, clock uint8 (0 wall,
//	         1 virtual: a simulated device's), reserved uint8
//	record:  kind byte: bits 0-1 the op (0 read, 1 write, 2 flush), bits
//	         2-4 the source (0 unknown, 1 foreground, 2 background,
//	         3 superblock, 4 reclamation)
//	         uvarint: start, in ns after the previous record's start (the
//	                  first: after the recording began)
//	         uvarint: service time in ns (from the call to its return: on
//	                  a simulated device, queueing behind the IOs before it
//	                  and the model's service time)
//	         uvarint: offset in bytes
//	         uvarint: length in bytes
//	         uvarint: dependency wait in ns before the IO was issued (0:
//	                  none or unknown)
//	         uvarint: IOs in flight at the device when it started, itself
//	                  included
//	         uvarint: scheduler queue time in ns: from the oldest append's
//	                  enqueue to the IO's issue, dependency wait excluded
//	                  (0: unknown)
//
// Version 1 is version 2 with two bits of source (no reclamation) and no
// scheduler queue time; a reader reads both. A reader checks the magic and the version (a newer
// version is refused, not guessed at); a file that ends inside a record
// is a *TruncatedError naming the file and the record, and what was read
// before it is returned with it.
//
// # What is recorded
//
// Recorder wraps a disk.Device and records every ReadAt, WriteAt and Flush
// through it, timed by a clock (the wall clock, or a simulated device's
// virtual clock). shardstore's IO scheduler writes through WriteAtTagged
// (disk.TaggedWriter), which carries each write's queue (the stream its
// appends came from: client data, index runs and metadata, reclamation's
// evacuations, the superblock) and the longest dependency wait of the
// appends it covers. Reads and flushes have no source; an untagged write
// below Options.SuperblockBytes is marked as the superblock's.
package iotrace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// Format constants: part of the file format.
const (
	Magic   = "GIOTRACE"
	Version = 2
)

// Op is an IO's kind.
type Op uint8

// The kinds.
const (
	OpRead Op = iota
	OpWrite
	OpFlush
)

func (o Op) String() string {
	switch o {
	case OpRead:
		return "read"
	case OpWrite:
		return "write"
	case OpFlush:
		return "flush"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Source is the queue an IO came from.
type Source uint8

// The sources.
const (
	Unknown Source = iota
	Foreground
	Background
	Superblock
	Reclamation
	sourceCount
)

// Sources are the sources in order, for reports.
var Sources = []Source{Unknown, Foreground, Background, Superblock, Reclamation}

func (s Source) String() string {
	if s >= sourceCount {
		return fmt.Sprintf("Source(%d)", uint8(s))
	}
	return [...]string{"unknown", "foreground", "background", "superblock", "reclamation"}[s]
}

// sourceOf maps a write's disk.IOSource onto a trace's.
func sourceOf(s disk.IOSource) Source {
	switch s {
	case disk.SourceForeground:
		return Foreground
	case disk.SourceBackground:
		return Background
	case disk.SourceSuperblock:
		return Superblock
	case disk.SourceReclaim:
		return Reclamation
	}
	return Unknown
}

// Record is one IO.
type Record struct {
	Start    time.Duration // since the recording began
	Service  time.Duration
	Op       Op
	Source   Source
	Off      int64
	Len      int
	DepWait  time.Duration
	InFlight int // IOs at the device when it started, itself included
	// Queued is the time the IO's oldest append sat in the IO scheduler's
	// queue, ready, before the IO was issued.
	Queued time.Duration
}

// Header is a file's header.
type Header struct {
	Version int
	// Virtual says the times are a simulated device's virtual time.
	Virtual bool
}

// Writer writes a trace.
type Writer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	c    io.Closer
	last time.Duration
	n    int64
	buf  [1 + 7*binary.MaxVarintLen64]byte
	err  error
}

// NewWriter writes the header to w and returns a Writer; Close flushes it
// and closes w if it is an io.Closer.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var hdr [12]byte
	copy(hdr[:], Magic)
	binary.LittleEndian.PutUint16(hdr[8:], Version)
	if h.Virtual {
		hdr[10] = 1
	}
	if _, err := bw.Write(hdr[:]); err != nil {
		return nil, fmt.Errorf("iotrace: write header: %w", err)
	}
	tw := &Writer{w: bw}
	if c, ok := w.(io.Closer); ok {
		tw.c = c
	}
	return tw, nil
}

// Add appends r. Records must come in start order; the first error sticks
// and is returned by Close.
func (t *Writer) Add(r Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	delta := r.Start - t.last
	if delta < 0 {
		delta = 0 // concurrent IOs timed out of order by a wall clock
	} else {
		t.last = r.Start
	}
	b := t.buf[:0]
	b = append(b, byte(r.Op&3)|byte(r.Source&7)<<2)
	b = binary.AppendUvarint(b, uint64(delta))
	b = binary.AppendUvarint(b, uint64(max(r.Service, 0)))
	b = binary.AppendUvarint(b, uint64(max(r.Off, 0)))
	b = binary.AppendUvarint(b, uint64(max(r.Len, 0)))
	b = binary.AppendUvarint(b, uint64(max(r.DepWait, 0)))
	b = binary.AppendUvarint(b, uint64(max(r.InFlight, 0)))
	b = binary.AppendUvarint(b, uint64(max(r.Queued, 0)))
	if _, err := t.w.Write(b); err != nil {
		t.err = fmt.Errorf("iotrace: write record %d: %w", t.n, err)
	}
	t.n++
}

// Close flushes the trace and closes the underlying writer.
func (t *Writer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.err
	if ferr := t.w.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("iotrace: flush: %w", ferr)
	}
	if t.c != nil {
		if cerr := t.c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Errors of Read.
var (
	ErrNotTrace = errors.New("not an IO trace")
	ErrVersion  = errors.New("unsupported IO trace version")
)

// TruncatedError is a trace that ends inside a record.
type TruncatedError struct {
	Name   string
	Record int
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("iotrace: %s: truncated inside record %d (the recording did not finish: the engine was not closed); the %d records before it were read", e.Name, e.Record, e.Record)
}

// Read reads a whole trace from r; name names it in errors. On a
// *TruncatedError the records before the cut are returned with it.
func Read(r io.Reader, name string) (Header, []Record, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [12]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Header{}, nil, fmt.Errorf("iotrace: %s: %d-byte header cut short: %w", name, len(hdr), ErrNotTrace)
		}
		return Header{}, nil, fmt.Errorf("iotrace: %s: %w", name, err)
	}
	if string(hdr[:8]) != Magic {
		return Header{}, nil, fmt.Errorf("iotrace: %s: no %q magic: %w", name, Magic, ErrNotTrace)
	}
	h := Header{Version: int(binary.LittleEndian.Uint16(hdr[8:])), Virtual: hdr[10] == 1}
	if h.Version < 1 || h.Version > Version {
		return h, nil, fmt.Errorf("iotrace: %s: version %d, this harness reads version %d: %w", name, h.Version, Version, ErrVersion)
	}
	var recs []Record
	var at time.Duration
	for {
		kind, err := br.ReadByte()
		if err == io.EOF {
			return h, recs, nil
		}
		if err != nil {
			return h, recs, fmt.Errorf("iotrace: %s: %w", name, err)
		}
		var v [7]uint64
		fields := len(v)
		if h.Version == 1 {
			fields = 6
		}
		for i := range v[:fields] {
			if v[i], err = binary.ReadUvarint(br); err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					return h, recs, &TruncatedError{Name: name, Record: len(recs)}
				}
				return h, recs, fmt.Errorf("iotrace: %s: record %d: %w", name, len(recs), err)
			}
		}
		at += time.Duration(v[0])
		srcMask := byte(7)
		if h.Version == 1 {
			srcMask = 3
		}
		recs = append(recs, Record{Start: at, Service: time.Duration(v[1]), Op: Op(kind & 3), Source: Source(kind >> 2 & srcMask),
			Off: int64(v[2]), Len: int(v[3]), DepWait: time.Duration(v[4]), InFlight: int(v[5]), Queued: time.Duration(v[6])})
	}
}

// ReadFile reads the trace in file.
func ReadFile(file string) (Header, []Record, error) {
	f, err := os.Open(file)
	if err != nil {
		return Header{}, nil, fmt.Errorf("iotrace: %w", err)
	}
	defer f.Close()
	return Read(f, file)
}

// Now reads a clock: time since the recording began.
type Now func() time.Duration

// Recorder is a disk.Device that records every IO through it.
type Recorder struct {
	disk.Device
	w   *Writer
	sb  int64
	now Now

	mu       sync.Mutex
	inFlight int
}

// RecorderOptions configure a Recorder.
type RecorderOptions struct {
	// Now times the IOs (default: the wall clock since NewRecorder).
	Now Now
	// SuperblockBytes: writes below this offset are the superblock's
	// (default 0: none marked).
	SuperblockBytes int64
}

// NewRecorder records dev's IOs into w.
func NewRecorder(dev disk.Device, w *Writer, o RecorderOptions) *Recorder {
	if o.Now == nil {
		start := time.Now()
		o.Now = func() time.Duration { return time.Since(start) }
	}
	return &Recorder{Device: dev, w: w, sb: o.SuperblockBytes, now: o.Now}
}

func (r *Recorder) begin() (time.Duration, int) {
	r.mu.Lock()
	r.inFlight++
	n := r.inFlight
	r.mu.Unlock()
	return r.now(), n
}

func (r *Recorder) end(op Op, off int64, n int, start time.Duration, inFlight int, tag disk.IOTag) {
	r.mu.Lock()
	r.inFlight--
	r.mu.Unlock()
	src := sourceOf(tag.Source)
	if src == Unknown && op == OpWrite && off < r.sb {
		src = Superblock
	}
	r.w.Add(Record{Start: start, Service: r.now() - start, Op: op, Source: src, Off: off, Len: n, DepWait: tag.DepWait, InFlight: inFlight, Queued: tag.Queued})
}

func (r *Recorder) ReadAt(p []byte, off int64) (int, error) {
	start, inf := r.begin()
	n, err := r.Device.ReadAt(p, off)
	r.end(OpRead, off, len(p), start, inf, disk.IOTag{})
	return n, err
}

func (r *Recorder) WriteAt(p []byte, off int64) (int, error) {
	return r.WriteAtTagged(p, off, disk.IOTag{})
}

// WriteAtTagged is WriteAt, recording the write's queue and dependency
// wait (disk.TaggedWriter).
func (r *Recorder) WriteAtTagged(p []byte, off int64, tag disk.IOTag) (int, error) {
	start, inf := r.begin()
	n, err := r.Device.WriteAt(p, off)
	r.end(OpWrite, off, len(p), start, inf, tag)
	return n, err
}

func (r *Recorder) Flush() error {
	start, inf := r.begin()
	err := r.Device.Flush()
	r.end(OpFlush, 0, 0, start, inf, disk.IOTag{})
	return err
}

// Close closes the device, then the trace.
func (r *Recorder) Close() error {
	err := r.Device.Close()
	if werr := r.w.Close(); err == nil {
		err = werr
	}
	return err
}
