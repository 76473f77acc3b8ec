package spec

import (
	"math"

	"github.com/cnngen/cnngen/runtime"
)

// Limits that keep a description's network, and the code generated from it,
// a reasonable size. Each is checked with an error that names the limit.
const (
	// MaxFileBytes bounds the size of a description file.
	MaxFileBytes = 1 << 20
	// MaxLayers bounds the number of layers as written.
	MaxLayers = 256
	// MaxDim bounds every height, width, kernel, window and stride.
	MaxDim = 4096
	// MaxUnits bounds the filters of a conv layer and the units of a dense
	// layer.
	MaxUnits = 65536
	// MaxParams bounds the number of trainable values, per layer and in total.
	MaxParams = 64 << 20
	// MaxActivation bounds the number of values in one sample's activation
	// (the input or any layer's output).
	MaxActivation = 64 << 20
	// MaxNameLen bounds the length of the network's and the layers' names.
	MaxNameLen = 64
	// MaxSteps bounds steps; MaxEpochs bounds epochs; MaxBatch bounds the
	// batch size.
	MaxSteps  = 1_000_000_000
	MaxEpochs = 1_000_000
	MaxBatch  = 1 << 20
)

// Network is a description as written, checked key by key: every value has
// the right type and is in range, every name is a valid identifier, and
// defaults are filled in. Whether the layers fit together (shapes, order) is
// checked by gen/ir.
type Network struct {
	// File is the description's file name, as given to [Parse].
	File string
	// Name is the network's name: a valid Go identifier, from the name key
	// or else the file's base name.
	Name string
	// NamePos is the position of the name value (the file's start when the
	// name comes from the file name).
	NamePos Pos
	// Input is the shape of one input sample.
	Input Input
	// Layers are the layers as written, in order (no implicit flatten).
	Layers []Layer
	// LayersPos is the position of the layers key, for errors about the
	// list as a whole.
	LayersPos Pos
	// Train is the training recipe.
	Train Train
}

// Input is the input section: the shape of one sample.
type Input struct {
	Height, Width, Channels int
	// Pos is the position of the input value.
	Pos Pos
}

// Shape returns the input shape.
func (in Input) Shape() runtime.Shape {
	return runtime.Shape{Height: in.Height, Width: in.Width, Channels: in.Channels}
}

// Layer is one layer as written. Only the fields that apply to Kind are set.
type Layer struct {
	Kind runtime.LayerKind
	// Name is the layer's name: the name key or a default (conv1, pool1,
	// dense1, relu1, bn1, ... counted per family in network order; see
	// [Family]).
	Name string
	// Pos is the position of the layer (its first key).
	Pos Pos

	// Filters (conv2d) and Units (dense).
	Filters, Units int
	// KernelH and KernelW are the kernel (conv2d) or window (pools) size.
	KernelH, KernelW int
	// StrideH and StrideW default to 1 for conv2d and to the window for the
	// pools.
	StrideH, StrideW int
	// Padding defaults to valid.
	Padding runtime.Padding

	// WeightInit and BiasInit are the initialisation rules of conv2d and
	// dense layers (defaults: [DefaultWeightInit], [DefaultBiasInit]).
	WeightInit, BiasInit Init

	// Inputs names the layers whose outputs feed this one, as written with
	// the input or inputs key ([runtime.InputName] for the network's
	// input); empty when the layer takes the previous layer's output (the
	// network's input for the first layer). InputPos holds the position of
	// each name.
	Inputs   []string
	InputPos []Pos
	// Groups is a conv2d layer's number of groups (default 1).
	Groups int
	// NoBias is set by bias: false on a conv2d or dense layer.
	NoBias bool
	// Momentum and Epsilon are batchnorm's (defaults [DefaultBNMomentum]
	// and [DefaultBNEpsilon]).
	Momentum, Epsilon float64
	// Alpha is leaky_relu's slope below zero (default [DefaultAlpha]).
	Alpha float64
	// Rate is dropout's probability of zeroing a value.
	Rate float64

	// Positions of the values, for errors found later (zero when the key is
	// absent).
	KernelPos, StridePos, FiltersPos, UnitsPos, GroupsPos Pos
}

// Defaults of the layers' keys.
const (
	// DefaultBNMomentum is batchnorm's momentum, PyTorch's default.
	DefaultBNMomentum = 0.1
	// DefaultBNEpsilon is batchnorm's epsilon, PyTorch's default.
	DefaultBNEpsilon = 1e-5
	// DefaultAlpha is leaky_relu's slope below zero, PyTorch's default.
	DefaultAlpha = 0.01
)

// HasParams reports whether the layer kind has weights and biases with
// initialisation rules (the init key): conv2d and dense.
func HasParams(k runtime.LayerKind) bool { return k == runtime.Conv2D || k == runtime.Dense }

// MultiInput reports whether the layer kind takes two or more inputs (add
// and concat); every other kind takes one.
func MultiInput(k runtime.LayerKind) bool { return k == runtime.Add || k == runtime.Concat }

// Init is an initialisation rule: zeros, normal(S) or uniform(A), where the
// scale S or A may depend on the fan-in of the layer.
type Init struct {
	Kind  runtime.InitKind
	Scale Scale
	// Text is the rule as written (or the default rule's text).
	Text string
	// Pos is the rule's position (zero for defaults).
	Pos Pos
}

// Resolve returns the runtime rule for a tensor whose outputs each see fanIn
// inputs.
func (in Init) Resolve(fanIn int) runtime.Init {
	if in.Kind == runtime.InitZeros {
		return runtime.Init{Kind: runtime.InitZeros}
	}
	return runtime.Init{Kind: in.Kind, Scale: in.Scale.Resolve(fanIn)}
}

// Scale is the scale of a normal or uniform rule:
//
//	Factor                       when !Sqrt
//	Factor·sqrt(Numer/Denom)     when Sqrt and !FanIn
//	Factor·sqrt(Numer/fan_in)    when Sqrt and FanIn
//
// so that 0.05, 1/sqrt(64), 1/sqrt(fan_in) and sqrt(2/fan_in) are all
// Scales.
type Scale struct {
	Factor float64
	Sqrt   bool
	Numer  float64
	Denom  float64
	FanIn  bool
}

// Resolve returns the scale for the given fan-in.
func (s Scale) Resolve(fanIn int) float64 {
	if !s.Sqrt {
		return s.Factor
	}
	d := s.Denom
	if s.FanIn {
		d = float64(fanIn)
	}
	return s.Factor * math.Sqrt(s.Numer/d)
}

// The default initialisation rules.
var (
	// DefaultWeightInit is normal(1/sqrt(fan_in)).
	DefaultWeightInit = Init{
		Kind:  runtime.InitNormal,
		Scale: Scale{Factor: 1, Sqrt: true, Numer: 1, FanIn: true},
		Text:  "normal(1/sqrt(fan_in))",
	}
	// DefaultBiasInit is zeros.
	DefaultBiasInit = Init{Kind: runtime.InitZeros, Text: "zeros"}
)

// Train is the train section: the training recipe, resolved to the runtime's
// configuration with defaults filled in.
type Train struct {
	runtime.TrainConfig
	// Pos is the position of the train section.
	Pos Pos
	// LossPos is the position of the loss type value and TargetPos that
	// of the target value (zero when absent).
	LossPos, TargetPos Pos
}
