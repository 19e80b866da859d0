package workloads

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
)

func mustParse(t testing.TB, spec string) *Workload {
	t.Helper()
	w, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestYCSBMixes(t *testing.T) {
	// The proportions of YCSB's workloads/workload[a-f] property files.
	want := map[string]map[OpKind]float64{
		"ycsb-a": {OpGet: 0.5, OpPut: 0.5},
		"ycsb-b": {OpGet: 0.95, OpPut: 0.05},
		"ycsb-c": {OpGet: 1},
		"ycsb-d": {OpGet: 0.95, OpInsert: 0.05},
		"ycsb-e": {OpList: 0.95, OpInsert: 0.05},
		"ycsb-f": {OpGet: 0.5, OpReadModifyWrite: 0.5},
	}
	rng := statRand(t)
	const draws = 100000
	for _, name := range []string{"ycsb-a", "ycsb-b", "ycsb-c", "ycsb-d", "ycsb-e", "ycsb-f"} {
		w := mustParse(t, name)
		g := w.NewGenerator(rng)
		counts := map[OpKind]int{}
		for range draws {
			op := g.Next()
			counts[op.Kind]++
			if op.Kind.Writes() && op.Size != 1000 {
				t.Fatalf("%s: %v of %d bytes, want YCSB's 1000", name, op.Kind, op.Size)
			}
			if op.Kind == OpList && (op.ScanLen < 1 || op.ScanLen > 100) {
				t.Fatalf("%s: scan of %d keys, want 1..100", name, op.ScanLen)
			}
			if !strings.HasPrefix(string(op.Key), "user") {
				t.Fatalf("%s: key %q", name, op.Key)
			}
		}
		for _, k := range OpKinds() {
			p := want[name][k]
			if p == 0 && counts[k] != 0 {
				t.Errorf("%s: drew %d %v ops, want none", name, counts[k], k)
			}
			if p > 0 && p < 1 {
				within4Sigma(t, name+" "+k.String(), counts[k], draws, p)
			}
			if p == 1 && counts[k] != draws {
				t.Errorf("%s: %d of %d ops are %v, want all", name, counts[k], draws, k)
			}
		}
		c := w.Config()
		if c.Records != 1000 || c.Ops != 1000 {
			t.Errorf("%s: records %d ops %d, want YCSB's 1000 and 1000", name, c.Records, c.Ops)
		}
	}
}

func TestYCSBDistributions(t *testing.T) {
	for name, want := range map[string]KeyDistKind{
		"ycsb-a": KeysZipfian, "ycsb-b": KeysZipfian, "ycsb-c": KeysZipfian,
		"ycsb-d": KeysLatest, "ycsb-e": KeysZipfian, "ycsb-f": KeysZipfian,
	} {
		if got := mustParse(t, name).Config().Keys.Kind; got != want {
			t.Errorf("%s: keys %v, want %v", name, got, want)
		}
	}
	e := mustParse(t, "ycsb-e").Config()
	if e.ScanMin != 1 || e.ScanMax != 100 {
		t.Errorf("ycsb-e: scan length %d..%d, want 1..100", e.ScanMin, e.ScanMax)
	}
	if d := DefaultConfig(); d.ScanMax != 1000 || d.Values.SizeMax() != 1000 || d.Pad != 1 || d.Ordered {
		t.Errorf("defaults differ from YCSB's: %+v", d)
	}
}

func TestScanLengthUniform(t *testing.T) {
	rng := statRand(t)
	g := mustParse(t, "scan=1,scanmin=1,scanmax=100").NewGenerator(rng)
	counts := make([]int, 100)
	for range 100000 {
		counts[g.Next().ScanLen-1]++
	}
	pmf := make([]float64, 100)
	for i := range pmf {
		pmf[i] = 0.01
	}
	if stat, crit, _ := chiSquare(counts, pmf); stat > crit {
		t.Errorf("scan lengths are not uniform on 1..100: chi-square %.1f > %.1f", stat, crit)
	}
}

func drawN(w *Workload, seed uint64, n int) []Op {
	return w.NewGenerator(rand.New(rand.NewPCG(seed, 1))).Append(nil, n)
}

func TestDeterminism(t *testing.T) {
	seed := testSeed(t)
	for _, info := range Named() {
		a := drawN(mustParse(t, info.Name), seed, 2000)
		b := drawN(mustParse(t, info.Name), seed, 2000)
		for i := range a {
			if !a[i].Equal(b[i]) {
				t.Fatalf("%s: op %d differs with the same seed: %v vs %v", info.Name, i, a[i], b[i])
			}
		}
		c := drawN(mustParse(t, info.Name), seed+1, 2000)
		same := 0
		for i := range a {
			if a[i].Equal(c[i]) {
				same++
			}
		}
		if same == len(a) {
			t.Errorf("%s: seeds %d and %d draw identical sequences", info.Name, seed, seed+1)
		}
	}
}

func TestGolden(t *testing.T) {
	// Pins the sequence for one seed: the same seed must give the same ops
	// on any machine and in any later version (traces depend on it).
	w := mustParse(t, "ycsb-a")
	got := drawN(w, 1, 3)
	want := []string{
		`get "user5349475954545216457"`,
		`put "user4037506301835545746" size=1000 seed=5264512023569697221`,
		`put "user3102200395713384992" size=1000 seed=1952627761515405933`,
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("op %d = %s, want %s", i, got[i], want[i])
		}
	}
}

// keyNums maps the key names of key numbers 0..n-1 back to their numbers.
func keyNums(w *Workload, n int64) map[string]int64 {
	m := make(map[string]int64, n)
	for i := range n {
		m[string(w.Key(i))] = i
	}
	return m
}

func TestInsertsExtendKeySpace(t *testing.T) {
	rng := statRand(t)
	w := mustParse(t, "ycsb-d,records=100")
	g := w.NewGenerator(rng)
	nums := keyNums(w, 100000)
	ages := map[int64]int{}
	for range 20000 {
		op := g.Next()
		n, ok := nums[string(op.Key)]
		switch {
		case !ok:
			t.Fatalf("%v: key beyond the first 100000", op)
		case op.Kind == OpInsert:
			if n != w.Inserted()-1 {
				t.Fatalf("insert of key number %d, want the next, %d", n, w.Inserted()-1)
			}
		case op.Kind == OpGet:
			// Before the next draw acknowledges it, the insert just drawn
			// is not readable.
			if n > w.Acknowledged() {
				t.Fatalf("read of key number %d, beyond the acknowledged %d", n, w.Acknowledged())
			}
			ages[w.Acknowledged()-n]++
		}
	}
	g.Ack()
	n := w.Inserted()
	if n < 1000 || w.Acknowledged() != n-1 {
		t.Fatalf("insert counter %d (want about 1100), acknowledged %d", n, w.Acknowledged())
	}
	// Latest: reads favour the newest keys, zipfian by age. Age 0 is the
	// most read, and at least 1/zeta(n) ≈ 1/8 of all reads.
	if ages[0] < ages[1] || ages[1] < ages[10] || ages[0] < 19000/10 {
		t.Errorf("reads by age: newest %d, 1: %d, 10: %d", ages[0], ages[1], ages[10])
	}
}

func TestKeyDistributionsInWorkload(t *testing.T) {
	rng := statRand(t)
	for _, keys := range []string{"uniform", "zipf", "zipf:0.5", "latest", "hotspot", "hotspot:0.1:0.9", "sequential", "exponential", "exponential:90:0.5"} {
		w := mustParse(t, "read=90,insert=10,records=500,keys="+keys)
		g := w.NewGenerator(rng)
		nums := keyNums(w, 2000)
		for range 5000 {
			op := g.Next()
			if op.Kind != OpGet {
				continue
			}
			// Every read is of a loaded or acknowledged key.
			if n, ok := nums[string(op.Key)]; !ok || n > w.Acknowledged() {
				t.Fatalf("keys=%s: read of %q, not among the %d acknowledged keys", keys, op.Key, w.Acknowledged()+1)
			}
		}
	}
	// Sequential cycles through the loaded keys in order.
	w := mustParse(t, "read=1,records=3,keys=sequential,insertorder=ordered")
	g := w.NewGenerator(rng)
	var got []string
	for range 4 {
		got = append(got, string(g.Next().Key))
	}
	if strings.Join(got, " ") != "user0 user1 user2 user0" {
		t.Errorf("sequential reads %v", got)
	}
	// Exponential favours the newest keys: 95% of draws fall within the
	// newest 857 of 1000 keys (exponential.frac); draws beyond key 0 are
	// redrawn, so the share of reads is 0.95 / P(draw < 1000).
	w = mustParse(t, "read=1,records=1000,keys=exponential")
	g = w.NewGenerator(rng)
	nums := keyNums(w, 1000)
	recent, counts := 0, make([]int, 1000)
	const draws = 50000
	for range draws {
		n := nums[string(g.Next().Key)]
		counts[n]++
		if n > 1000-1-857 {
			recent++
		}
	}
	within4Sigma(t, "exponential reads within the range", recent, draws, (1-math.Pow(0.05, 857/(1000*FracDefault)))/(1-math.Pow(0.05, 1000/(1000*FracDefault))))
	if counts[999] < counts[500] || counts[999] < counts[0] {
		t.Errorf("exponential: newest key read %d times, middle %d, oldest %d", counts[999], counts[500], counts[0])
	}
}

func TestConcurrentGenerators(t *testing.T) {
	// Workers share the insert sequence: together they insert each key
	// number exactly once, and every worker's inserts are acknowledged.
	seed := testSeed(t)
	w := mustParse(t, "ycsb-d,records=10")
	const workers, each = 4, 5000
	keys := make([][]string, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := w.NewGenerator(WorkerRand(seed, i))
			for range each {
				if op := g.Next(); op.Kind == OpInsert {
					keys[i] = append(keys[i], string(op.Key))
				}
			}
			g.Ack()
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	total := 0
	for _, ks := range keys {
		for _, k := range ks {
			if seen[k] {
				t.Fatalf("key %s inserted twice", k)
			}
			seen[k] = true
			total++
		}
	}
	if got := w.Inserted(); got != int64(10+total) {
		t.Errorf("insert counter %d, want %d", got, 10+total)
	}
	if got := w.Acknowledged(); got != int64(10+total-1) {
		t.Errorf("acknowledged %d, want %d: an insert was lost", got, 10+total-1)
	}
	for i := range int64(10 + total) {
		if !seen[string(w.Key(i))] && i >= 10 {
			t.Fatalf("key number %d never inserted", i)
		}
	}
}

func TestWorkerRandIndependent(t *testing.T) {
	a, b := WorkerRand(7, 0), WorkerRand(7, 1)
	same := 0
	for range 100 {
		if a.Uint64() == b.Uint64() {
			same++
		}
	}
	if same > 0 {
		t.Errorf("workers 0 and 1 share %d of 100 draws", same)
	}
	if WorkerRand(7, 3).Uint64() != WorkerRand(7, 3).Uint64() {
		t.Errorf("WorkerRand is not a function of (seed, worker)")
	}
}

func TestFill(t *testing.T) {
	w := mustParse(t, "fill,ops=5")
	ops := drawN(w, 1, 5)
	for i, op := range ops {
		want := fmt.Sprintf("user%012d", i)
		if op.Kind != OpInsert || string(op.Key) != want || op.Size != 1000 {
			t.Errorf("op %d = %v, want insert %q of 1000 bytes", i, op, want)
		}
		if i > 0 && string(ops[i-1].Key) >= string(op.Key) {
			t.Errorf("fill keys not ascending: %q then %q", ops[i-1].Key, op.Key)
		}
	}
	if op := drawN(mustParse(t, "fill-64k"), 1, 1)[0]; op.Size != 64<<10 {
		t.Errorf("fill-64k value of %d bytes", op.Size)
	}
	d := mustParse(t, "durable-put")
	if !d.Durable() || mustParse(t, "ycsb-a").Durable() {
		t.Errorf("Durable: durable-put %v, ycsb-a %v", d.Durable(), mustParse(t, "ycsb-a").Durable())
	}
	for _, op := range drawN(d, 1, 100) {
		if op.Kind != OpPut || op.Size != 1024 {
			t.Fatalf("durable-put drew %v", op)
		}
	}
}

func TestLoad(t *testing.T) {
	w := mustParse(t, "ycsb-a,records=10,values=uniform:10:20")
	rng := statRand(t)
	for i := range int64(10) {
		op := w.Load(rng, i)
		if op.Kind != OpInsert || string(op.Key) != string(w.Key(i)) || op.Size < 10 || op.Size > 20 {
			t.Errorf("Load(%d) = %v", i, op)
		}
	}
}

type limitedEngine struct{ *memEngine }

func (limitedEngine) Limits() engine.Limits { return engine.Limits{KeyMax: 16, ValueMax: 100} }

func TestCheck(t *testing.T) {
	e := mustParse(t, "ycsb-e")
	err := e.Check(newMem())
	if err == nil || !strings.Contains(err.Error(), "engine.Lister") || !strings.Contains(err.Error(), "ycsb-e") {
		t.Errorf("ycsb-e on an engine without List: %v", err)
	}
	if err := e.Check(listingEngine{newMem()}); err != nil {
		t.Errorf("ycsb-e on a listing engine: %v", err)
	}
	if err := mustParse(t, "ycsb-a").Check(newMem()); err != nil {
		t.Errorf("ycsb-a: %v", err)
	}
	err = mustParse(t, "ycsb-a").Check(limitedEngine{newMem()})
	if err == nil || !strings.Contains(err.Error(), "1000B") || !strings.Contains(err.Error(), "keys up to 24 bytes") {
		t.Errorf("ycsb-a on an engine with small limits: %v", err)
	}
}

func TestApplyWorkload(t *testing.T) {
	// Load and run ycsb-f on the map engine: every read finds its key.
	ctx := context.Background()
	e := newMem()
	w := mustParse(t, "ycsb-f,records=50")
	rng := statRand(t)
	buf := make([]byte, w.ValueBytesMax())
	for i := range int64(50) {
		if _, err := Apply(ctx, e, w.Load(rng, i), buf); err != nil {
			t.Fatal(err)
		}
	}
	g := w.NewGenerator(rng)
	for range 1000 {
		op := g.Next()
		r, err := Apply(ctx, e, op, buf)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Found || len(r.Value) != 1000 {
			t.Fatalf("%v: found %v, %d bytes", op, r.Found, len(r.Value))
		}
		if op.Kind == OpReadModifyWrite {
			v, _ := e.Get(ctx, op.Key)
			if ValueDigest(v) != SeedDigest(op.Size, op.Seed) {
				t.Fatalf("%v: stored value is not the op's", op)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"", "empty; write a name"},
		{"ycsb-z", `unknown workload "ycsb-z"; named workloads: ycsb-a, ycsb-b`},
		{"ycsb-a,recods=5", `unknown term "recods"; terms: read, update`},
		{"ycsb-a,records=-5", `term "records=-5": write a whole number`},
		{"ycsb-a,records=ten", `term "records=ten"`},
		{"ycsb-a,,ops=1", "empty term"},
		{"ycsb-a,ops", `term "ops" is not key=value`},
		{"ycsb-a,ops=", `term "ops=" has no value`},
		{"ycsb-a,ops=1,ops=2", `term "ops" given twice`},
		{"read=-1", "a proportion is a non-negative number"},
		{"read=0,update=0", "no operations: give at least one of read="},
		{"keys=uniform", "no operations"},
		{"read=1,keys=zipf:1.5", "θ must be between 0 and 1"},
		{"read=1,keys=zipf:x", `parameter "x" is not a number; write keys=uniform, zipf[:θ]`},
		{"read=1,keys=pareto", `unknown distribution "pareto"`},
		{"read=1,keys=hotspot:0.2", "hotspot takes none or two parameters"},
		{"read=1,keys=hotspot:2:0.8", "hotspot fractions must be between 0 and 1"},
		{"read=1,keys=uniform:3", "uniform takes no parameters"},
		{"read=1,keys=exponential:100:1", "exponential percentile must be between 0 and 100"},
		{"read=1,values=4XB", `term "values=4XB": not a size`},
		{"read=1,values=uniform:5", "write uniform:MIN:MAX"},
		{"read=1,values=uniform:9:5", "minimum 9 is above the maximum 5"},
		{"read=1,values=csv:/nonexistent/sizes.csv", "size histogram: open /nonexistent/sizes.csv"},
		{"read=1,values=boundary:1", "write boundary or boundary:CHUNK:EXTENT"},
		{"read=1,values=10,fields=3", "give values= or fields=/fieldlength=, not both"},
		{"scan=1,scanmin=10,scanmax=5", "need 1 <= scanmin <= scanmax"},
		{"read=1,records=0", "records=0 but the mix reads"},
		{"read=1,insertorder=random", "write insertorder=hashed or insertorder=ordered"},
		{"read=1,pad=0", "write a digit count from 1 to 100"},
		{"read=1,durable=maybe", "write durable=true or durable=false"},
	} {
		_, err := Parse(tc.spec)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error containing %q", tc.spec, tc.want)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, fmt.Sprintf("workload %q: ", tc.spec)) {
			t.Errorf("Parse(%q) = %q, want one line starting with the spec and containing %q", tc.spec, msg, tc.want)
		}
	}
}

func TestParseSpecs(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		check func(Config) bool
	}{
		{"ycsb-a,records=100000,values=4KiB", func(c Config) bool {
			return c.Name == "ycsb-a" && c.Records == 100000 && c.Values == FixedSize(4096) && c.Mix == Mix{Read: 50, Update: 50}
		}},
		{"read=50,update=50,keys=zipf:0.99,records=1000000,values=16KiB", func(c Config) bool {
			return c.Name == "" && c.Records == 1e6 && c.Values == FixedSize(16384) && c.Keys == KeyDist{Kind: KeysZipfian, Theta: 0.99}
		}},
		{"ycsb-a,read=90,update=10", func(c Config) bool { return c.Mix == Mix{Read: 90, Update: 10} }},
		{"ycsb-e,scanmax=10", func(c Config) bool { return c.ScanMax == 10 && c.Mix.Scan == 95 }},
		{"read=1,fields=5,fieldlength=1KiB", func(c Config) bool { return c.Values == FixedSize(5120) }},
		{"read=1,fieldlength=10", func(c Config) bool { return c.Values == FixedSize(100) }},
		{"delete=1,rmw=1,keys=hotspot:0.1:0.9", func(c Config) bool {
			return c.Mix == Mix{Delete: 1, RMW: 1} && c.Keys == KeyDist{Kind: KeysHotspot, HotData: 0.1, HotOps: 0.9}
		}},
		{"read=1,values=boundary:8KiB:64KiB", func(c Config) bool {
			return c.Values == BoundarySizes{Page: 4096, Chunk: 8192, Extent: 65536}
		}},
		{" ycsb-b , durable=true ", func(c Config) bool { return c.Durable && c.Name == "ycsb-b" }},
		{"insert=1,records=0", func(c Config) bool { return c.Records == 0 }},
	} {
		c, err := ParseConfig(tc.spec)
		if err != nil {
			t.Errorf("ParseConfig(%q): %v", tc.spec, err)
			continue
		}
		if !tc.check(c) {
			t.Errorf("ParseConfig(%q) = %s, not as expected", tc.spec, c)
		}
	}
}

func TestSpecRoundTrip(t *testing.T) {
	specs := []string{"read=1,values=uniform:1:9KiB,keys=exponential:90:0.5", "scan=3,insert=1,keys=latest:0.7,values=boundary", "read=1,keys=sequential,insertorder=ordered,pad=9"}
	for _, info := range Named() {
		specs = append(specs, info.Name)
	}
	for _, s := range specs {
		c, err := ParseConfig(s)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseConfig(c.String())
		if err != nil {
			t.Fatalf("ParseConfig(%q) of %q's String: %v", c.String(), s, err)
		}
		if c2.String() != c.String() || c2 != c {
			t.Errorf("%q: String %q parses back to %q", s, c.String(), c2.String())
		}
	}
}

func TestNamed(t *testing.T) {
	infos := Named()
	names := make([]string, len(infos))
	for i, info := range infos {
		names[i] = info.Name
		if _, err := Parse(info.Name); err != nil {
			t.Errorf("%s: %v", info.Name, err)
		}
		if info.Description == "" || strings.Count(info.String(), "\t") != strings.Count(InfoHeader, "\t") {
			t.Errorf("%s: row %q does not match the header %q", info.Name, info, InfoHeader)
		}
	}
	if got := strings.Join(names, " "); got != "ycsb-a ycsb-b ycsb-c ycsb-d ycsb-e ycsb-f fill fill-64k durable-put shard" {
		t.Errorf("Named() = %s", got)
	}
	if infos[0].String() != "ycsb-a\tread=50,update=50\tzipf:0.99\t1000B\tupdate heavy: session store recording recent actions" {
		t.Errorf("row = %q", infos[0])
	}
}

func TestValidateReportsEverything(t *testing.T) {
	c := DefaultConfig()
	c.Mix = Mix{Scan: 1}
	c.Records = -1
	c.Pad = 0
	c.ScanMin = 0
	err := c.Validate()
	for _, want := range []string{"records=-1", "pad=0", "scanmin=0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %s", err, want)
		}
	}
	if _, err := New(c); err == nil || !errors.Is(err, err) {
		t.Errorf("New accepted an invalid config")
	}
}
