package workloads

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// named is the table of named workloads, in listing order. Each entry
// modifies DefaultConfig; the YCSB entries follow the workloads/workload[a-f]
// property files shipped with YCSB.
var named = []struct {
	name, doc string
	set       func(*Config)
}{
	{"ycsb-a", "update heavy: session store recording recent actions", func(c *Config) {
		c.Mix = Mix{Read: 50, Update: 50}
	}},
	{"ycsb-b", "read mostly: photo tagging", func(c *Config) {
		c.Mix = Mix{Read: 95, Update: 5}
	}},
	{"ycsb-c", "read only: user profile cache", func(c *Config) {
		c.Mix = Mix{Read: 100}
	}},
	{"ycsb-d", "read latest: user status updates", func(c *Config) {
		c.Mix = Mix{Read: 95, Insert: 5}
		c.Keys = KeyDist{Kind: KeysLatest, Theta: ZipfianTheta}
	}},
	{"ycsb-e", "short ranges: threaded conversations (needs engine.Lister)", func(c *Config) {
		c.Mix = Mix{Scan: 95, Insert: 5}
		c.ScanMax = 100
	}},
	{"ycsb-f", "read-modify-write: user database", func(c *Config) {
		c.Mix = Mix{Read: 50, RMW: 50}
	}},
	{"fill", "sequential load: inserts in ascending key order", func(c *Config) {
		c.Mix = Mix{Insert: 100}
		c.Records = 0
		c.Ordered = true
		c.Pad = 12
	}},
	{"fill-64k", "sequential load of 64 KiB values", func(c *Config) {
		c.Mix = Mix{Insert: 100}
		c.Records = 0
		c.Ordered = true
		c.Pad = 12
		c.Values = FixedSize(64 << 10)
	}},
	{"durable-put", "1 KiB overwrites, each durable before it counts; 16 clients by default in bench", func(c *Config) {
		c.Mix = Mix{Update: 100}
		c.Keys = KeyDist{Kind: KeysUniform}
		c.Values = FixedSize(1 << 10)
		c.Durable = true
	}},
	{"shard", "storage node: 1-8 MiB object shards put, read and deleted keeping the data at fill= (0.8) of capacity= (1GiB), so reclamation never stops", func(c *Config) {
		c.Mix = Mix{Read: 50, Insert: 25, Delete: 25}
		c.Keys = KeyDist{Kind: KeysUniform}
		c.Values = UniformSize{Min: 1 << 20, Max: 8 << 20}
		c.Capacity = ShardCapacityDefault
		c.Fill = ShardFillDefault
	}},
}

// Info describes a named workload for listings.
type Info struct {
	Name        string
	Description string
	Mix         Mix
	Keys        string // the key distribution, as a keys= term
	Values      string // the value sizes, as a values= term
}

// InfoHeader is the header row matching Info.String, tab-separated for a
// text/tabwriter.
const InfoHeader = "NAME\tMIX\tKEYS\tVALUES\tDESCRIPTION"

// String returns the info as one tab-separated table row under InfoHeader.
func (i Info) String() string {
	return strings.Join([]string{i.Name, i.Mix.String(), i.Keys, i.Values, i.Description}, "\t")
}

// Named lists the named workloads in a fixed order.
func Named() []Info {
	infos := make([]Info, len(named))
	for i, n := range named {
		c := NamedConfig(n.name)
		keys := c.Keys.String()
		if c.Mix.Total() == c.Mix.Insert {
			keys = "-" // inserts only: the key distribution is unused
		}
		infos[i] = Info{Name: n.name, Description: n.doc, Mix: c.Mix, Keys: keys, Values: c.Values.String()}
	}
	return infos
}

// NamedConfig returns the config of a named workload, or the zero Config if
// there is none by that name.
func NamedConfig(name string) Config {
	for _, n := range named {
		if n.name == name {
			c := DefaultConfig()
			c.Name = name
			n.set(&c)
			return c
		}
	}
	return Config{}
}

func namedList() string {
	names := make([]string, len(named))
	for i, n := range named {
		names[i] = n.name
	}
	return strings.Join(names, ", ")
}

// specTerms lists the terms a spec takes, for error messages.
const specTerms = "read, update, insert, scan, rmw, delete (proportions), keys, records, ops, values, fields, fieldlength, scanmin, scanmax, insertorder, pad, durable, capacity, fill"

// Parse parses a workload spec and builds the workload.
func Parse(spec string) (*Workload, error) {
	c, err := ParseConfig(spec)
	if err != nil {
		return nil, err
	}
	return New(c)
}

// ParseConfig parses a workload spec:
//
//	ycsb-a
//	ycsb-e,records=100000,values=4KiB
//	read=50,update=50,keys=zipf:0.99,records=1000000,values=16KiB
//
// A spec is a named workload optionally followed by terms, or terms alone
// (a custom workload, starting from YCSB's defaults with no operations).
// Proportion terms replace the whole mix: ycsb-a,read=90,update=10 is
// ycsb-a's keys and sizes with a 90/10 mix. Errors are one line naming the
// bad term and what is valid.
func ParseConfig(spec string) (Config, error) {
	errf := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("workload %q: %s", spec, fmt.Sprintf(format, args...))
	}
	s := strings.TrimSpace(spec)
	if s == "" {
		return errf("empty; write a name (%s) or terms such as read=50,update=50", namedList())
	}
	terms := strings.Split(s, ",")
	var c Config
	if first := strings.TrimSpace(terms[0]); !strings.Contains(first, "=") {
		c = NamedConfig(first)
		if c.Name == "" {
			return errf("unknown workload %q; named workloads: %s; or write terms such as read=50,update=50", first, namedList())
		}
		terms = terms[1:]
	} else {
		c = DefaultConfig()
		c.Mix = Mix{}
	}
	seen := map[string]bool{}
	mixSet := false
	var fields, fieldLength int64 = -1, -1
	valuesSet := false
	for _, raw := range terms {
		term := strings.TrimSpace(raw)
		key, val, ok := strings.Cut(term, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch {
		case term == "":
			return errf("empty term (two commas in a row or a trailing comma)")
		case !ok || key == "":
			return errf("term %q is not key=value; terms: %s", term, specTerms)
		case val == "":
			return errf("term %q has no value", term)
		case seen[key]:
			return errf("term %q given twice", key)
		}
		seen[key] = true
		switch key {
		case "read", "update", "insert", "scan", "rmw", "delete":
			v, err := strconv.ParseFloat(val, 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return errf("term %q: a proportion is a non-negative number, e.g. %s=50", term, key)
			}
			if !mixSet {
				c.Mix = Mix{}
				mixSet = true
			}
			for _, mt := range mixTerms {
				if mt.term == key {
					*mt.field(&c.Mix) = v
				}
			}
		case "keys":
			k, err := parseKeyDist(val)
			if err != nil {
				return errf("term %q: %v", term, err)
			}
			c.Keys = k
		case "records", "ops":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return errf("term %q: write a whole number, 0 or more, e.g. %s=100000", term, key)
			}
			if key == "records" {
				c.Records = n
			} else {
				c.Ops = n
			}
		case "values":
			v, err := ParseSizes(val)
			if err != nil {
				return errf("term %q: %v", term, err)
			}
			c.Values = v
			valuesSet = true
		case "fields":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 1 || n > 1<<20 {
				return errf("term %q: write a field count, 1 or more, e.g. fields=10", term)
			}
			fields = n
		case "fieldlength":
			n, err := engine.ParseSize(val)
			if err != nil || n > 1<<30 {
				return errf("term %q: write a size, e.g. fieldlength=100 or fieldlength=1KiB", term)
			}
			fieldLength = n
		case "scanmin", "scanmax":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return errf("term %q: write a key count, 1 or more, e.g. %s=100", term, key)
			}
			if key == "scanmin" {
				c.ScanMin = n
			} else {
				c.ScanMax = n
			}
		case "insertorder":
			switch val {
			case "hashed":
				c.Ordered = false
			case "ordered":
				c.Ordered = true
			default:
				return errf("term %q: write insertorder=hashed or insertorder=ordered", term)
			}
		case "pad":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > padMax {
				return errf("term %q: write a digit count from 1 to %d, e.g. pad=12", term, padMax)
			}
			c.Pad = n
		case "capacity":
			n, err := engine.ParseSize(val)
			if err != nil || n < 1<<20 {
				return errf("term %q: write a device size of at least 1MiB, e.g. capacity=1GiB", term)
			}
			c.Capacity = n
		case "fill":
			f, err := strconv.ParseFloat(val, 64)
			if err != nil || !(f > 0 && f < 1) {
				return errf("term %q: write the share of the capacity kept full, between 0 and 1, e.g. fill=0.8", term)
			}
			c.Fill = f
		case "durable":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return errf("term %q: write durable=true or durable=false", term)
			}
			c.Durable = b
		default:
			return errf("unknown term %q; terms: %s", key, specTerms)
		}
	}
	if fields >= 0 || fieldLength >= 0 {
		if valuesSet {
			return errf("give values= or fields=/fieldlength=, not both")
		}
		if fields < 0 {
			fields = FieldCountDefault
		}
		if fieldLength < 0 {
			fieldLength = FieldLengthDefault
		}
		if fields*fieldLength > math.MaxInt32 {
			return errf("fields × fieldlength is above 2GiB")
		}
		c.Values = FixedSize(fields * fieldLength)
	}
	if c.Capacity > 0 && c.Fill == 0 {
		c.Fill = ShardFillDefault
	}
	if c.Capacity > 0 && !seen["records"] && c.Values != nil && c.Fill > 0 && c.Fill < 1 {
		// Shard mode: as many shards as fill the device to fill=.
		c.Records = shardRecords(c.Capacity, c.Fill, c.Values)
	}
	if err := c.Validate(); err != nil {
		// Validate joins problems with newlines; a spec error is one line.
		return errf("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return c, nil
}

// keysSyntax is the keys= grammar, for error messages.
const keysSyntax = "keys=uniform, zipf[:θ], latest[:θ], hotspot[:DATA:OPS], sequential or exponential[:PERCENTILE:FRAC]"

func parseKeyDist(s string) (KeyDist, error) {
	parts := strings.Split(s, ":")
	nums := make([]float64, len(parts)-1)
	for i, p := range parts[1:] {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return KeyDist{}, fmt.Errorf("parameter %q is not a number; write %s", p, keysSyntax)
		}
		nums[i] = v
	}
	arity := func(allowed ...int) bool {
		for _, a := range allowed {
			if len(nums) == a {
				return true
			}
		}
		return false
	}
	var k KeyDist
	switch parts[0] {
	case "uniform", "sequential":
		if !arity(0) {
			return KeyDist{}, fmt.Errorf("%s takes no parameters; write %s", parts[0], keysSyntax)
		}
		k.Kind = KeysUniform
		if parts[0] == "sequential" {
			k.Kind = KeysSequential
		}
	case "zipf", "zipfian", "latest":
		if !arity(0, 1) {
			return KeyDist{}, fmt.Errorf("%s takes at most one parameter, θ; write %s", parts[0], keysSyntax)
		}
		k = KeyDist{Kind: KeysZipfian, Theta: ZipfianTheta}
		if parts[0] == "latest" {
			k.Kind = KeysLatest
		}
		if len(nums) == 1 {
			k.Theta = nums[0]
		}
		if !(k.Theta > 0 && k.Theta < 1) {
			return KeyDist{}, fmt.Errorf("θ must be between 0 and 1 (exclusive), e.g. %s:0.99", parts[0])
		}
	case "hotspot":
		if !arity(0, 2) {
			return KeyDist{}, fmt.Errorf("hotspot takes none or two parameters, hotspot:DATA:OPS, e.g. hotspot:0.2:0.8")
		}
		k = KeyDist{Kind: KeysHotspot, HotData: HotDataDefault, HotOps: HotOpsDefault}
		if len(nums) == 2 {
			k.HotData, k.HotOps = nums[0], nums[1]
		}
		if !(k.HotData >= 0 && k.HotData <= 1 && k.HotOps >= 0 && k.HotOps <= 1) {
			return KeyDist{}, fmt.Errorf("hotspot fractions must be between 0 and 1, e.g. hotspot:0.2:0.8")
		}
	case "exponential":
		if !arity(0, 2) {
			return KeyDist{}, fmt.Errorf("exponential takes none or two parameters, exponential:PERCENTILE:FRAC, e.g. exponential:95:0.8571428571")
		}
		k = KeyDist{Kind: KeysExponential, Percentile: PercentileDefault, Frac: FracDefault}
		if len(nums) == 2 {
			k.Percentile, k.Frac = nums[0], nums[1]
		}
		if !(k.Percentile > 0 && k.Percentile < 100 && k.Frac > 0) {
			return KeyDist{}, fmt.Errorf("exponential percentile must be between 0 and 100 (exclusive) and the fraction above 0")
		}
	default:
		return KeyDist{}, fmt.Errorf("unknown distribution %q; write %s", parts[0], keysSyntax)
	}
	return k, nil
}
