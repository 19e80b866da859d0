package reports

import (
	"strings"
	"testing"
)

// TestSimulatedLabels: runs on a simulated device are labelled so in the
// summary's header, its tables and every plot's legend (the engine
// labels), and runs on the real disk are not.
func TestSimulatedLabels(t *testing.T) {
	r := testReport(1)
	for i := range r.Runs {
		if r.Runs[i].Engine == "shardstore" {
			r.Runs[i].Simulated = true
			r.Runs[i].Spec = "shardstore:device=hdd"
		}
	}
	var b strings.Builder
	if err := WriteSummary(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "SIMULATED: shardstore ran on a simulated device") {
		t.Errorf("summary has no SIMULATED line:\n%s", out)
	}
	if !strings.Contains(out, "shardstore (simulated)") || strings.Contains(out, "pebble (simulated)") {
		t.Errorf("summary's tables do not label exactly the simulated runs:\n%s", out)
	}
	for i, l := range engineLabels(r.Runs) {
		if sim := strings.HasSuffix(l, " (simulated)"); sim != r.Runs[i].Simulated {
			t.Errorf("run %d (%s): label %q", i, r.Runs[i].Spec, l)
		}
	}
}
