package astmut

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Profile is a parsed Go text coverage profile, as written by go test
// -coverprofile or `go tool covdata textfmt`.
type Profile struct {
	// Mode is the profile's mode: set, count or atomic.
	Mode string
	// Blocks maps a file, spelled import-path/file.go as in the profile, to
	// its blocks in profile order.
	Blocks map[string][]Block
}

// Block is one basic block of a profile. Its start is inclusive and its end
// exclusive; columns count bytes.
type Block struct {
	StartLine, StartCol int
	EndLine, EndCol     int
	NumStmt             int
	Count               uint64
}

// ParseProfile reads a text coverage profile: a "mode: set|count|atomic"
// line, then one line per block,
//
//	import/path/file.go:startLine.startCol,endLine.endCol numStmt count
//
// Repeated identical mode lines (concatenated profiles) are accepted. A
// malformed line is an error naming its line number.
func ParseProfile(r io.Reader) (Profile, error) {
	p := Profile{Blocks: map[string][]Block{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if mode, ok := strings.CutPrefix(line, "mode: "); ok {
			switch {
			case mode != "set" && mode != "count" && mode != "atomic":
				return Profile{}, fmt.Errorf("astmut: coverage profile line %d: unknown mode %q", n, mode)
			case p.Mode != "" && p.Mode != mode:
				return Profile{}, fmt.Errorf("astmut: coverage profile line %d: mode %s after mode %s", n, mode, p.Mode)
			}
			p.Mode = mode
			continue
		}
		if p.Mode == "" {
			return Profile{}, fmt.Errorf("astmut: coverage profile line %d: %q before the mode line", n, line)
		}
		file, b, err := parseBlock(line)
		if err != nil {
			return Profile{}, fmt.Errorf("astmut: coverage profile line %d: %q: %w", n, line, err)
		}
		p.Blocks[file] = append(p.Blocks[file], b)
	}
	if err := sc.Err(); err != nil {
		return Profile{}, fmt.Errorf("astmut: coverage profile: %w", err)
	}
	if p.Mode == "" {
		return Profile{}, fmt.Errorf("astmut: coverage profile: no mode line")
	}
	return p, nil
}

// parseBlock parses file:l.c,l.c numStmt count.
func parseBlock(line string) (string, Block, error) {
	var b Block
	colon := strings.LastIndexByte(line, ':')
	if colon <= 0 {
		return "", b, fmt.Errorf("no file name")
	}
	file := line[:colon]
	f := strings.Fields(line[colon+1:])
	if len(f) != 3 {
		return "", b, fmt.Errorf("want file:start,end numStmt count")
	}
	start, end, ok := strings.Cut(f[0], ",")
	if !ok {
		return "", b, fmt.Errorf("block %q has no comma", f[0])
	}
	var err error
	if b.StartLine, b.StartCol, err = parsePos(start); err != nil {
		return "", b, err
	}
	if b.EndLine, b.EndCol, err = parsePos(end); err != nil {
		return "", b, err
	}
	if b.EndLine < b.StartLine || b.EndLine == b.StartLine && b.EndCol < b.StartCol {
		return "", b, fmt.Errorf("block ends before it starts")
	}
	if b.NumStmt, err = strconv.Atoi(f[1]); err != nil || b.NumStmt < 0 {
		return "", b, fmt.Errorf("bad statement count %q", f[1])
	}
	if b.Count, err = strconv.ParseUint(f[2], 10, 64); err != nil {
		return "", b, fmt.Errorf("bad count %q", f[2])
	}
	return file, b, nil
}

func parsePos(s string) (line, col int, err error) {
	l, c, ok := strings.Cut(s, ".")
	if ok {
		line, err = strconv.Atoi(l)
	}
	if ok && err == nil {
		col, err = strconv.Atoi(c)
	}
	if !ok || err != nil || line < 1 || col < 1 {
		return 0, 0, fmt.Errorf("bad position %q", s)
	}
	return line, col, nil
}

// Covers reports whether the tests that wrote the profile ran m's site: some
// block with a count above zero holds its position. known is false when the
// profile cannot tell: it has no blocks for m's file (another package, or
// an unknown import path), no block holds the position (coverage does not
// instrument package-level declarations, nor a switch's case expressions),
// or m is outside any function. A mutant with known and !covered cannot be
// killed by those tests: the runner can report it as not covered without
// building it.
func (p Profile) Covers(m Mutant) (covered bool, known bool) {
	if m.Package == "" || m.Func == "" {
		return false, false
	}
	blocks := p.Blocks[path.Join(m.Package, filepath.Base(m.File))]
	for _, b := range blocks {
		if !b.holds(m.Line, m.Col) {
			continue
		}
		known = true
		if b.Count > 0 {
			return true, true
		}
	}
	return false, known
}

// holds reports whether line:col lies in the block.
func (b Block) holds(line, col int) bool {
	afterStart := line > b.StartLine || line == b.StartLine && col >= b.StartCol
	beforeEnd := line < b.EndLine || line == b.EndLine && col < b.EndCol
	return afterStart && beforeEnd
}
