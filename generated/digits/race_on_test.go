//go:build race

package digits_test

// raceEnabled is whether the race detector is on: the cross-path checks of
// non-finite values, which start no goroutines of their own, then run on
// the digits network only, so that the -race run stays short.
const raceEnabled = true
