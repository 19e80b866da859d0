package linearize

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/internal/testengines"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
)

// history10k records a 10,000-op history of 4 clients on 8 keys against
// the model.
func history10k(tb testing.TB) History {
	c := Config{Target: testengines.Model(), Seed: 1, Ops: 10_000, Keys: 8}
	c.ensureDefaults()
	h, hung, err := runCase(context.Background(), c, checkers.StreamSeed(Name, "", 1), 0)
	if err != nil || hung != "" {
		tb.Fatalf("recording a history: %v %s", err, hung)
	}
	return h
}

// BenchmarkCheck10k is porcupine's time to check a 10,000-op history
// (the bar: at most 1 s).
//
//	go test -run XXX -bench Check10k ./checkers/linearize
func BenchmarkCheck10k(b *testing.B) {
	h := history10k(b)
	b.ResetTimer()
	for b.Loop() {
		if got := Check(h, time.Minute); got != porcupine.Ok {
			b.Fatalf("porcupine: %s", got)
		}
	}
	b.ReportMetric(float64(len(h.Ops)), "ops/history")
}

// BenchmarkHistories is a run's throughput: histories (of OpsDefault ops
// of ClientsDefault clients, a fresh engine each) recorded and checked per
// second, on the model and on shardstore at the checks' settings.
//
//	go test -run XXX -bench Histories ./checkers/linearize
func BenchmarkHistories(b *testing.B) {
	for _, tg := range []target.Target{testengines.Model(), testengines.Shardstore()} {
		name, _, _ := strings.Cut(tg.Name, ":")
		b.Run(name, func(b *testing.B) {
			c := Config{Target: tg, Seed: 1, Cases: b.N}
			start := time.Now()
			r, err := Run(context.Background(), c)
			if err != nil || r.Verdict != checkers.Pass {
				b.Fatalf("%v %s", err, r.Summary())
			}
			b.ReportMetric(float64(r.Cases)/time.Since(start).Seconds(), "histories/s")
		})
	}
}

// BenchmarkDurable is a durable run's throughput on shardstore at the
// checks' settings: cases (a concurrent run, cut) and crash states (each a
// history checked with DurableModel, then forward progress) per second.
//
//	go test -run XXX -bench Durable ./checkers/linearize
func BenchmarkDurable(b *testing.B) {
	c := Config{Target: testengines.Shardstore(), Seed: 1, Cases: b.N, OutDir: b.TempDir()}
	start := time.Now()
	r, err := RunDurable(context.Background(), c)
	if err != nil || r.Verdict != checkers.Pass {
		b.Fatalf("%v %s", err, r.Summary())
	}
	var states int // the Reason ends "N crash states checked"
	last := strings.TrimSpace(r.Reason[strings.LastIndex(r.Reason, "; ")+1:])
	if _, err := fmt.Sscanf(last, "%d crash states checked", &states); err != nil {
		b.Fatalf("no crash states in the reason %q", r.Reason)
	}
	s := time.Since(start).Seconds()
	b.ReportMetric(float64(r.Cases)/s, "cases/s")
	b.ReportMetric(float64(states)/s, "crash-states/s")
}
