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
