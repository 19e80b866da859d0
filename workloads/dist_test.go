package workloads

import (
	"math"
	"slices"
	"testing"
)

func TestFNVHash64(t *testing.T) {
	// Key names YCSB itself produces for key numbers 0 and 1 (seen in any
	// YCSB load with insertorder=hashed).
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "user6284781860667377211"}, {1, "user8517097267634966620"}} {
		if got := string(AppendYCSBKey(nil, tc.n, false, 1)); got != tc.want {
			t.Errorf("key %d = %s, want %s", tc.n, got, tc.want)
		}
	}
	if got := string(AppendYCSBKey(nil, 42, true, 6)); got != "user000042" {
		t.Errorf("ordered padded key = %s, want user000042", got)
	}
	for n := range int64(10000) {
		if FNVHash64(n) < 0 {
			t.Fatalf("FNVHash64(%d) = %d, want non-negative", n, FNVHash64(n))
		}
	}
}

func TestZeta(t *testing.T) {
	// YCSB's precomputed ZETAN for its scrambled zipfian: the
	// Euler–Maclaurin tail must agree to far better than the draws notice.
	got := zeta(ScrambledItems, ZipfianTheta)
	if math.Abs(got-scrambledZetan)/scrambledZetan > 1e-9 {
		t.Errorf("zeta(1e10, 0.99) = %.15g, want %.15g", got, scrambledZetan)
	}
	// Direct sums and the formula agree across the switch-over.
	for _, theta := range []float64{0.5, 0.99} {
		var direct float64
		for i := 1; i <= 300000; i++ {
			direct += math.Pow(float64(i), -theta)
		}
		if got := zeta(300000, theta); math.Abs(got-direct)/direct > 1e-12 {
			t.Errorf("zeta(300000, %v) = %.17g, direct sum %.17g", theta, got, direct)
		}
	}
}

// grayPMF is the exact distribution of Gray et al.'s zipfian algorithm over
// n items: exact Zipf for items 0 and 1, and the continuous inversion's
// share of [0, 1) for the rest.
func grayPMF(n int, theta float64) []float64 {
	z := NewZipfian(0, uint64(n), theta)
	u1 := z.half / z.zetan // draws below u1 return item 0 or 1
	cdfFormula := func(k int) float64 {
		// P(u >= u1 and floor(n·(ηu−η+1)^α) <= k)
		g := (math.Pow(float64(k+1)/float64(n), 1/z.alpha) - 1 + z.eta) / z.eta
		return math.Max(0, math.Min(g, 1)-u1)
	}
	pmf := make([]float64, n)
	prev := 0.0
	for k := range n {
		c := cdfFormula(k)
		pmf[k] = c - prev
		prev = c
	}
	pmf[0] += 1 / z.zetan
	pmf[1] += (z.half - 1) / z.zetan
	return pmf
}

func TestZipfianDistribution(t *testing.T) {
	rng := statRand(t)
	const n, draws = 50, 300000
	for _, theta := range []float64{0.99, 0.5} {
		z := NewZipfian(0, n, theta)
		counts := make([]int, n)
		for range draws {
			counts[z.Next(rng)]++
		}
		stat, crit, df := chiSquare(counts, grayPMF(n, theta))
		t.Logf("θ=%v: chi-square %.1f, df %d, critical (p=0.001) %.1f", theta, stat, df, crit)
		if stat > crit {
			t.Errorf("θ=%v: draws do not follow Gray's distribution: chi-square %.1f > %.1f", theta, stat, crit)
		}
		// The test has power: the same draws reject a nearby θ.
		if wrong, crit, _ := chiSquare(counts, grayPMF(n, theta-0.05)); wrong <= crit {
			t.Errorf("θ=%v: chi-square does not tell θ from θ-0.05 (%.1f <= %.1f)", theta, wrong, crit)
		}
		// Against Zipf's law itself: the top two ranks are exact.
		zn := zeta(n, theta)
		within4Sigma(t, "rank 1", counts[0], draws, 1/zn)
		within4Sigma(t, "rank 2", counts[1], draws, math.Pow(2, -theta)/zn)
		// and the rank-frequency slope in log-log is -θ (least squares over
		// the ten most frequent ranks, tolerance 0.1).
		var sx, sy, sxx, sxy float64
		for i := range 10 {
			x, y := math.Log(float64(i+1)), math.Log(float64(counts[i]))
			sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
		}
		slope := (10*sxy - sx*sy) / (10*sxx - sx*sx)
		if math.Abs(slope+theta) > 0.1 {
			t.Errorf("θ=%v: rank-frequency slope %.3f, want %.3f ± 0.1", theta, slope, -theta)
		}
	}
}

func TestZipfianGrowth(t *testing.T) {
	// Growing from 100 to 5000 items extends zeta incrementally: the
	// constants equal a zipfian built for 5000 items.
	rng := statRand(t)
	grown := NewZipfian(0, 100, ZipfianTheta)
	grown.NextN(rng, 5000)
	fresh := NewZipfian(0, 5000, ZipfianTheta)
	if math.Abs(grown.zetan-fresh.zetan) > 1e-12 || math.Abs(grown.eta-fresh.eta) > 1e-12 || grown.Items() != 5000 {
		t.Errorf("grown: zetan %v eta %v items %d; fresh: zetan %v eta %v", grown.zetan, grown.eta, grown.Items(), fresh.zetan, fresh.eta)
	}
	// A smaller count keeps the constants and stays in range.
	for range 10000 {
		if v := grown.NextN(rng, 10); v >= 10 {
			t.Fatalf("NextN(10) = %d", v)
		}
	}
}

func TestLatestDistribution(t *testing.T) {
	rng := statRand(t)
	const last, draws = 60, 300000
	l := NewLatest(last, ZipfianTheta)
	counts := make([]int, last) // by age: last - value
	for range draws {
		v := l.Next(rng, last)
		if v == 0 || v > last {
			t.Fatalf("latest drew %d, want 1..%d", v, last)
		}
		counts[last-v]++
	}
	stat, crit, df := chiSquare(counts, grayPMF(last, ZipfianTheta))
	t.Logf("chi-square %.1f, df %d, critical %.1f", stat, df, crit)
	if stat > crit {
		t.Errorf("latest ages do not follow the zipfian: chi-square %.1f > %.1f", stat, crit)
	}
	within4Sigma(t, "newest item", counts[0], draws, 1/zeta(last, ZipfianTheta))
	// As the key space grows, the newest key stays the most popular.
	c := map[uint64]int{}
	for range 20000 {
		c[l.Next(rng, 1000)]++
	}
	if c[1000] < c[999] || c[999] < c[990] || c[1000] < 20000/10 {
		t.Errorf("after growth to 1000: newest drawn %d times, 999: %d, 990: %d", c[1000], c[999], c[990])
	}
}

func TestHotspotDistribution(t *testing.T) {
	rng := statRand(t)
	h := Hotspot{Min: 1000, Max: 1999, HotData: 0.2, HotOps: 0.8}
	const draws = 300000
	counts := make([]int, 1000)
	for range draws {
		v := h.Next(rng)
		if v < 1000 || v > 1999 {
			t.Fatalf("hotspot drew %d outside [1000, 1999]", v)
		}
		counts[v-1000]++
	}
	hot := 0
	for _, c := range counts[:200] {
		hot += c
	}
	within4Sigma(t, "hot set share", hot, draws, 0.8)
	// Uniform within each set.
	pmf := make([]float64, 1000)
	for i := range pmf {
		if i < 200 {
			pmf[i] = 0.8 / 200
		} else {
			pmf[i] = 0.2 / 800
		}
	}
	stat, crit, df := chiSquare(counts, pmf)
	t.Logf("chi-square %.1f, df %d, critical %.1f", stat, df, crit)
	if stat > crit {
		t.Errorf("hotspot draws are not uniform within the hot and cold sets: chi-square %.1f > %.1f", stat, crit)
	}
	// Degenerate fractions do not divide by zero.
	for _, d := range []Hotspot{{Max: 9, HotData: 0, HotOps: 0.8}, {Max: 9, HotData: 1, HotOps: 0.1}} {
		for range 100 {
			if v := d.Next(rng); v > 9 {
				t.Fatalf("%+v drew %d", d, v)
			}
		}
	}
}

func TestScrambledZipfian(t *testing.T) {
	rng := statRand(t)
	const items, draws = 1000, 200000
	s := NewScrambledZipfian(0, items, ZipfianTheta)
	counts := make([]int, items)
	for range draws {
		counts[s.Next(rng)]++
	}
	// The most popular key is FNV(0) mod items, drawn with the zipfian's
	// rank-1 probability, plus whatever other ranks hash there (about
	// 1/items of the rest).
	top := FNVHash64(0) % items
	if i := slices.Index(counts, slices.Max(counts)); int64(i) != top {
		t.Errorf("most popular key %d, want FNV(0) mod %d = %d", i, items, top)
	}
	p := 1/scrambledZetan + 1.0/items
	within4Sigma(t, "top key", counts[top], draws, p)
	// Scattered: the popular keys are not the low key numbers.
	low := 0
	for _, c := range counts[:10] {
		low += c
	}
	if low > draws/20 {
		t.Errorf("keys 0-9 drew %d of %d: popularity is not scrambled", low, draws)
	}
}

func TestExponential(t *testing.T) {
	rng := statRand(t)
	e := NewExponential(95, 857)
	const draws = 200000
	below, sum := 0, 0.0
	for range draws {
		f := e.Float(rng)
		if f < 0 || math.IsInf(f, 0) {
			t.Fatalf("exponential drew %v", f)
		}
		sum += f
		if f < 857 {
			below++
		}
	}
	within4Sigma(t, "draws below the range", below, draws, 0.95)
	mean := sum / draws
	if want := 1 / e.Gamma; math.Abs(mean-want)/want > 0.01 {
		t.Errorf("mean %.2f, want %.2f ± 1%%", mean, want)
	}
}

func TestUniformAndSequential(t *testing.T) {
	rng := statRand(t)
	u := Uniform{Min: 10, Max: 109}
	counts := make([]int, 100)
	for range 100000 {
		counts[u.Next(rng)-10]++
	}
	pmf := make([]float64, 100)
	for i := range pmf {
		pmf[i] = 0.01
	}
	if stat, crit, _ := chiSquare(counts, pmf); stat > crit {
		t.Errorf("uniform: chi-square %.1f > %.1f", stat, crit)
	}
	if v := (Uniform{Max: math.MaxUint64}).Next(rng); v == 0 && (Uniform{Max: math.MaxUint64}).Next(rng) == 0 {
		t.Errorf("full-range uniform drew 0 twice")
	}
	s := &Sequential{Min: 5, Max: 7}
	var got []uint64
	for range 7 {
		got = append(got, s.Next(nil))
	}
	if want := []uint64{5, 6, 7, 5, 6, 7, 5}; !slices.Equal(got, want) {
		t.Errorf("sequential = %v, want %v", got, want)
	}
}
