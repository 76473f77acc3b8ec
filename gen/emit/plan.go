package emit

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
)

// Tile is the number of samples that the generated kernels process together.
// A tile's activations of the digits network (the largest, conv1's 8×8×32
// output) take 192 KiB, which stays in L2 beside the dense weights. 24 is a
// multiple of the row blocks of the vector GEMMs (6 rows on AVX-512, 4 or 6
// on AVX2), so a full tile has no remainder block; measured on the digits
// training step (AVX-512, one worker) it took ≈8 % less CPU time than 16,
// and 48 was no faster.
const Tile = 24

// buffer is a per-tile activation array [Tile][size]float32 in the model's
// tile buffers. The input buffer is the network input.
type buffer struct {
	field string // field base name: <field>Out, <field>Grad
	size  int
	input bool
}

// stage is one kernel call of the forward pass: a conv, dense or pool layer
// (with the activation that follows it fused, for conv and dense), or a
// standalone activation. Flatten and softmax have no stage: flatten is a
// no-op on HWC buffers and softmax is fused into the loss.
type stage struct {
	layer *ir.Layer
	// act is the activation fused into this conv or dense stage, or "".
	act runtime.LayerKind
	// actName is the name of the fused activation layer.
	actName string
	in, out *buffer
	// base is the identifier prefix of the stage's functions and fields.
	base string
	// weight and bias index the network's Params (conv and dense only).
	weight, bias int
	// backward says whether the stage's backward pass runs at all, inGrad
	// whether it computes the gradient of its input (false before the first
	// layer with parameters).
	backward, inGrad bool
	// vec is the stage's vector path, or nil (see planVector).
	vec *vecStage
}

// plan is the lowered network: buffers, stages and names.
type plan struct {
	net    *ir.Network
	input  *buffer
	logits *buffer
	stages []*stage
	// params are the identifier bases of the network's Params, in order
	// (e.g. conv1Weight).
	params                []string
	usesSigmoid, usesTanh bool
}

// lowerFirst returns name with its first letter lower-cased, so that
// identifiers built from layer names are never exported by accident.
func lowerFirst(name string) string {
	r, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToLower(r)) + name[size:]
}

func isActivation(k runtime.LayerKind) bool {
	return k == runtime.ReLU || k == runtime.Sigmoid || k == runtime.Tanh
}

// newPlan lowers n to stages. Identifiers are the layer's name (first letter
// lower-cased) plus a fixed suffix per role (Forward, Backward, Pixel for
// functions; Out, Grad, Arg for tile buffers; Weight, Bias for parameters).
// No suffix ends another, so distinct layer names give distinct identifiers
// unless two names differ only in the case of their first letter, which is
// reported as an error.
func newPlan(n *ir.Network) (*plan, error) {
	p := &plan{net: n}
	p.input = &buffer{field: "x", size: n.Input.Size(), input: true}
	seen := map[string]string{}
	cur := p.input
	params := 0
	for i := 0; i < len(n.Layers); i++ {
		l := &n.Layers[i]
		base := lowerFirst(l.Name)
		if prev, ok := seen[base]; ok && prev != l.Name {
			return nil, fmt.Errorf("layers %q and %q differ only in the case of their first letter; cnngen needs them distinct", prev, l.Name)
		}
		seen[base] = l.Name
		switch l.Kind {
		case runtime.Flatten:
			continue
		case runtime.Softmax:
			if i != len(n.Layers)-1 {
				return nil, fmt.Errorf("layer %s: softmax must be the last layer", l.Name)
			}
			continue
		}
		s := &stage{layer: l, in: cur, base: base, weight: -1, bias: -1}
		s.out = &buffer{field: base, size: l.Out.Size()}
		switch l.Kind {
		case runtime.Conv2D, runtime.Dense:
			s.weight, s.bias = l.Weight, l.Bias
			if i+1 < len(n.Layers) && isActivation(n.Layers[i+1].Kind) {
				s.act = n.Layers[i+1].Kind
				s.actName = n.Layers[i+1].Name
				if b := lowerFirst(s.actName); seen[b] != "" && seen[b] != s.actName {
					return nil, fmt.Errorf("layers %q and %q differ only in the case of their first letter; cnngen needs them distinct", seen[b], s.actName)
				}
				seen[lowerFirst(s.actName)] = s.actName
				i++
			}
			params++
		case runtime.ReLU, runtime.Sigmoid, runtime.Tanh, runtime.MaxPool, runtime.AvgPool:
		default:
			return nil, fmt.Errorf("layer %s: kind %q is not supported by the emitter", l.Name, l.Kind)
		}
		for _, k := range []runtime.LayerKind{l.Kind, s.act} {
			p.usesSigmoid = p.usesSigmoid || k == runtime.Sigmoid
			p.usesTanh = p.usesTanh || k == runtime.Tanh
		}
		// The input gradient is needed when a layer with parameters comes
		// before this one.
		s.inGrad = params > 1 || (params == 1 && s.weight < 0)
		s.backward = s.inGrad || s.weight >= 0
		p.stages = append(p.stages, s)
		cur = s.out
	}
	if len(p.stages) == 0 {
		return nil, fmt.Errorf("the network has no conv, pool, dense or activation layer")
	}
	p.logits = cur
	if cur.size != n.Classes {
		return nil, fmt.Errorf("the last layer before softmax has %d outputs, want %d classes", cur.size, n.Classes)
	}
	for _, pi := range n.Params {
		layer, role, ok := strings.Cut(pi.Name, ".")
		if !ok || (role != "weight" && role != "bias") {
			return nil, fmt.Errorf("parameter %q: want <layer>.weight or <layer>.bias", pi.Name)
		}
		suffix := "Weight"
		if role == "bias" {
			suffix = "Bias"
		}
		p.params = append(p.params, lowerFirst(layer)+suffix)
	}
	for _, s := range p.stages {
		if s.weight >= len(p.params) || s.bias >= len(p.params) {
			return nil, fmt.Errorf("layer %s: parameter index out of range", s.layer.Name)
		}
	}
	return p, nil
}
