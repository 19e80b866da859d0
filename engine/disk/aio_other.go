//go:build !linux

package disk

// aio is empty where there is no native asynchronous IO.
type aio struct{}

func (a *aio) destroy() {}

// WriteBatch writes ws one after another; see BatchWriter.
func (d *File) WriteBatch(ws []BatchWrite, depth int, prepare func(i int)) {
	writeEach(d, ws, prepare)
}
