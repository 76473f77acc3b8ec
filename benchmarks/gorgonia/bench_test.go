package gorgonia

import (
	"fmt"
	"testing"
)

// newBenchNet builds a net for batch samples, loaded with the first batch
// training samples.
func newBenchNet(b *testing.B, batch int, train bool) *Net {
	b.Helper()
	data, _ := loadSplit(b)
	net, err := NewNet(NewParams(1), batch, train)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { net.Close() })
	if err := net.Load(data); err != nil {
		b.Fatal(err)
	}
	return net
}

// BenchmarkForward measures inference: one sample (latency, ns/op) and the
// full training set of 1617 in one batch (throughput, samples/s).
func BenchmarkForward(b *testing.B) {
	for _, batch := range []int{1, 1617} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			net := newBenchNet(b, batch, false)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := net.Forward(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkTrainStep measures one SGD step (forward, summed cross-entropy,
// backward, vanilla solver update) on a fixed batch of 1617, 256 and 32.
func BenchmarkTrainStep(b *testing.B) {
	for _, batch := range []int{1617, 256, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			net := newBenchNet(b, batch, true)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := net.TrainStep(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
