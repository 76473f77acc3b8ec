package ir_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/gen/spec"
	"github.com/cnngen/cnngen/runtime"
)

const okTrain = "train: {optimizer: {type: sgd, learning_rate: 0.1}, steps: 1}\n"

// describe builds a description with the given input (HxWxC) and layers
// (one flow mapping or kind each).
func describe(input string, layers ...string) string {
	var h, w, c int
	fmt.Sscanf(input, "%dx%dx%d", &h, &w, &c)
	src := fmt.Sprintf("input: {height: %d, width: %d, channels: %d}\nlayers:\n", h, w, c)
	for _, l := range layers {
		src += "  - " + l + "\n"
	}
	return src + okTrain
}

// tail ends a network after its spatial layers.
var tail = []string{"{kind: dense, units: 2}", "softmax"}

func TestShapes(t *testing.T) {
	// Each case gives a network's spatial layers and, for each, the output
	// shape and the padding (top bottom left right), worked out by hand
	// from TensorFlow's rules: VALID o = ⌊(i−f)/s⌋+1; SAME o = ⌈i/s⌉ with
	// total padding max((o−1)s+f−i, 0), the odd one at the bottom/right.
	type want struct {
		out string
		pad [4]int
	}
	tests := []struct {
		name   string
		input  string
		layers []string
		want   []want
	}{
		{"SAME odd kernel", "8x8x1", []string{"{kind: conv2d, filters: 4, kernel: 3, padding: same}"},
			[]want{{"8x8x4", [4]int{1, 1, 1, 1}}}},
		// (8−1)·1+4−8 = 3: one before, two after.
		{"SAME even kernel 4x4", "8x8x1", []string{"{kind: conv2d, filters: 2, kernel: 4, padding: same}"},
			[]want{{"8x8x2", [4]int{1, 2, 1, 2}}}},
		// (8−1)·1+2−8 = 1: all of it after.
		{"SAME even kernel 2x2", "8x8x3", []string{"{kind: conv2d, filters: 5, kernel: 2, padding: same}"},
			[]want{{"8x8x5", [4]int{0, 1, 0, 1}}}},
		// o = ⌈7/2⌉ = 4, (4−1)·2+3−7 = 2.
		{"SAME stride 2 odd size", "7x7x1", []string{"{kind: conv2d, filters: 1, kernel: 3, stride: 2, padding: same}"},
			[]want{{"4x4x1", [4]int{1, 1, 1, 1}}}},
		// o = ⌈7/2⌉ = 4, (4−1)·2+2−7 = 1.
		{"SAME stride 2 odd size even kernel", "7x7x1", []string{"{kind: conv2d, filters: 1, kernel: 2, stride: 2, padding: same}"},
			[]want{{"4x4x1", [4]int{0, 1, 0, 1}}}},
		// o = ⌈9/3⌉ = 3, (3−1)·3+3−9 = 0.
		{"SAME stride 3 exact", "9x9x1", []string{"{kind: conv2d, filters: 1, kernel: 3, stride: 3, padding: same}"},
			[]want{{"3x3x1", [4]int{}}}},
		// o = ⌈5/2⌉ = 3, (3−1)·2+2−5 = 1: the pool needs a padding row and
		// column (−∞ for max).
		{"max pool that needs padding", "5x5x3", []string{"{kind: maxpool, window: 2, stride: 2, padding: same}"},
			[]want{{"3x3x3", [4]int{0, 1, 0, 1}}}},
		{"avg pool 3x3 stride 2 SAME", "8x8x2", []string{"{kind: avgpool, window: 3, stride: 2, padding: same}"},
			[]want{{"4x4x2", [4]int{0, 1, 0, 1}}}},
		// ⌊(8−3)/2⌋+1 = 3: the last row and column are never read.
		{"VALID stride 2 drops the remainder", "8x8x1", []string{"{kind: conv2d, filters: 1, kernel: 3, stride: 2}"},
			[]want{{"3x3x1", [4]int{}}}},
		{"VALID kernel equals input", "4x4x2", []string{"{kind: conv2d, filters: 3, kernel: 4}"},
			[]want{{"1x1x3", [4]int{}}}},
		// Rows: ⌊(6−3)/1⌋+1 = 4; columns: ⌊(9−2)/3⌋+1 = 3.
		{"non-square VALID", "6x9x1", []string{"{kind: conv2d, filters: 2, kernel: [3, 2], stride: [1, 3]}"},
			[]want{{"4x3x2", [4]int{}}}},
		// Rows: o = 6, (6−1)·1+3−6 = 2; columns: o = ⌈9/2⌉ = 5, (5−1)·2+1−9 = 0.
		{"non-square SAME", "6x9x1", []string{"{kind: conv2d, filters: 2, kernel: [3, 1], stride: [1, 2], padding: same}"},
			[]want{{"6x5x2", [4]int{1, 1, 0, 0}}}},
		{"pool stride defaults to window", "8x6x4", []string{"{kind: maxpool, window: [2, 3]}"},
			[]want{{"4x2x4", [4]int{}}}},
		{"the tutorial", "8x8x1", []string{
			"{kind: conv2d, filters: 32, kernel: 3, padding: same}", "relu", "{kind: maxpool, window: 2, stride: 2, padding: same}"},
			[]want{{"8x8x32", [4]int{1, 1, 1, 1}}, {"8x8x32", [4]int{}}, {"4x4x32", [4]int{}}}},
		{"a chain", "8x8x1", []string{
			"{kind: conv2d, filters: 16, kernel: 2}", "tanh", "{kind: conv2d, filters: 8, kernel: 3, stride: 2, padding: same}",
			"sigmoid", "{kind: avgpool, window: 3, stride: 1}"},
			[]want{{"7x7x16", [4]int{}}, {"7x7x16", [4]int{}}, {"4x4x8", [4]int{1, 1, 1, 1}}, {"4x4x8", [4]int{}}, {"2x2x8", [4]int{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ir.Load("net.yaml", []byte(describe(tt.input, append(tt.layers, tail...)...)))
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tt.want {
				l := n.Layers[i]
				got := want{l.Out.String(), [4]int{l.PadTop, l.PadBottom, l.PadLeft, l.PadRight}}
				if got != w {
					t.Errorf("layer %d (%s): out %s pad %v, want %s pad %v", i, l.Name, got.out, got.pad, w.out, w.pad)
				}
				if i > 0 && l.In != n.Layers[i-1].Out {
					t.Errorf("layer %d: input %v is not the previous output %v", i, l.In, n.Layers[i-1].Out)
				}
			}
		})
	}
}

func TestDigits(t *testing.T) {
	n, err := ir.Load(examples.DigitsFile, examples.Digits)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name     string
		kind     runtime.LayerKind
		in, out  string
		params   int
		macs     int64
		bytes    int64
		wIdx, bI int
	}
	want := []row{
		{"conv1", runtime.Conv2D, "8x8x1", "8x8x32", 3*3*1*32 + 32, 8 * 8 * 32 * 3 * 3 * 1, 8 * 8 * 32 * 4, 0, 1},
		{"relu1", runtime.ReLU, "8x8x32", "8x8x32", 0, 0, 8 * 8 * 32 * 4, -1, -1},
		{"pool1", runtime.MaxPool, "8x8x32", "4x4x32", 0, 0, 4 * 4 * 32 * 4, -1, -1},
		{"flatten1", runtime.Flatten, "4x4x32", "1x1x512", 0, 0, 512 * 4, -1, -1},
		{"dense1", runtime.Dense, "1x1x512", "1x1x300", 512*300 + 300, 512 * 300, 300 * 4, 2, 3},
		{"relu2", runtime.ReLU, "1x1x300", "1x1x300", 0, 0, 300 * 4, -1, -1},
		{"dense2", runtime.Dense, "1x1x300", "1x1x10", 300*10 + 10, 300 * 10, 10 * 4, 4, 5},
		{"softmax1", runtime.Softmax, "1x1x10", "1x1x10", 0, 0, 10 * 4, -1, -1},
	}
	if len(n.Layers) != len(want) {
		t.Fatalf("%d layers, want %d", len(n.Layers), len(want))
	}
	for i, w := range want {
		l := n.Layers[i]
		got := row{l.Name, l.Kind, l.In.String(), l.Out.String(), l.ParamCount, l.MACs, l.ActivationBytes, l.Weight, l.Bias}
		if got != w {
			t.Errorf("layer %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
	if got, want := n.Totals(), (ir.Totals{Params: 157230, MACs: 175032, ActivationBytes: 22960}); got != want {
		t.Errorf("totals %+v, want %+v", got, want)
	}
	if n.Name != "digits" || n.Classes != 10 || n.Input != (runtime.Shape{Height: 8, Width: 8, Channels: 1}) {
		t.Errorf("name %q classes %d input %v", n.Name, n.Classes, n.Input)
	}
	norm := func(sd float64) runtime.Init { return runtime.Init{Kind: runtime.InitNormal, Scale: sd} }
	wantParams := []runtime.ParamInfo{
		{Name: "conv1.weight", Layer: "conv1", Shape: []int{3, 3, 1, 32}, FanIn: 9, Init: norm(0.125)},
		{Name: "conv1.bias", Layer: "conv1", Shape: []int{32}, FanIn: 9, Init: norm(0.125)},
		{Name: "dense1.weight", Layer: "dense1", Shape: []int{512, 300}, FanIn: 512, Init: norm(1 / math.Sqrt(512)),
			InShape: runtime.Shape{Height: 4, Width: 4, Channels: 32}},
		{Name: "dense1.bias", Layer: "dense1", Shape: []int{300}, FanIn: 512, Init: norm(1 / math.Sqrt(512))},
		{Name: "dense2.weight", Layer: "dense2", Shape: []int{300, 10}, FanIn: 300, Init: norm(1 / math.Sqrt(300)),
			InShape: runtime.Shape{Height: 1, Width: 1, Channels: 300}},
		{Name: "dense2.bias", Layer: "dense2", Shape: []int{10}, FanIn: 300, Init: norm(1 / math.Sqrt(300))},
	}
	if len(n.Params) != len(wantParams) {
		t.Fatalf("%d params, want %d", len(n.Params), len(wantParams))
	}
	total := 0
	for i, w := range wantParams {
		p := n.Params[i]
		if math.Abs(p.Init.Scale-w.Init.Scale) < 1e-15 {
			p.Init.Scale = w.Init.Scale
		}
		if !reflect.DeepEqual(p, w) {
			t.Errorf("param %d:\n got %+v\nwant %+v", i, p, w)
		}
		total += p.Size()
	}
	if total != 157230 {
		t.Errorf("param sizes add up to %d, want 157230", total)
	}
	wantTrain := runtime.TrainConfig{
		Loss:      runtime.CrossEntropy,
		Reduction: runtime.Sum,
		Optimizer: runtime.OptimizerConfig{Kind: runtime.SGD, LearningRate: 0.0001, Schedule: runtime.Schedule{Kind: runtime.Constant}},
		BatchSize: 0, Steps: 2000, Seed: 1, TestFraction: 0.1,
	}
	if n.Train != wantTrain {
		t.Errorf("train %+v, want %+v", n.Train, wantTrain)
	}
}

func TestArch(t *testing.T) {
	n, err := ir.Load(examples.DigitsFile, examples.Digits)
	if err != nil {
		t.Fatal(err)
	}
	a := n.Arch()
	if a.Name != "digits" || a.Input != n.Input || len(a.Layers) != len(n.Layers) {
		t.Fatalf("arch %+v", a)
	}
	for i, l := range a.Layers {
		if !reflect.DeepEqual(l, n.Layers[i].LayerSpec) {
			t.Errorf("layer %d: %+v, want %+v", i, l, n.Layers[i].LayerSpec)
		}
	}
	c := a.Layers[0]
	if c.Kind != runtime.Conv2D || c.KernelH != 3 || c.StrideW != 1 || c.Padding != runtime.Same || c.Filters != 32 ||
		c.WeightInit != (runtime.Init{Kind: runtime.InitNormal, Scale: 0.125}) || c.BiasInit != c.WeightInit {
		t.Errorf("conv1 spec %+v", c)
	}
	if p := a.Layers[2]; p.Kind != runtime.MaxPool || p.KernelH != 2 || p.StrideH != 2 || p.Padding != runtime.Same {
		t.Errorf("pool1 spec %+v", p)
	}
}

func TestImplicitFlatten(t *testing.T) {
	tests := []struct {
		name   string
		layers []string
		want   string // the names of the layers
	}{
		{"inserted", []string{"{kind: conv2d, filters: 2, kernel: 3}", "{kind: dense, units: 3}", "softmax"},
			"conv1 flatten1 dense1 softmax1"},
		{"name taken", []string{"{kind: relu, name: flatten1}", "{kind: dense, units: 3}", "softmax"},
			"flatten1 flatten2 dense1 softmax1"},
		{"written", []string{"flatten", "{kind: dense, units: 3}", "relu", "{kind: dense, units: 3}", "softmax"},
			"flatten1 dense1 relu1 dense2 softmax1"},
		{"activation before softmax", []string{"{kind: dense, units: 3}", "sigmoid", "softmax"},
			"flatten1 dense1 sigmoid1 softmax1"},
		{"activation after flatten", []string{"flatten", "relu", "{kind: dense, units: 3}", "softmax"},
			"flatten1 relu1 dense1 softmax1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ir.Load("net.yaml", []byte(describe("4x4x2", tt.layers...)))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, l := range n.Layers {
				names = append(names, l.Name)
				if l.Kind == runtime.Flatten {
					if l.Out != (runtime.Shape{Height: 1, Width: 1, Channels: l.In.Size()}) {
						t.Errorf("%s: %v -> %v", l.Name, l.In, l.Out)
					}
					if written := slices.Contains(tt.layers, "flatten"); l.Pos.IsValid() != written {
						t.Errorf("%s: pos %v", l.Name, l.Pos)
					}
				}
			}
			if got := strings.Join(names, " "); got != tt.want {
				t.Errorf("layers %s, want %s", got, tt.want)
			}
			// The first dense weight remembers the shape before flattening;
			// a later one sees a flat input.
			var flatIn runtime.Shape
			firstDense := true
			for _, l := range n.Layers {
				switch l.Kind {
				case runtime.Flatten:
					flatIn = l.In
				case runtime.Dense:
					want := runtime.Shape{Height: 1, Width: 1, Channels: l.In.Size()}
					if firstDense {
						want = flatIn
					}
					firstDense = false
					if got := n.Params[l.Weight].InShape; got != want {
						t.Errorf("%s: weight InShape %v, want %v", l.Name, got, want)
					}
				}
			}
			if n.Classes != 3 {
				t.Errorf("classes %d, want 3", n.Classes)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		lines []string
		want  []string
	}{
		{
			name:  "kernel larger than input",
			input: "8x8x1",
			lines: []string{"{kind: conv2d, filters: 4, kernel: 3, padding: same}", "{kind: maxpool, window: 2}",
				"{kind: maxpool, window: 2}", "{kind: conv2d, filters: 4, kernel: 5}", "{kind: dense, units: 2}", "softmax"},
			want: []string{`net.yaml:6:40: conv2: kernel 5x5 is larger than its 2x2 input (from pool2)`},
		},
		{
			name:  "valid window does not fit",
			input: "3x5x1",
			lines: []string{"{kind: avgpool, window: [2, 6]}", "{kind: dense, units: 2}", "softmax"},
			want:  []string{`net.yaml:3:29: pool1: window 2x6 is larger than its 3x5 input (from input)`},
		},
		{
			name:  "softmax not last",
			input: "4x4x1",
			lines: []string{"{kind: dense, units: 4}", "softmax", "relu"},
			want: []string{
				`net.yaml:4:5: softmax1: softmax must be the last layer, but relu1 follows it`,
				`net.yaml:5:5: relu1: the network must end with a softmax layer (it ends with this relu layer), or train with loss type mse to regress its outputs`,
			},
		},
		{
			name:  "no softmax",
			input: "4x4x1",
			lines: []string{"{kind: dense, units: 4}"},
			want:  []string{`net.yaml:3:5: dense1: the network must end with a softmax layer (it ends with this dense layer), or train with loss type mse to regress its outputs`},
		},
		{
			name:  "no dense before softmax",
			input: "4x4x1",
			lines: []string{"{kind: conv2d, filters: 10, kernel: 4}", "flatten", "softmax"},
			want:  []string{`net.yaml:5:5: softmax1: softmax needs a dense layer before it to compute the class scores`},
		},
		{
			name:  "one class",
			input: "4x4x1",
			lines: []string{"{kind: dense, units: 1}", "softmax"},
			want:  []string{`net.yaml:3:26: dense1: the last dense layer gives the class scores: want at least 2 units, got 1`},
		},
		{
			name:  "conv after dense and flatten twice",
			input: "4x4x1",
			lines: []string{"{kind: dense, units: 4}", "flatten", "{kind: conv2d, filters: 2, kernel: 1}", "{kind: maxpool, window: 1}", "{kind: dense, units: 2}", "softmax"},
			want: []string{
				`net.yaml:4:5: flatten1: activations are already flat from dense1 on: flatten once, before the first dense layer`,
				`net.yaml:5:5: conv1: a conv2d layer needs an HxWxC input, but activations are flat from dense1 on: put conv and pool layers before flatten and dense`,
				`net.yaml:6:5: pool1: a maxpool layer needs an HxWxC input, but activations are flat from dense1 on: put conv and pool layers before flatten and dense`,
			},
		},
		{
			name:  "layer too large",
			input: "64x64x4",
			lines: []string{"{kind: conv2d, filters: 64, kernel: 3, padding: same}", "{kind: dense, units: 10000}", "{kind: dense, units: 10}", "softmax"},
			want:  []string{`net.yaml:4:26: dense1: the layer has 2621450000 parameters: want at most 67108864`},
		},
		{
			name:  "network too large",
			input: "1x1x4096",
			lines: []string{"{kind: dense, units: 8192}", "{kind: dense, units: 4096}", "{kind: dense, units: 2}", "softmax"},
			want:  []string{`net.yaml:2:1: the network has 67129346 parameters: want at most 67108864`},
		},
		{
			name:  "activation too large",
			input: "4096x4096x1",
			lines: []string{"{kind: conv2d, filters: 8, kernel: 1}", "{kind: dense, units: 2}", "softmax"},
			want:  []string{`net.yaml:3:29: conv1: the output 4096x4096x8 has 134217728 values: want at most 67108864`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ir.Load("net.yaml", []byte(describe(tt.input, tt.lines...)))
			if err == nil {
				t.Fatalf("no error; layers %+v", n.Layers)
			}
			var list spec.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not a spec.ErrorList: %v", err, err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestExamples(t *testing.T) {
	entries, err := examples.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	// Every example must build into a network that keeps the IR's
	// promises; the digits examples (8x8x1 in, 10 classes) must together
	// exercise every layer kind of the chain format and these geometries.
	seen := map[string]bool{}
	digits := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		data, err := examples.FS.ReadFile(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		n, err := ir.Load(e.Name(), data)
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		checkNetwork(t, e.Name(), n)
		if n.Input != (runtime.Shape{Height: 8, Width: 8, Channels: 1}) || n.Classes != 10 {
			continue
		}
		digits++
		convs := 0
		for _, l := range n.Layers {
			seen[string(l.Kind)] = true
			switch l.Kind {
			case runtime.Conv2D:
				convs++
				if l.KernelH%2 == 0 {
					seen["even kernel"] = true
					if l.Padding == runtime.Same {
						seen["even kernel SAME"] = true
					}
				}
				fallthrough
			case runtime.MaxPool, runtime.AvgPool:
				seen[l.Padding.String()] = true
				if l.StrideH == 2 {
					seen["stride 2"] = true
				}
			}
		}
		if convs >= 2 {
			seen["two convs"] = true
		}
	}
	if digits < 3 {
		t.Fatalf("%d digits examples, want at least 3", digits)
	}
	for _, k := range []string{"conv2d", "relu", "sigmoid", "tanh", "maxpool", "avgpool", "flatten", "dense", "softmax",
		"valid", "same", "stride 2", "even kernel", "even kernel SAME", "two convs"} {
		if !seen[k] {
			t.Errorf("no digits example exercises %s", k)
		}
	}
}

// TestBuildHandMade checks that Build keeps the IR's promises for a
// spec.Network that did not come from spec.Parse.
func TestBuildHandMade(t *testing.T) {
	in := spec.Input{Height: 8, Width: 8, Channels: 1}
	tests := []struct {
		name string
		net  spec.Network
		want string
	}{
		{"no layers", spec.Network{Name: "n", Input: in},
			"layers: the network has 0 layers: want 1 to 256"},
		{"bad names", spec.Network{Name: "func", Input: in, Layers: []spec.Layer{
			{Kind: runtime.ReLU, Name: "x y"}, {Kind: runtime.Dense, Name: "d", Units: 2}, {Kind: runtime.Softmax, Name: "D"}}},
			"name: network name \"func\" is a Go keyword\n" +
				"layer 1: layer name \"x y\" is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter\n" +
				"layer 3: duplicate layer name \"D\""},
		{"zero stride and unknown kind", spec.Network{Name: "n", Input: in, Layers: []spec.Layer{
			{Kind: runtime.Conv2D, Name: "c", Filters: 2, KernelH: 3, KernelW: 3}, {Kind: "lstm", Name: "l"}}},
			"layer 1: a conv2d layer with sizes [2 3 3 0 0 1]: want 1 to 4096 (65536 for filters, groups and units)\n" +
				"layer 2: unknown layer kind \"lstm\""},
	}
	for _, tt := range tests {
		_, err := ir.Build(&tt.net)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: got %v\nwant %s", tt.name, err, tt.want)
		}
	}
	if _, err := ir.Build(nil); err == nil {
		t.Error("Build(nil): no error")
	}
}
