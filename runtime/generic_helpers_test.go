package runtime

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Helpers shared by the generic engine's tests.

// convSpec returns a conv2d layer spec.
func convSpec(filters, kh, kw, sh, sw int, p Padding) LayerSpec {
	return LayerSpec{Kind: Conv2D, Filters: filters, KernelH: kh, KernelW: kw, StrideH: sh, StrideW: sw, Padding: p,
		WeightInit: Init{Kind: InitNormal, Scale: 0.3}, BiasInit: Init{Kind: InitNormal, Scale: 0.1}}
}

// poolSpec returns a maxpool or avgpool layer spec.
func poolSpec(kind LayerKind, kh, kw, sh, sw int, p Padding) LayerSpec {
	return LayerSpec{Kind: kind, KernelH: kh, KernelW: kw, StrideH: sh, StrideW: sw, Padding: p}
}

// denseSpec returns a dense layer spec.
func denseSpec(units int) LayerSpec {
	return LayerSpec{Kind: Dense, Units: units,
		WeightInit: Init{Kind: InitNormal, Scale: 0.3}, BiasInit: Init{Kind: InitNormal, Scale: 0.1}}
}

// plainSpec returns a layer spec without parameters (relu, sigmoid, tanh,
// flatten, softmax).
func plainSpec(k LayerKind) LayerSpec { return LayerSpec{Kind: k} }

// digitsArch is the tutorial's network: conv 3×3×32 SAME → relu → maxpool 2
// s2 SAME → flatten → dense 300 → relu → dense 10 → softmax, on 8×8×1.
func digitsArch() Arch {
	normal := func(sigma float64) Init { return Init{Kind: InitNormal, Scale: sigma} }
	return Arch{
		Name:  "digits",
		Input: Shape{Height: 8, Width: 8, Channels: 1},
		Layers: []LayerSpec{
			{Kind: Conv2D, Name: "conv1", Filters: 32, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, Padding: Same,
				WeightInit: normal(1 / math.Sqrt(64)), BiasInit: normal(1 / math.Sqrt(64))},
			{Kind: ReLU, Name: "relu1"},
			{Kind: MaxPool, Name: "pool1", KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, Padding: Same},
			{Kind: Flatten, Name: "flatten1"},
			{Kind: Dense, Name: "dense1", Units: 300, WeightInit: normal(1 / math.Sqrt(512)), BiasInit: normal(1 / math.Sqrt(512))},
			{Kind: ReLU, Name: "relu2"},
			{Kind: Dense, Name: "dense2", Units: 10, WeightInit: normal(1 / math.Sqrt(300)), BiasInit: normal(1 / math.Sqrt(300))},
			{Kind: Softmax, Name: "softmax1"},
		},
	}
}

// mustGeneric builds a float32 engine or fails the test.
func mustGeneric(t testing.TB, arch Arch) *Generic {
	t.Helper()
	g, err := NewGeneric(arch)
	if err != nil {
		t.Fatalf("NewGeneric: %v", err)
	}
	return g
}

// mustGeneric64 builds a float64 engine or fails the test.
func mustGeneric64(t testing.TB, arch Arch) *Generic64 {
	t.Helper()
	g, err := NewGeneric64(arch)
	if err != nil {
		t.Fatalf("NewGeneric64: %v", err)
	}
	return g
}

// randomBatch returns n samples of the given size, uniform in [−1, 1), and n
// labels in [0, classes).
func randomBatch(r *rand.Rand, n int, in Shape, classes int) ([]float64, []int32) {
	x := make([]float64, n*in.Size())
	for i := range x {
		x[i] = 2*r.Float64() - 1
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(r.IntN(classes))
	}
	return x, labels
}

// toFloat32 rounds a float64 slice to float32.
func toFloat32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

// referenceLoss is the summed softmax cross-entropy of logits against labels,
// written independently of loss.go: log Σ e^z − z[label], with the maximum
// subtracted first.
func referenceLoss(logits []float64, labels []int32, classes int) float64 {
	total := 0.0
	for s, label := range labels {
		z := logits[s*classes : (s+1)*classes]
		m := math.Inf(-1)
		for _, v := range z {
			m = math.Max(m, v)
		}
		sum := 0.0
		for _, v := range z {
			sum += math.Exp(v - m)
		}
		total += m + math.Log(sum) - z[label]
	}
	return total
}
