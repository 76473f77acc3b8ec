package spec_test

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/spec"
	"github.com/cnngen/cnngen/runtime"
)

func TestParseDigits(t *testing.T) {
	n, err := spec.Parse(examples.DigitsFile, examples.Digits)
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != "digits" || n.Input.Shape() != (runtime.Shape{Height: 8, Width: 8, Channels: 1}) {
		t.Errorf("name %q input %v, want digits 8x8x1", n.Name, n.Input.Shape())
	}
	type layer struct {
		kind             runtime.LayerKind
		name             string
		kh, kw, sh, sw   int
		pad              runtime.Padding
		filters, units   int
		weight, bias     string
		weightSD, biasSD float64 // resolved for the layer's fan-in
		fanIn            int
	}
	want := []layer{
		{kind: runtime.Conv2D, name: "conv1", kh: 3, kw: 3, sh: 1, sw: 1, pad: runtime.Same, filters: 32,
			weight: "normal(1/sqrt(64))", bias: "normal(1/sqrt(64))", weightSD: 0.125, biasSD: 0.125, fanIn: 9},
		{kind: runtime.ReLU, name: "relu1"},
		{kind: runtime.MaxPool, name: "pool1", kh: 2, kw: 2, sh: 2, sw: 2, pad: runtime.Same},
		{kind: runtime.Flatten, name: "flatten1"},
		{kind: runtime.Dense, name: "dense1", units: 300, weight: "normal(1/sqrt(512))", bias: "normal(1/sqrt(512))",
			weightSD: 1 / math.Sqrt(512), biasSD: 1 / math.Sqrt(512), fanIn: 512},
		{kind: runtime.ReLU, name: "relu2"},
		{kind: runtime.Dense, name: "dense2", units: 10, weight: "normal(1/sqrt(300))", bias: "normal(1/sqrt(300))",
			weightSD: 1 / math.Sqrt(300), biasSD: 1 / math.Sqrt(300), fanIn: 300},
		{kind: runtime.Softmax, name: "softmax1"},
	}
	if len(n.Layers) != len(want) {
		t.Fatalf("got %d layers, want %d", len(n.Layers), len(want))
	}
	for i, w := range want {
		l := n.Layers[i]
		got := layer{kind: l.Kind, name: l.Name, kh: l.KernelH, kw: l.KernelW, sh: l.StrideH, sw: l.StrideW,
			pad: l.Padding, filters: l.Filters, units: l.Units, weight: l.WeightInit.Text, bias: l.BiasInit.Text, fanIn: w.fanIn}
		if spec.HasParams(l.Kind) {
			wi, bi := l.WeightInit.Resolve(w.fanIn), l.BiasInit.Resolve(w.fanIn)
			if wi.Kind != runtime.InitNormal || bi.Kind != runtime.InitNormal {
				t.Errorf("layer %d: init kinds %v %v, want normal", i, wi.Kind, bi.Kind)
			}
			got.weightSD, got.biasSD = wi.Scale, bi.Scale
		}
		if math.Abs(got.weightSD-w.weightSD) < 1e-15 && math.Abs(got.biasSD-w.biasSD) < 1e-15 {
			got.weightSD, got.biasSD = w.weightSD, w.biasSD
		}
		if got != w {
			t.Errorf("layer %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
	wantTrain := runtime.TrainConfig{
		Loss:      runtime.CrossEntropy,
		Reduction: runtime.Sum,
		Optimizer: runtime.OptimizerConfig{Kind: runtime.SGD, LearningRate: 0.0001, Schedule: runtime.Schedule{Kind: runtime.Constant}},
		BatchSize: 0, Steps: 2000, Seed: 1, TestFraction: 0.1,
	}
	if n.Train.TrainConfig != wantTrain {
		t.Errorf("train:\n got %+v\nwant %+v", n.Train.TrainConfig, wantTrain)
	}
}

// head is a valid start of a description, for tests that vary the layers
// or the train section.
const head = "input: {height: 8, width: 8, channels: 1}\n"

// okTrain is a valid train section.
const okTrain = "train: {optimizer: {type: sgd, learning_rate: 0.1}, steps: 1}\n"

// net builds a description from layer lines (each "  - ...").
func net(layers ...string) string {
	return head + "layers:\n" + strings.Join(layers, "\n") + "\n" + okTrain
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", 10<<10)
	tests := []struct {
		name string
		file string // default net.yaml
		src  string
		want []string
	}{
		{
			name: "unknown key",
			src:  net("  - {kind: conv2d, filters: 4, kernel: 3, units: 7}", "  - softmax"),
			want: []string{`net.yaml:3:43: conv1: unknown key "units" for conv2d: want one of kind, name, input, inputs, filters, kernel, stride, padding, groups, bias, init`},
		},
		{
			name: "unknown top-level key",
			src:  net("  - softmax") + "version: 2\n",
			want: []string{`net.yaml:5:1: unknown key "version": want one of name, input, layers, train`},
		},
		{
			name: "misspelled kind",
			src:  net("  - {kind: relux}", "  - softmax"),
			want: []string{`net.yaml:3:12: layer 1: unknown layer kind "relux": want one of conv2d, relu, sigmoid, tanh, maxpool, avgpool, flatten, dense, softmax, batchnorm, add, concat, globalavgpool, dropout, relu6, leaky_relu`},
		},
		{
			name: "misspelled kind shorthand",
			src:  net("  - Relu", "  - softmax"),
			want: []string{`net.yaml:3:5: layer 1: unknown layer kind "Relu": want one of conv2d, relu, sigmoid, tanh, maxpool, avgpool, flatten, dense, softmax, batchnorm, add, concat, globalavgpool, dropout, relu6, leaky_relu`},
		},
		{
			name: "missing kind",
			src:  net("  - {filters: 3}", "  - softmax"),
			want: []string{`net.yaml:3:5: layer 1: missing key "kind": want one of conv2d, relu, sigmoid, tanh, maxpool, avgpool, flatten, dense, softmax, batchnorm, add, concat, globalavgpool, dropout, relu6, leaky_relu`},
		},
		{
			name: "bad padding value",
			src:  net("  - {kind: maxpool, window: 2, padding: SAME}", "  - softmax"),
			want: []string{`net.yaml:3:41: pool1: unknown padding "SAME": want same or valid`},
		},
		{
			name: "padding not a string",
			src:  net("  - {kind: maxpool, window: 2, padding: 1}", "  - softmax"),
			want: []string{`net.yaml:3:41: pool1: padding must be same or valid, got 1`},
		},
		{
			name: "kernel zero and three sizes",
			src:  net("  - {kind: conv2d, filters: 4, kernel: 0, stride: [1, 2, 3]}", "  - softmax"),
			want: []string{
				`net.yaml:3:40: conv1: kernel must be an integer from 1 to 4096, got 0`,
				`net.yaml:3:51: conv1: stride must be an integer or a list [height, width], got a list of 3`,
			},
		},
		{
			name: "wrong types",
			src:  net(`  - {kind: conv2d, filters: "32", kernel: {h: 3}, stride: [1, x]}`, "  - {kind: dense, units: 2.5}", "  - softmax"),
			want: []string{
				`net.yaml:3:29: conv1: filters must be an integer from 1 to 65536, got string "32"`,
				`net.yaml:3:43: conv1: kernel must be an integer or a list [height, width], got a mapping`,
				`net.yaml:3:63: conv1: stride width must be an integer from 1 to 4096, got string "x"`,
				`net.yaml:4:26: dense1: units must be an integer from 1 to 65536, got 2.5`,
			},
		},
		{
			name: "huge numbers",
			src:  net("  - {kind: dense, units: 99999999999999999999999999}", "  - {kind: dense, units: 65537}", "  - softmax"),
			want: []string{
				`net.yaml:3:26: dense1: units must be an integer from 1 to 65536, got 99999999999999999999999999`,
				`net.yaml:4:26: dense2: units must be an integer from 1 to 65536, got 65537`,
			},
		},
		{
			name: "duplicate names",
			src:  net("  - {kind: dense, units: 8, name: hidden}", "  - {kind: dense, units: 8, name: hidden}", "  - {kind: dense, units: 8, name: Hidden}", "  - softmax"),
			want: []string{
				`net.yaml:4:35: layer 2: duplicate layer name "hidden" (first used at line 3)`,
				`net.yaml:5:35: layer 3: layer name "Hidden" clashes with "hidden" at line 3: names must differ in more than letter case`,
			},
		},
		{
			name: "hostile names",
			src: net(
				`  - {kind: relu, name: "x\n}func init(){"}`,
				`  - {kind: relu, name: import}`,
				`  - {kind: relu, name: len}`,
				`  - {kind: relu, name: "réseau"}`,
				`  - {kind: relu, name: _x}`,
				`  - {kind: relu, name: 1x}`,
				`  - {kind: relu, name: ""}`,
				`  - {kind: relu, name: `+long+`}`,
				`  - {kind: relu, name: [a]}`,
				"  - softmax"),
			want: []string{
				`net.yaml:3:24: layer 1: layer name "x\n}func init(){" is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter`,
				`net.yaml:4:24: layer 2: layer name "import" is a Go keyword`,
				`net.yaml:5:24: layer 3: layer name "len" is a predeclared Go identifier`,
				`net.yaml:6:24: layer 4: layer name "r\u00e9seau" is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter`,
				`net.yaml:7:24: layer 5: layer name "_x" is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter`,
				`net.yaml:8:24: layer 6: layer name "1x" is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter`,
				`net.yaml:9:24: layer 7: layer name is empty`,
				`net.yaml:10:24: layer 8: layer name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"... is 10240 bytes long: want at most 64`,
				`net.yaml:11:24: layer 9: the layer name must be a string, got a list`,
			},
		},
		{
			name: "hostile network name",
			src:  "name: \"digits\\\"; import \\\"os\"\n" + net("  - softmax"),
			want: []string{`net.yaml:1:7: name: network name "digits\"; import \"os" is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter`},
		},
		{
			name: "file name is not an identifier",
			file: "testdata/my-net.yaml",
			src:  net("  - softmax"),
			want: []string{`testdata/my-net.yaml:1:1: name: the description has no name key and its file name cannot serve as one: name "my-net" is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter`},
		},
		{
			name: "missing input",
			src:  "layers: [softmax]\n" + okTrain,
			want: []string{`net.yaml:1:1: missing key "input"`},
		},
		{
			name: "bad input",
			src:  "input: {height: 0, width: 5000}\nlayers: [softmax]\n" + okTrain,
			want: []string{
				`net.yaml:1:8: input: missing key "channels"`,
				`net.yaml:1:17: input: height must be an integer from 1 to 4096, got 0`,
				`net.yaml:1:27: input: width must be an integer from 1 to 4096, got 5000`,
			},
		},
		{
			name: "input too large",
			src:  "input: {height: 4096, width: 4096, channels: 5}\nlayers: [softmax]\n" + okTrain,
			want: []string{`net.yaml:1:8: input: input 4096x4096x5 has 83886080 values: want at most 67108864`},
		},
		{
			name: "bad init rules",
			src: net(
				`  - {kind: dense, units: 8, init: "normal(1/sqrt(fanin))"}`,
				`  - {kind: dense, units: 8, init: "gauss(0.1)"}`,
				`  - {kind: dense, units: 8, init: "normal(-1)"}`,
				`  - {kind: dense, units: 8, init: {weights: "uniform(sqrt(2/0))", biases: zeros}}`,
				`  - {kind: dense, units: 8, init: 0.1}`,
				"  - softmax"),
			want: []string{
				`net.yaml:3:35: dense1: bad init rule "normal(1/sqrt(fanin))": want fan_in or a positive number inside sqrt, got "fanin"`,
				`net.yaml:4:35: dense2: bad init rule "gauss(0.1)": want zeros, normal(S) or uniform(A), where S and A are a number, 1/sqrt(N), 1/sqrt(fan_in) or sqrt(2/fan_in)`,
				`net.yaml:5:35: dense3: bad init rule "normal(-1)": want a positive number, got -1`,
				`net.yaml:6:45: dense4: bad init rule "uniform(sqrt(2/0))": want fan_in or a positive number inside sqrt, got "0"`,
				`net.yaml:6:67: dense4: unknown key "biases": want weights or bias`,
				`net.yaml:7:35: dense5: init must be a rule such as "normal(1/sqrt(fan_in))" or a mapping {weights: rule, bias: rule}, got 0.1`,
			},
		},
		{
			name: "init on a layer without parameters",
			src:  net(`  - {kind: relu, init: zeros}`, "  - softmax"),
			want: []string{`net.yaml:3:18: relu1: unknown key "init" for relu: want one of kind, name, input, inputs`},
		},
		{
			name: "repeated key",
			src:  net("  - {kind: dense, units: 8, units: 9}", "  - softmax"),
			want: []string{`net.yaml:3:29: dense1: key "units" is repeated (first at line 3)`},
		},
		{
			name: "merge key",
			src:  "base: &b {height: 8}\n" + net("  - softmax"),
			want: []string{`net.yaml:1:1: unknown key "base": want one of name, input, layers, train`},
		},
		{
			name: "merge key in input",
			src:  "input: {<<: {height: 8}, width: 8, channels: 1}\nlayers: [softmax]\n" + okTrain,
			want: []string{
				`net.yaml:1:8: input: missing key "height"`,
				`net.yaml:1:9: input: merge keys (<<) are not supported: write the keys out`,
			},
		},
		{
			name: "train errors",
			src: head + "layers: [softmax]\n" + `train:
  loss: {type: mae, reduction: avg}
  optimizer: {type: adam, learning_rate: -1, momentum: 0.9, beta1: 1.5, schedule: {type: step, gamma: 0}}
  batch: all
  steps: 10
  epochs: 2
  seed: -1
  test_fraction: 1
`,
			want: []string{
				`net.yaml:4:16: train.loss: unknown loss type "mae": want softmax_cross_entropy or mse`,
				`net.yaml:4:32: train.loss: unknown reduction "avg": want sum or mean`,
				`net.yaml:5:42: train.optimizer: learning_rate must be a positive number, got -1`,
				`net.yaml:5:46: train.optimizer: unknown key "momentum" for adam: want one of type, learning_rate, weight_decay, schedule, beta1, beta2, epsilon`,
				`net.yaml:5:68: train.optimizer: beta1 must be a number from 0 up to (not including) 1, got 1.5`,
				`net.yaml:5:83: train.optimizer.schedule: missing key "step_size"`,
				`net.yaml:5:103: train.optimizer.schedule: gamma must be a positive number, got 0`,
				`net.yaml:6:10: train: batch must be an integer from 1 to 1048576 or full, got string "all"`,
				`net.yaml:8:3: train: set steps or epochs, not both`,
				`net.yaml:9:9: train: seed must be an integer from 0 to 9223372036854775807, got -1`,
				`net.yaml:10:18: train: test_fraction must be a number from 0 up to (not including) 1, got 1`,
			},
		},
		{
			name: "misspelled optimizer",
			src:  head + "layers: [softmax]\ntrain: {optimizer: {type: adamw, learning_rate: 0.1}}\n",
			want: []string{
				`net.yaml:3:8: train: missing key "steps" or "epochs"`,
				`net.yaml:3:27: train.optimizer: unknown optimizer type "adamw": want one of sgd, momentum, adam`,
			},
		},
		{
			name: "missing train and optimizer",
			src:  head + "layers: [softmax]\n",
			want: []string{`net.yaml:1:1: missing key "train"`},
		},
		{
			name: "momentum keys",
			src:  head + "layers: [softmax]\ntrain: {optimizer: {type: momentum, learning_rate: 0.1, nesterov: maybe, beta2: 0.9}, epochs: 0}\n",
			want: []string{
				`net.yaml:3:67: train.optimizer: nesterov must be true or false, got string "maybe"`,
				`net.yaml:3:74: train.optimizer: unknown key "beta2" for momentum: want one of type, learning_rate, weight_decay, schedule, momentum, nesterov`,
				`net.yaml:3:95: train: epochs must be an integer from 1 to 1000000, got 0`,
			},
		},
		{
			name: "empty file",
			src:  "",
			want: []string{`net.yaml:1:1: the file is empty: want a network description (keys name, input, layers, train)`},
		},
		{
			name: "comments only",
			src:  "# nothing here\n",
			want: []string{`net.yaml:1:1: the file is empty: want a network description (keys name, input, layers, train)`},
		},
		{
			name: "not a mapping",
			src:  "- conv2d\n- softmax\n",
			want: []string{`net.yaml:1:1: the description must be a mapping with keys name, input, layers, train, got a list`},
		},
		{
			name: "YAML syntax error",
			src:  head + "layers:\n  - {kind: relu\n  - softmax\n",
			want: []string{`net.yaml:3: YAML syntax: did not find expected ',' or '}'`},
		},
		{
			name: "tab indentation",
			src:  head + "layers:\n\t- relu\n",
			want: []string{`net.yaml:3: YAML syntax: found character that cannot start any token`},
		},
		{
			name: "syntax error on the first line",
			src:  "name: a: b\n",
			want: []string{`net.yaml:1: YAML syntax: mapping values are not allowed in this context`},
		},
		{
			name: "unknown alias",
			src:  head + "layers: *missing\n",
			want: []string{`net.yaml:2: YAML syntax: unknown anchor 'missing' referenced`},
		},
		{
			name: "two documents",
			src:  net("  - softmax") + "---\nname: other\n",
			want: []string{`net.yaml:5:1: the file holds more than one YAML document: want one description`},
		},
		{
			name: "no layers",
			src:  head + "layers: []\n" + okTrain,
			want: []string{`net.yaml:2:9: layers: the network has no layers`},
		},
		{
			name: "layers not a list",
			src:  head + "layers: {kind: relu}\n" + okTrain,
			want: []string{`net.yaml:2:9: layers: layers must be a list of layers, got a mapping`},
		},
		{
			name: "layer not a mapping",
			src:  net("  - 7", "  - [relu]", "  - softmax"),
			want: []string{
				`net.yaml:3:5: layer 1: a layer must be a mapping such as {kind: relu}, got 7`,
				`net.yaml:4:5: layer 2: a layer must be a mapping such as {kind: relu}, got a list`,
			},
		},
		{
			name: "several errors at once",
			src: `name: digits
input: {height: 8, width: 8, channels: 1, depth: 3}
layers:
  - {kind: conv2d, filters: 32, kernel: 3, padding: SAME}
  - {kind: relux}
  - {kind: dense, units: 10, name: import}
  - {kind: softmax}
train:
  optimizer: {type: sgd, learning_rate: 0}
  steps: 2000
`,
			want: []string{
				`net.yaml:2:43: input: unknown key "depth": want one of height, width, channels`,
				`net.yaml:4:53: conv1: unknown padding "SAME": want same or valid`,
				`net.yaml:5:12: layer 2: unknown layer kind "relux": want one of conv2d, relu, sigmoid, tanh, maxpool, avgpool, flatten, dense, softmax, batchnorm, add, concat, globalavgpool, dropout, relu6, leaky_relu`,
				`net.yaml:6:36: layer 3: layer name "import" is a Go keyword`,
				`net.yaml:9:41: train.optimizer: learning_rate must be a positive number, got 0`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = "net.yaml"
			}
			n, err := spec.Parse(file, []byte(tt.src))
			if err == nil {
				t.Fatalf("no error; parsed %+v", n)
			}
			if n != nil {
				t.Errorf("got a network and an error")
			}
			var list spec.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not an ErrorList: %v", err, err)
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

func TestDefaultNames(t *testing.T) {
	tests := []struct {
		name   string
		layers []string
		want   string
	}{
		{"per family", []string{"conv2d", "relu", "maxpool", "conv2d", "tanh", "avgpool", "relu", "flatten", "dense", "sigmoid", "dense", "softmax"},
			"conv1 relu1 pool1 conv2 tanh1 pool2 relu2 flatten1 dense1 sigmoid1 dense2 softmax1"},
		// Explicit names keep their place in the count and are never
		// reused: the second dense layer would be dense2, which is taken.
		{"explicit names", []string{"{kind: dense, units: 2, name: dense2}", "{kind: dense, units: 2}", "{kind: dense, units: 2, name: out}", "{kind: dense, units: 2}", "softmax"},
			"dense2 dense3 out dense4 softmax1"},
		{"case-insensitive reservation", []string{"{kind: relu, name: Relu2}", "relu", "relu"}, "Relu2 relu3 relu4"},
	}
	fill := map[string]string{
		"conv2d": "{kind: conv2d, filters: 1, kernel: 1}", "maxpool": "{kind: maxpool, window: 1}",
		"avgpool": "{kind: avgpool, window: 1}", "dense": "{kind: dense, units: 2}",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			for _, l := range tt.layers {
				if f, ok := fill[l]; ok {
					l = f
				}
				lines = append(lines, "  - "+l)
			}
			n, err := spec.Parse("net.yaml", []byte(net(lines...)))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, l := range n.Layers {
				names = append(names, l.Name)
			}
			if got := strings.Join(names, " "); got != tt.want {
				t.Errorf("names %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	src := head + `layers:
  - {kind: conv2d, filters: 2, kernel: [3, 2]}
  - {kind: maxpool, window: [2, 3]}
  - {kind: avgpool, window: 2, stride: [1, 2], padding: same}
  - {kind: dense, units: 4, init: {bias: "uniform(0.5)"}}
  - softmax
train:
  optimizer: {type: adam, learning_rate: 1e-3, schedule: {type: step, step_size: 100, gamma: 0.5}}
  epochs: 3
`
	n, err := spec.Parse("net.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	l := n.Layers
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("conv kernel", [4]int{l[0].KernelH, l[0].KernelW, l[0].StrideH, l[0].StrideW}, [4]int{3, 2, 1, 1})
	check("conv padding", l[0].Padding, runtime.Valid)
	check("conv weight init", l[0].WeightInit.Text, "normal(1/sqrt(fan_in))")
	check("conv bias init", l[0].BiasInit.Text, "zeros")
	check("maxpool stride defaults to window", [2]int{l[1].StrideH, l[1].StrideW}, [2]int{2, 3})
	check("avgpool stride", [2]int{l[2].StrideH, l[2].StrideW}, [2]int{1, 2})
	check("dense weight init", l[3].WeightInit.Text, "normal(1/sqrt(fan_in))")
	check("dense bias init", l[3].BiasInit.Resolve(10), runtime.Init{Kind: runtime.InitUniform, Scale: 0.5})
	want := runtime.TrainConfig{
		Loss:      runtime.CrossEntropy,
		Reduction: runtime.Sum,
		Optimizer: runtime.OptimizerConfig{Kind: runtime.Adam, LearningRate: 0.001, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8,
			Schedule: runtime.Schedule{Kind: runtime.StepDecay, StepSize: 100, Gamma: 0.5}},
		Epochs: 3, Seed: 1, TestFraction: 0.1,
	}
	check("train", n.Train.TrainConfig, want)
	check("name from the file", n.Name, "net")
}

func TestParseInit(t *testing.T) {
	const fanIn = 50
	tests := []struct {
		text string
		want runtime.Init
	}{
		{"zeros", runtime.Init{Kind: runtime.InitZeros}},
		{"normal(0.05)", runtime.Init{Kind: runtime.InitNormal, Scale: 0.05}},
		{"normal(1/sqrt(64))", runtime.Init{Kind: runtime.InitNormal, Scale: 0.125}},
		{"normal( 1 / sqrt( 64 ) )", runtime.Init{Kind: runtime.InitNormal, Scale: 0.125}},
		{"normal(1/sqrt(fan_in))", runtime.Init{Kind: runtime.InitNormal, Scale: 1 / math.Sqrt(fanIn)}},
		{"normal(sqrt(2/fan_in))", runtime.Init{Kind: runtime.InitNormal, Scale: math.Sqrt(2.0 / fanIn)}},
		{"uniform(2/sqrt(fan_in))", runtime.Init{Kind: runtime.InitUniform, Scale: 2 / math.Sqrt(fanIn)}},
		{"uniform(sqrt(6/fan_in))", runtime.Init{Kind: runtime.InitUniform, Scale: math.Sqrt(6.0 / fanIn)}},
		{"uniform(1e-2)", runtime.Init{Kind: runtime.InitUniform, Scale: 0.01}},
	}
	for _, tt := range tests {
		in, err := spec.ParseInit(tt.text)
		if err != nil {
			t.Errorf("%q: %v", tt.text, err)
			continue
		}
		if got := in.Resolve(fanIn); got.Kind != tt.want.Kind || math.Abs(got.Scale-tt.want.Scale) > 1e-15 {
			t.Errorf("%q resolves to %v, want %v", tt.text, got, tt.want)
		}
	}
	for _, bad := range []string{"", "zero", "normal", "normal()", "normal(0)", "normal(-0.1)", "normal(inf)", "normal(NaN)",
		"normal(1e999)", "normal(sqrt(fan_in)", "normal(1/sqrt())", "normal(x/sqrt(2))", "normal(1*sqrt(2))",
		"normal(sqrt(2/fan_out))", "uniform(1/sqrt(0))", "normal(0.1)x", "normal((0.1))"} {
		if _, err := spec.ParseInit(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestCheckIdent(t *testing.T) {
	for _, ok := range []string{"a", "conv1", "Dense_2", "x_", strings.Repeat("a", 64)} {
		if err := spec.CheckIdent(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "_", "1a", "a-b", "a b", "é", "ａ", "a\x00", "func", "type", "int", "true", "nil", "append",
		"any", "error", "float32", "iota", strings.Repeat("a", 65)} {
		if err := spec.CheckIdent(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestErrorListCap(t *testing.T) {
	var layers []string
	for range 15 {
		layers = append(layers, "  - {kind: relu, bad: 1}")
	}
	_, err := spec.Parse("net.yaml", []byte(net(append(layers, "  - softmax")...)))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != spec.MaxReported+1 {
		t.Fatalf("%d lines, want %d:\n%v", len(lines), spec.MaxReported+1, err)
	}
	if lines[0] != `net.yaml:3:18: relu1: unknown key "bad" for relu: want one of kind, name, input, inputs` {
		t.Errorf("first line %q", lines[0])
	}
	if last := lines[len(lines)-1]; last != "and 5 more errors" {
		t.Errorf("last line %q, want %q", last, "and 5 more errors")
	}
}

func TestLimits(t *testing.T) {
	var layers []string
	for range spec.MaxLayers + 5 {
		layers = append(layers, "  - relu")
	}
	_, err := spec.Parse("net.yaml", []byte(net(layers...)))
	want := fmt.Sprintf("net.yaml:%d:5: layers: the network has %d layers: want at most %d", 3+spec.MaxLayers, spec.MaxLayers+5, spec.MaxLayers)
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	big := make([]byte, spec.MaxFileBytes+1)
	for i := range big {
		big[i] = ' '
	}
	_, err = spec.Parse("big.yaml", big)
	if want := "big.yaml: description larger than 1 MiB"; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// endless is a reader that never ends, counting the bytes read from it.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	clear(p)
	e.n += int64(len(p))
	return len(p), nil
}

// TestReadLimitedEndless reads a description from a reader that never ends:
// ReadLimited stops one byte past the limit with an error naming the file.
func TestReadLimitedEndless(t *testing.T) {
	r := &endless{}
	_, err := spec.ReadLimited(r, "zero.yaml")
	if want := "zero.yaml: description larger than 1 MiB"; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if r.n > 2*spec.MaxFileBytes {
		t.Errorf("read %d bytes of an endless description, want at most about %d", r.n, spec.MaxFileBytes+1)
	}
	// Exactly the limit is fine.
	data, err := spec.ReadLimited(io.LimitReader(r, spec.MaxFileBytes), "max.yaml")
	if err != nil || len(data) != spec.MaxFileBytes {
		t.Errorf("a description of exactly %d bytes: %d bytes, %v", spec.MaxFileBytes, len(data), err)
	}
}

// TestReadFileDevZero reads /dev/zero as a description.
func TestReadFileDevZero(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip(err)
	}
	_, err := spec.ParseFile("/dev/zero")
	if want := "/dev/zero: description larger than 1 MiB"; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// TestDecimalOnly: YAML reads 010 as 8, and 0o10, 0x10, 0b1010 and 1_0 as
// integers too; a description accepts decimal integers only and says what
// to write instead, at the value's file:line:col. Floats in decimal or
// exponent notation stay accepted where numbers are wanted.
func TestDecimalOnly(t *testing.T) {
	for _, tc := range []struct {
		filters string
		want    string // "" when accepted
	}{
		{"10", ""},
		{"+10", ""},
		{"1e1", ""},
		{"010", `net.yaml:3:29: conv1: filters: 010 is not a decimal integer (write 10 or 8)`},
		{"0777", `net.yaml:3:29: conv1: filters: 0777 is not a decimal integer (write 777 or 511)`},
		{"0o10", `net.yaml:3:29: conv1: filters: 0o10 is not a decimal integer (write 8)`},
		{"0x10", `net.yaml:3:29: conv1: filters: 0x10 is not a decimal integer (write 16)`},
		{"0b1010", `net.yaml:3:29: conv1: filters: 0b1010 is not a decimal integer (write 10)`},
		{"1_0", `net.yaml:3:29: conv1: filters: 1_0 is not a decimal integer (write 10)`},
		{"00", `net.yaml:3:29: conv1: filters: 00 is not a decimal integer (write 0)`},
		{"1_000.5", `net.yaml:3:29: conv1: filters: 1_000.5 is not a decimal number`},
		// A long number is quoted and cut (it was cut inside its quotes).
		{"1" + strings.Repeat("0", 60), `net.yaml:3:29: conv1: filters must be an integer from 1 to 65536, got "1000000000000000000000000000000000000000"...`},
	} {
		src := net("  - {kind: conv2d, filters: "+tc.filters+", kernel: 3}", "  - softmax")
		_, err := spec.Parse("net.yaml", []byte(src))
		if tc.want == "" {
			if err != nil {
				t.Errorf("filters: %s: %v", tc.filters, err)
			}
			continue
		}
		if err == nil || err.Error() != tc.want {
			t.Errorf("filters: %s:\n got %v\nwant %s", tc.filters, err, tc.want)
		}
	}
	for _, tc := range []struct {
		lr   string
		want string
	}{
		{"0.001", ""},
		{"1e-4", ""},
		{".5", ""},
		{"1", ""},
		{"0x1", `net.yaml:4:47: train.optimizer: learning_rate: 0x1 is not a decimal integer (write 1)`},
		{"01", `net.yaml:4:47: train.optimizer: learning_rate: 01 is not a decimal integer (write 1)`},
		{"1_0.5", `net.yaml:4:47: train.optimizer: learning_rate: 1_0.5 is not a decimal number`},
	} {
		src := head + "layers:\n  - softmax\ntrain: {optimizer: {type: sgd, learning_rate: " + tc.lr + "}, steps: 1}\n"
		_, err := spec.Parse("net.yaml", []byte(src))
		if tc.want == "" {
			if err != nil {
				t.Errorf("learning_rate: %s: %v", tc.lr, err)
			}
			continue
		}
		if err == nil || err.Error() != tc.want {
			t.Errorf("learning_rate: %s:\n got %v\nwant %s", tc.lr, err, tc.want)
		}
	}
}

// TestLookAlikeNames: a name with a look-alike letter, a bidirectional
// override or a terminal escape is refused with every non-ASCII or control
// character escaped, so that the message shows what differs.
func TestLookAlikeNames(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"\u0441onv1", `net.yaml:3:24: layer 1: layer name "\u0441onv1" is not a valid identifier`},
		{"conv\u202e1", `net.yaml:3:24: layer 1: layer name "conv\u202e1" is not a valid identifier`},
		{"conv\x1b[2J", `net.yaml:3:24: layer 1: layer name "conv\x1b[2J" is not a valid identifier`},
	} {
		src := net(`  - {kind: relu, name: "`+strings.NewReplacer("\x1b", `\e`).Replace(tc.name)+`"}`, "  - softmax")
		_, err := spec.Parse("net.yaml", []byte(src))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("name %q: got %v\nwant %s…", tc.name, err, tc.want)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\x1b\u202e\u0441") {
			t.Errorf("name %q: unescaped in %q", tc.name, err)
		}
	}
}

// TestInitDecimalOnly: numbers inside init rules are decimal too.
func TestInitDecimalOnly(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{"normal(0.01)", ""},
		{"normal(1e-2)", ""},
		{"normal(1/sqrt(64))", ""},
		{"normal(0x1p-4)", `bad init rule "normal(0x1p-4)": "0x1p-4" is not a decimal number`},
		{"uniform(1_0)", `bad init rule "uniform(1_0)": "1_0" is not a decimal number`},
		{"normal(1/sqrt(0x40p0))", `bad init rule "normal(1/sqrt(0x40p0))": want fan_in or a positive number inside sqrt`},
	} {
		_, err := spec.ParseInit(tc.rule)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.rule, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: got %v\nwant %s…", tc.rule, err, tc.want)
		}
	}
}
