package linearize_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/linearize"
)

// TestCheckDurableHistoryFailure re-checks durable histories that fail: the
// violation names the key, shows its ops with the Syncs copied in (a
// barrier on every key), and says what a crash could have left.
func TestCheckDurableHistoryFailure(t *testing.T) {
	for _, c := range []struct {
		file, summary, op, expected string
	}{
		{"durable-lost-synced", `key "k1": its 3 ops (of 5 in history 0, 2 clients) are not linearizable: no order reaches recover "k1" → not found`,
			`recover "k1" → not found`, `(a crash may leave: #00000000000000a1/10B)`},
		{"durable-resurrected", `key "k1": its 5 ops (of 5 in history 0, 2 clients) are not linearizable: no order reaches recover "k1" → #00000000000000a1/10B`,
			`recover "k1" → #00000000000000a1/10B`, `absent (a crash may leave: absent)`},
	} {
		t.Run(c.file, func(t *testing.T) {
			out := t.TempDir()
			file := filepath.Join("testdata", c.file+".history")
			r, err := linearize.CheckHistory(context.Background(), linearize.Config{OutDir: out}, file)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(r.Summary())
			if r.Verdict != checkers.Fail || len(r.Violations) != 1 {
				t.Fatalf("re-check of %s:\n%s", file, r.Summary())
			}
			v := r.Violations[0]
			if !strings.HasPrefix(v.Summary, c.summary) || !strings.Contains(v.Actual, c.op) || !strings.Contains(v.Expected, c.expected) {
				t.Errorf("violation:\n summary %s\n actual %s\n expected %s", v.Summary, v.Actual, v.Expected)
			}
			if !strings.Contains(strings.Join(v.Ops, "\n"), "sync → ok") {
				t.Errorf("ops %q: want the Sync among the key's ops", v.Ops)
			}
			if v.Visualization == "" {
				t.Errorf("no visualization: %s", v.NotMinimized)
			}
		})
	}
}

// runDurable runs the durable checker, logging the seed and the command
// that reruns it.
func runDurable(t *testing.T, c linearize.Config) checkers.Result {
	t.Helper()
	if c.OutDir == "" {
		c.OutDir = t.TempDir()
	}
	t.Logf("rerun: harness check durable --engine %s --seed %d --cases %d (the same ops per client, not the same interleaving)", c.Target.Name, c.Seed, c.Cases)
	r, err := linearize.RunDurable(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	return r
}

// TestDurableShardstorePasses: shardstore keeps every synced write and
// no deleted key comes back through cuts of concurrent runs, and recovers.
func TestDurableShardstorePasses(t *testing.T) {
	cases := 30
	if testing.Short() {
		cases = 10
	}
	r := runDurable(t, linearize.Config{Target: testengines.Shardstore(), Seed: 1, Cases: cases})
	if r.Verdict != checkers.Pass || r.Cases != int64(cases) || r.Ops == 0 || !strings.Contains(r.Reason, "crash states checked") {
		t.Fatalf("verdict %s after %d of %d cases, want pass:\n%s", r.Verdict, r.Cases, cases, r.Summary())
	}
}

// TestDurableNeedsDevice: a directory engine is refused with the reason.
func TestDurableNeedsDevice(t *testing.T) {
	_, err := linearize.RunDurable(context.Background(), linearize.Config{Target: testengines.Model(), Cases: 1})
	if !errors.Is(err, linearize.ErrNeedsDevice) || !strings.HasPrefix(err.Error(), "durable: engine model opens on a directory") {
		t.Fatalf("error %v, want ErrNeedsDevice naming the engine", err)
	}
}
