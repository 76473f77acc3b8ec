package onnx

import (
	"github.com/cnngen/cnngen/gen/onnx/onnxpb"
)

// fold evaluates a node of a constant sub-graph (the shape computations
// that exporters write before Reshape, and Constant nodes).
func (im *importer) fold(n *onnxpb.NodeProto) error {
	var out *constant
	var err error
	switch n.GetOpType() {
	case "Constant":
		out, err = im.constantNode(n)
	case "Identity":
		out, err = im.constIn(n, 0)
		if err == nil && out == nil {
			err = im.nodeError(n, "input is missing")
		}
	case "Shape":
		out, err = im.shapeOf(n)
	case "Gather":
		out, err = im.gather(n)
	case "Unsqueeze", "Squeeze":
		out, err = im.squeeze(n)
	case "Concat":
		out, err = im.concatConst(n)
	case "Cast":
		out, err = im.cast(n)
	default:
		err = im.nodeError(n, "operator %s on constants is not supported", n.GetOpType())
	}
	if err != nil {
		return err
	}
	im.consts[n.GetOutput()[0]] = out
	return nil
}

func (im *importer) constantNode(n *onnxpb.NodeProto) (*constant, error) {
	if len(n.GetAttribute()) != 1 {
		return nil, im.nodeError(n, "want exactly one attribute, got %d", len(n.GetAttribute()))
	}
	a := n.GetAttribute()[0]
	switch a.GetName() {
	case "value":
		if a.GetType() != onnxpb.AttributeProto_TENSOR || a.GetT() == nil {
			return nil, im.nodeError(n, "attribute value is not a tensor")
		}
		c, err := decodeTensor(a.GetT())
		if err != nil {
			return nil, im.nodeError(n, "%v", err)
		}
		return c, nil
	case "value_float":
		return &constant{f: []float32{a.GetF()}}, nil
	case "value_floats":
		return &constant{dims: []int64{int64(len(a.GetFloats()))}, f: append([]float32{}, a.GetFloats()...)}, nil
	case "value_int":
		return &constant{i: []int64{a.GetI()}, isInt: true}, nil
	case "value_ints":
		return &constant{dims: []int64{int64(len(a.GetInts()))}, i: append([]int64{}, a.GetInts()...), isInt: true}, nil
	}
	return nil, im.nodeError(n, "attribute %q is not supported", trunc(a.GetName()))
}

// shapeOf folds Shape of a computed tensor: [N, C, H, W] or [N, F], with
// the batch as batchDim.
func (im *importer) shapeOf(n *onnxpb.NodeProto) (*constant, error) {
	var dims []int64
	if t := im.tensors[in(n, 0)]; t != nil {
		if t.flat {
			dims = []int64{batchDim, int64(t.shape.Channels)}
		} else {
			dims = []int64{batchDim, int64(t.shape.Channels), int64(t.shape.Height), int64(t.shape.Width)}
		}
	} else if c := im.consts[in(n, 0)]; c != nil {
		dims = append([]int64{}, c.dims...)
	} else {
		return nil, im.nodeError(n, "input is missing")
	}
	r := int64(len(dims))
	start, err := im.attrInt(n, "start", 0)
	if err != nil {
		return nil, err
	}
	end, err := im.attrInt(n, "end", r)
	if err != nil {
		return nil, err
	}
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end = clamp(start), clamp(end)
	if end < start {
		end = start
	}
	dims = dims[start:end]
	return &constant{dims: []int64{int64(len(dims))}, i: dims, isInt: true}, nil
}

func (im *importer) gather(n *onnxpb.NodeProto) (*constant, error) {
	data, err := im.constIn(n, 0)
	if err != nil {
		return nil, err
	}
	idx, err := im.constIn(n, 1)
	if err != nil {
		return nil, err
	}
	axis, err := im.attrInt(n, "axis", 0)
	if err != nil {
		return nil, err
	}
	if data == nil || idx == nil || len(data.dims) != 1 || (axis != 0 && axis != -1) || len(idx.dims) > 1 {
		return nil, im.nodeError(n, "only gathering from a 1-D constant with scalar or 1-D indices is supported")
	}
	ii, ok := idx.ints()
	if !ok {
		return nil, im.nodeError(n, "indices are not integers")
	}
	size := int64(data.size())
	out := &constant{dims: append([]int64{}, idx.dims...), isInt: data.isInt}
	for _, k := range ii {
		if k < 0 {
			k += size
		}
		if k < 0 || k >= size {
			return nil, im.nodeError(n, "index out of range")
		}
		if data.isInt {
			out.i = append(out.i, data.i[k])
		} else {
			out.f = append(out.f, data.f[k])
		}
	}
	return out, nil
}

// squeeze folds Unsqueeze and Squeeze, which change only the dims.
func (im *importer) squeeze(n *onnxpb.NodeProto) (*constant, error) {
	data, err := im.constIn(n, 0)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, im.nodeError(n, "input is missing")
	}
	var axes []int64
	if im.opset < 13 {
		if axes, err = im.attrInts(n, "axes", 0); err != nil {
			return nil, err
		}
	} else if c, err := im.constIn(n, 1); err != nil {
		return nil, err
	} else if c != nil {
		var ok bool
		if axes, ok = c.ints(); !ok {
			return nil, im.nodeError(n, "axes are not integers")
		}
	}
	out := *data
	if n.GetOpType() == "Unsqueeze" {
		r := int64(len(data.dims) + len(axes))
		if len(axes) == 0 || r > 8 {
			return nil, im.nodeError(n, "axes %v: want 1 to %d axes", axes, 8-len(data.dims))
		}
		one := make([]bool, r)
		for _, a := range axes {
			if a < 0 {
				a += r
			}
			if a < 0 || a >= r || one[a] {
				return nil, im.nodeError(n, "axes %v out of range", axes)
			}
			one[a] = true
		}
		out.dims = nil
		k := 0
		for a := int64(0); a < r; a++ {
			if one[a] {
				out.dims = append(out.dims, 1)
			} else {
				out.dims = append(out.dims, data.dims[k])
				k++
			}
		}
		return &out, nil
	}
	r := int64(len(data.dims))
	drop := make([]bool, r)
	for _, a := range axes {
		if a < 0 {
			a += r
		}
		if a < 0 || a >= r || data.dims[a] != 1 {
			return nil, im.nodeError(n, "axes %v do not name dimensions of size 1", axes)
		}
		drop[a] = true
	}
	out.dims = nil
	for a, d := range data.dims {
		if !drop[a] && !(len(axes) == 0 && d == 1) {
			out.dims = append(out.dims, d)
		}
	}
	return &out, nil
}

// concatConst folds Concat of 1-D constants.
func (im *importer) concatConst(n *onnxpb.NodeProto) (*constant, error) {
	out := &constant{dims: []int64{0}}
	for k := range n.GetInput() {
		c, err := im.constIn(n, k)
		if err != nil {
			return nil, err
		}
		if c == nil || len(c.dims) != 1 {
			return nil, im.nodeError(n, "only joining 1-D constants is supported")
		}
		if k == 0 {
			out.isInt = c.isInt
		}
		if c.isInt != out.isInt || out.dims[0]+c.dims[0] > maxElems {
			return nil, im.nodeError(n, "inputs of different types or too many values")
		}
		out.dims[0] += c.dims[0]
		out.i = append(out.i, c.i...)
		out.f = append(out.f, c.f...)
	}
	return out, nil
}

func (im *importer) cast(n *onnxpb.NodeProto) (*constant, error) {
	c, err := im.constIn(n, 0)
	if err != nil || c == nil {
		return nil, im.nodeError(n, "input is missing")
	}
	to, err := im.attrInt(n, "to", 0)
	if err != nil {
		return nil, err
	}
	out := &constant{dims: c.dims}
	switch onnxpb.TensorProto_DataType(to) {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_DOUBLE:
		out.f = c.floats()
	case onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32:
		out.isInt = true
		if c.isInt {
			out.i = c.i
		} else {
			out.i = make([]int64, len(c.f))
			for k, v := range c.f {
				if !(v > -1<<40 && v < 1<<40) {
					return nil, im.nodeError(n, "value %g out of range", v)
				}
				out.i[k] = int64(v)
			}
		}
	default:
		return nil, im.nodeError(n, "cast to %v is not supported", onnxpb.TensorProto_DataType(to))
	}
	return out, nil
}
