package engine

import "fmt"

// Key and value limits of the contract.
const (
	// KeyMin and KeyMax bound the length of a key in bytes.
	KeyMin = 1
	KeyMax = 1024
	// ValueMaxMin is the largest value every engine must accept. Engines
	// that accept more say so through Limiter.
	ValueMaxMin = 16 << 20
)

// Limits are the sizes an engine accepts.
type Limits struct {
	KeyMax   int `json:"key_max"`
	ValueMax int `json:"value_max"`
}

// Limiter is implemented by engines that document their limits. An engine
// without it accepts keys up to KeyMax and values up to ValueMaxMin.
type Limiter interface {
	Limits() Limits
}

// LimitsOf returns e's limits, or the contract's minimum if e does not
// implement Limiter.
func LimitsOf(e Engine) Limits {
	if l, ok := e.(Limiter); ok {
		return l.Limits()
	}
	return Limits{KeyMax: KeyMax, ValueMax: ValueMaxMin}
}

// CheckKey returns an error wrapping ErrInvalidArgument if key's length is
// outside [KeyMin, KeyMax].
func CheckKey(key []byte) error {
	if len(key) < KeyMin || len(key) > KeyMax {
		return fmt.Errorf("key of %d bytes: keys are %d to %d bytes: %w", len(key), KeyMin, KeyMax, ErrInvalidArgument)
	}
	return nil
}

// CheckValue returns an error wrapping ErrInvalidArgument if value is longer
// than max bytes.
func CheckValue(value []byte, max int) error {
	if len(value) > max {
		return fmt.Errorf("value of %d bytes: the maximum is %d bytes: %w", len(value), max, ErrInvalidArgument)
	}
	return nil
}
