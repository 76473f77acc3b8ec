//go:build amd64 && !purego

package runtime

import (
	"fmt"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// isaRequirements lists the CPU features each assembly level needs (cpuid
// also checks that the OS saves the YMM/ZMM state).
var isaRequirements = [...][]cpuid.FeatureID{
	PureGo: nil,
	AVX2:   {cpuid.AVX, cpuid.AVX2, cpuid.FMA3},
	AVX512: {cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512DQ, cpuid.AVX512VL},
}

// isaSupport returns nil when this CPU supports isa, or an error naming the
// missing features.
func isaSupport(isa ISA) error {
	var missing []string
	for _, f := range isaRequirements[isa] {
		if !cpuid.CPU.Supports(f) {
			missing = append(missing, f.String())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("this CPU lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

// halfRateZMMCPU reports whether this CPU runs each 512-bit instruction as
// two 256-bit halves: AMD's family 19h, whose only AVX-512 cores are Zen 4.
func halfRateZMMCPU() bool {
	return cpuid.CPU.VendorID == cpuid.AMD && cpuid.CPU.Family == 0x19 && cpuid.CPU.Supports(cpuid.AVX512F)
}
