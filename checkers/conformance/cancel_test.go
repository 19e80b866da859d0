package conformance_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/conformance"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/machine"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// givesUp is an engine whose puts, once their context is canceled (they
// wait for it), do what mode says and return the context's error:
// "nothing", "apply" (the put happened anyway) or "garbage" (a value the
// put never wrote: the bug).
type givesUp struct {
	engine.Engine
	mode string
}

func (g givesUp) Put(ctx context.Context, key, value []byte) error {
	<-ctx.Done()
	switch g.mode {
	case "apply":
		if err := g.Engine.Put(context.Background(), key, value); err != nil {
			return err
		}
	case "garbage":
		if err := g.Engine.Put(context.Background(), key, bytes.Repeat([]byte("x"), len(value))); err != nil {
			return err
		}
	}
	return fmt.Errorf("givesUp: put: %w", ctx.Err())
}

// TestCancel: a fail-disk-once seed with SeedCancel runs the next puts
// with a context the machine cancels; a put that then fails may have been
// applied or not (read back), but must not leave a value nobody wrote.
func TestCancel(t *testing.T) {
	ops := fmt.Sprintf("fail-disk-once seed=%d\nput \"k1\" size=100 seed=7\nget \"k1\"\n", machine.SeedCancel|5)
	text := "# gauntlet-trace v1\n# seed=1 workload=\"biased\" checker=\"conformance\" faults=\"true\"\n" + ops + "# end ops=3\n"
	tr, err := workloads.ParseTrace(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode string
		fail bool
	}{{"nothing", false}, {"apply", false}, {"garbage", true}} {
		tg := wrappedShardstore(func(e engine.Engine) engine.Engine { return givesUp{Engine: e, mode: tc.mode} })
		r, err := conformance.Replay(context.Background(), conformance.Config{Target: tg, Faults: true}, tr)
		if err != nil {
			t.Fatalf("%s: %v", tc.mode, err)
		}
		if got := r.Verdict == checkers.Fail; got != tc.fail {
			t.Errorf("a canceled put that does %q: %s, want fail %v", tc.mode, r.Summary(), tc.fail)
		}
		if tc.fail && !strings.Contains(r.Violations[0].Summary, "context canceled") {
			t.Errorf("%s: violation %q does not say the put's context was canceled", tc.mode, r.Violations[0].Summary)
		}
	}
}
