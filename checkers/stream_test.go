package checkers_test

import (
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
)

// TestStreamSeed: the checkers and modes draw different streams at one
// seed, and each stream is a pure function of (checker, mode, seed).
func TestStreamSeed(t *testing.T) {
	for _, seed := range []uint64{0, 1, 2, 1 << 63} {
		seen := map[uint64]string{}
		for _, cm := range [][2]string{{"conformance", ""}, {"crash", "block"}, {"crash", "kill"}, {"linearize", ""}} {
			s := checkers.StreamSeed(cm[0], cm[1], seed)
			if s != checkers.StreamSeed(cm[0], cm[1], seed) {
				t.Fatalf("StreamSeed(%s, %s, %d) is not deterministic", cm[0], cm[1], seed)
			}
			if other, ok := seen[s]; ok {
				t.Fatalf("seed %d: %s/%s and %s draw the same stream %#x", seed, cm[0], cm[1], other, s)
			}
			seen[s] = cm[0] + "/" + cm[1]
		}
	}
	if checkers.StreamSeed("crash", "block", 1) == checkers.StreamSeed("crash", "block", 2) {
		t.Fatal("seeds 1 and 2 draw the same stream")
	}
}
