package interleave

import (
	"fmt"
	"strconv"
	"strings"
)

// A schedule string is the choices of an execution, one per scheduling
// point where two or more tasks could run: the chosen task's id in base
// 36 (0-9, a-z; ids from 36 up as "(N)" in decimal), a run of four or more
// equal choices as the choice, '*', the count in decimal and '.'. For
// example "0*12.1201" is task 0 twelve times, then 1, 2, 0, 1.

// EncodeSchedule returns the schedule string of choices.
func EncodeSchedule(choices []int) string {
	var b strings.Builder
	for i := 0; i < len(choices); {
		j := i
		for j < len(choices) && choices[j] == choices[i] {
			j++
		}
		tok := taskToken(choices[i])
		if n := j - i; n >= 4 {
			fmt.Fprintf(&b, "%s*%d.", tok, n)
		} else {
			b.WriteString(strings.Repeat(tok, n))
		}
		i = j
	}
	return b.String()
}

func taskToken(id int) string {
	if id < 36 {
		return strconv.FormatInt(int64(id), 36)
	}
	return fmt.Sprintf("(%d)", id)
}

// DecodeSchedule parses a schedule string.
func DecodeSchedule(s string) ([]int, error) {
	var out []int
	for i := 0; i < len(s); {
		var id int
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			id, i = int(c-'0'), i+1
		case c >= 'a' && c <= 'z':
			id, i = int(c-'a')+10, i+1
		case c == '(':
			end := strings.IndexByte(s[i:], ')')
			if end < 0 {
				return nil, fmt.Errorf("schedule %q: '(' at %d is not closed", s, i)
			}
			n, err := strconv.Atoi(s[i+1 : i+end])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("schedule %q: task %q at %d: want a decimal task id", s, s[i+1:i+end], i)
			}
			id, i = n, i+end+1
		default:
			return nil, fmt.Errorf("schedule %q: %q at %d: want a task (0-9, a-z, or (N))", s, c, i)
		}
		count := 1
		if i < len(s) && s[i] == '*' {
			end := strings.IndexByte(s[i:], '.')
			if end < 0 {
				return nil, fmt.Errorf("schedule %q: '*' at %d: want *COUNT. (a count ended by '.')", s, i)
			}
			n, err := strconv.Atoi(s[i+1 : i+end])
			if err != nil || n < 1 {
				return nil, fmt.Errorf("schedule %q: count %q at %d: want a positive number", s, s[i+1:i+end], i)
			}
			count, i = n, i+end+1
		}
		for range count {
			out = append(out, id)
		}
	}
	return out, nil
}

// Replay is what a failing case prints for harness check interleave
// --replay: the harness, the case's seed (its ops and values), and the
// schedule, joined by ':' ("reclaim-compact:17:0*12.1201").
type Replay struct {
	Harness  string
	Seed     uint64
	Schedule []int
}

func (r Replay) String() string {
	return fmt.Sprintf("%s:%d:%s", r.Harness, r.Seed, EncodeSchedule(r.Schedule))
}

// ParseReplay parses a replay string.
func ParseReplay(s string) (Replay, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 {
		return Replay{}, fmt.Errorf("replay %q: want HARNESS:SEED:SCHEDULE, as a failing run prints it", s)
	}
	if _, ok := lookup(parts[0]); !ok {
		return Replay{}, fmt.Errorf("replay %q: no harness %q (want one of %s)", s, parts[0], harnessNames())
	}
	seed, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return Replay{}, fmt.Errorf("replay %q: seed %q: want a decimal number", s, parts[1])
	}
	ch, err := DecodeSchedule(parts[2])
	if err != nil {
		return Replay{}, err
	}
	return Replay{Harness: parts[0], Seed: seed, Schedule: ch}, nil
}
