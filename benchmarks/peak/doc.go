// Package peak measures the machine's fp32 fused-multiply-add peak, the
// ceiling against which cnngen's benchmarks report FLOP/s as a fraction.
//
// Each kernel is a Go-assembly loop of independent VFMADD231PS instructions,
// one per accumulator register: 12 accumulators cover the FMA latency (4
// cycles) times the FMA pipes per core (2) with room to spare, so the loop is
// bound by FMA throughput alone. The YMM kernel needs AVX and FMA3, the ZMM
// kernel AVX512F; both are checked with github.com/klauspost/cpuid/v2 before
// they run. Under GOARCH other than amd64, or with the purego build tag, there
// are no kernels and the benchmarks skip.
//
// Run:
//
//	go test -run xxx -bench . -cpu 1,2 ./benchmarks/peak/
//
// BenchmarkFMAPeak reports GFLOP/s (one FMA is two FLOPs) for one goroutine
// and for one goroutine per P (b.RunParallel, so -cpu sets how many).
package peak

// Kernel is one FMA-peak loop.
type Kernel struct {
	// Name says the register width, e.g. "ymm" or "zmm".
	Name string
	// Requires names the CPU features the kernel needs, as cpuid spells them.
	Requires string
	// FlopsPerIteration is the FLOPs one loop iteration performs:
	// accumulators × lanes × 2.
	FlopsPerIteration int
	// Run performs iterations loop iterations of acc += a·b on every lane of
	// every accumulator, starting from zero, and returns the sum of all
	// accumulator lanes (so a = b = 1 returns iterations×accumulators×lanes
	// while that is below 2²⁴).
	Run func(iterations int, a, b float32) float32
}
