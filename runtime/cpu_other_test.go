//go:build !amd64 || purego

package runtime

import (
	"slices"
	"testing"
)

func TestOnlyPureGo(t *testing.T) {
	if got := AvailableISAs(); !slices.Equal(got, []ISA{PureGo}) {
		t.Errorf("AvailableISAs() = %v; want [purego] in a build without assembly", got)
	}
}
