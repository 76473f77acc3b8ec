package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

// rawFile assembles a file from a header text and data bytes, as the
// specification lays it out, without this package's writer.
func rawFile(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

// f32Bytes is the little-endian encoding of values.
func f32Bytes(values ...float32) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, values)
	return b.Bytes()
}

func TestWriteMatchesSpecification(t *testing.T) {
	var out bytes.Buffer
	err := Write(&out, []Tensor{
		{Name: "b", Shape: []int{2}, Values: []float32{1, -2}},
		{Name: "a<&>", Shape: []int{1, 1}, Values: []float32{0.5}},
	}, map[string]string{"format": "pt", "name": "x"})
	if err != nil {
		t.Fatal(err)
	}
	header := `{"__metadata__":{"format":"pt","name":"x"},` +
		`"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"a<&>":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}}`
	header += strings.Repeat(" ", (8-len(header)%8)%8)
	want := rawFile(header, f32Bytes(1, -2, 0.5))
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("Write produced\n%q\nwant\n%q", out.Bytes(), want)
	}
	if (out.Len()-len(f32Bytes(1, -2, 0.5)))%8 != 0 {
		t.Errorf("data does not start at a multiple of 8")
	}
}

func TestRoundTrip(t *testing.T) {
	in := []Tensor{
		{Name: "conv.weight", Shape: []int{2, 1, 3, 3}, Values: make([]float32, 18)},
		{Name: "conv.bias", Shape: []int{2}, Values: []float32{float32(math.Inf(1)), -0}},
		{Name: "empty", Shape: []int{0, 4}, Values: nil},
		{Name: "scalar", Shape: []int{}, Values: []float32{42}},
	}
	for i := range in[0].Values {
		in[0].Values[i] = float32(i) * 1.25
	}
	var out bytes.Buffer
	if err := Write(&out, in, nil); err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(out.Bytes())
	h, err := ReadHeader(r, int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if h.Metadata != nil {
		t.Errorf("metadata %v, want none", h.Metadata)
	}
	if h.Size+h.DataSize != int64(out.Len()) {
		t.Errorf("header %d + data %d bytes, file %d", h.Size, h.DataSize, out.Len())
	}
	if len(h.Tensors) != len(in) {
		t.Fatalf("%d tensors, want %d", len(h.Tensors), len(in))
	}
	for i, info := range h.Tensors {
		want := in[i]
		if info.Name != want.Name || info.DType != F32 || ShapeString(info.Shape) != ShapeString(want.Shape) {
			t.Errorf("tensor %d: %+v, want %s %s", i, info, want.Name, ShapeString(want.Shape))
		}
		got := make([]float32, info.Len())
		if err := ReadF32(r, got); err != nil {
			t.Fatal(err)
		}
		for j := range got {
			if math.Float32bits(got[j]) != math.Float32bits(want.Values[j]) {
				t.Errorf("%s[%d] = %v, want %v", info.Name, j, got[j], want.Values[j])
			}
		}
	}
}

// TestReadsOtherWriters reads a header laid out as Python's safetensors
// writes it: keys in another order than the data, spaces after separators,
// metadata last, padding.
func TestReadsOtherWriters(t *testing.T) {
	header := `{"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]}, ` +
		`"b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "__metadata__": {"format": "pt"}}    `
	data := f32Bytes(10, 20, 1, 2, 3, 4)
	file := rawFile(header, data)
	r := bytes.NewReader(file)
	h, err := ReadHeader(r, int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if h.Metadata["format"] != "pt" || len(h.Tensors) != 2 || h.Tensors[0].Name != "b" || h.Tensors[1].Name != "w" {
		t.Fatalf("header %+v, want b then w in data order and format pt", h)
	}
	b, w := make([]float32, 2), make([]float32, 4)
	if err := ReadF32(r, b); err != nil {
		t.Fatal(err)
	}
	if err := ReadF32(r, w); err != nil {
		t.Fatal(err)
	}
	if b[1] != 20 || w[3] != 4 {
		t.Errorf("b = %v, w = %v", b, w)
	}
}

func TestHostileFiles(t *testing.T) {
	entry := func(dtype, shape, offsets string) string {
		return `{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offsets + `}`
	}
	good := `{"t":` + entry("F32", "[2]", "[0,8]") + `}`
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<40)
	claims1000 := make([]byte, 8+20)
	binary.LittleEndian.PutUint64(claims1000, 1000)
	tests := []struct {
		name string
		file []byte
		size int64 // -1: read as a stream; else the file's size is given
		want string
	}{
		{"empty", nil, 0, "file too short: 0 bytes"},
		{"three bytes", []byte{1, 2, 3}, -1, "file too short: 3 bytes"},
		{"gigantic header length", huge, 8, "header length 1099511627776 is over the 100000000-byte limit"},
		{"header length past the file", claims1000, 28, "header length 1000 runs past the end of the 28-byte file"},
		{"header cut short in a stream", claims1000, -1, "file truncated in the header: 20 of its 1000 bytes"},
		{"not UTF-8", rawFile("{\"\xff\":1}", nil), -1, "header is not valid UTF-8"},
		{"not an object", rawFile(`[1,2]`, nil), -1, "header does not start with '{'"},
		{"leading space", rawFile(` {}`, nil), -1, "header does not start with '{'"},
		{"bad JSON", rawFile(`{"t": }`, nil), -1, "header is not JSON"},
		{"unterminated", rawFile(`{"t":`+entry("F32", "[2]", "[0,8]"), f32Bytes(1, 2)), -1, "header is not JSON"},
		{"garbage after the object", rawFile(good+"xx", f32Bytes(1, 2)), -1, "header has 2 bytes after its JSON object"},
		{"duplicate name", rawFile(`{"t":`+entry("F32", "[1]", "[0,4]")+`,"t":`+entry("F32", "[1]", "[4,8]")+`}`, f32Bytes(1, 2)), -1, `header names "t" twice`},
		{"metadata not strings", rawFile(`{"__metadata__":{"a":1}}`, nil), -1, `__metadata__ must be an object of strings: {"a":1}`},
		{"metadata null", rawFile(`{"__metadata__":null}`, nil), -1, "__metadata__ must be an object of strings"},
		{"entry not an object", rawFile(`{"t":5}`, nil), -1, `tensor "t": bad entry 5`},
		{"no dtype", rawFile(`{"t":{"shape":[1],"data_offsets":[0,4]}}`, f32Bytes(1)), -1, `tensor "t" has no dtype`},
		{"no shape", rawFile(`{"t":{"dtype":"F32","data_offsets":[0,4]}}`, f32Bytes(1)), -1, `tensor "t" has no shape`},
		{"no offsets", rawFile(`{"t":{"dtype":"F32","shape":[1]}}`, f32Bytes(1)), -1, `tensor "t" has no data_offsets`},
		{"unknown dtype", rawFile(`{"t":`+entry("F33", "[1]", "[0,4]")+`}`, f32Bytes(1)), -1, `tensor "t" has unknown dtype "F33"`},
		{"negative dimension", rawFile(`{"t":`+entry("F32", "[-1]", "[0,4]")+`}`, f32Bytes(1)), -1, `tensor "t" has a negative dimension in shape [-1]`},
		{"fractional dimension", rawFile(`{"t":`+entry("F32", "[1.5]", "[0,4]")+`}`, f32Bytes(1)), -1, `tensor "t": bad entry`},
		{"overflowing shape", rawFile(`{"t":`+entry("F32", "[4294967296,4294967296]", "[0,4]")+`}`, f32Bytes(1)), -1, `tensor "t": shape [4294967296 4294967296] is too large`},
		{"three offsets", rawFile(`{"t":`+entry("F32", "[1]", "[0,4,8]")+`}`, f32Bytes(1)), -1, `tensor "t": data_offsets [0 4 8] must be [begin, end]`},
		{"reversed offsets", rawFile(`{"t":`+entry("F32", "[0]", "[8,4]")+`}`, nil), -1, `tensor "t": data_offsets [8 4] are not a byte range`},
		{"negative offset", rawFile(`{"t":`+entry("F32", "[1]", "[-4,0]")+`}`, nil), -1, `tensor "t": data_offsets [-4 0] are not a byte range`},
		{"range shorter than the shape", rawFile(`{"t":`+entry("F32", "[3]", "[0,8]")+`}`, f32Bytes(1, 2)), -1, `tensor "t": data_offsets [0 8] hold 8 bytes, shape [3] of F32 needs 12`},
		{"overlap", rawFile(`{"a":`+entry("F32", "[2]", "[0,8]")+`,"b":`+entry("F32", "[2]", "[4,12]")+`}`, f32Bytes(1, 2, 3)), -1, `tensor "b" (bytes 4 to 12) overlaps tensor "a" (bytes 0 to 8)`},
		{"gap", rawFile(`{"a":`+entry("F32", "[1]", "[0,4]")+`,"b":`+entry("F32", "[1]", "[8,12]")+`}`, f32Bytes(1, 2, 3)), -1, `data has a gap of 4 bytes before tensor "b"`},
		{"not from zero", rawFile(`{"a":`+entry("F32", "[1]", "[4,8]")+`}`, f32Bytes(1, 2)), -1, `data has a gap of 4 bytes before tensor "a"`},
		{"offsets past the end", rawFile(good, f32Bytes(1)), 20, "file truncated: the tensors need 8 bytes of data, the file holds 4"},
		{"trailing data", rawFile(good, f32Bytes(1, 2, 3)), 28, "unexpected data after the last tensor (4 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := tt.size
			if size >= 0 {
				size = int64(len(tt.file))
			}
			_, err := ReadHeader(bytes.NewReader(tt.file), size)
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadHeader: error %v, want a FormatError containing %q", err, tt.want)
			}
		})
	}
}

func TestReadF32Truncated(t *testing.T) {
	err := ReadF32(bytes.NewReader(f32Bytes(1, 2)[:6]), make([]float32, 2))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("error %v, want io.ErrUnexpectedEOF", err)
	}
	err = ReadF32(bytes.NewReader(nil), make([]float32, 1))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("empty stream: error %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"size", []Tensor{{Name: "t", Shape: []int{2, 2}, Values: make([]float32, 3)}}, nil, `tensor "t" has 3 values, its shape [2 2] needs 4`},
		{"twice", []Tensor{{Name: "t", Shape: []int{0}}, {Name: "t", Shape: []int{0}}}, nil, `tensor name "t" is reserved or used twice`},
		{"reserved", []Tensor{{Name: "__metadata__", Shape: []int{0}}}, nil, `tensor name "__metadata__" is reserved`},
		{"negative", []Tensor{{Name: "t", Shape: []int{-1}}}, nil, `negative dimension`},
		{"name not UTF-8", []Tensor{{Name: "\xff", Shape: []int{0}}}, nil, `is not valid UTF-8`},
		{"metadata not UTF-8", nil, map[string]string{"k": "\xff"}, `metadata "k": "\xff" is not valid UTF-8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Write(&out, tt.tensors, tt.meta)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", out.Len())
			}
		})
	}
}
