package bench

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: latencies are recorded in nanoseconds, from 1 ns to 10
// minutes, with 3 significant digits (HdrHistogram's usual precision: every
// reported percentile is within 0.1% of the true value).
const (
	latencyMin     = 1
	latencyMax     = int64(10 * time.Minute)
	latencySigFigs = 3
	// timelineSigFigs is lower for the per-second histograms: they only feed
	// the p50/p99/max timeline, and there are many of them.
	timelineSigFigs = 2
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(latencyMin, latencyMax, latencySigFigs)
}

func record(h *hdrhistogram.Histogram, d time.Duration) {
	v := int64(d)
	if v < latencyMin {
		v = latencyMin
	}
	if v > latencyMax {
		v = latencyMax // clamp rather than drop: a 10-minute op is still an op
	}
	_ = h.RecordValue(v) // cannot fail within the bounds above
}

// recorder is one worker's measurements: a histogram per op type, counts,
// bytes, and its share of the current timeline second. Only its worker
// touches it during the run, so recording takes no lock.
type recorder struct {
	ops      []string // op type names, indexed by the caller's op index
	hist     []*hdrhistogram.Histogram
	count    []int64
	errors   []int64
	misses   []int64
	bytes    int64
	written  int64 // of bytes, the value bytes writes wrote
	timeline *timeline

	sec     int64 // the timeline second the worker is in
	secHist *hdrhistogram.Histogram
	secOps  int64
	secErr  int64
	secMiss int64

	// pub, if set, is the copy of this worker's figures that a checkpoint
	// reads while the worker goes on recording: the worker refreshes it
	// once a second, so recording an op still takes no lock. onPublish is
	// then called with the second published.
	pub       *published
	onPublish func(sec int64)
}

// published is a worker's figures as of a whole second of the phase.
type published struct {
	mu      sync.Mutex
	upTo    time.Duration // covers the worker's ops that ended before this
	hist    []*hdrhistogram.Histogram
	count   []int64
	errors  []int64
	misses  []int64
	bytes   int64
	written int64
}

func newRecorder(ops []string, tl *timeline, onPublish func(sec int64)) *recorder {
	r := &recorder{
		ops:      ops,
		hist:     make([]*hdrhistogram.Histogram, len(ops)),
		count:    make([]int64, len(ops)),
		errors:   make([]int64, len(ops)),
		misses:   make([]int64, len(ops)),
		timeline: tl,
		sec:      -1,
		secHist:  hdrhistogram.New(latencyMin, latencyMax, timelineSigFigs),
	}
	for i := range ops {
		r.hist[i] = newHistogram()
	}
	if onPublish != nil {
		r.onPublish = onPublish
		r.pub = &published{hist: make([]*hdrhistogram.Histogram, len(ops)), count: make([]int64, len(ops)), errors: make([]int64, len(ops)), misses: make([]int64, len(ops))}
	}
	return r
}

// outcome is how an op ended: done, failed with an engine error, or a
// miss (a read that found no record where the workload had loaded one).
// Only a done op counts as done: errors and misses are counted apart.
type outcome uint8

const (
	opDone outcome = iota
	opFailed
	opMissed
)

// add records one operation of type op that took lat, finishing at
// elapsed since the measured phase began; nbytes is what it moved, written
// the part of it that it wrote.
func (r *recorder) add(op int, lat time.Duration, elapsed time.Duration, nbytes, written int, how outcome) {
	sec := int64(elapsed / time.Second)
	if sec != r.sec {
		// Before this op is counted, so what is published covers exactly
		// the ops that ended before this second began.
		if r.pub != nil {
			// The second goes into the timeline and the published copy
			// at once, as a checkpoint sees them: between the two, a
			// checkpoint would count it in one and not the other.
			r.timeline.pubMu.RLock()
			r.flushSecond()
			r.publish(time.Duration(sec) * time.Second)
			r.timeline.pubMu.RUnlock()
			r.sec = sec
			r.onPublish(sec)
		} else {
			r.flushSecond()
			r.sec = sec
		}
	}
	switch how {
	case opFailed:
		r.errors[op]++
		r.secErr++
	case opMissed:
		r.misses[op]++
		r.secMiss++
	default:
		r.count[op]++
		r.bytes += int64(nbytes)
		r.written += int64(written)
	}
	record(r.hist[op], lat)
	r.secOps++
	record(r.secHist, lat)
}

// flushSecond hands the worker's part of the current second to the shared
// timeline: one lock per worker per second.
func (r *recorder) flushSecond() {
	if r.sec >= 0 && r.secOps > 0 {
		r.timeline.add(r.sec, r.secOps, r.secErr, r.secMiss, r.secHist)
	}
	r.secHist.Reset()
	r.secOps, r.secErr, r.secMiss = 0, 0, 0
}

// publish copies the worker's figures to r.pub: a few tens of µs per op
// type, once a second.
func (r *recorder) publish(upTo time.Duration) {
	p := r.pub
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, h := range r.hist {
		if h.TotalCount() == 0 {
			continue
		}
		if p.hist[i] == nil {
			p.hist[i] = newHistogram()
		} else {
			p.hist[i].Reset()
		}
		p.hist[i].Merge(h)
	}
	copy(p.count, r.count)
	copy(p.errors, r.errors)
	copy(p.misses, r.misses)
	p.bytes, p.written = r.bytes, r.written
	p.upTo = upTo
}

// timeline collects per-second throughput and latency across workers.
type timeline struct {
	mu   sync.Mutex
	secs map[int64]*second
	// pubMu orders checkpoints (Lock) against workers publishing a
	// second (RLock: workers do not wait for each other).
	pubMu sync.RWMutex
}

type second struct {
	// ops counts every op that ended in the second, errors and misses
	// included: the timeline's rate is the rate of attempts.
	ops, errors, misses int64
	hist                *hdrhistogram.Histogram
}

func newTimeline() *timeline { return &timeline{secs: map[int64]*second{}} }

func (t *timeline) add(sec, ops, errs, misses int64, h *hdrhistogram.Histogram) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.secs[sec]
	if s == nil {
		s = &second{hist: hdrhistogram.New(latencyMin, latencyMax, timelineSigFigs)}
		t.secs[sec] = s
	}
	s.ops += ops
	s.errors += errs
	s.misses += misses
	s.hist.Merge(h)
}

// latest is the p50 and p99 in µs of the latest second with ops: the
// progress's "current" latency. Zeros before the first op.
func (t *timeline) latest() (p50, p99 float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	last := int64(-1)
	for sec, s := range t.secs {
		if sec > last && s.ops > 0 {
			last = sec
		}
	}
	if last < 0 {
		return 0, 0
	}
	h := t.secs[last].hist
	return float64(h.ValueAtQuantile(50)) / 1e3, float64(h.ValueAtQuantile(99)) / 1e3
}

// points returns the timeline in order, one point per second from 0 to the
// last second seen, with empty seconds as zero points (a stall shows as a
// gap, not as a missing row). elapsed is the phase's length, so the last,
// partial second's rate is stated over its true length.
func (t *timeline) points(elapsed time.Duration) []TimelinePoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	last := int64(-1)
	for s := range t.secs {
		last = max(last, s)
	}
	pts := make([]TimelinePoint, 0, last+1)
	for s := int64(0); s <= last; s++ {
		p := TimelinePoint{Second: s + 1}
		if sec := t.secs[s]; sec != nil {
			p.Ops, p.Errors, p.Misses = sec.ops, sec.errors, sec.misses
			length := min(time.Second, elapsed-time.Duration(s)*time.Second)
			if length > 0 {
				p.OpsPerSec = float64(sec.ops) / length.Seconds()
			}
			p.P50us = us(sec.hist.ValueAtQuantile(50))
			p.P99us = us(sec.hist.ValueAtQuantile(99))
			p.MaxUs = us(sec.hist.Max())
		}
		pts = append(pts, p)
	}
	return pts
}

func us(ns int64) float64 { return float64(ns) / 1e3 }

// summarize turns a histogram into the figures a report shows.
func summarize(h *hdrhistogram.Histogram, count, errs, misses int64, elapsed time.Duration) OpSummary {
	s := OpSummary{Count: count, Errors: errs, Misses: misses}
	if elapsed > 0 {
		s.OpsPerSec = float64(count) / elapsed.Seconds()
	}
	if h.TotalCount() == 0 {
		return s
	}
	s.MeanUs = h.Mean() / 1e3
	s.P50us = us(h.ValueAtQuantile(50))
	s.P90us = us(h.ValueAtQuantile(90))
	s.P99us = us(h.ValueAtQuantile(99))
	s.P999us = us(h.ValueAtQuantile(99.9))
	s.P9999us = us(h.ValueAtQuantile(99.99))
	s.MaxUs = us(h.Max())
	return s
}
