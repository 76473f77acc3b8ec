package runtime

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Forward checks of the graph layers worked out by hand, and the parameter
// and buffer listings of the new layers.

// closeTo reports whether got and want agree to a relative tolerance of tol
// (absolute below 1).
func closeTo(got, want float64, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// checkClose fails the test when got and want differ beyond tol anywhere.
func checkClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !closeTo(float64(got[i]), want[i], tol) {
			t.Errorf("%s = %v, want %v", what, got, want)
			return
		}
	}
}

// TestBatchNormTrainingByHand checks batch norm in training mode on a batch
// of two samples of a 2x1 map with two channels (statistics over n·H·W = 4
// values per channel): the output, the running statistics after one and two
// steps against PyTorch's formulas, and the gradients of γ and β.
func TestBatchNormTrainingByHand(t *testing.T) {
	g := mustGeneric(t, Arch{Input: Shape{Height: 2, Width: 1, Channels: 2}, Layers: []LayerSpec{batchNormSpec()}})
	p := g.Params()
	if len(p) != 2 || p[0].Name != "bn1.weight" || p[1].Name != "bn1.bias" {
		t.Fatalf("params %v", p)
	}
	copy(p[0].Value, []float32{2, 1})   // γ
	copy(p[1].Value, []float32{0.5, 0}) // β
	// Channel 0: 1 5 | 3 7 → mean 4, biased variance (9+1+1+9)/4 = 5,
	// unbiased 20/3. Channel 1: 10 −10 | 30 −30 → mean 0, variance 500,
	// unbiased 2000/3.
	x := []float32{1, 10, 5, -10, 3, 30, 7, -30}
	const eps = 1e-5
	mean := []float64{4, 0}
	variance := []float64{5, 500}
	unbiased := []float64{20.0 / 3, 2000.0 / 3}
	gamma, beta := []float64{2, 1}, []float64{0.5, 0}
	var want []float64
	for i, v := range x {
		c := i % 2
		want = append(want, gamma[c]*(float64(v)-mean[c])/math.Sqrt(variance[c]+eps)+beta[c])
	}
	checkClose(t, "training output", g.e.forward(x, 2, true), want, 1e-6)

	b := g.Buffers()
	if len(b) != 3 || b[0].Name != "bn1.running_mean" || b[1].Name != "bn1.running_var" || b[2].Name != "bn1.num_batches_tracked" {
		t.Fatalf("buffers %v", b)
	}
	runningMean := []float64{0.1 * mean[0], 0.1 * mean[1]}
	runningVar := []float64{0.9 + 0.1*unbiased[0], 0.9 + 0.1*unbiased[1]}
	checkClose(t, "running mean after one step", b[0].Value, runningMean, 1e-6)
	checkClose(t, "running variance after one step", b[1].Value, runningVar, 1e-6)
	if *b[2].Count != 1 {
		t.Errorf("num_batches_tracked %d after one step, want 1", *b[2].Count)
	}

	// The loss Σ y² against zero targets: dβ_c = 2 Σ y = 2·m·β_c (x̂ sums to
	// 0) and dγ_c = 2 Σ y·x̂ = 2γ_c Σ x̂² = 2γ_c·m·σ²/(σ²+ε).
	zeros := make([]float32, len(x))
	loss := g.BackwardSquaredError(x, zeros, 1)
	wantLoss := 0.0
	for _, y := range want {
		wantLoss += y * y
	}
	if !closeTo(loss, wantLoss, 1e-6) {
		t.Errorf("loss %v, want %v", loss, wantLoss)
	}
	checkClose(t, "dγ", p[0].Grad, []float64{2 * 2 * 4 * 5 / (5 + eps), 2 * 1 * 4 * 500 / (500 + eps)}, 1e-6)
	checkClose(t, "dβ", p[1].Grad, []float64{2 * 4 * 0.5, 0}, 1e-6)
	for c := range 2 {
		runningMean[c] = 0.9*runningMean[c] + 0.1*mean[c]
		runningVar[c] = 0.9*runningVar[c] + 0.1*unbiased[c]
	}
	checkClose(t, "running mean after two steps", b[0].Value, runningMean, 1e-6)
	checkClose(t, "running variance after two steps", b[1].Value, runningVar, 1e-6)
	if *b[2].Count != 2 {
		t.Errorf("num_batches_tracked %d after two steps, want 2", *b[2].Count)
	}
}

// TestBatchNormEvalUsesRunningStats checks that Forward normalises with the
// running statistics, whatever the batch, and leaves them unchanged.
func TestBatchNormEvalUsesRunningStats(t *testing.T) {
	spec := batchNormSpec()
	spec.Epsilon = 0.01
	g := mustGeneric(t, Arch{Input: Shape{Height: 1, Width: 1, Channels: 2}, Layers: []LayerSpec{plainSpec(Flatten), spec}})
	p, b := g.Params(), g.Buffers()
	checkClose(t, "initial γ", p[0].Value, []float64{0, 0}, 0) // NewGeneric leaves parameters zero; InitParams sets γ
	InitParams(p, 1)
	checkClose(t, "γ after InitParams", p[0].Value, []float64{1, 1}, 0)
	checkClose(t, "β after InitParams", p[1].Value, []float64{0, 0}, 0)
	checkClose(t, "initial running mean", b[0].Value, []float64{0, 0}, 0)
	checkClose(t, "initial running variance", b[1].Value, []float64{1, 1}, 0)

	copy(p[0].Value, []float32{3, -1})
	copy(p[1].Value, []float32{1, 2})
	copy(b[0].Value, []float32{1, -2})
	copy(b[1].Value, []float32{3.99, 0.24})
	x := []float32{5, 0, -1, 1} // two samples: the batch's statistics would give other values
	out := make([]float32, 4)
	g.Forward(x, out)
	// y = γ(x − mean)/sqrt(var + 0.01) + β = γ(x − mean)/(2 or 0.5) + β.
	checkClose(t, "eval output", out, []float64{3*4/2.0 + 1, -1*2/0.5 + 2, 3*-2/2.0 + 1, -1*3/0.5 + 2}, 1e-6)
	checkClose(t, "running mean after Forward", b[0].Value, []float64{1, -2}, 0)
	if *b[2].Count != 0 {
		t.Errorf("Forward counted a batch: num_batches_tracked %d", *b[2].Count)
	}
}

// TestDropoutMasks checks that dropout is the identity in Forward and, in
// training, multiplies by DropoutMask's masks for the seed and step of
// SetDropoutStep (0 and 0 before any), the layer's index in the Arch and the
// sample's index in the batch.
func TestDropoutMasks(t *testing.T) {
	const n, rate = 3, 0.5
	in := Shape{Height: 2, Width: 2, Channels: 3}
	// relu6 is the identity on (0, 6): the dropout layer is layer 2 and sees x.
	arch := Arch{Input: in, Layers: []LayerSpec{plainSpec(ReLU6), plainSpec(ReLU6), {Kind: Dropout, Rate: rate}}}
	g := mustGeneric(t, arch)
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, n*in.Size())
	for i := range x {
		x[i] = 0.5 + 5*r.Float32()
	}
	out := make([]float32, len(x))
	g.Forward(x, out)
	if !slices.Equal(out, x) {
		t.Errorf("Forward is not the identity: %v for %v", out, x)
	}

	for _, step := range []struct {
		set        bool
		seed, step uint64
	}{{false, 0, 0}, {true, 9, 4}, {true, 9, 5}} {
		if step.set {
			g.SetDropoutStep(step.seed, step.step)
		}
		got := g.e.forward(x, n, true)
		mask := make([]float32, in.Size())
		dropped, kept := 0, 0
		for s := range n {
			DropoutMask(step.seed, step.step, 2, s, rate, mask)
			for i, m := range mask {
				v, y := x[s*in.Size()+i], got[s*in.Size()+i]
				if y != v*m {
					t.Fatalf("seed %d step %d: sample %d value %d is %v, want %v·%v", step.seed, step.step, s, i, y, v, m)
				}
				if m == 0 {
					dropped++
				} else if y == 2*v {
					kept++
				}
			}
		}
		if dropped == 0 || kept == 0 || dropped+kept != len(x) {
			t.Errorf("seed %d step %d: %d dropped, %d kept ×2, of %d", step.seed, step.step, dropped, kept, len(x))
		}
	}
}

// TestNewActivationsByHand checks relu6 and leaky_relu values and their
// gradients at and around the kinks, as PyTorch defines them.
func TestNewActivationsByHand(t *testing.T) {
	x := []float64{-2, 0, 3, 6, 7}
	dy := []float64{1, 2, 3, 4, 5}
	y, dx := make([]float64, 5), make([]float64, 5)
	relu6Forward(x, y)
	relu6Backward(x, dy, dx)
	if want := []float64{0, 0, 3, 6, 6}; !slices.Equal(y, want) {
		t.Errorf("relu6 %v, want %v", y, want)
	}
	if want := []float64{0, 0, 3, 0, 0}; !slices.Equal(dx, want) {
		t.Errorf("relu6 gradient %v, want %v", dx, want)
	}
	leakyReLUForward(0.25, x, y)
	leakyReLUBackward(0.25, x, dy, dx)
	if want := []float64{-0.5, 0, 3, 6, 7}; !slices.Equal(y, want) {
		t.Errorf("leaky_relu %v, want %v", y, want)
	}
	if want := []float64{0.25, 0.5, 3, 4, 5}; !slices.Equal(dx, want) {
		t.Errorf("leaky_relu gradient %v, want %v", dx, want)
	}
}

// TestGraphLayersByHand checks add, concat (channel order), globalavgpool and
// a branch reading the network's input, on outputs worked out by hand.
func TestGraphLayersByHand(t *testing.T) {
	in := Shape{Height: 1, Width: 2, Channels: 2}
	x := []float32{-1, 7, 2, 3} // pixel 0: (−1, 7), pixel 1: (2, 3)
	leaky := LayerSpec{Kind: LeakyReLU, Alpha: 0.5}
	for _, tc := range []struct {
		name  string
		last  LayerSpec
		shape Shape
		want  []float32
	}{
		// leaky: (−0.5, 7), (2, 3); relu6: (0, 6), (2, 3).
		{"concat in the order of its inputs", named(LayerSpec{Kind: Concat}, "cat", "l", "r", "input"), Shape{Height: 1, Width: 2, Channels: 6},
			[]float32{-0.5, 7, 0, 6, -1, 7, 2, 3, 2, 3, 2, 3}},
		{"add", named(LayerSpec{Kind: Add}, "sum", "l", "r", "input"), in,
			[]float32{-1.5, 20, 6, 9}},
		{"globalavgpool of a concat", named(LayerSpec{Kind: GlobalAvgPool}, "gap", "cat"), Shape{Height: 1, Width: 1, Channels: 4},
			[]float32{0.75, 5, 1, 4.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layers := []LayerSpec{named(plainSpec(ReLU6), "r"), named(leaky, "l", "input")}
			if tc.last.Kind == GlobalAvgPool {
				layers = append(layers, named(LayerSpec{Kind: Concat}, "cat", "l", "r"))
			}
			g := mustGeneric(t, Arch{Input: in, Layers: append(layers, tc.last)})
			if g.Classes() != len(tc.want) {
				t.Fatalf("Classes %d, want %d", g.Classes(), len(tc.want))
			}
			out := make([]float32, g.Classes())
			g.Forward(x, out)
			if !slices.Equal(out, tc.want) {
				t.Errorf("output %v, want %v", out, tc.want)
			}
			outs, err := g.LayerOutputs(x)
			if err != nil {
				t.Fatal(err)
			}
			if last := outs[len(outs)-1]; last.Shape != tc.shape || !slices.Equal(last.Values, tc.want) {
				t.Errorf("LayerOutputs: last %v %v, want %v %v", last.Shape, last.Values, tc.shape, tc.want)
			}
		})
	}
}

// TestGroupedConvIsSeparateConvs checks that a conv with G groups computes,
// bit for bit, what G convs on the groups' channels compute: filter f of
// group g sees channels g·C/G … (g+1)·C/G−1 only, with weights
// w[ky, kx, c − g·C/G, f].
func TestGroupedConvIsSeparateConvs(t *testing.T) {
	const groups, C, F, n = 3, 6, 9, 2
	in := Shape{Height: 5, Width: 4, Channels: C}
	spec := grouped(F, 3, 2, 2, groups, Same, false)
	g := mustGeneric(t, Arch{Input: in, Layers: []LayerSpec{spec}})
	InitParams(g.Params(), 5)
	w, b := g.Params()[0], g.Params()[1]
	if want := []int{3, 2, C / groups, F}; !slices.Equal(w.Shape, want) || w.FanIn != 3*2*C/groups {
		t.Fatalf("weight shape %v fan-in %d, want %v and %d", w.Shape, w.FanIn, want, 3*2*C/groups)
	}
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, n*in.Size())
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	got := make([]float32, n*g.Classes())
	g.Forward(x, got)

	Cg, Fg := C/groups, F/groups
	part := mustGeneric(t, Arch{Input: Shape{Height: 5, Width: 4, Channels: Cg}, Layers: []LayerSpec{grouped(Fg, 3, 2, 2, 1, Same, false)}})
	out := make([]float32, n*part.Classes())
	for k := range groups {
		pw, pb := part.Params()[0].Value, part.Params()[1].Value
		for tap := range 3 * 2 {
			for c := range Cg {
				copy(pw[(tap*Cg+c)*Fg:][:Fg], w.Value[(tap*Cg+c)*F+k*Fg:][:Fg])
			}
		}
		copy(pb, b.Value[k*Fg:(k+1)*Fg])
		xk := make([]float32, 0, n*5*4*Cg)
		for p := range n * 5 * 4 {
			xk = append(xk, x[p*C+k*Cg:p*C+(k+1)*Cg]...)
		}
		part.Forward(xk, out)
		for p := range len(out) / Fg {
			if !slices.Equal(out[p*Fg:(p+1)*Fg], got[p*F+k*Fg:p*F+(k+1)*Fg]) {
				t.Fatalf("group %d, position %d: grouped conv %v, separate conv %v", k, p, got[p*F+k*Fg:p*F+(k+1)*Fg], out[p*Fg:(p+1)*Fg])
			}
		}
	}
}

// TestRegressionNetwork checks a network without softmax: its outputs are the
// last layer's, BackwardSquaredError's loss is SumSquaredError of Forward's
// outputs, and its gradient scales with scale.
func TestRegressionNetwork(t *testing.T) {
	in := Shape{Height: 1, Width: 1, Channels: 5}
	g := mustGeneric(t, Arch{Input: in, Layers: []LayerSpec{denseSpec(3), plainSpec(Tanh), denseSpec(5)}})
	if g.Classes() != 5 {
		t.Fatalf("Classes %d, want 5", g.Classes())
	}
	InitParams(g.Params(), 2)
	r := rand.New(rand.NewPCG(2, 2))
	x := make([]float32, 4*5)
	for i := range x {
		x[i] = r.Float32()
	}
	out := make([]float32, len(x))
	g.Forward(x, out)
	want := SumSquaredError(out, x, 1, nil)
	if loss := g.BackwardSquaredError(x, x, 1); loss != want || loss == 0 {
		t.Errorf("BackwardSquaredError loss %v, SumSquaredError of Forward %v", loss, want)
	}
	first := snapshotGrads(g.Params())
	g.BackwardSquaredError(x, x, 0.5)
	for i, p := range g.Params() {
		for j, v := range p.Grad {
			if v != first[i][j]*0.5 {
				t.Fatalf("scale 0.5: %s[%d] = %v, want %v", p.Name, j, v, first[i][j]*0.5)
			}
		}
	}
}

// TestSumSquaredErrorByHand checks the loss and its gradient on two values.
func TestSumSquaredErrorByHand(t *testing.T) {
	dout := make([]float32, 2)
	loss := SumSquaredError([]float32{1, 2}, []float32{0.5, 4}, 0.5, dout)
	if loss != 4.25 || !slices.Equal(dout, []float32{0.5, -2}) {
		t.Errorf("loss %v gradient %v, want 4.25 and [0.5 -2]", loss, dout)
	}
}

// TestGraphParamsAndBuffers checks the parameter list of the new layers
// (no bias, grouped weights, batch norm γ and β with their inits, dense
// InShape through flatten and dropout, on a spatial input and after
// globalavgpool) and the buffer list.
func TestGraphParamsAndBuffers(t *testing.T) {
	conv := grouped(4, 3, 3, 1, 2, Same, true)
	arch := Arch{Input: Shape{Height: 4, Width: 4, Channels: 2}, Layers: []LayerSpec{
		named(conv, "c"), named(batchNormSpec(), "bn"), named(poolSpec(MaxPool, 2, 2, 2, 2, Same), "p"),
		named(plainSpec(Flatten), "f"), named(LayerSpec{Kind: Dropout, Rate: 0.5}, "drop"), named(denseSpec(3), "d1"),
		named(LayerSpec{Kind: GlobalAvgPool}, "gap", "p"), named(denseSpec(3), "d2"),
		named(denseSpec(3), "d3", "p"),
		named(LayerSpec{Kind: Add}, "sum", "d1", "d2", "d3"), named(batchNormSpec(), "bn2"), named(plainSpec(Softmax), "out"),
	}}
	g := mustGeneric(t, arch)
	var got []string
	for _, p := range g.Params() {
		got = append(got, p.Name+" "+p.ShapeString()+" "+p.Init.String()+" "+p.InShape.String())
	}
	want := []string{
		"c.weight [3 3 1 4] normal(0.3) 0x0x0",
		"bn.weight [4] ones 0x0x0",
		"bn.bias [4] zeros 0x0x0",
		"d1.weight [16 3] normal(0.3) 2x2x4",
		"d1.bias [3] normal(0.1) 0x0x0",
		"d2.weight [4 3] normal(0.3) 1x1x4",
		"d2.bias [3] normal(0.1) 0x0x0",
		"d3.weight [16 3] normal(0.3) 2x2x4",
		"d3.bias [3] normal(0.1) 0x0x0",
		"bn2.weight [3] ones 0x0x0",
		"bn2.bias [3] zeros 0x0x0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("params\n got %q\nwant %q", got, want)
	}
	if fan := g.Params()[0].FanIn; fan != 9 {
		t.Errorf("grouped conv fan-in %d, want 3·3·2/2 = 9", fan)
	}
	got = got[:0]
	for _, b := range g.Buffers() {
		got = append(got, b.Name+" "+b.Layer+" "+(&ParamInfo{Shape: b.Shape}).ShapeString())
	}
	want = []string{
		"bn.running_mean bn [4]", "bn.running_var bn [4]", "bn.num_batches_tracked bn []",
		"bn2.running_mean bn2 [3]", "bn2.running_var bn2 [3]", "bn2.num_batches_tracked bn2 []",
	}
	if !slices.Equal(got, want) {
		t.Errorf("buffers\n got %q\nwant %q", got, want)
	}
	if g.Classes() != 3 {
		t.Errorf("Classes %d, want 3", g.Classes())
	}
}

// TestGraphNoAllocs checks that a graph with batch norm, dropout, fan-out
// and concat allocates nothing at a steady batch size.
func TestGraphNoAllocs(t *testing.T) {
	tc := graphGradCases[3] // concat of three branches with dropout
	arch := Arch{Input: tc.input, Layers: append(slices.Clone(tc.layers[:len(tc.layers)-2]), batchNormSpec(), denseSpec(3), plainSpec(Softmax))}
	g := mustGeneric(t, arch)
	InitParams(g.Params(), 1)
	const n = 4
	x := make([]float32, n*tc.input.Size())
	labels := make([]int32, n)
	logits := make([]float32, n*g.Classes())
	g.Backward(x, labels, 1)
	if a := testing.AllocsPerRun(5, func() {
		g.Backward(x, labels, 1)
		g.BackwardSquaredError(x, logits, 1)
		g.Forward(x, logits)
	}); a != 0 {
		t.Errorf("%v allocations per step, want 0", a)
	}
}

// TestCopyBuffers checks that a float64 engine takes a float32 engine's
// running statistics, so that both evaluate alike, and that a list of
// another network is refused.
func TestCopyBuffers(t *testing.T) {
	arch := Arch{Input: Shape{Height: 2, Width: 2, Channels: 2}, Layers: []LayerSpec{convSpec(3, 1, 1, 1, 1, Valid), batchNormSpec()}}
	g := mustGeneric(t, arch)
	InitParams(g.Params(), 4)
	x := make([]float32, 3*8)
	for i := range x {
		x[i] = float32(i%5) - 2
	}
	g.BackwardSquaredError(x, make([]float32, 3*12), 1)
	g64 := mustGeneric64(t, arch)
	if err := g64.CopyParams(g.Params()); err != nil {
		t.Fatal(err)
	}
	if err := g64.CopyBuffers(g.Buffers()); err != nil {
		t.Fatal(err)
	}
	if *g64.Buffers()[2].Count != 1 {
		t.Errorf("num_batches_tracked %d, want 1", *g64.Buffers()[2].Count)
	}
	out := make([]float32, 3*12)
	g.Forward(x, out)
	x64, out64 := make([]float64, len(x)), make([]float64, len(out))
	for i, v := range x {
		x64[i] = float64(v)
	}
	g64.Forward(x64, out64)
	checkClose(t, "float32 Forward against float64", out, out64, 1e-5)

	other := mustGeneric(t, Arch{Input: arch.Input, Layers: []LayerSpec{named(batchNormSpec(), "norm")}})
	if err := g64.CopyBuffers(other.Buffers()); err == nil {
		t.Error("CopyBuffers took the buffers of another network")
	}
}

// TestInitOnesDrawsNothing checks that InitOnes fills ones without taking a
// draw: the tensors after it get the values they would get without it.
func TestInitOnesDrawsNothing(t *testing.T) {
	normal := Init{Kind: InitNormal, Scale: 1}
	with := initParams([]Init{normal, {Kind: InitOnes}, normal}, []int{3, 4, 3})
	without := initParams([]Init{normal, normal}, []int{3, 3})
	InitParams(with, 8)
	InitParams(without, 8)
	if !slices.Equal(with[0].Value, without[0].Value) || !slices.Equal(with[2].Value, without[1].Value) {
		t.Errorf("values after InitOnes %v, want %v", with[2].Value, without[1].Value)
	}
	if !slices.Equal(with[1].Value, []float32{1, 1, 1, 1}) {
		t.Errorf("InitOnes gave %v", with[1].Value)
	}
	if s := (Init{Kind: InitOnes}).String(); s != "ones" {
		t.Errorf("String %q, want ones", s)
	}
}
