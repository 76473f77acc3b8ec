package checkpoint_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/runtime"
)

// fakeModel is a runtime.Model that only holds parameters: checkpoints need
// nothing else.
type fakeModel struct {
	name   string
	input  runtime.Shape
	params []runtime.Param
}

func (m *fakeModel) Name() string                          { return m.name }
func (m *fakeModel) InputShape() runtime.Shape             { return m.input }
func (m *fakeModel) Classes() int                          { return 2 }
func (m *fakeModel) Params() []runtime.Param               { return m.params }
func (m *fakeModel) Forward(x []float32, logits []float32) {}
func (m *fakeModel) Backward(x []float32, labels []int32, scale float32) (float64, int) {
	return 0, 0
}

// param makes a zeroed parameter of the given standard-layout shape.
func param(name string, in runtime.Shape, shape ...int) runtime.Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	layer, _, _ := strings.Cut(name, ".")
	return runtime.Param{
		ParamInfo: runtime.ParamInfo{Name: name, Layer: layer, Shape: shape, InShape: in},
		Value:     make([]float32, n),
		Grad:      make([]float32, n),
	}
}

// tinyNet is a conv→pool→dense→dense network as the generic engine would
// describe it:
//
//	input 4x4x1 → conv1 3x3, 2 filters, SAME → 4x4x2 → max pool 2x2 → 2x2x2
//	→ flatten 8 → fc1 3 units → fc2 2 units
func tinyNet(filters int) *fakeModel {
	return &fakeModel{
		name:  "tiny",
		input: runtime.Shape{Height: 4, Width: 4, Channels: 1},
		params: []runtime.Param{
			param("conv1.weight", runtime.Shape{}, 3, 3, 1, filters),
			param("conv1.bias", runtime.Shape{}, filters),
			param("fc1.weight", runtime.Shape{Height: 2, Width: 2, Channels: filters}, 2*2*filters, 3),
			param("fc1.bias", runtime.Shape{}, 3),
			param("fc2.weight", runtime.Shape{Height: 1, Width: 1, Channels: 3}, 3, 2),
			param("fc2.bias", runtime.Shape{}, 2),
		},
	}
}

// fill gives every value of m a distinct, exactly representable number.
func fill(m runtime.Model, seed float32) {
	for i, p := range m.Params() {
		for j := range p.Value {
			p.Value[j] = seed + float32(i*1000+j)/64
		}
	}
}

// adamFor is an Adam optimizer for m that has taken steps steps on
// deterministic gradients.
func adamFor(t testing.TB, m runtime.Model, steps int) runtime.Optimizer {
	t.Helper()
	cfg := runtime.OptimizerConfig{Kind: runtime.Adam, LearningRate: 0.01, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}
	opt, err := runtime.NewOptimizer(cfg, m.Params())
	if err != nil {
		t.Fatal(err)
	}
	for s := range steps {
		for i, p := range m.Params() {
			for j := range p.Grad {
				p.Grad[j] = float32(math.Sin(float64(s*7 + i*31 + j)))
			}
		}
		opt.Step(m.Params())
	}
	return opt
}

// snapshot copies a model's values.
func snapshot(m runtime.Model) [][]float32 {
	var out [][]float32
	for _, p := range m.Params() {
		out = append(out, append([]float32(nil), p.Value...))
	}
	return out
}

// rawTensor is one tensor of a hand-built file.
type rawTensor struct {
	name   string
	dtype  string
	shape  string // JSON
	values []float32
	ints   []int64 // an I64 tensor's values, instead of values
}

// rawFile builds a safetensors file by hand, the way Python's safetensors
// lays one out (entries sorted by name, "format": "pt", spaces after
// separators, header padded with spaces), without the package under test.
func rawFile(tensors []rawTensor) []byte {
	var header, data bytes.Buffer
	header.WriteString(`{"__metadata__": {"format": "pt"}`)
	for _, t := range tensors {
		begin := data.Len()
		if t.ints != nil {
			binary.Write(&data, binary.LittleEndian, t.ints)
		} else {
			binary.Write(&data, binary.LittleEndian, t.values)
		}
		dtype := t.dtype
		if dtype == "" {
			dtype = "F32"
		}
		header.WriteString(`, "` + t.name + `": {"dtype": "` + dtype + `", "shape": ` + t.shape +
			`, "data_offsets": [` + strconv.Itoa(begin) + `, ` + strconv.Itoa(data.Len()) + `]}`)
	}
	header.WriteString("}")
	for header.Len()%8 != 0 {
		header.WriteByte(' ')
	}
	var file bytes.Buffer
	binary.Write(&file, binary.LittleEndian, uint64(header.Len()))
	file.Write(header.Bytes())
	file.Write(data.Bytes())
	return file.Bytes()
}

// splitFile returns a file's header text and data.
func splitFile(t testing.TB, file []byte) (string, []byte) {
	t.Helper()
	n := binary.LittleEndian.Uint64(file)
	return string(file[8 : 8+n]), file[8+n:]
}

// joinFile assembles a header text and data into a file.
func joinFile(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}
