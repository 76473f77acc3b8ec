package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cnngen/cnngen/gen/onnx/onnxpb"
)

// maxElems bounds the values of one constant tensor (cnngen's per-layer
// parameter limit, 64 Mi).
const maxElems = 64 << 20

// batchDim stands for the batch size in folded shapes (Shape of a tensor):
// Reshape takes it as "the batch", and nothing else computes with it.
const batchDim = math.MinInt64 + 1

// constant is a constant tensor: an initializer, a Constant node's value or
// a folded shape computation. Exactly one of f and i is set (i for integer
// tensors).
type constant struct {
	dims  []int64
	f     []float32
	i     []int64
	isInt bool
}

// size returns the number of values.
func (c *constant) size() int {
	if c.isInt {
		return len(c.i)
	}
	return len(c.f)
}

// elemCount returns the product of dims, or an error when a dimension is
// negative or the product exceeds maxElems.
func elemCount(dims []int64) (int, error) {
	if len(dims) > 8 {
		return 0, fmt.Errorf("rank %d: want at most 8", len(dims))
	}
	n := int64(1)
	for _, d := range dims {
		if d < 0 || d > maxElems {
			return 0, fmt.Errorf("dimension %d out of range", d)
		}
		n *= d
		if n > maxElems {
			return 0, fmt.Errorf("more than %d values", maxElems)
		}
	}
	return int(n), nil
}

// decodeTensor reads a float or integer TensorProto, checking its size
// against its dims before allocating.
func decodeTensor(t *onnxpb.TensorProto) (*constant, error) {
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
		return nil, fmt.Errorf("tensor %q: external data is not supported", t.GetName())
	}
	if t.GetSegment() != nil {
		return nil, fmt.Errorf("tensor %q: segmented tensors are not supported", t.GetName())
	}
	n, err := elemCount(t.GetDims())
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %v", t.GetName(), err)
	}
	c := &constant{dims: append([]int64(nil), t.GetDims()...)}
	raw := t.GetRawData()
	dt := onnxpb.TensorProto_DataType(t.GetDataType())
	bad := func(have int) error {
		return fmt.Errorf("tensor %q: %d values for dims %v", t.GetName(), have, t.GetDims())
	}
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		switch {
		case raw != nil:
			if len(raw) != 4*n {
				return nil, bad(len(raw) / 4)
			}
			c.f = make([]float32, n)
			for k := range c.f {
				c.f[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
			}
		default:
			if len(t.GetFloatData()) != n {
				return nil, bad(len(t.GetFloatData()))
			}
			c.f = append([]float32{}, t.GetFloatData()...)
		}
	case onnxpb.TensorProto_DOUBLE:
		switch {
		case raw != nil:
			if len(raw) != 8*n {
				return nil, bad(len(raw) / 8)
			}
			c.f = make([]float32, n)
			for k := range c.f {
				c.f[k] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*k:])))
			}
		default:
			if len(t.GetDoubleData()) != n {
				return nil, bad(len(t.GetDoubleData()))
			}
			c.f = make([]float32, n)
			for k, v := range t.GetDoubleData() {
				c.f[k] = float32(v)
			}
		}
	case onnxpb.TensorProto_INT64:
		c.isInt = true
		switch {
		case raw != nil:
			if len(raw) != 8*n {
				return nil, bad(len(raw) / 8)
			}
			c.i = make([]int64, n)
			for k := range c.i {
				c.i[k] = int64(binary.LittleEndian.Uint64(raw[8*k:]))
			}
		default:
			if len(t.GetInt64Data()) != n {
				return nil, bad(len(t.GetInt64Data()))
			}
			c.i = append([]int64{}, t.GetInt64Data()...)
		}
	case onnxpb.TensorProto_INT32, onnxpb.TensorProto_BOOL, onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8, onnxpb.TensorProto_INT16:
		c.isInt = true
		width := map[onnxpb.TensorProto_DataType]int{onnxpb.TensorProto_INT32: 4, onnxpb.TensorProto_BOOL: 1, onnxpb.TensorProto_INT8: 1, onnxpb.TensorProto_UINT8: 1, onnxpb.TensorProto_INT16: 2}[dt]
		switch {
		case raw != nil:
			if len(raw) != width*n {
				return nil, bad(len(raw) / width)
			}
			c.i = make([]int64, n)
			for k := range c.i {
				switch dt {
				case onnxpb.TensorProto_INT32:
					c.i[k] = int64(int32(binary.LittleEndian.Uint32(raw[4*k:])))
				case onnxpb.TensorProto_INT16:
					c.i[k] = int64(int16(binary.LittleEndian.Uint16(raw[2*k:])))
				case onnxpb.TensorProto_INT8:
					c.i[k] = int64(int8(raw[k]))
				default:
					c.i[k] = int64(raw[k])
				}
			}
		default:
			if len(t.GetInt32Data()) != n {
				return nil, bad(len(t.GetInt32Data()))
			}
			c.i = make([]int64, n)
			for k, v := range t.GetInt32Data() {
				c.i[k] = int64(v)
			}
		}
	default:
		return nil, fmt.Errorf("tensor %q: data type %v is not supported (want FLOAT, DOUBLE or an integer type)", t.GetName(), dt)
	}
	return c, nil
}

// ints returns c's values as integers (floats must be whole).
func (c *constant) ints() ([]int64, bool) {
	if c.isInt {
		return c.i, true
	}
	out := make([]int64, len(c.f))
	for k, v := range c.f {
		if v != float32(math.Trunc(float64(v))) || math.Abs(float64(v)) > 1<<40 {
			return nil, false
		}
		out[k] = int64(v)
	}
	return out, true
}

// floats returns c's values as float32.
func (c *constant) floats() []float32 {
	if !c.isInt {
		return c.f
	}
	out := make([]float32, len(c.i))
	for k, v := range c.i {
		out[k] = float32(v)
	}
	return out
}
