package ir

import (
	"github.com/cnngen/cnngen/gen/spec"
	"github.com/cnngen/cnngen/runtime"
)

// Network is a validated, shape-inferred network: what the emitter and the
// generic runtime are built from.
type Network struct {
	// Name is the network's name (a valid Go identifier).
	Name string
	// File is the description's path, as given.
	File string
	// Input is the shape of one input sample.
	Input runtime.Shape
	// Layers are the layers in a topological order (each after the layers
	// it takes as Inputs; as written whenever the description allows it).
	// A flatten layer precedes a dense layer whose input is not flat
	// (inserted when the description leaves it implicit). The last layer is
	// the network's output: softmax for a classifier, any other layer for
	// a regression network.
	Layers []Layer
	// Params lists every trainable tensor in the order of [runtime.Model.Params].
	Params []runtime.ParamInfo
	// Classes is the number of outputs: classes of a classifier, values
	// of a regression network's output.
	Classes int
	// Train is the resolved training recipe.
	Train runtime.TrainConfig
}

// Layer is one layer with its shapes resolved.
type Layer struct {
	runtime.LayerSpec
	// Pos is where the layer is described (zero for inserted layers).
	Pos spec.Pos
	// Inputs index the layers of Network.Layers whose outputs feed this
	// one, in order; -1 is the network's input. Each index is below the
	// layer's own. LayerSpec.Inputs holds the same layers by name.
	Inputs []int
	// In and Out are the per-sample input and output shapes; In is the
	// first input's for add and concat.
	In, Out runtime.Shape
	// PadTop, PadBottom, PadLeft and PadRight are the TensorFlow padding
	// amounts (conv and pool layers).
	PadTop, PadBottom, PadLeft, PadRight int
	// Weight and Bias index Network.Params (a batchnorm's scale γ and
	// shift β); -1 for layers without them (Bias alone for a conv2d or
	// dense layer with bias: false).
	Weight, Bias int
	// ParamCount is the number of trainable values of the layer.
	ParamCount int
	// RunningStats is the number of running-statistic values of a
	// batchnorm layer, 2·Channels (running mean and running variance, one
	// float32 each per channel); 0 for other layers. Each batchnorm layer
	// also counts its training batches in an int64 (num_batches_tracked),
	// not included here.
	RunningStats int
	// MACs is the number of multiply-accumulates of one sample's forward
	// pass: OH·OW·Filters·KH·KW·C/Groups for conv2d, inputs·units for
	// dense, 0 for every other layer (the convention of a PyTorch MAC
	// count hooked on Conv2d and Linear).
	MACs int64
	// ActivationBytes is the size in bytes of one sample's output (float32).
	ActivationBytes int64
}
