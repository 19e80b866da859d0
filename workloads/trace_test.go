package workloads

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func sampleOps(t testing.TB, seed uint64) []Op {
	var ops []Op
	for _, name := range []string{"ycsb-a", "ycsb-d", "ycsb-e", "ycsb-f"} {
		ops = append(ops, drawN(mustParse(t, name), seed, 50)...)
	}
	b, err := NewBiased(BiasedOptions{Weights: map[OpKind]int{
		OpGet: 1, OpPut: 1, OpDelete: 1, OpList: 1, OpIndexFlush: 1, OpSuperblockFlush: 1, OpCacheFlush: 1,
		OpCompact: 1, OpReclaim: 1, OpCleanReboot: 1, OpDirtyReboot: 1, OpFailDiskOnce: 1,
	}, BinaryKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	for range 300 {
		ops = append(ops, b.Draw(rng))
	}
	// Hand-made edge cases: binary keys, list bounds.
	ops = append(ops,
		Op{Kind: OpPut, Key: []byte{0, '"', '\\', 0xff, '\n', ' '}, Size: 0, Seed: 0},
		Op{Kind: OpList},
		Op{Kind: OpList, Key: []byte("a b"), End: []byte("\xff\xff"), ScanLen: 3},
		Op{Kind: OpInsert, Key: []byte("é"), Size: 1 << 20, Seed: 1<<64 - 1},
	)
	return ops
}

func TestTraceRoundTrip(t *testing.T) {
	seed := testSeed(t)
	ops := sampleOps(t, seed)
	h := Header{Seed: seed, Workload: "ycsb-a,records=10", Attrs: []Attr{{"engine", "shardstore:extent=1MiB"}, {"note", "a \"quoted\" value"}}}
	var buf bytes.Buffer
	if err := WriteTrace(&buf, h, ops); err != nil {
		t.Fatal(err)
	}
	tr, err := ParseTrace(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if tr.Header.Seed != h.Seed || tr.Header.Workload != h.Workload || len(tr.Header.Attrs) != 2 || tr.Header.Attrs[1] != h.Attrs[1] {
		t.Errorf("header %+v, want %+v", tr.Header, h)
	}
	if len(tr.Ops) != len(ops) {
		t.Fatalf("%d ops back, wrote %d", len(tr.Ops), len(ops))
	}
	for i := range ops {
		if !tr.Ops[i].Equal(ops[i]) {
			t.Errorf("op %d: wrote %v, read %v", i, ops[i], tr.Ops[i])
		}
		if tr.Lines[i] != i+3 {
			t.Errorf("op %d on line %d, want %d", i, tr.Lines[i], i+3)
		}
	}
	// The text is ASCII and one op per line.
	for _, c := range buf.Bytes() {
		if c >= 0x80 || c < 0x20 && c != '\n' {
			t.Fatalf("trace holds byte %#x", c)
		}
	}
	if !strings.HasPrefix(buf.String(), "# gauntlet-trace v1\n# seed=") || !strings.HasSuffix(buf.String(), "\n# end ops=504\n") {
		t.Errorf("trace framing:\n%s", buf.String())
	}
}

func TestTraceHandwritten(t *testing.T) {
	text := `# gauntlet-trace v1
# seed=7 workload="conformance"
put "k1" size=4097 seed=3

# a comment
get "k1"
list end="k9" n=2
list "k1"
index-flush
dirty-reboot seed=12
dirty-reboot
delete "k1"
# end ops=8
`
	tr, err := ParseTrace(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []Op{
		{Kind: OpPut, Key: []byte("k1"), Size: 4097, Seed: 3},
		{Kind: OpGet, Key: []byte("k1")},
		{Kind: OpList, End: []byte("k9"), ScanLen: 2},
		{Kind: OpList, Key: []byte("k1")},
		{Kind: OpIndexFlush},
		{Kind: OpDirtyReboot, Seed: 12},
		{Kind: OpDirtyReboot},
		{Kind: OpDelete, Key: []byte("k1")},
	}
	for i := range want {
		if !tr.Ops[i].Equal(want[i]) {
			t.Errorf("op %d = %v, want %v", i, tr.Ops[i], want[i])
		}
	}
	if tr.Lines[0] != 3 || tr.Lines[1] != 6 || tr.Lines[7] != 12 {
		t.Errorf("lines %v", tr.Lines)
	}
	if tr.Header.Seed != 7 || tr.Header.Workload != "conformance" {
		t.Errorf("header %+v", tr.Header)
	}
}

func TestTraceErrors(t *testing.T) {
	const head = "# gauntlet-trace v1\n# seed=1 workload=\"w\"\n"
	for _, tc := range []struct {
		in   string
		line int
		want string
	}{
		{"", 1, "empty"},
		{"hello\n", 1, "not a gauntlet trace"},
		{"# gauntlet-trace v2\n", 1, `trace format "v2" is not supported; this build reads v1`},
		{"# gauntlet-trace v1\n", 2, "truncated: no header line"},
		{"# gauntlet-trace v1", 1, "truncated: the last line has no newline"},
		{"# gauntlet-trace v1\nseed=1\n", 2, "the second line is the header"},
		{"# gauntlet-trace v1\n# seed=x\n", 2, "seed=x is not a number"},
		{"# gauntlet-trace v1\n# seed=1 seed=2\n", 2, "seed= given twice"},
		{"# gauntlet-trace v1\n# Engine=\"x\"\n", 2, "attribute name \"Engine\""},
		{"# gauntlet-trace v1\n# stray\n", 2, `"stray" is not name=value`},
		{head, 3, `truncated: no "# end ops=N" line`},
		{head + "get \"k\"\n", 4, "truncated: no \"# end"},
		{head + "get \"k\"\n# end ops=1", 4, "truncated: the last line has no newline"},
		{head + "get \"k\"\nput \"k\" size=1", 4, "truncated: the last line has no newline"},
		{head + "get \"k\"\n# end ops=2\n", 4, "the end line counts 2 ops, the trace holds 1"},
		{head + "# end ops=x\n", 3, "bad end line"},
		{head + "# end ops=0\nget \"k\"\n", 4, "text after the end line (line 3)"},
		{head + "frobnicate \"k\"\n# end ops=1\n", 3, `unknown op "frobnicate"; ops: get, put`},
		{head + "get\n", 3, `get needs a quoted key, e.g. get "k17"`},
		{head + "get k1\n", 3, `get needs a quoted key`},
		{head + "get \"k1\n", 3, "bad quoted string"},
		{head + "get \"\"\n", 3, "key of 0 bytes"},
		{head + "get \"" + strings.Repeat("a", 1025) + "\"\n", 3, "key of 1025 bytes"},
		{head + "get \"k\"x\n", 3, "right after a quoted string"},
		{head + "get \"k\" \"j\"\n", 3, `unexpected "j"`},
		{head + "put \"k\" size=10\n", 3, "put: missing field seed="},
		{head + "put \"k\" size=ten seed=1\n", 3, "put: size=ten is not a number"},
		{head + "put \"k\" size=-1 seed=1\n", 3, "size=-1 is not a number from 0"},
		{head + "put \"k\" size=99999999999 seed=1\n", 3, "size=99999999999 is not a number from 0"},
		// Bounded: a 2 GiB value is refused while parsing, not allocated.
		{head + "put \"k\" size=2147483647 seed=1\n", 3, "put: size=2147483647 is above 1073741824 bytes (1 GiB), the largest value a trace may hold"},
		{head + "get \"k\"\nput \"k\" size=1073741825 seed=1\n", 4, "put: size=1073741825 is above 1073741824 bytes"},
		{head + "put \"k\" size=1 seed=18446744073709551616\n", 3, "seed=18446744073709551616 is not a number"},
		{head + "put \"k\" size=1 seed=1 seed=2\n", 3, "field seed= given twice"},
		{head + "put \"k\" size=1 seed=1 n=3\n", 3, "put: unknown field n=; put takes size, seed"},
		{head + "put \"k\" size=\"1\" seed=1\n", 3, "size= takes a number, not a quoted string"},
		{head + "list end=k9\n", 3, "end= takes a quoted key"},
		{head + "compact \"k\"\n", 3, "compact takes no key"},
		{head + "compact n=1\n", 3, "compact takes no fields"},
		{head + "get \"k\"\n\nget \"k\" =x\n", 5, "has no name before '='"},
		{head + "get \"" + strings.Repeat("a", 20000) + "\"\n", 3, "longer than 16384 bytes"},
		{head + "\"k\"\n", 3, "a line starts with an op name"},
	} {
		_, err := ParseTrace(strings.NewReader(tc.in))
		var te *TraceError
		if !errors.As(err, &te) {
			t.Errorf("ParseTrace(%q) = %v, want a *TraceError", clip(tc.in), err)
			continue
		}
		if te.Line != tc.line || !strings.Contains(te.Msg, tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseTrace(%q) = %q (line %d), want line %d and %q", tc.in, err, te.Line, tc.line, tc.want)
		}
	}
}

func TestTraceWriterErrors(t *testing.T) {
	if _, err := NewTraceWriter(&bytes.Buffer{}, Header{Attrs: []Attr{{"Bad Key", "v"}}}); err == nil {
		t.Error("bad attribute key accepted")
	}
	if _, err := NewTraceWriter(&bytes.Buffer{}, Header{Attrs: []Attr{{"seed", "v"}}}); err == nil {
		t.Error("attribute named seed accepted")
	}
	tw, _ := NewTraceWriter(&bytes.Buffer{}, Header{})
	// The writer refuses what the parser would reject.
	for _, op := range []Op{
		{Kind: OpKind(99)},
		{Kind: OpGet},
		{Kind: OpGet, Key: make([]byte, 1025)},
		{Kind: OpCompact, Key: []byte("k")},
		{Kind: OpGet, Key: []byte("k"), End: []byte("z")},
		{Kind: OpList, End: []byte{}},
		{Kind: OpPut, Key: []byte("k"), Size: -1},
		{Kind: OpPut, Key: []byte("k"), Size: TraceValueMax + 1},
		{Kind: OpGet, Key: []byte("k"), Size: 1},
		{Kind: OpGet, Key: []byte("k"), ScanLen: 1},
		{Kind: OpCompact, Seed: 1},
	} {
		if err := tw.Write(op); err == nil {
			t.Errorf("wrote %v, which does not parse back", op)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tw.Write(Op{Kind: OpCompact}); err == nil {
		t.Error("write after Close accepted")
	}
	// A failing writer's error is reported, not lost.
	if err := WriteTrace(failWriter{}, Header{}, slices.Repeat([]Op{{Kind: OpCompact}}, 10000)); err == nil || !errors.Is(err, errInjected) {
		t.Errorf("WriteTrace to a failing writer = %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errInjected }

func TestReplay(t *testing.T) {
	ctx := context.Background()
	seed := testSeed(t)
	w := mustParse(t, "ycsb-a,records=20")
	rng := rand.New(rand.NewPCG(seed, 3))
	var ops []Op
	for i := range int64(20) {
		ops = append(ops, w.Load(rng, i))
	}
	ops = append(ops, w.NewGenerator(rng).Append(nil, 200)...)
	var buf bytes.Buffer
	if err := WriteTrace(&buf, Header{Seed: seed, Workload: w.String()}, ops); err != nil {
		t.Fatal(err)
	}
	tr, err := ParseTrace(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// Replaying on two engines gives the same state as applying directly.
	direct, replayed := newMem(), newMem()
	for _, op := range ops {
		if _, err := Apply(ctx, direct, op, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := Replay(ctx, replayed, tr); err != nil {
		t.Fatal(err)
	}
	if len(direct.m) != 20 || len(replayed.m) != len(direct.m) {
		t.Fatalf("%d keys direct, %d replayed", len(direct.m), len(replayed.m))
	}
	for k, v := range direct.m {
		if !bytes.Equal(replayed.m[k], v) {
			t.Errorf("key %q differs after replay", k)
		}
	}
	// A reboot in a trace is the checker's: Replay names the op and line.
	tr.Ops = append(tr.Ops, Op{Kind: OpCleanReboot})
	tr.Lines = append(tr.Lines, 999)
	err = Replay(ctx, newMem(), tr)
	if !errors.Is(err, ErrCheckerOp) || !strings.Contains(err.Error(), "op 220 (trace line 999: clean-reboot)") {
		t.Errorf("Replay with a reboot = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := Replay(cctx, newMem(), tr); !errors.Is(err, context.Canceled) {
		t.Errorf("Replay with a cancelled context = %v", err)
	}
}

func FuzzParseTrace(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteTrace(&buf, Header{Seed: 1, Workload: "ycsb-a"}, sampleOps(f, 1)[:40]); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("# gauntlet-trace v1\n# seed=7 workload=\"x\"\nput \"k1\" size=3 seed=4\nlist \"a\" end=\"b\" n=2\n# end ops=2\n"))
	f.Add([]byte("# gauntlet-trace v1\n#\n# end ops=0\n"))
	f.Add([]byte("# gauntlet-trace v1\n# seed=1\nget \"\\xff\"\n# end ops=1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTrace(bytes.NewReader(data))
		if err != nil {
			var te *TraceError
			if !errors.As(err, &te) || te.Line < 1 {
				t.Fatalf("error %v is not a *TraceError with a line", err)
			}
			return
		}
		// Whatever parses writes back and parses to the same trace.
		var out bytes.Buffer
		if err := WriteTrace(&out, tr.Header, tr.Ops); err != nil {
			t.Fatalf("writing a parsed trace: %v", err)
		}
		tr2, err := ParseTrace(&out)
		if err != nil {
			t.Fatalf("re-parsing %q: %v", out.String(), err)
		}
		if len(tr2.Ops) != len(tr.Ops) || tr2.Header.Seed != tr.Header.Seed || tr2.Header.Workload != tr.Header.Workload || len(tr2.Header.Attrs) != len(tr.Header.Attrs) {
			t.Fatalf("round trip changed the trace")
		}
		for i := range tr.Ops {
			if !tr.Ops[i].Equal(tr2.Ops[i]) {
				t.Fatalf("op %d: %v became %v", i, tr.Ops[i], tr2.Ops[i])
			}
		}
	})
}
