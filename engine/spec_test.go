package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine"
)

var defs = []engine.OptionDef{
	{Name: "extent", Kind: engine.KindSize, Default: "1MiB", Doc: "extent size"},
	{Name: "sched", Kind: engine.KindEnum, Default: "coalesce", Choices: []string{"fifo", "coalesce"}},
	{Name: "direct", Kind: engine.KindBool, Default: "false"},
	{Name: "flush", Kind: engine.KindDuration, Default: "10ms"},
	{Name: "depth", Kind: engine.KindInt, Default: "32"},
	{Name: "path", Kind: engine.KindString, Default: ""},
}

func TestResolve(t *testing.T) {
	s, err := engine.ParseSpec("shardstore:extent=64KiB,sched=fifo,direct=true,flush=1s,depth=4,path=/dev/x")
	if err != nil {
		t.Fatal(err)
	}
	o, err := engine.Resolve(s, defs)
	if err != nil {
		t.Fatal(err)
	}
	if o.Size("extent") != 64<<10 || o.String("sched") != "fifo" || !o.Bool("direct") || o.Duration("flush") != time.Second || o.Int("depth") != 4 || o.String("path") != "/dev/x" {
		t.Fatalf("resolved options wrong: %v", o.Map())
	}
	if !o.IsSet("extent") {
		t.Errorf("IsSet(extent) = false")
	}
	d, _ := engine.Resolve(engine.Spec{Name: "shardstore"}, defs)
	if got, want := d.Spec().String(), "shardstore:extent=1MiB,sched=coalesce,direct=false,flush=10ms,depth=32,path="; got != want {
		t.Errorf("default spec = %q, want %q", got, want)
	}
	if d.IsSet("extent") {
		t.Errorf("IsSet(extent) = true for a default")
	}
}

func TestSpecErrors(t *testing.T) {
	cases := []struct{ spec, want string }{
		{"", "missing engine name"},
		{":a=1", "missing engine name"},
		{"shard store", "may hold only letters"},
		{"shardstore:", "nothing after ':'"},
		{"shardstore:extent", `option "extent" is not key=value`},
		{"shardstore:extent=", `option "extent" has no value`},
		{"shardstore:extent=1MiB,,sched=fifo", "empty option"},
		{"shardstore:extent=1MiB,extent=2MiB", `option "extent" given twice`},
		{"shardstore:extnet=1MiB", `unknown option "extnet"; valid options: extent=1MiB, sched=coalesce (fifo|coalesce), direct=false`},
		{"shardstore:extent=12XB", "option extent=12XB: not a size"},
		{"shardstore:extent=-1MiB", "negative size"},
		{"shardstore:extent=1.3B", "not a whole number"},
		{"shardstore:sched=lifo", "option sched=lifo: not one of fifo, coalesce"},
		{"shardstore:direct=yes", "not a boolean"},
		{"shardstore:flush=10", "not a duration"},
		{"shardstore:depth=x", "not an integer"},
	}
	for _, c := range cases {
		s, err := engine.ParseSpec(c.spec)
		if err == nil {
			_, err = engine.Resolve(s, defs)
		}
		if err == nil {
			t.Errorf("%q: no error, want %q", c.spec, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %q, want it to contain %q", c.spec, err, c.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error is more than one line: %q", c.spec, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	cases := map[string]int64{
		"0": 0, "4096": 4096, "4096B": 4096, "64KiB": 64 << 10, "1MiB": 1 << 20, "1.5MiB": 3 << 19,
		"2GiB": 2 << 30, "1TiB": 1 << 40, "1KB": 1000, "10MB": 10e6, "1gb": 1e9, "64 MiB": 64 << 20,
	}
	for in, want := range cases {
		got, err := engine.ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "1e6", "abc", "1XiB", "NaN", "+5", "inf"} {
		if _, err := engine.ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	for n, want := range map[int64]string{0: "0B", 1536: "1536B", 4096: "4KiB", 1 << 20: "1MiB", 3 << 30: "3GiB"} {
		if got := engine.FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
		if back, _ := engine.ParseSize(engine.FormatSize(n)); back != n {
			t.Errorf("FormatSize(%d) does not parse back", n)
		}
	}
}

func TestDrivers(t *testing.T) {
	table := engine.Drivers{{Name: "b"}, {Name: "a", Options: defs}}
	if _, _, err := table.Resolve("nope:x=1"); err == nil || err.Error() != `unknown engine "nope"; known engines: a, b` {
		t.Fatalf("unknown engine error = %v", err)
	}
	if _, _, err := table.Resolve("b:x=1"); err == nil || !strings.Contains(err.Error(), "it takes no options") {
		t.Fatalf("option on an engine without options: %v", err)
	}
	checked := engine.Drivers{{Name: "c", Options: defs, Check: func(o engine.Options) error {
		if o.Int("depth") > 10 {
			return errors.New("c: depth above 10")
		}
		return nil
	}}}
	if _, _, err := checked.Resolve("c:depth=11"); err == nil || err.Error() != "c: depth above 10" {
		t.Fatalf("Resolve did not run the driver's Check: %v", err)
	}
	if _, _, err := checked.Resolve("c:depth=9"); err != nil {
		t.Fatalf("Check rejected a valid value: %v", err)
	}
	d, o, err := table.Resolve("a:depth=7")
	if err != nil || d.Name != "a" || o.Int("depth") != 7 {
		t.Fatalf("Resolve(a:depth=7) = %v, %v, %v", d.Name, o.Map(), err)
	}
}

func TestCheckKeyAndValue(t *testing.T) {
	if engine.CheckKey([]byte("k")) != nil || engine.CheckKey(make([]byte, engine.KeyMax)) != nil {
		t.Fatal("valid keys rejected")
	}
	if engine.CheckKey(nil) == nil || engine.CheckKey(make([]byte, engine.KeyMax+1)) == nil {
		t.Fatal("invalid keys accepted")
	}
	if engine.CheckValue(make([]byte, 10), 10) != nil || engine.CheckValue(make([]byte, 11), 10) == nil {
		t.Fatal("CheckValue wrong at the boundary")
	}
}

func TestSplitSpecs(t *testing.T) {
	cases := map[string][]string{
		"shardstore,pebble,badger,bbolt":                 {"shardstore", "pebble", "badger", "bbolt"},
		"shardstore:extent=1MiB,sched=fifo,pebble":       {"shardstore:extent=1MiB,sched=fifo", "pebble"},
		"pebble:sync=true, badger:mode=vlog,sync=true ,": {"pebble:sync=true", "badger:mode=vlog,sync=true"},
		"": nil,
	}
	for in, want := range cases {
		got := engine.SplitSpecs(in)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("SplitSpecs(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOptionsWith: settings laid over options win; the options the spec
// set keep their values and stay set; the rest keep their defaults, unset;
// the observer stays; a bad setting is an error naming it.
func TestOptionsWith(t *testing.T) {
	s, _ := engine.ParseSpec("shardstore:extent=64KiB,depth=4")
	type obs struct{ engine.Observer }
	o0, err := engine.Resolve(s, defs)
	if err != nil {
		t.Fatal(err)
	}
	o := o0.WithObserver(obs{})
	v, err := o.With(engine.Setting{Key: "sched", Value: "fifo"}, engine.Setting{Key: "depth", Value: "8"})
	if err != nil {
		t.Fatal(err)
	}
	if v.String("sched") != "fifo" || v.Int("depth") != 8 || v.Size("extent") != 64<<10 || v.Duration("flush") != 10*time.Millisecond {
		t.Errorf("With: %v", v.Map())
	}
	if !v.IsSet("extent") || !v.IsSet("sched") || v.IsSet("flush") {
		t.Errorf("With: set extent %v sched %v flush %v, want true true false", v.IsSet("extent"), v.IsSet("sched"), v.IsSet("flush"))
	}
	if _, ok := v.Observer().(obs); !ok {
		t.Errorf("With dropped the observer: %v", v.Observer())
	}
	if o.String("sched") != "coalesce" {
		t.Errorf("With changed the options it was called on: sched=%s", o.String("sched"))
	}
	if _, err := o.With(engine.Setting{Key: "sched", Value: "lifo"}); err == nil || !strings.Contains(err.Error(), "sched=lifo") {
		t.Errorf("With(sched=lifo) = %v, want an error naming sched=lifo", err)
	}
}
