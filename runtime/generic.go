package runtime

import "fmt"

// Generic is the generic reference implementation of a network: shapes known
// only at run time, plain loops, single-threaded. It is the oracle that every
// generated code path is tested against, and the "generic" side of the
// benchmarks. It implements [Model] in float32.
//
// Layers compute as TensorFlow does: SAME padding puts the odd padding
// element at the bottom/right, max pooling pads with −∞ and sends each
// window's gradient to its first maximum in row-major order, and average
// pooling divides by the number of non-padded positions of each window. The
// last layer, softmax, is fused with the cross-entropy loss
// ([SoftmaxCrossEntropy]).
//
// Batch buffers are sized for the largest batch seen and reused: at a steady
// batch size, Forward and Backward allocate nothing. A Generic is not safe
// for concurrent use.
type Generic struct {
	e      *engine[float32]
	params []Param
}

// NewGeneric builds the generic engine for arch, with every parameter zero
// (see [InitParams]). It computes each layer's shapes and padding with
// [Window] and returns an error, naming the layer, for an Arch it cannot
// run: a size or stride below 1, a VALID window larger than its input, a
// conv or pool after flatten, a dense layer or softmax with no flatten before
// it, softmax missing or not last, an unknown kind, padding or
// initialisation, or duplicate layer names. Layers without a name get one:
// conv1, pool1, dense1, relu1, flatten1, … counted per prefix.
func NewGeneric(arch Arch) (*Generic, error) {
	e, err := newEngine[float32](arch)
	if err != nil {
		return nil, err
	}
	g := &Generic{e: e}
	for i, info := range e.info {
		g.params = append(g.params, Param{ParamInfo: info, Value: e.values[i], Grad: e.grads[i]})
	}
	return g, nil
}

// Name returns the Arch's name.
func (g *Generic) Name() string { return g.e.name }

// InputShape returns the shape of one input sample.
func (g *Generic) InputShape() Shape { return g.e.input }

// Classes returns the number of logits per sample.
func (g *Generic) Classes() int { return g.e.classes }

// Params lists the trainable tensors: per conv or dense layer in network
// order, the weight (conv HWIO [KH, KW, Cin, F], dense [In, Units]) then the
// bias. Value and Grad alias the engine's storage. The returned slice is the
// engine's own list: change the values, not the list.
func (g *Generic) Params() []Param { return g.params }

// Forward writes the logits of the n = len(x)/InputShape().Size() samples in
// x to logits (n·Classes() values). It panics if x is not a whole number of
// samples or logits has another length.
func (g *Generic) Forward(x []float32, logits []float32) { g.e.Forward(x, logits) }

// Backward runs the batch forward and back: it overwrites every Param's Grad
// with scale·∂(Σ loss)/∂θ, where the sum of softmax cross-entropies is over
// the n samples of x against labels, and returns that sum (unscaled) and the
// number of samples whose argmax logit (the first maximum on ties) equals the
// label. Its logits are bit-for-bit those of Forward. It panics if x is not
// a whole number of samples, len(labels) ≠ n or a label is out of range.
func (g *Generic) Backward(x []float32, labels []int32, scale float32) (loss float64, correct int) {
	return g.e.Backward(x, labels, scale)
}

// Param64 is a trainable tensor of a [Generic64]: like [Param], in float64.
type Param64 struct {
	ParamInfo
	Value []float64
	Grad  []float64
}

// Generic64 is the generic engine in float64: the same code as [Generic]
// (one implementation, instantiated twice), for gradient checks by finite
// differences, where float32 is too coarse. It does not implement [Model].
type Generic64 struct {
	e      *engine[float64]
	params []Param64
}

// NewGeneric64 builds the float64 generic engine for arch; see [NewGeneric].
func NewGeneric64(arch Arch) (*Generic64, error) {
	e, err := newEngine[float64](arch)
	if err != nil {
		return nil, err
	}
	g := &Generic64{e: e}
	for i, info := range e.info {
		g.params = append(g.params, Param64{ParamInfo: info, Value: e.values[i], Grad: e.grads[i]})
	}
	return g, nil
}

// Name returns the Arch's name.
func (g *Generic64) Name() string { return g.e.name }

// InputShape returns the shape of one input sample.
func (g *Generic64) InputShape() Shape { return g.e.input }

// Classes returns the number of logits per sample.
func (g *Generic64) Classes() int { return g.e.classes }

// Params lists the trainable tensors as [Generic.Params] does.
func (g *Generic64) Params() []Param64 { return g.params }

// Forward is [Generic.Forward] in float64.
func (g *Generic64) Forward(x []float64, logits []float64) { g.e.Forward(x, logits) }

// Backward is [Generic.Backward] in float64.
func (g *Generic64) Backward(x []float64, labels []int32, scale float64) (loss float64, correct int) {
	return g.e.Backward(x, labels, scale)
}

// CopyParams sets g's parameter values to those of params (a float32 list of
// the same network, such as a [Generic]'s or a generated model's Params), so
// that a float64 check runs at the float32 model's point. It returns an
// error, changing nothing, if the lists differ in length, names or sizes.
func (g *Generic64) CopyParams(params []Param) error {
	if len(params) != len(g.params) {
		return fmt.Errorf("CopyParams: %d parameters, want %d", len(params), len(g.params))
	}
	for i, p := range params {
		q := g.params[i]
		if p.Name != q.Name || len(p.Value) != len(q.Value) {
			return fmt.Errorf("CopyParams: parameter %d is %s with %d values, want %s with %d", i+1, p.Name, len(p.Value), q.Name, len(q.Value))
		}
	}
	for i, p := range params {
		q := g.params[i]
		for j, v := range p.Value {
			q.Value[j] = float64(v)
		}
	}
	return nil
}
