package onnx

import (
	"math"
	"strings"
	"testing"
)

// TestMoreOps covers the remaining forms: MaxPool's ceil_mode, a Conv's
// bias from a following Add, Flatten and Reshape of a flat tensor, Concat
// of flat tensors, batch norm on features, Gemm with a scalar C, Dropout's
// ratio attribute in old opsets, Softmax's default axis before opset 13,
// Squeeze in a shape computation, and the network name check.
func TestMoreOps(t *testing.T) {
	// ceil_mode: 2x2/2 on 5x5 gives 3x3, TensorFlow's same.
	b := newGraph(13, 1, 1, 5, 5)
	b.node("MaxPool", "mp", nil, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2), aInt("ceil_mode", 1))
	m := mustImport(t, b.model())
	if !strings.Contains(string(m.YAML), "padding: same") {
		t.Errorf("ceil_mode:\n%s", m.YAML)
	}
	x := ramp(25, 1)
	var want []float32
	for oy := 0; oy < 3; oy++ {
		for ox := 0; ox < 3; ox++ {
			mx := float32(math.Inf(-1))
			for y := 2 * oy; y < min(2*oy+2, 5); y++ {
				for xx := 2 * ox; xx < min(2*ox+2, 5); xx++ {
					mx = max(mx, x[y*5+xx])
				}
			}
			want = append(want, mx)
		}
	}
	closeTo(t, forward(t, m, 1, 1, 5, 5, x), want, 0)

	// Conv without bias + Add of a [1, M, 1, 1] constant.
	b = newGraph(13, 1, 1, 2, 2)
	w := []float32{1, -1}
	b.init("w", []int64{2, 1, 1, 1}, w)
	b.init("c", []int64{1, 2, 1, 1}, []float32{10, 20})
	b.node("Conv", "cv", []string{"x", "w"})
	b.node("Add", "bias", []string{"cv", "c"})
	m = mustImport(t, b.model())
	if strings.Contains(string(m.YAML), "bias: false") {
		t.Errorf("conv bias not folded:\n%s", m.YAML)
	}
	x = []float32{1, 2, 3, 4}
	closeTo(t, forward(t, m, 1, 1, 2, 2, x), []float32{11, 19, 12, 18, 13, 17, 14, 16}, 0)
	// A [2] constant broadcasts over the width, not the channels.
	b = newGraph(13, 1, 1, 2, 2)
	b.init("w", []int64{2, 1, 1, 1}, w)
	b.init("c", []int64{2}, []float32{10, 20})
	b.node("Conv", "cv", []string{"x", "w"})
	b.node("Add", "bias", []string{"cv", "c"})
	refuse(t, b.model(), `node "bias" (Add, opset 13)`, "channel axis")

	// Flat tensors: Flatten and Reshape are nothing, Concat joins
	// features, batch norm normalises each feature, Gemm's C broadcasts.
	b = newGraph(11, 1, 2)
	b.init("s", []int64{4}, []float32{1, 2, 3, 4})
	b.init("z", []int64{4}, []float32{0, 0, 0, 0})
	b.init("v", []int64{4}, []float32{1, 1, 1, 1})
	b.init("w", []int64{4, 2}, []float32{1, 0, 0, 1, 1, 1, -1, 0})
	b.init("c", []int64{1}, []float32{0.5})
	b.initInts("shape", []int64{2}, []int64{1, -1})
	b.node("Flatten", "f", []string{"x"})
	b.node("Reshape", "r", []string{"f", "shape"})
	b.node("Concat", "cat", []string{"r", "x"}, aInt("axis", -1))
	b.node("BatchNormalization", "bn", []string{"cat", "s", "z", "z", "v"}, aFloat("epsilon", 0))
	b.node("Dropout", "drop", nil, aFloat("ratio", 0.125))
	b.node("Gemm", "g", []string{"drop", "w", "c"})
	b.node("Softmax", "sm", nil)
	refuse(t, b.model(), `node "bn"`, "epsilon 0")
	b.g.Node[3].Attribute = nil
	m = mustImport(t, b.model())
	if y := string(m.YAML); !strings.Contains(y, "rate: 0.125") || !strings.Contains(y, "kind: concat") || strings.Contains(y, "kind: flatten") {
		t.Errorf("flat graph:\n%s", y)
	}
	x = []float32{1, 2}
	sc := float32(1 / math.Sqrt(1+1e-5))
	h := []float32{1 * sc, 4 * sc, 3 * sc, 8 * sc}
	want = []float32{0.5 + h[0] + h[2] - h[3], 0.5 + h[1] + h[2]}
	closeTo(t, forward(t, m, 1, 2, 1, 1, x), want, 1e-6)

	// Squeeze in a shape computation: Reshape to [N, -1] from
	// Unsqueeze(Squeeze(Gather(Shape))).
	b = newGraph(11, 1, 2, 2, 2)
	b.initInts("i", []int64{1}, []int64{0})
	b.initInts("m1", []int64{1}, []int64{-1})
	b.node("Shape", "sh", []string{"x"})
	b.node("Gather", "ga", []string{"sh", "i"})
	b.node("Squeeze", "sq", nil, aInts("axes", 0))
	b.node("Unsqueeze", "un", nil, aInts("axes", 0))
	b.node("Concat", "ca", []string{"un", "m1"}, aInt("axis", 0))
	b.node("Reshape", "re", []string{"x", "ca"})
	b.init("w", []int64{8, 2}, ramp(16, 1))
	b.node("MatMul", "mm", []string{"re", "w"})
	mustImport(t, b.model())

	if _, err := Import(b.model(), "main"); err == nil || !strings.Contains(err.Error(), "network name") {
		t.Errorf("network name main: %v", err)
	}
	for path, want := range map[string]string{"a/b/resnet-8.onnx": "resnet_8", "8net.onnx": "n8net", "func.onnx": "net_func", "main.onnx": "net_main", "..onnx": "net", `c:\m\x.y.onnx`: "x_y"} {
		if got := NetworkName(path); got != want {
			t.Errorf("NetworkName(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestNonFinite checks that NaN and infinite weights are refused with the
// node.
func TestNonFinite(t *testing.T) {
	b := newGraph(13, 1, 2)
	b.init("w", []int64{2, 2}, []float32{1, float32(math.NaN()), 0, 1})
	b.node("Gemm", "fc", []string{"x", "w"})
	refuse(t, b.model(), `node "fc" (Gemm, opset 13): the weight holds NaN`)
	b = newGraph(13, 1, 2)
	b.init("w", []int64{2, 2}, []float32{1, 0, 0, 1})
	b.init("c", []int64{2}, []float32{float32(math.Inf(1)), 0})
	b.node("Gemm", "fc", []string{"x", "w", "c"})
	refuse(t, b.model(), `node "fc" (Gemm, opset 13): the bias holds +Inf`)
}
