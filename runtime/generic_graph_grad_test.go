package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Gradient checks of the graph layers, by central differences in float64 as
// in generic_grad_test.go, but of the training-mode loss: the loss Backward
// (or BackwardSquaredError) returns, which normalises batch norm with the
// batch's statistics and drops with the masks of a fixed (seed, step). The
// running statistics that each call updates do not enter that loss.
//
// Gradients w.r.t. a layer's input are checked through the parameters of the
// layers before it (a conv or dense weight's gradient is Σ input·dy), so every
// tested layer has a layer with parameters before it, and the branches of
// add and concat each hold one.

// graphGradCase is a network whose training-mode gradients are checked.
type graphGradCase struct {
	name   string
	input  Shape
	layers []LayerSpec
}

// grouped returns a conv2d spec with groups (and no bias when noBias).
func grouped(filters, kh, kw, stride, groups int, p Padding, noBias bool) LayerSpec {
	s := convSpec(filters, kh, kw, stride, stride, p)
	s.Groups, s.NoBias = groups, noBias
	return s
}

// batchNormSpec returns a batchnorm spec with PyTorch's defaults.
func batchNormSpec() LayerSpec { return LayerSpec{Kind: BatchNorm, Momentum: 0.1, Epsilon: 1e-5} }

var graphGradCases = []graphGradCase{
	{"depthwise conv, batchnorm, relu6, grouped conv with 3+3 channels and 5+5 filters, globalavgpool",
		Shape{Height: 5, Width: 5, Channels: 6},
		[]LayerSpec{grouped(6, 3, 3, 1, 6, Same, true), batchNormSpec(), plainSpec(ReLU6),
			grouped(10, 3, 3, 2, 2, Same, false), batchNormSpec(), {Kind: LeakyReLU, Alpha: 0.1},
			{Kind: GlobalAvgPool}, denseSpec(3), plainSpec(Softmax)}},
	{"depth multiplier 3 on 3 channels, stride 2 valid, then 1x1 conv with 3 groups",
		Shape{Height: 6, Width: 5, Channels: 3},
		[]LayerSpec{grouped(9, 3, 2, 2, 3, Valid, false), plainSpec(Tanh), grouped(6, 1, 1, 1, 3, Valid, true),
			batchNormSpec(), plainSpec(Flatten), denseSpec(3), plainSpec(Softmax)}},
	{"residual block: fan-out into conv and add",
		Shape{Height: 4, Width: 4, Channels: 2},
		[]LayerSpec{
			named(grouped(3, 3, 3, 1, 1, Same, true), "stem"), named(batchNormSpec(), "bn0"), named(plainSpec(ReLU), "r0"),
			named(convSpec(3, 3, 3, 1, 1, Same), "c1"), named(batchNormSpec(), "bn1"), named(plainSpec(ReLU), "r1"),
			named(convSpec(3, 3, 3, 1, 1, Same), "c2"), named(batchNormSpec(), "bn2"),
			named(LayerSpec{Kind: Add}, "sum", "bn2", "r0"), named(plainSpec(ReLU), "r2"),
			named(LayerSpec{Kind: GlobalAvgPool}, "gap"), named(denseSpec(3), "fc"), named(plainSpec(Softmax), "out")}},
	{"inception-like concat of three branches, one of them the shared conv itself",
		Shape{Height: 5, Width: 4, Channels: 1},
		[]LayerSpec{
			named(convSpec(2, 3, 3, 1, 1, Same), "c0"),
			named(convSpec(2, 1, 1, 1, 1, Valid), "a", "c0"),
			named(convSpec(3, 3, 3, 1, 1, Same), "b", "c0"),
			named(LayerSpec{Kind: Concat}, "cat", "b", "c0", "a"),
			{Kind: LeakyReLU, Alpha: 0.2}, poolSpec(MaxPool, 2, 2, 2, 2, Same), plainSpec(Flatten),
			{Kind: Dropout, Rate: 0.4}, denseSpec(3), plainSpec(Softmax)}},
	{"add of one tensor with itself and of the network input",
		Shape{Height: 3, Width: 3, Channels: 2},
		[]LayerSpec{
			named(convSpec(2, 2, 2, 1, 1, Same), "c"), named(plainSpec(Sigmoid), "s"),
			named(LayerSpec{Kind: Add}, "twice", "s", "s", "input"),
			named(convSpec(2, 3, 3, 1, 1, Same), "d", "input"),
			named(LayerSpec{Kind: Add}, "both", "twice", "d"),
			named(denseSpec(4), "fc"), named(plainSpec(Softmax), "out")}},
	{"dense on a spatial input without bias, batchnorm over dense units, dropout",
		Shape{Height: 2, Width: 3, Channels: 2},
		[]LayerSpec{{Kind: Dense, Units: 5, NoBias: true, WeightInit: Init{Kind: InitNormal, Scale: 0.3}},
			batchNormSpec(), {Kind: Dropout, Rate: 0.3}, plainSpec(Tanh), denseSpec(4), plainSpec(Softmax)}},
}

// regressionGradCases end without softmax: their loss is the squared error.
var regressionGradCases = []graphGradCase{
	{"autoencoder: dense, batchnorm, leaky_relu, dropout, dense to the input size",
		Shape{Height: 1, Width: 1, Channels: 6},
		[]LayerSpec{denseSpec(4), batchNormSpec(), {Kind: LeakyReLU, Alpha: 0.01}, {Kind: Dropout, Rate: 0.25},
			denseSpec(3), plainSpec(ReLU6), denseSpec(6)}},
	{"conv regression head ending in a conv",
		Shape{Height: 4, Width: 4, Channels: 2},
		[]LayerSpec{grouped(4, 3, 3, 1, 2, Same, false), batchNormSpec(), plainSpec(ReLU), convSpec(1, 3, 3, 2, 2, Same)}},
}

func TestGenericGraphGradients(t *testing.T) {
	for i, tc := range graphGradCases {
		for _, n := range []int{1, 3} {
			if n == 1 && tc.layers[0].Kind == Dense {
				continue // batch norm over one value per channel has no gradient
			}
			t.Run(fmt.Sprintf("%s/n=%d", tc.name, n), func(t *testing.T) {
				checkTrainingGradients(t, Arch{Name: "grad", Input: tc.input, Layers: tc.layers}, n, gradScale, uint64(i+1), false)
			})
		}
	}
	for i, tc := range regressionGradCases {
		t.Run(tc.name, func(t *testing.T) {
			checkTrainingGradients(t, Arch{Name: "grad", Input: tc.input, Layers: tc.layers}, 3, gradScale, uint64(i+100), true)
		})
	}
}

// checkTrainingGradients compares the gradients of Backward (or, for
// squared, BackwardSquaredError) with central differences of the loss it
// returns, at a random point of arch.
func checkTrainingGradients(t *testing.T, arch Arch, n int, scale float64, seed uint64, squared bool) {
	t.Helper()
	g := mustGeneric64(t, arch)
	InitParams64(g.Params(), seed)
	g.SetDropoutStep(seed, 3)
	r := rand.New(rand.NewPCG(seed, 7))
	x, labels := randomBatch(r, n, arch.Input, g.Classes())
	targets := make([]float64, n*g.Classes())
	for i := range targets {
		targets[i] = r.NormFloat64()
	}
	backward := func() float64 {
		if squared {
			return g.BackwardSquaredError(x, targets, scale)
		}
		loss, _ := g.Backward(x, labels, scale)
		return loss
	}

	backward()
	analytic := make([][]float64, len(g.Params()))
	for i, p := range g.Params() {
		analytic[i] = append([]float64(nil), p.Grad...)
	}
	checked, failed := 0, 0
	for i, p := range g.Params() {
		for j := range p.Value {
			v := p.Value[j]
			p.Value[j] = v + gradStep
			up := backward()
			p.Value[j] = v - gradStep
			down := backward()
			p.Value[j] = v
			numeric := scale * (up - down) / (2 * gradStep)
			a := analytic[i][j]
			checked++
			if math.Abs(a-numeric) > gradRelTol*math.Max(math.Abs(a), math.Abs(numeric))+gradAbsTol {
				failed++
				if failed <= 10 {
					t.Errorf("%s[%d]: analytic %.10g, numeric %.10g", p.Name, j, a, numeric)
				}
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d gradient values differ", failed, checked)
	}
	// Every parameter must get a gradient: a zero tensor would mean a
	// branch the backward pass never reached, which the differences would
	// confirm without failing.
	for i, p := range g.Params() {
		nonzero := false
		for _, v := range analytic[i] {
			nonzero = nonzero || v != 0
		}
		if !nonzero && !(n == 1 && p.Layer == "bn0") {
			t.Errorf("%s: gradient all zero", p.Name)
		}
	}
}

// TestGenericGraphFloat32MatchesFloat64 checks that the two precisions of the
// engine agree on the graph cases in training mode (the same dropout masks,
// batch statistics and running-statistic updates) and in evaluation mode:
// losses within 1e-5 relative, gradients within 1e-4 of each tensor's
// largest plus 1e-6 of the network's largest, outputs and running statistics within 1e-5.
func TestGenericGraphFloat32MatchesFloat64(t *testing.T) {
	cases := append(slices.Clone(graphGradCases), regressionGradCases...)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const n = 4
			arch := Arch{Input: tc.input, Layers: tc.layers}
			g, g64 := mustGeneric(t, arch), mustGeneric64(t, arch)
			InitParams(g.Params(), uint64(i+1))
			if err := g64.CopyParams(g.Params()); err != nil {
				t.Fatal(err)
			}
			g.SetDropoutStep(7, 11)
			g64.SetDropoutStep(7, 11)
			r := rand.New(rand.NewPCG(uint64(i), 3))
			x64, labels := randomBatch(r, n, arch.Input, g.Classes())
			x := toFloat32(x64)
			var loss, loss64 float64
			if tc.layers[len(tc.layers)-1].Kind == Softmax {
				loss, _ = g.Backward(x, labels, 0.5)
				loss64, _ = g64.Backward(x64, labels, 0.5)
			} else {
				targets := toFloat32(x64[:n*g.Classes()])
				loss = g.BackwardSquaredError(x, targets, 0.5)
				loss64 = g64.BackwardSquaredError(x64, x64[:n*g.Classes()], 0.5)
			}
			if math.Abs(loss-loss64) > 1e-5*math.Max(1, loss64) {
				t.Errorf("float32 loss %v, float64 %v", loss, loss64)
			}
			// A bias before batch norm has a zero gradient in exact
			// arithmetic, rounding noise in either precision: the floor
			// relative to the largest gradient of the network covers it.
			overall := 0.0
			for _, q := range g64.Params() {
				for _, v := range q.Grad {
					overall = math.Max(overall, math.Abs(v))
				}
			}
			for k, p := range g.Params() {
				q := g64.Params()[k]
				largest := 0.0
				for _, v := range q.Grad {
					largest = math.Max(largest, math.Abs(v))
				}
				for j, v := range p.Grad {
					if math.Abs(float64(v)-q.Grad[j]) > 1e-4*largest+1e-6*overall {
						t.Fatalf("%s[%d]: float32 %v, float64 %v (largest %v)", p.Name, j, v, q.Grad[j], largest)
					}
				}
			}
			for k, b := range g.Buffers() {
				q := g64.Buffers()[k]
				for j, v := range b.Value {
					if math.Abs(float64(v)-q.Value[j]) > 1e-5*math.Max(1, math.Abs(q.Value[j])) {
						t.Fatalf("%s[%d]: float32 %v, float64 %v", b.Name, j, v, q.Value[j])
					}
				}
			}
			out, out64 := make([]float32, n*g.Classes()), make([]float64, n*g.Classes())
			g.Forward(x, out)
			g64.Forward(x64, out64)
			for j := range out {
				if math.Abs(float64(out[j])-out64[j]) > 1e-5*math.Max(1, math.Abs(out64[j])) {
					t.Fatalf("output %d: float32 %v, float64 %v", j, out[j], out64[j])
				}
			}
		})
	}
}
