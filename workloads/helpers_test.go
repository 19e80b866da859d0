package workloads

import (
	"context"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomized tests (0: a fresh one, logged)")

// testSeed returns the seed of a randomized test and logs how to replay it.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test ./workloads/ -run '^%s$' -seed %d)", s, t.Name(), s)
	return s
}

// statSeed is the fixed seed of the statistical tests: their tolerances are
// set for a false-alarm rate of about 1e-3 per assertion, so a fixed seed
// keeps them from flaking while still testing the distribution.
const statSeed = 20240605

func statRand(t testing.TB) *rand.Rand {
	t.Helper()
	t.Logf("seed %d (fixed for statistical tests)", statSeed)
	return rand.New(rand.NewPCG(statSeed, 0x5eed))
}

// chiSquare returns the statistic and the 0.1% critical value for observed
// counts against expected probabilities. Bins with an expected count below
// 5 are merged into their neighbour, as the test requires.
func chiSquare(observed []int, probs []float64) (stat, critical float64, df int) {
	total := 0
	for _, o := range observed {
		total += o
	}
	var obs, exp []float64
	var accO, accE float64
	for i := range observed {
		accO += float64(observed[i])
		accE += probs[i] * float64(total)
		if accE >= 5 {
			obs, exp = append(obs, accO), append(exp, accE)
			accO, accE = 0, 0
		}
	}
	if accE > 0 && len(exp) > 0 {
		obs[len(obs)-1] += accO
		exp[len(exp)-1] += accE
	}
	for i := range obs {
		d := obs[i] - exp[i]
		stat += d * d / exp[i]
	}
	df = len(obs) - 1
	// Wilson–Hilferty approximation of the chi-square quantile; z is the
	// standard normal quantile at 1 - 1e-3.
	const z = 3.0902
	k := float64(df)
	critical = k * math.Pow(1-2/(9*k)+z*math.Sqrt(2/(9*k)), 3)
	return stat, critical, df
}

// within4Sigma checks that count successes out of n are consistent with
// probability p: within 4.5 standard deviations of a binomial (a false
// alarm about once in 150,000).
func within4Sigma(t *testing.T, what string, count, n int, p float64) {
	t.Helper()
	mean := p * float64(n)
	sd := math.Sqrt(float64(n) * p * (1 - p))
	if math.Abs(float64(count)-mean) > 4.5*sd+1e-9 {
		t.Errorf("%s: %d of %d (%.4f), want %.4f ± %.4f (4.5σ)", what, count, n, float64(count)/float64(n), p, 4.5*sd/float64(n))
	}
}

// memEngine is a minimal engine for Apply and Replay tests: a map, with
// List by sorting, and a Maintainer that records what it was asked.
type memEngine struct {
	m        map[string][]byte
	maintain []engine.MaintenanceOp
	syncs    int
}

func newMem() *memEngine { return &memEngine{m: map[string][]byte{}} }

func (e *memEngine) Get(_ context.Context, key []byte) ([]byte, error) {
	v, ok := e.m[string(key)]
	if !ok {
		return nil, engine.ErrNotFound
	}
	return slices.Clone(v), nil
}

func (e *memEngine) Put(_ context.Context, key, value []byte) error {
	if err := engine.CheckKey(key); err != nil {
		return err
	}
	e.m[string(key)] = slices.Clone(value)
	return nil
}

func (e *memEngine) Delete(_ context.Context, key []byte) error {
	delete(e.m, string(key))
	return nil
}

func (e *memEngine) Sync(context.Context) error { e.syncs++; return nil }
func (e *memEngine) Close() error               { return nil }

type listingEngine struct{ *memEngine }

func (e listingEngine) List(_ context.Context, start, end []byte, fn func([]byte) bool) error {
	keys := make([]string, 0, len(e.m))
	for k := range e.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if start != nil && k < string(start) || end != nil && k >= string(end) {
			continue
		}
		if !fn([]byte(k)) {
			break
		}
	}
	return nil
}

func (e listingEngine) Maintain(_ context.Context, op engine.MaintenanceOp) error {
	e.maintain = append(e.maintain, op)
	return nil
}

var errInjected = errors.New("injected")
