package runtime

import "fmt"

// floatType is the element type of the generic engine: float32 for the
// [Model] that trains, float64 for gradient checks.
type floatType interface{ float32 | float64 }

// engine is the generic reference implementation of a network whose shapes
// are known only at run time, written once for both precisions.
//
// Activations are batch-major: a buffer for n samples holds sample 0's
// activation in HWC order, then sample 1's, and so on. The buffers are sized
// for the largest batch seen so far and reused, so that calls at a steady
// batch size allocate nothing.
type engine[T floatType] struct {
	name    string
	input   Shape
	classes int
	layers  []layerPlan // the last one is softmax
	info    []ParamInfo
	values  [][]T // values[p] is parameter p, aliasing one block of memory
	grads   [][]T // grads[p] is its gradient, aliasing another

	capacity int   // samples the buffers below hold
	ins      [][]T // ins[i] is layer i's input in the current batch (x, or an out)
	outs     [][]T // outs[i] is layer i's output (nil for flatten and softmax, which need none)
	dIns     [][]T // dIns[i] is the gradient w.r.t. layer i's input (nil when not needed)
	dLogits  []T   // the gradient w.r.t. the logits
	poolArg  []int // scratch for max-pool backward: one window's argmax per channel
}

// newEngine plans arch and allocates its parameters (all zero).
func newEngine[T floatType](arch Arch) (*engine[T], error) {
	plans, info, classes, err := planArch(arch)
	if err != nil {
		return nil, err
	}
	e := &engine[T]{name: arch.Name, input: arch.Input, classes: classes, layers: plans, info: info}
	total := 0
	for _, p := range info {
		total += p.Size()
	}
	values, grads := make([]T, total), make([]T, total)
	off := 0
	for _, p := range info {
		n := p.Size()
		// Capped slices, so that an append by a caller cannot spill into the
		// next parameter.
		e.values = append(e.values, values[off:off+n:off+n])
		e.grads = append(e.grads, grads[off:off+n:off+n])
		off += n
	}
	maxChannels := 0
	for _, l := range plans {
		if l.Kind == MaxPool {
			maxChannels = max(maxChannels, l.in.Channels)
		}
	}
	e.poolArg = make([]int, maxChannels)
	e.ins = make([][]T, len(plans))
	e.outs = make([][]T, len(plans))
	e.dIns = make([][]T, len(plans))
	return e, nil
}

// reserve makes the batch buffers hold at least n samples. They only grow:
// alternating batch sizes (a training batch, then one test sample) cost no
// allocation once the largest has been seen.
func (e *engine[T]) reserve(n int) {
	if n <= e.capacity {
		return
	}
	for i, l := range e.layers {
		switch l.Kind {
		case Flatten, Softmax:
			// flatten's output is its input; softmax's is never stored
			// (Forward returns logits, Backward the loss).
		default:
			e.outs[i] = make([]T, n*l.out.Size())
		}
		// The first layer needs no input gradient, and flatten passes its
		// output gradient through unchanged.
		if i > 0 && l.Kind != Flatten && l.Kind != Softmax {
			e.dIns[i] = make([]T, n*l.in.Size())
		}
	}
	e.dLogits = make([]T, n*e.classes)
	e.capacity = n
}

// batchSize returns the number of samples in x, panicking with a clear
// message when x is not a whole number of samples.
func (e *engine[T]) batchSize(method string, x []T) int {
	size := e.input.Size()
	if len(x)%size != 0 {
		panic(fmt.Sprintf("runtime: %s: len(x) = %d is not a multiple of the input size %d (%v)", method, len(x), size, e.input))
	}
	return len(x) / size
}

// forward runs the n samples of x through every layer but softmax and returns
// the logits (n×classes): an engine buffer, or x itself for a network that
// is only flatten and softmax.
func (e *engine[T]) forward(x []T, n int) []T {
	e.reserve(n)
	cur := x
	for i := range e.layers[:len(e.layers)-1] {
		l := &e.layers[i]
		e.ins[i] = cur
		var out []T
		switch l.Kind {
		case Flatten:
			out = cur // HWC order is already the flatten order
		default:
			out = e.outs[i][:n*l.out.Size()]
		}
		switch l.Kind {
		case Conv2D:
			convForward(l, n, cur, e.values[l.weight], e.values[l.bias], out)
		case MaxPool:
			maxPoolForward(l, n, cur, out)
		case AvgPool:
			avgPoolForward(l, n, cur, out)
		case Dense:
			denseForward(l, n, cur, e.values[l.weight], e.values[l.bias], out)
		case ReLU:
			reluForward(cur, out)
		case Sigmoid:
			sigmoidForward(cur, out)
		case Tanh:
			tanhForward(cur, out)
		}
		cur = out
	}
	return cur
}

// Forward writes the logits of the n samples in x to logits (n×classes).
func (e *engine[T]) Forward(x []T, logits []T) {
	n := e.batchSize("Forward", x)
	if len(logits) != n*e.classes {
		panic(fmt.Sprintf("runtime: Forward: len(logits) = %d, want %d (%d samples × %d classes)", len(logits), n*e.classes, n, e.classes))
	}
	copy(logits, e.forward(x, n))
}

// Backward runs the batch forward and back; see [Model.Backward].
func (e *engine[T]) Backward(x []T, labels []int32, scale T) (loss float64, correct int) {
	n := e.batchSize("Backward", x)
	if len(labels) != n {
		panic(fmt.Sprintf("runtime: Backward: %d labels for %d samples", len(labels), n))
	}
	logits := e.forward(x, n)
	dout := e.dLogits[:n*e.classes]
	loss, correct = softmaxCrossEntropy(logits, labels, e.classes, scale, dout)

	for _, g := range e.grads {
		clear(g)
	}
	// Walk back from the layer before softmax. dout is the gradient w.r.t.
	// layer i's output; each layer writes the gradient w.r.t. its input into
	// din (unless it is the first layer, whose input is the data).
	for i := len(e.layers) - 2; i >= 0; i-- {
		l := &e.layers[i]
		in, out := e.ins[i], e.outs[i]
		var din []T
		if e.dIns[i] != nil {
			din = e.dIns[i][:n*l.in.Size()]
		}
		switch l.Kind {
		case Flatten:
			din = dout
		case Conv2D:
			convBackward(l, n, in, e.values[l.weight], dout, e.grads[l.weight], e.grads[l.bias], din)
		case MaxPool:
			maxPoolBackward(l, n, in, out[:n*l.out.Size()], dout, din, e.poolArg)
		case AvgPool:
			avgPoolBackward(l, n, dout, din)
		case Dense:
			denseBackward(l, n, in, e.values[l.weight], dout, e.grads[l.weight], e.grads[l.bias], din)
		case ReLU:
			reluBackward(in, dout, din)
		case Sigmoid:
			sigmoidBackward(out[:n*l.out.Size()], dout, din)
		case Tanh:
			tanhBackward(out[:n*l.out.Size()], dout, din)
		}
		dout = din
	}
	return loss, correct
}
