package iotrace

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// TestRecordAndRead: a Recorder over a simulated disk records every IO
// with the disk's virtual times, and the file reads back the same; its
// summary counts sizes, seeks and flush gaps.
func TestRecordAndRead(t *testing.T) {
	sim, err := disk.NewSim(1<<20, 512, disk.SimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := sim.Clock().Now()
	now := func() time.Duration { return sim.Clock().Now().Sub(start) }
	file := filepath.Join(t.TempDir(), "io.trace")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f, Header{Virtual: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder(sim, w, RecorderOptions{Now: now, SuperblockBytes: 4096})
	buf := make([]byte, 8192)
	rec.WriteAt(buf[:512], 0)    // superblock
	rec.WriteAt(buf, 65536)      // seek
	rec.WriteAt(buf, 65536+8192) // sequential
	rec.Flush()
	rec.ReadAt(buf[:4096], 0)
	rec.Flush()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	h, recs, err := ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Virtual || h.Version != Version || len(recs) != 6 {
		t.Fatalf("header %+v, %d records", h, len(recs))
	}
	if recs[0].Source != Superblock || recs[1].Source != Unknown || recs[3].Op != OpFlush || recs[4].Op != OpRead {
		t.Errorf("records %+v", recs)
	}
	if recs[1].Service <= recs[2].Service || recs[2].Start != recs[1].Start+recs[1].Service {
		t.Errorf("virtual times: the seeking write %v, the sequential one %v at %v", recs[1].Service, recs[2].Service, recs[2].Start)
	}
	s := Summarize(recs)
	if s.Writes != 3 || s.Reads != 1 || s.Flushes != 2 || s.SizeHist[13] != 2 || s.SizeHist[9] != 1 || s.SeekHist[0] != 1 || len(s.FlushGaps) != 1 {
		t.Errorf("summary %+v", s)
	}
	var b strings.Builder
	s.Write(&b, h)
	if !strings.Contains(b.String(), "virtual time") || !strings.Contains(b.String(), "8KiB-  2") {
		t.Errorf("summary text:\n%s", b.String())
	}
}

// TestTruncated: a file cut inside a record is a one-line TruncatedError
// naming the file and the record, with the records before it; a foreign
// file and a newer version are refused.
func TestTruncated(t *testing.T) {
	var b bytes.Buffer
	w, _ := NewWriter(&b, Header{})
	for i := range 3 {
		w.Add(Record{Start: time.Duration(i) * time.Millisecond, Service: time.Millisecond, Op: OpWrite, Off: int64(i) << 20, Len: 4096})
	}
	w.Close()
	full := b.Bytes()
	_, recs, err := Read(bytes.NewReader(full[:len(full)-2]), "cut.trace")
	var te *TruncatedError
	if !errors.As(err, &te) || te.Record != 2 || len(recs) != 2 || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "cut.trace") {
		t.Errorf("cut trace: %v, %d records", err, len(recs))
	}
	if _, _, err := Read(strings.NewReader("hello, world"), "x"); !errors.Is(err, ErrNotTrace) {
		t.Errorf("foreign file: %v", err)
	}
	newer := bytes.Clone(full)
	newer[8] = 9
	if _, _, err := Read(bytes.NewReader(newer), "x"); !errors.Is(err, ErrVersion) {
		t.Errorf("newer version: %v", err)
	}
}

// TestSourcesAndParts: a write's source (reclamation included), its
// dependency wait and its scheduler queue time survive the file, and the
// summary splits write latency into dependency wait, scheduler queue,
// device queue (behind the IO before, on one queue) and device time.
func TestSourcesAndParts(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Virtual: true})
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	in := []Record{
		{Start: 0, Service: 10 * ms, Op: OpWrite, Source: Foreground, Off: 0, Len: 4096, DepWait: 2 * ms, Queued: 1 * ms, InFlight: 1},
		// Called at 4 ms, behind the first until 10 ms, then 5 ms of its own.
		{Start: 4 * ms, Service: 11 * ms, Op: OpWrite, Source: Reclamation, Off: 8192, Len: 512, Queued: 3 * ms, InFlight: 2},
		{Start: 15 * ms, Service: ms, Op: OpFlush, InFlight: 1},
	}
	for _, r := range in {
		w.Add(r)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h, out, err := Read(&buf, "mem")
	if err != nil || h.Version != Version {
		t.Fatalf("read: version %d, %v", h.Version, err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("read back\n%+v\nwant\n%+v", out, in)
	}
	s := Summarize(out)
	fg, rc := s.Parts[Foreground], s.Parts[Reclamation]
	if fg.Writes != 1 || fg.DepWait != 2*ms || fg.Sched != ms || fg.Queue != 0 || fg.Device != 10*ms {
		t.Errorf("foreground parts %+v", fg)
	}
	if rc.Writes != 1 || rc.Sched != 3*ms || rc.Queue != 6*ms || rc.Device != 5*ms {
		t.Errorf("reclamation parts %+v: want 6ms queued behind the first write, 5ms of its own", rc)
	}
	var text bytes.Buffer
	s.Write(&text, h)
	if !strings.Contains(text.String(), "reclamation") || !strings.Contains(text.String(), "2ms + 1ms + 0s + 10ms") {
		t.Errorf("summary text lacks the breakdown:\n%s", text.String())
	}
}

// TestReadsVersion1: a version 1 file (two bits of source, no scheduler
// queue field) still reads.
func TestReadsVersion1(t *testing.T) {
	b := []byte(Magic)
	b = append(b, 1, 0, 1, 0)                                            // version 1, virtual
	b = append(b, byte(OpWrite)|byte(Superblock)<<2, 5, 7, 9, 11, 13, 2) // one record, six fields
	h, recs, err := Read(bytes.NewReader(b), "v1")
	if err != nil || h.Version != 1 || len(recs) != 1 {
		t.Fatalf("version %d, %d records, %v", h.Version, len(recs), err)
	}
	want := Record{Start: 5, Service: 7, Op: OpWrite, Source: Superblock, Off: 9, Len: 11, DepWait: 13, InFlight: 2}
	if recs[0] != want {
		t.Errorf("got %+v, want %+v", recs[0], want)
	}
}
