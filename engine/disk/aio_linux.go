package disk

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux native asynchronous IO (io_setup(2), io_submit(2)). With O_DIRECT
// the kernel queues the writes and returns; io_getevents waits for them.
// (Buffered files work too: io_submit then completes each write before it
// returns, which is WriteAt's behaviour.)

const (
	aioDepth      = 64 // writes in flight per file at most
	iocbCmdPwrite = 1
)

// iocb is struct iocb of linux/aio_abi.h (little-endian layout).
type iocb struct {
	data      uint64
	key       uint32
	rwFlags   int32
	opcode    uint16
	reqprio   int16
	fildes    uint32
	buf       uint64
	nbytes    uint64
	offset    int64
	reserved2 uint64
	flags     uint32
	resfd     uint32
}

// ioEvent is struct io_event.
type ioEvent struct {
	data uint64
	obj  uint64
	res  int64
	res2 int64
}

// aio is a File's asynchronous IO context, set up on the first batch.
type aio struct {
	mu     sync.Mutex
	ctx    uintptr
	failed bool // io_setup refused: write one at a time
	iocbs  []iocb
	ptr    [1]*iocb // io_submit's array: one write per call
	events []ioEvent
	// maxInflight is the most writes seen in flight at once (for tests).
	maxInflight int
}

func (a *aio) setup() bool {
	if a.ctx != 0 || a.failed {
		return a.ctx != 0
	}
	var ctx uintptr
	if _, _, e := unix.Syscall(unix.SYS_IO_SETUP, aioDepth, uintptr(unsafe.Pointer(&ctx)), 0); e != 0 {
		a.failed = true
		return false
	}
	a.ctx = ctx
	a.iocbs = make([]iocb, aioDepth)
	a.events = make([]ioEvent, aioDepth)
	return true
}

func (a *aio) destroy() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx != 0 {
		unix.Syscall(unix.SYS_IO_DESTROY, a.ctx, 0, 0)
		a.ctx = 0
	}
	a.failed = true
}

// WriteBatch writes ws with up to depth of them (at most aioDepth) in
// flight at once; see BatchWriter.
func (d *File) WriteBatch(ws []BatchWrite, depth int, prepare func(i int)) {
	d.aio.mu.Lock()
	defer d.aio.mu.Unlock()
	depth = min(depth, aioDepth)
	if len(ws) < 2 || depth < 2 || !d.aio.setup() {
		writeEach(d, ws, prepare)
		return
	}
	fd, err := d.fd()
	if err != nil {
		writeEach(d, ws, prepare) // each write reports the error
		return
	}
	a := &d.aio
	if cap(a.iocbs) < len(ws) {
		a.iocbs = make([]iocb, len(ws))
	}
	inflight := 0
	for i := range ws {
		for inflight >= depth {
			if !d.reap(ws, &inflight, 1) {
				break
			}
		}
		if prepare != nil {
			prepare(i)
		}
		w := &ws[i]
		w.N, w.Err = 0, nil
		if err := d.check("write", w.P, w.Off); err != nil {
			w.Err = err
			continue
		}
		d.writes.Add(1)
		d.bytesWritten.Add(int64(len(w.P)))
		if len(w.P) == 0 {
			continue
		}
		// The kernel copies the iocb when it is submitted; each write has
		// its own, so none is reused while a write is in flight.
		cb := &a.iocbs[:len(ws)][i]
		*cb = iocb{data: uint64(i), opcode: iocbCmdPwrite, fildes: uint32(fd),
			buf: uint64(uintptr(unsafe.Pointer(unsafe.SliceData(w.P)))), nbytes: uint64(len(w.P)), offset: w.Off}
		a.ptr[0] = cb
		for {
			n, _, e := unix.Syscall(unix.SYS_IO_SUBMIT, a.ctx, 1, uintptr(unsafe.Pointer(&a.ptr[0])))
			if e == unix.EINTR || e == unix.EAGAIN && inflight > 0 && d.reap(ws, &inflight, 1) {
				continue
			}
			if e != 0 || n != 1 {
				// Not queued: write it here (the error, if any, is the
				// write's own).
				w.N, w.Err = d.f.WriteAt(w.P, w.Off)
				if w.Err != nil {
					w.Err = d.ioErr("write", w.Off, len(w.P), w.Err)
				}
				break
			}
			inflight++
			a.maxInflight = max(a.maxInflight, inflight)
			break
		}
	}
	for inflight > 0 {
		if !d.reap(ws, &inflight, inflight) {
			// io_getevents itself failed: nothing more will be reported
			// for the writes in flight. Only a broken context does this.
			for i := range ws {
				if ws[i].N == 0 && ws[i].Err == nil && len(ws[i].P) > 0 {
					ws[i].Err = d.ioErr("write", ws[i].Off, len(ws[i].P), errors.New("asynchronous IO context failed"))
				}
			}
			break
		}
	}
	runtime.KeepAlive(ws)  // the kernel wrote from their buffers
	runtime.KeepAlive(d.f) // fd stays open
}

// reap waits for at least min of the writes in flight and records them.
func (d *File) reap(ws []BatchWrite, inflight *int, min int) bool {
	a := &d.aio
	for {
		n, _, e := unix.Syscall6(unix.SYS_IO_GETEVENTS, a.ctx, uintptr(min), uintptr(*inflight),
			uintptr(unsafe.Pointer(&a.events[0])), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return false
		}
		for _, ev := range a.events[:n] {
			w := &ws[ev.data]
			switch {
			case ev.res < 0:
				w.Err = d.ioErr("write", w.Off, len(w.P), unix.Errno(-ev.res))
			case int(ev.res) < len(w.P):
				// Short: finish it synchronously.
				m, err := d.f.WriteAt(w.P[ev.res:], w.Off+ev.res)
				w.N = int(ev.res) + m
				if err != nil {
					w.Err = d.ioErr("write", w.Off, len(w.P), err)
				}
			default:
				w.N = len(w.P)
			}
		}
		*inflight -= int(n)
		return true
	}
}

// fd returns the file's descriptor.
func (d *File) fd() (int, error) {
	rc, err := d.f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return -1, fmt.Errorf("disk: %s: %w", d.path, err)
	}
	return fd, nil
}
