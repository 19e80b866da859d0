package interleave

import (
	"slices"
	"strings"
	"testing"
)

func TestScheduleRoundTrip(t *testing.T) {
	for _, ch := range [][]int{nil, {0}, {0, 1, 2, 35, 36, 100}, {3, 3, 3, 3, 3, 1, 1, 1, 1, 40, 40, 40, 40, 40, 2}} {
		s := EncodeSchedule(ch)
		got, err := DecodeSchedule(s)
		if err != nil || !slices.Equal(got, ch) && len(ch) > 0 {
			t.Fatalf("%v encoded as %q decoded as %v, %v", ch, s, got, err)
		}
	}
	if s := EncodeSchedule([]int{0, 0, 0, 0, 0, 1, 2, 10, 40}); s != "0*5.12a(40)" {
		t.Fatalf("encoding: got %q", s)
	}
	for _, bad := range []string{"0*", "0*x.", "(3", "A", "0*0."} {
		if _, err := DecodeSchedule(bad); err == nil {
			t.Errorf("DecodeSchedule(%q) accepted", bad)
		}
	}
}

func TestParseReplay(t *testing.T) {
	r, err := ParseReplay("list-delete:17:0*4.1")
	if err != nil || r.Harness != "list-delete" || r.Seed != 17 || !slices.Equal(r.Schedule, []int{0, 0, 0, 0, 1}) {
		t.Fatalf("got %+v, %v", r, err)
	}
	if r.String() != "list-delete:17:0*4.1" {
		t.Fatalf("String: %q", r.String())
	}
	for _, bad := range []string{"list-delete:17", "nope:1:0", "list-delete:x:0"} {
		if _, err := ParseReplay(bad); err == nil || !strings.Contains(err.Error(), "replay") && !strings.Contains(err.Error(), "schedule") {
			t.Errorf("ParseReplay(%q): %v", bad, err)
		}
	}
}
