package iotrace

import (
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// Summary is what the plots of a trace show, as numbers.
type Summary struct {
	Reads, Writes, Flushes int
	ReadBytes, WriteBytes  int64
	// SizeHist counts reads and writes by size, in power-of-two buckets:
	// SizeHist[k] counts sizes in [2^k, 2^(k+1)).
	SizeHist [64]int
	// SeekHist counts the distance from the end of one read or write to
	// the start of the next, in power-of-two buckets of bytes (bucket 0
	// holds distance 0: sequential).
	SeekHist [65]int
	// FlushGaps are the times between consecutive flushes.
	FlushGaps []time.Duration
	// DepthMax is the most IOs in flight at once; DepthMean the mean over
	// IOs of the depth each saw.
	DepthMax  int
	DepthMean float64
	// Span is from the first IO's start to the last one's end.
	Span time.Duration
	// Busy sums service times.
	Busy time.Duration
}

// bucket is the power-of-two bucket of n > 0: floor(log2 n).
func bucket(n uint64) int { return bits.Len64(n) - 1 }

// Summarize computes a trace's summary.
func Summarize(recs []Record) Summary {
	var s Summary
	var head int64 = -1
	var lastFlush time.Duration = -1
	var depth int
	for _, r := range recs {
		s.Busy += r.Service
		s.Span = max(s.Span, r.Start+r.Service)
		s.DepthMax = max(s.DepthMax, r.InFlight)
		depth += r.InFlight
		switch r.Op {
		case OpFlush:
			s.Flushes++
			if lastFlush >= 0 {
				s.FlushGaps = append(s.FlushGaps, r.Start-lastFlush)
			}
			lastFlush = r.Start
			continue
		case OpRead:
			s.Reads++
			s.ReadBytes += int64(r.Len)
		case OpWrite:
			s.Writes++
			s.WriteBytes += int64(r.Len)
		}
		if r.Len > 0 {
			s.SizeHist[bucket(uint64(r.Len))]++
		}
		if head >= 0 {
			d := r.Off - head
			if d < 0 {
				d = -d
			}
			if d == 0 {
				s.SeekHist[0]++
			} else {
				s.SeekHist[bucket(uint64(d))+1]++
			}
		}
		head = r.Off + int64(r.Len)
	}
	if len(recs) > 0 {
		s.DepthMean = float64(depth) / float64(len(recs))
	}
	if len(recs) > 0 {
		s.Span -= recs[0].Start
	}
	return s
}

func sizeName(k int) string {
	n := uint64(1) << k
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// Write prints the summary as text: totals, the size and seek histograms
// and the flush cadence.
func (s Summary) Write(w io.Writer, h Header) error {
	var b strings.Builder
	clock := "wall clock"
	if h.Virtual {
		clock = "virtual time (simulated device)"
	}
	fmt.Fprintf(&b, "%d reads (%d bytes), %d writes (%d bytes), %d flushes over %v of %s; device busy %v; IOs in flight: mean %.2f, max %d\n",
		s.Reads, s.ReadBytes, s.Writes, s.WriteBytes, s.Flushes, s.Span, clock, s.Busy, s.DepthMean, s.DepthMax)
	b.WriteString("IO size (reads and writes):\n")
	for k, n := range s.SizeHist {
		if n > 0 {
			fmt.Fprintf(&b, "  %8s-  %d\n", sizeName(k), n)
		}
	}
	b.WriteString("seek distance (from the end of the previous IO):\n")
	for k, n := range s.SeekHist {
		switch {
		case n == 0:
		case k == 0:
			fmt.Fprintf(&b, "  %8s   %d\n", "0", n)
		default:
			fmt.Fprintf(&b, "  %8s-  %d\n", sizeName(k-1), n)
		}
	}
	if len(s.FlushGaps) > 0 {
		g := slices.Clone(s.FlushGaps)
		slices.Sort(g)
		fmt.Fprintf(&b, "flush cadence: gap p50 %v, p90 %v, max %v\n", g[len(g)/2], g[len(g)*9/10], g[len(g)-1])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
