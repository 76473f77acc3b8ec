package runtime

import (
	"fmt"
	"strings"
)

// Shape is the shape of one sample's activation in HWC order: Height rows of
// Width columns of Channels values, channels fastest. A flattened (dense)
// activation has Height = Width = 1.
type Shape struct {
	Height, Width, Channels int
}

// Size is the number of values in an activation of this shape.
func (s Shape) Size() int { return s.Height * s.Width * s.Channels }

// String formats the shape as HxWxC.
func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.Height, s.Width, s.Channels) }

// Padding is a TensorFlow padding mode.
type Padding int

const (
	// Valid uses no padding: o = ⌊(i−f)/s⌋+1.
	Valid Padding = iota
	// Same pads so that o = ⌈i/s⌉, the odd padding element going to the
	// bottom/right.
	Same
)

// String returns "valid" or "same".
func (p Padding) String() string {
	if p == Same {
		return "same"
	}
	return "valid"
}

// Window returns, for one spatial dimension of size in, a window (kernel) of
// size f and a stride s, the output size and the padding before (top or left)
// and after (bottom or right), following TensorFlow:
//
//	VALID: o = ⌊(i−f)/s⌋+1, no padding
//	SAME:  o = ⌈i/s⌉, total padding max((o−1)s+f−i, 0), the odd one after.
//
// The output size is ≤ 0 when a VALID window does not fit.
func Window(in, f, s int, p Padding) (out, before, after int) {
	if p == Valid {
		if in < f {
			return 0, 0, 0
		}
		return (in-f)/s + 1, 0, 0
	}
	out = (in + s - 1) / s
	total := max((out-1)*s+f-in, 0)
	return out, total / 2, total - total/2
}

// LayerKind names a layer type.
type LayerKind string

// The layer kinds.
const (
	Conv2D  LayerKind = "conv2d"
	ReLU    LayerKind = "relu"
	Sigmoid LayerKind = "sigmoid"
	Tanh    LayerKind = "tanh"
	MaxPool LayerKind = "maxpool"
	AvgPool LayerKind = "avgpool"
	Flatten LayerKind = "flatten"
	Dense   LayerKind = "dense"
	Softmax LayerKind = "softmax"

	// BatchNorm normalises each channel (PyTorch's BatchNorm2d after a conv,
	// BatchNorm1d after a dense layer): with the batch's mean and biased
	// variance in training, updating the running mean and the running
	// unbiased variance with Momentum; with the running statistics in
	// evaluation and inference. Its parameters are the scale (weight, γ)
	// and the shift (bias, β), one per channel.
	BatchNorm LayerKind = "batchnorm"
	// Add sums two or more inputs of one shape element by element.
	Add LayerKind = "add"
	// Concat joins two or more inputs of one height and width along the
	// channels, in the order of Inputs.
	Concat LayerKind = "concat"
	// GlobalAvgPool averages each channel over the whole map: HxWxC → 1x1xC.
	GlobalAvgPool LayerKind = "globalavgpool"
	// Dropout zeroes each value with probability Rate in training and scales
	// the others by 1/(1−Rate) (inverted dropout); it is the identity in
	// evaluation and inference. Masks come from [DropoutMask].
	Dropout LayerKind = "dropout"
	// ReLU6 is min(max(x, 0), 6).
	ReLU6 LayerKind = "relu6"
	// LeakyReLU is x for x ≥ 0 and Alpha·x below.
	LeakyReLU LayerKind = "leaky_relu"
)

// InputName is the name by which [LayerSpec.Inputs] refers to the network's
// input; no layer may take it as its own name.
const InputName = "input"

// InitKind names an initialisation distribution.
type InitKind int

const (
	// InitZeros sets every value to 0.
	InitZeros InitKind = iota
	// InitNormal draws from Normal(0, Scale).
	InitNormal
	// InitUniform draws from Uniform(−Scale, Scale).
	InitUniform
	// InitOnes sets every value to 1 (batch norm's scale).
	InitOnes
)

// Init says how to initialise one parameter tensor. Scale is the resolved
// standard deviation (normal) or half-width (uniform).
type Init struct {
	Kind  InitKind
	Scale float64
}

// String formats the rule as zeros, ones, normal(σ) or uniform(a).
func (in Init) String() string {
	switch in.Kind {
	case InitOnes:
		return "ones"
	case InitNormal:
		return fmt.Sprintf("normal(%g)", in.Scale)
	case InitUniform:
		return fmt.Sprintf("uniform(%g)", in.Scale)
	}
	return "zeros"
}

// LayerSpec is one layer of an [Arch]. Only the fields that apply to Kind are
// set: Filters, kernel, stride, padding and groups for conv2d; kernel (the
// window), stride and padding for the pools; Units for dense; Momentum and
// Epsilon for batchnorm; Alpha for leaky_relu; Rate for dropout; the inits
// for the layers with parameters.
type LayerSpec struct {
	Kind LayerKind
	Name string
	// Inputs names the layers whose outputs feed this one, [InputName] for
	// the network's input. Empty means the previous layer of Arch.Layers
	// (the network's input for the first layer), so a chain needs none.
	// add and concat take two or more, every other kind exactly one.
	Inputs []string

	Filters          int
	KernelH, KernelW int
	StrideH, StrideW int
	Padding          Padding
	// Groups splits a conv2d's input channels and filters into that many
	// groups, as PyTorch's groups does: filter f sees only the input
	// channels of its group g = f/(Filters/Groups), channels
	// g·C/Groups … (g+1)·C/Groups−1. Groups = C is a depthwise
	// convolution (with depth multiplier Filters/C). 0 and 1 both mean one
	// group.
	Groups int
	Units  int
	// NoBias leaves out a conv2d or dense layer's bias (PyTorch's
	// bias=False).
	NoBias bool

	// Momentum and Epsilon are batchnorm's, with PyTorch's meaning:
	// running = (1−Momentum)·running + Momentum·batch statistic, and
	// y = (x−mean)/sqrt(var+Epsilon)·γ + β.
	Momentum, Epsilon float64
	// Alpha is leaky_relu's slope below zero.
	Alpha float64
	// Rate is dropout's probability of zeroing a value, in [0, 1).
	Rate float64

	WeightInit, BiasInit Init
}

// GroupCount returns the number of groups of a conv2d layer: Groups, or 1
// when it is 0.
func (l LayerSpec) GroupCount() int { return max(l.Groups, 1) }

// Arch is a network as the runtime sees it: the input shape and the layers
// in an order in which every layer comes after the layers it takes as
// Inputs. gen/ir produces Archs from validated descriptions; the generic
// engine runs them. The network's output is the last layer's: a classifier
// ends with softmax (its logits are softmax's input), a regression network
// with any other layer (its outputs, flattened, are that layer's output).
// Every other layer feeds at least one later layer.
type Arch struct {
	Name   string
	Input  Shape
	Layers []LayerSpec
}

// ParamInfo describes one trainable tensor in the standard layout that
// parameter listings and checkpoints use:
//
//	conv weight  [KernelH, KernelW, InChannels/Groups, Filters]  (HWIO)
//	dense weight [In, Units]  (inputs in HWC flatten order)
//	bias         [Filters] or [Units]
//	batchnorm    weight (γ) and bias (β), both [Channels]
//
// Name is "<layer>.weight" or "<layer>.bias"; FanIn is the number of inputs
// that feed one output (KernelH·KernelW·InChannels/Groups for a conv, 1 for
// batchnorm).
//
// InShape is set on dense weights only: the per-sample shape of the layer's
// input before flattening (for example 4x4x32 after a conv/pool stack, or
// 1x1xIn after another dense layer), so that InShape.Size() == Shape[0].
// Checkpoints need it to reorder the inputs between cnngen's HWC flatten
// order and PyTorch's CHW order; it is zero on every other tensor.
type ParamInfo struct {
	Name    string
	Layer   string
	Shape   []int
	FanIn   int
	Init    Init
	InShape Shape
}

// Size is the number of values in the tensor.
func (p ParamInfo) Size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// ShapeString formats the shape as [a b c].
func (p ParamInfo) ShapeString() string {
	parts := make([]string, len(p.Shape))
	for i, d := range p.Shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
