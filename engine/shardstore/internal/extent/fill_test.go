package extent

import (
	"errors"
	"testing"
)

// An extent takes appends up to its last byte, and not one more.
func TestAppendFillsExtentExactly(t *testing.T) {
	geo, err := NewGeometry(8*4096, 4096, 512)
	if err != nil {
		t.Fatal(err)
	}
	tb := NewTable(geo)
	e, gen, err := tb.Allocate(Data)
	if err != nil {
		t.Fatal(err)
	}
	if off, err := tb.Append(e, gen, 4000); err != nil || off != 0 {
		t.Fatalf("Append(4000) = %d, %v", off, err)
	}
	if off, err := tb.Append(e, gen, 96); err != nil || off != 4000 {
		t.Fatalf("Append of the last 96 bytes = %d, %v; want offset 4000", off, err)
	}
	if _, err := tb.Append(e, gen, 1); !errors.Is(err, ErrFull) {
		t.Fatalf("Append to a full extent = %v, want ErrFull", err)
	}
}
