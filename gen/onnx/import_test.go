package onnx

import (
	"math"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

func relu(v []float32) []float32 {
	out := make([]float32, len(v))
	for k, x := range v {
		out[k] = max(x, 0)
	}
	return out
}

// toHWC reorders one C×H×W map to H×W×C.
func toHWC(x []float32, c, h, w int) []float32 {
	out := make([]float32, len(x))
	for ch := 0; ch < c; ch++ {
		for k := 0; k < h*w; k++ {
			out[k*c+ch] = x[ch*h*w+k]
		}
	}
	return out
}

// TestConvGemm checks a conv → relu → depthwise conv → flatten → Gemm
// network against a direct NCHW computation: the weight layouts, the
// padding and the CHW flatten order before the dense layer.
func TestConvGemm(t *testing.T) {
	b := newGraph(13, 1, 2, 5, 5)
	w1 := ramp(4*2*3*3, 1)
	b1 := []float32{0.1, -0.2, 0.3, 0.05}
	w2 := ramp(4*1*3*3, -0.7)
	wf := ramp(3*4*3*3, 0.5)
	bf := []float32{1, -1, 0.5}
	b.init("w1", []int64{4, 2, 3, 3}, w1)
	b.init("b1", []int64{4}, b1)
	b.init("w2", []int64{4, 1, 3, 3}, w2)
	b.init("wf", []int64{3, 36}, wf)
	b.init("bf", []int64{3}, bf)
	b.node("Conv", "/features/conv1/Conv", []string{"x", "w1", "b1"}, aInts("pads", 1, 1, 1, 1), aInts("kernel_shape", 3, 3))
	b.node("Relu", "/features/relu/Relu", nil)
	b.node("Conv", "dw", []string{b.last, "w2"}, aInts("pads", 1, 1, 1, 1), aInts("strides", 2, 2), aInt("group", 4))
	b.node("Flatten", "flat", nil)
	b.node("Gemm", "fc", []string{b.last, "wf", "bf"}, aInt("transB", 1))
	m := mustImport(t, b.model())
	y := string(m.YAML)
	for _, want := range []string{"name: features_conv1_Conv", "padding: same", "groups: 4", "bias: false", "kind: flatten", "units: 3", "stride: 2"} {
		if !strings.Contains(y, want) {
			t.Errorf("description lacks %q:\n%s", want, y)
		}
	}
	x := ramp(2*5*5, 2)
	h1 := relu(convRef(x, 2, 5, 5, w1, 4, 3, 3, 1, b1, 1, 1, 1, 1, 5, 5))
	h2 := convRef(h1, 4, 5, 5, w2, 4, 3, 3, 4, nil, 2, 2, 1, 1, 3, 3)
	want := make([]float32, 3)
	for u := range want {
		want[u] = bf[u]
		for i := 0; i < 36; i++ {
			want[u] += wf[u*36+i] * h2[i]
		}
	}
	closeTo(t, forward(t, m, 1, 2, 5, 5, x), want, 1e-5)
	closeTo(t, forward(t, m, 1, 2, 5, 5, x), want, 1e-5)
}

// TestMatMulAdd checks MatMul + Add (the bias) on an N×F input, Gemm with
// transB 0, alpha and beta, and an N×F output.
func TestMatMulAdd(t *testing.T) {
	b := newGraph(13, -1, 4)
	w := ramp(12, 1)
	bias := []float32{0.5, -0.5, 0.25}
	w2 := ramp(6, -1)
	b.init("w", []int64{4, 3}, w)
	b.init("bias", []int64{3}, bias)
	b.init("w2", []int64{3, 2}, w2)
	b.init("c2", []int64{1, 2}, []float32{1, 2})
	b.node("MatMul", "mm", []string{"x", "w"})
	b.node("Add", "addb", []string{"bias", "mm"})
	b.node("Tanh", "t", nil)
	b.node("Gemm", "g2", []string{b.last, "w2", "c2"}, aFloat("alpha", 2), aFloat("beta", 0.5))
	m := mustImport(t, b.model())
	if strings.Contains(string(m.YAML), "bias: false") || strings.Contains(string(m.YAML), "kind: add") {
		t.Errorf("the Add is not folded into the bias:\n%s", m.YAML)
	}
	x := []float32{1, -2, 0.5, 3, 0.1, 0.2, 0.3, -0.4}
	var want []float32
	for s := 0; s < 2; s++ {
		h := make([]float32, 3)
		for u := range h {
			h[u] = bias[u]
			for i := 0; i < 4; i++ {
				h[u] += x[s*4+i] * w[i*3+u]
			}
			h[u] = float32(math.Tanh(float64(h[u])))
		}
		for u := 0; u < 2; u++ {
			v := 0.5 * float32(u+1)
			for i := 0; i < 3; i++ {
				v += 2 * h[i] * w2[i*2+u]
			}
			want = append(want, v)
		}
	}
	closeTo(t, forward(t, m, 2, 4, 1, 1, x), want, 1e-5)
}

// TestBatchNormPools checks batch norm, max and average pooling (with
// excluded padding), activations and global pooling against direct
// computations.
func TestBatchNormPools(t *testing.T) {
	b := newGraph(13, 1, 2, 5, 5)
	scale, shift := []float32{2, 0.5}, []float32{0.1, -0.1}
	mean, vari := []float32{0.3, -0.2}, []float32{4, 0.25}
	b.init("s", []int64{2}, scale)
	b.init("b", []int64{2}, shift)
	b.init("m", []int64{2}, mean)
	b.init("v", []int64{2}, vari)
	b.node("BatchNormalization", "bn", []string{"x", "s", "b", "m", "v"}, aFloat("epsilon", 1e-3), aFloat("momentum", 0.8))
	b.node("LeakyRelu", "lr", nil, aFloat("alpha", 0.2))
	b.node("AveragePool", "ap", nil, aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInts("pads", 1, 1, 1, 1))
	m := mustImport(t, b.model())
	for _, want := range []string{"momentum: 0.19999999", "epsilon: 0.001", "alpha: 0.2", "window: 3", "padding: same"} {
		if !strings.Contains(string(m.YAML), want) {
			t.Errorf("description lacks %q:\n%s", want, m.YAML)
		}
	}
	x := ramp(50, 3)
	h := make([]float32, 50)
	for c := 0; c < 2; c++ {
		for k := 0; k < 25; k++ {
			v := (x[c*25+k]-mean[c])/float32(math.Sqrt(float64(vari[c])+1e-3))*scale[c] + shift[c]
			if v < 0 {
				v *= 0.2
			}
			h[c*25+k] = v
		}
	}
	// 3x3 windows, stride 2, padding 1 on each side: outputs 3x3; the
	// padding is excluded from the mean.
	want := make([]float32, 18)
	for c := 0; c < 2; c++ {
		for oy := 0; oy < 3; oy++ {
			for ox := 0; ox < 3; ox++ {
				var s float32
				n := 0
				for y := oy*2 - 1; y <= oy*2+1; y++ {
					for xx := ox*2 - 1; xx <= ox*2+1; xx++ {
						if y >= 0 && y < 5 && xx >= 0 && xx < 5 {
							s += h[c*25+y*5+xx]
							n++
						}
					}
				}
				want[c*9+oy*3+ox] = s / float32(n)
			}
		}
	}
	closeTo(t, forward(t, m, 1, 2, 5, 5, x), toHWC(want, 2, 3, 3), 1e-5)

	// The same pads on an even map are PyTorch's, not TensorFlow's, padding.
	b = newGraph(13, 1, 1, 4, 4)
	b.node("AveragePool", "ap", nil, aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInts("pads", 1, 1, 1, 1))
	refuse(t, b.model(), `node "ap" (AveragePool, opset 13)`, "neither valid nor same")

	// MaxPool with VALID auto_pad, then global average pooling, sigmoid.
	b = newGraph(13, 1, 1, 4, 4)
	b.node("MaxPool", "mp", nil, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2), aString("auto_pad", "VALID"))
	b.node("GlobalAveragePool", "gap", nil)
	b.node("Sigmoid", "sig", nil)
	m = mustImport(t, b.model())
	x = ramp(16, 1)
	var sum float32
	for oy := 0; oy < 2; oy++ {
		for ox := 0; ox < 2; ox++ {
			mx := float32(math.Inf(-1))
			for y := 2 * oy; y < 2*oy+2; y++ {
				for xx := 2 * ox; xx < 2*ox+2; xx++ {
					mx = max(mx, x[y*4+xx])
				}
			}
			sum += mx
		}
	}
	closeTo(t, forward(t, m, 1, 1, 4, 4, x), []float32{float32(1 / (1 + math.Exp(-float64(sum/4))))}, 1e-6)
}

// TestResidualConcat checks Add of two computed tensors, Concat along the
// channels, Clip as relu6, Identity and Dropout.
func TestResidualConcat(t *testing.T) {
	b := newGraph(13, 1, 1, 3, 3)
	wa, wb := ramp(2*1*1*1, 3), ramp(2*1*3*3, 1)
	b.init("wa", []int64{2, 1, 1, 1}, wa)
	b.init("wb", []int64{2, 1, 3, 3}, wb)
	b.init("lo", nil, []float32{0})
	b.init("hi", nil, []float32{6})
	b.init("ratio", nil, []float32{0.25})
	a := b.node("Conv", "a", []string{"x", "wa"})
	c := b.node("Conv", "b", []string{"x", "wb"}, aString("auto_pad", "SAME_UPPER"))
	s := b.node("Add", "sum", []string{a, c})
	r := b.node("Clip", "clip", []string{s, "lo", "hi"})
	i := b.node("Identity", "id", []string{r})
	d := b.node("Dropout", "drop", []string{i, "ratio"})
	b.node("Concat", "cat", []string{d, a}, aInt("axis", 1))
	m := mustImport(t, b.model())
	for _, want := range []string{"kind: relu6", "kind: dropout, name: drop, rate: 0.25", "inputs: [a, b]", "inputs: [drop, a]"} {
		if !strings.Contains(string(m.YAML), want) {
			t.Errorf("description lacks %q:\n%s", want, m.YAML)
		}
	}
	x := ramp(9, 20)
	ha := convRef(x, 1, 3, 3, wa, 2, 1, 1, 1, nil, 1, 1, 0, 0, 3, 3)
	hb := convRef(x, 1, 3, 3, wb, 2, 3, 3, 1, nil, 1, 1, 1, 1, 3, 3)
	want := make([]float32, 0, 36)
	for k := range ha {
		want = append(want, min(max(ha[k]+hb[k], 0), 6))
	}
	want = append(want, ha...)
	closeTo(t, forward(t, m, 1, 1, 3, 3, x), toHWC(want, 4, 3, 3), 1e-5)
}

// TestReshapeFold checks that the Shape → Gather → Unsqueeze → Concat
// sub-graph that exporters write before Reshape folds into a flatten, and
// that a classifier ends with softmax.
func TestReshapeFold(t *testing.T) {
	for _, opset := range []int64{11, 13} {
		b := newGraph(opset, -1, 2, 2, 2)
		w := ramp(2*8, 1)
		b.init("w", []int64{2, 8}, w)
		b.initInts("zero", nil, []int64{0})
		b.initInts("minus1", []int64{1}, []int64{-1})
		b.initInts("axes", []int64{1}, []int64{0})
		b.node("Shape", "shape", []string{"x"})
		b.node("Gather", "gather", []string{"shape", "zero"}, aInt("axis", 0))
		if opset >= 13 {
			b.node("Unsqueeze", "unsq", []string{"gather", "axes"})
		} else {
			b.node("Unsqueeze", "unsq", []string{"gather"}, aInts("axes", 0))
		}
		b.node("Concat", "cat", []string{"unsq", "minus1"}, aInt("axis", 0))
		b.node("Reshape", "reshape", []string{"x", "cat"})
		b.node("Gemm", "fc", []string{"reshape", "w"}, aInt("transB", 1))
		b.node("Softmax", "prob", nil, aInt("axis", 1))
		m := mustImport(t, b.model())
		y := string(m.YAML)
		if !strings.Contains(y, "kind: flatten, name: reshape") || !strings.Contains(y, "kind: softmax") || strings.Contains(y, "mse") {
			t.Errorf("opset %d: description:\n%s", opset, y)
		}
		x := ramp(16, 1)
		want := make([]float32, 4)
		for s := 0; s < 2; s++ {
			for u := 0; u < 2; u++ {
				for i := 0; i < 8; i++ {
					want[s*2+u] += w[u*8+i] * x[s*8+i]
				}
			}
		}
		closeTo(t, forward(t, m, 2, 2, 2, 2, x), want, 1e-5)
	}
}

// TestNames checks that layer names become unique valid identifiers.
func TestNames(t *testing.T) {
	b := newGraph(13, 1, 1, 2, 2)
	b.node("Relu", "input", nil)
	b.node("Relu", "func", nil)
	b.node("Relu", "Input", nil)
	b.node("Relu", "9lives", nil)
	b.node("Relu", "/a/b.c", nil)
	b.node("Relu", "a_b_c", nil)
	b.node("Relu", "", nil)
	b.g.Node[len(b.g.Node)-1].Output = []string{"out:0"}
	b.last = "out:0"
	b.node("Relu", "ünï", nil)
	b.node("Relu", strings.Repeat("x", 200), nil)
	m := mustImport(t, b.model())
	for _, want := range []string{"name: input_2}", "name: relu_func}", "name: Input_3}", "name: n9lives}", "name: a_b_c}", "name: a_b_c_2}", "name: out_0}", "name: n}", "name: " + strings.Repeat("x", 56) + "}"} {
		if !strings.Contains(string(m.YAML), want) {
			t.Errorf("description lacks %q:\n%s", want, m.YAML)
		}
	}
}

// TestPadding checks which explicit pads and auto_pad modes map to same or
// valid padding, and that the others are refused.
func TestPadding(t *testing.T) {
	cases := []struct {
		name       string
		h, k, s    int64
		attrs      []*onnxpb.AttributeProto
		want, fail string
	}{
		{"zero pads", 5, 3, 1, []*onnxpb.AttributeProto{aInts("pads", 0, 0, 0, 0)}, "valid", ""},
		{"symmetric same", 5, 3, 1, []*onnxpb.AttributeProto{aInts("pads", 1, 1, 1, 1)}, "same", ""},
		{"asymmetric same", 8, 4, 1, []*onnxpb.AttributeProto{aInts("pads", 1, 1, 2, 2)}, "same", ""},
		{"unused pad after", 8, 2, 2, []*onnxpb.AttributeProto{aInts("pads", 0, 0, 1, 1)}, "valid", ""},
		{"stride 2 same", 7, 3, 2, []*onnxpb.AttributeProto{aInts("pads", 1, 1, 1, 1)}, "same", ""},
		{"pad before only", 5, 3, 1, []*onnxpb.AttributeProto{aInts("pads", 1, 1, 0, 0)}, "", "neither valid nor same"},
		{"too much padding", 5, 3, 1, []*onnxpb.AttributeProto{aInts("pads", 2, 2, 2, 2)}, "", "neither valid nor same"},
		{"SAME_UPPER", 8, 4, 1, []*onnxpb.AttributeProto{aString("auto_pad", "SAME_UPPER")}, "same", ""},
		{"SAME_LOWER even", 5, 3, 1, []*onnxpb.AttributeProto{aString("auto_pad", "SAME_LOWER")}, "same", ""},
		{"SAME_LOWER odd", 8, 4, 1, []*onnxpb.AttributeProto{aString("auto_pad", "SAME_LOWER")}, "", "SAME_LOWER"},
		{"VALID", 5, 3, 2, []*onnxpb.AttributeProto{aString("auto_pad", "VALID")}, "valid", ""},
		{"dilations", 5, 3, 1, []*onnxpb.AttributeProto{aInts("dilations", 2, 2)}, "", "dilations"},
		{"3-D strides", 5, 3, 1, []*onnxpb.AttributeProto{aInts("strides", 1, 1, 1)}, "", "given twice"},
		{"bad auto_pad", 5, 3, 1, []*onnxpb.AttributeProto{aString("auto_pad", "WRAP")}, "", "auto_pad"},
		{"kernel too big", 2, 3, 1, nil, "", "does not fit"},
		{"negative pads", 5, 3, 1, []*onnxpb.AttributeProto{aInts("pads", -1, 0, 0, 0)}, "", "pads"},
	}
	for _, c := range cases {
		for _, op := range []string{"Conv", "MaxPool"} {
			b := newGraph(13, 1, 1, c.h, c.h)
			attrs := append([]*onnxpb.AttributeProto{aInts("strides", c.s, c.s)}, c.attrs...)
			if op == "Conv" {
				b.init("w", []int64{1, 1, c.k, c.k}, ramp(int(c.k*c.k), 1))
				b.node(op, "op", []string{"x", "w"}, attrs...)
			} else {
				b.node(op, "op", nil, append(attrs, aInts("kernel_shape", c.k, c.k))...)
			}
			if c.fail != "" {
				refuse(t, b.model(), `node "op" (`+op+", opset 13)", c.fail)
				continue
			}
			m, err := Import(b.model(), "net")
			if err != nil {
				t.Errorf("%s %s: %v", c.name, op, err)
				continue
			}
			if !strings.Contains(string(m.YAML), "padding: "+c.want) {
				t.Errorf("%s %s: want padding %s:\n%s", c.name, op, c.want, m.YAML)
			}
		}
	}
}

// TestAveragePoolCountIncludePad checks that count_include_pad 1 is taken
// only without padding.
func TestAveragePoolCountIncludePad(t *testing.T) {
	b := newGraph(13, 1, 1, 4, 4)
	b.node("AveragePool", "ap", nil, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2), aInt("count_include_pad", 1))
	mustImport(t, b.model())
	b = newGraph(13, 1, 1, 4, 4)
	b.node("AveragePool", "ap", nil, aInts("kernel_shape", 3, 3), aInts("pads", 1, 1, 1, 1), aInt("count_include_pad", 1))
	refuse(t, b.model(), `node "ap" (AveragePool, opset 13)`, "count_include_pad")
}

// TestClip checks Clip's forms in old and new opsets.
func TestClip(t *testing.T) {
	b := newGraph(6, 1, 1, 2, 2)
	b.node("Clip", "c", nil, aFloat("min", 0), aFloat("max", 6))
	if m := mustImport(t, b.model()); !strings.Contains(string(m.YAML), "kind: relu6") {
		t.Errorf("opset 6 Clip(0, 6):\n%s", m.YAML)
	}
	b = newGraph(13, 1, 1, 2, 2)
	b.init("lo", nil, []float32{0})
	b.node("Clip", "c", []string{"x", "lo"})
	if m := mustImport(t, b.model()); !strings.Contains(string(m.YAML), "kind: relu,") {
		t.Errorf("Clip(0):\n%s", m.YAML)
	}
	b = newGraph(13, 1, 1, 2, 2)
	b.init("lo", nil, []float32{0})
	b.init("hi", nil, []float32{5})
	b.node("Clip", "c", []string{"x", "lo", "hi"})
	refuse(t, b.model(), `node "c" (Clip, opset 13)`, "Clip(0, 5)")
}

// TestRefusals checks that unsupported graphs are refused with the node's
// name, operator and opset.
func TestRefusals(t *testing.T) {
	conv := func(b *graph) { b.init("w", []int64{2, 1, 1, 1}, []float32{1, 2}) }
	cases := []struct {
		name  string
		build func() *graph
		want  []string
	}{
		{"unknown op", func() *graph { b := newGraph(13, 1, 1, 2, 2); b.node("Mul", "m", []string{"x", "x"}); return b },
			[]string{`node "m" (Mul, opset 13): operator Mul is not supported`}},
		{"softmax on a map", func() *graph { b := newGraph(13, 1, 2, 2, 2); b.node("Softmax", "s", nil); return b },
			[]string{`node "s" (Softmax, opset 13)`}},
		{"softmax on a flattened map", func() *graph {
			b := newGraph(13, 1, 2, 2, 2)
			b.node("Flatten", "f", nil)
			b.node("Softmax", "s", nil)
			return b
		}, []string{`node "s"`, "HWC"}},
		{"flatten axis 2", func() *graph { b := newGraph(13, 1, 2, 2, 2); b.node("Flatten", "f", nil, aInt("axis", 2)); return b },
			[]string{`node "f" (Flatten, opset 13)`, "axis 2"}},
		{"reshape to 3-D", func() *graph {
			b := newGraph(13, 1, 2, 2, 2)
			b.initInts("shape", []int64{3}, []int64{1, 2, 4})
			b.node("Reshape", "r", []string{"x", "shape"})
			return b
		}, []string{`node "r" (Reshape, opset 13)`}},
		{"reshape with computed shape", func() *graph {
			b := newGraph(13, 1, 2, 2, 2)
			b.node("Reshape", "r", []string{"x", "x"})
			return b
		}, []string{`node "r"`, "constant"}},
		{"gemm transA", func() *graph {
			b := newGraph(13, 1, 2)
			b.init("w", []int64{2, 2}, ramp(4, 1))
			b.node("Gemm", "g", []string{"x", "w"}, aInt("transA", 1))
			return b
		}, []string{`node "g" (Gemm, opset 13)`, "transA"}},
		{"gemm wrong size", func() *graph {
			b := newGraph(13, 1, 3)
			b.init("w", []int64{2, 2}, ramp(4, 1))
			b.node("Gemm", "g", []string{"x", "w"})
			return b
		}, []string{`node "g"`, "does not fit"}},
		{"gemm on a map", func() *graph {
			b := newGraph(13, 1, 1, 2, 2)
			b.init("w", []int64{4, 2}, ramp(8, 1))
			b.node("Gemm", "g", []string{"x", "w"})
			return b
		}, []string{`node "g"`, "flatten"}},
		{"add of a constant", func() *graph {
			b := newGraph(13, 1, 2, 2, 2)
			b.init("c", []int64{1}, []float32{1})
			b.node("Add", "a", []string{"x", "c"})
			return b
		}, []string{`node "a" (Add, opset 13)`, "bias"}},
		{"add with bias used twice", func() *graph {
			b := newGraph(13, 1, 1, 2, 2)
			conv(b)
			b.init("c", []int64{2, 1, 1}, []float32{1, 2})
			b.node("Conv", "cv", []string{"x", "w"})
			b.node("Add", "a", []string{"cv", "c"})
			b.node("Add", "a2", []string{"a", "cv"})
			return b
		}, []string{`node "a" (Add`}},
		{"broadcast add", func() *graph {
			b := newGraph(13, 1, 1, 2, 2)
			conv(b)
			b.node("Conv", "cv", []string{"x", "w"})
			b.node("Add", "a", []string{"cv", "x"})
			return b
		}, []string{`node "a"`, "broadcasting"}},
		{"concat axis 2", func() *graph {
			b := newGraph(13, 1, 1, 2, 2)
			b.node("Concat", "c", []string{"x", "x"}, aInt("axis", 2))
			return b
		}, []string{`node "c" (Concat, opset 13)`, "axis 2"}},
		{"batchnorm training", func() *graph {
			b := newGraph(13, 1, 1, 2, 2)
			for _, n := range []string{"s", "b", "m", "v"} {
				b.init(n, []int64{1}, []float32{1})
			}
			b.node("BatchNormalization", "bn", []string{"x", "s", "b", "m", "v"}, aInt("training_mode", 1))
			return b
		}, []string{`node "bn" (BatchNormalization, opset 13)`, "training_mode"}},
		{"batchnorm wrong size", func() *graph {
			b := newGraph(13, 1, 1, 2, 2)
			for _, n := range []string{"s", "b", "m", "v"} {
				b.init(n, []int64{2}, []float32{1, 1})
			}
			b.node("BatchNormalization", "bn", []string{"x", "s", "b", "m", "v"})
			return b
		}, []string{`node "bn"`, "1 values"}},
		{"conv groups", func() *graph {
			b := newGraph(13, 1, 3, 2, 2)
			b.init("w", []int64{2, 1, 1, 1}, []float32{1, 2})
			b.node("Conv", "cv", []string{"x", "w"}, aInt("group", 2))
			return b
		}, []string{`node "cv" (Conv, opset 13)`, "group 2"}},
		{"conv weight computed", func() *graph {
			b := newGraph(13, 1, 1, 2, 2)
			b.node("Conv", "cv", []string{"x", "x"})
			return b
		}, []string{`node "cv"`, "constant"}},
		{"dropout mask used", func() *graph {
			b := newGraph(13, 1, 1, 2, 2)
			b.g.Node = append(b.g.Node, &onnxpb.NodeProto{OpType: proto.String("Dropout"), Name: proto.String("d"), Input: []string{"x"}, Output: []string{"y", "mask"}})
			b.last = "mask"
			return b
		}, []string{`node "d" (Dropout, opset 13)`, "output 2"}},
		{"other domain", func() *graph {
			b := newGraph(13, 1, 1, 2, 2)
			b.node("Relu", "r", nil)
			b.g.Node[0].Domain = proto.String("com.microsoft")
			return b
		}, []string{`node "r" (Relu, opset 13)`, "com.microsoft"}},
		{"unknown tensor", func() *graph { b := newGraph(13, 1, 1, 2, 2); b.node("Relu", "r", []string{"nowhere"}); return b },
			[]string{`node "r"`, "nowhere"}},
		{"output is the input", func() *graph { b := newGraph(13, 1, 1, 2, 2); b.node("Identity", "i", nil); return b },
			[]string{"no layers"}},
		{"output of a flatten", func() *graph { b := newGraph(13, 1, 2, 2, 2); b.node("Flatten", "f", nil); return b },
			[]string{"HWC"}},
		{"rank 3 input", func() *graph { b := newGraph(13, 1, 2, 2); b.node("Relu", "r", nil); return b },
			[]string{"rank 3"}},
		{"symbolic size", func() *graph { b := newGraph(13, 1, 2, 0, 2); b.node("Relu", "r", nil); return b },
			[]string{"fixed size"}},
		{"attribute type", func() *graph {
			b := newGraph(13, 1, 1, 2, 2)
			b.node("LeakyRelu", "l", nil, aInt("alpha", 1))
			return b
		}, []string{`node "l" (LeakyRelu, opset 13)`, "want FLOAT"}},
		{"cycle", func() *graph {
			b := newGraph(13, 1, 1, 2, 2)
			b.node("Add", "a", []string{"x", "b"})
			b.node("Relu", "b", []string{"a"})
			return b
		}, []string{"cycle"}},
		{"int initializer as weight", func() *graph {
			b := newGraph(13, 1, 1, 2, 2)
			b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{1, 1, 1, 1},
				DataType: proto.Int32(int32(onnxpb.TensorProto_STRING)), StringData: [][]byte{[]byte("a")}})
			b.node("Conv", "cv", []string{"x", "w"})
			return b
		}, []string{"data type STRING"}},
		{"short raw data", func() *graph {
			b := newGraph(13, 1, 1, 2, 2)
			b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{1000, 1000, 1000, 1000},
				DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: make([]byte, 8)})
			b.node("Conv", "cv", []string{"x", "w"})
			return b
		}, []string{"tensor \"w\""}},
		{"softmax after conv", func() *graph {
			b := newGraph(13, 1, 2)
			b.node("Softmax", "s", nil)
			return b
		}, []string{"does not load"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { refuse(t, c.build().model(), c.want...) })
	}
	refuse(t, []byte("not a model at all"), "not an ONNX model")
	refuse(t, nil, "no graph")
	b := newGraph(13, 1, 1, 2, 2)
	b.node("Relu", "r", nil)
	two := b.model()
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(two, &mp); err != nil {
		t.Fatal(err)
	}
	mp.Graph.Output = append(mp.Graph.Output, mp.Graph.Output[0])
	data, _ := proto.Marshal(&mp)
	refuse(t, data, "2 outputs")
	mp.Graph.Output = mp.Graph.Output[:1]
	mp.OpsetImport = nil
	data, _ = proto.Marshal(&mp)
	refuse(t, data, "operator set")
}
