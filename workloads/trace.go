package workloads

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// The trace format; TRACE.md is its specification.
const (
	// TraceVersion is the format version a TraceWriter writes and
	// ParseTrace reads.
	TraceVersion = 1
	// traceMagic is the first line of every trace.
	traceMagic = "# gauntlet-trace v1"
	// traceLineMax bounds one line: two quoted keys of engine.KeyMax bytes,
	// each at most 4 bytes per byte when escaped, plus the fields.
	traceLineMax = 16 << 10
	// traceSizeMax bounds a list's n= in a trace.
	traceSizeMax = math.MaxInt32
	// TraceValueMax bounds a value's size= in a trace (1 GiB, the cap on
	// size histograms too): above every engine's value maximum but bbolt's,
	// so a trace can test any limit, and a trace cannot make a replay
	// allocate and fill gigabytes (a 2 GiB put ran a checker out of time
	// after 2.1 GB of memory). ParseTrace refuses a larger size and
	// TraceWriter will not write one.
	TraceValueMax = 64 * engine.ValueMaxMin
)

// Header is what a trace records about the run that made it.
type Header struct {
	// Seed is the run's seed.
	Seed uint64
	// Workload is the spec the ops were drawn from (a workload spec, or a
	// checker's description of its generator).
	Workload string
	// Attrs are any further attributes, in order (engine, checker, commit...).
	Attrs []Attr
}

// Attr is one further header attribute. Keys are lower-case letters,
// digits, '-' and '_'.
type Attr struct{ Key, Value string }

// Attr returns the value of the attribute key and whether h has it.
func (h Header) Attr(key string) (string, bool) {
	for _, a := range h.Attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// Trace is a parsed trace.
type Trace struct {
	Header Header
	Ops    []Op
	// Lines holds the line number of each op, for error messages.
	Lines []int
}

// TraceError is a malformed trace: the line it was found on and what was
// wrong.
type TraceError struct {
	Line int
	Msg  string
}

func (e *TraceError) Error() string { return fmt.Sprintf("trace line %d: %s", e.Line, e.Msg) }

func validAttrKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// TraceWriter writes a trace op by op, so a long run can record as it
// goes. Close writes the end line; a trace without one is reported as
// truncated when parsed.
type TraceWriter struct {
	w   *bufio.Writer
	n   int
	buf []byte
	err error
}

// NewTraceWriter writes the header to w and returns a writer for the ops.
func NewTraceWriter(w io.Writer, h Header) (*TraceWriter, error) {
	tw := &TraceWriter{w: bufio.NewWriter(w)}
	b := append([]byte(traceMagic), "\n# seed="...)
	b = strconv.AppendUint(b, h.Seed, 10)
	b = append(b, " workload="...)
	b = strconv.AppendQuoteToASCII(b, h.Workload)
	for _, a := range h.Attrs {
		if !validAttrKey(a.Key) || a.Key == "seed" || a.Key == "workload" {
			return nil, fmt.Errorf("workloads: trace header attribute %q: keys are lower-case letters, digits, '-' and '_', not seed or workload", a.Key)
		}
		b = append(b, ' ')
		b = append(b, a.Key...)
		b = append(b, '=')
		b = strconv.AppendQuoteToASCII(b, a.Value)
	}
	b = append(b, '\n')
	if _, err := tw.w.Write(b); err != nil {
		return nil, fmt.Errorf("workloads: write trace: %w", err)
	}
	return tw, nil
}

// Write appends op to the trace.
func (tw *TraceWriter) Write(op Op) error {
	if tw.err != nil {
		return tw.err
	}
	if err := checkTraceOp(op); err != nil {
		return fmt.Errorf("workloads: write trace: op %d: %v", tw.n, err)
	}
	tw.buf = append(appendOp(tw.buf[:0], op), '\n')
	if _, err := tw.w.Write(tw.buf); err != nil {
		tw.err = fmt.Errorf("workloads: write trace: %w", err)
		return tw.err
	}
	tw.n++
	return nil
}

// Flush writes buffered ops to the underlying writer.
func (tw *TraceWriter) Flush() error {
	if tw.err != nil {
		return tw.err
	}
	if err := tw.w.Flush(); err != nil {
		tw.err = fmt.Errorf("workloads: write trace: %w", err)
	}
	return tw.err
}

// Close writes the end line and flushes. It does not close the underlying
// writer.
func (tw *TraceWriter) Close() error {
	if tw.err != nil {
		return tw.err
	}
	if _, err := fmt.Fprintf(tw.w, "# end ops=%d\n", tw.n); err != nil {
		tw.err = fmt.Errorf("workloads: write trace: %w", err)
		return tw.err
	}
	err := tw.Flush()
	if err == nil {
		tw.err = errors.New("workloads: trace writer closed")
	}
	return err
}

// checkTraceOp reports why op cannot be written so that ParseTrace reads
// it back: the writer refuses what the reader would reject.
func checkTraceOp(op Op) error {
	k := op.Kind
	switch {
	case k >= opKindCount:
		return fmt.Errorf("op kind %d unknown", k)
	case k.HasKey() || k == OpList && op.Key != nil:
		if err := engine.CheckKey(op.Key); err != nil {
			return fmt.Errorf("%v: %v", k, err)
		}
	case op.Key != nil:
		return fmt.Errorf("%v takes no key", k)
	}
	if op.End != nil {
		if k != OpList {
			return fmt.Errorf("%v takes no end key", k)
		}
		if err := engine.CheckKey(op.End); err != nil {
			return fmt.Errorf("list end: %v", err)
		}
	}
	if op.Size < 0 || op.Size > TraceValueMax || op.Size != 0 && !k.Writes() {
		return fmt.Errorf("%v with size %d", k, op.Size)
	}
	if op.ScanLen < 0 || op.ScanLen > traceSizeMax || op.ScanLen != 0 && k != OpList {
		return fmt.Errorf("%v with n=%d", k, op.ScanLen)
	}
	if op.Seed != 0 && !k.Writes() && k != OpDirtyReboot && k != OpFailDiskOnce {
		return fmt.Errorf("%v takes no seed", k)
	}
	return nil
}

// WriteTrace writes a whole trace.
func WriteTrace(w io.Writer, h Header, ops []Op) error {
	tw, err := NewTraceWriter(w, h)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if err := tw.Write(op); err != nil {
			return err
		}
	}
	return tw.Close()
}

// appendOp appends op's trace line, without the newline.
func appendOp(b []byte, op Op) []byte {
	b = append(b, op.Kind.String()...)
	if op.Key != nil || op.Kind.HasKey() {
		b = append(b, ' ')
		b = strconv.AppendQuoteToASCII(b, string(op.Key))
	}
	if op.End != nil {
		b = append(b, " end="...)
		b = strconv.AppendQuoteToASCII(b, string(op.End))
	}
	if op.Kind.Writes() {
		b = append(b, " size="...)
		b = strconv.AppendInt(b, int64(op.Size), 10)
		b = append(b, " seed="...)
		b = strconv.AppendUint(b, op.Seed, 10)
	} else if op.Seed != 0 {
		b = append(b, " seed="...)
		b = strconv.AppendUint(b, op.Seed, 10)
	}
	if op.ScanLen != 0 {
		b = append(b, " n="...)
		b = strconv.AppendInt(b, int64(op.ScanLen), 10)
	}
	return b
}

// token is one field of a trace line: a quoted string (quoted set, key
// empty), a bare word, or key=value with value quoted or bare.
type token struct {
	key    string
	value  string
	quoted bool
}

// tokenize splits a line into tokens separated by spaces.
func tokenize(line string) ([]token, error) {
	var toks []token
	for {
		line = strings.TrimLeft(line, " \t")
		if line == "" {
			return toks, nil
		}
		var t token
		if line[0] != '"' {
			end := strings.IndexAny(line, " \t\"")
			if end < 0 {
				end = len(line)
			}
			word := line[:end]
			line = line[end:]
			k, v, ok := strings.Cut(word, "=")
			if !ok {
				if line != "" && line[0] == '"' {
					return nil, fmt.Errorf("%q runs into a quoted string; separate them with a space", word)
				}
				toks = append(toks, token{value: word})
				continue
			}
			if k == "" {
				return nil, fmt.Errorf("%q has no name before '='", word)
			}
			t.key = k
			if v != "" || line == "" || line[0] != '"' {
				if line != "" && line[0] == '"' {
					return nil, fmt.Errorf("%q runs into a quoted string; separate them with a space", word)
				}
				t.value = v
				toks = append(toks, t)
				continue
			}
		}
		q, err := strconv.QuotedPrefix(line)
		if err != nil || q[0] != '"' {
			return nil, fmt.Errorf("bad quoted string at %q (write keys as Go double-quoted strings, e.g. \"k17\" or \"\\x00\\xff\")", clip(line))
		}
		v, err := strconv.Unquote(q)
		if err != nil {
			return nil, fmt.Errorf("bad quoted string %q", clip(q))
		}
		t.value, t.quoted = v, true
		line = line[len(q):]
		if line != "" && line[0] != ' ' && line[0] != '\t' {
			return nil, fmt.Errorf("text %q right after a quoted string; separate fields with a space", clip(line))
		}
		toks = append(toks, t)
	}
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// opAttrs lists the attributes each kind of op takes; required ones are
// marked with a trailing '!'.
func opAttrs(k OpKind) []string {
	switch {
	case k.Writes():
		return []string{"size!", "seed!"}
	case k == OpList:
		return []string{"end", "n"}
	case k == OpDirtyReboot || k == OpFailDiskOnce:
		return []string{"seed"}
	}
	return nil
}

func opKindList() string {
	names := make([]string, opKindCount)
	for i := range names {
		names[i] = OpKind(i).String()
	}
	return strings.Join(names, ", ")
}

// parseOp parses one op line.
func parseOp(line string) (Op, error) {
	toks, err := tokenize(line)
	if err != nil {
		return Op{}, err
	}
	if len(toks) == 0 {
		return Op{}, fmt.Errorf("no op on the line")
	}
	if toks[0].quoted || toks[0].key != "" {
		return Op{}, fmt.Errorf("a line starts with an op name (%s)", opKindList())
	}
	kind, ok := ParseOpKind(toks[0].value)
	if !ok {
		return Op{}, fmt.Errorf("unknown op %q; ops: %s", clip(toks[0].value), opKindList())
	}
	op := Op{Kind: kind}
	toks = toks[1:]
	if len(toks) > 0 && toks[0].quoted && toks[0].key == "" {
		if !kind.HasKey() && kind != OpList {
			return Op{}, fmt.Errorf("%s takes no key", kind)
		}
		if err := engine.CheckKey([]byte(toks[0].value)); err != nil {
			return Op{}, fmt.Errorf("%s: %v", kind, err)
		}
		op.Key = []byte(toks[0].value)
		toks = toks[1:]
	} else if kind.HasKey() {
		return Op{}, fmt.Errorf("%s needs a quoted key, e.g. %s \"k17\"", kind, kind)
	}
	allowed := opAttrs(kind)
	seen := map[string]bool{}
	for _, t := range toks {
		if t.key == "" {
			return Op{}, fmt.Errorf("%s: unexpected %q; fields are name=value", kind, clip(t.value))
		}
		valid := false
		for _, a := range allowed {
			valid = valid || strings.TrimSuffix(a, "!") == t.key
		}
		if !valid {
			if len(allowed) == 0 {
				return Op{}, fmt.Errorf("%s takes no fields, found %s=", kind, clip(t.key))
			}
			return Op{}, fmt.Errorf("%s: unknown field %s=; %s takes %s", kind, clip(t.key), kind, strings.ReplaceAll(strings.Join(allowed, ", "), "!", ""))
		}
		if seen[t.key] {
			return Op{}, fmt.Errorf("%s: field %s= given twice", kind, t.key)
		}
		seen[t.key] = true
		if (t.key == "end") != t.quoted {
			if t.quoted {
				return Op{}, fmt.Errorf("%s: %s= takes a number, not a quoted string", kind, t.key)
			}
			return Op{}, fmt.Errorf("%s: end= takes a quoted key", kind)
		}
		switch t.key {
		case "end":
			if err := engine.CheckKey([]byte(t.value)); err != nil {
				return Op{}, fmt.Errorf("%s: end: %v", kind, err)
			}
			op.End = []byte(t.value)
		case "size", "n":
			n, err := strconv.ParseInt(t.value, 10, 64)
			if err != nil || n < 0 || n > traceSizeMax {
				return Op{}, fmt.Errorf("%s: %s=%s is not a number from 0 to %d", kind, t.key, clip(t.value), traceSizeMax)
			}
			if t.key == "size" && n > TraceValueMax {
				return Op{}, fmt.Errorf("%s: size=%d is above %d bytes (1 GiB), the largest value a trace may hold: give a smaller size", kind, n, TraceValueMax)
			}
			if t.key == "size" {
				op.Size = int(n)
			} else {
				op.ScanLen = int(n)
			}
		case "seed":
			n, err := strconv.ParseUint(t.value, 10, 64)
			if err != nil {
				return Op{}, fmt.Errorf("%s: seed=%s is not a number from 0 to 2^64-1", kind, clip(t.value))
			}
			op.Seed = n
		}
	}
	for _, a := range allowed {
		if name, ok := strings.CutSuffix(a, "!"); ok && !seen[name] {
			return Op{}, fmt.Errorf("%s: missing field %s=", kind, name)
		}
	}
	return op, nil
}

// parseHeader parses the attributes line after the magic.
func parseHeader(line string) (Header, error) {
	var h Header
	rest, ok := strings.CutPrefix(line, "#")
	if !ok {
		return h, fmt.Errorf("the second line is the header, e.g. # seed=42 workload=\"ycsb-a\"")
	}
	toks, err := tokenize(rest)
	if err != nil {
		return h, fmt.Errorf("header: %v", err)
	}
	seen := map[string]bool{}
	for _, t := range toks {
		if t.key == "" {
			return h, fmt.Errorf("header: %q is not name=value", clip(t.value))
		}
		if !validAttrKey(t.key) {
			return h, fmt.Errorf("header: attribute name %q: use lower-case letters, digits, '-' and '_'", clip(t.key))
		}
		if seen[t.key] {
			return h, fmt.Errorf("header: %s= given twice", t.key)
		}
		seen[t.key] = true
		switch t.key {
		case "seed":
			n, err := strconv.ParseUint(t.value, 10, 64)
			if err != nil || t.quoted {
				return h, fmt.Errorf("header: seed=%s is not a number from 0 to 2^64-1", clip(t.value))
			}
			h.Seed = n
		case "workload":
			h.Workload = t.value
		default:
			h.Attrs = append(h.Attrs, Attr{Key: t.key, Value: t.value})
		}
	}
	return h, nil
}

// ParseTrace reads a trace. A malformed or truncated trace gives a
// *TraceError naming the line and what was wrong; it never panics.
func ParseTrace(r io.Reader) (Trace, error) {
	var tr Trace
	br := bufio.NewReaderSize(r, traceLineMax)
	line := 0
	ended := false
	endLine := 0
	fail := func(format string, args ...any) (Trace, error) {
		return Trace{}, &TraceError{Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	for {
		raw, err := br.ReadSlice('\n')
		if len(raw) == 0 && err == io.EOF {
			break
		}
		line++
		switch {
		case err == bufio.ErrBufferFull:
			return fail("longer than %d bytes", traceLineMax)
		case err == io.EOF:
			return fail("truncated: the last line has no newline (the trace was cut off)")
		case err != nil:
			return fail("read: %v", err)
		}
		text := string(bytes.TrimRight(raw[:len(raw)-1], "\r"))
		switch {
		case line == 1:
			if text != traceMagic {
				if strings.HasPrefix(text, "# gauntlet-trace ") {
					return fail("trace format %q is not supported; this build reads v%d", strings.TrimPrefix(text, "# gauntlet-trace "), TraceVersion)
				}
				return fail("not a gauntlet trace: the first line must be %q", traceMagic)
			}
		case line == 2:
			h, err := parseHeader(text)
			if err != nil {
				return fail("%v", err)
			}
			tr.Header = h
		case ended:
			if strings.TrimSpace(text) != "" {
				return fail("text after the end line (line %d)", endLine)
			}
		case strings.HasPrefix(text, "# end"):
			var n int
			if _, err := fmt.Sscanf(text, "# end ops=%d", &n); err != nil || text != "# end ops="+strconv.Itoa(n) {
				return fail("bad end line %q; write # end ops=N", clip(text))
			}
			if n != len(tr.Ops) {
				return fail("the end line counts %d ops, the trace holds %d (lines lost or added)", n, len(tr.Ops))
			}
			ended, endLine = true, line
		case strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#"):
			// blank line or comment
		default:
			op, err := parseOp(text)
			if err != nil {
				return fail("%v", err)
			}
			tr.Ops = append(tr.Ops, op)
			tr.Lines = append(tr.Lines, line)
		}
	}
	switch {
	case line == 0:
		return Trace{}, &TraceError{Line: 1, Msg: "empty: a trace starts with " + strconv.Quote(traceMagic)}
	case line == 1:
		return Trace{}, &TraceError{Line: 2, Msg: "truncated: no header line"}
	case !ended:
		return Trace{}, &TraceError{Line: line + 1, Msg: "truncated: no \"# end ops=N\" line (the trace was cut off)"}
	}
	return tr, nil
}
