package workloads

import (
	"math/rand/v2"
	"sync"
)

// The shard workload's defaults: a 1 GiB device kept 80% full.
const (
	ShardCapacityDefault = 1 << 30
	ShardFillDefault     = 0.8
)

// Shard mode (Config.Capacity > 0) is a storage node's life, the job
// ShardStore was built for: object shards are read, and written and
// deleted so that the data on the device stays near Fill of Capacity for
// the whole run. Records, unless given, is the number of shards of the
// mean size that fill it so far; the load writes them. After it each op
// is a get of a live shard with the mix's read share, and otherwise a
// put of a new shard while fewer than Records are live, else a delete of
// a random live one: the deleted shards' space must be reclaimed (by
// compaction, value-log GC, extent reclamation) for the puts to go on,
// so reclamation never stops.
//
// shardState is the live set the workload's generators share.
type shardState struct {
	mu     sync.Mutex
	live   []int64 // key numbers of the live shards, in no order
	target int     // shards kept live: Records
}

func newShardState(records int64) *shardState {
	s := &shardState{live: make([]int64, records), target: int(records)}
	for i := range s.live {
		s.live[i] = int64(i)
	}
	return s
}

// shardRecords is how many shards of the mean size fill fill of capacity.
func shardRecords(capacity int64, fill float64, sizes Sizes) int64 {
	mean := meanSize(sizes)
	return max(int64(float64(capacity)*fill/mean), 1)
}

// meanSize is the mean of a size distribution, from a fixed sample.
func meanSize(sizes Sizes) float64 {
	switch s := sizes.(type) {
	case FixedSize:
		return float64(s)
	case UniformSize:
		return float64(s.Min+s.Max) / 2
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var sum float64
	const n = 4096
	for range n {
		sum += float64(sizes.Next(rng))
	}
	return max(sum/n, 1)
}

// nextShard draws a shard-mode op (see shardState).
func (g *Generator) nextShard() Op {
	w, rng, s := g.w, g.rng, g.w.shard
	read := rng.Float64() < w.cfg.Mix.Fraction(OpGet)
	s.mu.Lock()
	var op Op
	switch {
	case read && len(s.live) > 0:
		op = Op{Kind: OpGet, Key: w.Key(s.live[rng.IntN(len(s.live))])}
	case len(s.live) < s.target:
		n := w.nextInsert.Add(1) - 1
		// Live once its put has returned (Ack): until then the set is
		// short by it, so it overshoots its target by at most the workers.
		g.pending = n
		op = Op{Kind: OpInsert, Key: w.Key(n), Size: w.cfg.Values.Next(rng), Seed: rng.Uint64()}
	default:
		i := rng.IntN(len(s.live))
		op = Op{Kind: OpDelete, Key: w.Key(s.live[i])}
		s.live[i] = s.live[len(s.live)-1]
		s.live = s.live[:len(s.live)-1]
	}
	s.mu.Unlock()
	return op
}

// ackShard makes an acknowledged shard live.
func (g *Generator) ackShard(n int64) {
	s := g.w.shard
	s.mu.Lock()
	s.live = append(s.live, n)
	s.mu.Unlock()
}

// LiveShards returns the number of live shards of a shard-mode workload
// (0 otherwise): the load's records, less the deletes, plus the
// acknowledged inserts.
func (w *Workload) LiveShards() int {
	if w.shard == nil {
		return 0
	}
	w.shard.mu.Lock()
	defer w.shard.mu.Unlock()
	return len(w.shard.live)
}
