package engine

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// An engine spec names an engine and sets some of its options:
//
//	shardstore
//	shardstore:extent=1MiB,sched=coalesce
//	pebble:memtable=64MiB,sync=true
//
// Values are typed by the engine's OptionDefs: sizes take B, KiB, MiB, GiB,
// TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000), durations take Go
// syntax (10ms, 1m30s), booleans take true/false/1/0, enums take one of the
// listed choices.

// Kind is the type of an option value.
type Kind int

// The option kinds.
const (
	KindString Kind = iota
	KindInt
	KindSize
	KindDuration
	KindBool
	KindEnum
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindInt:
		return "int"
	case KindSize:
		return "size"
	case KindDuration:
		return "duration"
	case KindBool:
		return "bool"
	case KindEnum:
		return "enum"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// OptionDef declares one option an engine accepts.
type OptionDef struct {
	Name    string
	Kind    Kind
	Default string   // the default, written as a user would type it
	Choices []string // the allowed values of a KindEnum option
	Doc     string   // one line: what it does and why the default
}

// Spec is a parsed engine spec: the engine's name and the options as typed,
// in order. It is not yet checked against the engine's OptionDefs; see
// Resolve.
type Spec struct {
	Name    string
	Options []Setting
}

// Setting is one key=value pair of a Spec.
type Setting struct {
	Key, Value string
}

// String returns the spec as it would be typed.
func (s Spec) String() string {
	if len(s.Options) == 0 {
		return s.Name
	}
	parts := make([]string, len(s.Options))
	for i, o := range s.Options {
		parts[i] = o.Key + "=" + o.Value
	}
	return s.Name + ":" + strings.Join(parts, ",")
}

// ParseSpec parses "name" or "name:key=value,key=value". It checks syntax
// only; Resolve checks the keys and values against an engine's options.
func ParseSpec(s string) (Spec, error) {
	name, rest, hasOpts := strings.Cut(strings.TrimSpace(s), ":")
	if name == "" {
		return Spec{}, fmt.Errorf("engine spec %q: missing engine name (write name or name:key=value,...)", s)
	}
	if !validName(name) {
		return Spec{}, fmt.Errorf("engine spec %q: engine name %q may hold only letters, digits, '-' and '_'", s, name)
	}
	spec := Spec{Name: name}
	if !hasOpts {
		return spec, nil
	}
	if rest == "" {
		return Spec{}, fmt.Errorf("engine spec %q: nothing after ':' (write %s or %s:key=value,...)", s, name, name)
	}
	seen := map[string]bool{}
	for _, term := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(term, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case term == "":
			return Spec{}, fmt.Errorf("engine spec %q: empty option (two commas in a row or a trailing comma)", s)
		case !ok || k == "":
			return Spec{}, fmt.Errorf("engine spec %q: option %q is not key=value", s, term)
		case v == "":
			return Spec{}, fmt.Errorf("engine spec %q: option %q has no value", s, k)
		case seen[k]:
			return Spec{}, fmt.Errorf("engine spec %q: option %q given twice", s, k)
		}
		seen[k] = true
		spec.Options = append(spec.Options, Setting{Key: k, Value: v})
	}
	return spec, nil
}

func validName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Options are an engine's resolved options: every declared option with its
// typed value, defaults filled in.
type Options struct {
	engine string
	defs   []OptionDef
	values map[string]any
	set    map[string]bool
	// observer is not an option of the spec: see WithObserver.
	observer Observer
}

// Resolve checks spec's options against defs and fills in defaults. An
// unknown key or a bad value gives one line that names it and lists the valid
// options with their defaults.
func Resolve(spec Spec, defs []OptionDef) (Options, error) {
	o := Options{engine: spec.Name, defs: defs, values: map[string]any{}, set: map[string]bool{}}
	for _, d := range defs {
		v, err := parseValue(d, d.Default)
		if err != nil {
			// A bad default is a bug in the engine's table.
			panic(fmt.Sprintf("engine %s: default of option %s: %v", spec.Name, d.Name, err))
		}
		o.values[d.Name] = v
	}
	for _, s := range spec.Options {
		d, ok := findDef(defs, s.Key)
		if !ok {
			if len(defs) == 0 {
				return Options{}, fmt.Errorf("engine %s: unknown option %q: it takes no options", spec.Name, s.Key)
			}
			return Options{}, fmt.Errorf("engine %s: unknown option %q; valid options: %s", spec.Name, s.Key, DescribeDefaults(defs))
		}
		v, err := parseValue(d, s.Value)
		if err != nil {
			return Options{}, fmt.Errorf("engine %s: option %s=%s: %v; valid options: %s", spec.Name, s.Key, s.Value, err, DescribeDefaults(defs))
		}
		o.values[d.Name] = v
		o.set[d.Name] = true
	}
	return o, nil
}

// With returns o with settings laid over it, resolved as if the spec had
// named them: options o's spec set keep their values unless a setting
// names them, the others take their defaults, and the observer stays.
func (o Options) With(settings ...Setting) (Options, error) {
	spec := Spec{Name: o.engine}
	over := map[string]bool{}
	for _, s := range settings {
		over[s.Key] = true
	}
	for _, d := range o.defs {
		if o.set[d.Name] && !over[d.Name] {
			spec.Options = append(spec.Options, Setting{Key: d.Name, Value: formatValue(d.Kind, o.values[d.Name])})
		}
	}
	spec.Options = append(spec.Options, settings...)
	n, err := Resolve(spec, o.defs)
	if err != nil {
		return Options{}, err
	}
	n.observer = o.observer
	return n, nil
}

// DescribeDefaults lists the options as "name=default" pairs, with the
// choices of enums, for error messages and listings.
func DescribeDefaults(defs []OptionDef) string {
	parts := make([]string, len(defs))
	for i, d := range defs {
		parts[i] = d.Name + "=" + d.Default
		if d.Kind == KindEnum {
			parts[i] += " (" + strings.Join(d.Choices, "|") + ")"
		}
	}
	return strings.Join(parts, ", ")
}

func findDef(defs []OptionDef, name string) (OptionDef, bool) {
	for _, d := range defs {
		if d.Name == name {
			return d, true
		}
	}
	return OptionDef{}, false
}

func parseValue(d OptionDef, s string) (any, error) {
	switch d.Kind {
	case KindString:
		return s, nil
	case KindInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not an integer")
		}
		return n, nil
	case KindSize:
		return ParseSize(s)
	case KindDuration:
		v, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("not a duration (write e.g. 10ms, 2s, 1m30s)")
		}
		if v < 0 {
			return nil, fmt.Errorf("negative duration")
		}
		return v, nil
	case KindBool:
		v, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("not a boolean (write true or false)")
		}
		return v, nil
	case KindEnum:
		for _, c := range d.Choices {
			if c == s {
				return s, nil
			}
		}
		return nil, fmt.Errorf("not one of %s", strings.Join(d.Choices, ", "))
	}
	return nil, fmt.Errorf("option kind %v unknown", d.Kind)
}

var sizeUnits = []struct {
	suffix string
	mult   float64
}{
	// Longest suffixes first so "KiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

// ParseSize parses a byte count such as 4096, 64KiB, 1.5MiB or 2GB.
func ParseSize(s string) (int64, error) {
	lower := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	num := lower
	for _, u := range sizeUnits {
		if strings.HasSuffix(lower, u.suffix) {
			mult, num = u.mult, strings.TrimSpace(strings.TrimSuffix(lower, u.suffix))
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" || strings.ContainsAny(num, "eEnN+") {
		return 0, fmt.Errorf("not a size (write e.g. 4096, 64KiB, 1MiB, 2GiB)")
	}
	v := f * mult
	if v < 0 {
		return 0, fmt.Errorf("negative size")
	}
	if v > math.MaxInt64/2 {
		return 0, fmt.Errorf("size too large")
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("size is not a whole number of bytes")
	}
	return int64(v), nil
}

// FormatSize writes n in the largest binary unit that divides it exactly:
// 1048576 is "1MiB", 1536 is "1536B".
func FormatSize(n int64) string {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

func (o Options) get(name string, kind Kind) any {
	d, ok := findDef(o.defs, name)
	if !ok || d.Kind != kind && !(kind == KindString && d.Kind == KindEnum) {
		panic(fmt.Sprintf("engine %s: option %s is not a declared %v option", o.engine, name, kind))
	}
	return o.values[name]
}

// Size returns a KindSize option in bytes.
func (o Options) Size(name string) int64 { return o.get(name, KindSize).(int64) }

// Int returns a KindInt option.
func (o Options) Int(name string) int64 { return o.get(name, KindInt).(int64) }

// Duration returns a KindDuration option.
func (o Options) Duration(name string) time.Duration {
	return o.get(name, KindDuration).(time.Duration)
}

// Bool returns a KindBool option.
func (o Options) Bool(name string) bool { return o.get(name, KindBool).(bool) }

// String returns a KindString or KindEnum option.
func (o Options) String(name string) string { return o.get(name, KindString).(string) }

// IsSet reports whether the spec set the option explicitly.
func (o Options) IsSet(name string) bool { return o.set[name] }

// Has reports whether the engine declares the option.
func (o Options) Has(name string) bool { _, ok := o.values[name]; return ok }

// Engine returns the engine name the options were resolved for.
func (o Options) Engine() string { return o.engine }

// Map returns every option's value as text, for reports.
func (o Options) Map() map[string]string {
	m := make(map[string]string, len(o.defs))
	for _, d := range o.defs {
		m[d.Name] = formatValue(d.Kind, o.values[d.Name])
	}
	return m
}

// Spec returns the full spec with every option, defaults included, in the
// engine's declared order: the string echoed into reports.
func (o Options) Spec() Spec {
	s := Spec{Name: o.engine}
	for _, d := range o.defs {
		s.Options = append(s.Options, Setting{Key: d.Name, Value: formatValue(d.Kind, o.values[d.Name])})
	}
	return s
}

func formatValue(k Kind, v any) string {
	switch k {
	case KindSize:
		return FormatSize(v.(int64))
	case KindDuration:
		return v.(time.Duration).String()
	default:
		return fmt.Sprint(v)
	}
}

// Driver describes an engine that the harness can open by name.
type Driver struct {
	Name    string
	Doc     string // one line
	Options []OptionDef
	// Check, if set, validates resolved options (ranges, combinations) so
	// that a bad value is reported before anything runs, not when the
	// engine first opens. Drivers.Resolve calls it.
	Check func(opts Options) error
	// Capacity, if set, is about how many bytes of keys and values a fresh
	// engine opened by Open with opts can hold, or an error if it can hold
	// none (a device too small for the engine's own structures), so that
	// a harness can refuse a preload that cannot fit before it runs. Nil:
	// bounded by the file system only. Not part of Check, because a
	// checker may open the engine otherwise (shardstore's checks run on a
	// small in-memory device with defaults of their own).
	Capacity func(opts Options) (int64, error)
	// Open opens the engine on dir (created if absent; an engine that
	// manages a raw device may take its path from an option instead).
	Open func(dir string, opts Options) (Engine, error)
	// Device, if set, says the engine manages a raw device rather than a
	// directory, and how it runs on a device its caller makes: a checker
	// runs it on an in-memory, crashable disk.Mem (block-level crash
	// states, injected IO faults). Given the resolved options it returns
	// the engine sized for a check (see OnDevice); an error if the options
	// cannot make one (a device too small for its extents). Nil: the
	// engine opens on a directory only.
	Device func(opts Options) (OnDevice, error)
	// Simulated, if set, reports whether opts run the engine on a
	// simulated device in virtual time (shardstore's device=hdd): a
	// harness then runs it inside a controlled execution of engine/conc
	// (-tags interleave), where its run is a function of its seed.
	Simulated func(opts Options) bool
	// Variants are settings a checker may lay over the user's spec for
	// one case, to reach states the spec's own configuration never
	// reaches: a small IO queue reaches back-pressure, another scheduling
	// policy runs its own paths (harness check --adaptive steers among
	// them). Each must change how the engine works, never what a correct
	// engine answers, and must not change the value-size layout a check
	// generates for (Device's extent and chunk sizes). A variant that
	// sets an option the user's spec set is not used: the user's choice
	// stands.
	Variants [][]Setting
}

// OnDevice is an engine ready to run on a device its caller makes.
type OnDevice struct {
	// Spec spells out the effective options, check defaults included; it
	// resolves back to the same OnDevice, so a result or trace that
	// records it replays on the same engine.
	Spec Spec
	// DeviceBytes and SectorBytes size the device to make.
	DeviceBytes int64
	SectorBytes int
	// Open opens the engine on dev, which it must not close: the caller
	// reopens it, crashes it and closes it. Opens of the same device given
	// the same calls do the same IO (seeded randomness, no wall-clock
	// cadence unless an option asks for one): checkers replay and shrink.
	Open func(dev disk.Device) (Engine, error)
	// The engine's own boundaries, which a generator's value sizes
	// cluster around (±1), and the largest value worth trying.
	PageBytes, ChunkBytes, ExtentBytes, ValueBytesMax int
	// RoomBytes, if set, is the engine's promise about a full device:
	// while it holds fewer bytes of keys and values than this, it never
	// refuses a write with ErrNoSpace (it reclaims dead space first). A
	// checker holds it to that.
	RoomBytes int64
}

// Drivers is a table of engines, looked up by name.
type Drivers []Driver

// Names returns the engine names in table order.
func (t Drivers) Names() []string {
	names := make([]string, len(t))
	for i, d := range t {
		names[i] = d.Name
	}
	return names
}

// Lookup finds the driver called name.
func (t Drivers) Lookup(name string) (Driver, error) {
	for _, d := range t {
		if d.Name == name {
			return d, nil
		}
	}
	names := t.Names()
	sort.Strings(names)
	return Driver{}, fmt.Errorf("unknown engine %q; known engines: %s", name, strings.Join(names, ", "))
}

// Resolve parses spec and resolves its options against the named driver.
func (t Drivers) Resolve(spec string) (Driver, Options, error) {
	s, err := ParseSpec(spec)
	if err != nil {
		return Driver{}, Options{}, err
	}
	d, err := t.Lookup(s.Name)
	if err != nil {
		return Driver{}, Options{}, err
	}
	o, err := Resolve(s, d.Options)
	if err != nil {
		return Driver{}, Options{}, err
	}
	if d.Check != nil {
		if err := d.Check(o); err != nil {
			return Driver{}, Options{}, err
		}
	}
	return d, o, nil
}

// SplitSpecs splits a comma-separated list of specs in which each spec may
// carry its own comma-separated options: a key=value term (no ':' before its
// '=') belongs to the spec before it. "shardstore:extent=1MiB,sched=fifo,pebble"
// is two specs, "shardstore:extent=1MiB,sched=fifo" and "pebble"; the
// workload list "ycsb-a,records=1000,keys=zipf:0.9,ycsb-c" is "ycsb-a,
// records=1000,keys=zipf:0.9" and "ycsb-c".
func SplitSpecs(list string) []string {
	var out []string
	for _, term := range strings.Split(list, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		before, _, isKV := strings.Cut(term, "=")
		if len(out) > 0 && isKV && !strings.Contains(before, ":") {
			out[len(out)-1] += "," + term
			continue
		}
		out = append(out, term)
	}
	return out
}
