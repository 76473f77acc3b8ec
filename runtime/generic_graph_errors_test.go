package runtime

import (
	"math"
	"testing"
)

// named returns spec with a name and inputs.
func named(spec LayerSpec, name string, inputs ...string) LayerSpec {
	spec.Name = name
	spec.Inputs = inputs
	return spec
}

// TestNewGenericGraphErrors checks the errors of the graph rules and of the
// new layers' settings: one case per rule, each message in full.
func TestNewGenericGraphErrors(t *testing.T) {
	in := Shape{Height: 8, Width: 8, Channels: 2}
	tail := []LayerSpec{plainSpec(Flatten), denseSpec(10), plainSpec(Softmax)}
	with := func(first ...LayerSpec) []LayerSpec { return append(first, tail...) }
	conv := func(filters, groups int) LayerSpec {
		s := convSpec(filters, 3, 3, 1, 1, Same)
		s.Groups = groups
		return s
	}
	bn := func(momentum, epsilon float64) LayerSpec {
		return LayerSpec{Kind: BatchNorm, Momentum: momentum, Epsilon: epsilon}
	}
	for _, tc := range []struct {
		name   string
		layers []LayerSpec
		want   string
	}{
		{"unknown input", with(named(convSpec(4, 3, 3, 1, 1, Same), "a"), named(plainSpec(ReLU), "b", "nope")),
			`arch "t", layer 2 "b" (relu): input "nope": no layer has that name`},
		{"input is the layer itself", with(named(plainSpec(ReLU), "a", "a")),
			`arch "t", layer 1 "a" (relu): input "a" is the layer itself`},
		{"input is a later layer", with(named(plainSpec(ReLU), "a", "b"), named(plainSpec(Tanh), "b", "input")),
			`arch "t", layer 1 "a" (relu): input "b" is layer 2, which comes after it: every layer must come after its inputs`},
		{"layer named input", with(named(plainSpec(ReLU), "input")),
			`arch "t", layer 1 "input" (relu): "input" is reserved for the network's input: choose another layer name`},
		{"unused output", with(named(plainSpec(ReLU), "a"), named(plainSpec(Tanh), "b", "input")),
			`arch "t", layer 1 "a" (relu): nothing reads its output: every layer but the last must be the input of a later layer`},
		{"add with one input", with(named(LayerSpec{Kind: Add}, "sum", "input")),
			`arch "t", layer 1 "sum" (add): 1 input, want 2 or more`},
		{"concat with no inputs listed", with(LayerSpec{Kind: Concat}),
			`arch "t", layer 1 "concat1" (concat): 1 input, want 2 or more`},
		{"relu with two inputs", with(named(plainSpec(Tanh), "a"), named(plainSpec(ReLU), "b", "a", "input")),
			`arch "t", layer 2 "b" (relu): 2 inputs, want 1`},
		{"add of different shapes", with(named(convSpec(3, 3, 3, 1, 1, Same), "c"), named(LayerSpec{Kind: Add}, "sum", "c", "input")),
			`arch "t", layer 2 "sum" (add): input "input" is 8x8x2 but input "c" is 8x8x3: add needs inputs of one shape`},
		{"concat of different sizes", with(named(poolSpec(MaxPool, 2, 2, 2, 2, Same), "p"), named(LayerSpec{Kind: Concat}, "cat", "input", "p")),
			`arch "t", layer 2 "cat" (concat): input "p" is 4x4x2 but input "input" is 8x8x2: concat needs inputs of one height and width`},
		{"groups do not divide channels", with(conv(6, 4)),
			`arch "t", layer 1 "conv1" (conv2d): 4 groups do not divide its 2 input channels and 6 filters`},
		{"groups do not divide filters", with(conv(3, 2)),
			`arch "t", layer 1 "conv1" (conv2d): 2 groups do not divide its 2 input channels and 3 filters`},
		{"negative groups", with(conv(4, -2)),
			`arch "t", layer 1 "conv1" (conv2d): groups is -2, want ≥ 1`},
		{"momentum above 1", with(bn(1.5, 1e-5)),
			`arch "t", layer 1 "bn1" (batchnorm): momentum is 1.5, want 0 ≤ momentum ≤ 1`},
		{"negative momentum", with(bn(-0.1, 1e-5)),
			`arch "t", layer 1 "bn1" (batchnorm): momentum is -0.1, want 0 ≤ momentum ≤ 1`},
		{"NaN momentum", with(bn(math.NaN(), 1e-5)),
			`arch "t", layer 1 "bn1" (batchnorm): momentum is NaN, want 0 ≤ momentum ≤ 1`},
		{"zero epsilon", with(bn(0.1, 0)),
			`arch "t", layer 1 "bn1" (batchnorm): epsilon is 0, want a finite number > 0`},
		{"infinite epsilon", with(bn(0.1, math.Inf(1))),
			`arch "t", layer 1 "bn1" (batchnorm): epsilon is +Inf, want a finite number > 0`},
		{"dropout rate 1", with(LayerSpec{Kind: Dropout, Rate: 1}),
			`arch "t", layer 1 "dropout1" (dropout): rate is 1, want 0 ≤ rate < 1`},
		{"negative dropout rate", with(LayerSpec{Kind: Dropout, Rate: -0.5}),
			`arch "t", layer 1 "dropout1" (dropout): rate is -0.5, want 0 ≤ rate < 1`},
		{"NaN dropout rate", with(LayerSpec{Kind: Dropout, Rate: math.NaN()}),
			`arch "t", layer 1 "dropout1" (dropout): rate is NaN, want 0 ≤ rate < 1`},
		{"infinite alpha", with(LayerSpec{Kind: LeakyReLU, Alpha: math.Inf(-1)}),
			`arch "t", layer 1 "leaky_relu1" (leaky_relu): alpha is -Inf, want a finite number`},
		{"NaN alpha", with(LayerSpec{Kind: LeakyReLU, Alpha: math.NaN()}),
			`arch "t", layer 1 "leaky_relu1" (leaky_relu): alpha is NaN, want a finite number`},
		{"globalavgpool after flatten", []LayerSpec{plainSpec(Flatten), {Kind: GlobalAvgPool}, denseSpec(3), plainSpec(Softmax)},
			`arch "t", layer 2 "gap1" (globalavgpool): globalavgpool after flatten: spatial layers must come before flatten`},
		{"pool on a flattened branch", []LayerSpec{named(plainSpec(Flatten), "f"), named(plainSpec(ReLU), "r", "f"),
			named(poolSpec(MaxPool, 1, 1, 1, 1, Valid), "p", "r"), denseSpec(3), plainSpec(Softmax)},
			`arch "t", layer 3 "p" (maxpool): maxpool after flatten: spatial layers must come before flatten`},
		{"softmax after globalavgpool", []LayerSpec{{Kind: GlobalAvgPool}, plainSpec(Softmax)},
			`arch "t", layer 2 "softmax1" (softmax): no flatten before it (its input is 1x1x2)`},
		{"default names of the new kinds collide", with(named(plainSpec(ReLU), "bn1"), LayerSpec{Kind: BatchNorm, Momentum: 0.1, Epsilon: 1e-5}),
			`arch "t", layer 2 "bn1" (batchnorm): duplicate layer name (also layer 1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arch := Arch{Name: "t", Input: in, Layers: tc.layers}
			g, err := NewGeneric(arch)
			if err == nil {
				t.Fatalf("NewGeneric succeeded (%d params), want error %s", len(g.Params()), tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
			if _, err64 := NewGeneric64(arch); err64 == nil || err64.Error() != err.Error() {
				t.Errorf("NewGeneric64 error %v, want the same as NewGeneric", err64)
			}
		})
	}
}
