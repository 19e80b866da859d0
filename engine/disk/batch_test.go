package disk

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// TestFileWriteBatch: a batch of more writes than one submission holds,
// with and without O_DIRECT, lands every write where it belongs, calls
// prepare for each in order before it is submitted (buffers filled there
// are what is written), reports a misaligned or out-of-range write as that
// write's own error without failing the others, and after Close reports
// ErrClosed for each.
func TestFileWriteBatch(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) {
			dir := t.TempDir()
			if direct {
				dir = directDir(t)
			}
			const size = 4 << 20
			f := openFile(t, filepath.Join(dir, fmt.Sprintf("batch-%v.img", direct)), FileOptions{Size: size, Create: true, Direct: direct})
			const n = aioDepthForTest + 36
			ws := make([]BatchWrite, n)
			for i := range ws {
				// Every other write twice as long, in reverse order of
				// offsets, so completions come back out of order.
				l := 4096 * (1 + i%2)
				ws[i] = BatchWrite{P: AlignedBuffer(l), Off: int64(n-1-i) * 8192}
			}
			ws[7].Off = n*8192 + 512 // past the others; misaligned under O_DIRECT only
			ws[11].Off = size - 4096 + 8192
			next := 0
			f.WriteBatch(ws, 8, func(i int) {
				if i != next {
					t.Fatalf("prepare(%d), want prepare(%d)", i, next)
				}
				next++
				copy(ws[i].P, fill(i, ws[i].Off, len(ws[i].P)))
			})
			if next != n {
				t.Fatalf("prepare called %d times, want %d", next, n)
			}
			for i, w := range ws {
				switch {
				case i == 11:
					if !errors.Is(w.Err, ErrOutOfRange) {
						t.Errorf("write %d past the end: err %v", i, w.Err)
					}
					continue
				case i == 7 && direct:
					if !errors.Is(w.Err, ErrMisaligned) {
						t.Errorf("misaligned direct write %d: err %v", i, w.Err)
					}
					continue
				}
				if w.Err != nil || w.N != len(w.P) {
					t.Fatalf("write %d: n %d err %v", i, w.N, w.Err)
				}
				got := AlignedBuffer(len(w.P))
				if _, err := f.ReadAt(got, w.Off); err != nil || !bytes.Equal(got, w.P) {
					t.Fatalf("write %d at %d: read back %v, equal %v", i, w.Off, err, bytes.Equal(got, w.P))
				}
			}
			if st := f.Stats(); st.Writes != n-1-direct01(direct) {
				t.Errorf("%d writes counted, want %d", st.Writes, n-1-direct01(direct))
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			ws = ws[:3]
			ws[0].Off, ws[1].Off, ws[2].Off = 0, 8192, 16384
			f.WriteBatch(ws, 4, nil)
			for i, w := range ws {
				if !errors.Is(w.Err, ErrClosed) {
					t.Errorf("write %d after Close: err %v", i, w.Err)
				}
			}
		})
	}
}

func direct01(direct bool) int64 {
	if direct {
		return 1
	}
	return 0
}
