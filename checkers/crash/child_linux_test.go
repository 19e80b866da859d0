package crash

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestChildDiesWithParent: a process started with childAttr, as kill
// mode's children are, is killed when its parent dies, though it is in a
// process group of its own (a SIGKILL to the parent's group misses it).
func TestChildDiesWithParent(t *testing.T) {
	if os.Getenv("GAUNTLET_DEATHSIG_PARENT") == "1" {
		cmd := exec.Command("sleep", "600")
		cmd.SysProcAttr = childAttr()
		if err := cmd.Start(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("child", cmd.Process.Pid)
		os.Exit(0) // dies at once, as a SIGKILLed worker does, its child running
	}
	parent := exec.Command(os.Args[0], "-test.run=^TestChildDiesWithParent$", "-test.count=1")
	parent.Env = append(os.Environ(), "GAUNTLET_DEATHSIG_PARENT=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "child "); ok {
			pid, _ = strconv.Atoi(p)
		}
	}
	parent.Wait()
	if pid == 0 {
		t.Fatal("the parent started no child")
	}
	// The kernel delivers the signal as the parent exits; the bound is for
	// a loaded machine's scheduling, not for a guess at a delay.
	for deadline := time.Now().Add(10 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			exec.Command("kill", "-9", strconv.Itoa(pid)).Run()
			t.Fatalf("child %d still running 10 s after its parent died", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid is a process that has not exited (a zombie
// awaiting its reaper has).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}
