// Package onnx imports ONNX models into cnngen: it turns an ONNX model (a
// ModelProto, read with the Go types of package onnxpb) into a cnngen
// network description (YAML text, see docs/format.md) and a safetensors
// checkpoint of its weights in PyTorch's layouts, named after the
// description's layers, which runtime/checkpoint loads.
//
// The graph must be a fixed-shape CNN in NCHW layout with one float input
// ([N, C, H, W] or [N, F]) and one output. The supported operators are Conv,
// BatchNormalization, Relu, Clip (min 0, max 6 or none), LeakyRelu, Sigmoid,
// Tanh, MaxPool, AveragePool, GlobalAveragePool, Gemm, MatMul (with a
// following Add of a constant as its bias), Flatten, Reshape to [N, -1],
// Add, Concat on the channel axis, Dropout, Identity, Softmax on the last
// axis, and Pad of zeros on the height and width before a Conv (it joins the
// Conv's padding), plus constant sub-graphs (Constant, ConstantOfShape,
// Shape, Gather, Unsqueeze, Squeeze, Concat, Reshape, Slice, Transpose,
// Cast) such as those exporters write for Reshape's shape and Pad's pads.
// Padding must be what cnngen has, TensorFlow's same or valid: explicit
// pads are taken when they give the same windows. Anything else is refused
// with an error naming the node, its operator and the model's opset; no input
// makes Import panic, and its allocations are bounded by the input's size.
package onnx
