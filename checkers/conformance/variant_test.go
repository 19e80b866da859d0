package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/conformance"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/coverage"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// configGated are the states only another configuration of shardstore
// reaches (its Driver.Variants): no op mix reaches them on the spec's.
var configGated = []string{"sched-fifo", "sched-elevator", "queue-backpressure"}

func observedSpec(t *testing.T, spec string) (target.Target, *coverage.Recorder) {
	t.Helper()
	tg, err := testengines.ShardstoreSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	rec := coverage.New()
	otg, ok, err := tg.Observed(rec)
	if err != nil || !ok {
		t.Fatalf("observe %s: %v %v", spec, ok, err)
	}
	return otg, rec
}

// TestAdaptiveVariants: an adaptive run lays the engine's variants over
// the spec case by case and so reaches the configuration-gated states the
// fixed mix never reaches in as many cases; a variant touching an option
// the spec set is left out.
func TestAdaptiveVariants(t *testing.T) {
	t.Log("replay: harness check conformance --engine shardstore --adaptive --adaptive-warmup 0 --seed 1 --cases 150")
	fixed, frec := observedSpec(t, "shardstore")
	if len(fixed.Variants) != 4 || fixed.Variant == nil {
		t.Fatalf("shardstore's check target has %d variants (%v), want 4", len(fixed.Variants), fixed.Variants)
	}
	r, err := conformance.Run(context.Background(), conformance.Config{Target: fixed, Seed: 1, Cases: 150, OutDir: t.TempDir()})
	if err != nil || r.Verdict != checkers.Pass {
		t.Fatalf("fixed mix: %v: %s", err, r.Summary())
	}
	for _, ev := range configGated {
		if frec.Report().Events[engine.Event(ev)] > 0 {
			t.Errorf("the fixed mix on shardstore's spec reached %s: it is not configuration-gated, and this test proves nothing about it", ev)
		}
	}
	adapt, arec := observedSpec(t, "shardstore")
	r, err = conformance.Run(context.Background(), conformance.Config{Target: adapt, Seed: 1, Cases: 150, Adaptive: true, AdaptiveWarmup: -1, OutDir: t.TempDir()})
	if err != nil || r.Verdict != checkers.Pass {
		t.Fatalf("adaptive: %v: %s", err, r.Summary())
	}
	for _, ev := range configGated {
		if arec.Report().Events[engine.Event(ev)] == 0 {
			t.Errorf("the adaptive run did not reach %s in 150 cases (events: %v)", ev, arec.Report().Events)
		}
	}
	if arec.Report().Events["sched-coalesce"] == 0 {
		t.Errorf("the adaptive run never ran the spec's own scheduler")
	}

	fifo, _ := observedSpec(t, "shardstore:sched=fifo")
	if len(fifo.Variants) != 2 || target.VariantString(fifo.Variants[0]) != "queue=64KiB" || target.VariantString(fifo.Variants[1]) != "cache=1KiB" {
		t.Errorf("variants of shardstore:sched=fifo = %v, want queue=64KiB and cache=1KiB (the spec's sched= stands)", fifo.Variants)
	}
}

// TestReplayVariant: a trace's engine-variant is laid over the engine
// when it replays; one the engine cannot take is a bad trace, named.
func TestReplayVariant(t *testing.T) {
	ops := []workloads.Op{
		{Kind: workloads.OpPut, Key: []byte("k1"), Size: 100, Seed: 1},
		{Kind: workloads.OpPut, Key: []byte("k2"), Size: 100, Seed: 2},
		{Kind: workloads.OpCleanReboot},
		{Kind: workloads.OpGet, Key: []byte("k1")},
	}
	trace := func(variant string) workloads.Trace {
		h := workloads.Header{Seed: 1, Workload: "biased", Attrs: []workloads.Attr{{Key: "checker", Value: "conformance"}}}
		if variant != "" {
			h.Attrs = append(h.Attrs, workloads.Attr{Key: "engine-variant", Value: variant})
		}
		var b bytes.Buffer
		if err := workloads.WriteTrace(&b, h, ops); err != nil {
			t.Fatal(err)
		}
		tr, err := workloads.ParseTrace(&b)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	for _, tc := range []struct{ variant, event string }{{"", "sched-coalesce"}, {"sched=fifo", "sched-fifo"}, {"sched=elevator", "sched-elevator"}} {
		tg, rec := observedSpec(t, "shardstore")
		r, err := conformance.Replay(context.Background(), conformance.Config{Target: tg}, trace(tc.variant))
		if err != nil {
			t.Fatalf("replay with engine-variant=%q: %v", tc.variant, err)
		}
		if r.Verdict != checkers.Pass {
			t.Errorf("replay with engine-variant=%q: %s", tc.variant, r.Summary())
		}
		ev := rec.Report().Events
		if ev[engine.Event(tc.event)] == 0 {
			t.Errorf("replay with engine-variant=%q ran no %s (events %v)", tc.variant, tc.event, ev)
		}
	}
	for _, tc := range []struct {
		tg      target.Target
		variant string
		want    string
	}{
		{testengines.Shardstore(), "sched=fifo", "takes no variants"},
		{mustSpec(t, "shardstore"), "sched=lifo", "sched=lifo"},
		{mustSpec(t, "shardstore"), "sched", "engine-variant"},
	} {
		_, err := conformance.Replay(context.Background(), conformance.Config{Target: tc.tg}, trace(tc.variant))
		if !errors.Is(err, checkers.ErrBadTrace) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("replay with engine-variant=%q on %s: %v, want ErrBadTrace naming %q", tc.variant, tc.tg.Name, err, tc.want)
		}
	}
}

func mustSpec(t *testing.T, spec string) target.Target {
	t.Helper()
	tg, err := testengines.ShardstoreSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}
