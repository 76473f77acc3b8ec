package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"unicode/utf8"
)

// Tensor is a tensor to write: row-major values of the given shape, float32
// Values for an F32 tensor, int64 Ints for an I64 one.
type Tensor struct {
	Name  string
	Shape []int
	// DType is F32 (also when empty) or I64.
	DType  DType
	Values []float32
	Ints   []int64
}

// dtype is the tensor's element type, F32 when DType is empty.
func (t Tensor) dtype() DType {
	if t.DType == "" {
		return F32
	}
	return t.DType
}

// Write writes the tensors, in the order given, and the metadata (omitted
// when empty) as a safetensors file of F32 and I64 tensors. The header lists the
// tensors in that order too, metadata first, and is padded with spaces to a
// multiple of 8 bytes so that the data is aligned. The output depends only on
// the arguments.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header, err := encodeHeader(tensors, metadata)
	if err != nil {
		return err
	}
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(header)))
	if _, err := w.Write(prefix[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	var buf [4096]byte
	for _, t := range tensors {
		ints := t.Ints
		for len(ints) > 0 {
			n := min(len(ints), len(buf)/8)
			for i, v := range ints[:n] {
				binary.LittleEndian.PutUint64(buf[8*i:], uint64(v))
			}
			if _, err := w.Write(buf[:8*n]); err != nil {
				return err
			}
			ints = ints[n:]
		}
		values := t.Values
		for len(values) > 0 {
			n := min(len(values), len(buf)/4)
			for i, v := range values[:n] {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			if _, err := w.Write(buf[:4*n]); err != nil {
				return err
			}
			values = values[n:]
		}
	}
	return nil
}

// encodeHeader builds the padded JSON header, checking names and sizes.
func encodeHeader(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !utf8.ValidString(k) || !utf8.ValidString(metadata[k]) {
				return nil, fmt.Errorf("safetensors: metadata %q: %q is not valid UTF-8", k, metadata[k])
			}
		}
		writeString(&b, metadataKey)
		b.WriteString(":{")
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(&b, k)
			b.WriteByte(':')
			writeString(&b, metadata[k])
		}
		b.WriteByte('}')
	}
	seen := make(map[string]bool, len(tensors))
	var offset int64
	for i, t := range tensors {
		if !utf8.ValidString(t.Name) {
			return nil, fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", t.Name)
		}
		if t.Name == metadataKey || seen[t.Name] {
			return nil, fmt.Errorf("safetensors: tensor name %q is reserved or used twice", t.Name)
		}
		seen[t.Name] = true
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors: tensor %q has a negative dimension in shape %s", t.Name, ShapeString(t.Shape))
			}
			n *= d
		}
		dtype := t.dtype()
		values, other := len(t.Values), len(t.Ints)
		if dtype == I64 {
			values, other = other, values
		} else if dtype != F32 {
			return nil, fmt.Errorf("safetensors: tensor %q has dtype %s: only F32 and I64 are written", t.Name, dtype)
		}
		if n != values || other != 0 {
			return nil, fmt.Errorf("safetensors: tensor %q has %d values, its shape %s needs %d %s", t.Name, len(t.Values)+len(t.Ints), ShapeString(t.Shape), n, dtype)
		}
		if i > 0 || len(metadata) > 0 {
			b.WriteByte(',')
		}
		writeString(&b, t.Name)
		size, _ := dtype.Size()
		end := offset + size*int64(n)
		fmt.Fprintf(&b, `:{"dtype":"%s","shape":[`, dtype)
		for j, d := range t.Shape {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, d)
		}
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header of %d bytes is over the %d-byte limit", b.Len(), MaxHeaderSize)
	}
	return b.Bytes(), nil
}

// writeString writes s as a JSON string, leaving <, > and & as they are.
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode adds a newline
}
