package disk

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
)

var seedFlag = flag.Uint64("disk.seed", 0, "run randomized tests with only this seed (0: the fixed seed list)")

// seedsDefault are the seeds randomized tests run with by default, so a run
// is deterministic.
var seedsDefault = []uint64{1, 2, 3, 42, 1337, 8731, 20240601, 0xdeadbeef}

// forSeeds runs fn once per seed as a subtest; a failure names the seed and
// the command that reruns it.
func forSeeds(t *testing.T, fn func(t *testing.T, rng *rand.Rand)) {
	t.Helper()
	seeds := seedsDefault
	if *seedFlag != 0 {
		seeds = []uint64{*seedFlag}
	}
	parent := t.Name()
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("seed %d: rerun with go test ./engine/disk/ -run '^%s$' -disk.seed=%d", seed, parent, seed)
				}
			})
			fn(t, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
		})
	}
}
