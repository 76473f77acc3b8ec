//go:build amd64 && !purego

package runtime

import (
	"slices"
	"testing"

	"github.com/klauspost/cpuid/v2"
)

func TestDetectionMatchesCPUID(t *testing.T) {
	want := []ISA{PureGo}
	if cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3) {
		want = append(want, AVX2)
	}
	if cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512DQ, cpuid.AVX512VL) {
		want = append(want, AVX512)
	}
	if got := AvailableISAs(); !slices.Equal(got, want) {
		t.Errorf("AvailableISAs() = %v; want %v (cpuid: %s)", got, want, cpuid.CPU.BrandName)
	}
}
