package workloads

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
)

func TestApply(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	e := listingEngine{m}
	apply := func(op Op) Result {
		t.Helper()
		r, err := Apply(ctx, e, op, nil)
		if err != nil {
			t.Fatalf("%v: %v", op, err)
		}
		return r
	}
	if r := apply(Op{Kind: OpGet, Key: []byte("a")}); r.Found {
		t.Errorf("get of an absent key found it")
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		apply(Op{Kind: OpPut, Key: []byte(k), Size: 5, Seed: 1})
	}
	if r := apply(Op{Kind: OpGet, Key: []byte("b")}); !r.Found || ValueDigest(r.Value) != SeedDigest(5, 1) {
		t.Errorf("get b = %v %x", r.Found, r.Value)
	}
	if r := apply(Op{Kind: OpList, Key: []byte("b"), ScanLen: 2}); r.Keys != 2 {
		t.Errorf("list from b, n=2: %d keys", r.Keys)
	}
	if r := apply(Op{Kind: OpList, End: []byte("c")}); r.Keys != 2 {
		t.Errorf("list to c: %d keys", r.Keys)
	}
	if r := apply(Op{Kind: OpList}); r.Keys != 4 {
		t.Errorf("list all: %d keys", r.Keys)
	}
	r := apply(Op{Kind: OpReadModifyWrite, Key: []byte("a"), Size: 3, Seed: 9})
	if !r.Found || len(r.Value) != 5 || len(m.m["a"]) != 3 {
		t.Errorf("rmw a: found %v, read %d bytes, stored %d", r.Found, len(r.Value), len(m.m["a"]))
	}
	if r := apply(Op{Kind: OpReadModifyWrite, Key: []byte("z"), Size: 3, Seed: 9}); r.Found || len(m.m["z"]) != 3 {
		t.Errorf("rmw of an absent key: found %v, stored %d bytes", r.Found, len(m.m["z"]))
	}
	apply(Op{Kind: OpDelete, Key: []byte("a")})
	apply(Op{Kind: OpDelete, Key: []byte("a")}) // absent: not an error
	if _, ok := m.m["a"]; ok {
		t.Errorf("a survived delete")
	}
	for _, k := range []OpKind{OpIndexFlush, OpCompact, OpReclaim, OpSuperblockFlush, OpCacheFlush} {
		apply(Op{Kind: k})
	}
	if want := engine.MaintenanceOps(); !slices.Equal(m.maintain, []engine.MaintenanceOp{want[0], want[1], want[2], want[3], want[4]}) {
		t.Errorf("maintained %v, want %v", m.maintain, want)
	}
}

type failingEngine struct{ *memEngine }

func (failingEngine) Get(context.Context, []byte) ([]byte, error) { return nil, errInjected }

func TestApplyErrors(t *testing.T) {
	ctx := context.Background()
	plain := newMem()
	for _, tc := range []struct {
		op   Op
		is   error
		want string
	}{
		{Op{Kind: OpList}, errors.ErrUnsupported, "does not implement engine.Lister"},
		{Op{Kind: OpCompact}, errors.ErrUnsupported, "compact: engine *workloads.memEngine does not implement engine.Maintainer"},
		{Op{Kind: OpCleanReboot}, ErrCheckerOp, "clean-reboot: run by the checker"},
		{Op{Kind: OpDirtyReboot}, ErrCheckerOp, "dirty-reboot"},
		{Op{Kind: OpFailDiskOnce}, ErrCheckerOp, "fail-disk-once"},
		{Op{Kind: OpKind(77)}, errors.ErrUnsupported, "unknown"},
		{Op{Kind: OpPut, Key: nil}, engine.ErrInvalidArgument, "key of 0 bytes"},
	} {
		_, err := Apply(ctx, plain, tc.op, nil)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Apply(%v) = %v, want %v containing %q", tc.op, err, tc.is, tc.want)
		}
	}
	// Engine errors other than not-found pass through, for rmw too.
	f := failingEngine{newMem()}
	for _, k := range []OpKind{OpGet, OpReadModifyWrite} {
		if _, err := Apply(ctx, f, Op{Kind: k, Key: []byte("k")}, nil); !errors.Is(err, errInjected) {
			t.Errorf("%v on a failing engine: %v", k, err)
		}
	}
	if len(f.m) != 0 {
		t.Errorf("rmw wrote after its read failed")
	}
}

// TestApplyScanLen pins what ScanLen means (0: every key in range, n: at
// most n, negative: an invalid op) and what Bytes counts for each kind.
func TestApplyScanLen(t *testing.T) {
	ctx := context.Background()
	e := listingEngine{newMem()}
	for _, k := range []string{"a", "bb", "ccc", "dddd"} {
		if err := e.Put(ctx, []byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		scanLen     int
		keys, bytes int
	}{
		{0, 4, 10}, {1, 1, 1}, {3, 3, 6}, {4, 4, 10}, {100, 4, 10},
	} {
		op := Op{Kind: OpList, ScanLen: tc.scanLen}
		r, err := Apply(ctx, e, op, nil)
		if err != nil || r.Keys != tc.keys || r.Bytes != tc.bytes {
			t.Errorf("list n=%d: %d keys, %d bytes, %v; want %d keys, %d bytes", tc.scanLen, r.Keys, r.Bytes, err, tc.keys, tc.bytes)
		}
	}
	for _, tc := range []struct {
		scanLen, seen int
		more          bool
	}{
		{0, 1, true}, {0, 1 << 30, true}, {1, 1, false}, {3, 2, true}, {3, 3, false},
	} {
		if got := (Op{Kind: OpList, ScanLen: tc.scanLen}).ListMore(tc.seen); got != tc.more {
			t.Errorf("n=%d: ListMore(%d) = %v, want %v", tc.scanLen, tc.seen, got, tc.more)
		}
	}
	if r, err := Apply(ctx, e, Op{Kind: OpList, ScanLen: -1}, nil); !errors.Is(err, engine.ErrInvalidArgument) || r.Keys != 0 {
		t.Errorf("list n=-1: %d keys, %v; want none and ErrInvalidArgument", r.Keys, err)
	}
	for _, tc := range []struct {
		op    Op
		bytes int
	}{
		{Op{Kind: OpGet, Key: []byte("bb")}, 1},
		{Op{Kind: OpGet, Key: []byte("zz")}, 0},
		{Op{Kind: OpPut, Key: []byte("p"), Size: 7}, 7},
		{Op{Kind: OpInsert, Key: []byte("q"), Size: 9}, 9},
		{Op{Kind: OpReadModifyWrite, Key: []byte("p"), Size: 3}, 7 + 3},
		{Op{Kind: OpReadModifyWrite, Key: []byte("new"), Size: 3}, 3},
		{Op{Kind: OpDelete, Key: []byte("p")}, 0},
	} {
		if r, err := Apply(ctx, e, tc.op, nil); err != nil || r.Bytes != tc.bytes {
			t.Errorf("%v: %d bytes, %v; want %d", tc.op, r.Bytes, err, tc.bytes)
		}
	}
}

// TestApplyValueWritesTheGivenValue: ApplyValue writes the value it is
// given, which is what lets a benchmark fill it before its clock starts.
func TestApplyValueWritesTheGivenValue(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	op := Op{Kind: OpPut, Key: []byte("k"), Size: 5, Seed: 3}
	v := op.Value(nil)
	if r, err := ApplyValue(ctx, m, op, v); err != nil || r.Bytes != 5 {
		t.Fatalf("ApplyValue: %d bytes, %v", r.Bytes, err)
	}
	if got := m.m["k"]; ValueDigest(got) != SeedDigest(5, 3) {
		t.Fatalf("stored %x, want the value of seed 3", got)
	}
}
