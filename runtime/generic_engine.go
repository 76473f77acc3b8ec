package runtime

import "fmt"

// floatType is the element type of the generic engine: float32 for the
// [Model] that trains, float64 for gradient checks.
type floatType interface{ float32 | float64 }

// engine is the generic reference implementation of a network whose shapes
// are known only at run time, written once for both precisions.
//
// Activations are batch-major: a buffer for n samples holds sample 0's
// activation in HWC order, then sample 1's, and so on. A tensor is named by
// the layer that computes it (-1 is the network's input); flatten computes
// nothing, its consumers read the tensor it reads. The buffers are sized for
// the largest batch seen so far and reused, so that calls at a steady batch
// size allocate nothing.
//
// Backward walks the layers in reverse order. A layer writes the gradient
// w.r.t. each of its inputs straight into that tensor's gradient buffer when
// it is the first of the tensor's readers to do so, and through scratch,
// added afterwards, when another reader wrote first (fan-out); in a chain
// every gradient is written once, directly.
type engine[T floatType] struct {
	name       string
	input      Shape
	classes    int
	classifier bool // the last layer is softmax
	output     int  // the tensor holding the logits (or regression outputs)
	layers     []layerPlan
	info       []ParamInfo
	values     [][]T // values[p] is parameter p, aliasing one block of memory
	grads      [][]T // grads[p] is its gradient, aliasing another

	norms       []normStats[T] // per batchnorm layer, in network order
	seed, step  uint64         // the dropout masks' seed and step
	need        []bool         // need[i]: layer i's backward must run (it or a layer before it has parameters)
	accumulates [][]bool       // accumulates[i][k]: input k's gradient adds to one another reader wrote first

	capacity int         // samples the buffers below hold
	outs     [][]T       // outs[i] is tensor i (nil for flatten and softmax, which compute nothing)
	dOuts    [][]T       // dOuts[i] is the gradient w.r.t. tensor i (nil when not needed)
	masks    [][]float32 // masks[i] is dropout layer i's masks of the last training batch
	scratch  []T         // an input gradient that is added to one already written
	dLogits  []T         // the gradient w.r.t. the logits (or outputs)
	poolArg  []int       // scratch for max-pool backward: one window's argmax per channel
}

// normStats is the state of one batchnorm layer: its running statistics
// (the buffers of [Stateful]) and the statistics of the last training batch,
// which its backward needs.
type normStats[T floatType] struct {
	runningMean, runningVar []T
	count                   int64
	mean, invStd            []float64 // per channel: batch mean and 1/sqrt(biased variance + ε)
	sumDy, sumDyXhat        []float64 // per channel: backward's scratch
}

// newEngine plans arch and allocates its parameters (all zero) and buffers
// (running means 0, running variances 1).
func newEngine[T floatType](arch Arch) (*engine[T], error) {
	plans, info, classes, err := planArch(arch)
	if err != nil {
		return nil, err
	}
	e := &engine[T]{name: arch.Name, input: arch.Input, classes: classes, layers: plans, info: info}
	last := &plans[len(plans)-1]
	e.classifier = last.Kind == Softmax
	if e.classifier {
		e.output = last.src[0]
	} else {
		e.output = last.tensor()
	}
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
		switch l.Kind {
		case MaxPool:
			maxChannels = max(maxChannels, l.in.Channels)
		case BatchNorm:
			c := l.in.Channels
			st := normStats[T]{runningMean: make([]T, c), runningVar: make([]T, c), mean: make([]float64, c), invStd: make([]float64, c),
				sumDy: make([]float64, c), sumDyXhat: make([]float64, c)}
			for k := range st.runningVar {
				st.runningVar[k] = 1
			}
			e.norms = append(e.norms, st)
		}
	}
	e.poolArg = make([]int, maxChannels)

	// need propagates forward from the layers with parameters; the
	// accumulation flags follow the order in which backward runs.
	e.need = make([]bool, len(plans))
	for i, l := range plans {
		e.need[i] = l.weight >= 0
		for _, t := range l.src {
			e.need[i] = e.need[i] || (t >= 0 && e.need[t])
		}
	}
	e.accumulates = make([][]bool, len(plans))
	written := make([]bool, len(plans))
	for i := len(plans) - 1; i >= 0; i-- {
		l := &plans[i]
		if !e.need[i] || l.Kind == Flatten || l.Kind == Softmax {
			continue
		}
		e.accumulates[i] = make([]bool, len(l.src))
		for k, t := range l.src {
			if t >= 0 && e.need[t] {
				e.accumulates[i][k] = written[t]
				written[t] = true
			}
		}
	}
	e.outs = make([][]T, len(plans))
	e.dOuts = make([][]T, len(plans))
	e.masks = make([][]float32, len(plans))
	return e, nil
}

// reserve makes the batch buffers hold at least n samples. They only grow:
// alternating batch sizes (a training batch, then one test sample) cost no
// allocation once the largest has been seen.
func (e *engine[T]) reserve(n int) {
	if n <= e.capacity {
		return
	}
	scratch := 0
	for i, l := range e.layers {
		if l.Kind == Flatten || l.Kind == Softmax {
			continue // flatten's output is its input; softmax's is never stored
		}
		e.outs[i] = make([]T, n*l.out.Size())
		if e.need[i] && i != e.output {
			e.dOuts[i] = make([]T, n*l.out.Size())
		}
		if l.Kind == Dropout {
			e.masks[i] = make([]float32, n*l.out.Size())
		}
		for k, acc := range e.accumulates[i] {
			if acc {
				scratch = max(scratch, n*l.inShapes[k].Size())
			}
		}
	}
	e.scratch = make([]T, scratch)
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

// tensor returns tensor t of the current batch of n samples, each of size
// values: x itself for the network's input.
func (e *engine[T]) tensor(t int, x []T, n, size int) []T {
	if t < 0 {
		return x[:n*size]
	}
	return e.outs[t][:n*size]
}

// param returns parameter p's values, or nil when p is -1 (no bias).
func param[T floatType](ps [][]T, p int) []T {
	if p < 0 {
		return nil
	}
	return ps[p]
}

// forward runs the n samples of x through every layer but softmax and returns
// the logits or outputs (n×classes): an engine buffer, or x itself for a
// network that computes nothing. In training mode batchnorm normalises with
// the batch's statistics and updates its running ones, and dropout drops;
// otherwise batchnorm uses the running statistics and dropout is the
// identity.
func (e *engine[T]) forward(x []T, n int, training bool) []T {
	e.reserve(n)
	norm := 0
	for i := range e.layers {
		l := &e.layers[i]
		if l.Kind == Flatten || l.Kind == Softmax {
			continue
		}
		in := e.tensor(l.src[0], x, n, l.in.Size())
		out := e.outs[i][:n*l.out.Size()]
		switch l.Kind {
		case Conv2D:
			convForward(l, n, in, e.values[l.weight], param(e.values, l.bias), out)
		case MaxPool:
			maxPoolForward(l, n, in, out)
		case AvgPool:
			avgPoolForward(l, n, in, out)
		case GlobalAvgPool:
			globalAvgPoolForward(l, n, in, out)
		case Dense:
			denseForward(l, n, in, e.values[l.weight], param(e.values, l.bias), out)
		case ReLU:
			reluForward(in, out)
		case Sigmoid:
			sigmoidForward(in, out)
		case Tanh:
			tanhForward(in, out)
		case ReLU6:
			relu6Forward(in, out)
		case LeakyReLU:
			leakyReLUForward(T(l.Alpha), in, out)
		case BatchNorm:
			if training {
				batchNormTrainForward(l, n, in, e.values[l.weight], e.values[l.bias], out, &e.norms[norm])
			} else {
				batchNormEvalForward(l, n, in, e.values[l.weight], e.values[l.bias], out, &e.norms[norm])
			}
			norm++
		case Dropout:
			if training {
				mask := e.masks[i][:len(out)]
				size := l.out.Size()
				for s := range n {
					DropoutMask(e.seed, e.step, l.index, s, l.Rate, mask[s*size:(s+1)*size])
				}
				multiply(in, mask, out)
			} else {
				copy(out, in)
			}
		case Add:
			copy(out, in)
			for _, t := range l.src[1:] {
				axpy(1, e.tensor(t, x, n, l.out.Size()), out)
			}
		case Concat:
			offset := 0
			for k, t := range l.src {
				c := l.inShapes[k].Channels
				concatForward(n*l.out.Height*l.out.Width, e.tensor(t, x, n, l.inShapes[k].Size()), c, offset, out, l.out.Channels)
				offset += c
			}
		}
	}
	return e.tensor(e.output, x, n, e.classes)
}

// Forward writes the logits (or outputs) of the n samples in x to logits
// (n×classes), in evaluation mode.
func (e *engine[T]) Forward(x []T, logits []T) {
	n := e.batchSize("Forward", x)
	if len(logits) != n*e.classes {
		panic(fmt.Sprintf("runtime: Forward: len(logits) = %d, want %d (%d samples × %d classes)", len(logits), n*e.classes, n, e.classes))
	}
	copy(logits, e.forward(x, n, false))
}

// Backward runs the batch forward and back in training mode against the
// softmax cross-entropy; see [Model.Backward].
func (e *engine[T]) Backward(x []T, labels []int32, scale T) (loss float64, correct int) {
	n := e.batchSize("Backward", x)
	if len(labels) != n {
		panic(fmt.Sprintf("runtime: Backward: %d labels for %d samples", len(labels), n))
	}
	logits := e.forward(x, n, true)
	dout := e.dLogits[:n*e.classes]
	loss, correct = softmaxCrossEntropy(logits, labels, e.classes, scale, dout)
	e.backward(x, n)
	return loss, correct
}

// BackwardSquaredError runs the batch forward and back in training mode
// against the squared error; see [Regressor.BackwardSquaredError].
func (e *engine[T]) BackwardSquaredError(x, targets []T, scale T) (loss float64) {
	n := e.batchSize("BackwardSquaredError", x)
	if len(targets) != n*e.classes {
		panic(fmt.Sprintf("runtime: BackwardSquaredError: %d targets for %d samples × %d outputs", len(targets), n, e.classes))
	}
	outputs := e.forward(x, n, true)
	loss = squaredError(outputs, targets, scale, e.dLogits[:n*e.classes])
	e.backward(x, n)
	return loss
}

// gradient returns the gradient buffer of tensor t for n samples of size
// values.
func (e *engine[T]) gradient(t, n, size int) []T {
	if t == e.output {
		return e.dLogits[:n*size]
	}
	return e.dOuts[t][:n*size]
}

// backward overwrites every parameter's gradient from the gradient w.r.t.
// the logits in dLogits, after a training-mode forward of the n samples of x.
func (e *engine[T]) backward(x []T, n int) {
	for _, g := range e.grads {
		clear(g)
	}
	norm := len(e.norms)
	for i := len(e.layers) - 1; i >= 0; i-- {
		l := &e.layers[i]
		if l.Kind == BatchNorm {
			norm--
		}
		if !e.need[i] || l.Kind == Flatten || l.Kind == Softmax {
			continue
		}
		dout := e.gradient(i, n, l.out.Size())
		out := e.outs[i][:n*l.out.Size()]
		in := e.tensor(l.src[0], x, n, l.in.Size())
		// din returns where input k's gradient goes: nil when nobody needs
		// it, scratch when it must be added to a gradient already written.
		din := func(k int) []T {
			t, size := l.src[k], l.inShapes[k].Size()
			switch {
			case t < 0 || !e.need[t]:
				return nil
			case e.accumulates[i][k]:
				return e.scratch[:n*size]
			}
			return e.gradient(t, n, size)
		}
		// added adds input k's gradient from scratch once it is computed.
		added := func(k int) {
			if t := l.src[k]; t >= 0 && e.need[t] && e.accumulates[i][k] {
				size := l.inShapes[k].Size()
				axpy(1, e.scratch[:n*size], e.gradient(t, n, size))
			}
		}
		switch l.Kind {
		case Conv2D:
			convBackward(l, n, in, e.values[l.weight], dout, e.grads[l.weight], param(e.grads, l.bias), din(0))
		case MaxPool:
			maxPoolBackward(l, n, in, out, dout, din(0), e.poolArg)
		case AvgPool:
			avgPoolBackward(l, n, dout, din(0))
		case GlobalAvgPool:
			globalAvgPoolBackward(l, n, dout, din(0))
		case Dense:
			denseBackward(l, n, in, e.values[l.weight], dout, e.grads[l.weight], param(e.grads, l.bias), din(0))
		case ReLU:
			reluBackward(in, dout, din(0))
		case Sigmoid:
			sigmoidBackward(out, dout, din(0))
		case Tanh:
			tanhBackward(out, dout, din(0))
		case ReLU6:
			relu6Backward(in, dout, din(0))
		case LeakyReLU:
			leakyReLUBackward(T(l.Alpha), in, dout, din(0))
		case BatchNorm:
			batchNormBackward(l, n, in, e.values[l.weight], dout, e.grads[l.weight], e.grads[l.bias], din(0), &e.norms[norm])
		case Dropout:
			if d := din(0); d != nil {
				multiply(dout, e.masks[i][:len(dout)], d)
			}
		case Add:
			for k := range l.src {
				if d := din(k); d != nil {
					copy(d, dout)
					added(k)
				}
			}
			continue
		case Concat:
			offset := 0
			for k := range l.src {
				c := l.inShapes[k].Channels
				if d := din(k); d != nil {
					concatBackward(n*l.out.Height*l.out.Width, dout, l.out.Channels, offset, d, c)
					added(k)
				}
				offset += c
			}
			continue
		}
		added(0)
	}
}
