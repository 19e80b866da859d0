// Package extent splits a device into fixed-size extents and keeps, in
// memory, each extent's write pointer, generation and owner.
//
// An extent is written append-only: Append hands out the next bytes at the
// write pointer. Reset moves the pointer back to zero, increments the
// generation and frees the extent; every locator that named the old
// generation is rejected from then on (CheckRead), so reused space can never
// be mistaken for the data that used to live there. Reads at or beyond the
// write pointer are rejected too: nothing there is trusted.
//
// Extent 0 holds the superblock and is never appended to or reset.
//
// The Table is pure bookkeeping: it does no IO. The chunk store persists
// the table through the superblock and writes the bytes through the IO
// scheduler.
//
// # Concurrency
//
// A Table is safe for concurrent use.
package extent

import (
	"errors"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
)

// ID names an extent: the device's extent i covers bytes
// [i*ExtentBytes, (i+1)*ExtentBytes).
type ID uint32

// Owner says what an extent holds.
type Owner byte

// The owners.
const (
	Free     = Owner(format.OwnerFree)
	Data     = Owner(format.OwnerData)
	Index    = Owner(format.OwnerIndex)
	Metadata = Owner(format.OwnerMetadata)
	Super    = Owner(format.OwnerSuper)
)

func (o Owner) String() string {
	switch o {
	case Free:
		return "free"
	case Data:
		return "data"
	case Index:
		return "index"
	case Metadata:
		return "metadata"
	case Super:
		return "super"
	}
	return fmt.Sprintf("owner(%d)", byte(o))
}

// Errors. Callers wrap them with the extent and offset.
var (
	// ErrStale: a locator names a generation the extent has left (it was
	// reset since).
	ErrStale = errors.New("generation is stale (extent was reset)")
	// ErrBeyondWritePointer: a read reaches at or past the write pointer.
	ErrBeyondWritePointer = errors.New("read beyond write pointer")
	// ErrFull: an append does not fit in the extent.
	ErrFull = errors.New("extent full")
	// ErrNoFreeExtent: every extent is owned.
	ErrNoFreeExtent = errors.New("no free extent")
)

// Limits on the geometry.
const (
	// ExtentBytesMin is the smallest extent: room for a few frames.
	ExtentBytesMin = 4 << 10
	// ExtentBytesMax keeps offsets within an extent in 32 bits (locators
	// store them so).
	ExtentBytesMax = 1 << 31
	// CountMin: the superblock extent plus at least two extents to write to.
	CountMin = 3
)

// Geometry is how a device is divided.
type Geometry struct {
	ExtentBytes int64  // size of every extent; a multiple of SectorSize
	Count       uint32 // number of extents, extent 0 included
	SectorSize  int    // the device's atomic write unit
}

// NewGeometry divides a device of deviceSize bytes into extents of
// extentBytes. Trailing bytes that do not fill an extent are unused.
func NewGeometry(deviceSize, extentBytes int64, sectorSize int) (Geometry, error) {
	var errs []error
	if sectorSize <= 0 || sectorSize&(sectorSize-1) != 0 {
		errs = append(errs, fmt.Errorf("sector size %d is not a power of two", sectorSize))
	}
	if extentBytes < ExtentBytesMin || extentBytes > ExtentBytesMax {
		errs = append(errs, fmt.Errorf("extent size %d is outside [%d, %d]", extentBytes, ExtentBytesMin, ExtentBytesMax))
	} else if sectorSize > 0 && extentBytes%int64(sectorSize) != 0 {
		errs = append(errs, fmt.Errorf("extent size %d is not a multiple of the sector size %d", extentBytes, sectorSize))
	}
	if len(errs) > 0 {
		return Geometry{}, fmt.Errorf("extent: %w", errors.Join(errs...))
	}
	n := deviceSize / extentBytes
	if n < CountMin {
		return Geometry{}, fmt.Errorf("extent: a device of %d bytes holds %d extents of %d bytes; at least %d are needed", deviceSize, n, extentBytes, CountMin)
	}
	if n > 1<<32-1 {
		n = 1<<32 - 1
	}
	return Geometry{ExtentBytes: extentBytes, Count: uint32(n), SectorSize: sectorSize}, nil
}

// Base is the device offset of extent id's first byte.
func (g Geometry) Base(id ID) int64 { return int64(id) * g.ExtentBytes }

// Valid reports whether id names an extent of this geometry.
func (g Geometry) Valid(id ID) bool { return uint32(id) < g.Count }

// Info is one extent's state.
type Info struct {
	Generation   uint32
	Owner        Owner
	WritePointer int64
}

// Table is the in-memory state of every extent.
type Table struct {
	geo Geometry
	mu  conc.Mutex
	ext []Info
	// free counts the extents owned by Free. Every put asks (the space
	// check), so it is O(1) and read without the lock; it changes under
	// the lock.
	free conc.Int64
}

// NewTable returns a table for geo with every extent free at generation 0,
// except extent 0, owned by the superblock.
func NewTable(geo Geometry) *Table {
	t := &Table{geo: geo, ext: make([]Info, geo.Count)}
	t.free.Store(int64(geo.Count) - 1)
	t.ext[0].Owner = Super
	return t
}

// Geometry returns the table's geometry.
func (t *Table) Geometry() Geometry { return t.geo }

// Restore sets an extent's state, as recovered from the superblock.
func (t *Table) Restore(id ID, info Info) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mustValid(id)
	if t.ext[id].Owner == Free {
		t.free.Add(-1)
	}
	if info.Owner == Free {
		t.free.Add(1)
	}
	t.ext[id] = info
}

// Info returns an extent's state.
func (t *Table) Info(id ID) Info {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mustValid(id)
	return t.ext[id]
}

// Snapshot returns every extent's state, indexed by ID.
func (t *Table) Snapshot() []Info { return t.SnapshotInto(nil) }

// SnapshotInto is Snapshot reusing dst's storage.
func (t *Table) SnapshotInto(dst []Info) []Info {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append(dst[:0], t.ext...)
}

// Allocate gives the lowest-numbered free extent to owner and returns it
// with its generation. Lowest first keeps runs deterministic.
func (t *Table) Allocate(owner Owner) (ID, uint32, error) {
	if owner == Free || owner == Super {
		panic(fmt.Sprintf("extent: allocate to %v", owner))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := 1; i < len(t.ext); i++ {
		if t.ext[i].Owner == Free {
			if t.ext[i].WritePointer != 0 {
				panic(fmt.Sprintf("extent: free extent %d has write pointer %d", i, t.ext[i].WritePointer))
			}
			t.ext[i].Owner = owner
			t.free.Add(-1)
			return ID(i), t.ext[i].Generation, nil
		}
	}
	return 0, 0, ErrNoFreeExtent
}

// FreeCount returns the number of free extents.
func (t *Table) FreeCount() int { return int(t.free.Load()) }

// CheckFree reports whether the free count (FreeCount, which the space
// check reads without the lock) matches the extents owned by Free; an
// error names both.
func (t *Table) CheckFree() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, x := range t.ext {
		if x.Owner == Free {
			n++
		}
	}
	if c := t.free.Load(); c != int64(n) {
		return fmt.Errorf("extent: free count %d, but %d extents are free", c, n)
	}
	return nil
}

// Append reserves n bytes at extent id's write pointer, at generation gen,
// and returns their offset within the extent. It fails with ErrStale if the
// extent has been reset since gen, and with ErrFull if n bytes do not fit.
func (t *Table) Append(id ID, gen uint32, n int64) (int64, error) {
	if n <= 0 {
		panic(fmt.Sprintf("extent: append of %d bytes", n))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mustValid(id)
	e := &t.ext[id]
	if e.Generation != gen {
		return 0, fmt.Errorf("extent %d: append at generation %d, extent is at %d: %w", id, gen, e.Generation, ErrStale)
	}
	if e.Owner == Free || e.Owner == Super {
		panic(fmt.Sprintf("extent: append to %v extent %d", e.Owner, id))
	}
	if e.WritePointer+n > t.geo.ExtentBytes {
		return 0, fmt.Errorf("extent %d: %d bytes at %d: %w", id, n, e.WritePointer, ErrFull)
	}
	off := e.WritePointer
	e.WritePointer += n
	return off, nil
}

// Reset returns extent id to the free pool: write pointer 0, generation
// incremented. It returns the new generation.
func (t *Table) Reset(id ID) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mustValid(id)
	if id == 0 {
		panic("extent: reset of the superblock extent")
	}
	e := &t.ext[id]
	e.Generation++
	e.WritePointer = 0
	if e.Owner != Free {
		t.free.Add(1)
	}
	e.Owner = Free
	return e.Generation
}

// CheckRead reports whether n bytes at off may be read from extent id at
// generation gen: the generation must be current and the bytes must lie
// below the write pointer.
func (t *Table) CheckRead(id ID, gen uint32, off, n int64) error {
	if !t.geo.Valid(id) {
		return fmt.Errorf("extent %d: no such extent (device has %d)", id, t.geo.Count)
	}
	t.mu.Lock()
	e := t.ext[id]
	t.mu.Unlock()
	if e.Generation != gen {
		return fmt.Errorf("extent %d: read at generation %d, extent is at %d: %w", id, gen, e.Generation, ErrStale)
	}
	if off < 0 || n < 0 || off+n > e.WritePointer {
		return fmt.Errorf("extent %d: read of %d bytes at %d, write pointer %d: %w", id, n, off, e.WritePointer, ErrBeyondWritePointer)
	}
	return nil
}

// Generation returns extent id's current generation.
func (t *Table) Generation(id ID) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ext[id].Generation
}

func (t *Table) mustValid(id ID) {
	if !t.geo.Valid(id) {
		panic(fmt.Sprintf("extent: extent %d out of range (count %d)", id, t.geo.Count))
	}
}
