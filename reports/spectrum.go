package reports

import (
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/gauntlet-kv/gauntlet/bench"
)

// Spectrum is the latency of one op type of one engine on one workload at
// every percentile: the curve of the latency plot.
type Spectrum struct {
	// Engine is Run.Engine, or Run.Spec to tell apart runs of one engine
	// with different options.
	Engine   string
	Workload string
	Op       string
	// Points are in increasing percentile order.
	Points []SpectrumPoint
	// coarse is true for a spectrum built from the report's summary
	// percentiles rather than a histogram.
	coarse bool
}

// SpectrumPoint is one point of a Spectrum.
type SpectrumPoint struct {
	Percentile float64 // 0 to 100, below 100: the plot's x axis is 1/(1-p)
	LatencyUs  float64
}

// spectrumTicksPerHalf is how many points the spectrum has per halving of
// the distance to 100%: HdrHistogram's own default for .hgrm files, fine
// enough for a smooth curve at a few hundred points.
const spectrumTicksPerHalf = 5

// SpectrumFromHistogram turns a latency histogram with values in
// nanoseconds, as the bench runner records them, into a Spectrum. Merge the
// histograms of every repetition first (Histogram.Merge): WritePlots takes
// one spectrum per engine, workload and op.
//
// The 100th percentile is plotted at 1/(1-p) = the sample count, the
// percentile of the last sample, since 1/(1-1) is infinite.
func SpectrumFromHistogram(h *hdrhistogram.Histogram, engine, workload, op string) Spectrum {
	s := Spectrum{Engine: engine, Workload: workload, Op: op}
	n := h.TotalCount()
	if n == 0 {
		return s
	}
	last := 100 * (1 - 1/float64(n))
	for _, b := range h.CumulativeDistributionWithTicks(spectrumTicksPerHalf) {
		p := min(b.Quantile, last)
		us := float64(b.ValueAt) / 1e3
		// Several brackets can land on the last sample; keep the highest
		// value there so the max is on the curve.
		if k := len(s.Points); k > 0 && s.Points[k-1].Percentile >= p {
			s.Points[k-1].LatencyUs = max(s.Points[k-1].LatencyUs, us)
			continue
		}
		s.Points = append(s.Points, SpectrumPoint{Percentile: p, LatencyUs: us})
	}
	return s
}

// spectrumFromSummaries is the fallback when the runner passed no
// histogram: the report's p50 … p99.99 and max, the median of each over the
// repetitions, keeping only the percentiles the sample count resolves (a
// p99.99 of 1,000 samples is the max).
func spectrumFromSummaries(engine, workload, op string, sums []bench.OpSummary) Spectrum {
	s := Spectrum{Engine: engine, Workload: workload, Op: op, coarse: true}
	var count int64
	var maxUs float64
	for _, o := range sums {
		count += o.Count
		maxUs = max(maxUs, o.MaxUs)
	}
	if count == 0 {
		return s
	}
	med := func(f func(bench.OpSummary) float64) float64 {
		xs := make([]float64, 0, len(sums))
		for _, o := range sums {
			if o.Count > 0 {
				xs = append(xs, f(o))
			}
		}
		return median(xs)
	}
	last := 100 * (1 - 1/float64(count))
	for _, q := range []struct {
		p float64
		f func(bench.OpSummary) float64
	}{
		{50, func(o bench.OpSummary) float64 { return o.P50us }},
		{90, func(o bench.OpSummary) float64 { return o.P90us }},
		{99, func(o bench.OpSummary) float64 { return o.P99us }},
		{99.9, func(o bench.OpSummary) float64 { return o.P999us }},
		{99.99, func(o bench.OpSummary) float64 { return o.P9999us }},
	} {
		if q.p < last {
			s.Points = append(s.Points, SpectrumPoint{Percentile: q.p, LatencyUs: med(q.f)})
		}
	}
	s.Points = append(s.Points, SpectrumPoint{Percentile: last, LatencyUs: maxUs})
	return s
}

// inversePercentile is the spectrum plot's x coordinate, 1/(1-p): 1 at 0%,
// 10 at 90%, 100 at 99%. Each decade is one more nine.
func inversePercentile(p float64) float64 {
	if p >= 100 {
		return math.Inf(1)
	}
	return 1 / (1 - p/100)
}
