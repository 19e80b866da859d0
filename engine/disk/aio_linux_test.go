package disk

import (
	"path/filepath"
	"testing"
)

const aioDepthForTest = aioDepth

// TestWriteBatchUsesAIO: on Linux a batch goes through an asynchronous IO
// context (the fallback, one write after another, would pass the other
// tests too) with up to depth writes in flight, and Close releases it.
func TestWriteBatchUsesAIO(t *testing.T) {
	f := openFile(t, filepath.Join(directDir(t), "aio.img"), FileOptions{Size: 1 << 20, Create: true, Direct: true})
	ws := []BatchWrite{{P: AlignedBuffer(4096), Off: 0}, {P: AlignedBuffer(4096), Off: 8192}}
	f.WriteBatch(ws, 4, nil)
	if ws[0].Err != nil || ws[1].Err != nil {
		t.Fatal(ws[0].Err, ws[1].Err)
	}
	if f.aio.ctx == 0 || f.aio.failed {
		t.Fatalf("no asynchronous IO context after a batch (failed %v)", f.aio.failed)
	}
	// depth bounds the writes in flight, and is reached.
	ws = make([]BatchWrite, 40)
	for i := range ws {
		ws[i] = BatchWrite{P: AlignedBuffer(4096), Off: int64(i) * 4096}
	}
	f.aio.maxInflight = 0
	f.WriteBatch(ws, 3, nil)
	for i, w := range ws {
		if w.Err != nil || w.N != 4096 {
			t.Fatalf("write %d: n %d err %v", i, w.N, w.Err)
		}
	}
	if f.aio.maxInflight != 3 {
		t.Errorf("%d writes in flight at most, want depth 3", f.aio.maxInflight)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if f.aio.ctx != 0 {
		t.Error("Close kept the asynchronous IO context")
	}
}
