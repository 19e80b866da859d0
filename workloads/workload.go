package workloads

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// Mix is the proportions of a workload's operations, as YCSB's
// readproportion, updateproportion, insertproportion, scanproportion and
// readmodifywriteproportion, plus delete. They are relative weights: New
// normalizes them, so read=50,update=50 and read=1,update=1 are the same
// mix.
type Mix struct {
	Read, Update, Insert, Scan, RMW, Delete float64
}

// mixTerms pairs each Mix field with its spec term and OpKind, in YCSB's
// order (the order its DiscreteGenerator is filled, which fixes which op a
// given draw selects).
var mixTerms = []struct {
	term  string
	kind  OpKind
	field func(*Mix) *float64
}{
	{"read", OpGet, func(m *Mix) *float64 { return &m.Read }},
	{"update", OpPut, func(m *Mix) *float64 { return &m.Update }},
	{"insert", OpInsert, func(m *Mix) *float64 { return &m.Insert }},
	{"scan", OpList, func(m *Mix) *float64 { return &m.Scan }},
	{"rmw", OpReadModifyWrite, func(m *Mix) *float64 { return &m.RMW }},
	{"delete", OpDelete, func(m *Mix) *float64 { return &m.Delete }},
}

// Total returns the sum of the weights.
func (m Mix) Total() float64 {
	return m.Read + m.Update + m.Insert + m.Scan + m.RMW + m.Delete
}

// Fraction returns the normalized proportion of ops of kind k (0 for kinds
// a Mix does not draw).
func (m Mix) Fraction(k OpKind) float64 {
	t := m.Total()
	if t <= 0 {
		return 0
	}
	for _, mt := range mixTerms {
		if mt.kind == k {
			return *mt.field(&m) / t
		}
	}
	return 0
}

// String writes the non-zero weights as spec terms: "read=50,update=50".
func (m Mix) String() string {
	var parts []string
	for _, mt := range mixTerms {
		if v := *mt.field(&m); v != 0 {
			parts = append(parts, mt.term+"="+strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	return strings.Join(parts, ",")
}

// KeyDistKind names a key distribution.
type KeyDistKind uint8

// The key distributions (see the package documentation).
const (
	KeysZipfian     KeyDistKind = iota // YCSB "zipfian": ScrambledZipfian over the key space
	KeysUniform                        // Uniform over the loaded keys
	KeysLatest                         // Latest: the newest keys most popular
	KeysHotspot                        // Hotspot
	KeysSequential                     // Sequential over the loaded keys
	KeysExponential                    // the newest keys most popular, exponentially
)

// KeyDist is a workload's key distribution and its parameters.
type KeyDist struct {
	Kind KeyDistKind
	// Theta is the zipfian constant of KeysZipfian and KeysLatest
	// (default ZipfianTheta).
	Theta float64
	// HotData and HotOps parameterise KeysHotspot (YCSB defaults 0.2, 0.8).
	HotData, HotOps float64
	// Percentile and Frac parameterise KeysExponential: Percentile percent
	// of draws fall within Frac × records of the newest key (YCSB defaults
	// 95 and 0.8571428571).
	Percentile, Frac float64
}

// The YCSB defaults of the key distributions' parameters.
const (
	HotDataDefault    = 0.2
	HotOpsDefault     = 0.8
	PercentileDefault = 95
	FracDefault       = 0.8571428571
)

// String writes the distribution as a keys= term takes it.
func (k KeyDist) String() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	switch k.Kind {
	case KeysZipfian:
		return "zipf:" + f(k.Theta)
	case KeysUniform:
		return "uniform"
	case KeysLatest:
		return "latest:" + f(k.Theta)
	case KeysHotspot:
		return "hotspot:" + f(k.HotData) + ":" + f(k.HotOps)
	case KeysSequential:
		return "sequential"
	case KeysExponential:
		return "exponential:" + f(k.Percentile) + ":" + f(k.Frac)
	}
	return fmt.Sprintf("KeyDistKind(%d)", k.Kind)
}

// Config describes a workload. Start from DefaultConfig (YCSB's
// CoreWorkload defaults) or ParseConfig; New validates and builds it.
type Config struct {
	// Name is the named workload the config started from ("ycsb-a"), or
	// empty for a custom spec.
	Name string
	// Mix is the op proportions (YCSB default: read=0.95,update=0.05).
	Mix Mix
	// Keys is the request distribution over existing keys (default
	// zipfian, θ=0.99). Inserts always take the next key number.
	Keys KeyDist
	// Records is the number of keys loaded before the run (recordcount,
	// default 1000): key numbers 0..Records-1.
	Records int64
	// Ops is the number of operations a run draws (operationcount,
	// default 1000). Generators do not stop by themselves; the bench does.
	Ops int64
	// Values is the value size distribution (default 1000 bytes: YCSB's
	// fieldcount=10 × fieldlength=100, stored as one value).
	Values Sizes
	// ScanMin and ScanMax bound the number of keys a scan reads, drawn
	// uniformly (minscanlength=1, maxscanlength=1000; ycsb-e uses 100).
	ScanMin, ScanMax int
	// Ordered names keys by key number ("user42") instead of its FNV hash
	// (insertorder=ordered; default hashed).
	Ordered bool
	// Pad zero-pads the number in a key name to at least Pad digits
	// (zeropadding, default 1).
	Pad int
	// Durable asks the bench to make every write durable before counting
	// it acknowledged; how (a Sync per op, a sync option) is the bench's
	// choice.
	Durable bool
	// Capacity, if positive, is shard mode (shard.go): the device size
	// whose Fill share the workload keeps full of data (capacity=,
	// fill=; the shard workload's defaults 1GiB and 0.8).
	Capacity int64
	Fill     float64
}

// Defaults of YCSB's CoreWorkload.
const (
	RecordsDefault     = 1000
	OpsDefault         = 1000
	FieldCountDefault  = 10
	FieldLengthDefault = 100
	ScanMaxDefault     = 1000
)

// padMax bounds Pad so that keys stay well under engine.KeyMax.
const padMax = 100

// DefaultConfig returns YCSB CoreWorkload's defaults.
func DefaultConfig() Config {
	return Config{
		Mix:     Mix{Read: 0.95, Update: 0.05},
		Keys:    KeyDist{Kind: KeysZipfian, Theta: ZipfianTheta},
		Records: RecordsDefault,
		Ops:     OpsDefault,
		Values:  FixedSize(FieldCountDefault * FieldLengthDefault),
		ScanMin: 1,
		ScanMax: ScanMaxDefault,
		Pad:     1,
	}
}

// Validate reports every problem with c, joined.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, mt := range mixTerms {
		if v := *mt.field(&c.Mix); v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			bad("%s=%v: proportions are non-negative numbers", mt.term, v)
		}
	}
	if !(c.Mix.Total() > 0) {
		bad("no operations: give at least one of read=, update=, insert=, scan=, rmw=, delete= above zero")
	}
	if c.Records < 0 {
		bad("records=%d: must be 0 or more", c.Records)
	}
	if c.Ops < 0 {
		bad("ops=%d: must be 0 or more", c.Ops)
	}
	if c.Records == 0 && c.Mix.Total()-c.Mix.Insert > 0 {
		bad("records=0 but the mix reads or updates existing keys: give records=N (N >= 1)")
	}
	k := c.Keys
	switch k.Kind {
	case KeysZipfian, KeysLatest:
		if !(k.Theta > 0 && k.Theta < 1) {
			bad("keys=%s: θ must be between 0 and 1 (exclusive)", k)
		}
	case KeysHotspot:
		if !(k.HotData >= 0 && k.HotData <= 1 && k.HotOps >= 0 && k.HotOps <= 1) {
			bad("keys=%s: both fractions must be between 0 and 1", k)
		}
	case KeysExponential:
		if !(k.Percentile > 0 && k.Percentile < 100 && k.Frac > 0 && !math.IsInf(k.Frac, 0)) {
			bad("keys=%s: the percentile must be between 0 and 100 (exclusive), the fraction above 0", k)
		}
	case KeysUniform, KeysSequential:
	default:
		bad("keys: unknown distribution %d", k.Kind)
	}
	if c.Values == nil {
		bad("values: no size distribution")
	}
	if c.Mix.Scan > 0 && (c.ScanMin < 1 || c.ScanMax < c.ScanMin) {
		bad("scanmin=%d, scanmax=%d: need 1 <= scanmin <= scanmax", c.ScanMin, c.ScanMax)
	}
	if c.Capacity > 0 && !(c.Fill > 0 && c.Fill < 1) {
		bad("fill=%v: the share of capacity= kept full must be between 0 and 1", c.Fill)
	}
	if c.Capacity == 0 && c.Fill != 0 {
		bad("fill=%v without capacity=: fill is the share of a shard workload's capacity kept full", c.Fill)
	}
	if c.Capacity < 0 {
		bad("capacity=%d: must be positive", c.Capacity)
	}
	if c.Pad < 1 || c.Pad > padMax {
		bad("pad=%d: must be 1 to %d", c.Pad, padMax)
	}
	return errors.Join(errs...)
}

// String returns the workload as a spec that ParseConfig reads back to an
// equal Config: the name (if any) and every term, defaults included. It is
// what reports echo.
func (c Config) String() string {
	var parts []string
	if c.Name != "" {
		parts = append(parts, c.Name)
	}
	parts = append(parts, c.Mix.String(),
		"keys="+c.Keys.String(),
		"records="+strconv.FormatInt(c.Records, 10),
		"ops="+strconv.FormatInt(c.Ops, 10))
	if c.Values != nil {
		parts = append(parts, "values="+c.Values.String())
	}
	parts = append(parts, "scanmin="+strconv.Itoa(c.ScanMin), "scanmax="+strconv.Itoa(c.ScanMax))
	if c.Ordered {
		parts = append(parts, "insertorder=ordered")
	} else {
		parts = append(parts, "insertorder=hashed")
	}
	parts = append(parts, "pad="+strconv.Itoa(c.Pad), "durable="+strconv.FormatBool(c.Durable))
	if c.Capacity > 0 {
		parts = append(parts, "capacity="+engine.FormatSize(c.Capacity), "fill="+strconv.FormatFloat(c.Fill, 'g', -1, 64))
	}
	return strings.Join(parts, ",")
}

// Workload is a validated Config with the state its generators share: the
// insert key sequence and the acknowledged-insert counter. One Workload
// serves any number of concurrent workers, each with its own Generator.
type Workload struct {
	cfg Config
	cum [6]float64 // cumulative normalized mix in mixTerms order
	ops [6]OpKind

	scrambled *ScrambledZipfian // KeysZipfian; shared, read-only
	latest    *Latest           // KeysLatest; cloned per generator
	exp       Exponential       // KeysExponential

	// nextInsert is the key number the next insert takes (YCSB's
	// transactioninsertkeysequence); it starts at Records.
	nextInsert atomic.Int64
	acked      ackCounter
	shard      *shardState // shard mode only
}

// New validates c and builds the workload.
func New(c Config) (*Workload, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("workload %s: %w", c, err)
	}
	w := &Workload{cfg: c}
	total := c.Mix.Total()
	sum := 0.0
	for i, mt := range mixTerms {
		sum += *mt.field(&c.Mix) / total
		w.cum[i] = sum
		w.ops[i] = mt.kind
	}
	w.cum[len(w.cum)-1] = math.Inf(1) // rounding never falls off the end
	switch c.Keys.Kind {
	case KeysZipfian:
		// As YCSB: size the scrambled key space for the inserts the run
		// is expected to make (×2, YCSB's fudge factor), so the popular
		// keys do not move as the key space grows; draws beyond the
		// inserted keys are redrawn.
		expected := int64(float64(c.Ops) * c.Mix.Fraction(OpInsert) * 2)
		w.scrambled = NewScrambledZipfian(0, uint64(c.Records+expected+1), c.Keys.Theta)
	case KeysLatest:
		w.latest = NewLatest(uint64(max(c.Records-1, 1)), c.Keys.Theta)
	case KeysExponential:
		w.exp = NewExponential(c.Keys.Percentile, float64(c.Records)*c.Keys.Frac)
	}
	w.nextInsert.Store(c.Records)
	w.acked.limit.Store(c.Records - 1)
	if c.Capacity > 0 {
		w.shard = newShardState(c.Records)
	}
	return w, nil
}

// Config returns the workload's configuration.
func (w *Workload) Config() Config { return w.cfg }

// String returns the workload's full spec (Config.String).
func (w *Workload) String() string { return w.cfg.String() }

// Durable reports whether the bench should make each write durable before
// counting it done (durable-put, or durable=true).
func (w *Workload) Durable() bool { return w.cfg.Durable }

// ValueBytesMax returns the largest value the workload writes: a buffer of
// this size serves Apply without allocation.
func (w *Workload) ValueBytesMax() int { return w.cfg.Values.SizeMax() }

// Check reports, before a run starts, a capability e lacks that the
// workload needs: scans need engine.Lister; values must fit the engine's
// limits.
func (w *Workload) Check(e engine.Engine) error {
	var errs []error
	if w.cfg.Mix.Scan > 0 {
		if _, ok := e.(engine.Lister); !ok {
			errs = append(errs, fmt.Errorf("workload %s scans, and engine %T does not implement engine.Lister", w.name(), e))
		}
	}
	lim := engine.LimitsOf(e)
	if m := w.cfg.Values.SizeMax(); m > lim.ValueMax {
		errs = append(errs, fmt.Errorf("workload %s writes values up to %s, above engine %T's maximum of %s",
			w.name(), engine.FormatSize(int64(m)), e, engine.FormatSize(int64(lim.ValueMax))))
	}
	// "user" + a 20-digit number, padded: well within KeyMax unless an
	// engine documents a smaller maximum.
	if k := len("user") + max(w.cfg.Pad, 20); k > lim.KeyMax {
		errs = append(errs, fmt.Errorf("workload %s uses keys up to %d bytes, above engine %T's maximum of %d", w.name(), k, e, lim.KeyMax))
	}
	return errors.Join(errs...)
}

func (w *Workload) name() string {
	if w.cfg.Name != "" {
		return w.cfg.Name
	}
	return strconv.Quote(w.cfg.String())
}

// Key returns the key of key number n: "user" followed by FNVHash64(n), or
// by n itself when insertorder=ordered, zero-padded to Pad digits (YCSB
// CoreWorkload.buildKeyName).
func (w *Workload) Key(n int64) []byte {
	return AppendYCSBKey(make([]byte, 0, 24), n, w.cfg.Ordered, w.cfg.Pad)
}

// AppendYCSBKey appends YCSB's key name for key number n to dst.
func AppendYCSBKey(dst []byte, n int64, ordered bool, pad int) []byte {
	if !ordered {
		n = FNVHash64(n)
	}
	dst = append(dst, "user"...)
	var num [24]byte
	digits := strconv.AppendInt(num[:0], n, 10)
	for i := len(digits); i < pad; i++ {
		dst = append(dst, '0')
	}
	return append(dst, digits...)
}

// Load returns the op that loads key number n (0 <= n < Records) before a
// run: an insert of a value from the workload's size distribution, its
// content seeded from rng.
func (w *Workload) Load(rng *rand.Rand, n int64) Op {
	return Op{Kind: OpInsert, Key: w.Key(n), Size: w.cfg.Values.Next(rng), Seed: rng.Uint64()}
}

// Inserted returns the number of keys inserted or loaded so far, counting
// from key number 0: Records plus the inserts drawn.
func (w *Workload) Inserted() int64 { return w.nextInsert.Load() }

// Acknowledged returns the highest key number n such that every insert of
// a key number <= n is acknowledged (YCSB's AcknowledgedCounterGenerator
// lastValue): reads choose among keys 0..Acknowledged().
func (w *Workload) Acknowledged() int64 { return w.acked.limit.Load() }

// ackCounter tracks acknowledged inserts, as YCSB's
// AcknowledgedCounterGenerator: limit advances only over a contiguous run
// of acknowledged key numbers, so a reader never picks a key whose insert
// is still in flight on another worker.
type ackCounter struct {
	limit   atomic.Int64
	mu      sync.Mutex
	pending []int64 // acknowledged key numbers above limit+1; one per worker at most
}

func (a *ackCounter) ack(n int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	limit := a.limit.Load()
	if n != limit+1 {
		a.pending = append(a.pending, n)
		return
	}
	limit++
	for found := true; found; {
		found = false
		for i, p := range a.pending {
			if p == limit+1 {
				limit++
				a.pending[i] = a.pending[len(a.pending)-1]
				a.pending = a.pending[:len(a.pending)-1]
				found = true
				break
			}
		}
	}
	a.limit.Store(limit)
}

// Generator draws one worker's operations from a Workload. Its rng is its
// own, so a worker's sequence depends only on its seed and, when the mix
// inserts, on the other workers' inserts (they share the key sequence). A
// single Generator with a given seed always draws the same sequence.
//
// A Generator is not safe for concurrent use; give each worker its own.
type Generator struct {
	w       *Workload
	rng     *rand.Rand
	latest  *Latest
	seq     Sequential
	pending int64 // an insert drawn and not yet acknowledged, or -1
}

// NewGenerator returns a generator drawing from rng. Workers of one run
// should use WorkerRand(seed, i) for worker i: each then has an
// independent stream, and the run is a function of the seed.
func (w *Workload) NewGenerator(rng *rand.Rand) *Generator {
	g := &Generator{w: w, rng: rng, pending: -1}
	if w.latest != nil {
		g.latest = w.latest.Clone()
	}
	g.seq = Sequential{Min: 0, Max: uint64(max(w.cfg.Records-1, 0))}
	return g
}

// WorkerRand returns the rng for worker i of a run seeded with seed: PCG
// with the worker number mixed into the stream, so workers never share a
// sequence and adding a worker does not change the others'.
func WorkerRand(seed uint64, worker int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, splitmix64(uint64(worker))))
}

// Ack acknowledges the generator's outstanding insert, if any: readers on
// every worker may now choose its key. Next calls it, because a closed-loop
// worker draws its next op only once the previous one completed; a bench
// that draws ahead of completion (open loop) calls Ack when the insert
// completes.
func (g *Generator) Ack() {
	if g.pending >= 0 {
		g.w.acked.ack(g.pending)
		if g.w.shard != nil {
			g.ackShard(g.pending)
		}
		g.pending = -1
	}
}

// keyRedrawMax bounds the redraws of a key number beyond the acknowledged
// ones; past it, the draw is folded into range. With YCSB's sizing, a
// redraw is rare (its probability is the share of expected-but-not-yet-
// inserted keys), so the bound is never reached in practice.
const keyRedrawMax = 64

// keyNum draws the key number of a read, update, scan or delete (YCSB
// CoreWorkload.nextKeynum).
func (g *Generator) keyNum() int64 {
	w, rng := g.w, g.rng
	last := w.acked.limit.Load()
	if last < 0 {
		return 0 // Validate ensures records >= 1 when this can happen
	}
	switch w.cfg.Keys.Kind {
	case KeysZipfian:
		var v uint64
		for range keyRedrawMax {
			if v = w.scrambled.Next(rng); v <= uint64(last) {
				return int64(v)
			}
		}
		return int64(v % uint64(last+1))
	case KeysUniform:
		return int64(rng.Uint64N(uint64(w.cfg.Records)))
	case KeysLatest:
		return int64(g.latest.Next(rng, uint64(last)))
	case KeysHotspot:
		k := w.cfg.Keys
		return int64(Hotspot{Min: 0, Max: uint64(w.cfg.Records - 1), HotData: k.HotData, HotOps: k.HotOps}.Next(rng))
	case KeysSequential:
		return int64(g.seq.Next(rng))
	case KeysExponential:
		var d uint64
		for range keyRedrawMax {
			if d = w.exp.Next(rng); d <= uint64(last) {
				return last - int64(d)
			}
		}
		return last - int64(d%uint64(last+1))
	}
	panic(fmt.Sprintf("workloads: key distribution %v", w.cfg.Keys.Kind))
}

// Next draws the next op. It first acknowledges the generator's previous
// insert (see Ack). Each op consumes the rng in a fixed order: op choice,
// key, then size and seed, then scan length.
func (g *Generator) Next() Op {
	g.Ack()
	if g.w.shard != nil {
		return g.nextShard()
	}
	w, rng := g.w, g.rng
	u := rng.Float64()
	i := 0
	for u >= w.cum[i] {
		i++
	}
	op := Op{Kind: w.ops[i]}
	switch op.Kind {
	case OpInsert:
		n := w.nextInsert.Add(1) - 1
		g.pending = n
		op.Key = w.Key(n)
	default:
		op.Key = w.Key(g.keyNum())
	}
	if op.Kind.Writes() {
		op.Size = w.cfg.Values.Next(rng)
		op.Seed = rng.Uint64()
	}
	if op.Kind == OpList {
		op.ScanLen = w.cfg.ScanMin + rng.IntN(w.cfg.ScanMax-w.cfg.ScanMin+1)
	}
	return op
}

// Append draws n ops and appends them to ops.
func (g *Generator) Append(ops []Op, n int) []Op {
	for range n {
		ops = append(ops, g.Next())
	}
	return ops
}
