package linearize_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/linearize"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/badger"
	"github.com/gauntlet-kv/gauntlet/engine/bbolt"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/engine/pebble"
	"github.com/gauntlet-kv/gauntlet/internal/badengine"
)

// TestHistories checks the hand-written histories of testdata with
// porcupine: each file's verdict is known.
func TestHistories(t *testing.T) {
	for _, c := range []struct {
		file string
		want porcupine.CheckResult
	}{
		{"linearizable", porcupine.Ok},
		{"overlapping", porcupine.Ok},
		{"pending-put", porcupine.Ok},
		{"stale-read", porcupine.Illegal},
		{"lost-write", porcupine.Illegal},
		{"pending-flipflop", porcupine.Illegal},
		{"never-written", porcupine.Illegal},
		{"failed-get", porcupine.Ok}, // porcupine's part; see TestCheckHistoryFailedOp
		// Durable histories (v2), spanning a crash.
		{"durable-linearizable", porcupine.Ok},
		{"durable-cut-in-flight", porcupine.Ok},
		{"durable-lost-synced", porcupine.Illegal},
		{"durable-resurrected", porcupine.Illegal},
		{"durable-older-than-synced", porcupine.Illegal},
		{"durable-seen-then-synced", porcupine.Illegal},
		{"durable-never-written", porcupine.Illegal},
	} {
		t.Run(c.file, func(t *testing.T) {
			h, err := linearize.ReadHistory(filepath.Join("testdata", c.file+".history"))
			if err != nil {
				t.Fatal(err)
			}
			if got := linearize.Check(h, time.Minute); got != c.want {
				t.Errorf("porcupine says %s, want %s", got, c.want)
			}
		})
	}
}

// TestCheckHistoryFailure re-checks a failing history file: a violation
// naming the smallest failing key, its ops, the visualization and the
// command that re-checks it.
func TestCheckHistoryFailure(t *testing.T) {
	out := t.TempDir()
	file := filepath.Join("testdata", "lost-write.history")
	r, err := linearize.CheckHistory(context.Background(), linearize.Config{OutDir: out}, file)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	if r.Verdict != checkers.Fail || len(r.Violations) != 1 || r.Engine != "lossy" || r.Ops != 4 {
		t.Fatalf("re-check of %s:\n%s", file, r.Summary())
	}
	v := r.Violations[0]
	if !strings.HasPrefix(v.Summary, `key "k1": its 2 ops (of 4 in history 0, 2 clients) are not linearizable`) || len(v.Ops) != 2 || v.OpIndex != 1 {
		t.Errorf("violation: %+v", v)
	}
	if !strings.Contains(v.Ops[1], `get "k1" → not found`) || !strings.Contains(v.Expected, "#00000000000000a1/10B") {
		t.Errorf("ops %q, expected %q: want the get that found nothing where a1 was", v.Ops, v.Expected)
	}
	if v.Replay != "harness check linearize --history "+file {
		t.Errorf("replay %q", v.Replay)
	}
	html, err := os.ReadFile(v.Visualization)
	if err != nil || !strings.Contains(string(html), "<html") {
		t.Errorf("visualization %s: %v", v.Visualization, err)
	}
	if filepath.Dir(v.Visualization) != out {
		t.Errorf("visualization %s not in --out %s", v.Visualization, out)
	}
}

// TestCheckHistoryFailedOp: a linearizable history with an op that failed
// as no fault-free engine may (failed=true) is still a violation, naming
// the op.
func TestCheckHistoryFailedOp(t *testing.T) {
	file := filepath.Join("testdata", "failed-get.history")
	r, err := linearize.CheckHistory(context.Background(), linearize.Config{OutDir: t.TempDir()}, file)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	if r.Verdict != checkers.Fail || len(r.Violations) != 1 {
		t.Fatalf("re-check of %s:\n%s", file, r.Summary())
	}
	v := r.Violations[0]
	if !strings.HasPrefix(v.Summary, `key "k0": client 1's get "k0" failed in history 0: extent was reset`) || v.OpIndex != 1 || len(v.Ops) != 3 {
		t.Errorf("violation: %+v", v)
	}
}

// TestHistoryRoundTrip: a history written and read back is the same.
func TestHistoryRoundTrip(t *testing.T) {
	h := linearize.History{Engine: "shardstore:size=2MiB", Seed: 9, Case: 3, Clients: 2, Ops: []linearize.Op{
		{Client: 0, Kind: model.KeyPut, Key: "k \"0\"\x00", Value: 0xdeadbeef, Size: 7, Call: 1, Return: 5},
		{Client: 1, Kind: model.KeyGet, Key: "k1", Value: 0xdeadbeef, Size: 7, Found: true, Call: 2, Return: 6},
		{Client: 1, Kind: model.KeyGet, Key: "k1", Call: 7, Return: 8},
		{Client: 0, Kind: model.KeyDelete, Key: "k1", Call: 9, Return: linearize.Pending, Err: "engine closed", Failed: true},
		{Client: 1, Kind: model.KeyGet, Key: "k1", Call: 10, Return: linearize.Pending, Err: "did not return"},
		{Client: 0, Kind: linearize.KindSync, Call: 11, Return: 12},
		{Client: 1, Kind: linearize.KindSync, Call: 13, Return: linearize.Pending, Err: "disk: power cut"},
		{Client: 2, Kind: linearize.KindRecover, Key: "k1", Value: 0xdeadbeef, Size: 7, Found: true, Call: 20, Return: 21},
		{Client: 2, Kind: linearize.KindRecover, Key: "k2", Call: 22, Return: 23},
	}, Crash: 15}
	path := filepath.Join(t.TempDir(), "h.history")
	if err := linearize.SaveHistory(path, h); err != nil {
		t.Fatal(err)
	}
	got, err := linearize.ReadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", h) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, h)
	}
}

// TestBadHistoryFiles: a truncated or corrupt history file is one line
// naming the file and the problem, marked ErrBadTrace (usage, exit 2).
func TestBadHistoryFiles(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "overlapping.history"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := os.ReadFile(filepath.Join("testdata", "durable-lost-synced.history"))
	if err != nil {
		t.Fatal(err)
	}
	durable := string(d)
	lines := strings.SplitAfter(string(good), "\n")
	cut := strings.Join(lines[:len(lines)-3], "") // the end line and an op gone
	for _, c := range []struct {
		name, text, want string
	}{
		{"empty", "", "empty: not a linearize history"},
		{"not-history", "# gauntlet-trace v1\n", `line 1: not a linearize history (want "# gauntlet-linearize-history v2" first)`},
		{"version", "# gauntlet-linearize-history v3\n", "line 1: history format v3: this harness reads v1 and v2"},
		{"no-header", "# gauntlet-linearize-history v1\n", "truncated after line 1: no header"},
		{"truncated", cut, `truncated after line 11: no "# end ops=N" line (5 ops read)`},
		{"cut-mid-line", string(good[:len(good)-40]), `line 12: get "k1": no return=`},
		{"count", strings.Replace(string(good), "ops=6", "ops=7", 1), "the end line says 7 ops, the file holds 6: truncated or edited"},
		{"bad-kind", strings.Replace(string(good), "\ndelete", "\nremove", 1), `line 11: op "remove": want get, put, delete, sync or recover`},
		{"bad-client", strings.Replace(string(good), "client=3", "client=9", 1), "line 10: client=9: the header says clients=4"},
		{"bad-value", strings.Replace(string(good), "value=00000000000000a2", "value=zz", 1), `line 8: put "k1": value=zz: want 16 hexadecimal digits`},
		{"return-before-call", strings.Replace(string(good), "return=200", "return=50", 1), `line 7: put "k1": return=50 before call=100`},
		{"bad-header", strings.Replace(string(good), "clients=4", "clients=0", 1), "line 2: header: clients=0: want 1 to 64"},
		{"trailing", string(good) + "get \"k1\"\n", "line 14: text after the end line"},
		{"failed-returned", strings.Replace(string(good), "return=1200", "return=1200 failed=true", 1), `line 11: delete "k1": failed=true needs return=pending and error=`},
		{"v1-sync", strings.Replace(string(good), "\ndelete", "\nsync client=0 call=1 return=2\ndelete", 1), "line 11: a v1 history has no sync lines"},
		{"v1-crash", strings.Replace(string(good), "\ndelete", "\ncrash at=5\ndelete", 1), "line 11: a v1 history has no crash line"},
		{"two-crashes", strings.Replace(durable, "crash at=1000", "crash at=1000\ncrash at=1001", 1), "line 9: a second crash line (the first is line 8): a history has one crash"},
		{"bad-crash", strings.Replace(durable, "crash at=1000", "crash when=1000", 1), `line 8: crash line "crash when=1000": want "crash at=N" (N > 0 ns)`},
		{"recover-before-crash", strings.Replace(durable, "crash at=1000", "crash at=1150", 1), `line 9: recover "k1": a recover line comes after the crash line and is called at or after it`},
		{"recover-client", strings.Replace(durable, "recover \"k1\" ", "recover \"k1\" client=0 ", 1), `line 9: recover "k1": a recover line has no client=`},
		{"sync-value", strings.Replace(durable, "sync client=1 call=300 return=400", "sync client=1 call=300 return=400 value=absent", 1), "line 7: sync op: a sync has no value="},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.name+".history")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := linearize.ReadHistory(path)
			want := "history " + path + ": " + c.want
			if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") || !errors.Is(err, checkers.ErrBadTrace) {
				t.Errorf("error %v\nwant one line starting %q, marked ErrBadTrace", err, want)
			}
		})
	}
	_, err = linearize.ReadHistory(filepath.Join(t.TempDir(), "absent.history"))
	if err == nil || !strings.Contains(err.Error(), "absent.history: no such file or directory") {
		t.Errorf("absent file: %v", err)
	}
}

func run(t *testing.T, c linearize.Config) checkers.Result {
	t.Helper()
	if c.OutDir == "" {
		c.OutDir = t.TempDir()
	}
	t.Logf("rerun: harness check linearize --engine %s --seed %d --cases %d --clients %d (the same ops per client, not the same interleaving)",
		c.Target.Name, c.Seed, c.Cases, cmp.Or(c.Clients, linearize.ClientsDefault))
	r, err := linearize.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	return r
}

func mustPass(t *testing.T, r checkers.Result, cases int) {
	t.Helper()
	if r.Verdict != checkers.Pass || r.Cases != int64(cases) || r.Ops == 0 {
		t.Fatalf("verdict %s after %d of %d histories, want pass:\n%s", r.Verdict, r.Cases, cases, r.Summary())
	}
}

// TestEnginesPass: the model, shardstore and the peers are linearizable
// on a few histories each.
func TestEnginesPass(t *testing.T) {
	table := engine.Drivers{pebble.Driver(), badger.Driver(), bbolt.Driver()}
	targets := []target.Target{testengines.Model(), testengines.Shardstore()}
	for _, spec := range []string{"pebble", "badger", "bbolt"} {
		tg, err := testengines.Driver(table, spec)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}
	for _, tg := range targets {
		t.Run(tg.Name, func(t *testing.T) {
			// The peers open slowly (tens of ms): fewer histories.
			cases := 5
			if tg.Name == "model" || strings.HasPrefix(tg.Name, "shardstore") {
				cases = 20
			}
			mustPass(t, run(t, linearize.Config{Target: tg, Seed: 1, Cases: cases, Clients: 4}), cases)
		})
	}
}

// staleCache is badengine's stale-cache engine as a target.
func staleCache(t *testing.T) target.Target {
	tg, err := testengines.Driver(engine.Drivers{badengine.StaleCache()}, "stale-cache")
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestStaleCacheCaught proves the checker can fail: a read cache whose
// fill races with writes is caught within a small budget, the history is
// saved with its visualization, and re-checking the saved history fails
// too. With one client the same engine passes: only concurrency shows it.
func TestStaleCacheCaught(t *testing.T) {
	out := t.TempDir()
	r := run(t, linearize.Config{Target: staleCache(t), Seed: 1, Cases: 200, Clients: 4, OutDir: out})
	if r.Verdict != checkers.Fail || len(r.Violations) != 1 {
		t.Fatalf("stale-cache not caught in 200 histories:\n%s", r.Summary())
	}
	v := r.Violations[0]
	t.Logf("caught after %d histories, %s", r.Cases, r.Detected)
	if v.TraceFile != filepath.Join(out, "linearize-stale-cache-1.history") || v.Replay != "harness check linearize --history "+v.TraceFile {
		t.Errorf("history %q, replay %q", v.TraceFile, v.Replay)
	}
	if v.Visualization != filepath.Join(out, "linearize-stale-cache-1.html") {
		t.Errorf("visualization %q", v.Visualization)
	}
	if _, err := os.Stat(v.Visualization); err != nil {
		t.Error(err)
	}
	if !strings.HasPrefix(v.Summary, `key "k`) || len(v.Ops) == 0 || len(v.Ops) > v.OriginalOps || !strings.Contains(v.Ops[v.OpIndex], "get") {
		t.Errorf("violation: %+v", v)
	}
	rr, err := linearize.CheckHistory(context.Background(), linearize.Config{OutDir: t.TempDir()}, v.TraceFile)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Verdict != checkers.Fail || rr.Violations[0].Summary != v.Summary {
		t.Fatalf("re-check of %s: %s, want the violation %q", v.TraceFile, rr.Summary(), v.Summary)
	}

	mustPass(t, run(t, linearize.Config{Target: staleCache(t), Seed: 1, Cases: 20, Clients: 1}), 20)
}

// hangOnce is the model whose first Get of key "k0" never returns (until
// the test ends): a hung engine.
type hangOnce struct {
	*model.Store
	once    sync.Once
	release chan struct{}
}

func (h *hangOnce) Get(ctx context.Context, key []byte) ([]byte, error) {
	hang := false
	if string(key) == "k0" {
		h.once.Do(func() { hang = true })
	}
	if hang {
		<-h.release
	}
	return h.Store.Get(ctx, key)
}

// TestHungOpIsPendingAndUnknown: an op that does not return is pending in
// the history and the run ends unknown, never a pass.
func TestHungOpIsPendingAndUnknown(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tg := target.Target{Name: "hang-once", OpenDir: func(dir string) (engine.Engine, error) {
		return &hangOnce{Store: model.New(), release: release}, nil
	}}
	out := t.TempDir()
	r := run(t, linearize.Config{Target: tg, Seed: 1, Cases: 5, OpTimeout: 300 * time.Millisecond, OutDir: out})
	if r.Verdict != checkers.Unknown || !strings.Contains(r.Reason, `get "k0" did not return within 300ms (the engine hung)`) {
		t.Fatalf("hung op: %s", r.Summary())
	}
	h, err := linearize.ReadHistory(filepath.Join(out, "linearize-hang-once-1.history"))
	if err != nil {
		t.Fatal(err)
	}
	pending := 0
	for _, op := range h.Ops {
		if op.Return == linearize.Pending {
			pending++
		}
	}
	if pending == 0 || linearize.Check(h, time.Minute) != porcupine.Ok {
		t.Errorf("history of the hung run: %d pending ops, want at least 1 and linearizable", pending)
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []linearize.Config{
		{Target: testengines.Model(), Clients: linearize.ClientsMax + 1},
		{Target: testengines.Model(), Clients: -1},
		{Target: testengines.Model(), Ops: -1},
	} {
		if _, err := linearize.Run(context.Background(), c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

func TestBudgetStopsEarly(t *testing.T) {
	r := run(t, linearize.Config{Target: testengines.Model(), Seed: 1, Cases: 1 << 30, Budget: 1})
	if r.Verdict != checkers.Pass || r.Cases != 0 || !strings.Contains(r.Reason, "budget") {
		t.Fatalf("budget run: %s", r.Summary())
	}
}

// TestSearchTimeoutIsUnknown: a history porcupine cannot decide within
// the check timeout is verdict unknown, never a pass. Every put and get
// overlaps every other, and a last get reads a value no put wrote: only
// an exhaustive search of their orders shows that none explains it.
func TestSearchTimeoutIsUnknown(t *testing.T) {
	h := linearize.History{Engine: "model", Clients: 1}
	const n = 24
	for i := range n {
		h.Ops = append(h.Ops,
			linearize.Op{Kind: model.KeyPut, Key: "k", Value: uint64(i), Size: 8, Call: 0, Return: 1000},
			linearize.Op{Kind: model.KeyGet, Key: "k", Value: uint64(i), Size: 8, Found: true, Call: 0, Return: 1000})
	}
	h.Ops = append(h.Ops, linearize.Op{Kind: model.KeyGet, Key: "k", Value: 999, Size: 8, Found: true, Call: 2000, Return: 3000})
	path := filepath.Join(t.TempDir(), "hard.history")
	if err := linearize.SaveHistory(path, h); err != nil {
		t.Fatal(err)
	}
	r, err := linearize.CheckHistory(context.Background(), linearize.Config{OutDir: t.TempDir(), CheckTimeout: 200 * time.Millisecond}, path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != checkers.Unknown || !strings.Contains(r.Reason, "porcupine could not decide") {
		t.Fatalf("a history porcupine cannot decide in 200ms: %s", r.Summary())
	}
}

// maintained is the model with maintenance ops that count themselves and
// a Get that fails once with ErrCorruption when failGet is set.
type maintained struct {
	*model.Store
	maint   *atomic.Int64
	failGet bool
	once    sync.Once
}

func (m *maintained) Maintain(context.Context, engine.MaintenanceOp) error {
	m.maint.Add(1)
	return nil
}

func (m *maintained) Get(ctx context.Context, key []byte) ([]byte, error) {
	fail := false
	if m.failGet {
		m.once.Do(func() { fail = true })
	}
	if fail {
		return nil, fmt.Errorf("maintained: get %q: %w", key, engine.ErrCorruption)
	}
	return m.Store.Get(ctx, key)
}

// TestMaintenanceClients: on a Maintainer, maintenance runs during the
// histories, and NoMaintenance turns it off.
func TestMaintenanceClients(t *testing.T) {
	for _, off := range []bool{false, true} {
		n := new(atomic.Int64)
		tg := target.Target{Name: "maintained", OpenDir: func(string) (engine.Engine, error) {
			return &maintained{Store: model.New(), maint: n}, nil
		}}
		mustPass(t, run(t, linearize.Config{Target: tg, Seed: 1, Cases: 10, NoMaintenance: off}), 10)
		if got := n.Load(); off && got != 0 || !off && got == 0 {
			t.Errorf("NoMaintenance %v: %d maintenance ops ran", off, got)
		}
	}
}

// TestFailedOpIsViolation: an error no fault-free engine may return fails
// the run even though the history is linearizable, and the saved history
// re-checks as the same failure.
func TestFailedOpIsViolation(t *testing.T) {
	tg := target.Target{Name: "fails-once", OpenDir: func(string) (engine.Engine, error) {
		return &maintained{Store: model.New(), maint: new(atomic.Int64), failGet: true}, nil
	}}
	r := run(t, linearize.Config{Target: tg, Seed: 1, Cases: 3})
	if r.Verdict != checkers.Fail || r.Cases != 1 || !strings.Contains(r.Violations[0].Summary, "failed in history 0: maintained: get") {
		t.Fatalf("a failed get: %s", r.Summary())
	}
	v := r.Violations[0]
	if !strings.Contains(v.Ops[v.OpIndex], "corruption") {
		t.Errorf("marked op %q, want the failed get", v.Ops[v.OpIndex])
	}
	rr, err := linearize.CheckHistory(context.Background(), linearize.Config{OutDir: t.TempDir()}, v.TraceFile)
	if err != nil || rr.Verdict != checkers.Fail || rr.Violations[0].Summary != v.Summary {
		t.Fatalf("re-check: %v %s", err, rr.Summary())
	}
}

// closeFails is the model, whose Close fails.
type closeFails struct{ *model.Store }

func (c closeFails) Close() error { return errors.New("close: final flush: engine closed") }

// TestCloseFailureIsViolation: an engine whose Close fails after a history
// (no fault injected: nothing explains an error) fails the check, as
// conformance fails it, instead of ending the run as one that could not
// run; a Close that fails for the machine's reasons (no space) still ends
// it unable to run.
func TestCloseFailureIsViolation(t *testing.T) {
	tg := target.Target{Name: "close-fails", OpenDir: func(string) (engine.Engine, error) { return closeFails{model.New()}, nil }}
	r := run(t, linearize.Config{Target: tg, Seed: 1, Cases: 3})
	if r.Verdict != checkers.Fail || r.Cases != 1 || !strings.Contains(r.Violations[0].Summary, "history 0: Close failed: linearize: close close-fails after history 0: close: final flush: engine closed") {
		t.Fatalf("a failed Close: %s", r.Summary())
	}
	full := target.Target{Name: "close-full", OpenDir: func(string) (engine.Engine, error) { return closeFull{model.New()}, nil }}
	if r, err := linearize.Run(context.Background(), linearize.Config{Target: full, Seed: 1, Cases: 3, OutDir: t.TempDir()}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("a Close that found the disk full: %s, %v; want an error wrapping ENOSPC", r.Summary(), err)
	}
}

// closeFull is the model, whose Close finds the disk full.
type closeFull struct{ *model.Store }

func (c closeFull) Close() error { return fmt.Errorf("close: %w", syscall.ENOSPC) }

// TestOpenHangIsViolation: an engine whose open of a new directory never
// returns fails the check after the op timeout (the open is bounded like
// an op), rather than hanging the run.
func TestOpenHangIsViolation(t *testing.T) {
	tg := target.Target{Name: "hang-open", OpenDir: func(string) (engine.Engine, error) { select {} }}
	r := run(t, linearize.Config{Target: tg, Seed: 1, Cases: 3, OpTimeout: 200 * time.Millisecond})
	if r.Verdict != checkers.Fail || !strings.Contains(r.Violations[0].Summary, "opening a new engine did not return") {
		t.Fatalf("%s; want fail: opening a new engine did not return", r.Summary())
	}
}
