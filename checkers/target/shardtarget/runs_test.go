package shardtarget_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers/target/shardtarget"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// runSizes drives shardstore at the check defaults with the checkers'
// biased alphabet (seeded) and counts the index runs it writes by how many
// chunks each spans: an op that wrote exactly one run (an index flush or a
// compaction) adds its bytes_index to the count of ceil(bytes/payload)
// chunks; ops that wrote several runs, or reclaimed, are counted apart.
func runSizes(t *testing.T, seed uint64, cases, opsPer int) (hist map[int]int, mixed int) {
	tg := shardtarget.Default()
	o := shardtarget.Options()
	o.EnsureDefaults()
	payload := float64(o.ChunkPayloadMax)
	ctx := context.Background()
	hist = map[int]int{}
	metric := func(e engine.Engine, k string) float64 { return e.(engine.Statser).Stats().Metrics[k] }
	for c := range cases {
		mem := disk.NewMem(tg.DeviceBytes, tg.SectorBytes)
		e, err := tg.OpenDevice(mem)
		if err != nil {
			t.Fatal(err)
		}
		gen, err := workloads.NewBiased(tg.Biased(workloads.BiasedOptions{Seed: seed}))
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(seed, uint64(c)))
		for range opsPer {
			op := gen.Draw(rng)
			runs := metric(e, "index_flushes") + metric(e, "compactions")
			reclaims, bytes := metric(e, "reclaims"), metric(e, "bytes_index")
			workloads.Apply(ctx, e, op, nil) // errors (a full device, checker-only ops) do not matter here
			dr := metric(e, "index_flushes") + metric(e, "compactions") - runs
			db := metric(e, "bytes_index") - bytes
			switch {
			case metric(e, "reclaims") != reclaims || dr > 1:
				mixed++
			case dr == 1:
				n := int(db / payload)
				if float64(n)*payload < db {
					n++
				}
				hist[n]++
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		mem.Release()
	}
	return hist, mixed
}

// TestRunsSpanChunks: at the check defaults index runs of two chunks and
// more are regular, so a checker reaches the multi-chunk run and metadata
// code (with a chunk of 16 KiB, a run never spanned more than one).
func TestRunsSpanChunks(t *testing.T) {
	const seed, cases, ops = 1, 100, 30
	t.Logf("seed %d, %d cases of %d ops; rerun: go test ./checkers/target/shardtarget -run TestRunsSpanChunks -v", seed, cases, ops)
	hist, mixed := runSizes(t, seed, cases, ops)
	total, multi := 0, 0
	for n, k := range hist {
		total += k
		if n >= 2 {
			multi += k
		}
	}
	t.Logf("runs by chunk count: %v (%d ops wrote several runs or reclaimed)", hist, mixed)
	if total == 0 || multi*5 < total {
		t.Fatalf("%d of %d runs span two chunks or more, want at least a fifth", multi, total)
	}
}
