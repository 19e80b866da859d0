package linearize

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// Pending is the Return of an op that never returned, or failed in a way
// that does not say whether it took effect: porcupine takes it as
// returning after everything else, so it may or may not have happened.
const Pending = math.MaxInt64

// Op is one operation of a history: what a client asked and what it saw.
// Values are kept by identity, never by their bytes: Value is
// workloads.ValueDigest of the bytes a put wrote or a get read, Size their
// length.
type Op struct {
	Client int
	Kind   model.KeyOp
	Key    string
	// Value and Size: the value a put wrote, or a get read when Found.
	Value uint64
	Size  int
	// Found says a get that returned found a value; false is
	// engine.ErrNotFound.
	Found bool
	// Call and Return are nanoseconds since the history's start on the
	// monotonic clock; Return is Pending for an op that did not return
	// (Err says why).
	Call, Return int64
	// Err is the error of an op that failed: it is Pending, since the
	// engine did not say whether it took effect.
	Err string
	// Failed marks an error no fault-free engine may return: anything
	// but a write's engine.ErrNoSpace, a hang (Err says so) or the run's
	// end. It is a violation by itself.
	Failed bool
}

// Kinds of op beyond engine/model's key ops, in a durable history (one that
// spans a crash: see DurableChecker).
const (
	// KindSync is a Sync: it has no key (Key is ""). One that returned
	// before the crash is a durability barrier on every key.
	KindSync model.KeyOp = 100 + iota
	// KindRecover is a read of a key after the engine reopened on the
	// crash state: what it finds is the key's recovered version. It is
	// the client numbered Clients, after every client's ops.
	KindRecover
)

// kindName is an op kind's name in the history file and in messages.
func kindName(k model.KeyOp) string {
	switch k {
	case KindSync:
		return "sync"
	case KindRecover:
		return "recover"
	}
	return k.String()
}

// reads says whether op reads a value (a get, or a read-back after the
// crash): Found, Value and Size are then what it read.
func (op *Op) reads() bool { return op.Kind == model.KeyGet || op.Kind == KindRecover }

// version is what a put wrote or a get read, as the model sees it: the
// value's identity in place of its bytes.
func (op *Op) version() model.Version {
	if op.reads() && !op.Found || op.Kind == model.KeyDelete || op.Kind == KindSync {
		return model.Version{}
	}
	return model.Version{Present: true, Value: identity(op.Value, op.Size)}
}

// identity is the bytes the model holds for a value: its digest and size.
func identity(digest uint64, size int) []byte {
	var b [12]byte
	for i := range 8 {
		b[i] = byte(digest >> (8 * i))
	}
	for i := range 4 {
		b[8+i] = byte(uint32(size) >> (8 * i))
	}
	return b[:]
}

// describeValue renders a value identity: "#0a1b2c3d4e5f6071/13B".
func describeValue(digest uint64, size int) string {
	return fmt.Sprintf("#%016x/%dB", digest, size)
}

// describeVersion renders a model version holding a value identity.
func describeVersion(v model.Version) string {
	if !v.Present {
		return "absent"
	}
	if len(v.Value) != 12 {
		return v.String()
	}
	var d uint64
	var n uint32
	for i := range 8 {
		d |= uint64(v.Value[i]) << (8 * i)
	}
	for i := range 4 {
		n |= uint32(v.Value[8+i]) << (8 * i)
	}
	return describeValue(d, int(n))
}

// result renders what the op did, as the model sees it: "ok", "pending",
// "not found", a value.
func (op *Op) result() string {
	switch {
	case op.Return == Pending:
		return "pending"
	case !op.reads():
		return "ok"
	case !op.Found:
		return "not found"
	}
	return describeValue(op.Value, op.Size)
}

// call renders what the op asked: `put "k1" #.../13B`, `get "k1"`.
func (op *Op) call() string {
	switch op.Kind {
	case model.KeyPut:
		return fmt.Sprintf("put %q %s", op.Key, describeValue(op.Value, op.Size))
	case KindSync:
		return "sync"
	}
	return fmt.Sprintf("%s %q", kindName(op.Kind), op.Key)
}

// String renders the op for a person: client, interval, call and result.
func (op *Op) String() string {
	ret := "∞"
	if op.Return != Pending {
		ret = time.Duration(op.Return).String()
	}
	s := fmt.Sprintf("client %d [%s, %s] %s → %s", op.Client, time.Duration(op.Call), ret, op.call(), op.result())
	if op.Err != "" {
		s += " (" + op.Err + ")"
	}
	return s
}

// History is what the clients of one case did.
type History struct {
	// Engine is the engine's spec, Seed the run's seed and Case the
	// case's index in the run (from 0): together they say where the
	// history came from (a concurrent run does not replay).
	Engine  string
	Seed    uint64
	Case    int
	Clients int
	Ops     []Op
	// Crash is when the device was cut (a dirty reboot while ops were in
	// flight), ns since the start; 0: the history has no crash. An op
	// called before it that returned after it is pending (its answer
	// never reached anyone in a real crash); KindRecover ops come after
	// it.
	Crash int64
}

// Durable says h is a durable history (it has a crash or a Sync): it is
// checked with DurableModel.
func (h History) Durable() bool {
	return h.Crash > 0 || slices.ContainsFunc(h.Ops, func(op Op) bool { return op.Kind == KindSync })
}

// The history file format, version 2 (HistoryMagic first):
//
//	# gauntlet-linearize-history v2
//	# engine="shardstore" seed=1 case=3 clients=4
//	put "k1" client=0 call=1200 return=3400 value=0a1b2c3d4e5f6071 size=13
//	get "k1" client=1 call=1300 return=2000 value=absent
//	get "k1" client=2 call=1350 return=pending error="op timed out"
//	delete "k1" client=3 call=4000 return=5000
//	get "k2" client=0 call=4100 return=pending error="extent was reset" failed=true
//	sync client=1 call=4200 return=4900
//	put "k1" client=2 call=5000 return=pending value=0a1b2c3d4e5f6072 size=9 error="disk: power cut"
//	crash at=5500
//	recover "k1" call=6000 return=6100 value=0a1b2c3d4e5f6071 size=13
//	# end ops=8
//
// One op per line in the order they returned; keys are Go-quoted
// (strconv.QuoteToASCII), times are nanoseconds since the history's
// start, value= is a value's identity (hexadecimal digest; absent for a
// get that found nothing), failed=true marks an error no fault-free engine
// may return. The end line counts the ops: a file cut at a
// line boundary is caught by its absence or its count.
//
// Version 2 added durable histories (DurableChecker): sync lines (a Sync,
// no key), the crash line (when the device was cut, at most one) and
// recover lines (a key read back after the engine reopened on the crash
// state; called at or after the crash, no client=). A version 1 file,
// which has none of them, still loads.
const HistoryMagic = "# gauntlet-linearize-history v2"

// historyMagicV1 is the first line of a version 1 file.
const historyMagicV1 = "# gauntlet-linearize-history v1"

const historyMagicPrefix = "# gauntlet-linearize-history "

// WriteHistory writes h in the history file format.
func WriteHistory(w io.Writer, h History) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s\n# engine=%s seed=%d case=%d clients=%d\n", HistoryMagic, strconv.QuoteToASCII(h.Engine), h.Seed, h.Case, h.Clients)
	crashWritten := h.Crash == 0
	for i := range h.Ops {
		op := &h.Ops[i]
		if !crashWritten && op.Kind == KindRecover {
			fmt.Fprintf(bw, "crash at=%d\n", h.Crash)
			crashWritten = true
		}
		switch op.Kind {
		case KindSync:
			fmt.Fprintf(bw, "sync client=%d call=%d return=", op.Client, op.Call)
		case KindRecover:
			fmt.Fprintf(bw, "recover %s call=%d return=", strconv.QuoteToASCII(op.Key), op.Call)
		default:
			fmt.Fprintf(bw, "%s %s client=%d call=%d return=", op.Kind, strconv.QuoteToASCII(op.Key), op.Client, op.Call)
		}
		if op.Return == Pending {
			bw.WriteString("pending")
		} else {
			fmt.Fprintf(bw, "%d", op.Return)
		}
		switch {
		case op.Kind == model.KeyPut || op.reads() && op.Found:
			fmt.Fprintf(bw, " value=%016x size=%d", op.Value, op.Size)
		case op.reads() && op.Return != Pending:
			bw.WriteString(" value=absent")
		}
		if op.Err != "" {
			fmt.Fprintf(bw, " error=%s", strconv.QuoteToASCII(op.Err))
		}
		if op.Failed {
			bw.WriteString(" failed=true")
		}
		bw.WriteByte('\n')
	}
	if !crashWritten {
		fmt.Fprintf(bw, "crash at=%d\n", h.Crash)
	}
	fmt.Fprintf(bw, "# end ops=%d\n", len(h.Ops))
	return bw.Flush()
}

// SaveHistory writes h to path.
func SaveHistory(path string, h History) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := WriteHistory(f, h); err != nil {
		f.Close()
		return fmt.Errorf("write history %s: %w", path, err)
	}
	return f.Close()
}

// ReadHistory reads a history file. Its errors are one line naming the
// file and the problem, and wrap checkers.ErrBadTrace when the file is
// not a valid history (truncated, corrupt, another version).
func ReadHistory(path string) (History, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return History{}, fmt.Errorf("history %s: %v: give a file written by harness check linearize: %w", path, err, checkers.ErrBadTrace)
	}
	defer f.Close()
	h, err := ParseHistory(f)
	if err != nil {
		return History{}, fmt.Errorf("history %s: %w", path, err)
	}
	return h, nil
}

// historyLineMax bounds a line: an op line is well under it.
const historyLineMax = 16 << 10

// ParseHistory reads a history in the format WriteHistory writes. Errors
// say which line and what is wrong, and wrap checkers.ErrBadTrace.
func ParseHistory(r io.Reader) (History, error) {
	var h History
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), historyLineMax)
	bad := func(line int, format string, args ...any) error {
		return fmt.Errorf("line %d: %s: %w", line, fmt.Sprintf(format, args...), checkers.ErrBadTrace)
	}
	line, ended, endOps, v1, crashLine := 0, false, 0, false, 0
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case line == 1:
			v1 = text == historyMagicV1
			if text != HistoryMagic && !v1 {
				if v, ok := strings.CutPrefix(text, historyMagicPrefix); ok {
					return h, bad(1, "history format %s: this harness reads v1 and v2", v)
				}
				return h, bad(1, "not a linearize history (want %q first)", HistoryMagic)
			}
			continue
		case ended:
			if strings.TrimSpace(text) != "" {
				return h, bad(line, "text after the end line")
			}
			continue
		case line == 2:
			if err := parseHeader(&h, text); err != nil {
				return h, bad(2, "%v", err)
			}
			continue
		case strings.HasPrefix(text, "# end "):
			attrs, err := parseAttrs(strings.TrimPrefix(text, "# end "))
			n, err2 := strconv.Atoi(attrs["ops"])
			if err != nil || err2 != nil || len(attrs) != 1 {
				return h, bad(line, "end line %q: want \"# end ops=N\"", text)
			}
			ended, endOps = true, n
			continue
		case strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#"):
			continue
		case strings.HasPrefix(text, "crash"):
			if v1 {
				return h, bad(line, "a v1 history has no crash line")
			}
			if crashLine != 0 {
				return h, bad(line, "a second crash line (the first is line %d): a history has one crash", crashLine)
			}
			attrs, err := parseAttrs(strings.TrimPrefix(text, "crash"))
			n, err2 := strconv.ParseInt(attrs["at"], 10, 64)
			if err != nil || err2 != nil || len(attrs) != 1 || n <= 0 {
				return h, bad(line, "crash line %q: want \"crash at=N\" (N > 0 ns)", text)
			}
			h.Crash, crashLine = n, line
			continue
		}
		op, err := parseOp(text)
		if err != nil {
			return h, bad(line, "%v", err)
		}
		if v1 && (op.Kind == KindSync || op.Kind == KindRecover) {
			return h, bad(line, "a v1 history has no %s lines", kindName(op.Kind))
		}
		if op.Kind == KindRecover {
			if h.Crash == 0 || op.Call < h.Crash {
				return h, bad(line, "recover %s: a recover line comes after the crash line and is called at or after it", strconv.QuoteToASCII(op.Key))
			}
			op.Client = h.Clients
		} else if op.Client < 0 || op.Client >= h.Clients {
			return h, bad(line, "client=%d: the header says clients=%d", op.Client, h.Clients)
		}
		h.Ops = append(h.Ops, op)
	}
	if err := sc.Err(); err != nil {
		return h, fmt.Errorf("line %d: %v: %w", line+1, err, checkers.ErrBadTrace)
	}
	switch {
	case line == 0:
		return h, fmt.Errorf("empty: not a linearize history: %w", checkers.ErrBadTrace)
	case line == 1:
		return h, fmt.Errorf("truncated after line 1: no header: %w", checkers.ErrBadTrace)
	case !ended:
		return h, fmt.Errorf("truncated after line %d: no \"# end ops=N\" line (%d ops read): %w", line, len(h.Ops), checkers.ErrBadTrace)
	case endOps != len(h.Ops):
		return h, fmt.Errorf("the end line says %d ops, the file holds %d: truncated or edited: %w", endOps, len(h.Ops), checkers.ErrBadTrace)
	}
	return h, nil
}

func parseHeader(h *History, text string) error {
	rest, ok := strings.CutPrefix(text, "# ")
	if !ok {
		return fmt.Errorf("header %q: want \"# engine=... seed=N case=N clients=N\"", text)
	}
	attrs, err := parseAttrs(rest)
	if err != nil {
		return fmt.Errorf("header: %v", err)
	}
	for _, k := range []string{"engine", "seed", "case", "clients"} {
		if _, ok := attrs[k]; !ok {
			return fmt.Errorf("header has no %s=", k)
		}
	}
	h.Engine = attrs["engine"]
	if h.Seed, err = strconv.ParseUint(attrs["seed"], 10, 64); err != nil {
		return fmt.Errorf("header: seed=%s: want a decimal number", attrs["seed"])
	}
	if h.Case, err = strconv.Atoi(attrs["case"]); err != nil || h.Case < 0 {
		return fmt.Errorf("header: case=%s: want a number from 0", attrs["case"])
	}
	if h.Clients, err = strconv.Atoi(attrs["clients"]); err != nil || h.Clients < 1 || h.Clients > ClientsMax {
		return fmt.Errorf("header: clients=%s: want 1 to %d", attrs["clients"], ClientsMax)
	}
	return nil
}

// parseOp reads one op line: kind, quoted key, then name=value fields.
func parseOp(text string) (Op, error) {
	var op Op
	kind, rest, _ := strings.Cut(text, " ")
	switch kind {
	case "get":
		op.Kind = model.KeyGet
	case "put":
		op.Kind = model.KeyPut
	case "delete":
		op.Kind = model.KeyDelete
	case "sync":
		op.Kind = KindSync
	case "recover":
		op.Kind = KindRecover
	default:
		return op, fmt.Errorf("op %q: want get, put, delete, sync or recover", kind)
	}
	q := ""
	if op.Kind != KindSync {
		var err error
		if q, err = strconv.QuotedPrefix(rest); err != nil {
			return op, fmt.Errorf("%s: the key must be a quoted string", kind)
		}
		op.Key, _ = strconv.Unquote(q)
		if err := engine.CheckKey([]byte(op.Key)); err != nil {
			return op, fmt.Errorf("%s %s: %v", kind, q, err)
		}
	}
	attrs, err := parseAttrs(strings.TrimPrefix(rest[len(q):], " "))
	if err != nil {
		return op, fmt.Errorf("%s %s: %v", kind, q, err)
	}
	if op.Kind == KindSync {
		kind, q = "sync", "op" // messages: "sync op: no call="
	}
	if op.Kind == KindRecover {
		if _, ok := attrs["client"]; ok {
			return op, fmt.Errorf("recover %s: a recover line has no client=", q)
		}
		attrs["client"] = "0" // the parser sets the client: after every other
	}
	num := func(name string) (int64, error) {
		s, ok := attrs[name]
		if !ok {
			return 0, fmt.Errorf("%s %s: no %s=", kind, q, name)
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s %s: %s=%s: want a number from 0", kind, q, name, s)
		}
		return n, nil
	}
	client, err := num("client")
	if err != nil {
		return op, err
	}
	op.Client = int(min(client, math.MaxInt32))
	if op.Call, err = num("call"); err != nil {
		return op, err
	}
	if attrs["return"] == "pending" {
		op.Return = Pending
	} else if op.Return, err = num("return"); err != nil {
		return op, err
	} else if op.Return < op.Call {
		return op, fmt.Errorf("%s %s: return=%d before call=%d", kind, q, op.Return, op.Call)
	}
	op.Err = attrs["error"]
	switch f := attrs["failed"]; {
	case f == "true" && op.Return == Pending && op.Err != "":
		op.Failed = true
	case f == "true":
		return op, fmt.Errorf("%s %s: failed=true needs return=pending and error=", kind, q)
	case f != "" && f != "false":
		return op, fmt.Errorf("%s %s: failed=%s: want true or false", kind, q, f)
	}
	v, hasValue := attrs["value"]
	switch {
	case (op.Kind == model.KeyDelete || op.Kind == KindSync) && hasValue:
		return op, fmt.Errorf("%s %s: a %s has no value=", kind, q, kind)
	case op.Kind == model.KeyPut && !hasValue:
		return op, fmt.Errorf("put %s: no value=", q)
	case op.reads() && op.Return != Pending && !hasValue:
		return op, fmt.Errorf("%s %s: a %s that returned needs value= (absent if it found nothing)", kind, q, kind)
	case hasValue && v == "absent" && op.reads():
		// not found
	case hasValue:
		if op.Value, err = strconv.ParseUint(v, 16, 64); err != nil {
			return op, fmt.Errorf("%s %s: value=%s: want 16 hexadecimal digits", kind, q, v)
		}
		size, err := num("size")
		if err != nil {
			return op, err
		}
		op.Size, op.Found = int(min(size, math.MaxInt32)), op.reads()
	}
	return op, nil
}

// parseAttrs reads space-separated name=value fields, values bare or
// Go-quoted; a name may appear once.
func parseAttrs(s string) (map[string]string, error) {
	attrs := map[string]string{}
	for s = strings.TrimLeft(s, " "); s != ""; s = strings.TrimLeft(s, " ") {
		name, rest, ok := strings.Cut(s, "=")
		if !ok || name == "" || strings.Contains(name, " ") {
			return nil, fmt.Errorf("field %q: want name=value", strings.Fields(s)[0])
		}
		if _, dup := attrs[name]; dup {
			return nil, fmt.Errorf("%s= given twice", name)
		}
		var value string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("%s=: unterminated quoted value", name)
			}
			value, _ = strconv.Unquote(q)
			rest = rest[len(q):]
			if rest != "" && !strings.HasPrefix(rest, " ") {
				return nil, fmt.Errorf("%s=: text after the quoted value", name)
			}
		} else {
			value, rest, _ = strings.Cut(rest, " ")
		}
		attrs[name] = value
		s = rest
	}
	return attrs, nil
}
