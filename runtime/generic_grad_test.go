package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Gradient checks of the generic engine by central finite differences, in
// float64: for every parameter value θ_j,
//
//	numeric_j = scale · (L(θ + h·e_j) − L(θ − h·e_j)) / 2h,   h = 1e-5,
//
// where L is the summed loss computed from Forward's logits by an independent
// log-sum-exp (referenceLoss). The analytic gradient from Backward must agree
// within a relative tolerance of 1e-5 (with an absolute floor of 1e-8 for
// values near zero): |analytic − numeric| ≤ 1e-5·max(|analytic|, |numeric|) + 1e-8.
// The truncation error is O(h²) ≈ 1e-10 and the rounding error
// O(ε·L/h) ≈ 1e-10, far below that; a wrong index, padding or divisor gives
// errors of order 1.
//
// Gradients w.r.t. a layer's input are not exposed; they are checked through
// the parameters of the layers before it, which is why every network below
// starts with a conv or dense layer before the layers it tests.

const (
	gradStep    = 1e-5
	gradRelTol  = 1e-5
	gradAbsTol  = 1e-8
	gradSamples = 3
	gradScale   = 0.7
)

// gradCase is a network whose gradients are checked.
type gradCase struct {
	name   string
	input  Shape
	layers []LayerSpec
}

var gradCases = []gradCase{
	{"digits-like conv3x3 same relu maxpool2 s2 same dense relu dense",
		Shape{Height: 6, Width: 6, Channels: 2},
		[]LayerSpec{convSpec(3, 3, 3, 1, 1, Same), plainSpec(ReLU), poolSpec(MaxPool, 2, 2, 2, 2, Same), plainSpec(Flatten),
			denseSpec(5), plainSpec(ReLU), denseSpec(4), plainSpec(Softmax)}},
	{"odd input maxpool2 s2 same pads bottom-right",
		Shape{Height: 5, Width: 5, Channels: 2},
		[]LayerSpec{convSpec(2, 3, 3, 1, 1, Same), poolSpec(MaxPool, 2, 2, 2, 2, Same), plainSpec(Flatten), denseSpec(3), plainSpec(Softmax)}},
	{"even kernel 2x2 same tanh avgpool2 s2 same",
		Shape{Height: 5, Width: 5, Channels: 2},
		[]LayerSpec{convSpec(3, 2, 2, 1, 1, Same), plainSpec(Tanh), poolSpec(AvgPool, 2, 2, 2, 2, Same), plainSpec(Flatten),
			denseSpec(4), plainSpec(Softmax)}},
	{"even kernel 4x4 stride 3 same (padding 1 before, 2 after) relu maxpool2 valid",
		Shape{Height: 7, Width: 7, Channels: 1},
		[]LayerSpec{convSpec(2, 4, 4, 3, 3, Same), plainSpec(ReLU), poolSpec(MaxPool, 2, 2, 1, 1, Valid), plainSpec(Flatten),
			denseSpec(3), plainSpec(Softmax)}},
	{"non-square kernels and strides sigmoid",
		Shape{Height: 7, Width: 8, Channels: 1},
		[]LayerSpec{convSpec(2, 3, 2, 2, 3, Same), plainSpec(Sigmoid), convSpec(3, 2, 3, 1, 2, Valid), plainSpec(ReLU), plainSpec(Flatten),
			denseSpec(3), plainSpec(Softmax)}},
	{"maxpool 3x3 s2 same (padding both sides) and s3 same",
		Shape{Height: 7, Width: 7, Channels: 2},
		[]LayerSpec{convSpec(2, 3, 3, 1, 1, Valid), poolSpec(MaxPool, 3, 3, 2, 2, Same), convSpec(2, 1, 1, 1, 1, Valid),
			poolSpec(MaxPool, 3, 3, 3, 3, Same), plainSpec(Flatten), denseSpec(3), plainSpec(Softmax)}},
	{"non-square maxpool 3x2 stride 1x2 valid",
		Shape{Height: 5, Width: 6, Channels: 2},
		[]LayerSpec{convSpec(2, 3, 3, 1, 1, Same), plainSpec(Tanh), poolSpec(MaxPool, 3, 2, 1, 2, Valid), plainSpec(Flatten),
			denseSpec(3), plainSpec(Softmax)}},
	{"avgpool 3x3 s2 same (padding both sides) and 3x2 s2x3 same",
		Shape{Height: 6, Width: 7, Channels: 2},
		[]LayerSpec{convSpec(2, 3, 3, 1, 1, Same), poolSpec(AvgPool, 3, 3, 2, 2, Same), plainSpec(ReLU),
			convSpec(2, 1, 2, 1, 1, Same), poolSpec(AvgPool, 3, 2, 2, 3, Same), plainSpec(Flatten), denseSpec(3), plainSpec(Softmax)}},
	{"avgpool valid",
		Shape{Height: 5, Width: 5, Channels: 1},
		[]LayerSpec{convSpec(2, 2, 2, 1, 1, Valid), poolSpec(AvgPool, 2, 3, 2, 1, Valid), plainSpec(Flatten), denseSpec(3), plainSpec(Softmax)}},
	{"three conv layers strides 1 2 3",
		Shape{Height: 9, Width: 9, Channels: 1},
		[]LayerSpec{convSpec(2, 3, 3, 1, 1, Same), plainSpec(ReLU), convSpec(3, 3, 3, 2, 2, Same), plainSpec(Tanh),
			convSpec(2, 2, 2, 3, 3, Same), plainSpec(Sigmoid), plainSpec(Flatten), denseSpec(3), plainSpec(Softmax)}},
	{"kernel larger than its input with same padding, 1x1 conv, stride 2 valid",
		Shape{Height: 3, Width: 4, Channels: 2},
		[]LayerSpec{convSpec(2, 5, 5, 1, 1, Same), plainSpec(Tanh), convSpec(3, 1, 1, 1, 1, Valid), convSpec(2, 2, 2, 2, 2, Valid),
			plainSpec(Flatten), denseSpec(3), plainSpec(Softmax)}},
	{"dense only with sigmoid and tanh",
		Shape{Height: 2, Width: 3, Channels: 2},
		[]LayerSpec{plainSpec(Flatten), denseSpec(5), plainSpec(Sigmoid), denseSpec(4), plainSpec(Tanh), denseSpec(3), plainSpec(Softmax)}},
	{"pool and activation as the first layers (no input gradient)",
		Shape{Height: 5, Width: 5, Channels: 2},
		[]LayerSpec{poolSpec(AvgPool, 2, 2, 1, 1, Valid), plainSpec(Sigmoid), convSpec(2, 2, 2, 1, 1, Same), plainSpec(Flatten),
			denseSpec(3), plainSpec(Softmax)}},
	{"conv straight into softmax",
		Shape{Height: 3, Width: 3, Channels: 2},
		[]LayerSpec{convSpec(1, 2, 2, 1, 1, Same), plainSpec(Flatten), plainSpec(Softmax)}},
}

func TestGenericGradients(t *testing.T) {
	for i, tc := range gradCases {
		for _, batch := range []struct {
			n     int
			scale float64
		}{{1, 1}, {gradSamples, gradScale}} {
			t.Run(fmt.Sprintf("%s/n=%d,scale=%g", tc.name, batch.n, batch.scale), func(t *testing.T) {
				checkGradients(t, Arch{Name: "grad", Input: tc.input, Layers: tc.layers}, batch.n, batch.scale, uint64(i+1))
			})
		}
	}
}

// checkGradients compares Backward's gradients with central differences at a
// random point of arch (weights from the layer inits, inputs uniform in
// [−1, 1)).
func checkGradients(t *testing.T, arch Arch, n int, scale float64, seed uint64) {
	t.Helper()
	g := mustGeneric64(t, arch)
	InitParams64(g.Params(), seed)
	r := rand.New(rand.NewPCG(seed, 7))
	x, labels := randomBatch(r, n, arch.Input, g.Classes())
	logits := make([]float64, n*g.Classes())
	lossAt := func() float64 {
		g.Forward(x, logits)
		return referenceLoss(logits, labels, g.Classes())
	}

	loss, _ := g.Backward(x, labels, scale)
	if want := lossAt(); math.Abs(loss-want) > 1e-12*math.Max(1, math.Abs(want)) {
		t.Errorf("Backward loss %v, reference %v", loss, want)
	}
	analytic := make([][]float64, len(g.Params()))
	for i, p := range g.Params() {
		analytic[i] = append([]float64(nil), p.Grad...)
	}

	checked, failed := 0, 0
	for i, p := range g.Params() {
		for j := range p.Value {
			v := p.Value[j]
			p.Value[j] = v + gradStep
			up := lossAt()
			p.Value[j] = v - gradStep
			down := lossAt()
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
	if checked == 0 {
		t.Fatal("no parameters checked")
	}
}

// TestMaxPoolBackwardTies checks that each window's gradient goes to its
// first maximum in row-major order when values tie exactly, including in a
// window that overlaps the −∞ padding.
func TestMaxPoolBackwardTies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  LayerSpec
		input Shape
		x     []float64 // one sample, HWC
		dy    []float64
		want  []float64 // dx
	}{
		{
			// Channel 0: all four equal → (0,0). Channel 1: ties at (1,0)
			// and (1,1) → (1,0).
			name:  "2x2 valid",
			spec:  poolSpec(MaxPool, 2, 2, 2, 2, Valid),
			input: Shape{Height: 2, Width: 2, Channels: 2},
			x:     []float64{0, 1, 0, 2, 0, 5, 0, 5},
			dy:    []float64{3, 4},
			want:  []float64{3, 0, 0, 0, 0, 4, 0, 0},
		},
		{
			// 3x3 s2 SAME on 3x3: out 2x2, padding 1 before and after.
			// Window (0,0) covers rows/cols 0..1: values −2 −1 / −1 −3 → first
			// −1 at (0,1). Window (0,1) covers rows 0..1, cols 1..2:
			// −1 −1 / −3 −1 → (0,1). Window (1,0): rows 1..2, cols 0..1:
			// −1 −3 / −1 −1 → (1,0). Window (1,1): rows 1..2, cols 1..2:
			// −3 −1 / −1 −1 → (1,2). With zero padding every window would
			// have taken a padded 0 instead.
			name:  "3x3 s2 same with negative ties",
			spec:  poolSpec(MaxPool, 3, 3, 2, 2, Same),
			input: Shape{Height: 3, Width: 3, Channels: 1},
			x:     []float64{-2, -1, -1, -1, -3, -1, -1, -1, -1},
			dy:    []float64{1, 10, 100, 1000},
			want:  []float64{0, 11, 0, 100, 0, 1000, 0, 0, 0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arch := Arch{Input: tc.input, Layers: []LayerSpec{tc.spec, plainSpec(Flatten), plainSpec(Softmax)}}
			plans, _, _, err := planArch(arch)
			if err != nil {
				t.Fatal(err)
			}
			l := &plans[0]
			y := make([]float64, l.out.Size())
			maxPoolForward(l, 1, tc.x, y)
			if len(tc.dy) != len(y) {
				t.Fatalf("output has %d values, test gives %d gradients", len(y), len(tc.dy))
			}
			dx := make([]float64, len(tc.x))
			for i := range dx {
				dx[i] = math.NaN() // must be overwritten
			}
			maxPoolBackward(l, 1, tc.x, y, tc.dy, dx, make([]int, tc.input.Channels))
			for i := range dx {
				if dx[i] != tc.want[i] {
					t.Errorf("dx = %v, want %v", dx, tc.want)
					break
				}
			}
		})
	}
}

// TestMaxPoolTieThroughEngine checks the first-maximum rule end to end on the
// float32 engine: a 1x1 conv with weights (1, 1) maps the pixels (1, 0) and
// (0, 1) to the same value 1, so the max pool ties; the conv weight gradient
// then shows which pixel got the gradient: (d, 0) for the first, (0, d) for
// the second.
func TestMaxPoolTieThroughEngine(t *testing.T) {
	g := mustGeneric(t, Arch{
		Input: Shape{Height: 1, Width: 2, Channels: 2},
		Layers: []LayerSpec{convSpec(1, 1, 1, 1, 1, Valid), poolSpec(MaxPool, 1, 2, 1, 2, Valid), plainSpec(Flatten),
			denseSpec(2), plainSpec(Softmax)},
	})
	p := g.Params()
	copy(p[0].Value, []float32{1, 1}) // conv1.weight [1 1 2 1]
	copy(p[2].Value, []float32{1, -1})
	_, _ = g.Backward([]float32{1, 0, 0, 1}, []int32{0}, 1)
	dw := p[0].Grad
	if dw[0] == 0 || dw[1] != 0 || dw[0] != p[1].Grad[0] {
		t.Errorf("conv weight gradient %v (bias %v): want (d, 0) with d the bias gradient", dw, p[1].Grad)
	}
}
