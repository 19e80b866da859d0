package workloads

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseHistogram(t *testing.T) {
	h, err := ParseHistogram(strings.NewReader("size,weight\n# comment\n\n100,1\n4KiB, 3\n64KiB,0\n"), "sizes.csv")
	if err != nil {
		t.Fatal(err)
	}
	sizes, weights := h.Buckets()
	if !slices.Equal(sizes, []int{100, 4096, 65536}) || !slices.Equal(weights, []float64{1, 3, 0}) || h.SizeMax() != 4096 {
		t.Fatalf("buckets %v %v max %d", sizes, weights, h.SizeMax())
	}
	rng := statRand(t)
	counts := map[int]int{}
	const draws = 100000
	for range draws {
		counts[h.Next(rng)]++
	}
	if counts[65536] != 0 {
		t.Errorf("a zero-weight size was drawn %d times", counts[65536])
	}
	within4Sigma(t, "size 100", counts[100], draws, 0.25)
	// No header is fine too.
	if _, err := ParseHistogram(strings.NewReader("1,1\n"), "x"); err != nil {
		t.Errorf("headerless: %v", err)
	}
}

func TestParseHistogramErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "size histogram s.csv: no size,weight lines"},
		{"size,weight\n", "no size,weight lines"},
		{"100,1\n200\n", "size histogram s.csv: line 2: \"200\" is not size,weight"},
		{"100,1\nabc,2\n", "line 2: size \"abc\": not a size"},
		{"size,weight\n100,x\n", "line 2: weight \"x\" is not a non-negative number"},
		{"100,-1\n", "line 1: weight \"-1\" is not a non-negative number"},
		{"100,NaN\n", "line 1: weight \"NaN\""},
		{"100,1,2\n", "line 1: more than two fields"},
		{"100,0\n200,0\n", "every weight is zero"},
		{"1,1\n" + strings.Repeat("x", 5000) + "\n", "line 2: longer than 4096 bytes"},
	} {
		_, err := ParseHistogram(strings.NewReader(tc.in), "s.csv")
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseHistogram(%q) = %v, want one line containing %q", tc.in, err, tc.want)
		}
	}
}

func TestSizesSpec(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sizes.csv")
	if err := os.WriteFile(path, []byte("size,weight\n10,1\n20,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := mustParse(t, "read=1,update=1,values=csv:"+path)
	if w.ValueBytesMax() != 20 || !strings.Contains(w.String(), "values=csv:"+path) {
		t.Errorf("csv workload: max %d, spec %s", w.ValueBytesMax(), w)
	}
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("10,1\n20;1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Parse("read=1,values=csv:" + bad)
	if err == nil || !strings.Contains(err.Error(), bad+": line 2:") {
		t.Errorf("bad csv: %v", err)
	}

	rng := statRand(t)
	b := BoundarySizes{}
	seen := map[int]bool{}
	for range 2000 {
		seen[b.Next(rng)] = true
	}
	for _, s := range b.List() {
		if !seen[s] {
			t.Errorf("boundary size %d never drawn", s)
		}
	}
	if len(seen) != 11 || b.SizeMax() != ExtentBytes+1 {
		t.Errorf("boundary drew %d distinct sizes, max %d", len(seen), b.SizeMax())
	}
	want := []int{0, 1, 4095, 4096, 4097, 8191, 8192, 8193, 65535, 65536, 65537}
	if got := (BoundarySizes{Chunk: 8192, Extent: 65536}).List(); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	u := UniformSize{Min: 3, Max: 5}
	for range 100 {
		if n := u.Next(rng); n < 3 || n > 5 {
			t.Fatalf("uniform size %d", n)
		}
	}
}
