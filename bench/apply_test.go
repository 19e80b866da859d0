package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// TestApplyAgreesWithWorkloads: the bench runs an op as the checkers do
// (workloads.Apply). Each op goes to two engines holding the same keys,
// one as the bench runs it (its value made by opValue, then
// workloads.ApplyValue), one through workloads.Apply; both must fail or
// succeed alike, move the same bytes and leave the same state. The bench
// once had its own apply, which read a negative ScanLen as no bound where
// workloads.Apply listed one key.
func TestApplyAgreesWithWorkloads(t *testing.T) {
	ctx := context.Background()
	key := func(s string) []byte { return []byte(s) }
	ops := []workloads.Op{
		{Kind: workloads.OpGet, Key: key("k3")},
		{Kind: workloads.OpGet, Key: key("absent")},
		{Kind: workloads.OpPut, Key: key("k3"), Size: 100, Seed: 1},
		{Kind: workloads.OpInsert, Key: key("new"), Size: 10, Seed: 2},
		{Kind: workloads.OpReadModifyWrite, Key: key("k4"), Size: 20, Seed: 3},
		{Kind: workloads.OpReadModifyWrite, Key: key("absent"), Size: 20, Seed: 3},
		{Kind: workloads.OpDelete, Key: key("k5")},
		{Kind: workloads.OpDelete, Key: key("absent")},
		{Kind: workloads.OpList},
		{Kind: workloads.OpList, ScanLen: 1},
		{Kind: workloads.OpList, Key: key("k2"), ScanLen: 3},
		{Kind: workloads.OpList, Key: key("k2"), End: key("k6"), ScanLen: 100},
		{Kind: workloads.OpList, ScanLen: -1},
		{Kind: workloads.OpPut, Key: nil, Size: 1},
	}
	for _, op := range ops {
		t.Run(op.String(), func(t *testing.T) {
			a, b := model.New(), model.New()
			for i := range 10 {
				k, v := fmt.Appendf(nil, "k%d", i), fmt.Appendf(nil, "value-%d", i)
				a.Put(ctx, k, v)
				b.Put(ctx, k, v)
			}
			var buf []byte
			got, err := workloads.ApplyValue(ctx, a, op, opValue(op, &buf))
			r, werr := workloads.Apply(ctx, b, op, nil)
			if (err == nil) != (werr == nil) || got.Bytes != r.Bytes || got.Keys != r.Keys {
				t.Fatalf("bench: %+v, %v; workloads.Apply: %+v, %v", got, err, r, werr)
			}
			if sa, sb := dump(t, a), dump(t, b); sa != sb {
				t.Fatalf("state after the bench's op:\n%s\nafter workloads.Apply:\n%s", sa, sb)
			}
		})
	}
}

func dump(t *testing.T, s *model.Store) string {
	t.Helper()
	var out []byte
	err := s.List(context.Background(), nil, nil, func(k []byte) bool {
		v, err := s.Get(context.Background(), k)
		out = fmt.Appendf(out, "%s=%x (%v)\n", k, workloads.ValueDigest(v), err)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
