package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// Isolation: each run in a child process.
//
// The parent (runIsolated) makes the run's directory, starts the child with
// Runner.Child, writes the run's description (childRequest, JSON) to its
// stdin and reads JSON messages (childMsg) from a pipe the child has as
// file descriptor 3; its stdout is left alone, since an engine may print
// there. The child (ServeChild) sends a heartbeat every 250 ms (the phase
// under way, its op count, the progress line), a checkpoint of the measured
// phase once a second (the Run so far and its histograms) and, at the end,
// its result. The parent ends the run on the result, or, if the child dies
// first, with a reason read from how it died and its stderr, keeping the
// last checkpoint's figures.
//
// Hang rule: a child that makes no progress (starts no op, enters no new
// phase: opening, preloading, warming up, measuring, closing) for
// HangTimeout (60 s by default) is hung and is killed with SIGKILL. A
// measured phase stops starting ops at its planned end, so a run ends at
// most HangTimeout after it, even if an op never returns.
//
// The child runs in a process group of its own, so a Ctrl-C at the terminal
// reaches only the parent, which tells the child (SIGINT) and waits up to
// StopTimeout for its result; Pdeathsig kills it if the parent dies.

// Defaults of the Runner's timeouts.
const (
	HangTimeoutDefault = 60 * time.Second
	StopTimeoutDefault = 10 * time.Second
)

// ChildFD is the file descriptor a child writes its messages to.
const ChildFD = 3

// childRequest is one run, as the parent sends it to a child.
type childRequest struct {
	Config     Config `json:"config"`
	Engine     string `json:"engine"` // the resolved spec
	Typed      string `json:"typed"`  // the spec as given
	Workload   string `json:"workload"`
	Repetition int    `json:"repetition"`
	Dir        string `json:"dir"`   // made by the parent, removed by it
	Label      string `json:"label"` // for the progress line
}

// childMsg is one message from a child: a heartbeat, a checkpoint or the
// result.
type childMsg struct {
	Phase      string    `json:"phase,omitempty"`
	Ops        int64     `json:"ops,omitempty"`
	Status     *Status   `json:"status,omitempty"`
	Checkpoint *childRun `json:"checkpoint,omitempty"`
	Result     *childRun `json:"result,omitempty"`
}

// childRun is a run's figures as a child sends them.
type childRun struct {
	Run *Run `json:"run"`
	// Hists are the merged per-op histograms, HdrHistogram's compressed
	// V2 encoding in base64.
	Hists       map[string]string `json:"hists,omitempty"`
	Error       string            `json:"error,omitempty"`
	Interrupted bool              `json:"interrupted,omitempty"`
}

// childSink sends a child's messages; the heartbeat, the checkpoints and
// the result come from different goroutines.
type childSink struct {
	mu   sync.Mutex
	enc  *json.Encoder
	err  error  // the first write error: the parent is gone
	line Status // the latest progress
}

func (s *childSink) send(m childMsg) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = s.enc.Encode(m)
	}
	return s.err
}

func (s *childSink) status(line Status) {
	s.mu.Lock()
	s.line = line
	s.mu.Unlock()
}

func (s *childSink) checkpoint(run *Run, hists map[string]*hdrhistogram.Histogram) {
	s.send(childMsg{Checkpoint: &childRun{Run: run, Hists: encodeHists(hists)}})
}

// heartbeat sends the phase, its op count and the progress line every
// 250 ms, and once more when stop is called.
func (s *childSink) heartbeat(live func() (string, int64)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		beat := func() {
			phase, ops := live()
			s.mu.Lock()
			line := s.line
			s.mu.Unlock()
			var st *Status
			if line.Label != "" {
				st = &line
			}
			s.send(childMsg{Phase: phase, Ops: ops, Status: st})
		}
		for {
			beat()
			select {
			case <-done:
				beat() // the phase it ended in
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func encodeHists(hists map[string]*hdrhistogram.Histogram) map[string]string {
	out := map[string]string{}
	for op, h := range hists {
		b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			continue // cannot happen for a histogram built by New
		}
		out[op] = string(b)
	}
	return out
}

func decodeHists(enc map[string]string) (map[string]*hdrhistogram.Histogram, error) {
	out := map[string]*hdrhistogram.Histogram{}
	for op, s := range enc {
		h, err := hdrhistogram.Decode([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("histogram of %s: %w", op, err)
		}
		out[op] = h
	}
	return out, nil
}

// ServeChild runs, in a child process, the one run its parent sends on in,
// reporting to out (file descriptor ChildFD): heartbeats, checkpoints, and
// the result, which carries an engine's failure too. drivers must be the
// table the parent resolved the run against. It returns an error only if it
// cannot read the request or reach the parent.
func ServeChild(ctx context.Context, drivers engine.Drivers, in io.Reader, out io.Writer) error {
	var req childRequest
	if err := json.NewDecoder(in).Decode(&req); err != nil {
		return fmt.Errorf("bench child: read the run from the parent: %w", err)
	}
	r := &Runner{Config: req.Config, Drivers: drivers, sink: &childSink{enc: json.NewEncoder(out)}}
	d, o, err := drivers.Resolve(req.Engine)
	if err != nil {
		return fmt.Errorf("bench child: %w", err)
	}
	p, err := newPlan(req.Workload, r.Config)
	if err != nil {
		return fmt.Errorf("bench child: %w", err)
	}
	e := resolvedEngine{d, o, req.Typed}
	stop := r.sink.heartbeat(func() (string, int64) {
		lp := r.live.Load()
		if lp == nil {
			return "starting", 0
		}
		if lp.ops == nil {
			return lp.name, 0
		}
		return lp.name, lp.ops.Load()
	})
	run, hists, err := r.measureRun(ctx, e, p, req.Repetition, req.Dir, req.Label)
	stop()
	if run == nil {
		run = r.newRun(e, p, req.Repetition)
	}
	res := &childRun{Run: run, Hists: encodeHists(hists)}
	if err != nil {
		res.Interrupted = ctx.Err() != nil
		res.Error = err.Error()
		if res.Interrupted {
			res.Error = "interrupted"
		}
		run.Error = res.Error
	}
	return r.sink.send(childMsg{Result: res})
}

func (r *Runner) hangTimeout() time.Duration {
	if r.HangTimeout > 0 {
		return r.HangTimeout
	}
	return HangTimeoutDefault
}

func (r *Runner) stopTimeout() time.Duration {
	if r.StopTimeout > 0 {
		return r.StopTimeout
	}
	return StopTimeoutDefault
}

// runIsolated runs one run in a child process; see the top of this file.
func (r *Runner) runIsolated(ctx context.Context, e resolvedEngine, p *plan, rep int, label string) (*Run, map[string]*hdrhistogram.Histogram, error) {
	dir, err := r.runDir(e, p, rep)
	if err != nil {
		return nil, nil, err
	}
	run, hists, err := r.child(ctx, e, p, rep, dir, label)
	if kept := r.dropRunDir(dir); kept != "" && run != nil {
		run.KeptDir = kept
	}
	return run, hists, err
}

func (r *Runner) child(ctx context.Context, e resolvedEngine, p *plan, rep int, dir, label string) (*Run, map[string]*hdrhistogram.Histogram, error) {
	req, err := json.Marshal(childRequest{Config: r.Config, Engine: e.opts.Spec().String(), Typed: e.typed, Workload: p.spec, Repetition: rep, Dir: dir, Label: label})
	if err != nil {
		return nil, nil, FatalError{fmt.Errorf("encode the run for its child process: %w", err)}
	}
	cmd := r.Child()
	if e.simulated() && r.SimChild != nil {
		cmd = r.SimChild()
	}
	if len(r.ChildEnv) > 0 {
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, r.ChildEnv...)
	}
	cmd.Stdin = bytes.NewReader(req)
	stderr := &childStderr{}
	cmd.Stderr = stderr
	// Its own process group: a Ctrl-C at the terminal reaches the parent
	// only, which tells the child between writes instead of the signal
	// cutting into one. Pdeathsig: a parent killed outright takes its
	// child along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, FatalError{fmt.Errorf("start the child process: %w", err)}
	}
	defer pr.Close()
	cmd.ExtraFiles = []*os.File{pw} // ChildFD
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return nil, nil, FatalError{fmt.Errorf("start the child process: %w", err)}
	}
	msgs := make(chan childMsg)
	go func() {
		defer close(msgs)
		dec := json.NewDecoder(pr)
		for {
			var m childMsg
			if dec.Decode(&m) != nil {
				return // the child exited (a last message cut short is dropped)
			}
			msgs <- m
		}
	}()

	var (
		last, result *childRun
		phase        = "starting"
		ops          int64
		progressAt   = time.Now()
		stopAt       time.Time
		killedWhy    string // set when the parent killed the child
		done         = ctx.Done()
	)
	kill := func(why string) {
		if killedWhy == "" {
			killedWhy = why
			cmd.Process.Kill()
		}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for open := true; open; {
		select {
		case m, ok := <-msgs:
			if !ok {
				open = false
				break
			}
			if m.Phase != "" && (m.Phase != phase || m.Ops != ops) {
				phase, ops, progressAt = m.Phase, m.Ops, time.Now()
			}
			if m.Status != nil {
				r.show(*m.Status)
			}
			if m.Checkpoint != nil {
				last = m.Checkpoint
			}
			if m.Result != nil {
				result = m.Result
			}
		case <-done:
			done = nil
			stopAt = time.Now()
			cmd.Process.Signal(os.Interrupt) // the child ends its run and sends its result
		case <-tick.C:
			switch {
			case !stopAt.IsZero() && time.Since(stopAt) > r.stopTimeout():
				kill(fmt.Sprintf("did not stop within %s of being told to; killed", r.stopTimeout()))
			case time.Since(progressAt) > r.hangTimeout():
				kill(fmt.Sprintf("hung: no progress for %s while %s; killed", r.hangTimeout(), phase))
			}
		}
	}
	cmd.Wait()
	state := cmd.ProcessState

	var run *Run
	var hists map[string]*hdrhistogram.Histogram
	from := result
	if from == nil {
		from = last
	}
	if from != nil && from.Run != nil {
		run = from.Run
		if hists, err = decodeHists(from.Hists); err != nil {
			hists = nil // the figures stand without the spectra
		}
	} else {
		run = r.newRun(e, p, rep)
	}
	if ru, ok := state.SysUsage().(*syscall.Rusage); ok {
		run.CPUUserSec = time.Duration(ru.Utime.Nano()).Seconds()
		run.CPUSysSec = time.Duration(ru.Stime.Nano()).Seconds()
		run.MaxRSSBytes = ru.Maxrss * 1024 // Linux reports KiB
	}

	died := died(state, stderr, killedWhy)
	switch {
	case result != nil && died == "":
		// The child finished and said how the run went.
		run.Error = result.Error
		switch {
		case result.Interrupted:
			return run, hists, ctx.Err()
		case result.Error != "":
			return run, hists, FatalError{errors.New(result.Error)}
		}
		return run, hists, nil
	case died == "":
		died = "the child process exited without a result" + stderr.lastLine()
	}
	// It died: the run ends with the reason, its figures those of the
	// result if it sent one, else of its last checkpoint.
	run.Partial = result == nil && last != nil
	run.Error = died
	if result != nil && result.Error != "" {
		run.Error = result.Error + "; then " + died
	}
	if log := r.saveChildLog(stderr, e.driver.Name, p.name, rep); log != "" {
		run.ChildLog = log
	}
	if ctx.Err() != nil {
		// Told to stop, it died before its result (it may have been
		// starting, before it listened for the stop).
		run.Error = "interrupted; " + run.Error
		return run, hists, ctx.Err()
	}
	return run, hists, FatalError{errors.New(run.Error)}
}

// died says, in one line, how a child that did not exit cleanly died: the
// first line of its panic, the runtime's fatal error and signal, the signal
// that killed it, or its exit status. "" for a clean exit.
func died(state *os.ProcessState, stderr *childStderr, killedWhy string) string {
	if killedWhy != "" {
		return killedWhy
	}
	stderr.mu.Lock()
	panicLine, fatalLine, signalLine := stderr.panicLine, stderr.fatalLine, stderr.signalLine
	stderr.mu.Unlock()
	ws, _ := state.Sys().(syscall.WaitStatus)
	switch {
	case state.Success():
		return ""
	case panicLine != "":
		return "engine panicked: " + panicLine
	case fatalLine != "" && signalLine != "":
		return fmt.Sprintf("engine crashed: %s (fatal error: %s)", signalLine, fatalLine)
	case fatalLine != "":
		return "engine crashed: fatal error: " + fatalLine
	case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
		return fmt.Sprintf("the child process was killed by SIGKILL (the kernel's OOM killer? its peak RSS was %s)", formatBytes(rusageMaxRSS(state)))
	case ws.Signaled():
		return fmt.Sprintf("the child process was killed by %s", signalName(ws.Signal()))
	default:
		return fmt.Sprintf("the child process exited with status %d%s", state.ExitCode(), stderr.lastLine())
	}
}

func rusageMaxRSS(state *os.ProcessState) int64 {
	if ru, ok := state.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	default:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
}

// signalName is a signal's conventional name: SIGBUS, not "bus error".
func signalName(s syscall.Signal) string {
	for _, n := range []struct {
		s    syscall.Signal
		name string
	}{{syscall.SIGBUS, "SIGBUS"}, {syscall.SIGSEGV, "SIGSEGV"}, {syscall.SIGABRT, "SIGABRT"}, {syscall.SIGTERM, "SIGTERM"},
		{syscall.SIGINT, "SIGINT"}, {syscall.SIGXFSZ, "SIGXFSZ"}, {syscall.SIGKILL, "SIGKILL"}, {syscall.SIGPIPE, "SIGPIPE"}} {
		if n.s == s {
			return n.name
		}
	}
	return fmt.Sprintf("signal %d (%s)", int(s), s)
}

// saveChildLog writes a failed child's stderr to the output directory and
// returns the file's name, or "" if there was nothing to save.
func (r *Runner) saveChildLog(stderr *childStderr, engineName, workload string, rep int) string {
	b := stderr.bytes()
	if len(b) == 0 || r.Config.Out == "" {
		return ""
	}
	name := fmt.Sprintf("%s-%s-r%d.stderr", sanitize(engineName), sanitize(workload), rep)
	if err := os.MkdirAll(r.Config.Out, 0o755); err != nil {
		return ""
	}
	if err := os.WriteFile(filepath.Join(r.Config.Out, name), b, 0o644); err != nil {
		return ""
	}
	return name
}

// childStderr keeps what a child writes to stderr: the first and the last
// stderrKeep bytes (a goroutine dump can run to megabytes), and the lines
// that say how it died, wherever they fall.
type childStderr struct {
	mu         sync.Mutex
	head, tail []byte
	total      int64
	line       []byte // the current line, up to lineMax bytes
	panicLine  string // the first "panic: " line's message
	fatalLine  string // the first "fatal error: " line's message
	signalLine string // "SIGBUS: bus error", from the runtime's "[signal ...]" line
}

const (
	stderrKeep = 64 << 10
	lineMax    = 4 << 10
)

var (
	// recoveredSuffix is what the runtime appends to a re-panicked value.
	recoveredSuffix = regexp.MustCompile(` \[recovered[^\]]*\]$`)
	// signalFields takes "SIGBUS: bus error" from "[signal SIGBUS: bus
	// error code=0x2 addr=0x7f01 pc=0x496e5b]".
	signalFields = regexp.MustCompile(`^\[signal (SIG[A-Z]+: [^=\]]*?)(?: code=.*)?\]$`)
)

func (c *childStderr) Write(b []byte) (int, error) {
	n := len(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := stderrKeep - len(c.head); room > 0 {
		c.head = append(c.head, b[:min(room, len(b))]...)
	}
	c.total += int64(len(b))
	c.tail = append(c.tail, b...)
	if len(c.tail) > stderrKeep {
		c.tail = append(c.tail[:0], c.tail[len(c.tail)-stderrKeep:]...)
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			c.line = append(c.line, b[:min(len(b), max(0, lineMax-len(c.line)))]...)
			break
		}
		c.line = append(c.line, b[:min(i, max(0, lineMax-len(c.line)))]...)
		c.scan(string(c.line))
		c.line = c.line[:0]
		b = b[i+1:]
	}
	return n, nil
}

func (c *childStderr) scan(line string) {
	line = strings.TrimRight(line, "\r")
	switch {
	case c.panicLine == "" && strings.HasPrefix(line, "panic: "):
		c.panicLine = recoveredSuffix.ReplaceAllString(strings.TrimPrefix(line, "panic: "), "")
	case c.fatalLine == "" && strings.HasPrefix(line, "fatal error: "):
		c.fatalLine = strings.TrimPrefix(line, "fatal error: ")
	case c.signalLine == "":
		if m := signalFields.FindStringSubmatch(line); m != nil {
			c.signalLine = strings.TrimSpace(m[1])
		}
	}
}

// bytes is what was kept: all of it, or its start and end.
func (c *childStderr) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total <= stderrKeep {
		return append([]byte(nil), c.head...)
	}
	var b bytes.Buffer
	b.Write(c.head)
	fmt.Fprintf(&b, "\n[... %d bytes left out ...]\n", c.total-int64(len(c.head))-int64(len(c.tail)))
	b.Write(c.tail)
	return b.Bytes()
}

// lastLine is ": " and the last non-blank line written, or "".
func (c *childStderr) lastLine() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	lines := strings.Split(string(c.tail), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			if len(l) > 300 {
				l = l[:300] + "…"
			}
			return ": " + l
		}
	}
	return ""
}
