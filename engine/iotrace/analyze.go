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
	// Busy sums the device's own time of every IO (its service time less
	// its wait behind the IOs before it, as Parts splits writes).
	Busy time.Duration
	// Parts are the writes' latency, split, per source (index: Source).
	Parts [sourceCount]Parts
}

// Parts split the latency of a source's writes: DepWait before the IO
// scheduler could issue them (their oldest append waiting on
// dependencies), Sched in its queue once ready, Queue at the device
// behind the IOs issued before them, and Device, the device's own time. Queue and Device assume one queue served in order,
// which a simulated device is (exact there); on a real device Queue is
// the time a write overlapped the IOs before it.
type Parts struct {
	Writes                        int
	Bytes                         int64
	DepWait, Sched, Queue, Device time.Duration // sums
}

// Mean returns the mean of each part per write.
func (p Parts) Mean() (depWait, sched, queue, device time.Duration) {
	if p.Writes == 0 {
		return 0, 0, 0, 0
	}
	n := time.Duration(p.Writes)
	return p.DepWait / n, p.Sched / n, p.Queue / n, p.Device / n
}

// bucket is the power-of-two bucket of n > 0: floor(log2 n).
func bucket(n uint64) int { return bits.Len64(n) - 1 }

// Summarize computes a trace's summary.
func Summarize(recs []Record) Summary {
	var s Summary
	var head int64 = -1
	var lastFlush time.Duration = -1
	var depth int
	var devFree time.Duration // when the device finished the IOs before
	for _, r := range recs {
		end := r.Start + r.Service
		devStart := min(max(r.Start, devFree), end)
		devFree = max(devFree, end)
		s.Busy += end - devStart
		if r.Op == OpWrite && r.Source < sourceCount {
			p := &s.Parts[r.Source]
			p.Writes++
			p.Bytes += int64(r.Len)
			p.DepWait += r.DepWait
			p.Sched += r.Queued
			p.Queue += devStart - r.Start
			p.Device += end - devStart
		}
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
	b.WriteString("writes by source: count, bytes, mean dependency wait + scheduler queue + device queue + device:\n")
	for _, src := range Sources {
		p := s.Parts[src]
		if p.Writes == 0 {
			continue
		}
		dw, sq, q, d := p.Mean()
		fmt.Fprintf(&b, "  %-11s %6d %12d  %v + %v + %v + %v\n", src, p.Writes, p.Bytes, dw, sq, q, d)
	}
	if len(s.FlushGaps) > 0 {
		g := slices.Clone(s.FlushGaps)
		slices.Sort(g)
		fmt.Fprintf(&b, "flush cadence: gap p50 %v, p90 %v, max %v\n", g[len(g)/2], g[len(g)*9/10], g[len(g)-1])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
