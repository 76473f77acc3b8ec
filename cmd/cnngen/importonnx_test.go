package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/gen/onnx/onnxpb"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
)

// onnxModel is a small ONNX classifier: conv → relu → global average pool
// → flatten → Gemm → softmax on a 1×4×4 input; op replaces the relu.
func onnxModel(t *testing.T, op string) []byte {
	t.Helper()
	dim := func(v int64) *onnxpb.TensorShapeProto_Dimension {
		return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}}
	}
	tensor := func(name string, dims []int64, vals []float32) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: vals}
	}
	node := func(op, name string, in ...string) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: in, Output: []string{name}}
	}
	g := &onnxpb.GraphProto{
		Name: proto.String("g"),
		Input: []*onnxpb.ValueInfoProto{{Name: proto.String("x"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(1), Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{dim(1), dim(1), dim(4), dim(4)}}}}}}},
		Initializer: []*onnxpb.TensorProto{
			tensor("w", []int64{2, 1, 3, 3}, []float32{1, 0, -1, 2, 0, -2, 1, 0, -1, 0.5, 0.5, 0.5, 0, 0, 0, -0.5, -0.5, -0.5}),
			tensor("b", []int64{2}, []float32{0.1, -0.1}),
			tensor("fw", []int64{3, 2}, []float32{1, -1, 0.5, 0.5, -1, 2}),
			tensor("fb", []int64{3}, []float32{0, 0.1, 0.2}),
		},
		Node: []*onnxpb.NodeProto{
			node("Conv", "conv", "x", "w", "b"),
			node(op, "act", "conv"),
			node("GlobalAveragePool", "gap", "act"),
			node("Flatten", "flat", "gap"),
			node("Gemm", "fc", "flat", "fw", "fb"),
			node("Softmax", "prob", "fc"),
		},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("prob")}},
	}
	g.Node[0].Attribute = []*onnxpb.AttributeProto{{Name: proto.String("pads"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 1, 1, 1}}}
	g.Node[4].Attribute = []*onnxpb.AttributeProto{{Name: proto.String("transB"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(1)}}
	data, err := proto.Marshal(&onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(13)}}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestImportCommand imports a model, loads what it wrote, generates a
// package from the ONNX file directly, and checks the refusals.
func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny-net.onnx")
	if err := os.WriteFile(model, onnxModel(t, "Relu"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("import", model)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	base := filepath.Join(dir, "tiny-net")
	for _, want := range []string{"cnngen: wrote " + base + ".yaml (6 layers)\n", "cnngen: wrote " + base + ".safetensors ("} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	net, err := ir.LoadFile(base + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	if net.Name != "tiny_net" {
		t.Errorf("network name %q, want tiny_net", net.Name)
	}
	eng, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.Load(base+".safetensors", eng, nil); err != nil {
		t.Fatal(err)
	}
	if got := eng.Params()[0].Value[0]; got != 1 {
		t.Errorf("conv weight [0] = %g, want 1", got)
	}

	// -o NAME, and summary reads the description.
	code, _, stderr = runCLI("import", "-o", filepath.Join(dir, "other"), model)
	if code != 0 || !strings.Contains(stderr, "other.safetensors") {
		t.Fatalf("import -o: exit %d\n%s", code, stderr)
	}
	if code, stdout, stderr := runCLI("summary", filepath.Join(dir, "other.yaml")); code != 0 || !strings.Contains(stdout, "network other") {
		t.Errorf("summary: exit %d\n%s%s", code, stdout, stderr)
	}

	// generate takes the ONNX file.
	out := filepath.Join(dir, "pkg")
	code, _, stderr = runCLI("generate", "-o", out, model)
	if code != 0 || !strings.Contains(stderr, filepath.Join(out, "model.go")) {
		t.Fatalf("generate MODEL.onnx: exit %d\n%s", code, stderr)
	}
	if src, err := os.ReadFile(filepath.Join(out, "model.go")); err != nil || !strings.Contains(string(src), "package tiny_net") {
		t.Errorf("model.go: %v", err)
	}

	// An output that would replace the input is refused.
	yamlNamed := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(yamlNamed, onnxModel(t, "Relu"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI("import", "-o", filepath.Join(dir, "m"), yamlNamed); code != 2 || !strings.Contains(stderr, "would overwrite") {
		t.Errorf("import over its input: exit %d\n%s", code, stderr)
	}

	// An unsupported operator is refused with the node.
	bad := filepath.Join(dir, "bad.onnx")
	if err := os.WriteFile(bad, onnxModel(t, "Elu"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI("import", bad)
	if code != 1 || !strings.Contains(stderr, `node "act" (Elu, opset 13): operator Elu is not supported`) {
		t.Errorf("unsupported operator: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.yaml")); err == nil {
		t.Error("a refused import wrote bad.yaml")
	}
	if code, _, stderr := runCLI("generate", "-o", out, bad); code != 1 || !strings.Contains(stderr, "Elu") {
		t.Errorf("generate of an unsupported model: exit %d\n%s", code, stderr)
	}
	if code, _, _ := runCLI("import"); code != 2 {
		t.Errorf("import without a model: exit %d, want 2", code)
	}
}
