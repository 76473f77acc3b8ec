package onnx

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/gen/onnx/onnxpb"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
	"github.com/cnngen/cnngen/runtime/checkpoint/safetensors"
)

// ExportOpset is the version of the default operator set that Export writes.
const ExportOpset = 13

// Export writes net with the weights (and batch norm statistics) of eng, a
// generic engine of net's architecture, as an ONNX model (opset 13, IR
// version 7): graph input "input" of [1, C, H, W] (or [1, K] when the
// network's input is 1×1×K and it has no conv or pool layer), graph output
// "output". Weights take PyTorch's
// layouts, the ones cnngen's checkpoints use: conv weights [F, C/groups, KH,
// KW], dense weights [Units, In] with In in ONNX's CHW flatten order, so a
// dense layer after a flattened map reads the same values as in cnngen.
// cnngen's same padding becomes explicit (possibly asymmetric) pads.
//
// A classifier's last layer, softmax, is exported: the ONNX model's output
// is the probabilities, where the engine's Forward gives the logits.
//
// Layers that ONNX cannot express the same way are refused with an error
// naming the layer: a flattened H×W×C map (H·W > 1 and C > 1) that reaches
// the output, a softmax, a batch norm or a concat without going through a
// dense layer (cnngen orders its values HWC, ONNX CHW).
func Export(net *ir.Network, eng *runtime.Generic) ([]byte, error) {
	arch := net.Arch()
	var ck bytes.Buffer
	if err := checkpoint.Write(&ck, eng, nil, nil); err != nil {
		return nil, fmt.Errorf("onnx: export: %w", err)
	}
	tensors, err := readTensors(ck.Bytes())
	if err != nil {
		return nil, fmt.Errorf("onnx: export: %w", err)
	}
	ex := &exporter{weights: tensors, g: &onnxpb.GraphProto{Name: proto.String(arch.Name)}}
	if err := ex.run(arch); err != nil {
		return nil, fmt.Errorf("onnx: export: %w", err)
	}
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(7),
		ProducerName:    proto.String("cnngen"),
		ProducerVersion: proto.String("1"),
		Graph:           ex.g,
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(ExportOpset)}},
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// ftensor is one F32 tensor of a checkpoint.
type ftensor struct {
	shape  []int
	values []float32
}

// readTensors reads the F32 tensors of the checkpoint in data.
func readTensors(data []byte) (map[string]ftensor, error) {
	r := bytes.NewReader(data)
	h, err := safetensors.ReadHeader(r, int64(len(data)))
	if err != nil {
		return nil, err
	}
	out := map[string]ftensor{}
	for _, t := range h.Tensors {
		if _, err := r.Seek(h.Size+t.Begin, io.SeekStart); err != nil {
			return nil, err
		}
		if t.DType != safetensors.F32 {
			continue
		}
		v := make([]float32, t.Len())
		if err := safetensors.ReadF32(r, v); err != nil {
			return nil, err
		}
		out[t.Name] = ftensor{shape: t.Shape, values: v}
	}
	return out, nil
}

// value is a layer's output in the ONNX graph.
type value struct {
	name  string
	shape runtime.Shape
	flat  bool // rank 2 [1, K]; else [1, C, H, W]
	// hwc is set on a flat value made from an H×W×C map with H·W > 1 and
	// C > 1, whose values cnngen orders HWC where ONNX has CHW: only
	// elementwise layers and dense layers (whose weights are in CHW order)
	// may take it.
	hwc bool
}

type exporter struct {
	weights map[string]ftensor
	g       *onnxpb.GraphProto
	values  map[string]value
}

func (ex *exporter) init(name string, dims []int, vals []float32) string {
	d := make([]int64, len(dims))
	for k, x := range dims {
		d[k] = int64(x)
	}
	ex.g.Initializer = append(ex.g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: d,
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: vals})
	return name
}

func (ex *exporter) node(op, name string, inputs []string, attrs ...*onnxpb.AttributeProto) string {
	ex.g.Node = append(ex.g.Node, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name),
		Input: inputs, Output: []string{name}, Attribute: attrs})
	return name
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func attrFloat(name string, v float64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(float32(v))}
}

func valueInfo(name string, dims ...int) *onnxpb.ValueInfoProto {
	var ds []*onnxpb.TensorShapeProto_Dimension
	for _, d := range dims {
		ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: &onnxpb.TensorShapeProto{Dim: ds}}}}}
}

// dims is the ONNX shape of v.
func (v value) dims() []int {
	if v.flat {
		return []int{1, v.shape.Size()}
	}
	return []int{1, v.shape.Channels, v.shape.Height, v.shape.Width}
}

// param returns the checkpoint tensor name, checking its size.
func (ex *exporter) param(l runtime.LayerSpec, name string, size int) (ftensor, error) {
	t, ok := ex.weights[name]
	if !ok {
		return t, fmt.Errorf("layer %s: the engine has no tensor %s", l.Name, name)
	}
	if len(t.values) != size {
		return t, fmt.Errorf("layer %s: %s has %d values, want %d", l.Name, name, len(t.values), size)
	}
	for _, x := range t.values {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return t, fmt.Errorf("layer %s: %s holds %v: want finite values", l.Name, name, x)
		}
	}
	return t, nil
}

// flatten makes v flat, adding a Flatten node when it is a map.
func (ex *exporter) flatten(v value, name string) value {
	if v.flat {
		return v
	}
	out := value{name: ex.node("Flatten", name, []string{v.name}, attrInt("axis", 1)), shape: runtime.Shape{Height: 1, Width: 1, Channels: v.shape.Size()}, flat: true}
	out.hwc = v.shape.Height*v.shape.Width > 1 && v.shape.Channels > 1
	return out
}

func (ex *exporter) run(arch runtime.Arch) error {
	in := arch.Input
	inV := value{name: "input", shape: in}
	// A 1×1×K input is [1, K] unless some layer needs a map: then
	// [1, K, 1, 1].
	inV.flat = in.Height == 1 && in.Width == 1
	for _, l := range arch.Layers {
		switch l.Kind {
		case runtime.Conv2D, runtime.MaxPool, runtime.AvgPool, runtime.GlobalAvgPool:
			inV.flat = false
		}
	}
	ex.g.Input = []*onnxpb.ValueInfoProto{valueInfo("input", inV.dims()...)}
	ex.values = map[string]value{runtime.InputName: inV}
	prev := runtime.InputName
	var last value
	for k, l := range arch.Layers {
		if l.Name == "" {
			return fmt.Errorf("layer %d has no name", k+1)
		}
		names := l.Inputs
		if len(names) == 0 {
			names = []string{prev}
		}
		ins := make([]value, len(names))
		for j, n := range names {
			v, ok := ex.values[n]
			if !ok {
				return fmt.Errorf("layer %s: input %q is no earlier layer", l.Name, n)
			}
			ins[j] = v
		}
		out, err := ex.layer(l, ins)
		if err != nil {
			return err
		}
		ex.values[l.Name] = out
		prev = l.Name
		last = out
	}
	if last.hwc {
		return fmt.Errorf("the output is a flattened map, which cnngen orders H×W×C and ONNX C×H×W: end the network with a dense layer")
	}
	// Name the output "output" with an Identity, keeping the nodes' names.
	ex.node("Identity", "output", []string{last.name})
	ex.g.Output = []*onnxpb.ValueInfoProto{valueInfo("output", last.dims()...)}
	return nil
}

// layer adds the nodes of one layer.
func (ex *exporter) layer(l runtime.LayerSpec, ins []value) (value, error) {
	x := ins[0]
	refuse := func(format string, args ...any) (value, error) {
		return value{}, fmt.Errorf("layer %s (%s): %s", l.Name, l.Kind, fmt.Sprintf(format, args...))
	}
	same := func(op string, attrs ...*onnxpb.AttributeProto) (value, error) {
		out := x
		out.name = ex.node(op, l.Name, []string{x.name}, attrs...)
		return out, nil
	}
	window := func(kh, kw int) (attrs []*onnxpb.AttributeProto, out runtime.Shape, err error) {
		if x.flat {
			return nil, out, fmt.Errorf("layer %s (%s): its input is flat, not an H×W×C map", l.Name, l.Kind)
		}
		oh, bh, ah := runtime.Window(x.shape.Height, kh, l.StrideH, l.Padding)
		ow, bw, aw := runtime.Window(x.shape.Width, kw, l.StrideW, l.Padding)
		if oh < 1 || ow < 1 {
			return nil, out, fmt.Errorf("layer %s (%s): window %dx%d does not fit its input %v", l.Name, l.Kind, kh, kw, x.shape)
		}
		attrs = []*onnxpb.AttributeProto{attrInts("kernel_shape", int64(kh), int64(kw)), attrInts("strides", int64(l.StrideH), int64(l.StrideW)),
			attrInts("pads", int64(bh), int64(bw), int64(ah), int64(aw))}
		return attrs, runtime.Shape{Height: oh, Width: ow, Channels: x.shape.Channels}, nil
	}
	switch l.Kind {
	case runtime.Conv2D:
		attrs, shape, err := window(l.KernelH, l.KernelW)
		if err != nil {
			return value{}, err
		}
		g := l.GroupCount()
		c := x.shape.Channels
		w, err := ex.param(l, l.Name+".weight", l.Filters*c/g*l.KernelH*l.KernelW)
		if err != nil {
			return value{}, err
		}
		inputs := []string{x.name, ex.init(l.Name+".weight", []int{l.Filters, c / g, l.KernelH, l.KernelW}, w.values)}
		if !l.NoBias {
			b, err := ex.param(l, l.Name+".bias", l.Filters)
			if err != nil {
				return value{}, err
			}
			inputs = append(inputs, ex.init(l.Name+".bias", []int{l.Filters}, b.values))
		}
		attrs = append(attrs, attrInts("dilations", 1, 1), attrInt("group", int64(g)))
		shape.Channels = l.Filters
		return value{name: ex.node("Conv", l.Name, inputs, attrs...), shape: shape}, nil
	case runtime.MaxPool, runtime.AvgPool:
		attrs, shape, err := window(l.KernelH, l.KernelW)
		if err != nil {
			return value{}, err
		}
		op := "MaxPool"
		if l.Kind == runtime.AvgPool {
			op = "AveragePool"
			attrs = append(attrs, attrInt("count_include_pad", 0))
		}
		attrs = append(attrs, attrInt("ceil_mode", 0))
		return value{name: ex.node(op, l.Name, []string{x.name}, attrs...), shape: shape}, nil
	case runtime.GlobalAvgPool:
		if x.flat {
			return refuse("its input is flat, not an H×W×C map")
		}
		return value{name: ex.node("GlobalAveragePool", l.Name, []string{x.name}), shape: runtime.Shape{Height: 1, Width: 1, Channels: x.shape.Channels}}, nil
	case runtime.BatchNorm:
		if x.hwc {
			return refuse("its input is a flattened map, which cnngen orders H×W×C and ONNX C×H×W")
		}
		c := x.shape.Channels
		if x.flat {
			c = x.shape.Size()
		}
		inputs := []string{x.name}
		for _, p := range []string{".weight", ".bias", ".running_mean", ".running_var"} {
			t, err := ex.param(l, l.Name+p, c)
			if err != nil {
				return value{}, err
			}
			inputs = append(inputs, ex.init(l.Name+p, []int{c}, t.values))
		}
		out := x
		out.name = ex.node("BatchNormalization", l.Name, inputs, attrFloat("epsilon", l.Epsilon), attrFloat("momentum", 1-l.Momentum))
		return out, nil
	case runtime.ReLU:
		return same("Relu")
	case runtime.ReLU6:
		lo := ex.init(l.Name+".min", nil, []float32{0})
		hi := ex.init(l.Name+".max", nil, []float32{6})
		out := x
		out.name = ex.node("Clip", l.Name, []string{x.name, lo, hi})
		return out, nil
	case runtime.LeakyReLU:
		return same("LeakyRelu", attrFloat("alpha", l.Alpha))
	case runtime.Sigmoid:
		return same("Sigmoid")
	case runtime.Tanh:
		return same("Tanh")
	case runtime.Dropout:
		return same("Identity")
	case runtime.Flatten:
		return ex.flatten(x, l.Name), nil
	case runtime.Dense:
		f := ex.flatten(x, l.Name+".flatten")
		n := f.shape.Size()
		w, err := ex.param(l, l.Name+".weight", n*l.Units)
		if err != nil {
			return value{}, err
		}
		inputs := []string{f.name, ex.init(l.Name+".weight", []int{l.Units, n}, w.values)}
		if !l.NoBias {
			b, err := ex.param(l, l.Name+".bias", l.Units)
			if err != nil {
				return value{}, err
			}
			inputs = append(inputs, ex.init(l.Name+".bias", []int{l.Units}, b.values))
		}
		return value{name: ex.node("Gemm", l.Name, inputs, attrInt("transB", 1)), shape: runtime.Shape{Height: 1, Width: 1, Channels: l.Units}, flat: true}, nil
	case runtime.Add:
		names := make([]string, len(ins))
		for j, v := range ins {
			if v.flat != x.flat || v.shape != x.shape || v.hwc != x.hwc {
				return refuse("inputs of different shapes (%v and %v)", x.shape, v.shape)
			}
			names[j] = v.name
		}
		out := x
		if len(names) == 1 {
			out.name = ex.node("Identity", l.Name, names)
			return out, nil
		}
		// ONNX Add takes two inputs (Sum takes more): chain them in order.
		acc := names[0]
		for j := 1; j < len(names); j++ {
			name := l.Name
			if j < len(names)-1 {
				name = fmt.Sprintf("%s.sum%d", l.Name, j)
			}
			acc = ex.node("Add", name, []string{acc, names[j]})
		}
		out.name = acc
		return out, nil
	case runtime.Concat:
		names := make([]string, len(ins))
		out := value{flat: x.flat, shape: x.shape}
		out.shape.Channels = 0
		for j, v := range ins {
			if v.hwc {
				return refuse("input %d is a flattened map, which cnngen orders H×W×C and ONNX C×H×W", j+1)
			}
			if v.flat != x.flat || !v.flat && (v.shape.Height != x.shape.Height || v.shape.Width != x.shape.Width) {
				return refuse("inputs of different shapes (%v and %v)", x.shape, v.shape)
			}
			names[j] = v.name
			if v.flat {
				out.shape.Channels += v.shape.Size()
			} else {
				out.shape.Channels += v.shape.Channels
			}
		}
		if out.flat {
			out.shape.Height, out.shape.Width = 1, 1
		}
		out.name = ex.node("Concat", l.Name, names, attrInt("axis", 1))
		return out, nil
	case runtime.Softmax:
		if x.hwc {
			return refuse("its input is a flattened map, which cnngen orders H×W×C and ONNX C×H×W")
		}
		if !x.flat {
			return refuse("its input is not flat")
		}
		return same("Softmax", attrInt("axis", 1))
	}
	return refuse("layer kind %q cannot be exported (supported: %s)", l.Kind, strings.Join(exportKinds, ", "))
}

var exportKinds = []string{"conv2d", "batchnorm", "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "maxpool", "avgpool",
	"globalavgpool", "flatten", "dense", "add", "concat", "dropout", "softmax"}
