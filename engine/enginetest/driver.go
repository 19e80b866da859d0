package enginetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// DriverConfig describes an engine's harness entry for RunDriver.
type DriverConfig struct {
	Driver engine.Driver
	// Testdata is the datadriven file of cases (see RunDriver).
	Testdata string
	// Decode maps resolved spec options onto the adapter's Options (its
	// optionsFrom), for the options and defaults commands. Nil: those
	// commands fail the test.
	Decode func(engine.Options) any
	// Defaults is what Decode must give for the driver's defaults: the
	// adapter's DefaultOptions().
	Defaults any
	// Machine, if set, rewrites every output before it is compared, for a
	// default that depends on the machine (shardstore's cache, a share of
	// its memory), so the file holds a name for it, not this machine's
	// figure.
	Machine func(string) string
}

// RunDriver checks an engine's driver (engine.Driver) against the cases
// of a datadriven file (github.com/cockroachdb/datadriven; regenerate the
// expected output with -rewrite and read the diff). Each case's input is a
// spec, and its output:
//
//	resolve   the spec as Resolve echoes it, or the one-line error of
//	          Resolve or Check ("error: ...")
//	open      "ok" after a Put, a Get and a Close through Driver.Open, or
//	          the one-line error of Resolve, Check or Open
//	options   Decode of the resolved options
//	defaults  (no input) the echoed default spec, and whether Decode of it
//	          is Defaults
//
// An error of more than one line fails the test: the harness prints a
// driver's errors as one line.
func RunDriver(t *testing.T, cfg DriverConfig) {
	drivers := engine.Drivers{cfg.Driver}
	datadriven.RunTest(t, cfg.Testdata, func(t *testing.T, d *datadriven.TestData) string {
		out := runDriverCase(t, cfg, drivers, d)
		if cfg.Machine != nil {
			out = cfg.Machine(out)
		}
		return out
	})
}

// runDriverCase is one case of RunDriver, before Machine.
func runDriverCase(t *testing.T, cfg DriverConfig, drivers engine.Drivers, d *datadriven.TestData) string {
	spec := strings.TrimSpace(d.Input)
	failed := func(err error) string {
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %s: error of more than one line: %q", d.Pos, spec, err)
		}
		return "error: " + err.Error() + "\n"
	}
	switch d.Cmd {
	case "defaults":
		_, opts, err := drivers.Resolve(cfg.Driver.Name)
		if err != nil {
			return failed(err)
		}
		same := "DefaultOptions: same"
		if got := cfg.Decode(opts); !reflect.DeepEqual(got, cfg.Defaults) {
			same = fmt.Sprintf("DefaultOptions: %+v\ndecoded: %+v", cfg.Defaults, got)
		}
		return opts.Spec().String() + "\n" + same + "\n"
	case "resolve", "open", "options":
		drv, opts, err := drivers.Resolve(spec)
		if err == nil && drv.Check != nil {
			err = drv.Check(opts)
		}
		if err != nil {
			return failed(err)
		}
		switch d.Cmd {
		case "resolve":
			return opts.Spec().String() + "\n"
		case "options":
			return fmt.Sprintf("%+v\n", cfg.Decode(opts))
		}
		if err := openPutGetClose(t, drv, opts); err != nil {
			return failed(err)
		}
		return "ok\n"
	}
	d.Fatalf(t, "unknown command %q (resolve, open, options, defaults)", d.Cmd)
	return ""
}

// openPutGetClose opens the engine through its driver, puts and gets a
// key, and closes it.
func openPutGetClose(t *testing.T, d engine.Driver, opts engine.Options) error {
	e, err := d.Open(t.TempDir(), opts)
	if err != nil {
		return err
	}
	ctx := t.Context()
	if err := e.Put(ctx, []byte("k"), []byte("v")); err != nil {
		e.Close()
		return err
	}
	if got, err := e.Get(ctx, []byte("k")); err != nil || string(got) != "v" {
		e.Close()
		return fmt.Errorf("get = %q, %v; want %q", got, err, "v")
	}
	return e.Close()
}
