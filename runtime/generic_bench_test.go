package runtime

import "testing"

// digitsTrainSize is the number of training images of the digits experiment
// (90 % of 1797).
const digitsTrainSize = 1617

// BenchmarkGenericDigitsForward1 measures the generic engine's forward pass
// of one digits image, the inference latency that generated code is compared
// against.
func BenchmarkGenericDigitsForward1(b *testing.B) {
	g, x, _ := newDigits(b, 1)
	logits := make([]float32, 10)
	g.Forward(x, logits) // size the buffers
	b.ReportAllocs()
	for b.Loop() {
		g.Forward(x, logits)
	}
}

// BenchmarkGenericDigitsBackward1617 measures one full-batch training step's
// forward and backward pass (1617 random images), the unit of the digits
// recipe's 2000 steps.
func BenchmarkGenericDigitsBackward1617(b *testing.B) {
	g, x, labels := newDigits(b, digitsTrainSize)
	g.Backward(x, labels, 1) // size the buffers
	b.ReportAllocs()
	for b.Loop() {
		g.Backward(x, labels, 1)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/digitsTrainSize, "ns/sample")
}
