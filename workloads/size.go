package workloads

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// Sizes is a distribution of value sizes in bytes. String returns the form a
// spec's values= term takes, so a workload's spec can be echoed and parsed
// back.
type Sizes interface {
	Next(rng *rand.Rand) int
	// SizeMax is the largest size Next can return.
	SizeMax() int
	String() string
}

// FixedSize is every value the same size.
type FixedSize int

// Next returns the size.
func (f FixedSize) Next(*rand.Rand) int { return int(f) }

// SizeMax returns the size.
func (f FixedSize) SizeMax() int { return int(f) }

func (f FixedSize) String() string { return engine.FormatSize(int64(f)) }

// UniformSize draws sizes uniformly from [Min, Max].
type UniformSize struct{ Min, Max int }

// Next returns the next size.
func (u UniformSize) Next(rng *rand.Rand) int { return u.Min + rng.IntN(u.Max-u.Min+1) }

// SizeMax returns u.Max.
func (u UniformSize) SizeMax() int { return u.Max }

func (u UniformSize) String() string {
	return "uniform:" + engine.FormatSize(int64(u.Min)) + ":" + engine.FormatSize(int64(u.Max))
}

// Histogram draws sizes from a weighted list, read from a CSV file of
// "size,weight" lines (see ParseHistogram).
type Histogram struct {
	// Path is the file it was read from, echoed by String.
	Path    string
	sizes   []int
	cum     []float64 // cumulative weights, the last is the total
	sizeMax int
}

// Next returns the next size.
func (h *Histogram) Next(rng *rand.Rand) int {
	u := rng.Float64() * h.cum[len(h.cum)-1]
	i := sort.SearchFloat64s(h.cum, u)
	// SearchFloat64s finds the first cum >= u; a draw equal to a bound
	// belongs to the next bucket, and zero-weight buckets are skipped.
	for i < len(h.cum)-1 && h.cum[i] <= u {
		i++
	}
	return h.sizes[i]
}

// SizeMax returns the largest size with a positive weight.
func (h *Histogram) SizeMax() int { return h.sizeMax }

func (h *Histogram) String() string { return "csv:" + h.Path }

// Buckets returns the sizes and their weights, in file order.
func (h *Histogram) Buckets() (sizes []int, weights []float64) {
	weights = make([]float64, len(h.cum))
	prev := 0.0
	for i, c := range h.cum {
		weights[i] = c - prev
		prev = c
	}
	return append([]int(nil), h.sizes...), weights
}

// histogramLinesMax bounds a histogram file: it is meant to be small.
const histogramLinesMax = 100_000

// ReadHistogram reads a histogram from the CSV file at path.
func ReadHistogram(path string) (*Histogram, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("size histogram: %w", err)
	}
	defer f.Close()
	return ParseHistogram(f, path)
}

// ParseHistogram reads a size histogram: one "size,weight" pair per line,
// sizes as engine.ParseSize reads them (4096, 4KiB), weights non-negative
// numbers (relative: they need not sum to 1 or 100). An optional first line
// "size,weight" is a header; blank lines and lines starting with # are
// skipped. Errors name the file (name) and the line.
func ParseHistogram(r io.Reader, name string) (*Histogram, error) {
	h := &Histogram{Path: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	total := 0.0
	line := 0
	for sc.Scan() {
		line++
		if line > histogramLinesMax {
			return nil, fmt.Errorf("size histogram %s: more than %d lines", name, histogramLinesMax)
		}
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		sizeText, weightText, ok := strings.Cut(text, ",")
		sizeText, weightText = strings.TrimSpace(sizeText), strings.TrimSpace(weightText)
		if len(h.sizes) == 0 && strings.EqualFold(sizeText, "size") && strings.EqualFold(weightText, "weight") {
			continue // header
		}
		if !ok {
			return nil, fmt.Errorf("size histogram %s: line %d: %q is not size,weight", name, line, text)
		}
		if strings.Contains(weightText, ",") {
			return nil, fmt.Errorf("size histogram %s: line %d: more than two fields; write size,weight", name, line)
		}
		size, err := engine.ParseSize(sizeText)
		if err != nil {
			return nil, fmt.Errorf("size histogram %s: line %d: size %q: %v", name, line, sizeText, err)
		}
		if size > engine.ValueMaxMin*64 {
			return nil, fmt.Errorf("size histogram %s: line %d: size %s is larger than %s", name, line, sizeText, engine.FormatSize(engine.ValueMaxMin*64))
		}
		w, err := strconv.ParseFloat(weightText, 64)
		if err != nil || math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return nil, fmt.Errorf("size histogram %s: line %d: weight %q is not a non-negative number", name, line, weightText)
		}
		total += w
		h.sizes = append(h.sizes, int(size))
		h.cum = append(h.cum, total)
		if w > 0 {
			h.sizeMax = max(h.sizeMax, int(size))
		}
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return nil, fmt.Errorf("size histogram %s: line %d: longer than 4096 bytes", name, line+1)
		}
		return nil, fmt.Errorf("size histogram %s: %w", name, err)
	}
	if len(h.sizes) == 0 {
		return nil, fmt.Errorf("size histogram %s: no size,weight lines", name)
	}
	if total <= 0 {
		return nil, fmt.Errorf("size histogram %s: every weight is zero", name)
	}
	return h, nil
}

// The page, chunk and extent sizes BoundarySizes uses by default. They are
// the harness's defaults for shardstore; pass an engine's own with
// values=boundary:CHUNK:EXTENT.
const (
	PageBytes   = 4 << 10
	ChunkBytes  = 64 << 10
	ExtentBytes = 1 << 20
)

// BoundarySizes draws, uniformly, one of the sizes where storage engines
// keep their off-by-one bugs: 0 and 1 byte, and one less than, equal to and
// one more than the page, chunk and extent sizes.
type BoundarySizes struct {
	// Page, Chunk and Extent default to PageBytes, ChunkBytes, ExtentBytes
	// when zero.
	Page, Chunk, Extent int
}

func (b BoundarySizes) withDefaults() BoundarySizes {
	if b.Page == 0 {
		b.Page = PageBytes
	}
	if b.Chunk == 0 {
		b.Chunk = ChunkBytes
	}
	if b.Extent == 0 {
		b.Extent = ExtentBytes
	}
	return b
}

// List returns the sizes b draws from, in ascending order of class: 0, 1,
// page-1, page, page+1, chunk-1, ..., extent+1.
func (b BoundarySizes) List() []int {
	b = b.withDefaults()
	return []int{0, 1,
		b.Page - 1, b.Page, b.Page + 1,
		b.Chunk - 1, b.Chunk, b.Chunk + 1,
		b.Extent - 1, b.Extent, b.Extent + 1}
}

// Next returns the next size.
func (b BoundarySizes) Next(rng *rand.Rand) int {
	b = b.withDefaults()
	i := rng.IntN(11)
	switch {
	case i < 2:
		return i
	case i < 5:
		return b.Page + i - 3
	case i < 8:
		return b.Chunk + i - 6
	default:
		return b.Extent + i - 9
	}
}

// SizeMax returns extent+1 (or the largest of the three, plus one).
func (b BoundarySizes) SizeMax() int {
	b = b.withDefaults()
	return max(b.Page, b.Chunk, b.Extent) + 1
}

func (b BoundarySizes) String() string {
	if b.Page == 0 && b.Chunk == 0 && b.Extent == 0 {
		return "boundary"
	}
	b = b.withDefaults()
	s := "boundary:" + engine.FormatSize(int64(b.Chunk)) + ":" + engine.FormatSize(int64(b.Extent))
	if b.Page != PageBytes {
		s += ":" + engine.FormatSize(int64(b.Page))
	}
	return s
}

// ParseSizes parses a values= term: SIZE (4096, 4KiB), uniform:MIN:MAX,
// csv:PATH (read now) or boundary[:CHUNK:EXTENT[:PAGE]].
func ParseSizes(s string) (Sizes, error) {
	kind, rest, _ := strings.Cut(s, ":")
	switch kind {
	case "uniform":
		lo, hi, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("write uniform:MIN:MAX, e.g. uniform:100:4KiB")
		}
		a, err := engine.ParseSize(lo)
		if err != nil {
			return nil, fmt.Errorf("uniform minimum %q: %v", lo, err)
		}
		b, err := engine.ParseSize(hi)
		if err != nil {
			return nil, fmt.Errorf("uniform maximum %q: %v", hi, err)
		}
		if a > b {
			return nil, fmt.Errorf("uniform minimum %s is above the maximum %s", lo, hi)
		}
		if b > math.MaxInt32 {
			return nil, fmt.Errorf("uniform maximum %s: a value is at most %d bytes (2GiB less one byte)", hi, math.MaxInt32)
		}
		return UniformSize{Min: int(a), Max: int(b)}, nil
	case "csv":
		if rest == "" {
			return nil, fmt.Errorf("write csv:PATH naming a file of size,weight lines")
		}
		return ReadHistogram(rest)
	case "boundary":
		if rest == "" {
			return BoundarySizes{}, nil
		}
		parts := strings.Split(rest, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("write boundary or boundary:CHUNK:EXTENT or boundary:CHUNK:EXTENT:PAGE")
		}
		var v [3]int
		for i, p := range parts {
			n, err := engine.ParseSize(p)
			if err != nil {
				return nil, fmt.Errorf("boundary size %q: %v", p, err)
			}
			if n < 2 || n > math.MaxInt32 {
				return nil, fmt.Errorf("boundary size %q must be 2B to 2GiB", p)
			}
			v[i] = int(n)
		}
		b := BoundarySizes{Chunk: v[0], Extent: v[1], Page: v[2]}
		if b.Page == 0 {
			b.Page = PageBytes
		}
		return b, nil
	}
	n, err := engine.ParseSize(s)
	if err != nil {
		return nil, fmt.Errorf("%v; or write uniform:MIN:MAX, csv:PATH, boundary", err)
	}
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("size %s: a value is at most %d bytes (2GiB less one byte)", s, math.MaxInt32)
	}
	return FixedSize(n), nil
}
