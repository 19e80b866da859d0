package reports

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testNight(i int) HistoryRecord {
	return HistoryRecord{Schema: HistorySchema, Date: time.Date(2026, 12, 1+i, 13, 0, 0, 0, time.UTC), Night: "n" + string(rune('0'+i)),
		Commit: "abc", Engine: "shardstore", Repeat: 3, Elapsed: time.Minute,
		Bench:  []HistoryBench{{Engine: "shardstore", Workload: "ycsb-a", OpsPerSec: float64(1000 + i), P99us: 80, P999us: 200}},
		Checks: []HistoryCheck{{Detector: "conformance", Verdict: "pass"}}}
}

func writeNights(t *testing.T, n int) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), HistoryFile)
	h, err := ReadHistory(path)
	if err != nil || len(h.Records) != 0 {
		t.Fatalf("a missing history: %v, %d nights; want an empty one", err, len(h.Records))
	}
	for i := range n {
		if err := h.Append(testNight(i)); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	return path, b
}

// TestHistoryAppendRead: each night is one line, read back as written.
func TestHistoryAppendRead(t *testing.T) {
	path, b := writeNights(t, 3)
	if n := bytes.Count(b, []byte{'\n'}); n != 3 {
		t.Fatalf("%d lines, want 3:\n%s", n, b)
	}
	h, err := ReadHistory(path)
	if err != nil || h.Warning != "" || len(h.Records) != 3 || h.Records[2].Bench[0].OpsPerSec != 1002 {
		t.Fatalf("read back: %v, warning %q, %+v", err, h.Warning, h.Records)
	}
	if got := h.Last(2); len(got) != 2 || got[0].Night != "n1" {
		t.Errorf("Last(2) = %+v", got)
	}
}

// TestHistoryCutLastLine: a last line cut mid-way is left out with a
// warning naming the file and line; the next append drops it, so the
// file is whole again.
func TestHistoryCutLastLine(t *testing.T) {
	path, b := writeNights(t, 3)
	cut := b[:len(b)-40]
	os.WriteFile(path, cut, 0o644)
	h, err := ReadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Records) != 2 || !strings.HasPrefix(h.Warning, path+":3: last line cut short") {
		t.Fatalf("%d nights, warning %q: want 2 and one naming %s:3", len(h.Records), h.Warning, path)
	}
	if err := h.Append(testNight(5)); err != nil {
		t.Fatal(err)
	}
	h, err = ReadHistory(path)
	if err != nil || h.Warning != "" || len(h.Records) != 3 || h.Records[2].Night != "n5" {
		t.Fatalf("after the append: %v, warning %q, %d nights", err, h.Warning, len(h.Records))
	}
}

// TestHistoryBadLines: a corrupt line in the middle, a record of another
// layout, or one its schema rejects is an error naming file and line.
func TestHistoryBadLines(t *testing.T) {
	for _, c := range []struct {
		name, line, want string
	}{
		{"corrupt", `{"schema": "gauntlet.history/v1", "da`, "not JSON"},
		{"wrong version", `{"schema": "gauntlet.history/v2"}`, `schema "gauntlet.history/v2" is not one this harness reads (gauntlet.history/v1)`},
		{"no schema", `{"date": "x"}`, "no schema field"},
		{"schema rejects", `{"schema": "gauntlet.history/v1", "night": "x"}`, "/commit: required field missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, b := writeNights(t, 3)
			lines := strings.SplitAfter(string(b), "\n")
			lines[1] = c.line + "\n"
			os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644)
			_, err := ReadHistory(path)
			var he *HistoryError
			if !errors.As(err, &he) || he.Line != 2 || !strings.HasPrefix(err.Error(), path+":2: ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v: want one naming %s:2 and %q", err, path, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// TestTrendFigure: one row per workload, and a regression is ringed.
func TestTrendFigure(t *testing.T) {
	recs := []HistoryRecord{testNight(0), testNight(1), testNight(2)}
	recs[2].Regressions = []HistoryRegression{{Engine: "shardstore", Workload: "ycsb-a", Op: "all", Metric: "ops/s", DeltaPct: -20, P: 0.01}}
	f, ok := trendFigure(recs)
	if !ok || len(f.panels) != 1 || len(f.panels[0]) != 2 {
		t.Fatalf("figure %v: want one row of ops/s and p99", ok)
	}
	if !strings.Contains(f.title, "3 nights") {
		t.Errorf("title %q", f.title)
	}
	if !regressed(recs[2], "shardstore", "ycsb-a", "ops/s") || regressed(recs[1], "shardstore", "ycsb-a", "ops/s") {
		t.Error("regressed misreads the records")
	}
	paths, err := WriteTrendPlots(t.TempDir(), recs)
	if err != nil || len(paths) != 2 {
		t.Fatalf("WriteTrendPlots: %v %v", paths, err)
	}
	svg, _ := os.ReadFile(paths[1])
	if !bytes.Contains(svg, []byte("worse than the night before")) {
		t.Error("the svg lacks the regression legend")
	}
}
