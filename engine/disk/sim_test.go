package disk

import (
	"testing"
	"time"
)

// TestSimHDD: the clock advances by exactly the model's service times: a
// sequential write pays its transfer only, a write elsewhere a seek and
// half a rotation more, and a flush nothing without a write cache.
func TestSimHDD(t *testing.T) {
	s, err := NewSim(1<<20, 512, SimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Options().HDD
	buf := make([]byte, 4096)
	transfer := time.Duration(4096 / h.Bandwidth * float64(time.Second))
	steps := []struct {
		do   func() error
		want time.Duration
	}{
		{func() error { _, err := s.WriteAt(buf, 0); return err }, transfer},
		{func() error { _, err := s.WriteAt(buf, 4096); return err }, transfer},
		{func() error { _, err := s.WriteAt(buf, 1<<19); return err }, h.SeekTime(1<<19-8192) + h.Rotation()/2 + transfer},
		{func() error { return s.Flush() }, 0},
		{func() error { _, err := s.ReadAt(buf, 0); return err }, h.SeekTime(1<<19+4096) + h.Rotation()/2 + transfer},
	}
	for i, st := range steps {
		before := s.Clock().Now()
		if err := st.do(); err != nil {
			t.Fatal(err)
		}
		if got := s.Clock().Now().Sub(before); got != st.want {
			t.Errorf("step %d: the clock advanced %v, want %v", i, got, st.want)
		}
	}
	if st := s.Stats(); st.Writes != 3 || st.Reads != 1 || st.Flushes != 1 || st.Busy != s.Clock().Now().Sub(time.Unix(0, 0)) {
		t.Errorf("stats %+v, clock %v", st, s.Clock().Now())
	}
}

// TestSimWriteCache: with a write cache a write costs its link transfer
// and the flush pays for the media, in the order written, plus FlushTime.
func TestSimWriteCache(t *testing.T) {
	s, err := NewSim(1<<20, 512, SimOptions{WriteCache: true, WriteCacheSet: true})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Options().HDD
	buf := make([]byte, 4096)
	s.WriteAt(buf, 1<<19)
	if got, want := s.Clock().Now().Sub(time.Unix(0, 0)), bytesTime(4096, LinkBandwidthDefault); got != want {
		t.Errorf("cached write took %v, want %v (link transfer)", got, want)
	}
	before := s.Clock().Now()
	s.Flush()
	want := h.SeekTime(1<<19) + h.Rotation()/2 + time.Duration(4096/h.Bandwidth*float64(time.Second)) + h.FlushTime
	if got := s.Clock().Now().Sub(before); got != want {
		t.Errorf("flush took %v, want %v", got, want)
	}
}

func TestSimSSDAndErrors(t *testing.T) {
	s, err := NewSim(1<<20, 512, SimOptions{Kind: SimSSD})
	if err != nil {
		t.Fatal(err)
	}
	s.WriteAt(make([]byte, 2000), 1000)
	if got, want := s.Clock().Now().Sub(time.Unix(0, 0)), SSDWriteLatencyDefault+bytesTime(2000, SSDBandwidthDefault); got != want {
		t.Errorf("ssd write took %v, want %v", got, want)
	}
	for _, o := range []SimOptions{{Kind: "tape"}, {Capacity: 1}, {HDD: HDDModel{RPM: -1}}} {
		if _, err := NewSim(1<<20, 512, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if _, err := s.WriteAt(make([]byte, 10), 1<<20); err == nil {
		t.Error("a write past the end succeeded")
	}
}
