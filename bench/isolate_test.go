package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// TestServeChildStreams runs one run the way a child does and reads what
// it sends: heartbeats naming each phase, checkpoints at whole seconds of
// the measured phase whose figures agree with themselves (ops, per-op
// counts, histograms, timeline) and only grow, and a result that contains
// them.
func TestServeChildStreams(t *testing.T) {
	req, err := json.Marshal(childRequest{
		Config: Config{Engines: []string{"model"}, Workloads: []string{"ycsb-a,records=100"}, Duration: 3500 * time.Millisecond, Threads: 2, Preload: true, Out: t.TempDir(), Seed: 1, Repeat: 1},
		Engine: "model", Workload: "ycsb-a,records=100", Repetition: 1, Dir: t.TempDir(), Label: "[1/1] ycsb-a on model",
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := ServeChild(context.Background(), engine.Drivers{model.Driver()}, bytes.NewReader(req), &out); err != nil {
		t.Fatal(err)
	}
	var phases []string
	var cps []*childRun
	var res *childRun
	dec := json.NewDecoder(&out)
	for dec.More() {
		var m childMsg
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m.Phase != "" && (len(phases) == 0 || phases[len(phases)-1] != m.Phase) {
			phases = append(phases, m.Phase)
		}
		if m.Checkpoint != nil {
			cps = append(cps, m.Checkpoint)
		}
		if m.Result != nil {
			res = m.Result
		}
	}
	if res == nil || res.Error != "" || res.Run.Ops == 0 {
		t.Fatalf("result: %+v", res)
	}
	if !slices.Contains(phases, "measuring") || phases[len(phases)-1] != "closing" {
		t.Errorf("heartbeat phases %v: want measuring, and closing last", phases)
	}
	// One per whole second as a rule; but a second the control loop
	// reaches after the deadline is skipped (the result follows), and two
	// seconds passing while it is busy make one checkpoint: on a loaded
	// machine, fewer.
	if len(cps) < 1 || len(cps) > 3 {
		t.Fatalf("%d checkpoints in a 3.5s phase, want one per whole second (3), at least one", len(cps))
	}
	var prev int64
	for i, c := range append(cps, res) {
		run := c.Run
		hists, err := decodeHists(c.Hists)
		if err != nil {
			t.Fatal(err)
		}
		var byOp, inHists, inTimeline int64
		for op, s := range run.ByOp {
			byOp += s.Count
			inHists += hists[op].TotalCount()
		}
		for _, p := range run.Timeline {
			inTimeline += p.Ops
		}
		if run.Ops != byOp || run.Ops != inHists || run.Ops != inTimeline || run.Ops < prev {
			t.Errorf("message %d: %d ops, by op %d, in histograms %d, in the timeline %d, previous checkpoint %d", i, run.Ops, byOp, inHists, inTimeline, prev)
		}
		if i < len(cps) && (run.ElapsedSec != float64(int(run.ElapsedSec)) || len(run.Timeline) != int(run.ElapsedSec) ||
			(i > 0 && run.ElapsedSec <= cps[i-1].Run.ElapsedSec)) {
			t.Errorf("checkpoint %d: %vs, %d timeline points; want a later whole second, with a timeline point for each", i, run.ElapsedSec, len(run.Timeline))
		}
		prev = run.Ops
	}
	if res.Run.MeasuredCPUSec <= 0 {
		t.Errorf("no measured CPU time")
	}
}

// TestChildStderrReasons: how a child died, read from its stderr: the first
// panic line (not a re-panic's suffix or the goroutine dump), the
// runtime's fatal error and its signal.
func TestChildStderrReasons(t *testing.T) {
	var c childStderr
	// Written in pieces that split lines, as a pipe delivers them.
	text := "pebble: background error\npanic: write /d/000011.log: no space left on device [recovered]\n\tpanic: again\n\ngoroutine 1 [running]:\nmain.main()\n"
	for chunk := range slices.Chunk([]byte(text), 7) {
		c.Write(chunk)
	}
	if c.panicLine != "write /d/000011.log: no space left on device" {
		t.Errorf("panic line %q", c.panicLine)
	}
	var f childStderr
	f.Write([]byte("unexpected fault address 0x7f01\nfatal error: fault\n[signal SIGBUS: bus error code=0x2 addr=0x7f011bffb000 pc=0x496e5b]\n\ngoroutine 9 [running]:\n"))
	if f.fatalLine != "fault" || f.signalLine != "SIGBUS: bus error" {
		t.Errorf("fatal %q, signal %q", f.fatalLine, f.signalLine)
	}
	// A long dump keeps its start and its end.
	var l childStderr
	l.Write([]byte("panic: boom\n"))
	l.Write(bytes.Repeat([]byte("goroutine dump line\n"), 20000))
	l.Write([]byte("exit status 2\n"))
	if b := string(l.bytes()); !strings.HasPrefix(b, "panic: boom\n") || !strings.HasSuffix(b, "exit status 2\n") || len(b) > 2*stderrKeep+100 || !strings.Contains(b, "bytes left out") {
		t.Errorf("kept %d bytes: start %q", len(b), b[:min(40, len(b))])
	}
	if got := l.lastLine(); got != ": exit status 2" {
		t.Errorf("last line %q", got)
	}
}
