package checkpoint_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
)

// validFile is a checkpoint of tinyNet(2) with an Adam optimizer's state.
func validFile(t testing.TB) []byte {
	t.Helper()
	m := tinyNet(2)
	fill(m, 1)
	var out bytes.Buffer
	if err := checkpoint.Write(&out, m, adamFor(t, m, 2), map[string]string{"epoch": "1"}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// torchTensors is the tiny network's state_dict as PyTorch would write it,
// with every value 0.5.
func torchTensors() []rawTensor {
	v := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = 0.5
		}
		return out
	}
	return []rawTensor{
		{name: "conv1.bias", shape: "[2]", values: v(2)},
		{name: "conv1.weight", shape: "[2, 1, 3, 3]", values: v(18)},
		{name: "fc1.bias", shape: "[3]", values: v(3)},
		{name: "fc1.weight", shape: "[3, 8]", values: v(24)},
		{name: "fc2.bias", shape: "[2]", values: v(2)},
		{name: "fc2.weight", shape: "[2, 3]", values: v(6)},
	}
}

// torchFileWith is torchTensors changed by edit.
func torchFileWith(edit func([]rawTensor) []rawTensor) []byte {
	return rawFile(edit(torchTensors()))
}

// withHeader rewrites a file's header text.
func withHeader(t testing.TB, file []byte, edit func(string) string) []byte {
	t.Helper()
	header, data := splitFile(t, file)
	changed := edit(header)
	if changed == header {
		t.Fatal("test case: the header edit changed nothing")
	}
	return joinFile(changed, data)
}

func TestHostileCheckpoints(t *testing.T) {
	valid := validFile(t)
	gigantic := append([]byte(nil), valid...)
	binary.LittleEndian.PutUint64(gigantic, 1<<62)
	twoGB := append([]byte(nil), valid...)
	binary.LittleEndian.PutUint64(twoGB, 2<<30)
	nan := float32(math.NaN())
	// A NaN in an optimizer buffer: the last tensor of the valid file is
	// optim.fc2.bias.exp_avg_sq, whose last 4 bytes end the file.
	nanState := append([]byte(nil), valid...)
	binary.LittleEndian.PutUint32(nanState[len(nanState)-4:], math.Float32bits(nan))
	tests := []struct {
		name string
		file []byte
		opt  bool // load with an Adam optimizer
		want string
	}{
		{"empty", nil, false, "safetensors: file too short: 0 bytes"},
		{"header length of exabytes", gigantic, false, "header length 4611686018427387904 is over the 100000000-byte limit"},
		{"header length of 2 GB", twoGB, false, "header length 2147483648 is over the 100000000-byte limit"},
		{"header cut", valid[:100], false, "header length"},
		{"data cut", valid[:len(valid)-3], true, "file truncated: the tensors need"},
		{"corrupt header", withHeader(t, valid, func(h string) string { return strings.Replace(h, `":{`, `":{{`, 1) }), false, "header is not JSON"},
		{"header not JSON at all", withHeader(t, valid, func(h string) string { return "\x00" + h[1:] }), false, "header does not start with '{'"},
		{"wrong dtype", torchFileWith(func(ts []rawTensor) []rawTensor {
			ts[0].dtype, ts[0].values = "F16", ts[0].values[:1] // [2] F16 = 4 bytes
			return ts
		}), false, "tensor conv1.bias has dtype F16: only F32 is supported (in PyTorch, convert with .float() before saving)"},
		{"wrong dtype F64", torchFileWith(func(ts []rawTensor) []rawTensor {
			ts[2].dtype, ts[2].values = "F64", append(ts[2].values, 0, 0, 0) // [3] F64 = 24 bytes
			return ts
		}), false, "tensor fc1.bias has dtype F64: only F32 is supported"},
		{"wrong shape", torchFileWith(func(ts []rawTensor) []rawTensor {
			ts[0].shape, ts[0].values = "[3]", append(ts[0].values, 1)
			return ts
		}), false, "tensor conv1.bias: the checkpoint's shape is [3], the model's is [2] (PyTorch layout)"},
		{"standard layout instead of PyTorch's", torchFileWith(func(ts []rawTensor) []rawTensor {
			ts[3].shape = "[8, 3]"
			return ts
		}), false, "tensor fc1.weight: the checkpoint's shape is [8 3], the model's is [3 8] (PyTorch layout)"},
		{"wrong rank", torchFileWith(func(ts []rawTensor) []rawTensor {
			ts[1].shape = "[2, 9]"
			return ts
		}), false, "tensor conv1.weight: the checkpoint's shape is [2 9], the model's is [2 1 3 3]"},
		{"overlapping offsets", withHeader(t, rawFile(torchTensors()), func(h string) string {
			return strings.Replace(h, `"data_offsets": [8, 80]`, `"data_offsets": [4, 76]`, 1)
		}), false, `tensor "conv1.weight" (bytes 4 to 76) overlaps tensor "conv1.bias" (bytes 0 to 8)`},
		{"offsets past the end", withHeader(t, rawFile(torchTensors()), func(h string) string {
			return strings.Replace(h, `"shape": [2, 3], "data_offsets": [196, 220]`, `"shape": [2, 3, 100], "data_offsets": [196, 2596]`, 1)
		}), false, "file truncated: the tensors need 2596 bytes of data, the file holds 220"},
		{"NaN weight", torchFileWith(func(ts []rawTensor) []rawTensor {
			ts[3].values[1*8+3] = nan
			return ts
		}), false, "tensor fc1.weight holds NaN at [1 3]"},
		{"infinite bias", torchFileWith(func(ts []rawTensor) []rawTensor {
			ts[4].values[1] = float32(math.Inf(-1))
			return ts
		}), false, "tensor fc2.bias holds -Inf at [1]"},
		{"NaN optimizer state", nanState, true, "tensor optim.fc2.bias.exp_avg_sq holds NaN at [1]"},
		{"unexpected tensor", torchFileWith(func(ts []rawTensor) []rawTensor {
			return append(ts, rawTensor{name: "bn1.running_mean", shape: "[2]", values: []float32{0, 0}})
		}), false, "tensor bn1.running_mean is not a parameter of network tiny (which has conv1.weight, conv1.bias, fc1.weight, fc1.bias, fc2.weight, fc2.bias)"},
		{"missing tensor", torchFileWith(func(ts []rawTensor) []rawTensor { return ts[:5] }), false, "tensor fc2.weight is missing"},
		{"missing optimizer buffer", withHeader(t, valid, func(h string) string {
			return strings.Replace(h, `"optim.fc2.bias.exp_avg_sq"`, `"optim.fc2.bias.exp_avg_sq2"`, 1)
		}), true, "tensor optim.fc2.bias.exp_avg_sq2 is not state of the adam optimizer"},
		{"bad step count", withHeader(t, valid, func(h string) string {
			return strings.Replace(h, `"optimizer_steps":"2"`, `"optimizer_steps":"-2"`, 1)
		}), true, `metadata optimizer_steps = "-2" is not a step count`},
		{"trailing data", append(append([]byte(nil), valid...), 0), false, "unexpected data after the last tensor (1 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tinyNet(2)
			fill(m, 7)
			before := snapshot(m)
			var opt runtime.Optimizer
			if tt.opt {
				opt = adamFor(t, m, 0)
			}
			path := filepath.Join(t.TempDir(), "hostile.safetensors")
			if err := os.WriteFile(path, tt.file, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := checkpoint.Load(path, m, opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), path+": ") {
				t.Fatalf("Load: error %v\nwant one starting with the path and containing %q", err, tt.want)
			}
			assertUnchanged(t, m, before)
			if opt != nil && opt.State().Steps != 0 {
				t.Errorf("a failed load changed the optimizer's step count to %d", opt.State().Steps)
			}
		})
	}
}

// TestEveryTruncationFails cuts a valid checkpoint at every length: each
// load fails, as a file and as a stream, and changes nothing.
func TestEveryTruncationFails(t *testing.T) {
	valid := validFile(t)
	m := tinyNet(2)
	opt := adamFor(t, m, 0)
	before := snapshot(m)
	for n := range len(valid) {
		for _, size := range []int64{int64(n), -1} {
			if _, err := checkpoint.Read(bytes.NewReader(valid[:n]), size, m, opt); err == nil {
				t.Fatalf("a checkpoint cut to %d of %d bytes (size %d) loaded", n, len(valid), size)
			}
		}
	}
	assertUnchanged(t, m, before)
	if _, err := checkpoint.Read(bytes.NewReader(valid), -1, m, opt); err != nil {
		t.Fatalf("the whole file: %v", err)
	}
}

func TestLoadNotAFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := checkpoint.Load(dir, tinyNet(2), nil); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: error %v", err)
	}
	if _, err := checkpoint.Load(filepath.Join(dir, "missing"), tinyNet(2), nil); !os.IsNotExist(err) {
		t.Errorf("missing file: error %v, want not-exist", err)
	}
}
