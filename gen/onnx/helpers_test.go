package onnx

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/gen/onnx/onnxpb"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
)

// graph builds a small ONNX model in tests.
type graph struct {
	opset int64
	g     *onnxpb.GraphProto
	last  string // the last node's output
	count int
}

// newGraph starts a graph whose input x has the given dims (N first; a
// negative N is symbolic).
func newGraph(opset int64, dims ...int64) *graph {
	var ds []*onnxpb.TensorShapeProto_Dimension
	for k, d := range dims {
		if k == 0 && d < 0 {
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}})
			continue
		}
		ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	in := &onnxpb.ValueInfoProto{Name: proto.String("x"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: &onnxpb.TensorShapeProto{Dim: ds}}}}}
	return &graph{opset: opset, g: &onnxpb.GraphProto{Name: proto.String("g"), Input: []*onnxpb.ValueInfoProto{in}}, last: "x"}
}

// init adds a float initializer.
func (b *graph) init(name string, dims []int64, vals []float32) string {
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: vals})
	return name
}

// initInts adds an INT64 initializer.
func (b *graph) initInts(name string, dims []int64, vals []int64) string {
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: vals})
	return name
}

// node adds a node named name with one output (named name too) and
// returns that output. An empty inputs list takes the last output.
func (b *graph) node(op, name string, inputs []string, attrs ...*onnxpb.AttributeProto) string {
	if inputs == nil {
		inputs = []string{b.last}
	}
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: inputs,
		Output: []string{name}, Attribute: attrs})
	b.last = name
	return name
}

// model returns the serialised model whose output is the last node's.
func (b *graph) model() []byte {
	g := proto.Clone(b.g).(*onnxpb.GraphProto)
	g.Output = []*onnxpb.ValueInfoProto{{Name: proto.String(b.last)}}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(b.opset)}}}
	data, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return data
}

func aInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func aInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func aFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func aString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

// ramp returns n values 0.1·(k mod 7) − 0.3 (distinct, small, of both signs).
func ramp(n int, scale float32) []float32 {
	v := make([]float32, n)
	for k := range v {
		v[k] = scale * (float32(k%7)*0.1 - 0.3 + float32(k)*0.01)
	}
	return v
}

// mustImport imports data or fails the test.
func mustImport(t *testing.T, data []byte) *Model {
	t.Helper()
	m, err := Import(data, "net")
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return m
}

// refuse imports data and checks that the error holds every want.
func refuse(t *testing.T, data []byte, want ...string) {
	t.Helper()
	m, err := Import(data, "net")
	if err == nil {
		t.Fatalf("Import succeeded, want an error with %q; description:\n%s", want, m.YAML)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// forward runs the imported model the way a user would: the YAML loaded
// with ir.Load, a fresh generic engine, the weights loaded from the
// safetensors bytes. x is N samples in NCHW order; the result is the
// network's outputs (logits for a classifier).
func forward(t *testing.T, m *Model, n int, c, h, w int, x []float32) []float32 {
	t.Helper()
	net, err := ir.Load("net.yaml", m.YAML)
	if err != nil {
		t.Fatalf("ir.Load: %v\n%s", err, m.YAML)
	}
	eng, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.WriteWeights(&buf); err != nil {
		t.Fatalf("WriteWeights: %v", err)
	}
	if _, err := checkpoint.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), eng, nil); err != nil {
		t.Fatalf("checkpoint.Read: %v", err)
	}
	hwc := make([]float32, len(x))
	for s := 0; s < n; s++ {
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				for xx := 0; xx < w; xx++ {
					hwc[s*c*h*w+(y*w+xx)*c+ch] = x[s*c*h*w+(ch*h+y)*w+xx]
				}
			}
		}
	}
	out := make([]float32, n*eng.Classes())
	eng.Forward(hwc, out)
	return out
}

// close checks got against want within tol (relative to max(1, |want|)).
func closeTo(t *testing.T, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	for k := range got {
		if d := math.Abs(float64(got[k] - want[k])); d > tol*math.Max(1, math.Abs(float64(want[k]))) || math.IsNaN(float64(got[k])) {
			t.Fatalf("value %d: got %g, want %g\ngot  %v\nwant %v", k, got[k], want[k], got, want)
		}
	}
}

// convRef is a direct NCHW convolution (one sample), the ONNX definition.
func convRef(x []float32, c, h, w int, wt []float32, m, kh, kw, group int, bias []float32, sh, sw, pt, pl, oh, ow int) []float32 {
	out := make([]float32, m*oh*ow)
	cg, mg := c/group, m/group
	for o := 0; o < m; o++ {
		g := o / mg
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				var s float32
				if bias != nil {
					s = bias[o]
				}
				for i := 0; i < cg; i++ {
					for dy := 0; dy < kh; dy++ {
						for dx := 0; dx < kw; dx++ {
							iy, ix := y*sh-pt+dy, xx*sw-pl+dx
							if iy < 0 || iy >= h || ix < 0 || ix >= w {
								continue
							}
							s += x[((g*cg+i)*h+iy)*w+ix] * wt[((o*cg+i)*kh+dy)*kw+dx]
						}
					}
				}
				out[(o*oh+y)*ow+xx] = s
			}
		}
	}
	return out
}
