package runtime

import (
	"fmt"
	"math"
	"strings"
)

// maxTensorElements bounds the number of values of one sample's activation
// and of one parameter tensor, so that an absurd Arch is rejected with an
// error instead of overflowing int arithmetic or exhausting memory.
const maxTensorElements = 1 << 31

// layerPlan is one layer of the generic engine with everything resolved from
// its [LayerSpec]: its name, per-sample shapes, TensorFlow padding and the
// indexes of its parameters. Plans are shared by both precisions.
type layerPlan struct {
	LayerSpec
	in, out Shape
	// padTop and padLeft are the padding before the first row and column
	// (conv and pool layers); the padding after is implied by the shapes.
	padTop, padLeft int
	// weight and bias index the engine's parameter list; -1 when the layer
	// has none.
	weight, bias int
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
// dense1, and the kind itself for the others (relu1, flatten1, …).
func defaultLayerPrefix(k LayerKind) string {
	switch k {
	case Conv2D:
		return "conv"
	case MaxPool, AvgPool:
		return "pool"
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

// planArch checks arch and resolves every layer's shapes and padding with
// [Window], and lists the parameters in [Model.Params] order. It returns an
// error, never panics, for an Arch that does not describe a network the
// engine can run: non-positive sizes, a VALID window larger than its input,
// a spatial layer after flatten, a dense layer or softmax without a flatten
// before it, softmax missing or not last, unknown kinds, paddings or
// initialisations, duplicate layer names, or tensors too large to address.
func planArch(arch Arch) (plans []layerPlan, params []ParamInfo, classes int, err error) {
	fail := func(i int, l LayerSpec, format string, args ...any) error {
		return &archError{arch: arch.Name, layer: i + 1, name: l.Name, kind: l.Kind, msg: fmt.Sprintf(format, args...)}
	}
	in := arch.Input
	if in.Height < 1 || in.Width < 1 || in.Channels < 1 {
		return nil, nil, 0, &archError{arch: arch.Name, msg: fmt.Sprintf("input shape %v must have every dimension ≥ 1", in)}
	}
	if !fitsTensor(in.Height, in.Width, in.Channels) {
		return nil, nil, 0, &archError{arch: arch.Name, msg: fmt.Sprintf("input shape %v has more than %d values", in, maxTensorElements)}
	}
	if len(arch.Layers) == 0 {
		return nil, nil, 0, &archError{arch: arch.Name, msg: "no layers (the last layer must be softmax)"}
	}

	counts := map[string]int{}
	seen := map[string]int{}
	flat := false // a flatten has been seen: only dense, activations and softmax may follow
	// unflattened is the per-sample shape that the next dense layer's inputs
	// come from: the input of the flatten, or the previous dense output.
	var unflattened Shape
	for i, spec := range arch.Layers {
		l := layerPlan{LayerSpec: spec, in: in, weight: -1, bias: -1}
		prefix := defaultLayerPrefix(spec.Kind)
		counts[prefix]++
		if l.Name == "" {
			l.Name = fmt.Sprintf("%s%d", prefix, counts[prefix])
		}
		if j, dup := seen[l.Name]; dup {
			return nil, nil, 0, fail(i, l.LayerSpec, "duplicate layer name (also layer %d)", j+1)
		}
		seen[l.Name] = i

		switch spec.Kind {
		case Conv2D, MaxPool, AvgPool:
			if flat {
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
				if !fitsTensor(spec.KernelH, spec.KernelW, in.Channels, spec.Filters) {
					return nil, nil, 0, fail(i, l.LayerSpec, "weight [%d %d %d %d] has more than %d values",
						spec.KernelH, spec.KernelW, in.Channels, spec.Filters, maxTensorElements)
				}
				fanIn := spec.KernelH * spec.KernelW * in.Channels
				l.weight, l.bias = len(params), len(params)+1
				params = append(params,
					ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: []int{spec.KernelH, spec.KernelW, in.Channels, spec.Filters}, FanIn: fanIn, Init: spec.WeightInit},
					ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: []int{spec.Filters}, FanIn: fanIn, Init: spec.BiasInit})
			}
		case ReLU, Sigmoid, Tanh:
			l.out = in
		case Flatten:
			l.out = Shape{Height: 1, Width: 1, Channels: in.Size()}
			flat = true
			unflattened = in
		case Dense:
			if !flat {
				return nil, nil, 0, fail(i, l.LayerSpec, "no flatten before it (its input is %v)", in)
			}
			if spec.Units < 1 {
				return nil, nil, 0, fail(i, l.LayerSpec, "units is %d, want ≥ 1", spec.Units)
			}
			if !fitsTensor(in.Size(), spec.Units) {
				return nil, nil, 0, fail(i, l.LayerSpec, "weight [%d %d] has more than %d values", in.Size(), spec.Units, maxTensorElements)
			}
			l.out = Shape{Height: 1, Width: 1, Channels: spec.Units}
			l.weight, l.bias = len(params), len(params)+1
			params = append(params,
				ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: []int{in.Size(), spec.Units}, FanIn: in.Size(), Init: spec.WeightInit, InShape: unflattened},
				ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: []int{spec.Units}, FanIn: in.Size(), Init: spec.BiasInit})
			unflattened = l.out
		case Softmax:
			if i != len(arch.Layers)-1 {
				return nil, nil, 0, fail(i, l.LayerSpec, "softmax must be the last layer")
			}
			if !flat {
				return nil, nil, 0, fail(i, l.LayerSpec, "no flatten before it (its input is %v)", in)
			}
			l.out = in
			classes = in.Size()
		default:
			return nil, nil, 0, fail(i, l.LayerSpec, "unknown layer kind %q: want %s, %s, %s, %s, %s, %s, %s, %s or %s",
				spec.Kind, Conv2D, ReLU, Sigmoid, Tanh, MaxPool, AvgPool, Flatten, Dense, Softmax)
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
		in = l.out
	}
	if last := arch.Layers[len(arch.Layers)-1]; last.Kind != Softmax {
		return nil, nil, 0, fail(len(arch.Layers)-1, plans[len(plans)-1].LayerSpec, "the last layer must be softmax")
	}
	return plans, params, classes, nil
}

// checkInit reports an initialisation rule that [InitParams] cannot apply.
func checkInit(in Init) error {
	switch in.Kind {
	case InitZeros, InitNormal, InitUniform:
	default:
		return fmt.Errorf("unknown initialisation kind %d, want zeros (%d), normal (%d) or uniform (%d)",
			int(in.Kind), int(InitZeros), int(InitNormal), int(InitUniform))
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
