package runtime

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

var _ Model = (*Generic)(nil)

func TestNewGenericErrors(t *testing.T) {
	in := Shape{Height: 8, Width: 8, Channels: 1}
	tail := []LayerSpec{plainSpec(Flatten), denseSpec(10), plainSpec(Softmax)}
	with := func(first ...LayerSpec) []LayerSpec { return append(first, tail...) }
	for _, tc := range []struct {
		name   string
		input  Shape
		layers []LayerSpec
		want   string
	}{
		{"zero input", Shape{Height: 0, Width: 8, Channels: 1}, tail,
			`arch "t": input shape 0x8x1 must have every dimension ≥ 1`},
		{"huge input", Shape{Height: 1 << 16, Width: 1 << 16, Channels: 1 << 16}, tail,
			`arch "t": input shape 65536x65536x65536 has more than 2147483647 values`},
		{"no layers", in, nil,
			`arch "t": no layers`},
		{"softmax not last", in, []LayerSpec{plainSpec(Flatten), plainSpec(Softmax), plainSpec(ReLU)},
			`arch "t", layer 2 "softmax1" (softmax): softmax must be the last layer`},
		{"zero filters", in, with(convSpec(0, 3, 3, 1, 1, Same)),
			`arch "t", layer 1 "conv1" (conv2d): filters is 0, want ≥ 1`},
		{"zero kernel", in, with(convSpec(4, 0, 3, 1, 1, Same)),
			`arch "t", layer 1 "conv1" (conv2d): kernel 0x3, want both sizes ≥ 1`},
		{"zero pool kernel", in, with(poolSpec(MaxPool, 2, 0, 2, 2, Same)),
			`arch "t", layer 1 "pool1" (maxpool): kernel 2x0, want both sizes ≥ 1`},
		{"negative stride", in, with(poolSpec(AvgPool, 2, 2, 2, -1, Same)),
			`arch "t", layer 1 "pool1" (avgpool): stride 2x-1, want both strides ≥ 1`},
		{"unknown padding", in, with(convSpec(4, 3, 3, 1, 1, Padding(7))),
			`arch "t", layer 1 "conv1" (conv2d): padding 7, want valid (0) or same (1)`},
		{"valid kernel too large", in, with(convSpec(8, 3, 3, 2, 2, Valid), convSpec(4, 5, 5, 1, 1, Valid)),
			`arch "t", layer 2 "conv2" (conv2d): kernel 5x5 does not fit its 3x3x8 input with valid padding`},
		{"valid pool too large", Shape{Height: 1, Width: 8, Channels: 1}, with(poolSpec(MaxPool, 2, 2, 2, 2, Valid)),
			`arch "t", layer 1 "pool1" (maxpool): kernel 2x2 does not fit its 1x8x1 input with valid padding`},
		{"conv after flatten", in, []LayerSpec{plainSpec(Flatten), convSpec(4, 1, 1, 1, 1, Same), plainSpec(Softmax)},
			`arch "t", layer 2 "conv1" (conv2d): conv2d after flatten: spatial layers must come before flatten`},
		{"softmax without flatten", in, []LayerSpec{convSpec(4, 8, 8, 1, 1, Valid), plainSpec(Softmax)},
			`arch "t", layer 2 "softmax1" (softmax): no flatten before it (its input is 1x1x4)`},
		{"zero units", in, []LayerSpec{plainSpec(Flatten), denseSpec(0), plainSpec(Softmax)},
			`arch "t", layer 2 "dense1" (dense): units is 0, want ≥ 1`},
		{"unknown kind", in, with(LayerSpec{Kind: "relux"}),
			`arch "t", layer 1 "relux1" (relux): unknown layer kind "relux": want conv2d, relu, sigmoid, tanh, maxpool, avgpool, flatten, dense, softmax, batchnorm, add, concat, globalavgpool, dropout, relu6 or leaky_relu`},
		{"duplicate names", in, []LayerSpec{{Kind: ReLU, Name: "a"}, {Kind: Tanh, Name: "a"}, plainSpec(Flatten), plainSpec(Softmax)},
			`arch "t", layer 2 "a" (tanh): duplicate layer name (also layer 1)`},
		{"default name taken", in, []LayerSpec{{Kind: ReLU, Name: "relu2"}, plainSpec(ReLU), plainSpec(ReLU), plainSpec(Flatten), plainSpec(Softmax)},
			`arch "t", layer 2 "relu2" (relu): duplicate layer name (also layer 1)`},
		{"unknown init", in, []LayerSpec{plainSpec(Flatten), {Kind: Dense, Units: 3, WeightInit: Init{Kind: InitKind(9)}}, plainSpec(Softmax)},
			`arch "t", layer 2 "dense1" (dense): dense1.weight: unknown initialisation kind 9, want zeros (0), normal (1), uniform (2) or ones (3)`},
		{"negative init scale", in, []LayerSpec{plainSpec(Flatten), {Kind: Dense, Units: 3, BiasInit: Init{Kind: InitNormal, Scale: -1}}, plainSpec(Softmax)},
			`arch "t", layer 2 "dense1" (dense): dense1.bias: initialisation scale -1, want a finite value ≥ 0`},
		{"NaN init scale", in, []LayerSpec{plainSpec(Flatten), {Kind: Dense, Units: 3, WeightInit: Init{Kind: InitUniform, Scale: math.NaN()}}, plainSpec(Softmax)},
			`arch "t", layer 2 "dense1" (dense): dense1.weight: initialisation scale NaN, want a finite value ≥ 0`},
		{"huge conv weight", in, with(convSpec(1<<30, 3, 3, 1, 1, Same)),
			`arch "t", layer 1 "conv1" (conv2d): weight [3 3 1 1073741824] has more than 2147483647 values`},
		{"huge dense weight", in, []LayerSpec{plainSpec(Flatten), denseSpec(1 << 30), plainSpec(Softmax)},
			`arch "t", layer 2 "dense1" (dense): weight [64 1073741824] has more than 2147483647 values`},
		{"huge activation", in, with(convSpec(1<<26, 1, 1, 1, 1, Same)),
			`arch "t", layer 1 "conv1" (conv2d): output 8x8x67108864 has more than 2147483647 values`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewGeneric(Arch{Name: "t", Input: tc.input, Layers: tc.layers})
			if err == nil {
				t.Fatalf("NewGeneric succeeded (%d params), want error %s", len(g.Params()), tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
			if _, err64 := NewGeneric64(Arch{Name: "t", Input: tc.input, Layers: tc.layers}); err64 == nil || err64.Error() != err.Error() {
				t.Errorf("NewGeneric64 error %v, want the same as NewGeneric", err64)
			}
		})
	}
}

func TestNewGenericUnnamedArch(t *testing.T) {
	_, err := NewGeneric(Arch{Input: Shape{Height: 2, Width: 2, Channels: 1}, Layers: []LayerSpec{plainSpec(Flatten), denseSpec(0), plainSpec(Softmax)}})
	if want := `layer 2 "dense1" (dense): units is 0, want ≥ 1`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	_, err = NewGeneric(Arch{})
	if want := `arch: input shape 0x0x0 must have every dimension ≥ 1`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestGenericDigitsParams(t *testing.T) {
	g := mustGeneric(t, digitsArch())
	if g.Name() != "digits" || g.InputShape() != (Shape{Height: 8, Width: 8, Channels: 1}) || g.Classes() != 10 {
		t.Errorf("Name %q, InputShape %v, Classes %d", g.Name(), g.InputShape(), g.Classes())
	}
	type row struct {
		name, layer, shape string
		fanIn              int
		init               string
	}
	var got []row
	for _, p := range g.Params() {
		got = append(got, row{p.Name, p.Layer, p.ShapeString(), p.FanIn, p.Init.String()})
		if len(p.Value) != p.Size() || len(p.Grad) != p.Size() {
			t.Errorf("%s: %d values, %d grads, want %d", p.Name, len(p.Value), len(p.Grad), p.Size())
		}
	}
	want := []row{
		{"conv1.weight", "conv1", "[3 3 1 32]", 9, "normal(0.125)"},
		{"conv1.bias", "conv1", "[32]", 9, "normal(0.125)"},
		{"dense1.weight", "dense1", "[512 300]", 512, "normal(0.044194173824159216)"},
		{"dense1.bias", "dense1", "[300]", 512, "normal(0.044194173824159216)"},
		{"dense2.weight", "dense2", "[300 10]", 300, "normal(0.05773502691896257)"},
		{"dense2.bias", "dense2", "[10]", 300, "normal(0.05773502691896257)"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("params\n got %v\nwant %v", got, want)
	}
}

func TestGenericDefaultNamesAndShapes(t *testing.T) {
	arch := Arch{Input: Shape{Height: 9, Width: 6, Channels: 3}, Layers: []LayerSpec{
		convSpec(4, 2, 2, 1, 1, Same), plainSpec(ReLU), poolSpec(MaxPool, 3, 3, 2, 2, Same), convSpec(5, 3, 2, 2, 3, Valid),
		poolSpec(AvgPool, 2, 2, 2, 2, Same), plainSpec(Flatten), denseSpec(6), plainSpec(ReLU), denseSpec(3), plainSpec(Softmax)}}
	plans, _, classes, err := planArch(arch)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range plans {
		got = append(got, l.Name+" "+l.in.String()+"→"+l.out.String())
	}
	want := []string{
		"conv1 9x6x3→9x6x4", // 2x2 SAME: padding 0 before, 1 after
		"relu1 9x6x4→9x6x4",
		"pool1 9x6x4→5x3x4", // 3x3 s2 SAME: rows (4·2+3−9 = 2) 1+1, cols (2·2+3−6 = 1) 0+1
		"conv2 5x3x4→2x1x5", // 3x2 s2x3 VALID: ⌊2/2⌋+1, ⌊1/3⌋+1
		"pool2 2x1x5→1x1x5", // 2x2 s2 SAME: rows (0·2+2−2 = 0), cols (0·2+2−1 = 1) 0+1
		"flatten1 1x1x5→1x1x5",
		"dense1 1x1x5→1x1x6",
		"relu2 1x1x6→1x1x6",
		"dense2 1x1x6→1x1x3",
		"softmax1 1x1x3→1x1x3",
	}
	if !slices.Equal(got, want) || classes != 3 {
		t.Errorf("layers\n got %q\nwant %q (classes %d)", got, want, classes)
	}
	var pads [][2]int
	for _, l := range plans {
		pads = append(pads, [2]int{l.padTop, l.padLeft})
	}
	if want := [][2]int{{0, 0}, {0, 0}, {1, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}}; !slices.Equal(pads, want) {
		t.Errorf("top/left padding %v, want %v", pads, want)
	}
}

// TestGenericForwardByHand checks forward values worked out by hand on tiny
// networks whose logits are the tested layer's output (layer → flatten →
// softmax). All values are exact in float32.
func TestGenericForwardByHand(t *testing.T) {
	nine := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9} // a 3x3x1 image, rows 1 2 3 / 4 5 6 / 7 8 9
	// x[r][c] = −(4r + c + 1): a 4x4x1 image of negative values, so that a
	// padded 0 would win any max and change any mean.
	var minus16 []float32
	for i := range 16 {
		minus16 = append(minus16, -float32(i+1))
	}
	one := func(n, at int) []float32 { w := make([]float32, n); w[at] = 1; return w }
	ones := func(n int) []float32 {
		w := make([]float32, n)
		for i := range w {
			w[i] = 1
		}
		return w
	}
	sq := func(h, w, c int) Shape { return Shape{Height: h, Width: w, Channels: c} }

	for _, tc := range []struct {
		name   string
		input  Shape
		layer  LayerSpec
		params [][]float32 // values of the layer's params, in order
		x      []float32
		want   []float32
	}{
		{"conv 3x3 same picks the right neighbour", sq(3, 3, 1), convSpec(1, 3, 3, 1, 1, Same),
			[][]float32{one(9, 5), {0.5}}, nine,
			[]float32{2.5, 3.5, 0.5, 5.5, 6.5, 0.5, 8.5, 9.5, 0.5}},
		{"conv 3x3 same picks the upper-left neighbour", sq(3, 3, 1), convSpec(1, 3, 3, 1, 1, Same),
			[][]float32{one(9, 0), {0}}, nine,
			[]float32{0, 0, 0, 0, 1, 2, 0, 4, 5}},
		{"conv 3x3 valid sums the image", sq(3, 3, 1), convSpec(1, 3, 3, 1, 1, Valid),
			[][]float32{ones(9), {1}}, nine,
			[]float32{46}},
		{"conv 2x2 same pads bottom/right only", sq(3, 3, 1), convSpec(1, 2, 2, 1, 1, Same),
			[][]float32{one(4, 3), {0}}, nine,
			[]float32{5, 6, 0, 8, 9, 0, 0, 0, 0}},
		{"conv 2x2 same upper-left weight is the identity", sq(3, 3, 1), convSpec(1, 2, 2, 1, 1, Same),
			[][]float32{one(4, 0), {0}}, nine,
			nine},
		{"conv 3x3 stride 2 same", sq(3, 3, 1), convSpec(1, 3, 3, 2, 2, Same),
			[][]float32{ones(9), {0}}, nine,
			[]float32{12, 16, 24, 28}},
		{"conv 3x1 stride 1x2 valid", sq(3, 3, 1), convSpec(1, 3, 1, 1, 2, Valid),
			[][]float32{{1, 10, 100}, {0}}, nine,
			[]float32{741, 963}}, // columns 0 and 2: 1 + 40 + 700, 3 + 60 + 900
		{"conv 1x1 HWIO channels in, filters out", sq(1, 1, 2), convSpec(2, 1, 1, 1, 1, Valid),
			// w[c][f] = 1 2 / 3 4: y_f = Σ_c x_c·w[c][f]
			[][]float32{{1, 2, 3, 4}, {0.5, -0.5}}, []float32{1, 10},
			[]float32{31.5, 41.5}},
		{"maxpool 3x3 s2 same pads with −∞", sq(4, 4, 1), poolSpec(MaxPool, 3, 3, 2, 2, Same),
			// windows: rows 0..2 / 2..3(+pad), cols 0..2 / 2..3(+pad)
			nil, minus16,
			[]float32{-1, -3, -9, -11}},
		{"maxpool 2x2 s2 same", sq(4, 4, 1), poolSpec(MaxPool, 2, 2, 2, 2, Same),
			nil, minus16,
			[]float32{-1, -3, -9, -11}},
		{"maxpool 2x2 s1 valid", sq(3, 3, 1), poolSpec(MaxPool, 2, 2, 1, 1, Valid),
			nil, nine,
			[]float32{5, 6, 8, 9}},
		{"avgpool 3x3 s2 same divides by the non-padded count", sq(4, 4, 1), poolSpec(AvgPool, 3, 3, 2, 2, Same),
			// means of −(4r+c+1) over r∈{0,1,2}×c∈{0,1,2}, {0,1,2}×{2,3}, {2,3}×{0,1,2}, {2,3}×{2,3}
			nil, minus16,
			[]float32{-6, -7.5, -12, -13.5}},
		{"avgpool 2x2 s1 valid", sq(3, 3, 1), poolSpec(AvgPool, 2, 2, 1, 1, Valid),
			nil, nine,
			[]float32{3, 4, 6, 7}},
		{"relu", sq(1, 1, 3), plainSpec(ReLU), nil, []float32{-2, 0, 3}, []float32{0, 0, 3}},
		{"sigmoid", sq(1, 1, 3), plainSpec(Sigmoid), nil, []float32{0, -200, 200}, []float32{0.5, 0, 1}},
		{"tanh", sq(1, 1, 3), plainSpec(Tanh), nil, []float32{0, -200, 200}, []float32{0, -1, 1}},
		{"dense [In, Units] layout", sq(1, 1, 2), denseSpec(2),
			[][]float32{{1, 2, 3, 4}, {0.5, -0.5}}, []float32{1, 10},
			[]float32{31.5, 41.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layers := []LayerSpec{tc.layer, plainSpec(Flatten), plainSpec(Softmax)}
			if tc.layer.Kind == Dense || tc.layer.Kind == ReLU || tc.layer.Kind == Sigmoid || tc.layer.Kind == Tanh {
				layers = []LayerSpec{plainSpec(Flatten), tc.layer, plainSpec(Softmax)}
			}
			g := mustGeneric(t, Arch{Input: tc.input, Layers: layers})
			if len(g.Params()) != len(tc.params) {
				t.Fatalf("%d params, test gives %d", len(g.Params()), len(tc.params))
			}
			for i, p := range g.Params() {
				if len(tc.params[i]) != len(p.Value) {
					t.Fatalf("%s has %d values, test gives %d", p.Name, len(p.Value), len(tc.params[i]))
				}
				copy(p.Value, tc.params[i])
			}
			logits := make([]float32, g.Classes())
			g.Forward(tc.x, logits)
			if !slices.Equal(logits, tc.want) {
				t.Errorf("output %v, want %v", logits, tc.want)
			}
			// A batch of two copies gives the same output twice.
			logits2 := make([]float32, 2*g.Classes())
			g.Forward(slices.Concat(tc.x, tc.x), logits2)
			if !slices.Equal(logits2, slices.Concat(tc.want, tc.want)) {
				t.Errorf("batch of two: output %v, want %v twice", logits2, tc.want)
			}
		})
	}
}

// newDigits returns the digits network with its initial weights for seed 1
// and a random batch of n images with pixels in [0, 1] and labels.
func newDigits(t testing.TB, n int) (*Generic, []float32, []int32) {
	g := mustGeneric(t, digitsArch())
	InitParams(g.Params(), 1)
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, n*64)
	for i := range x {
		x[i] = float32(r.IntN(17)) / 16 // the digits pixel values, with exact ties
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(r.IntN(10))
	}
	return g, x, labels
}

func TestGenericParamsAlias(t *testing.T) {
	g, x, labels := newDigits(t, 2)
	before := make([]float32, 20)
	g.Forward(x, before)
	p := g.Params()
	p[5].Value[3] += 1 // dense2.bias[3]
	after := make([]float32, 20)
	g.Forward(x, after)
	for i := range after {
		changed := math.Abs(float64(after[i]-before[i])-1) < 1e-5
		if unchanged := after[i] == before[i]; (i%10 == 3 && !changed) || (i%10 != 3 && !unchanged) {
			t.Fatalf("after dense2.bias[3] += 1: logits %v, before %v", after, before)
		}
	}
	// Backward writes the gradients into the Grad slices that Params returned.
	for _, q := range p {
		clear(q.Grad)
	}
	g.Backward(x, labels, 1)
	for _, q := range p {
		if !slices.ContainsFunc(q.Grad, func(v float32) bool { return v != 0 }) {
			t.Errorf("%s.Grad is all zero after Backward", q.Name)
		}
	}
}

// TestGenericBackwardAgreesWithForward checks that Backward computes the
// logits that Forward does, bit for bit: its loss and accuracy are those of
// SoftmaxCrossEntropy on Forward's logits. It also checks that gradients are
// overwritten, not accumulated, and scale linearly.
func TestGenericBackwardAgreesWithForward(t *testing.T) {
	const n = 7
	g, x, labels := newDigits(t, n)
	logits := make([]float32, n*10)
	g.Forward(x, logits)
	wantLoss, wantCorrect := SoftmaxCrossEntropy(logits, labels, 10, 1, nil)
	loss, correct := g.Backward(x, labels, 1)
	if loss != wantLoss || correct != wantCorrect {
		t.Errorf("Backward: loss %v, correct %d; from Forward: %v, %d", loss, correct, wantLoss, wantCorrect)
	}
	if got := g.e.forward(x, n, true); !slices.Equal(got, logits) {
		t.Errorf("Backward's logits differ from Forward's")
	}
	first := snapshotGrads(g.Params())
	g.Backward(x, labels, 1)
	if again := snapshotGrads(g.Params()); !slices.EqualFunc(first, again, slices.Equal) {
		t.Errorf("a second Backward changed the gradients: they accumulate instead of being overwritten")
	}
	g.Backward(x, labels, 0.25)
	for i, q := range g.Params() {
		for j, v := range q.Grad {
			if v != first[i][j]*0.25 { // exact: scaling by a power of two commutes with rounding
				t.Fatalf("scale 0.25: %s[%d] = %v, want %v", q.Name, j, v, first[i][j]*0.25)
			}
		}
	}
}

func snapshotGrads(params []Param) [][]float32 {
	var out [][]float32
	for _, p := range params {
		out = append(out, slices.Clone(p.Grad))
	}
	return out
}

// TestGenericBatchIndependence checks that each sample's logits do not depend
// on the rest of the batch (nor on the buffers' previous contents).
func TestGenericBatchIndependence(t *testing.T) {
	const n = 5
	g, x, _ := newDigits(t, n)
	batch := make([]float32, n*10)
	g.Forward(x, batch)
	one := make([]float32, 10)
	for s := range n {
		g.Forward(x[s*64:(s+1)*64], one)
		if !slices.Equal(one, batch[s*10:(s+1)*10]) {
			t.Errorf("sample %d alone: %v, in the batch: %v", s, one, batch[s*10:(s+1)*10])
		}
	}
}

// TestGenericFloat32MatchesFloat64 checks the float32 engine against the
// float64 one (whose gradients TestGenericGradients checks numerically) on
// the digits network: logits within 1e-5 and gradients within 1e-4 relative
// to the largest gradient of each tensor.
func TestGenericFloat32MatchesFloat64(t *testing.T) {
	const n = 9
	g, x, labels := newDigits(t, n)
	g64 := mustGeneric64(t, digitsArch())
	if err := g64.CopyParams(g.Params()); err != nil {
		t.Fatal(err)
	}
	x64 := make([]float64, len(x))
	for i, v := range x {
		x64[i] = float64(v)
	}
	logits, logits64 := make([]float32, n*10), make([]float64, n*10)
	g.Forward(x, logits)
	g64.Forward(x64, logits64)
	for i := range logits {
		if math.Abs(float64(logits[i])-logits64[i]) > 1e-5 {
			t.Fatalf("logit %d: float32 %v, float64 %v", i, logits[i], logits64[i])
		}
	}
	loss, correct := g.Backward(x, labels, 0.5)
	loss64, correct64 := g64.Backward(x64, labels, 0.5)
	if math.Abs(loss-loss64) > 1e-5*loss64 || correct != correct64 {
		t.Errorf("float32 loss %v (%d correct), float64 %v (%d)", loss, correct, loss64, correct64)
	}
	for i, p := range g.Params() {
		q := g64.Params()[i]
		largest := 0.0
		for _, v := range q.Grad {
			largest = math.Max(largest, math.Abs(v))
		}
		for j, v := range p.Grad {
			if math.Abs(float64(v)-q.Grad[j]) > 1e-4*largest {
				t.Fatalf("%s[%d]: float32 %v, float64 %v (largest %v)", p.Name, j, v, q.Grad[j], largest)
			}
		}
	}
}

func TestGeneric64CopyParamsErrors(t *testing.T) {
	g64 := mustGeneric64(t, digitsArch())
	g := mustGeneric(t, digitsArch())
	if err := g64.CopyParams(g.Params()[:2]); err == nil || err.Error() != "CopyParams: 2 parameters, want 6" {
		t.Errorf("error %v", err)
	}
	other := slices.Clone(g.Params())
	other[2], other[3] = other[3], other[2]
	other[5].Value[0] = 42
	if err := g64.CopyParams(other); err == nil || err.Error() != "CopyParams: parameter 3 is dense1.bias with 300 values, want dense1.weight with 153600" {
		t.Errorf("error %v", err)
	}
	if g64.Params()[5].Value[0] != 0 {
		t.Errorf("a failed CopyParams changed the values")
	}
}

// TestGenericNoAllocations checks that Forward and Backward allocate nothing
// once the buffers have grown to the batch size, including when a smaller
// batch follows a larger one.
func TestGenericNoAllocations(t *testing.T) {
	const n = 16
	g, x, labels := newDigits(t, n)
	logits := make([]float32, n*10)
	if a := testing.AllocsPerRun(5, func() { g.Forward(x, logits) }); a != 0 {
		t.Errorf("Forward: %v allocations per call", a)
	}
	if a := testing.AllocsPerRun(5, func() { g.Backward(x, labels, 1) }); a != 0 {
		t.Errorf("Backward: %v allocations per call", a)
	}
	if a := testing.AllocsPerRun(5, func() { g.Forward(x[:64], logits[:10]) }); a != 0 {
		t.Errorf("Forward of one sample after a batch: %v allocations per call", a)
	}
}

func TestGenericEmptyBatch(t *testing.T) {
	g, _, _ := newDigits(t, 0)
	g.Forward(nil, nil)
	loss, correct := g.Backward(nil, nil, 1)
	if loss != 0 || correct != 0 {
		t.Errorf("empty batch: loss %v, correct %d", loss, correct)
	}
	for _, p := range g.Params() {
		if slices.ContainsFunc(p.Grad, func(v float32) bool { return v != 0 }) {
			t.Errorf("%s.Grad not zero after an empty batch", p.Name)
		}
	}
}

func TestGenericPanicsOnBadSizes(t *testing.T) {
	g, x, labels := newDigits(t, 2)
	for _, tc := range []struct {
		name, want string
		call       func()
	}{
		{"partial sample", "runtime: Forward: len(x) = 127 is not a multiple of the input size 64 (8x8x1)",
			func() { g.Forward(x[:127], make([]float32, 20)) }},
		{"short logits", "runtime: Forward: len(logits) = 19, want 20 (2 samples × 10 classes)",
			func() { g.Forward(x, make([]float32, 19)) }},
		{"labels", "runtime: Backward: 1 labels for 2 samples",
			func() { g.Backward(x, labels[:1], 1) }},
		{"label range", "runtime: softmax cross-entropy: sample 1 has label 10, want 0 ≤ label < 10",
			func() { g.Backward(x, []int32{0, 10}, 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, tc.want) {
					t.Errorf("panic %q, want %q", msg, tc.want)
				}
			}()
			tc.call()
		})
	}
}

// TestGenericNaNInput checks that a NaN input gives a NaN loss (which the
// training loop reports) rather than a panic, also in max-pool backward,
// where no window value equals a NaN maximum.
func TestGenericNaNInput(t *testing.T) {
	g, x, labels := newDigits(t, 2)
	for i := range x {
		x[i] = float32(math.NaN())
	}
	loss, _ := g.Backward(x, labels, 1)
	if !math.IsNaN(loss) {
		t.Errorf("loss %v, want NaN", loss)
	}
}
