package disk

// BatchWrite is one write of a batch: P at Off. WriteBatch sets N and Err.
type BatchWrite struct {
	P   []byte
	Off int64
	N   int
	Err error
}

// BatchWriter is a Device that keeps several writes in flight from one
// goroutine. WriteBatch writes every ws[i], in order, with up to depth of
// them in flight at once (the next is submitted as soon as one completes),
// and returns when all have completed, each with its own N and Err, as
// WriteAt would set them. If prepare is not nil it is called with i just
// before ws[i] is submitted (ws[i].P may be filled then: the device works
// on the writes already submitted meanwhile).
//
// A File implements it with Linux native asynchronous IO (io_submit and
// io_getevents): one goroutine submits a round's writes and waits for them
// in two system calls, where handing writes to other goroutines costs a
// wake-up each (tens of µs on a small virtual machine, and a goroutine in
// a system call keeps its P). Elsewhere, or where the kernel refuses, it
// writes them one after another.
type BatchWriter interface {
	Device
	WriteBatch(ws []BatchWrite, depth int, prepare func(i int))
}

// writeEach is WriteBatch without overlap.
func writeEach(d Device, ws []BatchWrite, prepare func(i int)) {
	for i := range ws {
		if prepare != nil {
			prepare(i)
		}
		ws[i].N, ws[i].Err = d.WriteAt(ws[i].P, ws[i].Off)
	}
}

var _ BatchWriter = (*File)(nil)
