package safetensors

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxHeaderSize is the largest header accepted, in bytes: the limit of the
// format's reference implementation.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header entry that holds string metadata.
const metadataKey = "__metadata__"

// DType is a tensor element type, spelled as in the header ("F32", "BF16", …).
type DType string

// The element types that cnngen reads and writes.
const (
	// F32 is IEEE 754 single precision: parameters, running statistics and
	// optimizer state.
	F32 DType = "F32"
	// I64 is a signed 64-bit integer: batch norm's num_batches_tracked.
	I64 DType = "I64"
)

// dtypeSizes lists the element types that the format defines, with their
// sizes in bytes.
var dtypeSizes = map[DType]int64{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// Size returns the element size in bytes, and false for a type the format
// does not define.
func (d DType) Size() (int64, bool) {
	n, ok := dtypeSizes[d]
	return n, ok
}

// TensorInfo is one tensor's header entry.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
	// Begin and End are the byte range of the tensor's data, relative to
	// the start of the data section.
	Begin, End int64
}

// Len is the number of elements: the product of the shape (1 for a scalar).
func (t TensorInfo) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// ShapeString formats a shape as [a b c].
func ShapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Header is a checked safetensors header.
type Header struct {
	// Tensors are in data order: each one's Begin is the previous one's End,
	// the first begins at 0.
	Tensors []TensorInfo
	// Metadata is the "__metadata__" entry (nil when absent).
	Metadata map[string]string
	// Size is the header's size in the file, its 8-byte length included:
	// the offset of the data section.
	Size int64
	// DataSize is the size of the data section in bytes.
	DataSize int64
}

// Tensor returns the entry of the named tensor.
func (h *Header) Tensor(name string) (TensorInfo, bool) {
	for _, t := range h.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// FormatError is a file that breaks the format.
type FormatError struct {
	Msg string
}

func (e *FormatError) Error() string { return "safetensors: " + e.Msg }

func formatErrorf(format string, args ...any) error {
	return &FormatError{Msg: fmt.Sprintf(format, args...)}
}
