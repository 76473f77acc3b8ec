package onnx

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cnngen/cnngen/gen/onnx/onnxpb"
)

// intConst adds a Constant node of INT64 values.
func (b *graph) intConst(name string, dims []int64, v ...int64) string {
	t := &onnxpb.TensorProto{Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: v}
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{OpType: proto.String("Constant"), Name: proto.String(name), Output: []string{name},
		Attribute: []*onnxpb.AttributeProto{{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}}})
	return name
}

// torchPads writes the sub-graph that PyTorch 1.13 exports for
// nn.ZeroPad2d((left, right, top, bottom)) at opset 13 and returns the
// name of its pads, [0, 0, top, left, 0, 0, bottom, right].
func (b *graph) torchPads(left, right, top, bottom int64) string {
	four := b.intConst("p_four", []int64{1}, 4)
	list := b.intConst("p_list", []int64{4}, left, right, top, bottom)
	zeros := b.node("ConstantOfShape", "p_zeros", []string{four})
	b.g.Node[len(b.g.Node)-1].Attribute = []*onnxpb.AttributeProto{{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(),
		T: &onnxpb.TensorProto{Dims: []int64{1}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{0}}}}
	cat := b.node("Concat", "p_cat", []string{list, zeros}, aInt("axis", 0))
	shape := b.intConst("p_shape", []int64{2}, -1, 2)
	r := b.node("Reshape", "p_reshape", []string{cat, shape})
	starts := b.intConst("p_starts", []int64{1}, -1)
	ends := b.intConst("p_ends", []int64{1}, -9223372036854775807)
	axes := b.intConst("p_axes", []int64{1}, 0)
	steps := b.intConst("p_steps", []int64{1}, -1)
	sl := b.node("Slice", "p_slice", []string{r, starts, ends, axes, steps})
	tr := b.node("Transpose", "p_transpose", []string{sl}, aInts("perm", 1, 0))
	flat := b.intConst("p_flat", []int64{1}, -1)
	r2 := b.node("Reshape", "p_reshape2", []string{tr, flat})
	return b.node("Cast", "p_cast", []string{r2}, aInt("to", 7))
}

// TestPad checks that PyTorch's exported ZeroPad2d before a Conv becomes
// the Conv's padding, with its constant sub-graph folded.
func TestPad(t *testing.T) {
	b := newGraph(13, 1, 1, 4, 4)
	pads := b.torchPads(0, 1, 0, 1)
	b.init("zero", nil, []float32{0})
	b.node("Pad", "pad", []string{"x", pads, "zero"}, aString("mode", "constant"))
	w := ramp(2*9, 1)
	b.init("w", []int64{2, 1, 3, 3}, w)
	b.node("Conv", "conv", []string{"pad", "w"}, aInts("strides", 2, 2), aInts("pads", 0, 0, 0, 0))
	m := mustImport(t, b.model())
	x := ramp(16, 3)
	want := convRef(x, 1, 4, 4, w, 2, 3, 3, 1, nil, 2, 2, 0, 0, 2, 2)
	closeTo(t, forward(t, m, 1, 1, 4, 4, x), toHWC(want, 2, 2, 2), 1e-5)

	// An all-zero Pad is nothing; Pads before anything but a Conv, of
	// other values or modes, or on the channels are refused.
	b = newGraph(13, 1, 1, 4, 4)
	b.initInts("none", []int64{8}, []int64{0, 0, 0, 0, 0, 0, 0, 0})
	b.node("Pad", "pad", []string{"x", "none"})
	b.node("AveragePool", "ap", nil, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2))
	mustImport(t, b.model())
	cases := []struct {
		pads  []int64
		attrs []*onnxpb.AttributeProto
		next  string
		want  string
	}{
		{[]int64{0, 0, 1, 1, 0, 0, 1, 1}, nil, "Relu", `node "next" (Relu, opset 13): input 1 ("pad") comes from a Pad node`},
		{[]int64{0, 0, 1, 1, 0, 0, 1, 1}, []*onnxpb.AttributeProto{aString("mode", "reflect")}, "Conv", `node "pad" (Pad, opset 13): mode "reflect"`},
		{[]int64{0, 1, 0, 0, 0, 0, 0, 0}, nil, "Conv", `node "pad" (Pad, opset 13): pads [0 1 0 0 0 0 0 0]`},
		{[]int64{0, 0, 1, 0, 0, 0, 0, 0}, nil, "Conv", `node "next" (Conv, opset 13): pads [1 0 0 0]`},
		{[]int64{0, 0, -1, 0, 0, 0, 0, 0}, nil, "Conv", `node "pad" (Pad, opset 13): pads`},
	}
	for _, c := range cases {
		b := newGraph(13, 1, 1, 4, 4)
		b.initInts("pads", []int64{8}, c.pads)
		b.init("w", []int64{1, 1, 1, 1}, []float32{1})
		b.node("Pad", "pad", []string{"x", "pads"}, c.attrs...)
		if c.next == "Conv" {
			b.node("Conv", "next", []string{"pad", "w"})
		} else {
			b.node(c.next, "next", nil)
		}
		refuse(t, b.model(), c.want)
	}
	b = newGraph(13, 1, 1, 4, 4)
	b.initInts("pads", []int64{8}, []int64{0, 0, 1, 1, 0, 0, 1, 1})
	b.init("one", nil, []float32{1})
	b.node("Pad", "pad", []string{"x", "pads", "one"})
	b.init("w", []int64{1, 1, 1, 1}, []float32{1})
	b.node("Conv", "next", []string{"pad", "w"})
	refuse(t, b.model(), `node "pad" (Pad, opset 13): constant_value 1`)
}
