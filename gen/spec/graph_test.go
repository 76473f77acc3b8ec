package spec_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/spec"
	"github.com/cnngen/cnngen/runtime"
)

// parseErrors parses src and returns its errors one a line.
func parseErrors(t *testing.T, src string) string {
	t.Helper()
	_, err := spec.Parse("net.yaml", []byte(src))
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParseNewKeys(t *testing.T) {
	src := head + `layers:
  - {kind: conv2d, filters: 8, kernel: 3, groups: 1, bias: false}
  - {kind: batchnorm}
  - {kind: batchnorm, momentum: 0.01, epsilon: 0.001, input: conv1}
  - {kind: add, inputs: [bn1, bn2]}
  - {kind: conv2d, name: dw, filters: 16, kernel: 3, groups: 8, input: add1}
  - {kind: concat, inputs: [dw, input]}
  - {kind: relu6}
  - {kind: leaky_relu}
  - {kind: leaky_relu, alpha: -0.2}
  - {kind: dropout, rate: 0.5}
  - {kind: dropout, rate: 0}
  - globalavgpool
  - {kind: dense, units: 3, bias: true, inputs: [gap1]}
  - {kind: dense, units: 3, bias: false}
train:
  loss: {type: mse, reduction: mean, target: input}
  optimizer: {type: sgd, learning_rate: 0.1}
  steps: 1
`
	n, err := spec.Parse("net.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name              string
		inputs            string
		groups            int
		noBias            bool
		momentum, epsilon float64
		alpha, rate       float64
	}
	want := []row{
		{"conv1", "", 1, true, 0, 0, 0, 0},
		{"bn1", "", 0, false, 0.1, 1e-5, 0, 0},
		{"bn2", "conv1", 0, false, 0.01, 0.001, 0, 0},
		{"add1", "bn1 bn2", 0, false, 0, 0, 0, 0},
		{"dw", "add1", 8, false, 0, 0, 0, 0},
		{"concat1", "dw input", 0, false, 0, 0, 0, 0},
		{"relu6_1", "", 0, false, 0, 0, 0, 0},
		{"leaky_relu1", "", 0, false, 0, 0, 0.01, 0},
		{"leaky_relu2", "", 0, false, 0, 0, -0.2, 0},
		{"dropout1", "", 0, false, 0, 0, 0, 0.5},
		{"dropout2", "", 0, false, 0, 0, 0, 0},
		{"gap1", "", 0, false, 0, 0, 0, 0},
		{"dense1", "gap1", 0, false, 0, 0, 0, 0},
		{"dense2", "", 0, true, 0, 0, 0, 0},
	}
	if len(n.Layers) != len(want) {
		t.Fatalf("%d layers, want %d", len(n.Layers), len(want))
	}
	for i, w := range want {
		l := n.Layers[i]
		got := row{l.Name, strings.Join(l.Inputs, " "), l.Groups, l.NoBias, l.Momentum, l.Epsilon, l.Alpha, l.Rate}
		if got != w {
			t.Errorf("layer %d:\n got %+v\nwant %+v", i, got, w)
		}
		if len(l.InputPos) != len(l.Inputs) {
			t.Errorf("%s: %d input positions for %d inputs", l.Name, len(l.InputPos), len(l.Inputs))
		}
	}
	if got, want := n.Layers[3].InputPos, []spec.Pos{{File: "net.yaml", Line: 6, Col: 26}, {File: "net.yaml", Line: 6, Col: 31}}; !reflect.DeepEqual(got, want) {
		t.Errorf("add1 input positions %v, want %v", got, want)
	}
	if l := n.Layers[0]; l.BiasInit != (spec.Init{}) {
		t.Errorf("conv1 without bias has bias init %+v", l.BiasInit)
	}
	tr := n.Train
	if tr.Loss != runtime.SquaredError || tr.Target != runtime.TargetInput || tr.Reduction != runtime.Mean {
		t.Errorf("train loss %q target %q reduction %v", tr.Loss, tr.Target, tr.Reduction)
	}
	if tr.LossPos != (spec.Pos{File: "net.yaml", Line: 18, Col: 16}) || tr.TargetPos != (spec.Pos{File: "net.yaml", Line: 18, Col: 46}) {
		t.Errorf("loss at %v, target at %v", tr.LossPos, tr.TargetPos)
	}

	// The shorthand takes the defaults.
	if n, err := spec.Parse("net.yaml", []byte(net("  - batchnorm", "  - leaky_relu"))); err != nil ||
		n.Layers[0].Momentum != 0.1 || n.Layers[0].Epsilon != 1e-5 || n.Layers[1].Alpha != 0.01 {
		t.Errorf("shorthand defaults: %v, %+v", err, n)
	}

	// mse's target defaults to the columns; cross-entropy has none.
	mse := strings.Replace(src, ", target: input", "", 1)
	if n, err := spec.Parse("net.yaml", []byte(mse)); err != nil || n.Train.Target != runtime.TargetColumns {
		t.Errorf("mse without target: %v, target %q", err, n.Train.Target)
	}
	if n, err := spec.Parse("net.yaml", []byte(net("  - softmax"))); err != nil || n.Train.Loss != runtime.CrossEntropy || n.Train.Target != "" {
		t.Errorf("default loss: %v, %+v", err, n.Train.TrainConfig)
	}
}

func TestParseNewKeyErrors(t *testing.T) {
	lossTrain := func(loss string) string {
		return head + "layers: [softmax]\ntrain: {loss: " + loss + ", optimizer: {type: sgd, learning_rate: 0.1}, steps: 1}\n"
	}
	tests := []struct {
		name, src, want string
	}{
		{"input and inputs", net("  - {kind: relu, input: input, inputs: [input]}"),
			`net.yaml:3:32: relu1: set input or inputs, not both`},
		{"input not a string", net("  - {kind: relu, input: 3}"),
			`net.yaml:3:25: relu1: input must be a string, got 3`},
		{"inputs not a list", net("  - {kind: add, inputs: relu1}"),
			`net.yaml:3:25: add1: inputs must be a list of layer names, got string "relu1"`},
		{"inputs item not a string", net("  - relu", "  - {kind: add, inputs: [relu1, [a]]}"),
			`net.yaml:4:33: add1: an input must be a string, got a list`},
		{"add with one input", net("  - relu", "  - {kind: add, inputs: [relu1]}"),
			`net.yaml:4:25: add1: add takes from 2 to 256 inputs, got 1`},
		{"add with input", net("  - relu", "  - {kind: add, input: relu1}"),
			`net.yaml:4:17: add1: add takes two or more inputs: write inputs: [A, B]`},
		{"concat without inputs", net("  - relu", "  - {kind: concat}"),
			`net.yaml:4:5: concat1: missing key "inputs": concat takes two or more inputs`},
		{"relu with two inputs", net("  - relu", "  - {kind: relu, inputs: [relu1, input]}"),
			`net.yaml:4:26: relu2: a relu layer takes one input, got 2`},
		{"layer called input", net("  - {kind: relu, name: Input}"),
			`net.yaml:3:24: layer 1: a layer cannot be called "Input": the name stands for the network's input`},
		{"groups zero", net("  - {kind: conv2d, filters: 4, kernel: 3, groups: 0}"),
			`net.yaml:3:51: conv1: groups must be an integer from 1 to 65536, got 0`},
		{"groups on dense", net("  - {kind: dense, units: 4, groups: 2}"),
			`net.yaml:3:29: dense1: unknown key "groups" for dense: want one of kind, name, input, inputs, units, bias, init`},
		{"bias not a bool", net("  - {kind: dense, units: 4, bias: no_thanks}"),
			`net.yaml:3:35: dense1: bias must be true or false, got string "no_thanks"`},
		{"bias init without bias", net(`  - {kind: dense, units: 4, bias: false, init: {bias: "uniform(1)"}}`),
			`net.yaml:3:55: dense1: the layer has bias: false: there is no bias to initialise`},
		{"momentum above 1", net("  - {kind: batchnorm, momentum: 1.5}"),
			`net.yaml:3:33: bn1: momentum must be a number from 0 to 1, got 1.5`},
		{"epsilon zero", net("  - {kind: batchnorm, epsilon: 0}"),
			`net.yaml:3:32: bn1: epsilon must be a positive number, got 0`},
		{"epsilon not a number", net("  - {kind: batchnorm, epsilon: small}"),
			`net.yaml:3:32: bn1: epsilon must be a positive number, got string "small"`},
		{"dropout without rate", net("  - {kind: dropout}"),
			`net.yaml:3:5: dropout1: missing key "rate"`},
		{"dropout rate 1", net("  - {kind: dropout, rate: 1}"),
			`net.yaml:3:27: dropout1: rate must be a number from 0 up to (not including) 1, got 1`},
		{"dropout rate negative", net("  - {kind: dropout, rate: -0.1}"),
			`net.yaml:3:27: dropout1: rate must be a number from 0 up to (not including) 1, got -0.1`},
		{"alpha infinite", net("  - {kind: leaky_relu, alpha: .inf}"),
			`net.yaml:3:31: leaky_relu1: alpha must be a finite number, got .inf`},
		{"alpha on relu", net("  - {kind: relu, alpha: 0.1}"),
			`net.yaml:3:18: relu1: unknown key "alpha" for relu: want one of kind, name, input, inputs`},
		{"dropout shorthand", net("  - dropout"),
			`net.yaml:3:5: dropout1: dropout needs rate: write it as a mapping such as {kind: dropout, rate: ...}`},
		{"add shorthand", net("  - add"),
			`net.yaml:3:5: add1: add needs inputs: write it as a mapping such as {kind: add, inputs: ...}`},
		{"unknown loss", lossTrain("{type: l2}"),
			`net.yaml:3:22: train.loss: unknown loss type "l2": want softmax_cross_entropy or mse`},
		{"unknown target", lossTrain("{type: mse, target: labels}"),
			`net.yaml:3:35: train.loss: unknown target "labels": want columns or input`},
		{"target with cross-entropy", lossTrain("{type: softmax_cross_entropy, target: input}"),
			`net.yaml:3:45: train.loss: target applies to the mse loss only (the loss is softmax_cross_entropy)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseErrors(t, tt.src); got != tt.want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestDefaultNamesNewFamilies(t *testing.T) {
	// A relu6 layer never takes a relu family name, even next to the
	// sixty-first relu: relu6_1 cannot be a relu's default name.
	lines := []string{"  - relu6", "  - batchnorm", "  - {kind: add, inputs: [relu6_1, bn1]}", "  - {kind: concat, inputs: [add1, bn1]}",
		"  - globalavgpool", "  - {kind: dropout, rate: 0.5}", "  - leaky_relu", "  - relu6", "  - relu"}
	n, err := spec.Parse("net.yaml", []byte(net(lines...)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range n.Layers {
		names = append(names, l.Name)
	}
	if got, want := strings.Join(names, " "), "relu6_1 bn1 add1 concat1 gap1 dropout1 leaky_relu1 relu6_2 relu1"; got != want {
		t.Errorf("names %s, want %s", got, want)
	}
}
