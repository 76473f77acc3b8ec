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
)

// InitKind names an initialisation distribution.
type InitKind int

const (
	// InitZeros sets every value to 0.
	InitZeros InitKind = iota
	// InitNormal draws from Normal(0, Scale).
	InitNormal
	// InitUniform draws from Uniform(−Scale, Scale).
	InitUniform
)

// Init says how to initialise one parameter tensor. Scale is the resolved
// standard deviation (normal) or half-width (uniform).
type Init struct {
	Kind  InitKind
	Scale float64
}

// String formats the rule as zeros, normal(σ) or uniform(a).
func (in Init) String() string {
	switch in.Kind {
	case InitNormal:
		return fmt.Sprintf("normal(%g)", in.Scale)
	case InitUniform:
		return fmt.Sprintf("uniform(%g)", in.Scale)
	}
	return "zeros"
}

// LayerSpec is one layer of an [Arch]. Only the fields that apply to Kind are
// set: Filters, kernel, stride and padding for conv2d; kernel (the window),
// stride and padding for the pools; Units for dense; the inits for the layers
// with parameters.
type LayerSpec struct {
	Kind LayerKind
	Name string

	Filters          int
	KernelH, KernelW int
	StrideH, StrideW int
	Padding          Padding
	Units            int

	WeightInit, BiasInit Init
}

// Arch is a network as the runtime sees it: the input shape and the layers in
// order. gen/ir produces Archs from validated descriptions; the generic engine
// runs them. The last layer is softmax; a flatten precedes the first dense
// layer.
type Arch struct {
	Name   string
	Input  Shape
	Layers []LayerSpec
}

// ParamInfo describes one trainable tensor in the standard layout that
// parameter listings and checkpoints use:
//
//	conv weight  [KernelH, KernelW, InChannels, Filters]  (HWIO)
//	dense weight [In, Units]  (inputs in HWC flatten order)
//	bias         [Filters] or [Units]
//
// Name is "<layer>.weight" or "<layer>.bias"; FanIn is the number of inputs
// that feed one output.
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
