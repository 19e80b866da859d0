package reports

import (
	"image/png"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/mutants"
)

func sampleMutantsReport() mutants.Report {
	dets := []mutants.Detector{{Checker: "conformance"}, {Checker: "crash", Mode: "block"}}
	names := []string{mutants.Baseline, mutants.Canary, "lost-sync", "stale-bloom"}
	outcomes := [][]mutants.Outcome{{"survived", "survived"}, {"killed", "killed"}, {"survived", "killed"}, {"survived", "timed-out"}}
	var rows []mutants.Row
	var cells []mutants.Cell
	for i, n := range names {
		rows = append(rows, mutants.Row{Name: n, Component: "index", Wrong: "a bug"})
		for j, d := range dets {
			cells = append(cells, mutants.Cell{Schema: mutants.CellSchema, Commit: "c0ffee", Subject: n, Detector: d, Seed: 1,
				Outcome: outcomes[i][j], Budget: time.Second, Elapsed: time.Second / 2, Cases: 12, Ops: 300})
		}
	}
	r := mutants.Build(rows, dets, cells)
	r.Commit, r.Command, r.Started, r.Budget, r.Seed = "c0ffee", "harness mutants", time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC), time.Minute, 1
	return r
}

func TestMutantsReportValidates(t *testing.T) {
	r := sampleMutantsReport()
	if got := r.Combined.String(); got != "1/2 (50.0%)" {
		t.Errorf("combined %q", got)
	}
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateMutantsJSON(b); err != nil {
		t.Fatalf("a report Build made does not validate: %v", err)
	}
	bad := strings.Replace(string(b), `"outcome": "killed"`, `"outcome": "slain"`, 1)
	if err := ValidateMutantsJSON([]byte(bad)); err == nil || !strings.Contains(err.Error(), "/outcome") {
		t.Errorf("an unknown outcome: %v", err)
	}
	if err := ValidateMutantsJSON(b[:len(b)/2]); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("a truncated report: %v", err)
	}
}

func TestMutantsHeatmap(t *testing.T) {
	r := sampleMutantsReport()
	paths, err := WriteMutantsHeatmap(t.TempDir(), &r)
	if err != nil || len(paths) != 2 {
		t.Fatalf("%v %v", paths, err)
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// A row per mutant: the image grows with the catalogue.
	if h := img.Bounds().Dy(); h < 150 {
		t.Errorf("heatmap %d px tall for 4 mutants", h)
	}
	svg, _ := os.ReadFile(paths[1])
	for _, want := range []string{"lost-sync", "crash/block", "combined"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("svg lacks %q", want)
		}
	}
}
