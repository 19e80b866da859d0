package reports

import (
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/bench"
)

// TestCompareVariance: a comparison of simulated runs says where their
// spread comes from: the seeds, for controlled runs (naming them);
// goroutine timing for the others; nothing for runs on a real device.
func TestCompareVariance(t *testing.T) {
	sim := func(seed uint64, controlled bool) bench.Run {
		return bench.Run{Simulated: true, Controlled: controlled, SimSeed: seed}
	}
	for _, c := range []struct {
		runs []bench.Run
		want string
	}{
		{[]bench.Run{sim(1, true), sim(3, true), sim(2, true)}, "their seeds' alone (seeds 1-3)"},
		{[]bench.Run{sim(1, true), sim(0, false)}, "goroutine timing"},
		{[]bench.Run{sim(1, true), {}}, ""},
	} {
		got := variance(c.runs)
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("variance(%+v) = %q, want it to say %q", c.runs, got, c.want)
		}
	}
}
