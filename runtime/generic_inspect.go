package runtime

import (
	"fmt"
	"math"
)

// LayerOutput is what one layer of a network computed for one sample.
type LayerOutput struct {
	// Name and Kind identify the layer (default names resolved, as in
	// [Generic.Params]).
	Name string
	Kind LayerKind
	// Shape is the per-sample output shape (1×1×N after flatten).
	Shape Shape
	// Values is the output in HWC order: a copy, the caller's to keep.
	// Softmax's output is the class probabilities.
	Values []float32
}

// LayerOutputs runs the one sample x (InputShape().Size() values in HWC
// order) forward in evaluation mode and returns every layer's output in network order: for the
// tutorial's network, the conv output before and after ReLU, the pooled
// maps, the flattened vector, the dense activations and the class
// probabilities. It is meant for looking inside a trained network (feature
// maps), not for speed: it allocates the copies.
func (g *Generic) LayerOutputs(x []float32) ([]LayerOutput, error) {
	e := g.e
	if len(x) != e.input.Size() {
		return nil, fmt.Errorf("LayerOutputs: %d values, want one sample of %v (%d values)", len(x), e.input, e.input.Size())
	}
	logits := e.forward(x, 1, false)
	outs := make([]LayerOutput, len(e.layers))
	for i := range e.layers {
		l := &e.layers[i]
		var v []float32
		if l.Kind == Softmax {
			v = make([]float32, e.classes)
			Probabilities(v, logits[:e.classes])
		} else {
			// Flatten's output is the tensor it reads, in the same order.
			v = e.tensor(l.tensor(), x, 1, l.out.Size())
		}
		outs[i] = LayerOutput{Name: l.Name, Kind: l.Kind, Shape: l.out, Values: append([]float32(nil), v...)}
	}
	return outs, nil
}

// Probabilities writes the probabilities of one row of logits to dst (of the same
// length): dst[k] = e^(z_k − m) / Σ_j e^(z_j − m) with m = max z, computed
// in float64 so that no logit overflows the exponential.
func Probabilities(dst, logits []float32) {
	m := math.Inf(-1)
	for _, z := range logits {
		m = math.Max(m, float64(z))
	}
	var sum float64
	for _, z := range logits {
		sum += math.Exp(float64(z) - m)
	}
	for k, z := range logits {
		dst[k] = float32(math.Exp(float64(z)-m) / sum)
	}
}
