package crash_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/crash"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore"
	"github.com/gauntlet-kv/gauntlet/internal/badengine"
	"github.com/gauntlet-kv/gauntlet/internal/testfs"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

func runKill(t *testing.T, spec string, seed uint64, cases int) checkers.Result {
	t.Helper()
	tg, err := testengines.Driver(table(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("replay: harness check crash --mode kill --engine %s --seed %d --cases %d", spec, seed, cases)
	r, err := crash.RunKill(context.Background(), crash.KillConfig{Target: tg, Child: crash.TestChild(spec), Seed: seed, Cases: cases, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	return r
}

// TestKillPasses kills a child running each engine. Badger is left out:
// killed while closing, it can leave a memtable file it refuses to open
// (reported to the adapter's owner).
func TestKillPasses(t *testing.T) {
	for _, spec := range []string{"model", "toystore", "pebble", "bbolt"} {
		t.Run(spec, func(t *testing.T) {
			if r := runKill(t, spec, 1, 8); r.Verdict != checkers.Pass {
				t.Fatalf("want pass")
			}
		})
	}
}

func TestKillCatchesLostSyncedWrite(t *testing.T) {
	spec := "toystore:bug=lose-last-write"
	r := runKill(t, spec, 1, 20)
	if r.Verdict != checkers.Fail {
		t.Fatal("lose-last-write not caught by kill mode")
	}
	v := r.Violations[0]
	t.Logf("kill mode: minimized from %d to %d ops", v.OriginalOps, len(v.Ops))
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
	tg, _ := testengines.Driver(table(), spec)
	for range 2 { // replay is deterministic
		rr, err := crash.ReplayKill(context.Background(), crash.KillConfig{Target: tg, Child: crash.TestChild(spec)}, tr)
		if err != nil || rr.Verdict != checkers.Fail {
			t.Fatalf("replay: %v %s", err, rr.Summary())
		}
	}
}

// TestKillFoundBeforeMinimizing: kill mode, too, reports a violation
// through Found as soon as its case fails, the case's trace on disk and
// unminimized, before the child-process replays that minimize it (harness
// mutants stops a cell's worker at its budget, often among them), and
// counts the failing case once.
func TestKillFoundBeforeMinimizing(t *testing.T) {
	spec := "toystore:bug=lose-last-write"
	tg, err := testengines.Driver(table(), spec)
	if err != nil {
		t.Fatal(err)
	}
	var found []checkers.Violation
	var traceThen []byte
	var liveThen int64
	live := &checkers.Live{}
	t.Logf("replay: harness check crash --mode kill --engine %s --seed 1 --cases 20", spec)
	r, err := crash.RunKill(context.Background(), crash.KillConfig{Target: tg, Child: crash.TestChild(spec), Seed: 1, Cases: 20, OutDir: t.TempDir(), Live: live,
		Found: func(v checkers.Violation) {
			found = append(found, v)
			traceThen, _ = os.ReadFile(v.TraceFile)
			liveThen, _ = live.Counts()
		}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != checkers.Fail || len(found) != 1 {
		t.Fatalf("%s; Found called %d times; want fail and once", r.Summary(), len(found))
	}
	f, v := found[0], r.Violations[0]
	if f.NotMinimized == "" || len(traceThen) == 0 || f.OriginalOps != v.OriginalOps || len(f.Ops) != f.OriginalOps {
		t.Errorf("found: %d of %d ops, not minimized %q, trace %d bytes; want the failing case's %d ops, unminimized, on disk", len(f.Ops), f.OriginalOps, f.NotMinimized, len(traceThen), v.OriginalOps)
	}
	if v.NotMinimized != "" || len(v.Ops) > len(f.Ops) {
		t.Errorf("final violation: %d ops, not minimized %q; want minimized", len(v.Ops), v.NotMinimized)
	}
	if liveThen != r.Cases-1 {
		t.Errorf("Found saw %d cases counted live; want %d, the cases before the failing one", liveThen, r.Cases-1)
	}
	if cases, _ := live.Counts(); cases != r.Cases {
		t.Errorf("live count %d at the end; want the Result's %d", cases, r.Cases)
	}
}

func TestDDMin(t *testing.T) {
	items := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	// Fails when the sequence holds 3 and 8 and 11.
	has := func(s []int, x int) bool {
		for _, v := range s {
			if v == x {
				return true
			}
		}
		return false
	}
	calls := 0
	got := crash.DDMin(items, func(s []int) bool { calls++; return has(s, 3) && has(s, 8) && has(s, 11) }, 0)
	if len(got) != 3 || got[0] != 3 || got[1] != 8 || got[2] != 11 {
		t.Fatalf("DDMin = %v, want [3 8 11]", got)
	}
	again := crash.DDMin(items, func(s []int) bool { return has(s, 3) && has(s, 8) && has(s, 11) }, 0)
	if len(again) != len(got) {
		t.Fatal("DDMin not deterministic")
	}
	t.Logf("%d calls", calls)
	if lim := crash.DDMin(items, func(s []int) bool { return has(s, 3) }, 2); len(lim) > len(items) {
		t.Fatal("limited DDMin grew")
	}
}

// runKillStoppedAt runs cases kill-mode cases on eng and stops the run
// (as Ctrl-C does) when the third case's workload child starts.
func runKillStoppedAt(t *testing.T, eng string, cases int) checkers.Result {
	t.Helper()
	tg, err := testengines.Driver(table(), eng)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	child := crash.TestChild(eng)
	starts := 0
	c := crash.KillConfig{Target: tg, Seed: 1, Cases: cases, OutDir: t.TempDir(),
		Child: func(role crash.Role, dir, trace string) *exec.Cmd {
			if role == crash.RoleWorkload {
				if starts++; starts == 3 {
					cancel() // the third case runs and is checked after the stop
				}
			}
			return child(role, dir, trace)
		}}
	r, err := crash.RunKill(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestKillStopMidCaseIsNoViolation: a kill-mode run stopped while a case is
// under way (Ctrl-C) finishes that case with its checks and ends
// interrupted, "stopped after N cases". The checks used to run under the
// stopped context, and pebble, which honours it, failed them: a false
// violation.
func TestKillStopMidCaseIsNoViolation(t *testing.T) {
	r := runKillStoppedAt(t, "pebble", 100)
	if r.Verdict != checkers.Interrupted || r.Cases != 3 || !strings.Contains(r.Reason, "stopped after 3 of 100 cases") {
		t.Fatalf("stopped run: %s", r.Summary())
	}
}

// TestKillStopAfterLastCaseIsPass: a stop that comes while the last case
// runs ends nothing early: the run did all its cases, and passes.
func TestKillStopAfterLastCaseIsPass(t *testing.T) {
	r := runKillStoppedAt(t, "model", 3)
	if r.Verdict != checkers.Pass || r.Cases != 3 || r.Reason != "" {
		t.Fatalf("run stopped in its last case: %s, want a pass", r.Summary())
	}
}

// switchChild runs children of spec, but the n-th verification child (the
// probe is the first) of bad: an engine that fails only there, so the
// cases before it pass.
func switchChild(spec, bad string, n int) crash.ChildFunc {
	good, worse := crash.TestChild(spec), crash.TestChild(bad)
	verifies := 0
	return func(role crash.Role, dir, trace string) *exec.Cmd {
		if role == crash.RoleVerify {
			if verifies++; verifies == n {
				return worse(role, dir, trace)
			}
		}
		return good(role, dir, trace)
	}
}

// TestKillVerifyDiesInChild: an engine that dies of SIGBUS in Close while
// the directory is verified after a kill (Badger on a full disk) takes
// down the verification child, not the run: the case ends unknown with a
// one-line reason naming the signal, and the cases before it are kept.
func TestKillVerifyDiesInChild(t *testing.T) {
	tg, err := testengines.Driver(table(), "model")
	if err != nil {
		t.Fatal(err)
	}
	r, err := crash.RunKill(context.Background(), crash.KillConfig{Target: tg, Child: switchChild("model", "sigbus-reopen", 4), Seed: 1, Cases: 5, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	if r.Verdict != checkers.Unknown || r.Cases != 2 || len(r.Violations) != 0 {
		t.Fatalf("verdict %s after %d cases, want unknown after the 2 cases before the fault", r.Verdict, r.Cases)
	}
	want := "case 3: the verification process (reopen, reads and close after the kill) ended (exit status 2): fatal error: fault [signal SIGBUS: bus error"
	if !strings.HasPrefix(r.Reason, want) || strings.Contains(r.Reason, "\n") {
		t.Fatalf("reason %q, want one line starting %q", r.Reason, want)
	}
}

// TestKillVerifyHangsInChild: an engine that hangs reading after the kill
// is killed at the child timeout; the case ends unknown, saying so.
func TestKillVerifyHangsInChild(t *testing.T) {
	tg, err := testengines.Driver(table(), "model")
	if err != nil {
		t.Fatal(err)
	}
	r, err := crash.RunKill(context.Background(), crash.KillConfig{Target: tg, Child: switchChild("model", "hang-reopen", 3), Seed: 1, Cases: 5,
		ChildTimeout: time.Second, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	want := "case 2: the verification process (reopen, reads and close after the kill) did not finish within 1s (the engine hung)"
	if r.Verdict != checkers.Unknown || r.Cases != 1 || r.Reason != want {
		t.Fatalf("verdict %s after %d cases, reason %q; want unknown after 1 case, %q", r.Verdict, r.Cases, r.Reason, want)
	}
}

// TestKillDiskFull: the disk the cases run on fills up before case 3. The
// engine's failure (no space) is not a violation: the run ends unknown,
// saying what happened, with the two cases before it kept.
func TestKillDiskFull(t *testing.T) {
	tg, err := testengines.Driver(table(), "model")
	if err != nil {
		t.Fatal(err)
	}
	tg.WorkDir = testfs.Tmpfs(t, 8<<20)
	child := crash.TestChild("model")
	starts := 0
	c := crash.KillConfig{Target: tg, Seed: 1, Cases: 5, OutDir: t.TempDir(),
		Child: func(role crash.Role, dir, trace string) *exec.Cmd {
			if role == crash.RoleWorkload {
				if starts++; starts == 3 {
					testfs.Fill(t, tg.WorkDir)
				}
			}
			return child(role, dir, trace)
		}}
	r, err := crash.RunKill(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	want := "case 3: the engine failed in the workload process: open: model: "
	if r.Verdict != checkers.Unknown || r.Cases != 2 || !strings.HasPrefix(r.Reason, want) || !strings.HasSuffix(r.Reason, "no space left on device") {
		t.Fatalf("verdict %s after %d cases, reason %q; want unknown after 2 cases, %q... no space left on device", r.Verdict, r.Cases, r.Reason, want)
	}
}

func readTrace(t *testing.T, path string) workloads.Trace {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := workloads.ParseTrace(f)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func traceAttr(tr workloads.Trace, key string) string {
	for _, a := range tr.Header.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// TestKillInsideCloseIsRecorded: an engine that cannot reopen a store
// killed inside Close (half-close, as Badger's empty .mem file) is caught
// when the kill lands there. A kill between ops does not reproduce it, so
// the trace records the kill point (kill=close), the violation says it was
// reproduced only by a kill timed inside Close and is not minimized, and
// the trace's replay kills inside Close again and reproduces it.
func TestKillInsideCloseIsRecorded(t *testing.T) {
	spec := "half-close"
	tg, err := testengines.Driver(table(), spec)
	if err != nil {
		t.Fatal(err)
	}
	c := crash.KillConfig{Target: tg, Child: crash.TestChild(spec), Seed: 1, Cases: 20, OpsMean: 2, OutDir: t.TempDir()}
	t.Logf("replay: harness check crash --mode kill --engine %s --seed 1 --cases 20", spec)
	r, err := crash.RunKill(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	if r.Verdict != checkers.Fail {
		t.Fatalf("verdict %s, want a violation", r.Verdict)
	}
	v := r.Violations[0]
	if !strings.Contains(v.Summary, "reopen after the kill: half-close: $DIR: a half-closed store") || v.NotReproduced != "" ||
		!strings.HasPrefix(v.NotMinimized, "the kill landed inside Close, and only a kill timed there") || v.Ops[len(v.Ops)-1] != "# kill -9 inside Close" {
		t.Fatalf("violation %+v: want a half-closed store, reproduced by a kill timed inside Close", v)
	}
	if !strings.Contains(r.Summary(), "not minimized: the kill landed inside Close") || strings.Contains(r.Summary(), "minimized from") {
		t.Errorf("summary:\n%s", r.Summary())
	}
	tr := readTrace(t, v.TraceFile)
	if got := traceAttr(tr, crash.KillAttr); got != "close" {
		t.Fatalf("trace %s: kill=%q, want close", v.TraceFile, got)
	}
	rr, err := crash.ReplayKill(context.Background(), c, tr)
	if err != nil || rr.Verdict != checkers.Fail || !strings.HasPrefix(rr.Violations[0].NotMinimized, "reproduced by a kill inside Close") {
		t.Fatalf("replay: %v\n%s", err, rr.Summary())
	}
}

// TestKillNotReproducedSaysSo: a violation that shows once and never again
// (flaky-reopen) is reported as found, with its trace, but as not
// reproduced by a replay, never as minimized; the trace's replay says it
// did not reproduce it.
func TestKillNotReproducedSaysSo(t *testing.T) {
	spec := "flaky-reopen"
	tg, err := testengines.Driver(table(), spec)
	if err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(badengine.TokenEnv, token)
	c := crash.KillConfig{Target: tg, Child: crash.TestChild(spec), Seed: 1, Cases: 3, TimedKills: 2, OutDir: t.TempDir()}
	r, err := crash.RunKill(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	if r.Verdict != checkers.Fail || r.Cases != 1 {
		t.Fatalf("verdict %s after %d cases, want a violation in case 1", r.Verdict, r.Cases)
	}
	v := r.Violations[0]
	if v.NotReproduced == "" || v.OriginalOps != len(v.Ops) || v.TraceFile == "" {
		t.Fatalf("violation %+v: want one not reproduced, its ops as they ran, and a trace", v)
	}
	if s := r.Summary(); !strings.Contains(s, "replay did not reproduce the violation") || strings.Contains(s, "minimized from") {
		t.Errorf("summary:\n%s", s)
	}
	rr, err := crash.ReplayKill(context.Background(), c, readTrace(t, v.TraceFile))
	if err != nil || rr.Verdict == checkers.Fail || !strings.HasPrefix(rr.Reason, "replay did not reproduce the violation") {
		t.Fatalf("replay: %v\n%s", err, rr.Summary())
	}
}

// TestKillTraceErrors: a kill-mode trace whose attributes contradict its
// ops is refused before anything runs, naming the attribute.
func TestKillTraceErrors(t *testing.T) {
	tg, err := testengines.Driver(table(), "model")
	if err != nil {
		t.Fatal(err)
	}
	put := workloads.Op{Kind: workloads.OpPut, Key: []byte("k"), Size: 3, Seed: 1}
	reboot := workloads.Op{Kind: workloads.OpDirtyReboot}
	for _, c := range []struct {
		attrs []workloads.Attr
		ops   []workloads.Op
		want  string
	}{
		{[]workloads.Attr{{Key: "syncs", Value: "x"}}, []workloads.Op{put}, `trace attribute syncs="x": "x" is not an op index (0 to 0)`},
		{[]workloads.Attr{{Key: "syncs", Value: "5"}}, []workloads.Op{put}, `trace attribute syncs="5": "5" is not an op index`},
		{[]workloads.Attr{{Key: "kill", Value: "later"}}, []workloads.Op{put}, `trace attribute kill="later": "later" is not a kill point`},
		{[]workloads.Attr{{Key: "kill", Value: "op:0"}}, []workloads.Op{put, put}, `trace attribute kill="op:0": op 0 is not the trace's last op (1)`},
		{[]workloads.Attr{{Key: "kill", Value: "sync:0"}}, []workloads.Op{put}, `trace attribute kill="sync:0": syncs= has no sync after op 0`},
		{[]workloads.Attr{{Key: "kill", Value: "close"}}, []workloads.Op{put, reboot}, `trace attribute kill="close": the trace ends with dirty-reboot`},
		{[]workloads.Attr{{Key: "kill", Value: "boundary"}}, []workloads.Op{put}, `trace attribute kill="boundary": the trace does not end with the dirty-reboot op`},
		{nil, []workloads.Op{reboot, put}, "op 0: dirty-reboot: a kill-mode trace has at most one, as its last op"},
	} {
		tr := workloads.Trace{Header: workloads.Header{Attrs: c.attrs}, Ops: c.ops}
		_, err := crash.ReplayKill(context.Background(), crash.KillConfig{Target: tg, Child: crash.TestChild("model")}, tr)
		if !errors.Is(err, checkers.ErrBadTrace) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: error %v, want ErrBadTrace and %q", c.attrs, c.ops, err, c.want)
		}
	}
}

// TestKillReplayOverLimitPut: a put over the engine's value maximum, which
// engine and model both refuse, is no violation; one the engine would take
// but the model cannot hold is a bad trace.
func TestKillReplayOverLimitPut(t *testing.T) {
	put := func(size int) workloads.Op {
		return workloads.Op{Kind: workloads.OpPut, Key: []byte("k"), Size: size, Seed: 1}
	}
	get := workloads.Op{Kind: workloads.OpGet, Key: []byte("k")}
	tr := workloads.Trace{Header: workloads.Header{Attrs: []workloads.Attr{{Key: "syncs", Value: "0,1"}}},
		Ops: []workloads.Op{put(10), put(model.ValueMax + 1), get, {Kind: workloads.OpDirtyReboot}}}
	tg, err := testengines.Driver(table(), "model")
	if err != nil {
		t.Fatal(err)
	}
	r, err := crash.ReplayKill(context.Background(), crash.KillConfig{Target: tg, Child: crash.TestChild("model")}, tr)
	if err != nil || r.Verdict != checkers.Pass {
		t.Fatalf("model: %v\n%s", err, r.Summary())
	}
	tg, err = testengines.Driver(table(), "pebble")
	if err != nil {
		t.Fatal(err)
	}
	_, err = crash.ReplayKill(context.Background(), crash.KillConfig{Target: tg, Child: crash.TestChild("pebble")}, tr)
	if !errors.Is(err, checkers.ErrBadTrace) || !strings.Contains(err.Error(), "the model holds values up to 67108864 bytes") {
		t.Fatalf("pebble: error %v, want ErrBadTrace naming the model's maximum", err)
	}
}

// TestHarnessChildOwnProcessGroup: a kill-mode child runs in a process
// group of its own, so a Ctrl-C at the terminal (SIGINT to the foreground
// group) stops the parent between cases instead of killing the child
// mid-case, which read as an engine that died (exit 3).
func TestHarnessChildOwnProcessGroup(t *testing.T) {
	cmd := crash.HarnessChild("/bin/harness", "pebble")(crash.RoleWorkload, "/tmp/d", "/tmp/t")
	if cmd.SysProcAttr == nil || !cmd.SysProcAttr.Setpgid {
		t.Fatalf("kill child's SysProcAttr %+v: want Setpgid", cmd.SysProcAttr)
	}
	if want := []string{"/bin/harness", "internal", "kill-child", "--engine", "pebble", "--dir", "/tmp/d", "--trace", "/tmp/t"}; !slices.Equal(cmd.Args, want) {
		t.Errorf("args %q, want %q", cmd.Args, want)
	}
	if v := crash.HarnessChild("/bin/harness", "pebble")(crash.RoleVerify, "/tmp/d", "/tmp/t").Args[2]; v != "kill-verify" {
		t.Errorf("verify child runs %q, want kill-verify", v)
	}
}

// TestKillDeviceSpec: kill mode gives a device engine a small device file
// where its spec leaves size and extent unset; other specs stay as given.
func TestKillDeviceSpec(t *testing.T) {
	table := engine.Drivers{shardstore.Driver(), model.Driver()}
	for _, c := range []struct{ spec, want string }{
		{"shardstore", "shardstore:size=16MiB,extent=1MiB"},
		{"shardstore:extent=4MiB", "shardstore:extent=4MiB,size=16MiB"},
		{"shardstore:size=64MiB,extent=2MiB", "shardstore:size=64MiB,extent=2MiB"},
		{"model", "model"},
	} {
		_, o, err := table.Resolve(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := crash.KillDeviceSpec(c.spec, o); got != c.want {
			t.Errorf("%s: %q, want %q", c.spec, got, c.want)
		}
	}
}

// TestKillOpenFailedIsAViolation: in kill mode too, an engine that will not
// open on a new directory fails the check (its probe child reports an
// engine error, not the machine's), rather than ending it unknown.
func TestKillOpenFailedIsAViolation(t *testing.T) {
	r := runKill(t, "no-open", 1, 3)
	if r.Verdict != checkers.Fail || len(r.Violations) != 1 || !strings.Contains(r.Violations[0].Summary, "opening a new engine failed: probe: open engine no-open") {
		t.Fatalf("%s %+v; want fail: opening a new engine failed", r.Summary(), r.Violations)
	}
}

// TestKillOpenHangIsAViolation: an engine whose open of a new directory
// never returns fails kill mode's probe within its bound (the probe
// child is killed at min(ChildTimeout, ProbeTimeout)), not the whole run.
func TestKillOpenHangIsAViolation(t *testing.T) {
	tg, err := testengines.Driver(table(), "hang-open")
	if err != nil {
		t.Fatal(err)
	}
	r, err := crash.RunKill(context.Background(), crash.KillConfig{Target: tg, Child: crash.TestChild("hang-open"), Seed: 1, Cases: 3,
		ChildTimeout: 2 * time.Second, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != checkers.Fail || !strings.Contains(r.Violations[0].Summary, "did not finish within 2s") {
		t.Fatalf("%s %+v; want fail: the probe did not finish", r.Summary(), r.Violations)
	}
}
