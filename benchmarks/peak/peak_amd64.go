//go:build amd64 && !purego

package peak

import "github.com/klauspost/cpuid/v2"

// accumulators is the number of independent FMA chains in each kernel; it
// must match the assembly.
const accumulators = 12

// fmaYMM is implemented in peak_amd64.s.
func fmaYMM(iterations int, a, b float32) float32

// fmaZMM is implemented in peak_amd64.s.
func fmaZMM(iterations int, a, b float32) float32

// Kernels returns the FMA-peak kernels this CPU can run, narrowest first.
func Kernels() []Kernel {
	var ks []Kernel
	// cpuid reports AVX and AVX-512 only when the OS also saves their state.
	if cpuid.CPU.Supports(cpuid.AVX, cpuid.FMA3) {
		ks = append(ks, Kernel{Name: "ymm", Requires: "AVX, FMA3", FlopsPerIteration: accumulators * 8 * 2, Run: fmaYMM})
	}
	if cpuid.CPU.Supports(cpuid.AVX512F) {
		ks = append(ks, Kernel{Name: "zmm", Requires: "AVX512F", FlopsPerIteration: accumulators * 16 * 2, Run: fmaZMM})
	}
	return ks
}
