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
	// In and Out are the per-sample input and output shapes.
	In, Out runtime.Shape
	// PadTop, PadBottom, PadLeft and PadRight are the TensorFlow padding
	// amounts (conv and pool layers).
	PadTop, PadBottom, PadLeft, PadRight int
	// Weight and Bias index Network.Params; -1 for layers without parameters.
	Weight, Bias int
	// ParamCount is the number of trainable values of the layer.
	ParamCount int
	// MACs is the number of multiply-accumulates of one sample's forward pass.
	MACs int64
	// ActivationBytes is the size in bytes of one sample's output (float32).
	ActivationBytes int64
}
