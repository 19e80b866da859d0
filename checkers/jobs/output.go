package jobs

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"sync"
)

// prefixWriter passes a worker's output to w a whole line at a time, each
// line prefixed with the worker, so concurrent workers' lines do not mix.
type prefixWriter struct {
	mu     *sync.Mutex // shared by the workers writing to w
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	if i := bytes.LastIndexByte(p.buf, '\n'); i >= 0 {
		p.emit(p.buf[:i+1])
		p.buf = append(p.buf[:0], p.buf[i+1:]...)
	}
	return len(b), nil
}

// flush writes a last line that has no newline.
func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		p.emit(append(p.buf, '\n'))
		p.buf = p.buf[:0]
	}
}

func (p *prefixWriter) emit(lines []byte) {
	var b bytes.Buffer
	for _, l := range bytes.SplitAfter(lines, []byte("\n")) {
		if len(l) > 0 {
			b.WriteString(p.prefix)
			b.Write(l)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w.Write(b.Bytes())
}

// tailBuffer keeps the last tailMax bytes written to it, safe for the two
// goroutines that copy a worker's stdout and stderr.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 16 << 10

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailMax {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailMax:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// lastLines returns the last n non-blank lines of s, trimmed.
func lastLines(s string, n int) []string {
	var out []string
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			out = append(out, l)
		}
	}
	slices.Reverse(out)
	return out
}
