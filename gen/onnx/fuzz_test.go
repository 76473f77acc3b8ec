package onnx

import (
	"bytes"
	"testing"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
)

// FuzzImport checks that no input makes Import panic, and that whatever it
// accepts loads back (the description and the weights).
func FuzzImport(f *testing.F) {
	b := newGraph(13, 1, 2, 3, 3)
	b.init("w", []int64{2, 2, 3, 3}, ramp(36, 1))
	b.init("s", []int64{2}, []float32{1, 2})
	b.node("Conv", "c", []string{"x", "w"}, aInts("pads", 1, 1, 1, 1))
	b.node("BatchNormalization", "bn", []string{"c", "s", "s", "s", "s"})
	b.node("Relu", "r", nil)
	b.node("MaxPool", "p", nil, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2))
	b.node("GlobalAveragePool", "g", nil)
	b.node("Flatten", "f", nil)
	b.init("fc", []int64{2, 2}, []float32{1, 2, 3, 4})
	b.node("Gemm", "d", []string{"f", "fc", "s"}, aInt("transB", 1))
	b.node("Softmax", "sm", nil, aInt("axis", -1))
	f.Add(b.model())
	b = newGraph(11, -1, 4)
	b.init("w", []int64{4, 2}, ramp(8, 1))
	b.init("c", []int64{2}, []float32{1, 2})
	b.node("MatMul", "mm", []string{"x", "w"})
	b.node("Add", "a", []string{"mm", "c"})
	b.node("Clip", "cl", nil, aFloat("min", 0), aFloat("max", 6))
	f.Add(b.model())
	b = newGraph(13, 1, 1, 2, 2)
	b.initInts("zero", nil, []int64{0})
	b.initInts("m1", []int64{1}, []int64{-1})
	b.initInts("axes", []int64{1}, []int64{0})
	b.node("Shape", "sh", []string{"x"})
	b.node("Gather", "ga", []string{"sh", "zero"})
	b.node("Unsqueeze", "un", []string{"ga", "axes"})
	b.node("Concat", "ca", []string{"un", "m1"}, aInt("axis", 0))
	b.node("Reshape", "re", []string{"x", "ca"})
	b.node("Dropout", "dr", nil)
	f.Add(b.model())
	b = newGraph(13, 1, 1, 4, 4)
	pads := b.torchPads(0, 1, 0, 1)
	b.node("Pad", "pad", []string{"x", pads})
	b.init("w", []int64{2, 1, 3, 3}, ramp(18, 1))
	b.node("Conv", "conv", []string{"pad", "w"}, aInts("strides", 2, 2))
	b.node("Sigmoid", "s", nil)
	f.Add(b.model())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Import(data, "net")
		if err != nil {
			return
		}
		if len(m.YAML) == 0 || m.Engine == nil {
			t.Fatalf("Import returned an empty model")
		}
		var buf bytes.Buffer
		if err := m.WriteWeights(&buf); err != nil {
			t.Fatalf("WriteWeights: %v", err)
		}
		net, err := ir.Load("net.yaml", m.YAML)
		if err != nil {
			t.Fatalf("the description does not load: %v\n%s", err, m.YAML)
		}
		eng, err := runtime.NewGeneric(net.Arch())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := checkpoint.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), eng, nil); err != nil {
			t.Fatalf("the weights do not load: %v", err)
		}
	})
}
