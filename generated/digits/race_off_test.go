//go:build !race

package digits_test

// raceEnabled is whether the race detector is on (see race_on_test.go).
const raceEnabled = false
