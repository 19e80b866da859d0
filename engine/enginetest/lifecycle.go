package enginetest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// testCloseWhileBusy closes the engine under concurrent load: every call
// returns nil or ErrClosed, none panics (Pebble itself panics on use after
// close), a second Close and a Get after it return ErrClosed, Stats still
// answers with what was written, and a reopen finds every put that
// returned nil, even one that returned while Close ran: a put in flight
// when Close begins either lands before Close's final flush or is refused
// (shardstore lost such puts until its Close waited for calls in flight).
func (s *suite) testCloseWhileBusy(t *testing.T) {
	dir := t.TempDir()
	e, err := s.cfg.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := e.(engine.Lister)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	// Each writer's keys are its own: acked holds the value of each key's
	// last put that returned nil; maybe the one put a writer saw refused
	// (it may or may not have landed).
	type kv struct{ k, v string }
	acked := make([]map[string]string, 8)
	maybe := make([]kv, 8)
	for w := range 8 {
		acked[w] = map[string]string{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				k := fmt.Sprintf("w%d-%d", w, i%100)
				v := fmt.Sprintf("v%d", i)
				var err error
				switch i % 5 {
				case 0, 1:
					if err = e.Put(s.ctx, []byte(k), []byte(v)); err == nil {
						acked[w][k] = v
					} else {
						maybe[w] = kv{k, v}
					}
				case 2:
					_, err = e.Get(s.ctx, []byte(k))
					if errors.Is(err, engine.ErrNotFound) {
						err = nil
					}
				case 3:
					if l != nil {
						err = l.List(s.ctx, nil, nil, func([]byte) bool { return true })
					}
				case 4:
					err = e.Sync(s.ctx)
				}
				if errors.Is(err, engine.ErrClosed) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := e.Close(); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("second close = %v, want ErrClosed", err)
	}
	if _, err := e.Get(s.ctx, []byte("k")); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("get after close = %v, want ErrClosed", err)
	}
	if st, ok := e.(engine.Statser); ok {
		if s := st.Stats(); s.UserBytesWritten == 0 {
			t.Fatalf("Stats after close lost the counters: %+v", s)
		}
	}
	r, err := s.cfg.Open(dir)
	if err != nil {
		t.Fatalf("reopen after a close under load: %v", err)
	}
	defer r.Close()
	n, lost := 0, 0
	for w := range acked {
		for k, v := range acked[w] {
			n++
			got, err := r.Get(s.ctx, []byte(k))
			if err == nil && (string(got) == v || maybe[w] == kv{k, string(got)}) {
				continue
			}
			if lost++; lost <= 3 {
				t.Errorf("put %s=%s returned nil; after Close and a reopen get = %q, %v", k, v, got, err)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d keys lost their last acknowledged put across a clean Close", lost, n)
	}
}

// testListReentersDuringClose: a List callback that calls Get while a Close
// is waiting for the List does not deadlock (as it would with an RWMutex
// whose writer is queued): the Get is refused with ErrClosed, the List
// finishes, then Close.
func (s *suite) testListReentersDuringClose(t *testing.T) {
	e, err := s.cfg.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, ok := e.(engine.Lister)
	if !ok {
		e.Close()
		t.Logf("%T does not implement engine.Lister; nothing to check", e)
		return
	}
	for _, k := range []string{"a", "b", "c"} {
		s.mustPut(t, e, k, "v"+k)
	}
	closed := make(chan error)
	var got []string
	err = l.List(s.ctx, nil, nil, func(k []byte) bool {
		if string(k) == "b" {
			go func() { closed <- e.Close() }()
			// Once Close has begun, a Get is refused; wait for that.
			for _, err := e.Get(s.ctx, k); !errors.Is(err, engine.ErrClosed); _, err = e.Get(s.ctx, k) {
				if err != nil {
					t.Errorf("get %s while Close begins: %v", k, err)
					return false
				}
				time.Sleep(time.Millisecond)
			}
		}
		v, err := e.Get(s.ctx, k)
		switch {
		case err == nil:
			got = append(got, string(v))
		case errors.Is(err, engine.ErrClosed):
			got = append(got, "closed")
		default:
			t.Errorf("get %s inside List: %v", k, err)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "va,closed,closed" {
		t.Fatalf("values = %v", got)
	}
}

// testNoGoroutineLeak opens and closes the engine three times and checks
// that the goroutine count returns to where it was.
func (s *suite) testNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		e, err := s.cfg.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Put(s.ctx, []byte("k"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before Open, %d after Close\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// testHugeValues writes a 64 MiB value (or the engine's limit if lower),
// reads it back after a reopen, and checks that a value one byte over the
// engine's limit is refused, however large the limit.
func (s *suite) testHugeValues(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB values; skipped with -short")
	}
	dir := t.TempDir()
	e := s.open(t, dir)
	limit := engine.LimitsOf(e).ValueMax
	rng := rand.New(rand.NewPCG(1, 1))
	v := make([]byte, min(64<<20, limit))
	for i := range v {
		v[i] = byte(rng.Uint32())
	}
	if err := e.Put(s.ctx, []byte("big"), v); err != nil {
		t.Fatal(err)
	}
	if err := e.Put(s.ctx, []byte("too-big"), make([]byte, limit+1)); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Fatalf("put of ValueMax+1 = %d bytes: %v, want ErrInvalidArgument", limit+1, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = s.open(t, dir)
	got, err := e.Get(s.ctx, []byte("big"))
	if err != nil || !bytes.Equal(got, v) {
		t.Fatalf("get big after reopen: %d bytes, %v", len(got), err)
	}
}

// The process-kill subtest: a child process (this test binary, running
// only this subtest) puts, syncs, says so, keeps writing, and is killed
// with SIGKILL; everything acknowledged by the completed Sync must be there
// when the parent reopens.
const (
	killDirEnv = "GAUNTLET_ENGINETEST_KILL_DIR"
	killKeys   = 1000
)

func (s *suite) testKillAfterSync(t *testing.T) {
	if s.cfg.InMemory {
		t.Logf("Config.InMemory: the engine's data lives in the test process, so a process kill has nothing to check")
		return
	}
	if dir := os.Getenv(killDirEnv); dir != "" {
		s.killChild(dir)
		return
	}
	dir := t.TempDir()
	var run []string
	for _, part := range strings.Split(t.Name(), "/") {
		run = append(run, "^"+regexp.QuoteMeta(part)+"$")
	}
	cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(run, "/"))
	cmd.Env = append(os.Environ(), killDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "synced" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q, %v", line, err)
	}
	time.Sleep(20 * time.Millisecond) // let it write past the Sync
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	e := s.open(t, dir)
	for i := range killKeys {
		k := fmt.Sprintf("k%05d", i)
		s.mustGet(t, e, k, "v-"+k)
	}
}

// killChild is the child's side: it exits 3 on any error, which the parent
// sees as a child that never said "synced". The synced keys are written by
// eight writers, so that engines that group commits (bbolt's batches) do.
func (s *suite) killChild(dir string) {
	exit := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	e, err := s.cfg.Open(dir)
	if err != nil {
		exit(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < killKeys; i += 8 {
				k := fmt.Sprintf("k%05d", i)
				if err := e.Put(s.ctx, []byte(k), []byte("v-"+k)); err != nil {
					exit(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := e.Sync(s.ctx); err != nil {
		exit(err)
	}
	fmt.Println("synced")
	for i := 0; ; i++ { // unsynced writes until killed
		k := fmt.Sprintf("u%09d", i)
		if err := e.Put(s.ctx, []byte(k), bytes.Repeat([]byte{'u'}, 512)); err != nil {
			exit(err)
		}
	}
}
