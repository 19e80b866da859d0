package bench

import (
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore"
)

func TestConfigScaled(t *testing.T) {
	c := Config{Records: 5000, Values: "4KiB"}
	for spec, want := range map[string]string{
		"ycsb-a":                          "ycsb-a,records=5000,values=4KiB",
		"ycsb-c,records=7":                "ycsb-c,records=7,values=4KiB", // the spec's own wins
		"fill-64k":                        "fill-64k,values=4KiB",         // a fill loads no records
		"ycsb-b,values=100B":              "ycsb-b,values=100B,records=5000",
		"read=50,update=50":               "read=50,update=50,records=5000,values=4KiB",
		"ycsb-a,fieldlength=100":          "ycsb-a,fieldlength=100,records=5000",
		"ycsb-a,records=5000,values=4KiB": "ycsb-a,records=5000,values=4KiB", // idempotent
	} {
		got, err := c.Scaled(spec)
		if err != nil || got != want {
			t.Errorf("Scaled(%q) = %q, %v; want %q", spec, got, err, want)
		}
		p, err := newPlan(spec, c)
		if err != nil {
			t.Errorf("newPlan(%q): %v", spec, err)
			continue
		}
		if p.name != want {
			t.Errorf("plan of %q is named %q, want %q", spec, p.name, want)
		}
	}
	if got, _ := (&Config{}).Scaled("ycsb-a"); got != "ycsb-a" {
		t.Errorf("no override: Scaled = %q", got)
	}
	p, err := newPlan("ycsb-a", Config{Records: 1234})
	if err != nil || p.records != 1234 {
		t.Errorf("--records 1234: plan loads %d records (%v)", p.records, err)
	}
}

func TestConfigValidateScale(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{Records: -1}, "--records -1"},
		{Config{Values: "lots"}, `--values "lots"`},
	} {
		c := tc.c
		c.Engines, c.Workloads, c.Out = []string{"model"}, []string{"ycsb-a"}, "out"
		c.EnsureDefaults()
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.c, err, tc.want)
		}
	}
}

func TestLookupSuite(t *testing.T) {
	s, err := LookupSuite("standard")
	if err != nil || s.Records != 1_000_000 || s.Threads != 8 || len(s.Workloads) != 9 {
		t.Fatalf("standard suite: %+v, %v", s, err)
	}
	for _, w := range s.Workloads {
		c := Config{Records: s.Records}
		if _, err := newPlan(w, c); err != nil {
			t.Errorf("standard workload %s: %v", w, err)
		}
	}
	if _, err := LookupSuite("huge"); err == nil || !strings.Contains(err.Error(), "quick, standard") {
		t.Errorf("LookupSuite(huge) = %v, want the suites listed", err)
	}
}

// TestSuitesFitShardstoreDefaults: every suite's preloads fit shardstore
// on its defaults (a 4 GiB device), so `harness bench --suite NAME` starts
// on a fresh machine. The standard suite's out-of-cache case once loaded
// 3.9 GiB and was refused before anything ran.
func TestSuitesFitShardstoreDefaults(t *testing.T) {
	d, o, err := engine.Drivers{shardstore.Driver()}.Resolve("shardstore")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Suites {
		cfg := Config{Records: s.Records, Preload: true}
		var plans []*plan
		for _, w := range s.Workloads {
			p, err := newPlan(w, cfg)
			if err != nil {
				t.Fatalf("suite %s: workload %s: %v", s.Name, w, err)
			}
			plans = append(plans, p)
		}
		if err := checkFits([]resolvedEngine{{d, o, "shardstore"}}, plans, cfg); err != nil {
			t.Errorf("suite %s on shardstore's defaults: %v", s.Name, err)
		}
	}
}
