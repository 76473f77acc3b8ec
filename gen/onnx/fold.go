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
	case "ConstantOfShape":
		out, err = im.constantOfShape(n)
	case "Reshape":
		out, err = im.reshapeConst(n)
	case "Transpose":
		out, err = im.transposeConst(n)
	case "Slice":
		out, err = im.sliceConst(n)
	default:
		err = im.nodeError(n, "operator %s on constants is not supported", n.GetOpType())
	}
	if err != nil {
		return err
	}
	if op := n.GetOpType(); op != "Constant" && op != "Identity" {
		im.folded += out.size()
		if im.folded > maxFolded {
			return im.nodeError(n, "constant sub-graphs compute more than %d values", maxFolded)
		}
	}
	im.consts[n.GetOutput()[0]] = out
	return nil
}

// maxFolded bounds the values that folding constant sub-graphs computes in
// all, so that a small file cannot make them allocate without end.
const maxFolded = 1 << 22

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
		if t.pad != ([4]int64{}) {
			return nil, im.nodeError(n, "the shape of a Pad's output is not supported")
		}
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

// maxShapeValues bounds the values that ConstantOfShape makes: it feeds
// shape computations, not weights.
const maxShapeValues = 1 << 16

// constantOfShape folds ConstantOfShape.
func (im *importer) constantOfShape(n *onnxpb.NodeProto) (*constant, error) {
	c, err := im.constIn(n, 0)
	if err != nil || c == nil {
		return nil, im.nodeError(n, "the shape must be a constant")
	}
	dims, ok := c.ints()
	if !ok || len(c.dims) != 1 {
		return nil, im.nodeError(n, "the shape must be a 1-D integer constant")
	}
	size, err := elemCount(dims)
	if err != nil || size > maxShapeValues {
		return nil, im.nodeError(n, "shape %v: want at most %d values", dims, maxShapeValues)
	}
	out := &constant{dims: append([]int64{}, dims...), f: make([]float32, size)}
	if a := attr(n, "value"); a != nil {
		if a.GetType() != onnxpb.AttributeProto_TENSOR || a.GetT() == nil {
			return nil, im.nodeError(n, "attribute value is not a tensor")
		}
		v, err := decodeTensor(a.GetT())
		if err != nil || v.size() != 1 {
			return nil, im.nodeError(n, "attribute value must be a tensor of one value")
		}
		if v.isInt {
			out.f, out.isInt, out.i = nil, true, make([]int64, size)
			for k := range out.i {
				out.i[k] = v.i[0]
			}
		} else {
			for k := range out.f {
				out.f[k] = v.f[0]
			}
		}
	}
	return out, nil
}

// reshapeConst folds Reshape of a constant.
func (im *importer) reshapeConst(n *onnxpb.NodeProto) (*constant, error) {
	data, err := im.constIn(n, 0)
	if err != nil {
		return nil, err
	}
	sc, err := im.constIn(n, 1)
	if err != nil || data == nil || sc == nil {
		return nil, im.nodeError(n, "reshaping a constant needs a constant shape")
	}
	shape, ok := sc.ints()
	if !ok || len(shape) > 8 {
		return nil, im.nodeError(n, "the shape must be at most 8 integers")
	}
	dims := make([]int64, len(shape))
	known, infer := int64(1), -1
	for k, d := range shape {
		switch {
		case d == 0 && k < len(data.dims):
			d = data.dims[k]
		case d == -1 && infer < 0:
			infer = k
			continue
		case d < 0 || d > maxElems:
			return nil, im.nodeError(n, "shape %v is not valid", shape)
		}
		dims[k] = d
		known *= max(d, 1)
		if known > maxElems {
			return nil, im.nodeError(n, "shape %v is not valid", shape)
		}
	}
	size := int64(data.size())
	if infer >= 0 {
		if known == 0 || size%known != 0 {
			return nil, im.nodeError(n, "shape %v does not fit %d values", shape, size)
		}
		dims[infer] = size / known
	}
	if s, err := elemCount(dims); err != nil || int64(s) != size {
		return nil, im.nodeError(n, "shape %v does not fit %d values", shape, size)
	}
	out := *data
	out.dims = dims
	return &out, nil
}

// strides returns the row-major strides of dims.
func strides(dims []int64) []int {
	s := make([]int, len(dims))
	acc := 1
	for k := len(dims) - 1; k >= 0; k-- {
		s[k] = acc
		acc *= int(dims[k])
	}
	return s
}

// gatherIndex builds a constant of dims from src, value k of the result
// taken from src at index(k's coordinates).
func gatherIndex(src *constant, dims []int64, index func(coord []int) int) *constant {
	n, _ := elemCount(dims)
	out := &constant{dims: dims, isInt: src.isInt}
	coord := make([]int, len(dims))
	st := strides(dims)
	for k := 0; k < n; k++ {
		rem := k
		for a := range dims {
			coord[a] = rem / st[a]
			rem %= st[a]
		}
		j := index(coord)
		if src.isInt {
			out.i = append(out.i, src.i[j])
		} else {
			out.f = append(out.f, src.f[j])
		}
	}
	return out
}

// transposeConst folds Transpose of a constant.
func (im *importer) transposeConst(n *onnxpb.NodeProto) (*constant, error) {
	data, err := im.constIn(n, 0)
	if err != nil || data == nil {
		return nil, im.nodeError(n, "input is missing")
	}
	r := len(data.dims)
	perm, err := im.attrInts(n, "perm", 0)
	if err != nil {
		return nil, err
	}
	if perm == nil {
		for a := r - 1; a >= 0; a-- {
			perm = append(perm, int64(a))
		}
	}
	if len(perm) != r {
		return nil, im.nodeError(n, "perm %v does not fit rank %d", perm, r)
	}
	seen := make([]bool, r)
	dims := make([]int64, r)
	for k, p := range perm {
		if p < 0 || p >= int64(r) || seen[p] {
			return nil, im.nodeError(n, "perm %v is not a permutation", perm)
		}
		seen[p] = true
		dims[k] = data.dims[p]
	}
	st := strides(data.dims)
	return gatherIndex(data, dims, func(c []int) int {
		j := 0
		for k, p := range perm {
			j += c[k] * st[p]
		}
		return j
	}), nil
}

// sliceConst folds Slice of a constant.
func (im *importer) sliceConst(n *onnxpb.NodeProto) (*constant, error) {
	data, err := im.constIn(n, 0)
	if err != nil || data == nil {
		return nil, im.nodeError(n, "input is missing")
	}
	r := len(data.dims)
	var starts, ends, axes, steps []int64
	if im.opset < 10 {
		if starts, err = im.attrInts(n, "starts", 0); err != nil {
			return nil, err
		}
		if ends, err = im.attrInts(n, "ends", 0); err != nil {
			return nil, err
		}
		if axes, err = im.attrInts(n, "axes", 0); err != nil {
			return nil, err
		}
	} else {
		lists := []*[]int64{&starts, &ends, &axes, &steps}
		for k, l := range lists {
			c, err := im.constIn(n, k+1)
			if err != nil {
				return nil, err
			}
			if c != nil {
				v, ok := c.ints()
				if !ok {
					return nil, im.nodeError(n, "input %d is not integers", k+2)
				}
				*l = v
			}
		}
	}
	if len(starts) != len(ends) || len(starts) > r {
		return nil, im.nodeError(n, "starts and ends do not fit rank %d", r)
	}
	if axes == nil {
		for a := range starts {
			axes = append(axes, int64(a))
		}
	}
	if steps == nil {
		steps = make([]int64, len(starts))
		for k := range steps {
			steps[k] = 1
		}
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, im.nodeError(n, "axes and steps do not fit starts")
	}
	first := make([]int64, r)
	step := make([]int64, r)
	dims := append([]int64{}, data.dims...)
	for a := range step {
		step[a] = 1
	}
	done := make([]bool, r)
	for k, a := range axes {
		if a < 0 {
			a += int64(r)
		}
		if a < 0 || a >= int64(r) || done[a] || steps[k] == 0 {
			return nil, im.nodeError(n, "axes %v or steps %v are not valid", axes, steps)
		}
		done[a] = true
		d := data.dims[a]
		s, e, st := starts[k], ends[k], steps[k]
		if s < 0 {
			s += d
		}
		if e < 0 {
			e += d
		}
		var cnt int64
		if st > 0 {
			s, e = min(max(s, 0), d), min(max(e, 0), d)
			if e > s {
				cnt = (e - s + st - 1) / st
			}
		} else {
			s, e = min(max(s, -1), d-1), min(max(e, -1), d-1)
			if s > e {
				cnt = (s - e + (-st) - 1) / (-st)
			}
		}
		first[a], step[a], dims[a] = s, st, cnt
	}
	st := strides(data.dims)
	return gatherIndex(data, dims, func(c []int) int {
		j := 0
		for a := range c {
			j += int(first[a]+int64(c[a])*step[a]) * st[a]
		}
		return j
	}), nil
}
