package runtime

import "fmt"

// Generic is the generic reference implementation of a network: shapes known
// only at run time, plain loops, single-threaded. It is the oracle that every
// generated code path is tested against, and the "generic" side of the
// benchmarks. It implements [Model], [Regressor], [Stateful] and
// [Stochastic] in float32.
//
// The network is a graph: each layer reads the layers named by its Inputs
// (the previous layer by default), and a layer read by several others gets
// the sum of their gradients. Layers compute as TensorFlow and PyTorch do:
//
//   - conv2d and the pools use TensorFlow's padding: SAME puts the odd
//     padding element at the bottom/right. conv2d's groups are PyTorch's
//     (filter f of group g = f/(F/G) sees input channels g·C/G …
//     (g+1)·C/G−1; weights HWIO [KH, KW, C/G, F]); NoBias drops the bias.
//   - max pooling pads with −∞ and sends each window's gradient to its first
//     maximum in row-major order; average pooling divides by the number of
//     non-padded positions of each window; globalavgpool by H·W.
//   - dense reads its input flattened in HWC order, whatever its shape.
//   - batchnorm normalises per channel over batch×H×W. Backward and
//     BackwardSquaredError run in training mode: the batch's mean and biased
//     variance, the full gradient through them, and the running mean and
//     running unbiased variance updated with Momentum (PyTorch's
//     convention), num_batches_tracked counted. Forward (evaluation) uses the
//     running statistics, which start at mean 0 and variance 1; γ starts at
//     1 and β at 0, whatever the layer's inits say.
//   - dropout multiplies by the masks of [DropoutMask] for the seed and step
//     last given to SetDropoutStep (0 and 0 before), the layer's index in
//     Arch.Layers and the sample's index in the batch, in training; Forward
//     is the identity.
//   - relu6 is min(max(x, 0), 6), with gradient only for 0 < x < 6;
//     leaky_relu is x for x > 0 and Alpha·x otherwise, gradient 1 or Alpha.
//   - add sums its inputs in order; concat joins them along the channels in
//     order.
//
// A classifier's last layer, softmax, is fused with the cross-entropy loss
// ([SoftmaxCrossEntropy]); its logits are softmax's input. A network that
// ends with any other layer is a regression network: its outputs are that
// layer's output, Classes() of them, trained with BackwardSquaredError
// ([SumSquaredError]). Backward treats a regression network's outputs as
// logits and BackwardSquaredError a classifier's logits as outputs.
//
// Batch buffers are sized for the largest batch seen and reused: at a steady
// batch size, Forward and Backward allocate nothing. A Generic is not safe
// for concurrent use.
type Generic struct {
	e       *engine[float32]
	params  []Param
	buffers []Buffer
}

// NewGeneric builds the generic engine for arch, with every parameter zero
// (see [InitParams]). It resolves each layer's inputs, computes its shapes
// and padding with [Window] and returns an error, naming the layer, for an
// Arch it cannot run: a size or stride below 1, a VALID window larger than
// its input, a conv or pool after flatten, softmax without a flattened input
// or not last, an unknown kind, padding or initialisation, duplicate layer
// names or one named [InputName], an input that names no layer, the layer
// itself or a later one, too few or too many inputs (add and concat take 2
// or more, the others 1), add inputs of different shapes, concat inputs of
// different heights or widths, conv groups that do not divide the channels
// and the filters, batchnorm momentum outside [0, 1] or epsilon ≤ 0, dropout
// rate outside [0, 1), a non-finite leaky_relu alpha, or a layer other than
// the last that no layer reads. Layers without a name get one: conv1, pool1,
// dense1, relu1, flatten1, bn1, gap1, add1, … counted per prefix.
func NewGeneric(arch Arch) (*Generic, error) {
	e, err := newEngine[float32](arch)
	if err != nil {
		return nil, err
	}
	g := &Generic{e: e}
	for i, info := range e.info {
		g.params = append(g.params, Param{ParamInfo: info, Value: e.values[i], Grad: e.grads[i]})
	}
	g.buffers = listBuffers(e, func(name, layer string, shape []int, v []float32, count *int64) Buffer {
		return Buffer{Name: name, Layer: layer, Shape: shape, Value: v, Count: count}
	})
	return g, nil
}

// listBuffers lists an engine's buffers in [Stateful.Buffers] order, built by
// build.
func listBuffers[T floatType, B any](e *engine[T], build func(name, layer string, shape []int, v []T, count *int64) B) []B {
	var list []B
	norm := 0
	for _, l := range e.layers {
		if l.Kind != BatchNorm {
			continue
		}
		st := &e.norms[norm]
		norm++
		c := l.in.Channels
		list = append(list,
			build(l.Name+".running_mean", l.Name, []int{c}, st.runningMean, nil),
			build(l.Name+".running_var", l.Name, []int{c}, st.runningVar, nil),
			build(l.Name+".num_batches_tracked", l.Name, []int{}, nil, &st.count))
	}
	return list
}

// Name returns the Arch's name.
func (g *Generic) Name() string { return g.e.name }

// InputShape returns the shape of one input sample.
func (g *Generic) InputShape() Shape { return g.e.input }

// Classes returns the number of logits (or regression outputs) per sample.
func (g *Generic) Classes() int { return g.e.classes }

// Params lists the trainable tensors: per conv, dense or batchnorm layer in
// network order, the weight (conv HWIO [KH, KW, Cin/Groups, F], dense
// [In, Units], batchnorm γ [C]) then the bias (none with NoBias; batchnorm β
// [C]). Value and Grad alias the engine's storage. The returned slice is the
// engine's own list: change the values, not the list.
func (g *Generic) Params() []Param { return g.params }

// Buffers lists the running statistics of the batchnorm layers in network
// order: running_mean, running_var ([C] each) and num_batches_tracked. The
// values alias the engine's storage (write them to load a checkpoint); the
// slice is the engine's own list.
func (g *Generic) Buffers() []Buffer { return g.buffers }

// SetDropoutStep sets the seed and step of the dropout masks of the next
// Backward and BackwardSquaredError calls; see [Stochastic].
func (g *Generic) SetDropoutStep(seed, step uint64) { g.e.seed, g.e.step = seed, step }

// Forward writes the logits (or outputs) of the n = len(x)/InputShape().Size()
// samples in x to logits (n·Classes() values), in evaluation mode. It panics
// if x is not a whole number of samples or logits has another length.
func (g *Generic) Forward(x []float32, logits []float32) { g.e.Forward(x, logits) }

// Backward runs the batch forward and back in training mode: it overwrites every Param's Grad
// with scale·∂(Σ loss)/∂θ, where the sum of softmax cross-entropies is over
// the n samples of x against labels, and returns that sum (unscaled) and the
// number of samples whose argmax logit (the first maximum on ties) equals the
// label. Without batchnorm or dropout its logits are bit-for-bit those of
// Forward. It panics if x is not a whole number of samples, len(labels) ≠ n
// or a label is out of range.
func (g *Generic) Backward(x []float32, labels []int32, scale float32) (loss float64, correct int) {
	return g.e.Backward(x, labels, scale)
}

// BackwardSquaredError runs the batch forward and back in training mode: it
// overwrites every Param's Grad with scale·∂(Σ (y−t)²)/∂θ, summed over the n
// samples of x and the Classes() outputs y against targets t (n·Classes()
// values), and returns that sum (unscaled); see [SumSquaredError]. It panics
// if x is not a whole number of samples or targets has another length.
func (g *Generic) BackwardSquaredError(x, targets []float32, scale float32) (loss float64) {
	return g.e.BackwardSquaredError(x, targets, scale)
}

// Param64 is a trainable tensor of a [Generic64]: like [Param], in float64.
type Param64 struct {
	ParamInfo
	Value []float64
	Grad  []float64
}

// Buffer64 is a buffer of a [Generic64]: like [Buffer], in float64.
type Buffer64 struct {
	Name  string
	Layer string
	Shape []int
	Value []float64
	Count *int64
}

// Generic64 is the generic engine in float64: the same code as [Generic]
// (one implementation, instantiated twice), for gradient checks by finite
// differences, where float32 is too coarse. It does not implement [Model].
type Generic64 struct {
	e       *engine[float64]
	params  []Param64
	buffers []Buffer64
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
	g.buffers = listBuffers(e, func(name, layer string, shape []int, v []float64, count *int64) Buffer64 {
		return Buffer64{Name: name, Layer: layer, Shape: shape, Value: v, Count: count}
	})
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

// BackwardSquaredError is [Generic.BackwardSquaredError] in float64.
func (g *Generic64) BackwardSquaredError(x, targets []float64, scale float64) (loss float64) {
	return g.e.BackwardSquaredError(x, targets, scale)
}

// Buffers lists the running statistics as [Generic.Buffers] does.
func (g *Generic64) Buffers() []Buffer64 { return g.buffers }

// SetDropoutStep is [Generic.SetDropoutStep].
func (g *Generic64) SetDropoutStep(seed, step uint64) { g.e.seed, g.e.step = seed, step }

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

// The interfaces the float32 engine implements.
var (
	_ Regressor  = (*Generic)(nil)
	_ Stateful   = (*Generic)(nil)
	_ Stochastic = (*Generic)(nil)
)
