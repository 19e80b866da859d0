package enginetest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// DriverConfig describes an engine's harness entry for RunDriver.
type DriverConfig struct {
	Driver engine.Driver
	// DefaultSpec is how the driver's defaults echo ("pebble:sync=false,...");
	// empty: not checked.
	DefaultSpec string
	// Decode maps resolved spec options onto the adapter's Options (its
	// optionsFrom); with Defaults and Maps it checks the mapping. Nil: not
	// checked.
	Decode func(engine.Options) any
	// Defaults is what Decode must give for the driver's defaults: the
	// adapter's DefaultOptions().
	Defaults any
	// Maps lists specs and the options Decode must give for them.
	Maps []SpecOptions
	// Spec is a small configuration RunDriver opens through the driver:
	// a Put, a Get and a Close.
	Spec string
	// Bad lists specs the driver must refuse, at Resolve, Check or Open,
	// each with a fragment of its one-line error.
	Bad []SpecError
}

// SpecOptions is a spec and the options it resolves to.
type SpecOptions struct {
	Spec string
	Want any
}

// SpecError is a bad spec and a fragment of the error it must give.
type SpecError struct {
	Spec string
	Want string
}

// RunDriver checks an engine's driver as subtests of t.
func RunDriver(t *testing.T, cfg DriverConfig) {
	drivers := engine.Drivers{cfg.Driver}
	t.Run("Defaults", func(t *testing.T) {
		_, opts, err := drivers.Resolve(cfg.Driver.Name)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.DefaultSpec != "" && opts.Spec().String() != cfg.DefaultSpec {
			t.Fatalf("spec = %s, want %s", opts.Spec(), cfg.DefaultSpec)
		}
		if cfg.Decode != nil {
			if got := cfg.Decode(opts); !reflect.DeepEqual(got, cfg.Defaults) {
				t.Fatalf("driver defaults = %+v, want DefaultOptions() = %+v", got, cfg.Defaults)
			}
		}
	})
	t.Run("Maps", func(t *testing.T) {
		for _, m := range cfg.Maps {
			_, opts, err := drivers.Resolve(m.Spec)
			if err != nil {
				t.Fatalf("%s: %v", m.Spec, err)
			}
			if got := cfg.Decode(opts); !reflect.DeepEqual(got, m.Want) {
				t.Errorf("%s: options = %+v, want %+v", m.Spec, got, m.Want)
			}
		}
	})
	t.Run("Opens", func(t *testing.T) {
		if cfg.Spec == "" {
			t.Logf("no Spec; nothing to open")
			return
		}
		d, opts, err := drivers.Resolve(cfg.Spec)
		if err != nil {
			t.Fatal(err)
		}
		e, err := d.Open(t.TempDir(), opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		if err := e.Put(ctx, []byte("k"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if got, err := e.Get(ctx, []byte("k")); err != nil || string(got) != "v" {
			t.Fatalf("get = %q, %v", got, err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range cfg.Bad {
		t.Run("Bad/"+tc.Spec, func(t *testing.T) {
			d, opts, err := drivers.Resolve(tc.Spec)
			if err == nil && d.Check != nil {
				err = d.Check(opts)
			}
			if err == nil {
				var e engine.Engine
				e, err = d.Open(t.TempDir(), opts)
				if err == nil {
					e.Close()
					t.Fatalf("%s opened", tc.Spec)
				}
			}
			if msg := err.Error(); !strings.Contains(msg, tc.Want) || strings.Contains(msg, "\n") {
				t.Fatalf("error = %q, want one line containing %q", msg, tc.Want)
			}
		})
	}
}
