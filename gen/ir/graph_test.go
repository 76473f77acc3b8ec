package ir_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/gen/spec"
	"github.com/cnngen/cnngen/runtime"
)

// mseTrain is a regression recipe.
const mseTrain = "train: {loss: {type: mse}, optimizer: {type: sgd, learning_rate: 0.1}, steps: 1}\n"

// regress builds a regression description (loss mse) from describe's
// arguments.
func regress(input string, layers ...string) string {
	return strings.Replace(describe(input, layers...), okTrain, mseTrain, 1)
}

// names lists the network's layer names.
func names(n *ir.Network) string {
	var s []string
	for _, l := range n.Layers {
		s = append(s, l.Name)
	}
	return strings.Join(s, " ")
}

func TestNewLayerShapes(t *testing.T) {
	type row struct {
		out               string
		params, stats     int
		macs              int64
		weight, bias      int
		weightShape       string
		fanIn             int
		weightInit, bInit runtime.Init
	}
	normal := func(sd float64) runtime.Init { return runtime.Init{Kind: runtime.InitNormal, Scale: sd} }
	ones, zeros := runtime.Init{Kind: runtime.InitOnes}, runtime.Init{Kind: runtime.InitZeros}
	tests := []struct {
		name  string
		input string
		layer string
		want  row
	}{
		// 3·3·(8/8)·8 weights + 8 biases; 6·6·8·9 MACs.
		{"depthwise conv", "6x6x8", "{kind: conv2d, filters: 8, groups: 8, kernel: 3, padding: same}",
			row{"6x6x8", 80, 0, 6 * 6 * 8 * 9, 0, 1, "[3 3 1 8]", 9, normal(1.0 / 3), zeros}},
		// Depth multiplier 2: 16 filters over 8 groups; fan-in 3·3·1.
		{"depth multiplier", "6x6x8", "{kind: conv2d, filters: 16, groups: 8, kernel: 3}",
			row{"4x4x16", 3*3*16 + 16, 0, 4 * 4 * 16 * 9, 0, 1, "[3 3 1 16]", 9, normal(1.0 / 3), zeros}},
		// Two groups of 4 channels and 3 filters; fan-in 1·1·4.
		{"two groups", "5x5x8", "{kind: conv2d, filters: 6, groups: 2, kernel: 1}",
			row{"5x5x6", 4*6 + 6, 0, 5 * 5 * 6 * 4, 0, 1, "[1 1 4 6]", 4, normal(0.5), zeros}},
		{"conv without bias", "4x4x2", "{kind: conv2d, filters: 3, kernel: 2, bias: false}",
			row{"3x3x3", 2 * 2 * 2 * 3, 0, 3 * 3 * 3 * 8, 0, -1, "[2 2 2 3]", 8, normal(math.Sqrt(1.0 / 8)), runtime.Init{}}},
		{"batchnorm", "4x4x5", "batchnorm",
			row{"4x4x5", 10, 10, 0, 0, 1, "[5]", 1, ones, zeros}},
		{"globalavgpool", "7x3x6", "globalavgpool", row{"1x1x6", 0, 0, 0, -1, -1, "", 0, runtime.Init{}, runtime.Init{}}},
		{"dropout", "4x4x5", "{kind: dropout, rate: 0.25}", row{"4x4x5", 0, 0, 0, -1, -1, "", 0, runtime.Init{}, runtime.Init{}}},
		{"relu6", "4x4x5", "relu6", row{"4x4x5", 0, 0, 0, -1, -1, "", 0, runtime.Init{}, runtime.Init{}}},
		{"leaky_relu", "4x4x5", "{kind: leaky_relu, alpha: 0.2}", row{"4x4x5", 0, 0, 0, -1, -1, "", 0, runtime.Init{}, runtime.Init{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ir.Load("net.yaml", []byte(describe(tt.input, tt.layer, "{kind: dense, units: 2}", "softmax")))
			if err != nil {
				t.Fatal(err)
			}
			l := n.Layers[0]
			got := row{out: l.Out.String(), params: l.ParamCount, stats: l.RunningStats, macs: l.MACs, weight: l.Weight, bias: l.Bias,
				weightInit: l.WeightInit, bInit: l.BiasInit}
			if l.Weight >= 0 {
				w := n.Params[l.Weight]
				got.weightShape, got.fanIn = w.ShapeString(), w.FanIn
				if w.Name != l.Name+".weight" || w.Init != l.WeightInit {
					t.Errorf("weight %+v", w)
				}
			}
			if l.Bias >= 0 && (n.Params[l.Bias].Name != l.Name+".bias" || n.Params[l.Bias].Init != l.BiasInit) {
				t.Errorf("bias %+v", n.Params[l.Bias])
			}
			if got != tt.want {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
			if l.ActivationBytes != 4*int64(l.Out.Size()) {
				t.Errorf("activation bytes %d for %v", l.ActivationBytes, l.Out)
			}
			// The dense layer takes globalavgpool's output as it is, and
			// every other output through an inserted flatten.
			wantNext := "flatten1"
			if l.Kind == runtime.GlobalAvgPool {
				wantNext = "dense1"
			}
			if n.Layers[1].Name != wantNext {
				t.Errorf("layers %s", names(n))
			}
		})
	}
	// The kind's own settings reach the runtime.
	n, err := ir.Load("net.yaml", []byte(describe("4x4x4", "{kind: batchnorm, momentum: 0.3, epsilon: 0.01}",
		"{kind: leaky_relu, alpha: 0.2}", "{kind: dropout, rate: 0.5}", "{kind: conv2d, filters: 4, groups: 2, kernel: 1}",
		"{kind: conv2d, filters: 4, groups: 1, kernel: 1}", "{kind: dense, units: 2, bias: false}", "softmax")))
	if err != nil {
		t.Fatal(err)
	}
	a := n.Arch().Layers
	if a[0].Momentum != 0.3 || a[0].Epsilon != 0.01 || a[1].Alpha != 0.2 || a[2].Rate != 0.5 || a[3].Groups != 2 || a[4].Groups != 0 || !a[6].NoBias {
		t.Errorf("arch %+v", a)
	}
	if d := n.Layers[6]; d.Bias != -1 || d.ParamCount != 4*4*4*2 || len(n.Params) != 2+2+1+1+1 {
		t.Errorf("dense without bias: bias %d, %d params; %d tensors", d.Bias, d.ParamCount, len(n.Params))
	}
}

// resnet is a residual block with a projected shortcut, written in an
// order that is already topological.
var resnet = describe("8x8x3",
	"{kind: conv2d, name: stem, filters: 8, kernel: 3, padding: same}",
	"{kind: conv2d, name: a, filters: 16, kernel: 3, stride: 2, padding: same}",
	"{kind: batchnorm, name: a_bn}",
	"relu",
	"{kind: conv2d, name: b, filters: 16, kernel: 3, padding: same}",
	"{kind: conv2d, name: short, input: stem, filters: 16, kernel: 1, stride: 2, bias: false}",
	"{kind: add, name: sum, inputs: [short, b]}",
	"relu",
	"globalavgpool",
	"{kind: dense, units: 3}",
	"softmax")

func TestResidual(t *testing.T) {
	n, err := ir.Load("net.yaml", []byte(resnet))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(n), "stem a a_bn relu1 b short sum relu2 gap1 dense1 softmax1"; got != want {
		t.Fatalf("layers %s, want %s", got, want)
	}
	wantInputs := [][]int{{-1}, {0}, {1}, {2}, {3}, {0}, {5, 4}, {6}, {7}, {8}, {9}}
	for i, l := range n.Layers {
		if !reflect.DeepEqual(l.Inputs, wantInputs[i]) {
			t.Errorf("%s: inputs %v, want %v", l.Name, l.Inputs, wantInputs[i])
		}
	}
	// The runtime gets names where a layer does not take the one before
	// (the first layer takes the input, which comes before it).
	a := n.Arch()
	for i, want := range [][]string{nil, nil, nil, nil, nil, {"stem"}, {"short", "b"}, nil, nil, nil, nil} {
		if !reflect.DeepEqual(a.Layers[i].Inputs, want) {
			t.Errorf("arch %s: inputs %q, want %q", a.Layers[i].Name, a.Layers[i].Inputs, want)
		}
	}
	sum := n.Layers[6]
	if sum.In.String() != "4x4x16" || sum.Out.String() != "4x4x16" || sum.MACs != 0 || sum.ParamCount != 0 {
		t.Errorf("sum: %v -> %v, %d MACs, %d params", sum.In, sum.Out, sum.MACs, sum.ParamCount)
	}
	if gap := n.Layers[8]; gap.Out.String() != "1x1x16" || gap.Geometry() != "4x4 global" {
		t.Errorf("gap: %v, %q", gap.Out, gap.Geometry())
	}
	if d := n.Params[n.Layers[9].Weight]; d.InShape.String() != "1x1x16" || d.FanIn != 16 {
		t.Errorf("dense weight %+v", d)
	}
	// stem 3·3·3·8+8, a 3·3·8·16+16, a_bn 2·16, b 3·3·16·16+16, short
	// 8·16, dense 16·3+3.
	params := 224 + 1168 + 32 + 2320 + 128 + 51
	macs := int64(8*8*8*27 + 4*4*16*72 + 4*4*16*144 + 4*4*16*8 + 16*3)
	if got := n.Totals(); got.Params != params || got.RunningStats != 32 || got.BatchNorms != 1 || got.MACs != macs {
		t.Errorf("totals %+v, want %d params, 32 running stats, %d MACs", got, params, macs)
	}
	if n.Classes != 3 {
		t.Errorf("%d classes", n.Classes)
	}
}

func TestConcat(t *testing.T) {
	n, err := ir.Load("net.yaml", []byte(describe("6x6x2",
		"{kind: conv2d, name: left, filters: 3, kernel: 1}",
		"{kind: maxpool, name: right, input: input, window: 3, stride: 1, padding: same}",
		"{kind: concat, name: both, inputs: [left, right, input]}",
		"{kind: dense, units: 2}", "softmax")))
	if err != nil {
		t.Fatal(err)
	}
	both := n.Layers[2]
	if both.Out.String() != "6x6x7" || !reflect.DeepEqual(both.Inputs, []int{0, 1, -1}) ||
		!reflect.DeepEqual(both.LayerSpec.Inputs, []string{"left", "right", "input"}) {
		t.Errorf("concat: out %v, inputs %v %q", both.Out, both.Inputs, both.LayerSpec.Inputs)
	}
	if got := names(n); got != "left right both flatten1 dense1 softmax1" {
		t.Errorf("layers %s", got)
	}
	if w := n.Params[n.Layers[4].Weight]; w.InShape.String() != "6x6x7" {
		t.Errorf("dense weight InShape %v", w.InShape)
	}
}

func TestTopologicalOrder(t *testing.T) {
	// The shortcut is written after the add that takes it, and the dense
	// layer before the flatten it takes: each moves only as far as needed.
	n, err := ir.Load("net.yaml", []byte(describe("4x4x2",
		"{kind: conv2d, name: c1, filters: 2, kernel: 1}",
		"{kind: add, name: sum, inputs: [c1, c2]}",
		"{kind: conv2d, name: c2, input: input, filters: 2, kernel: 1}",
		"{kind: dense, name: fc, input: flat, units: 2}",
		"{kind: flatten, name: flat, input: sum}",
		"{kind: softmax, input: fc}")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(n), "c1 c2 sum flat fc softmax1"; got != want {
		t.Errorf("layers %s, want %s", got, want)
	}
	for i, l := range n.Layers {
		for _, k := range l.Inputs {
			if k >= i {
				t.Errorf("%s at %d takes layer %d", l.Name, i, k)
			}
		}
	}
	// sum now takes the layer just before it only in part: names stay.
	if got := n.Layers[2].LayerSpec.Inputs; !reflect.DeepEqual(got, []string{"c1", "c2"}) {
		t.Errorf("sum inputs %q", got)
	}
	// The layer written after another whose input it is keeps "previous
	// as written": c2's default would be sum, not the layer placed before.
	if got := n.Layers[1].LayerSpec.Inputs; !reflect.DeepEqual(got, []string{"input"}) {
		t.Errorf("c2 inputs %q", got)
	}
}

func TestRegression(t *testing.T) {
	n, err := ir.Load("net.yaml", []byte(regress("1x1x6", "{kind: dense, units: 4}", "relu", "{kind: dense, units: 3}")))
	if err != nil {
		t.Fatal(err)
	}
	if n.Classes != 3 || n.Train.Loss != runtime.SquaredError || n.Train.Target != runtime.TargetColumns ||
		names(n) != "flatten1 dense1 relu1 dense2" {
		t.Errorf("classes %d, train %+v, layers %s", n.Classes, n.Train, names(n))
	}
	// An autoencoder: its output has its input's 2·3·4 values.
	src := strings.Replace(regress("2x3x4", "{kind: dense, units: 5}", "{kind: dense, units: 24}"), "{type: mse}", "{type: mse, target: input}", 1)
	if n, err = ir.Load("net.yaml", []byte(src)); err != nil || n.Classes != 24 || n.Train.Target != runtime.TargetInput {
		t.Errorf("autoencoder: %v, %+v", err, n)
	}
}

func TestGraphErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown input suggests", describe("4x4x1", "{kind: conv2d, name: block1_relu, filters: 2, kernel: 1}", "{kind: relu, input: blok1_relu}", "{kind: dense, units: 2}", "softmax"),
			`net.yaml:4:25: relu1: unknown input "blok1_relu": did you mean "block1_relu"?`},
		{"unknown input suggests input", describe("4x4x1", "{kind: relu, input: Input}", "{kind: dense, units: 2}", "softmax"),
			`net.yaml:3:25: relu1: unknown input "Input": did you mean "input"?`},
		{"unknown input far from any name", describe("4x4x1", "{kind: relu, input: zzzzzzzzzz}", "{kind: dense, units: 2}", "softmax"),
			`net.yaml:3:25: relu1: unknown input "zzzzzzzzzz": want the name of a layer, or input for the network's input`},
		{"self loop", describe("4x4x1", "{kind: relu, name: r, input: r}", "{kind: dense, units: 2}", "softmax"),
			`net.yaml:3:34: r: r takes its own output as input`},
		{"cycle", describe("4x4x1", "{kind: relu, name: a, input: c}", "{kind: relu, name: b}", "{kind: relu, name: c}", "{kind: dense, units: 2}", "softmax"),
			`net.yaml:3:34: a: the layers form a cycle, each feeding the next: a → b → c → a`},
		{"unused branch", describe("4x4x1", "{kind: relu, name: dead}", "{kind: relu, input: input}", "{kind: dense, units: 2}", "softmax"),
			`net.yaml:3:5: dead: the output of dead is not used: only the network's output, softmax1, may feed no layer (take it as an input, or delete the layer)`},
		{"add shapes", describe("4x4x2", "{kind: conv2d, name: a, filters: 3, kernel: 1}", "{kind: add, inputs: [a, input]}", "{kind: dense, units: 2}", "softmax"),
			`net.yaml:4:29: add1: add sums inputs of one shape, but input gives 4x4x2 and a gives 4x4x3`},
		{"concat sizes", describe("4x4x2", "{kind: maxpool, name: p, window: 2}", "{kind: concat, inputs: [input, p]}", "{kind: dense, units: 2}", "softmax"),
			`net.yaml:4:36: concat1: concat joins inputs of one height and width, but p gives 2x2x2 and input gives 4x4x2`},
		{"groups and channels", describe("4x4x3", "{kind: conv2d, filters: 4, groups: 2, kernel: 1}", "{kind: dense, units: 2}", "softmax"),
			`net.yaml:3:40: conv1: 2 groups must divide both the 3 input channels (from input) and the 4 filters`},
		{"groups and filters", describe("4x4x4", "{kind: conv2d, filters: 6, groups: 4, kernel: 1}", "{kind: dense, units: 2}", "softmax"),
			`net.yaml:3:40: conv1: 4 groups must divide both the 4 input channels (from input) and the 6 filters`},
		{"two softmax", describe("4x4x1", "{kind: dense, name: d, units: 2}", "softmax", "{kind: softmax, input: d}"),
			"net.yaml:4:5: softmax1: softmax must be the last layer, but softmax2 follows it"},
		{"softmax with mse", regress("4x4x1", "{kind: dense, units: 2}", "softmax"),
			`net.yaml:5:22: train.loss: loss mse regresses a network's outputs, but this network ends with softmax (softmax1): use softmax_cross_entropy, or end without softmax`},
		{"target input size", strings.Replace(regress("4x4x1", "{kind: dense, units: 15}"), "{type: mse}", "{type: mse, target: input}", 1),
			`net.yaml:4:35: train.loss: target input needs an output of the input's size: dense1 gives 15 values (1x1x15), the input has 16 (4x4x1)`},
		{"spatial after dense", describe("4x4x1", "{kind: dense, units: 4}", "globalavgpool", "{kind: dense, units: 2}", "softmax"),
			`net.yaml:4:5: gap1: a globalavgpool layer needs an HxWxC input, but activations are flat from dense1 on: put conv and pool layers before flatten and dense`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ir.Load("net.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error; layers %s", names(n))
			}
			var list spec.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T: %v", err, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestGraphHandMade checks the input counts and names of a spec.Network that
// did not come from spec.Parse.
func TestGraphHandMade(t *testing.T) {
	in := spec.Input{Height: 4, Width: 4, Channels: 1}
	tail := []spec.Layer{{Kind: runtime.Dense, Name: "d", Units: 2}, {Kind: runtime.Softmax, Name: "s"}}
	tests := []struct {
		name   string
		layers []spec.Layer
		want   string
	}{
		{"add with one input", []spec.Layer{{Kind: runtime.Add, Name: "a", Inputs: []string{"input"}}},
			"layer 1: add takes two or more inputs, got 1"},
		{"relu with two inputs", []spec.Layer{{Kind: runtime.ReLU, Name: "r", Inputs: []string{"input", "input"}}},
			"layer 1: a relu layer takes one input, got 2"},
		{"layer called input", []spec.Layer{{Kind: runtime.ReLU, Name: "INPUT"}},
			`layer 1: a layer cannot be called "INPUT": the name stands for the network's input`},
		{"batchnorm without epsilon", []spec.Layer{{Kind: runtime.BatchNorm, Name: "bn", Momentum: 0.1}},
			"layer 1: a batchnorm layer with momentum 0.1 and epsilon 0: want momentum from 0 to 1 and a finite epsilon above 0"},
		{"dropout rate 1", []spec.Layer{{Kind: runtime.Dropout, Name: "dr", Rate: 1}},
			"layer 1: a dropout layer with rate 1: want a rate from 0 up to (not including) 1"},
	}
	for _, tt := range tests {
		net := spec.Network{Name: "n", Input: in, Layers: append(tt.layers, tail...)}
		if _, err := ir.Build(&net); err == nil || err.Error() != tt.want {
			t.Errorf("%s: got %v\nwant %s", tt.name, err, tt.want)
		}
	}
}
