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
	// Layers are the layers in order. A flatten layer always precedes the
	// first dense layer (inserted when the description leaves it implicit)
	// and the last layer is softmax.
	Layers []Layer
	// Params lists every trainable tensor in the order of [runtime.Model.Params].
	Params []runtime.ParamInfo
	// Classes is the number of outputs.
	Classes int
	// Train is the resolved training recipe.
	Train runtime.TrainConfig
}

// Layer is one layer with its shapes resolved.
type Layer struct {
	runtime.LayerSpec
	// Pos is where the layer is described (zero for inserted layers).
	Pos spec.Pos
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
