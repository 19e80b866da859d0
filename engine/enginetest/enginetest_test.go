package enginetest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/enginetest"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

// buggy wraps the model with one deliberate contract violation.
type buggy struct {
	*model.Store
	bug   string
	mu    sync.Mutex
	cache map[string][]byte
}

func (b *buggy) Get(ctx context.Context, key []byte) ([]byte, error) {
	v, err := b.Store.Get(ctx, key)
	if b.bug == "shared-buffer" && err == nil {
		// Hands out its cache's memory instead of a copy.
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.cache == nil {
			b.cache = map[string][]byte{}
		}
		if c, ok := b.cache[string(key)]; ok {
			return c, nil
		}
		b.cache[string(key)] = v
		return v, nil
	}
	return v, err
}

func (b *buggy) Delete(ctx context.Context, key []byte) error {
	if b.bug == "delete-ignored" && strings.HasPrefix(string(key), "a") {
		return nil
	}
	return b.Store.Delete(ctx, key)
}

func open(bug string) func(dir string) (engine.Engine, error) {
	return func(dir string) (engine.Engine, error) {
		if bug == "forget-on-reopen" {
			return &buggy{Store: model.New(), bug: bug}, nil
		}
		s, err := model.Open(dir)
		if err != nil {
			return nil, err
		}
		return &buggy{Store: s, bug: bug}, nil
	}
}

// TestBuggyEngine is run in a child process by TestSuiteCatchesBugs.
func TestBuggyEngine(t *testing.T) {
	bug := os.Getenv("ENGINETEST_BUG")
	if bug == "" {
		return // only meaningful in the child process
	}
	enginetest.Run(t, enginetest.Config{Open: open(bug)})
}

// TestSuiteCatchesBugs proves the suite can fail: each buggy engine must fail
// the named subtest.
func TestSuiteCatchesBugs(t *testing.T) {
	cases := map[string]string{
		"forget-on-reopen": "SyncCloseReopen",
		"delete-ignored":   "Delete",
		"shared-buffer":    "ReturnedValueIsCopy",
	}
	for bug, subtest := range cases {
		t.Run(bug, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBuggyEngine$/^"+subtest+"$", "-test.v")
			cmd.Env = append(os.Environ(), "ENGINETEST_BUG="+bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed an engine with bug %q:\n%s", bug, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestBuggyEngine/"+subtest) {
				t.Fatalf("bug %q: want subtest %s to fail; output:\n%s", bug, subtest, out)
			}
		})
	}
}

func TestCorrectEnginePasses(t *testing.T) {
	enginetest.Run(t, enginetest.Config{Open: open("none"), RandomOps: 500})
}
