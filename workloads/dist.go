package workloads

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// This file holds the key distributions, each a port of the YCSB generator
// of the same name (site.ycsb.generator). They draw from the *rand.Rand
// passed to Next, never from a global source, so the same seed gives the
// same keys on every machine. Where YCSB draws a double with
// ThreadLocalRandom.nextDouble we draw rng.Float64; where it reduces a long
// modulo n we use rng.Uint64N (no modulo bias).

// ZipfianTheta is YCSB's default zipfian constant (ZIPFIAN_CONSTANT).
const ZipfianTheta = 0.99

// fnvOffset64 and fnvPrime64 are the FNV-1 64-bit parameters YCSB's
// Utils.fnvhash64 uses.
const (
	fnvOffset64 = 0xCBF29CE484222325
	fnvPrime64  = 1099511628211
)

// FNVHash64 is YCSB's Utils.fnvhash64: FNV over the 8 little-endian bytes of
// v (xor, then multiply), then the absolute value as a Java long. The result
// is returned as the Java long's bits: for the one input whose hash is
// math.MinInt64, Java's Math.abs leaves it negative and so do we.
func FNVHash64(v int64) int64 {
	h := uint64(fnvOffset64)
	for range 8 {
		h ^= uint64(v) & 0xff
		h *= fnvPrime64
		v >>= 8
	}
	if int64(h) < 0 {
		return -int64(h) // wraps for MinInt64, as Java's Math.abs does
	}
	return int64(h)
}

// Uniform draws integers uniformly from [Min, Max] (YCSB
// UniformLongGenerator).
type Uniform struct {
	Min, Max uint64
}

// Next returns the next value.
func (u Uniform) Next(rng *rand.Rand) uint64 {
	n := u.Max - u.Min + 1
	if n == 0 { // the full uint64 range
		return rng.Uint64()
	}
	return u.Min + rng.Uint64N(n)
}

// Zipfian draws integers from [Min, Min+Items) with popularity following
// Zipf's law with constant Theta: item Min is the most popular, Min+1 next,
// and P(Min+i) is proportional to 1/(i+1)^Theta. It is the algorithm of Gray
// et al., "Quickly Generating Billion-Record Synthetic Databases" (SIGMOD
// 1994), as YCSB's ZipfianGenerator implements it: exact for the two most
// popular items, a continuous approximation for the rest, O(1) per draw
// after an O(Items) zeta computation (here O(1) for large counts: see zeta).
//
// The item count may grow (NextN with a larger count), as the latest
// distribution's does when inserts extend the key space: zeta is then
// extended incrementally, from the old count to the new one. One
// deliberate difference from YCSB: after growth YCSB recomputes eta with
// the item count it was constructed with (a long-standing quirk); we use
// the current count, which is what the algorithm prescribes.
//
// A Zipfian that grows is not safe for concurrent use; Next on one that
// does not grow only reads it.
type Zipfian struct {
	Min   uint64
	Theta float64

	count      uint64 // items zetan was computed for
	zetan      float64
	alpha      float64
	eta        float64
	zeta2theta float64
	half       float64 // 1 + 0.5^theta: the upper bound of uz for item 1
}

// NewZipfian returns a zipfian over [min, min+items) with constant theta
// (0 < theta < 1). It panics on items == 0 or theta out of range: callers
// validate user input first.
func NewZipfian(min, items uint64, theta float64) *Zipfian {
	return newZipfianZeta(min, items, theta, zeta(items, theta))
}

func newZipfianZeta(min, items uint64, theta, zetan float64) *Zipfian {
	if items == 0 || !(theta > 0 && theta < 1) {
		panic(fmt.Sprintf("workloads: zipfian over %d items with theta %v", items, theta))
	}
	z := &Zipfian{Min: min, Theta: theta, count: items, zetan: zetan}
	z.alpha = 1 / (1 - theta)
	z.zeta2theta = zeta(2, theta)
	z.half = 1 + math.Pow(0.5, theta)
	z.setEta()
	return z
}

func (z *Zipfian) setEta() {
	z.eta = (1 - math.Pow(2/float64(z.count), 1-z.Theta)) / (1 - z.zeta2theta/z.zetan)
}

// Items returns the item count the constants were last computed for.
func (z *Zipfian) Items() uint64 { return z.count }

// Next returns the next value over the current item count.
func (z *Zipfian) Next(rng *rand.Rand) uint64 { return z.NextN(rng, z.count) }

// NextN returns the next value over items items, extending zeta first if
// items grew. A smaller count keeps the larger count's constants (YCSB does
// the same unless allowitemcountdecrease is set) and clamps the result.
func (z *Zipfian) NextN(rng *rand.Rand, items uint64) uint64 {
	if items > z.count {
		z.zetan += zetaRange(z.count+1, items, z.Theta)
		z.count = items
		z.setEta()
	}
	u := rng.Float64()
	uz := u * z.zetan
	if uz < 1 {
		return z.Min
	}
	if uz < z.half && items > 1 {
		return z.Min + 1
	}
	r := uint64(float64(items) * math.Pow(z.eta*u-z.eta+1, z.alpha))
	if r >= items { // rounding at u close to 1
		r = items - 1
	}
	return z.Min + r
}

// zeta returns the generalized harmonic number sum_{i=1..n} 1/i^theta.
func zeta(n uint64, theta float64) float64 { return zetaRange(1, n, theta) }

// zetaDirectMax is the largest count summed term by term. Beyond it the
// tail is computed with the Euler–Maclaurin formula, whose error there is
// below 1e-20 relative: a zipfian over a billion keys (or YCSB's scrambled
// zipfian over 10^10) is built in microseconds instead of seconds.
const zetaDirectMax = 1 << 16

// zetaRange returns sum_{i=a..b} 1/i^theta (0 when b < a).
func zetaRange(a, b uint64, theta float64) float64 {
	if a < 1 {
		a = 1
	}
	if b < a {
		return 0
	}
	var sum float64
	if a < zetaDirectMax {
		end := min(b, zetaDirectMax-1)
		for i := a; i <= end; i++ {
			sum += math.Pow(float64(i), -theta)
		}
		if b <= end {
			return sum
		}
		a = zetaDirectMax
	}
	if b-a < zetaDirectMax {
		for i := a; i <= b; i++ {
			sum += math.Pow(float64(i), -theta)
		}
		return sum
	}
	// Euler–Maclaurin: sum f(i), i=a..b = ∫_a^b f + (f(a)+f(b))/2
	//   + (f'(b)-f'(a))/12 - (f'''(b)-f'''(a))/720 + ...
	// with f(x) = x^-θ; the next term is O(a^-(θ+5)), far below an ulp.
	fa, fb := float64(a), float64(b)
	f := func(x float64) float64 { return math.Pow(x, -theta) }
	d1 := func(x float64) float64 { return -theta * math.Pow(x, -theta-1) }
	d3 := func(x float64) float64 { return -theta * (theta + 1) * (theta + 2) * math.Pow(x, -theta-3) }
	var integral float64
	if theta == 1 {
		integral = math.Log(fb / fa)
	} else {
		integral = (math.Pow(fb, 1-theta) - math.Pow(fa, 1-theta)) / (1 - theta)
	}
	sum += integral + (f(fa)+f(fb))/2 + (d1(fb)-d1(fa))/12 - (d3(fb)-d3(fa))/720
	return sum
}

// ScrambledZipfian draws from [Min, Min+Items) with zipfian popularity, the
// popular items scattered over the range rather than clustered at Min
// (YCSB ScrambledZipfianGenerator, the "zipfian" request distribution of
// every YCSB core workload). It draws a zipfian over a fixed, large item
// count (ScrambledItems, so its constants never change as the key space
// grows) and maps it into the range with FNVHash64 modulo Items.
//
// It is safe for concurrent use.
type ScrambledZipfian struct {
	Min, Items uint64
	z          *Zipfian
}

// ScrambledItems is the item count of the zipfian behind ScrambledZipfian
// (YCSB's ITEM_COUNT), and scrambledZetan its precomputed zeta for θ=0.99
// (YCSB's ZETAN).
const (
	ScrambledItems = 10_000_000_000
	scrambledZetan = 26.46902820178302
)

// NewScrambledZipfian returns a scrambled zipfian over [min, min+items).
func NewScrambledZipfian(min, items uint64, theta float64) *ScrambledZipfian {
	if items == 0 {
		panic("workloads: scrambled zipfian over 0 items")
	}
	// YCSB builds ZipfianGenerator(0, ITEM_COUNT): ITEM_COUNT+1 items.
	var z *Zipfian
	if theta == ZipfianTheta {
		z = newZipfianZeta(0, ScrambledItems+1, theta, scrambledZetan)
	} else {
		z = NewZipfian(0, ScrambledItems+1, theta)
	}
	return &ScrambledZipfian{Min: min, Items: items, z: z}
}

// Next returns the next value.
func (s *ScrambledZipfian) Next(rng *rand.Rand) uint64 {
	v := s.z.Next(rng)
	return s.Min + uint64(FNVHash64(int64(v)))%s.Items
}

// Latest draws recently inserted items most often (YCSB
// SkewedLatestGenerator, workload D's request distribution): given the
// newest item last, it returns last - z where z is zipfian over [0, last).
// Item last is the most popular, last-1 next, and so on. Like YCSB, it never
// returns item 0 once last > 0.
//
// A Latest grows its zipfian as last grows: it is not safe for concurrent
// use; give each worker its own (Clone).
type Latest struct {
	z *Zipfian
}

// NewLatest returns a latest distribution for a key space whose newest
// item is initially last.
func NewLatest(last uint64, theta float64) *Latest {
	return &Latest{z: NewZipfian(0, max(last, 1), theta)}
}

// Clone returns an independent copy, for another worker.
func (l *Latest) Clone() *Latest {
	z := *l.z
	return &Latest{z: &z}
}

// Next returns the next value given the newest item last.
func (l *Latest) Next(rng *rand.Rand, last uint64) uint64 {
	if last == 0 {
		return 0
	}
	return last - l.z.NextN(rng, last)
}

// Hotspot draws from [Min, Max] with a hot set: the first HotData fraction
// of the range receives HotOps of the draws, uniformly; the rest of the
// range receives the rest, uniformly (YCSB HotspotIntegerGenerator,
// hotspotdatafraction and hotspotopnfraction; YCSB's defaults are 0.2 and
// 0.8).
type Hotspot struct {
	Min, Max        uint64
	HotData, HotOps float64
}

// hot returns the size of the hot set, as YCSB computes it.
func (h Hotspot) hot() uint64 {
	return uint64(float64(h.Max-h.Min+1) * h.HotData)
}

// Next returns the next value.
func (h Hotspot) Next(rng *rand.Rand) uint64 {
	n := h.Max - h.Min + 1
	hot := h.hot()
	cold := n - hot
	if rng.Float64() < h.HotOps && hot > 0 || cold == 0 {
		return h.Min + rng.Uint64N(hot)
	}
	return h.Min + hot + rng.Uint64N(cold)
}

// Sequential returns Min, Min+1, ..., Max, Min, ... in turn (YCSB
// SequentialGenerator). It ignores the rng and keeps its position: it is not
// safe for concurrent use.
type Sequential struct {
	Min, Max uint64
	next     uint64
}

// Next returns the next value.
func (s *Sequential) Next(*rand.Rand) uint64 {
	n := s.Max - s.Min + 1
	v := s.Min + s.next%n
	s.next++
	return v
}

// Exponential draws non-negative reals with an exponential distribution
// (YCSB ExponentialGenerator). YCSB parameterises it by a percentile and a
// range: percentile percent of the draws fall below range. The exponential
// request distribution subtracts the draw from the newest key, so recent
// keys are popular; YCSB's defaults are percentile 95 and range
// records × 0.8571428571 (exponential.percentile, exponential.frac).
type Exponential struct {
	Gamma float64 // the rate: 1/mean
}

// NewExponential returns the exponential distribution under which percentile
// percent of the draws are below rangeSize.
func NewExponential(percentile, rangeSize float64) Exponential {
	return Exponential{Gamma: -math.Log(1-percentile/100) / rangeSize}
}

// Float returns the next value.
func (e Exponential) Float(rng *rand.Rand) float64 {
	// 1-Float64 is in (0, 1]: the log is finite.
	return -math.Log(1-rng.Float64()) / e.Gamma
}

// Next returns the next value truncated to an integer, as YCSB's intValue.
func (e Exponential) Next(rng *rand.Rand) uint64 {
	f := e.Float(rng)
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return uint64(f)
}
