//go:build !race

package testengines

// Race reports whether the race detector is on: the randomized tests on
// shardstore run a tenth of their cases under it.
const Race = false
