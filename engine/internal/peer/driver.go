package peer

import (
	"math"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// Options are an adapter's options: zero fields mean documented defaults,
// and Validate reports every problem on one line.
type Options interface {
	Validate() error
}

// Driver completes d (name, doc, option definitions) with Check and Open:
// decode maps resolved spec options onto the adapter's Options, and open
// opens the adapter with them. Both validate decode's result before open
// fills in defaults, so an explicit 0 is reported rather than silently
// replaced by the default.
func Driver[O Options, E engine.Engine](d engine.Driver, decode func(engine.Options) O, open func(dir string, o O) (E, error)) engine.Driver {
	d.Check = func(opts engine.Options) error { return decode(opts).Validate() }
	d.Open = func(dir string, opts engine.Options) (engine.Engine, error) {
		o := decode(opts)
		if err := o.Validate(); err != nil {
			return nil, err
		}
		e, err := open(dir, o)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
	return d
}

// Int narrows a spec integer to an int. One beyond an int32 (and so beyond
// every limit an adapter accepts) is clamped there; one that fits is kept
// exactly, so that Validate reports the figure the user typed.
func Int(n int64) int {
	if int64(int(n)) == n {
		return int(n)
	}
	return int(max(min(n, math.MaxInt32), math.MinInt32))
}
