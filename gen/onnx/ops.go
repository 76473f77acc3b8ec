package onnx

import (
	"fmt"
	"math"

	"github.com/cnngen/cnngen/gen/onnx/onnxpb"
	"github.com/cnngen/cnngen/runtime"
)

// attr returns node n's attribute called name, or nil.
func attr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func (im *importer) attrInt(n *onnxpb.NodeProto, name string, def int64) (int64, error) {
	a := attr(n, name)
	if a == nil {
		return def, nil
	}
	if a.GetType() != onnxpb.AttributeProto_INT {
		return 0, im.nodeError(n, "attribute %s is %v: want INT", name, a.GetType())
	}
	return a.GetI(), nil
}

func (im *importer) attrFloat(n *onnxpb.NodeProto, name string, def float64) (float64, error) {
	a := attr(n, name)
	if a == nil {
		return def, nil
	}
	if a.GetType() != onnxpb.AttributeProto_FLOAT {
		return 0, im.nodeError(n, "attribute %s is %v: want FLOAT", name, a.GetType())
	}
	v := float64(a.GetF())
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, im.nodeError(n, "attribute %s is %v: want a finite number", name, v)
	}
	return v, nil
}

func (im *importer) attrString(n *onnxpb.NodeProto, name, def string) (string, error) {
	a := attr(n, name)
	if a == nil {
		return def, nil
	}
	if a.GetType() != onnxpb.AttributeProto_STRING {
		return "", im.nodeError(n, "attribute %s is %v: want STRING", name, a.GetType())
	}
	return string(a.GetS()), nil
}

// attrInts returns an INTS attribute of want values (any count when want is
// 0), or nil when it is absent.
func (im *importer) attrInts(n *onnxpb.NodeProto, name string, want int) ([]int64, error) {
	a := attr(n, name)
	if a == nil {
		return nil, nil
	}
	if a.GetType() != onnxpb.AttributeProto_INTS {
		return nil, im.nodeError(n, "attribute %s is %v: want INTS", name, a.GetType())
	}
	if want > 0 && len(a.GetInts()) != want {
		return nil, im.nodeError(n, "attribute %s has %d values: want %d (only 2-D operations are supported)", name, len(a.GetInts()), want)
	}
	return a.GetInts(), nil
}

// in returns node n's k-th input name, "" when absent.
func in(n *onnxpb.NodeProto, k int) string {
	if k < len(n.GetInput()) {
		return n.GetInput()[k]
	}
	return ""
}

// data returns node n's k-th input, which a layer computes.
func (im *importer) data(n *onnxpb.NodeProto, k int) (*tensor, error) {
	name := in(n, k)
	if name == "" {
		return nil, im.nodeError(n, "input %d is missing", k+1)
	}
	t := im.tensors[name]
	if t == nil {
		return nil, im.nodeError(n, "input %d (%q) must be computed from the graph's input, not a constant", k+1, trunc(name))
	}
	if t.pad != ([4]int64{}) {
		return nil, im.nodeError(n, "input %d (%q) comes from a Pad node: padding is supported only before a Conv", k+1, trunc(name))
	}
	return t, nil
}

// pad imports Pad of zeros on the height and width: it becomes part of
// the padding of the Conv that takes its output, or nothing when it is
// all zeros.
func (im *importer) pad(n *onnxpb.NodeProto) error {
	x := im.tensors[in(n, 0)]
	if x == nil {
		return im.nodeError(n, "input 1 (%q) must be computed from the graph's input", trunc(in(n, 0)))
	}
	if x.flat {
		return im.nodeError(n, "input is not an N×C×H×W map")
	}
	mode, err := im.attrString(n, "mode", "constant")
	if err != nil {
		return err
	}
	if mode != "constant" {
		return im.nodeError(n, "mode %q is not supported: want constant", trunc(mode))
	}
	var pads []int64
	value := 0.0
	if im.opset < 11 {
		if pads, err = im.attrInts(n, "pads", 8); err != nil {
			return err
		}
		if value, err = im.attrFloat(n, "value", 0); err != nil {
			return err
		}
	} else {
		c, err := im.constIn(n, 1)
		if err != nil {
			return err
		}
		if c == nil {
			return im.nodeError(n, "pads are missing")
		}
		var ok bool
		if pads, ok = c.ints(); !ok {
			return im.nodeError(n, "pads are not integers")
		}
		if value, err = im.scalar(n, 2, 0, "constant_value"); err != nil {
			return err
		}
		if in(n, 3) != "" {
			return im.nodeError(n, "the axes input is not supported")
		}
	}
	if len(pads) != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 {
		return im.nodeError(n, "pads %v: only padding the height and width of an N×C×H×W map is supported", pads)
	}
	if value != 0 {
		return im.nodeError(n, "constant_value %g: only zero padding is supported", value)
	}
	t := *x
	t.pending = nil
	for k, p := range []int64{pads[2], pads[3], pads[6], pads[7]} {
		if p < 0 || p > maxDim {
			return im.nodeError(n, "pads %v: want sizes from 0 to %d", pads, maxDim)
		}
		t.pad[k] += p
	}
	im.tensors[n.GetOutput()[0]] = &t
	return nil
}

// constIn returns node n's k-th input, a constant, or nil when it is absent.
func (im *importer) constIn(n *onnxpb.NodeProto, k int) (*constant, error) {
	name := in(n, k)
	if name == "" {
		return nil, nil
	}
	c := im.consts[name]
	if c == nil {
		return nil, im.nodeError(n, "input %d (%q) must be a constant (an initializer or a Constant node)", k+1, trunc(name))
	}
	return c, nil
}

// scalar returns a constant input's one value, or def when it is absent.
func (im *importer) scalar(n *onnxpb.NodeProto, k int, def float64, what string) (float64, error) {
	c, err := im.constIn(n, k)
	if err != nil || c == nil {
		return def, err
	}
	if c.size() != 1 {
		return 0, im.nodeError(n, "%s has %d values: want 1", what, c.size())
	}
	v := float64(c.floats()[0])
	if math.IsNaN(v) {
		return 0, im.nodeError(n, "%s is NaN", what)
	}
	return v, nil
}

// emit adds a layer computing node n's first output.
func (im *importer) emit(n *onnxpb.NodeProto, l *layer, out *tensor) {
	fallback := map[runtime.LayerKind]string{runtime.Conv2D: "conv", runtime.MaxPool: "pool", runtime.AvgPool: "pool",
		runtime.BatchNorm: "bn", runtime.GlobalAvgPool: "gap"}[l.spec.Kind]
	if fallback == "" {
		fallback = string(l.spec.Kind)
	}
	src := n.GetName()
	if src == "" {
		src = n.GetOutput()[0]
	}
	l.spec.Name = im.names.name(src, fallback)
	l.node = n
	im.layers = append(im.layers, l)
	out.layer = l.spec.Name
	im.tensors[n.GetOutput()[0]] = out
}

// alias makes node n's first output the tensor t.
func (im *importer) alias(n *onnxpb.NodeProto, t *tensor) {
	c := *t
	c.pending = nil
	im.tensors[n.GetOutput()[0]] = &c
}

// foldable lists the operators of constant sub-graphs.
var foldable = map[string]bool{"Constant": true, "Shape": true, "Gather": true, "Unsqueeze": true,
	"Squeeze": true, "Concat": true, "Cast": true, "Identity": true, "ConstantOfShape": true, "Reshape": true,
	"Transpose": true, "Slice": true}

// node imports one node.
func (im *importer) node(n *onnxpb.NodeProto) error {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return im.nodeError(n, "operator domain %q is not supported", trunc(d))
	}
	if len(n.GetOutput()) == 0 || n.GetOutput()[0] == "" {
		return im.nodeError(n, "node has no output")
	}
	for k, o := range n.GetOutput()[1:] {
		if o != "" && im.uses[o] > 0 {
			return im.nodeError(n, "output %d (%q) is used: only the first output is supported", k+2, trunc(o))
		}
	}
	seen := map[string]bool{}
	for _, a := range n.GetAttribute() {
		if seen[a.GetName()] {
			return im.nodeError(n, "attribute %s is given twice", trunc(a.GetName()))
		}
		seen[a.GetName()] = true
	}
	if foldable[n.GetOpType()] {
		allConst := true
		for k, name := range n.GetInput() {
			if name != "" && im.consts[name] == nil && !(n.GetOpType() == "Shape" && k == 0) {
				allConst = false
			}
		}
		if allConst {
			return im.fold(n)
		}
	}
	switch op := n.GetOpType(); op {
	case "Conv":
		return im.conv(n)
	case "Pad":
		return im.pad(n)
	case "MaxPool", "AveragePool":
		return im.pool(n)
	case "GlobalAveragePool":
		x, err := im.data(n, 0)
		if err != nil {
			return err
		}
		if x.flat {
			return im.nodeError(n, "input is not an N×C×H×W map")
		}
		im.emit(n, &layer{spec: runtime.LayerSpec{Kind: runtime.GlobalAvgPool}, input: []string{x.layer}},
			&tensor{shape: runtime.Shape{Height: 1, Width: 1, Channels: x.shape.Channels}})
		return nil
	case "BatchNormalization":
		return im.batchNorm(n)
	case "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Clip":
		return im.activation(n)
	case "Gemm", "MatMul":
		return im.dense(n)
	case "Add":
		return im.add(n)
	case "Concat":
		return im.concat(n)
	case "Flatten", "Reshape":
		return im.flatten(n)
	case "Dropout":
		return im.dropout(n)
	case "Identity":
		x, err := im.data(n, 0)
		if err != nil {
			return err
		}
		im.alias(n, x)
		return nil
	case "Softmax":
		x, err := im.data(n, 0)
		if err != nil {
			return err
		}
		def := int64(1)
		if im.opset >= 13 {
			def = -1
		}
		axis, err := im.attrInt(n, "axis", def)
		if err != nil {
			return err
		}
		if !x.flat || (axis != 1 && axis != -1) {
			return im.nodeError(n, "softmax is supported over the features of an N×F input only")
		}
		if x.hwc {
			return im.nodeError(n, "input is a flattened H×W×C map (cnngen flattens in HWC order, ONNX in CHW order): softmax needs a dense layer first")
		}
		im.emit(n, &layer{spec: runtime.LayerSpec{Kind: runtime.Softmax}, input: []string{x.layer}}, &tensor{shape: x.shape, flat: true})
		return nil
	default:
		return im.nodeError(n, "operator %s is not supported", trunc(op))
	}
}

// activation imports Relu, Sigmoid, Tanh, LeakyRelu and Clip.
func (im *importer) activation(n *onnxpb.NodeProto) error {
	x, err := im.data(n, 0)
	if err != nil {
		return err
	}
	s := runtime.LayerSpec{}
	switch n.GetOpType() {
	case "Relu":
		s.Kind = runtime.ReLU
	case "Sigmoid":
		s.Kind = runtime.Sigmoid
	case "Tanh":
		s.Kind = runtime.Tanh
	case "LeakyRelu":
		s.Kind = runtime.LeakyReLU
		if s.Alpha, err = im.attrFloat(n, "alpha", 0.01); err != nil {
			return err
		}
	case "Clip":
		lo, hi := math.Inf(-1), math.Inf(1)
		if im.opset < 11 {
			if lo, err = im.attrFloat2(n, "min", lo); err != nil {
				return err
			}
			if hi, err = im.attrFloat2(n, "max", hi); err != nil {
				return err
			}
		} else {
			if lo, err = im.scalar(n, 1, lo, "min"); err != nil {
				return err
			}
			if hi, err = im.scalar(n, 2, hi, "max"); err != nil {
				return err
			}
		}
		switch {
		case lo == 0 && hi == 6:
			s.Kind = runtime.ReLU6
		case lo == 0 && math.IsInf(hi, 1):
			s.Kind = runtime.ReLU
		default:
			return im.nodeError(n, "Clip(%g, %g) is not supported: want Clip(0, 6) (relu6) or Clip(0) (relu)", lo, hi)
		}
	}
	im.emit(n, &layer{spec: s, input: []string{x.layer}}, &tensor{shape: x.shape, flat: x.flat, hwc: x.hwc, from: x.from})
	return nil
}

// attrFloat2 is attrFloat allowing ±Inf (Clip's defaults in old opsets are
// the float limits).
func (im *importer) attrFloat2(n *onnxpb.NodeProto, name string, def float64) (float64, error) {
	a := attr(n, name)
	if a == nil {
		return def, nil
	}
	if a.GetType() != onnxpb.AttributeProto_FLOAT {
		return 0, im.nodeError(n, "attribute %s is %v: want FLOAT", name, a.GetType())
	}
	v := float64(a.GetF())
	if v >= math.MaxFloat32 {
		v = math.Inf(1)
	}
	if v <= -math.MaxFloat32 {
		v = math.Inf(-1)
	}
	if math.IsNaN(v) {
		return 0, im.nodeError(n, "attribute %s is NaN", name)
	}
	return v, nil
}

// dropout imports Dropout as a dropout layer (the identity in inference).
func (im *importer) dropout(n *onnxpb.NodeProto) error {
	x, err := im.data(n, 0)
	if err != nil {
		return err
	}
	rate := 0.5
	if im.opset < 12 {
		if rate, err = im.attrFloat(n, "ratio", 0.5); err != nil {
			return err
		}
		if v, err := im.attrInt(n, "is_test", 0); err != nil {
			return err
		} else if v != 0 && im.opset < 7 {
			rate = 0
		}
	} else {
		if rate, err = im.scalar(n, 1, 0.5, "ratio"); err != nil {
			return err
		}
		mode, err := im.scalar(n, 2, 0, "training_mode")
		if err != nil {
			return err
		}
		if mode != 0 {
			return im.nodeError(n, "training_mode true is not supported")
		}
	}
	if !(rate >= 0 && rate < 1) {
		return im.nodeError(n, "ratio %g: want 0 ≤ ratio < 1", rate)
	}
	im.emit(n, &layer{spec: runtime.LayerSpec{Kind: runtime.Dropout, Rate: rate}, input: []string{x.layer}},
		&tensor{shape: x.shape, flat: x.flat, hwc: x.hwc, from: x.from})
	return nil
}

// batchNorm imports BatchNormalization in inference mode.
func (im *importer) batchNorm(n *onnxpb.NodeProto) error {
	x, err := im.data(n, 0)
	if err != nil {
		return err
	}
	if x.hwc {
		return im.nodeError(n, "input is a flattened H×W×C map (cnngen flattens in HWC order, ONNX in CHW order)")
	}
	if v, err := im.attrInt(n, "training_mode", 0); err != nil {
		return err
	} else if v != 0 {
		return im.nodeError(n, "training_mode 1 is not supported")
	}
	if v, err := im.attrInt(n, "spatial", 1); err != nil {
		return err
	} else if v != 1 {
		return im.nodeError(n, "spatial 0 is not supported")
	}
	eps, err := im.attrFloat(n, "epsilon", 1e-5)
	if err != nil {
		return err
	}
	mom, err := im.attrFloat(n, "momentum", 0.9)
	if err != nil {
		return err
	}
	if !(eps > 0) || !(mom >= 0 && mom <= 1) {
		return im.nodeError(n, "epsilon %g and momentum %g: want epsilon > 0 and 0 ≤ momentum ≤ 1", eps, mom)
	}
	c := x.shape.Channels
	var vals [4][]float32
	for k, what := range []string{"scale", "B", "mean", "var"} {
		t, err := im.constIn(n, k+1)
		if err != nil {
			return err
		}
		if t == nil || t.size() != c {
			return im.nodeError(n, "%s must be a constant of %d values", what, c)
		}
		vals[k] = t.floats()
	}
	for _, v := range vals[3] {
		if !(v >= 0) {
			return im.nodeError(n, "var holds %g: want variances ≥ 0", v)
		}
	}
	l := &layer{spec: runtime.LayerSpec{Kind: runtime.BatchNorm, Momentum: float64(1 - float32(mom)), Epsilon: eps}, input: []string{x.layer},
		weight: vals[0], bias: vals[1], mean: vals[2], vari: vals[3]}
	im.emit(n, l, &tensor{shape: x.shape, flat: x.flat})
	return nil
}

// add imports Add: of two computed tensors, an add layer; of a computed
// tensor and a constant, the bias of the bias-less conv or dense layer that
// computes the tensor.
func (im *importer) add(n *onnxpb.NodeProto) error {
	if len(n.GetInput()) != 2 {
		return im.nodeError(n, "want 2 inputs, got %d", len(n.GetInput()))
	}
	a, b := im.tensors[in(n, 0)], im.tensors[in(n, 1)]
	if a != nil && b != nil {
		if a.shape != b.shape || a.flat != b.flat || a.hwc != b.hwc || a.from != b.from {
			return im.nodeError(n, "adds inputs of shapes %v and %v: broadcasting is not supported", a.shape, b.shape)
		}
		im.emit(n, &layer{spec: runtime.LayerSpec{Kind: runtime.Add}, input: []string{a.layer, b.layer}},
			&tensor{shape: a.shape, flat: a.flat, hwc: a.hwc, from: a.from})
		return nil
	}
	x, ck := a, 1
	if x == nil {
		x, ck = b, 0
	}
	c, err := im.constIn(n, ck)
	if err != nil {
		return err
	}
	if x == nil || x.pending == nil || im.uses[n.GetInput()[1-ck]] != 1 {
		return im.nodeError(n, "adding a constant is supported only as the bias of a Conv without bias or of a MatMul, which nothing else uses")
	}
	units := x.shape.Channels
	ok := c.size() == units
	for k, d := range c.dims {
		if d != 1 && !(k == len(c.dims)-1 && x.flat || k == len(c.dims)-3 && !x.flat) {
			ok = false
		}
	}
	if !ok {
		return im.nodeError(n, "the constant of dims %v is not a bias of %d values on the channel axis", c.dims, units)
	}
	x.pending.bias = append([]float32(nil), c.floats()...)
	x.pending.spec.NoBias = false
	im.alias(n, x)
	return nil
}

// concat imports Concat along the channels.
func (im *importer) concat(n *onnxpb.NodeProto) error {
	if len(n.GetInput()) < 2 {
		return im.nodeError(n, "want 2 or more inputs, got %d", len(n.GetInput()))
	}
	axis, err := im.attrInt(n, "axis", 1)
	if err != nil {
		return err
	}
	var ins []string
	var first *tensor
	out := runtime.Shape{}
	for k := range n.GetInput() {
		x, err := im.data(n, k)
		if err != nil {
			return err
		}
		if first == nil {
			first = x
		}
		if x.hwc {
			return im.nodeError(n, "input %d is a flattened H×W×C map (cnngen flattens in HWC order, ONNX in CHW order)", k+1)
		}
		if x.flat != first.flat || x.shape.Height != first.shape.Height || x.shape.Width != first.shape.Width {
			return im.nodeError(n, "inputs of shapes %v and %v do not join along the channels", first.shape, x.shape)
		}
		out = runtime.Shape{Height: x.shape.Height, Width: x.shape.Width, Channels: out.Channels + x.shape.Channels}
		ins = append(ins, x.layer)
	}
	rank := int64(4)
	if first.flat {
		rank = 2
	}
	if axis != 1 && axis != 1-rank {
		return im.nodeError(n, "axis %d: only the channel axis (1) is supported", axis)
	}
	im.emit(n, &layer{spec: runtime.LayerSpec{Kind: runtime.Concat}, input: ins}, &tensor{shape: out, flat: first.flat})
	return nil
}

// flatten imports Flatten (axis 1) and Reshape to [N, -1].
func (im *importer) flatten(n *onnxpb.NodeProto) error {
	x, err := im.data(n, 0)
	if err != nil {
		return err
	}
	size := int64(x.shape.Size())
	if n.GetOpType() == "Flatten" {
		axis, err := im.attrInt(n, "axis", 1)
		if err != nil {
			return err
		}
		if axis != 1 && !(axis == -1 && x.flat) && !(axis == -3 && !x.flat) {
			return im.nodeError(n, "axis %d: only axis 1 (keep the batch) is supported", axis)
		}
	} else {
		c, err := im.constIn(n, 1)
		if err != nil {
			return err
		}
		if c == nil {
			return im.nodeError(n, "shape input is missing")
		}
		shape, ok := c.ints()
		if !ok || len(shape) != 2 {
			return im.nodeError(n, "shape %v: only a reshape to [N, -1] (a flatten) is supported", c.dims)
		}
		batchOK := shape[0] == 0 || shape[0] == batchDim || shape[0] == -1 && shape[1] == size ||
			im.batch > 0 && shape[0] == im.batch
		if !batchOK || (shape[1] != -1 && shape[1] != size) {
			return im.nodeError(n, "shape %s: only a reshape to [N, -1] or [N, %d] (a flatten) is supported", fmtShape(shape), size)
		}
	}
	if x.flat {
		im.alias(n, x)
		return nil
	}
	im.emit(n, &layer{spec: runtime.LayerSpec{Kind: runtime.Flatten}, input: []string{x.layer}},
		&tensor{shape: runtime.Shape{Height: 1, Width: 1, Channels: x.shape.Size()}, flat: true,
			hwc: x.shape.Height*x.shape.Width > 1 && x.shape.Channels > 1, from: x.shape})
	return nil
}

// fmtShape formats a folded shape, with N for the batch.
func fmtShape(s []int64) string {
	out := "["
	for k, v := range s {
		if k > 0 {
			out += ", "
		}
		if v == batchDim {
			out += "N"
		} else {
			out += fmt.Sprint(v)
		}
	}
	return out + "]"
}
