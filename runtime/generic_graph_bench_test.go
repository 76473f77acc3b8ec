package runtime

import (
	"math/rand/v2"
	"testing"
)

// mobileNetV1Arch is MLPerf Tiny's visual wake words model, MobileNetV1 with
// width 0.25 on 96×96×3: a stride-2 conv, then 13 depthwise-separable blocks
// (depthwise 3×3, batch norm, relu6, pointwise 1×1, batch norm, relu6),
// global average pooling and a 2-class dense layer.
func mobileNetV1Arch() Arch {
	he := Init{Kind: InitNormal, Scale: 0.1}
	conv := func(filters, k, stride, groups int) LayerSpec {
		return LayerSpec{Kind: Conv2D, Filters: filters, KernelH: k, KernelW: k, StrideH: stride, StrideW: stride,
			Padding: Same, Groups: groups, NoBias: true, WeightInit: he}
	}
	layers := []LayerSpec{conv(8, 3, 2, 1), batchNormSpec(), plainSpec(ReLU6)}
	channels := 8
	for _, block := range []struct{ filters, stride int }{
		{16, 1}, {32, 2}, {32, 1}, {64, 2}, {64, 1}, {128, 2},
		{128, 1}, {128, 1}, {128, 1}, {128, 1}, {128, 1}, {256, 2}, {256, 1},
	} {
		layers = append(layers, conv(channels, 3, block.stride, channels), batchNormSpec(), plainSpec(ReLU6),
			conv(block.filters, 1, 1, 1), batchNormSpec(), plainSpec(ReLU6))
		channels = block.filters
	}
	layers = append(layers, LayerSpec{Kind: GlobalAvgPool}, LayerSpec{Kind: Dense, Units: 2, WeightInit: he}, plainSpec(Softmax))
	return Arch{Name: "mobilenet_vww", Input: Shape{Height: 96, Width: 96, Channels: 3}, Layers: layers}
}

// BenchmarkGenericMobileNetBackward8 measures a training step of the
// generic engine on MobileNetV1 0.25 with a batch of 8: the cost of using it
// as the oracle of the deployed models.
func BenchmarkGenericMobileNetBackward8(b *testing.B) {
	const n = 8
	g, err := NewGeneric(mobileNetV1Arch())
	if err != nil {
		b.Fatal(err)
	}
	InitParams(g.Params(), 1)
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, n*g.InputShape().Size())
	for i := range x {
		x[i] = r.Float32()
	}
	labels := make([]int32, n)
	g.Backward(x, labels, 1)
	b.ReportAllocs()
	for b.Loop() {
		g.Backward(x, labels, 1)
	}
}
