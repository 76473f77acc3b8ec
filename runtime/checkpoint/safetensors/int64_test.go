package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestWriteI64(t *testing.T) {
	var out bytes.Buffer
	err := Write(&out, []Tensor{
		{Name: "bn.running_mean", Shape: []int{1}, Values: []float32{0.25}},
		{Name: "bn.num_batches_tracked", Shape: []int{}, DType: I64, Ints: []int64{-3}},
		{Name: "after", Shape: []int{1}, DType: F32, Values: []float32{2}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	header := `{"bn.running_mean":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},` +
		`"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[4,12]},` +
		`"after":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}`
	header += strings.Repeat(" ", (8-len(header)%8)%8)
	var data bytes.Buffer
	binary.Write(&data, binary.LittleEndian, float32(0.25))
	binary.Write(&data, binary.LittleEndian, int64(-3))
	binary.Write(&data, binary.LittleEndian, float32(2))
	if want := rawFile(header, data.Bytes()); !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("Write produced\n%q\nwant\n%q", out.Bytes(), want)
	}

	r := bytes.NewReader(out.Bytes())
	h, err := ReadHeader(r, int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if tt := h.Tensors[1]; tt.DType != I64 || len(tt.Shape) != 0 || tt.Len() != 1 {
		t.Errorf("counter read as %+v", tt)
	}
	f := make([]float32, 1)
	i := make([]int64, 1)
	if err := ReadF32(r, f); err != nil {
		t.Fatal(err)
	}
	if err := ReadI64(r, i); err != nil || i[0] != -3 {
		t.Errorf("ReadI64: %v, %v", i, err)
	}
	if err := ReadI64(bytes.NewReader(make([]byte, 5)), i); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated: error %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestWriteRejectsMixedOrUnknownTypes(t *testing.T) {
	for _, tc := range []struct {
		tensor Tensor
		want   string
	}{
		{Tensor{Name: "t", Shape: []int{1}, DType: I64, Values: []float32{1}}, `tensor "t" has 1 values, its shape [1] needs 1 I64`},
		{Tensor{Name: "t", Shape: []int{1}, Values: []float32{1}, Ints: []int64{1}}, `tensor "t" has 2 values, its shape [1] needs 1 F32`},
		{Tensor{Name: "t", Shape: []int{1}, DType: "F16", Values: []float32{1}}, `tensor "t" has dtype F16: only F32 and I64 are written`},
	} {
		var out bytes.Buffer
		if err := Write(&out, []Tensor{tc.tensor}, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.tensor, err, tc.want)
		}
	}
}
