package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine/iotrace"
)

// TestIOTraceCmd: harness iotrace prints a trace's summary and draws its
// plots; a truncated trace is a one-line usage error naming the file.
func TestIOTraceCmd(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x.iotrace")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := iotrace.NewWriter(f, iotrace.Header{Virtual: true})
	for i := range 10 {
		w.Add(iotrace.Record{Start: time.Duration(i) * time.Millisecond, Service: time.Millisecond, Op: iotrace.OpWrite, Off: int64(i) * 4096, Len: 4096, InFlight: 1})
		w.Add(iotrace.Record{Start: time.Duration(i)*time.Millisecond + 500*time.Microsecond, Op: iotrace.OpFlush, InFlight: 1})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCheckCLI(t, "iotrace", file, "--out", filepath.Join(dir, "plots"))
	if code != exitPass || !strings.Contains(stdout, "10 writes (40960 bytes), 10 flushes") || !strings.Contains(stdout, "virtual time") || !strings.Contains(stdout, "iotrace.png") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	b, _ := os.ReadFile(file)
	os.WriteFile(file, b[:len(b)-3], 0o644)
	code, _, stderr = runCheckCLI(t, "iotrace", file)
	if code != exitUsage || !strings.Contains(stderr, file+": truncated inside record") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("truncated: exit %d, stderr %q", code, stderr)
	}
}
