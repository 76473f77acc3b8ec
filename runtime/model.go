package runtime

// Param is one trainable tensor of a [Model]: its description and the model's
// own storage for its values and gradients (in the standard layout of
// [ParamInfo]). Value and Grad alias the model's memory: writing to Value
// changes the model.
type Param struct {
	ParamInfo
	Value []float32
	Grad  []float32
}

// Model is a network that the runtime can train and evaluate. The generic
// engine ([NewGeneric]) and every generated package implement it.
//
// Inputs are batches of samples laid out one after another, each sample in
// the HWC order of [Model.InputShape]; n = len(x)/InputShape().Size().
type Model interface {
	// Name is the network's name from its description.
	Name() string
	// InputShape is the shape of one input sample.
	InputShape() Shape
	// Classes is the number of outputs (logits) per sample.
	Classes() int
	// Params lists the trainable tensors in a fixed order: per layer in
	// network order, weight then bias. The slices alias the model.
	Params() []Param
	// Forward writes the logits (pre-softmax outputs) of the n samples in x
	// to logits, which holds n*Classes() values.
	Forward(x []float32, logits []float32)
	// Backward runs the batch forward and back: it overwrites every Param's
	// Grad with scale times the gradient of the summed softmax cross-entropy
	// of the n samples against labels (class indices), and returns that sum
	// (unscaled) and how many samples the model classified correctly (argmax
	// of the logits equal to the label; the first maximum on ties).
	Backward(x []float32, labels []int32, scale float32) (loss float64, correct int)
}

// Regressor is a [Model] trained against real-valued targets: a network that
// ends without softmax. Its outputs are Forward's values (Classes() of them
// per sample); its Backward treats them as logits.
type Regressor interface {
	Model
	// BackwardSquaredError runs the batch forward and back: it overwrites
	// every Param's Grad with scale times the gradient of Σ (y−t)², summed
	// over the n samples of x and the outputs, where t holds n·Classes()
	// targets, and returns that sum (unscaled).
	BackwardSquaredError(x, targets []float32, scale float32) (loss float64)
}

// Buffer is a non-trainable tensor of a [Model], in PyTorch's terms: a batch
// norm layer's running statistics, which training updates and evaluation
// reads. Name is "<layer>.running_mean", "<layer>.running_var" or
// "<layer>.num_batches_tracked".
type Buffer struct {
	Name  string
	Layer string
	Shape []int
	// Value holds a float buffer's values (the running mean and variance,
	// [Channels] each); nil for a counter. It aliases the model.
	Value []float32
	// Count points at a counter's value (num_batches_tracked: the number of
	// training batches the layer has seen); nil for a float buffer.
	Count *int64
}

// Stateful is a [Model] with buffers (batch norm). Backward normalises with
// the batch's statistics and updates the buffers; Forward, Logits and
// frozen copies use them unchanged.
type Stateful interface {
	Model
	// Buffers lists the buffers per batch norm layer in network order:
	// running_mean, running_var, num_batches_tracked. The values alias the
	// model.
	Buffers() []Buffer
}

// Stochastic is a [Model] with dropout. Its masks are a function of the seed,
// the step, the layer and the sample's index in the batch (see
// [DropoutMask]), so a run repeats bit for bit whatever the worker count, and
// every engine draws the same masks.
type Stochastic interface {
	Model
	// SetDropoutStep sets the seed and step from which the next Backward
	// calls draw their dropout masks. [Train] calls it before each step.
	SetDropoutStep(seed, step uint64)
}
