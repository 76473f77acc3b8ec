package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/cnngen/cnngen/internal/quote"
)

// maxBytes bounds a tensor's computed size so that offsets and sums of sizes
// never overflow an int64.
const maxBytes = math.MaxInt64 / 4

// ReadHeader reads and checks the header at the start of r. fileSize is the
// size of the whole file, or -1 when it is not known (a stream); when known,
// the header and the data section must fill the file exactly.
//
// Memory is bounded before it is allocated: a header length over
// [MaxHeaderSize] or past the end of the file is refused, and a header that
// a stream cuts short costs only the bytes that arrived. On return r is
// positioned at the start of the data section.
func ReadHeader(r io.Reader, fileSize int64) (*Header, error) {
	var prefix [8]byte
	if n, err := io.ReadFull(r, prefix[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, formatErrorf("file too short: %d bytes, the header length alone takes 8", n)
		}
		return nil, err
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if n > MaxHeaderSize {
		return nil, formatErrorf("header length %d is over the %d-byte limit", n, MaxHeaderSize)
	}
	if fileSize >= 0 && int64(n) > fileSize-8 {
		return nil, formatErrorf("header length %d runs past the end of the %d-byte file", n, fileSize)
	}
	// Grow the buffer as bytes arrive rather than trusting n up front.
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(r, int64(n))); err != nil {
		return nil, err
	}
	if uint64(buf.Len()) < n {
		return nil, formatErrorf("file truncated in the header: %d of its %d bytes", buf.Len(), n)
	}
	h, err := ParseHeader(buf.Bytes())
	if err != nil {
		return nil, err
	}
	h.Size = 8 + int64(n)
	if fileSize >= 0 {
		switch end := h.Size + h.DataSize; {
		case end > fileSize:
			return nil, formatErrorf("file truncated: the tensors need %d bytes of data, the file holds %d", h.DataSize, fileSize-h.Size)
		case end < fileSize:
			return nil, formatErrorf("unexpected data after the last tensor (%d bytes)", fileSize-end)
		}
	}
	return h, nil
}

// tensorEntry is a tensor's header entry as JSON; pointers tell a missing
// field from a zero one. Unknown fields are ignored.
type tensorEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// ParseHeader parses and checks the JSON header (without its length
// prefix). It returns a [*FormatError] naming the tensor and what is wrong
// when the header breaks the format; the returned Header's Size is 0.
func ParseHeader(header []byte) (*Header, error) {
	if !utf8.Valid(header) {
		return nil, formatErrorf("header is not valid UTF-8")
	}
	if len(header) == 0 || header[0] != '{' {
		return nil, formatErrorf("header does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	if _, err := dec.Token(); err != nil { // the opening '{'
		return nil, formatErrorf("header is not JSON: %v", err)
	}
	h := &Header{}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, formatErrorf("header is not JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, formatErrorf("header is not a JSON object")
		}
		if seen[name] {
			return nil, formatErrorf("header names %s twice", quote.Quoted(name))
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, formatErrorf("header is not JSON: entry %s: %v", quote.Quoted(name), err)
		}
		if name == metadataKey {
			if err := json.Unmarshal(raw, &h.Metadata); err != nil || h.Metadata == nil {
				return nil, formatErrorf("%s must be an object of strings: %s", metadataKey, clip(raw))
			}
			continue
		}
		t, err := parseTensor(name, raw)
		if err != nil {
			return nil, err
		}
		h.Tensors = append(h.Tensors, t)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, formatErrorf("header is not JSON: %v", err)
	}
	// Only the padding may follow the object.
	if rest := header[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return nil, formatErrorf("header has %d bytes after its JSON object", len(rest))
	}
	if err := tile(h); err != nil {
		return nil, err
	}
	return h, nil
}

// parseTensor checks one tensor entry on its own: known dtype, natural
// dimensions, and a byte range as long as the shape needs.
func parseTensor(name string, raw json.RawMessage) (TensorInfo, error) {
	var e tensorEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return TensorInfo{}, formatErrorf("tensor %s: bad entry %s: %v", quote.Quoted(name), clip(raw), err)
	}
	switch {
	case e.DType == nil:
		return TensorInfo{}, formatErrorf("tensor %s has no dtype", quote.Quoted(name))
	case e.Shape == nil:
		return TensorInfo{}, formatErrorf("tensor %s has no shape", quote.Quoted(name))
	case e.DataOffsets == nil:
		return TensorInfo{}, formatErrorf("tensor %s has no data_offsets", quote.Quoted(name))
	}
	t := TensorInfo{Name: name, DType: DType(*e.DType)}
	size, ok := t.DType.Size()
	if !ok {
		return TensorInfo{}, formatErrorf("tensor %s has unknown dtype %s", quote.Quoted(name), quote.Quoted(*e.DType))
	}
	bytes := size
	t.Shape = make([]int, len(*e.Shape))
	for i, d := range *e.Shape {
		if d < 0 {
			return TensorInfo{}, formatErrorf("tensor %s has a negative dimension in shape %v", quote.Quoted(name), *e.Shape)
		}
		if d > 0 && bytes > maxBytes/d {
			return TensorInfo{}, formatErrorf("tensor %s: shape %v is too large", quote.Quoted(name), *e.Shape)
		}
		bytes *= d
		t.Shape[i] = int(d)
	}
	offsets := *e.DataOffsets
	if len(offsets) != 2 {
		return TensorInfo{}, formatErrorf("tensor %s: data_offsets %v must be [begin, end]", quote.Quoted(name), offsets)
	}
	t.Begin, t.End = offsets[0], offsets[1]
	if t.Begin < 0 || t.End < t.Begin || t.End > maxBytes {
		return TensorInfo{}, formatErrorf("tensor %s: data_offsets %v are not a byte range", quote.Quoted(name), offsets)
	}
	if t.End-t.Begin != bytes {
		return TensorInfo{}, formatErrorf("tensor %s: data_offsets %v hold %d bytes, shape %s of %s needs %d",
			quote.Quoted(name), offsets, t.End-t.Begin, ShapeString(t.Shape), t.DType, bytes)
	}
	return t, nil
}

// tile sorts the tensors into data order and checks that their ranges cover
// the data section from 0 without overlap or gap; it sets DataSize.
func tile(h *Header) error {
	slices.SortStableFunc(h.Tensors, func(a, b TensorInfo) int {
		if a.Begin != b.Begin {
			return compare(a.Begin, b.Begin)
		}
		return compare(a.End, b.End)
	})
	var pos int64
	for i, t := range h.Tensors {
		switch {
		case t.Begin < pos:
			prev := h.Tensors[i-1]
			return formatErrorf("tensor %s (bytes %d to %d) overlaps tensor %s (bytes %d to %d)",
				quote.Quoted(t.Name), t.Begin, t.End, quote.Quoted(prev.Name), prev.Begin, prev.End)
		case t.Begin > pos:
			return formatErrorf("data has a gap of %d bytes before tensor %s (offsets must tile the data)", t.Begin-pos, quote.Quoted(t.Name))
		}
		pos = t.End
	}
	h.DataSize = pos
	return nil
}

func compare(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// clip shortens raw JSON for an error message, escaped by quote.Value
// when it holds anything but printable characters.
func clip(raw []byte) string {
	const max = 80
	if len(raw) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(raw[cut]) {
			cut--
		}
		return quote.Value(string(raw[:cut])) + "…"
	}
	return quote.Value(string(raw))
}

// ReadF32 reads len(dst) little-endian float32 values from r. A stream that
// ends early gives an error wrapping io.ErrUnexpectedEOF.
func ReadF32(r io.Reader, dst []float32) error {
	var buf [4096]byte
	for len(dst) > 0 {
		n := min(len(dst), len(buf)/4)
		if _, err := io.ReadFull(r, buf[:4*n]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		for i := range n {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
		dst = dst[n:]
	}
	return nil
}

// ReadI64 reads len(dst) little-endian int64 values from r. A stream that
// ends early gives an error wrapping io.ErrUnexpectedEOF.
func ReadI64(r io.Reader, dst []int64) error {
	var buf [4096]byte
	for len(dst) > 0 {
		n := min(len(dst), len(buf)/8)
		if _, err := io.ReadFull(r, buf[:8*n]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		for i := range n {
			dst[i] = int64(binary.LittleEndian.Uint64(buf[8*i:]))
		}
		dst = dst[n:]
	}
	return nil
}
