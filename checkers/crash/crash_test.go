package crash_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/crash"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/toystore"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

var seeds = []uint64{1, 2}

func run(t *testing.T, c crash.Config) checkers.Result {
	t.Helper()
	if c.OutDir == "" {
		c.OutDir = t.TempDir()
	}
	faults := ""
	if c.Faults {
		faults = " --faults"
	}
	t.Logf("replay: harness check crash --mode block --engine %s%s --seed %d --cases %d", c.Target.Name, faults, c.Seed, c.Cases)
	r, err := crash.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	return r
}

func TestModelPasses(t *testing.T) {
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			r := run(t, crash.Config{Target: testengines.Model(), Seed: seed, Cases: 1000})
			if r.Verdict != checkers.Pass || r.Cases != 1000 {
				t.Fatalf("want pass after 1000 cases")
			}
		})
	}
}

func TestToystorePasses(t *testing.T) {
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			r := run(t, crash.Config{Target: testengines.Toystore(toystore.BugNone), Seed: seed, Cases: 1000})
			if r.Verdict != checkers.Pass || r.Cases != 1000 {
				t.Fatalf("want pass after 1000 cases")
			}
		})
	}
}

// TestBugsCaught: each toystore bug that breaks crash consistency (or
// anything else) is caught, minimized to at most 10 ops, and its trace
// replays.
func TestBugsCaught(t *testing.T) {
	for _, bug := range []toystore.Bug{toystore.BugEarlyPersist, toystore.BugLoseLastWrite, toystore.BugStaleDelete, toystore.BugUntrackedDelete} {
		t.Run(string(bug), func(t *testing.T) {
			r := run(t, crash.Config{Target: testengines.Toystore(bug), Seed: 1, Cases: 500})
			if r.Verdict != checkers.Fail {
				t.Fatalf("bug %s not caught in 500 cases", bug)
			}
			v := r.Violations[0]
			t.Logf("bug %s: caught after %d cases, minimized from %d to %d ops", bug, r.Cases, v.OriginalOps, len(v.Ops))
			if len(v.Ops) > 10 {
				t.Errorf("minimized to %d ops, want at most 10", len(v.Ops))
			}
			f, err := os.Open(v.TraceFile)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tr, err := workloads.ParseTrace(f)
			if err != nil {
				t.Fatal(err)
			}
			rr, err := crash.Replay(context.Background(), crash.Config{Target: testengines.Toystore(bug)}, tr)
			if err != nil || rr.Verdict != checkers.Fail || rr.Violations[0].Summary != v.Summary {
				t.Fatalf("replay: %v %s, want %q", err, rr.Summary(), v.Summary)
			}
		})
	}
}

func TestEarlyPersistIsACrashBug(t *testing.T) {
	// Only the crash checker sees it: conformance never crashes.
	r := run(t, crash.Config{Target: testengines.Toystore(toystore.BugEarlyPersist), Seed: 2, Cases: 300})
	if r.Verdict != checkers.Fail || r.Violations[0].Expected == "" {
		t.Fatalf("early-persist: %s", r.Summary())
	}
}

func TestSameSeedSameResult(t *testing.T) {
	var out []string
	for range 2 {
		r := run(t, crash.Config{Target: testengines.Toystore(toystore.BugEarlyPersist), Seed: 5, Cases: 300})
		r.Elapsed, r.Detected = 0, 0 // wall-clock times differ between runs
		r.Violations[0].TraceFile, r.Violations[0].Replay = "", ""
		b, _ := r.JSON()
		out = append(out, string(b))
	}
	if out[0] != out[1] {
		t.Fatalf("two runs differ:\n%s\n%s", out[0], out[1])
	}
}

func TestBlockNeedsDevice(t *testing.T) {
	tg := testengines.Model()
	tg.Abandon = false
	_, err := crash.Run(context.Background(), crash.Config{Target: tg})
	if err == nil {
		t.Fatal("block mode on a directory engine: no error")
	}
}
