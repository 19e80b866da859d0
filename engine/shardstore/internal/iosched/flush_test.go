package iosched

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
)

// versionMeta is a Metadata whose state is a version number: Prepare
// writes the current one, Persisted records it.
type versionMeta struct {
	mu                   sync.Mutex
	version, persisted   int
	prepares, persisteds int
	buf                  []byte
}

func (m *versionMeta) change() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.version++
}

func (m *versionMeta) Want() (bool, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version > m.persisted, false
}

func (m *versionMeta) Prepare() ([]byte, int64, any, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.version == m.persisted {
		return nil, 0, nil, false
	}
	return m.buf, 0, m.version, true
}

func (m *versionMeta) DataIssued(extent.ID, uint32, int64, [][]byte) {}
func (m *versionMeta) Confirm() bool                                 { return false }

func (m *versionMeta) Persisted(tok any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.persisted = max(m.persisted, tok.(int))
}

// gateDevice blocks the first data write (past the first extent) until
// release is closed, after closing entered, and the second superblock
// write likewise with entered2 and release2.
type gateDevice struct {
	*disk.Mem
	mu                 sync.Mutex
	slots              int
	once, once2        sync.Once
	entered, release   chan struct{}
	entered2, release2 chan struct{}
	open1, open2       sync.Once
}

func (d *gateDevice) openData()  { d.open1.Do(func() { close(d.release) }) }
func (d *gateDevice) openSlot2() { d.open2.Do(func() { close(d.release2) }) }

func (d *gateDevice) WriteAt(p []byte, off int64) (int, error) {
	if off >= 64<<10 {
		d.once.Do(func() {
			close(d.entered)
			<-d.release
		})
	} else {
		d.mu.Lock()
		d.slots++
		n := d.slots
		d.mu.Unlock()
		if n == 2 {
			d.once2.Do(func() {
				close(d.entered2)
				<-d.release2
			})
		}
	}
	return d.Mem.WriteAt(p, off)
}

// TestFlushWaitsForSlotPreparedAfterCall: Flush returns once a flush that
// started after the call has finished, so metadata changed before the call
// is persisted when it returns. A round's slot is prepared before the
// round's data writes; a Flush called while they are in flight must not be
// satisfied by that round's flush, whose slot predates the call.
func TestFlushWaitsForSlotPreparedAfterCall(t *testing.T) {
	ctx := context.Background()
	geo, _ := extent.NewGeometry(1<<20, 64<<10, 512)
	dev := &gateDevice{Mem: disk.NewMem(1<<20, 512), entered: make(chan struct{}), release: make(chan struct{}),
		entered2: make(chan struct{}), release2: make(chan struct{})}
	meta := &versionMeta{buf: disk.AlignedBuffer(512)}
	g := dep.New(dep.Options{})
	s, err := New(dev, geo, g, meta, Options{FlushInterval: 1 << 40, IODepth: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer dev.openSlot2() // before Close, which would write the slot
	defer dev.openData()

	// A round that carries a data write and a slot (version 1). The write
	// is held back by a gate until a waiter is registered on it (with
	// nothing to flush, the waiter alone starts no round); then the gate
	// opens and the metadata changes together, so the next round takes
	// the write, and flushes (someone waits) with a slot.
	if err := g.Admit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	gate := g.NewNode(dep.Dependency{}, dep.Chain{})
	node := g.NewNode(gate.Dependency(), dep.Chain{})
	if err := s.Reserve(ctx, 512); err != nil {
		t.Fatal(err)
	}
	s.Enqueue(&Write{Extent: 1, Offset: 0, Frame: make([]byte, 512), Node: node})
	waited := make(chan error, 1)
	go func() { waited <- node.Dependency().Wait(ctx) }()
	for g.Waiters() == 0 {
		time.Sleep(time.Millisecond)
	}
	meta.change()
	g.MarkDurable(gate)
	s.Kick()
	<-dev.entered // the slot is prepared, the data write in flight

	// Change the metadata and call Flush while the round is in flight.
	meta.change()
	flushed := make(chan error, 1)
	go func() { flushed <- s.Flush(ctx) }()
	for {
		s.mu.Lock()
		due := s.syncDone < s.syncTarget
		s.mu.Unlock()
		if due {
			break // Flush has chosen the flush it waits for
		}
		time.Sleep(time.Millisecond)
	}
	dev.openData()
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	// The round's flush is done. Flush must not return before a later
	// round persists version 2; that round is held at its slot write.
	early := func(err error) {
		meta.mu.Lock()
		defer meta.mu.Unlock()
		t.Fatalf("Flush returned (%v) with version %d persisted, want 2: it changed before the call", err, meta.persisted)
	}
	select {
	case err := <-flushed:
		early(err)
	case <-dev.entered2:
	}
	select {
	case err := <-flushed:
		early(err)
	case <-time.After(100 * time.Millisecond):
	}
	dev.openSlot2()
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	meta.mu.Lock()
	defer meta.mu.Unlock()
	if meta.persisted != 2 {
		t.Fatalf("Flush returned with version %d persisted, want 2", meta.persisted)
	}
}
