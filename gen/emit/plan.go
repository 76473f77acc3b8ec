package emit

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
)

// Tile is the number of samples that the generated kernels process together
// (the generated package's constant Tile), unless a sample's buffers are so
// large that Tile of them would exceed maxTileBytes: such a network gets a
// smaller tile (see chooseTile).
// A tile's activations of the digits network (the largest, conv1's 8×8×32
// output) take 192 KiB, which stays in L2 beside the dense weights. 24 is a
// multiple of the row blocks of the vector GEMMs (6 rows on AVX-512, 4 or 6
// on AVX2), so a full tile has no remainder block; measured on the digits
// training step (AVX-512, one worker) it took ≈8 % less CPU time than 16,
// and 48 was no faster.
const Tile = 24

// buffer is a per-tile activation array [Tile][size]float32 in the model's
// tile buffers: the output of one stage, or the network input.
type buffer struct {
	field string // field base name: <field>Out, <field>Grad, <field>Partial
	size  int
	input bool
	// producer is the stage that writes the buffer (nil for the input).
	producer *stage
	// consumers are the stages that read the buffer, one entry per input
	// slot (a stage that takes the buffer twice is listed twice).
	consumers []*stage
	// needsGrad says that a layer with parameters comes before the buffer,
	// so that its gradient matters.
	needsGrad bool
	// partial says that some consumer writes its share of the gradient to
	// <field>Partial, which is then added to <field>Grad: the buffer feeds
	// several layers, whose gradients sum.
	partial bool
}

// stage is one kernel call of the forward pass: a layer (with the activation
// that follows it fused, for conv and dense). Flatten and softmax have no
// stage: flatten is a no-op on HWC buffers (its output is its input's
// buffer) and softmax is fused into the loss.
type stage struct {
	layer *ir.Layer
	// index is the layer's index in the network (and in its Arch).
	index int
	// act is the activation fused into this conv or dense stage, or "".
	act runtime.LayerKind
	// actName is the name of the fused activation layer.
	actName string
	// ins are the buffers the stage reads, in the layer's input order; in
	// is ins[0].
	ins     []*buffer
	in, out *buffer
	// base is the identifier prefix of the stage's functions and fields.
	base string
	// weight and bias index the network's Params (-1 when absent).
	weight, bias int
	// backward says whether the stage's backward pass runs at all, inGrad
	// whether it computes the gradient of some input (false before the
	// first layer with parameters).
	backward, inGrad bool
	// inGrads[k] says whether the gradient of ins[k] is computed, and
	// partial[k] whether it goes to the input's Partial buffer (to be added
	// to its Grad) rather than straight to its Grad.
	inGrads, partial []bool
	// vec is the stage's vector path, or nil (see planVector).
	vec *vecStage
}

// groups is the number of groups of a conv stage (1 for other kinds).
func (s *stage) groups() int {
	if s.layer.Kind != runtime.Conv2D {
		return 1
	}
	return s.layer.GroupCount()
}

// hasBias says whether a conv or dense stage has a bias.
func (s *stage) hasBias() bool { return s.bias >= 0 }

// plan is the lowered network: buffers, stages and names.
type plan struct {
	net *ir.Network
	// splitMACs is Options.SplitLogitsMACs (see splitsOne).
	splitMACs int64
	input     *buffer
	// logits is the network's output buffer: the logits of a classifier
	// (softmax's input), the outputs of a regression network.
	logits *buffer
	stages []*stage
	// regression says that the network ends without softmax: the Model
	// also implements runtime.Regressor.
	regression bool
	// params are the identifier bases of the network's Params, in order
	// (e.g. conv1Weight).
	params                          []string
	usesSigmoid, usesTanh, usesKeep bool
	// tile is the generated package's Tile (chooseTile).
	tile int
	// frozenStep is the samples per call of Frozen's forward
	// (chooseFrozenStep).
	frozenStep int
	// bnVector says which batchnorm stages run their element loops on
	// gen/asm's batch-norm kernels (see planVector).
	bnVector map[*stage]bool
	// sumVector says which whole-map average poolings sum on gen/asm's
	// ChannelSum (see planVector).
	sumVector map[*stage]bool
	// gradSlots and gradSlotOf cache gradLayout.
	gradSlots  []*gradSlot
	gradSlotOf map[*buffer]*gradSlot
}

// lowerFirst returns name with its first letter lower-cased, so that
// identifiers built from layer names are never exported by accident.
func lowerFirst(name string) string {
	r, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToLower(r)) + name[size:]
}

// isActivation says whether k is an activation that a conv or dense stage
// can fuse (its derivative is a function of its output).
func isActivation(k runtime.LayerKind) bool {
	return k == runtime.ReLU || k == runtime.Sigmoid || k == runtime.Tanh
}

// inputsOf returns the indexes of the layers that feed layer i (-1 for the
// network input): l.Inputs, or the previous layer when the IR left it empty.
func inputsOf(n *ir.Network, i int) []int {
	if in := n.Layers[i].Inputs; len(in) > 0 {
		return in
	}
	return []int{i - 1}
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
	if len(n.Layers) == 0 {
		return nil, fmt.Errorf("the network has no layers")
	}
	// uses counts the layers that read each layer's output.
	uses := make([]int, len(n.Layers))
	for i := range n.Layers {
		for _, j := range inputsOf(n, i) {
			if j >= i || j < -1 {
				return nil, fmt.Errorf("layer %s: input %d is not an earlier layer", n.Layers[i].Name, j)
			}
			if j >= 0 {
				uses[j]++
			}
		}
	}
	seen := map[string]string{}
	claim := func(name string) error {
		b := lowerFirst(name)
		if prev, ok := seen[b]; ok && prev != name {
			return fmt.Errorf("layers %q and %q differ only in the case of their first letter; cnngen needs them distinct", prev, name)
		}
		seen[b] = name
		return nil
	}
	// out[i] is the buffer that holds layer i's output.
	out := make([]*buffer, len(n.Layers))
	bufferOf := func(j int) *buffer {
		if j < 0 {
			return p.input
		}
		return out[j]
	}
	last := len(n.Layers) - 1
	for i := 0; i < len(n.Layers); i++ {
		l := &n.Layers[i]
		if err := claim(l.Name); err != nil {
			return nil, err
		}
		var ins []*buffer
		for _, j := range inputsOf(n, i) {
			ins = append(ins, bufferOf(j))
		}
		switch l.Kind {
		case runtime.Flatten:
			out[i] = ins[0]
			continue
		case runtime.Softmax:
			if i != last {
				return nil, fmt.Errorf("layer %s: softmax must be the last layer", l.Name)
			}
			out[i] = ins[0]
			continue
		}
		base := lowerFirst(l.Name)
		s := &stage{layer: l, index: i, ins: ins, in: ins[0], base: base, weight: -1, bias: -1}
		s.out = &buffer{field: base, size: l.Out.Size(), producer: s}
		out[i] = s.out
		switch l.Kind {
		case runtime.Conv2D, runtime.Dense:
			s.weight, s.bias = l.Weight, l.Bias
			// An activation is fused only when it is this layer's one
			// consumer: its backward then reads the stored output.
			if i+1 < len(n.Layers) && isActivation(n.Layers[i+1].Kind) && uses[i] == 1 {
				if next := inputsOf(n, i+1); len(next) == 1 && next[0] == i {
					s.act = n.Layers[i+1].Kind
					s.actName = n.Layers[i+1].Name
					if err := claim(s.actName); err != nil {
						return nil, err
					}
					i++
					out[i] = s.out
				}
			}
		case runtime.BatchNorm:
			s.weight, s.bias = l.Weight, l.Bias
			if s.weight < 0 || s.bias < 0 {
				return nil, fmt.Errorf("layer %s: batchnorm without its weight and bias parameters", l.Name)
			}
		case runtime.ReLU, runtime.Sigmoid, runtime.Tanh, runtime.ReLU6, runtime.LeakyReLU,
			runtime.MaxPool, runtime.AvgPool, runtime.GlobalAvgPool, runtime.Add, runtime.Concat, runtime.Dropout:
		default:
			return nil, fmt.Errorf("layer %s: kind %q is not supported by the emitter", l.Name, l.Kind)
		}
		for _, k := range []runtime.LayerKind{l.Kind, s.act} {
			p.usesSigmoid = p.usesSigmoid || k == runtime.Sigmoid
			p.usesTanh = p.usesTanh || k == runtime.Tanh
			p.usesKeep = p.usesKeep || usesKeep(k)
		}
		// The gradient of an input is needed when a layer with parameters
		// comes before it.
		for _, b := range ins {
			s.inGrads = append(s.inGrads, b.needsGrad)
			s.inGrad = s.inGrad || b.needsGrad
			b.consumers = append(b.consumers, s)
		}
		s.partial = make([]bool, len(ins))
		s.backward = s.inGrad || s.weight >= 0
		s.out.needsGrad = s.backward
		p.stages = append(p.stages, s)
	}
	if len(p.stages) == 0 {
		return nil, fmt.Errorf("the network has no layer that computes anything")
	}
	p.regression = n.Layers[last].Kind != runtime.Softmax
	p.logits = out[last]
	if p.logits.input {
		return nil, fmt.Errorf("the network's output is its input")
	}
	if p.logits.size != n.Classes {
		what := "the last layer before softmax"
		if p.regression {
			what = "the last layer"
		}
		return nil, fmt.Errorf("%s has %d outputs, want %d", what, p.logits.size, n.Classes)
	}
	// Gradient routing, in the order the backward pass runs (the loss,
	// then the stages from last to first): the first writer of a buffer's
	// gradient overwrites <field>Grad, the later ones add through
	// <field>Partial.
	written := map[*buffer]bool{p.logits: true}
	for i := len(p.stages) - 1; i >= 0; i-- {
		s := p.stages[i]
		if !s.backward {
			continue
		}
		for k, b := range s.ins {
			if !s.inGrads[k] {
				continue
			}
			if written[b] {
				s.partial[k], b.partial = true, true
			}
			written[b] = true
		}
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
	p.tile = chooseTile(p.sampleBytes())
	p.frozenStep = chooseFrozenStep(p.tile, p.stageBytes())
	for _, s := range p.stages {
		if s.weight >= len(p.params) || s.bias >= len(p.params) {
			return nil, fmt.Errorf("layer %s: parameter index out of range", s.layer.Name)
		}
		if (s.layer.Kind == runtime.Conv2D || s.layer.Kind == runtime.Dense) && s.weight < 0 {
			return nil, fmt.Errorf("layer %s: no weight parameter", s.layer.Name)
		}
	}
	return p, nil
}

// singleConsumer returns the one stage that reads b, or nil when b feeds
// several stages (or slots), none, or is also the network's output.
func (p *plan) singleConsumer(b *buffer) *stage {
	if len(b.consumers) != 1 || b == p.logits {
		return nil
	}
	return b.consumers[0]
}

// fusedReLU returns the ReLU that batchnorm s applies itself in training
// (<layer>Forward), or nil: a ReLU that alone reads s's output. The
// training forward then writes the ReLU's output in the batch norm's pass
// and skips the ReLU, whose backward reads only that output; s's own
// output buffer serves evaluation alone.
func (p *plan) fusedReLU(s *stage) *stage {
	if s.layer.Kind != runtime.BatchNorm {
		return nil
	}
	if r := p.singleConsumer(s.out); r != nil && r.layer.Kind == runtime.ReLU {
		return r
	}
	return nil
}

// reluFused reports whether s is a ReLU that the batchnorm before it
// applies in training (fusedReLU).
func (p *plan) reluFused(s *stage) bool {
	return s.layer.Kind == runtime.ReLU && s.in.producer != nil && p.fusedReLU(s.in.producer) == s
}
