package runtime

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// maxTensorElements bounds the number of values of one sample's activation
// and of one parameter tensor, so that an absurd Arch is rejected with an
// error instead of overflowing int arithmetic or exhausting memory. It is
// the largest int32 so that it is an int on 32-bit platforms too.
const maxTensorElements = math.MaxInt32

// layerPlan is one layer of the generic engine with everything resolved from
// its [LayerSpec]: its name, inputs, per-sample shapes, TensorFlow padding
// and the indexes of its parameters. Plans are shared by both precisions.
type layerPlan struct {
	LayerSpec
	// in is the shape of the first input; out the output shape.
	in, out Shape
	// inputs are the layers whose outputs feed this one, in the order of
	// LayerSpec.Inputs, -1 for the network's input; inShapes their shapes.
	inputs   []int
	inShapes []Shape
	// src are the tensors this layer reads: inputs with every flatten
	// replaced by the tensor it reads (flatten only renames a tensor, as HWC
	// order is already the flatten order). A tensor is named by the layer
	// that computes it, -1 for the network's input.
	src []int
	// padTop and padLeft are the padding before the first row and column
	// (conv and pool layers); the padding after is implied by the shapes.
	padTop, padLeft int
	// weight and bias index the engine's parameter list; -1 when the layer
	// has none.
	weight, bias int
	// norm indexes the engine's batch norm statistics; -1 for other kinds.
	norm int
	// index is the layer's position in Arch.Layers (dropout masks use it).
	index int
}

// windowRange returns, for output coordinate o of a conv or pool layer along
// one dimension, the first input coordinate of its window (which may be
// negative, inside the padding) and the range [k0, k1) of window offsets
// that fall inside the input of size in. Offsets outside that range are
// padding: zeros for conv and avgpool (which skip them), −∞ for maxpool
// (which, as every window holds at least one input value, also skips them).
func windowRange(o, stride, pad, f, in int) (start, k0, k1 int) {
	start = o*stride - pad
	k0 = max(0, -start)
	k1 = min(f, in-start)
	return start, k0, k1
}

// defaultLayerPrefix is the prefix of a layer's default name: conv1, pool1,
// dense1, bn1, gap1, relu6_1 (as gen/spec names them), and the kind itself for
// the others (relu1, flatten1, add1, concat1, dropout1, leaky_relu1, …).
func defaultLayerPrefix(k LayerKind) string {
	switch k {
	case Conv2D:
		return "conv"
	case MaxPool, AvgPool:
		return "pool"
	case BatchNorm:
		return "bn"
	case GlobalAvgPool:
		return "gap"
	case ReLU6:
		return "relu6_" // relu6_1: never read as the sixty-first relu
	}
	return string(k)
}

// archError is an error in an [Arch] handed to [NewGeneric].
type archError struct {
	arch  string
	layer int // 1-based; 0 for the whole network
	name  string
	kind  LayerKind
	msg   string
}

func (e *archError) Error() string {
	var where []string
	if e.arch != "" {
		where = append(where, fmt.Sprintf("arch %q", e.arch))
	}
	if e.layer > 0 {
		where = append(where, fmt.Sprintf("layer %d %q (%s)", e.layer, e.name, e.kind))
	}
	if len(where) == 0 {
		where = append(where, "arch")
	}
	return strings.Join(where, ", ") + ": " + e.msg
}

// planArch checks arch, resolves every layer's inputs, shapes and padding
// (with [Window]) and lists the parameters in [Model.Params] order. It
// returns an error, never panics, for an Arch that does not describe a
// network the engine can run: non-positive sizes, a VALID window larger than
// its input, a spatial layer on a flattened input, softmax without a
// flattened input or not last, unknown kinds, paddings or initialisations,
// duplicate or reserved layer names, inputs that name no layer, the layer
// itself or a later one, wrong input counts, add inputs of different shapes,
// concat inputs of different heights and widths, conv groups that divide
// neither channels nor filters, batchnorm, dropout or leaky_relu settings out
// of range, a layer other than the last whose output nothing reads, or
// tensors too large to address.
func planArch(arch Arch) (plans []layerPlan, params []ParamInfo, classes int, err error) {
	fail := func(i int, l LayerSpec, format string, args ...any) error {
		return &archError{arch: arch.Name, layer: i + 1, name: l.Name, kind: l.Kind, msg: fmt.Sprintf(format, args...)}
	}
	if in := arch.Input; in.Height < 1 || in.Width < 1 || in.Channels < 1 {
		return nil, nil, 0, &archError{arch: arch.Name, msg: fmt.Sprintf("input shape %v must have every dimension ≥ 1", in)}
	}
	if in := arch.Input; !fitsTensor(in.Height, in.Width, in.Channels) {
		return nil, nil, 0, &archError{arch: arch.Name, msg: fmt.Sprintf("input shape %v has more than %d values", in, maxTensorElements)}
	}
	if len(arch.Layers) == 0 {
		return nil, nil, 0, &archError{arch: arch.Name, msg: "no layers"}
	}

	// Names first: an input may name any layer, and the error for one that
	// comes later should say so rather than that it does not exist.
	names := make([]string, len(arch.Layers))
	counts := map[string]int{}
	seen := map[string]int{}
	for i, spec := range arch.Layers {
		prefix := defaultLayerPrefix(spec.Kind)
		counts[prefix]++
		names[i] = spec.Name
		if names[i] == "" {
			names[i] = fmt.Sprintf("%s%d", prefix, counts[prefix])
		}
		spec.Name = names[i]
		if names[i] == InputName {
			return nil, nil, 0, fail(i, spec, "%q is reserved for the network's input: choose another layer name", InputName)
		}
		if j, dup := seen[names[i]]; dup {
			return nil, nil, 0, fail(i, spec, "duplicate layer name (also layer %d)", j+1)
		}
		seen[names[i]] = i
	}

	// Per layer output (the network's input, -1, is stored at index
	// len(arch.Layers)): whether it is flattened (made by flatten or dense,
	// or from a flattened output by a layer that keeps the shape, add or
	// concat), and the shape a dense layer reading it sees before any
	// flatten (for ParamInfo.InShape): a flatten's input, carried through
	// the layers that keep the shape, else the output's own shape.
	n := len(arch.Layers)
	flat := make([]bool, n+1)
	unflattened := make([]Shape, n+1)
	at := func(t int) int { // index into flat and unflattened
		if t < 0 {
			return n
		}
		return t
	}
	unflattened[n] = arch.Input
	used := make([]bool, n)
	for i, spec := range arch.Layers {
		spec.Name = names[i]
		l := layerPlan{LayerSpec: spec, weight: -1, bias: -1, norm: -1, index: i}

		// Inputs.
		if len(spec.Inputs) == 0 {
			l.inputs = []int{i - 1} // the previous layer, or -1: the input
		}
		for _, name := range spec.Inputs {
			j, ok := seen[name]
			switch {
			case name == InputName:
				j = -1
			case !ok:
				return nil, nil, 0, fail(i, l.LayerSpec, "input %q: no layer has that name", name)
			case j == i:
				return nil, nil, 0, fail(i, l.LayerSpec, "input %q is the layer itself", name)
			case j > i:
				return nil, nil, 0, fail(i, l.LayerSpec, "input %q is layer %d, which comes after it: every layer must come after its inputs", name, j+1)
			}
			l.inputs = append(l.inputs, j)
		}
		switch spec.Kind {
		case Add, Concat:
			if len(l.inputs) < 2 {
				return nil, nil, 0, fail(i, l.LayerSpec, "%d input, want 2 or more", len(l.inputs))
			}
		default:
			if len(l.inputs) != 1 {
				return nil, nil, 0, fail(i, l.LayerSpec, "%d inputs, want 1", len(l.inputs))
			}
		}
		anyFlat := false
		for _, j := range l.inputs {
			if j >= 0 {
				used[j] = true
				l.inShapes = append(l.inShapes, plans[j].out)
				l.src = append(l.src, plans[j].tensor())
			} else {
				l.inShapes = append(l.inShapes, arch.Input)
				l.src = append(l.src, -1)
			}
			anyFlat = anyFlat || flat[at(j)]
		}
		in := l.inShapes[0]
		l.in = in
		src := at(l.inputs[0])
		// By default the output is a tensor of its own, not flattened.
		keepsShape := false

		switch spec.Kind {
		case Conv2D, MaxPool, AvgPool:
			if anyFlat {
				return nil, nil, 0, fail(i, l.LayerSpec, "%s after flatten: spatial layers must come before flatten", spec.Kind)
			}
			if spec.Kind == Conv2D && spec.Filters < 1 {
				return nil, nil, 0, fail(i, l.LayerSpec, "filters is %d, want ≥ 1", spec.Filters)
			}
			if spec.KernelH < 1 || spec.KernelW < 1 {
				return nil, nil, 0, fail(i, l.LayerSpec, "kernel %dx%d, want both sizes ≥ 1", spec.KernelH, spec.KernelW)
			}
			if spec.StrideH < 1 || spec.StrideW < 1 {
				return nil, nil, 0, fail(i, l.LayerSpec, "stride %dx%d, want both strides ≥ 1", spec.StrideH, spec.StrideW)
			}
			if spec.Padding != Valid && spec.Padding != Same {
				return nil, nil, 0, fail(i, l.LayerSpec, "padding %d, want valid (%d) or same (%d)", int(spec.Padding), int(Valid), int(Same))
			}
			if spec.Kind == Conv2D {
				if spec.Groups < 0 {
					return nil, nil, 0, fail(i, l.LayerSpec, "groups is %d, want ≥ 1", spec.Groups)
				}
				if g := spec.GroupCount(); in.Channels%g != 0 || spec.Filters%g != 0 {
					return nil, nil, 0, fail(i, l.LayerSpec, "%d groups do not divide its %d input channels and %d filters", g, in.Channels, spec.Filters)
				}
			}
			outH, top, _ := Window(in.Height, spec.KernelH, spec.StrideH, spec.Padding)
			outW, left, _ := Window(in.Width, spec.KernelW, spec.StrideW, spec.Padding)
			if outH < 1 || outW < 1 {
				return nil, nil, 0, fail(i, l.LayerSpec, "kernel %dx%d does not fit its %v input with valid padding",
					spec.KernelH, spec.KernelW, in)
			}
			l.padTop, l.padLeft = top, left
			channels := in.Channels
			if spec.Kind == Conv2D {
				channels = spec.Filters
			}
			l.out = Shape{Height: outH, Width: outW, Channels: channels}
			if spec.Kind == Conv2D {
				groupIn := in.Channels / spec.GroupCount()
				if !fitsTensor(spec.KernelH, spec.KernelW, groupIn, spec.Filters) {
					return nil, nil, 0, fail(i, l.LayerSpec, "weight [%d %d %d %d] has more than %d values",
						spec.KernelH, spec.KernelW, groupIn, spec.Filters, maxTensorElements)
				}
				fanIn := spec.KernelH * spec.KernelW * groupIn
				l.weight = len(params)
				params = append(params,
					ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: []int{spec.KernelH, spec.KernelW, groupIn, spec.Filters}, FanIn: fanIn, Init: spec.WeightInit})
				if !spec.NoBias {
					l.bias = len(params)
					params = append(params, ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: []int{spec.Filters}, FanIn: fanIn, Init: spec.BiasInit})
				}
			}
		case GlobalAvgPool:
			if anyFlat {
				return nil, nil, 0, fail(i, l.LayerSpec, "%s after flatten: spatial layers must come before flatten", spec.Kind)
			}
			l.out = Shape{Height: 1, Width: 1, Channels: in.Channels}
		case ReLU, Sigmoid, Tanh, ReLU6:
			l.out = in
			keepsShape = true
		case LeakyReLU:
			if math.IsNaN(spec.Alpha) || math.IsInf(spec.Alpha, 0) {
				return nil, nil, 0, fail(i, l.LayerSpec, "alpha is %g, want a finite number", spec.Alpha)
			}
			l.out = in
			keepsShape = true
		case Dropout:
			if !(spec.Rate >= 0 && spec.Rate < 1) {
				return nil, nil, 0, fail(i, l.LayerSpec, "rate is %g, want 0 ≤ rate < 1", spec.Rate)
			}
			l.out = in
			keepsShape = true
		case BatchNorm:
			if !(spec.Momentum >= 0 && spec.Momentum <= 1) {
				return nil, nil, 0, fail(i, l.LayerSpec, "momentum is %g, want 0 ≤ momentum ≤ 1", spec.Momentum)
			}
			if !(spec.Epsilon > 0) || math.IsInf(spec.Epsilon, 0) {
				return nil, nil, 0, fail(i, l.LayerSpec, "epsilon is %g, want a finite number > 0", spec.Epsilon)
			}
			l.out = in
			keepsShape = true
			l.norm = 0
			for _, p := range plans {
				if p.Kind == BatchNorm {
					l.norm++
				}
			}
			// PyTorch's initialisation, whatever the spec says: γ = 1, β = 0.
			l.weight, l.bias = len(params), len(params)+1
			shape := []int{in.Channels}
			params = append(params,
				ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: shape, FanIn: 1, Init: Init{Kind: InitOnes}},
				ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: slices.Clone(shape), FanIn: 1, Init: Init{Kind: InitZeros}})
		case Add:
			for k, s := range l.inShapes {
				if s != in {
					return nil, nil, 0, fail(i, l.LayerSpec, "input %s is %v but input %s is %v: add needs inputs of one shape",
						inputName(names, l.inputs[k]), s, inputName(names, l.inputs[0]), in)
				}
			}
			l.out = in
		case Concat:
			channels := 0
			for k, s := range l.inShapes {
				if s.Height != in.Height || s.Width != in.Width {
					return nil, nil, 0, fail(i, l.LayerSpec, "input %s is %v but input %s is %v: concat needs inputs of one height and width",
						inputName(names, l.inputs[k]), s, inputName(names, l.inputs[0]), in)
				}
				channels += s.Channels
			}
			l.out = Shape{Height: in.Height, Width: in.Width, Channels: channels}
		case Flatten:
			l.out = Shape{Height: 1, Width: 1, Channels: in.Size()}
			flat[i] = true
			unflattened[i] = in
		case Dense:
			if spec.Units < 1 {
				return nil, nil, 0, fail(i, l.LayerSpec, "units is %d, want ≥ 1", spec.Units)
			}
			if !fitsTensor(in.Size(), spec.Units) {
				return nil, nil, 0, fail(i, l.LayerSpec, "weight [%d %d] has more than %d values", in.Size(), spec.Units, maxTensorElements)
			}
			l.out = Shape{Height: 1, Width: 1, Channels: spec.Units}
			flat[i] = true
			l.weight = len(params)
			params = append(params,
				ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: []int{in.Size(), spec.Units}, FanIn: in.Size(), Init: spec.WeightInit, InShape: unflattened[src]})
			if !spec.NoBias {
				l.bias = len(params)
				params = append(params, ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: []int{spec.Units}, FanIn: in.Size(), Init: spec.BiasInit})
			}
		case Softmax:
			if i != len(arch.Layers)-1 {
				return nil, nil, 0, fail(i, l.LayerSpec, "softmax must be the last layer")
			}
			if !anyFlat {
				return nil, nil, 0, fail(i, l.LayerSpec, "no flatten before it (its input is %v)", in)
			}
			l.out = in
			classes = in.Size()
		default:
			return nil, nil, 0, fail(i, l.LayerSpec, "unknown layer kind %q: want %s", spec.Kind, kindList())
		}
		if keepsShape {
			flat[i] = anyFlat
			unflattened[i] = unflattened[src]
		} else if spec.Kind != Flatten {
			flat[i] = flat[i] || (anyFlat && (spec.Kind == Add || spec.Kind == Concat))
			unflattened[i] = l.out
		}
		if !fitsTensor(l.out.Height, l.out.Width, l.out.Channels) {
			return nil, nil, 0, fail(i, l.LayerSpec, "output %v has more than %d values", l.out, maxTensorElements)
		}
		if l.weight >= 0 {
			for _, p := range params[l.weight:] {
				if err := checkInit(p.Init); err != nil {
					return nil, nil, 0, fail(i, l.LayerSpec, "%s: %v", p.Name, err)
				}
			}
		}
		plans = append(plans, l)
	}
	for i := range plans[:len(plans)-1] {
		if !used[i] {
			return nil, nil, 0, fail(i, plans[i].LayerSpec, "nothing reads its output: every layer but the last must be the input of a later layer")
		}
	}
	if last := plans[len(plans)-1]; last.Kind != Softmax {
		classes = last.out.Size() // a regression network: its outputs are the last layer's
	}
	return plans, params, classes, nil
}

// tensor returns the tensor that holds the layer's output: its own, or for a
// flatten the tensor it reads.
func (l *layerPlan) tensor() int {
	if l.Kind == Flatten {
		return l.src[0]
	}
	return l.index
}

// inputName returns how errors name input j of a layer: the producing
// layer's name (names holds them, defaults resolved), or "input" for the
// network's input.
func inputName(names []string, j int) string {
	if j < 0 {
		return fmt.Sprintf("%q", InputName)
	}
	return fmt.Sprintf("%q", names[j])
}

// kindList lists the layer kinds the engine runs, for error messages.
func kindList() string {
	kinds := []LayerKind{Conv2D, ReLU, Sigmoid, Tanh, MaxPool, AvgPool, Flatten, Dense, Softmax,
		BatchNorm, Add, Concat, GlobalAvgPool, Dropout, ReLU6, LeakyReLU}
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = string(k)
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// checkInit reports an initialisation rule that [InitParams] cannot apply.
func checkInit(in Init) error {
	switch in.Kind {
	case InitZeros, InitNormal, InitUniform, InitOnes:
	default:
		return fmt.Errorf("unknown initialisation kind %d, want zeros (%d), normal (%d), uniform (%d) or ones (%d)",
			int(in.Kind), int(InitZeros), int(InitNormal), int(InitUniform), int(InitOnes))
	}
	if math.IsNaN(in.Scale) || math.IsInf(in.Scale, 0) || in.Scale < 0 {
		return fmt.Errorf("initialisation scale %g, want a finite value ≥ 0", in.Scale)
	}
	return nil
}

// fitsTensor reports whether the product of dims (each ≥ 1) is at most
// maxTensorElements, without overflowing.
func fitsTensor(dims ...int) bool {
	n := 1
	for _, d := range dims {
		if d < 1 || d > maxTensorElements/n {
			return false
		}
		n *= d
	}
	return true
}
