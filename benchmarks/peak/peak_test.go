package peak

import (
	"testing"
	"time"
)

// iterationsPerCall keeps one call of a kernel near 0.1–0.5 ms, long enough
// that call and goroutine overhead vanish, short enough for b.N to adapt.
const iterationsPerCall = 1 << 16

// TestKernelsCount checks each kernel's arithmetic and loop count: with
// a = b = 1 every lane of every accumulator counts the iterations.
func TestKernelsCount(t *testing.T) {
	ks := Kernels()
	if len(ks) == 0 {
		t.Skip("no FMA-peak kernel on this GOARCH/CPU/build tags")
	}
	for _, k := range ks {
		for _, n := range []int{0, 1, 7, 1000} {
			want := float32(n * k.FlopsPerIteration / 2)
			if got := k.Run(n, 1, 1); got != want {
				t.Errorf("%s: %d iterations summed to %g, want %g", k.Name, n, got, want)
			}
		}
		if got := k.Run(-3, 1, 1); got != 0 {
			t.Errorf("%s: negative iteration count summed to %g, want 0", k.Name, got)
		}
	}
}

// reportRates reports GFLOP/s over wall-clock time and, where the process's
// CPU time is known, GFLOP/cpu-s: FLOPs per second of CPU the process actually
// got. On a machine shared with other work the second stays near the
// per-core peak while the first falls (per-P: multiply it by the cores used).
func reportRates(b *testing.B, flops float64, cpuStart time.Duration, cpuOK bool) {
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpuEnd, ok := processCPUTime(); cpuOK && ok && cpuEnd > cpuStart {
		b.ReportMetric(flops/(cpuEnd-cpuStart).Seconds()/1e9, "GFLOP/cpu-s")
	}
}

// BenchmarkFMAPeak reports each kernel's GFLOP/s on one goroutine and on one
// goroutine per P (set the P count with -cpu).
func BenchmarkFMAPeak(b *testing.B) {
	ks := Kernels()
	if len(ks) == 0 {
		b.Skip("no FMA-peak kernel on this GOARCH/CPU/build tags")
	}
	for _, k := range ks {
		flopsPerCall := float64(iterationsPerCall * k.FlopsPerIteration)
		b.Run(k.Name+"/single", func(b *testing.B) {
			cpuStart, cpuOK := processCPUTime()
			var sink float32
			for range b.N {
				sink += k.Run(iterationsPerCall, 1e-3, 1e-3)
			}
			reportRates(b, flopsPerCall*float64(b.N), cpuStart, cpuOK)
			if sink < 0 {
				b.Fatal("impossible negative sum")
			}
		})
		b.Run(k.Name+"/per-P", func(b *testing.B) {
			cpuStart, cpuOK := processCPUTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k.Run(iterationsPerCall, 1e-3, 1e-3)
				}
			})
			reportRates(b, flopsPerCall*float64(b.N), cpuStart, cpuOK)
		})
	}
}
