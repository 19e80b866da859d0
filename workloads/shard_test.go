package workloads

import (
	"strings"
	"testing"
)

// TestShardKeepsFill: the shard workload loads enough 1-8 MiB shards to
// fill 80% of its capacity, and from then on its puts and deletes keep
// the live shards at that count, reads going to live shards only.
func TestShardKeepsFill(t *testing.T) {
	w, err := Parse("shard,capacity=900MiB")
	if err != nil {
		t.Fatal(err)
	}
	c := w.Config()
	// 80% of 900 MiB in shards of 4.5 MiB on average.
	if c.Records != 160 || c.Fill != 0.8 || c.Capacity != 900<<20 {
		t.Fatalf("shard: records %d, fill %v, capacity %d; want 160, 0.8, 900MiB", c.Records, c.Fill, c.Capacity)
	}
	back, err := Parse(w.String())
	if err != nil || back.Config().Records != c.Records || back.Config().Capacity != c.Capacity {
		t.Fatalf("String %q does not read back: %v", w.String(), err)
	}
	live := map[string]bool{}
	for n := range c.Records {
		live[string(w.Key(n))] = true
	}
	const seed = 7
	t.Logf("seed %d (go test ./workloads -run TestShardKeepsFill)", seed)
	g := w.NewGenerator(WorkerRand(seed, 0))
	counts := map[OpKind]int{}
	for i := range 20000 {
		op := g.Next()
		counts[op.Kind]++
		k := string(op.Key)
		switch op.Kind {
		case OpGet, OpDelete:
			if !live[k] {
				t.Fatalf("op %d: %v of a shard not live", i, op)
			}
			if op.Kind == OpDelete {
				delete(live, k)
			}
		case OpInsert:
			if live[k] || op.Size < 1<<20 || op.Size > 8<<20 {
				t.Fatalf("op %d: insert of %s, %d bytes: a new shard of 1-8 MiB expected", i, k, op.Size)
			}
			live[k] = true
		default:
			t.Fatalf("op %d: %v in a shard workload", i, op.Kind)
		}
		if d := len(live) - int(c.Records); d < -1 || d > 1 {
			t.Fatalf("op %d: %d live shards, want %d ± 1 (one insert in flight)", i, len(live), c.Records)
		}
	}
	if counts[OpGet] < 9000 || counts[OpInsert] < 4000 || counts[OpDelete] < 4000 {
		t.Errorf("mix %v: want about half gets, a quarter each inserts and deletes", counts)
	}
	g.Ack()
	if w.LiveShards() != len(live) {
		t.Errorf("LiveShards %d, the generator's ops leave %d", w.LiveShards(), len(live))
	}
}

func TestShardSpecErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"shard,fill=1.5":       "fill=1.5",
		"shard,capacity=10KiB": "capacity=10KiB",
		"ycsb-a,fill=0":        "fill=0",
	} {
		if _, err := Parse(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error naming %s", spec, err, want)
		}
	}
}
