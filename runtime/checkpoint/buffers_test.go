package checkpoint_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
)

// statefulModel is a fakeModel with batch norm buffers.
type statefulModel struct {
	*fakeModel
	buffers []runtime.Buffer
}

func (m *statefulModel) Buffers() []runtime.Buffer { return m.buffers }

// bnNet is a network with a grouped conv without bias and a batch norm, as
// the generic engine would describe it:
//
//	input 4x4x2 → conv1 3x3, 4 filters, 2 groups, no bias → 4x4x4 → bn1
//	→ global average pool 1x1x4 → fc1 2 units
func bnNet() *statefulModel {
	count := new(int64)
	return &statefulModel{
		fakeModel: &fakeModel{
			name:  "bn",
			input: runtime.Shape{Height: 4, Width: 4, Channels: 2},
			params: []runtime.Param{
				param("conv1.weight", runtime.Shape{}, 3, 3, 1, 4),
				param("bn1.weight", runtime.Shape{}, 4),
				param("bn1.bias", runtime.Shape{}, 4),
				param("fc1.weight", runtime.Shape{Height: 1, Width: 1, Channels: 4}, 4, 2),
				param("fc1.bias", runtime.Shape{}, 2),
			},
		},
		buffers: []runtime.Buffer{
			{Name: "bn1.running_mean", Layer: "bn1", Shape: []int{4}, Value: make([]float32, 4)},
			{Name: "bn1.running_var", Layer: "bn1", Shape: []int{4}, Value: []float32{1, 1, 1, 1}},
			{Name: "bn1.num_batches_tracked", Layer: "bn1", Shape: []int{}, Count: count},
		},
	}
}

// fillBuffers gives every buffer value of m a distinct number.
func fillBuffers(m *statefulModel, seed float32) {
	for i, b := range m.buffers {
		for j := range b.Value {
			b.Value[j] = seed + float32(i*100+j)/8
		}
		if b.Count != nil {
			*b.Count = int64(seed) + 1000
		}
	}
}

func bufferSnapshot(m *statefulModel) ([][]float32, int64) {
	var out [][]float32
	var count int64
	for _, b := range m.buffers {
		if b.Count != nil {
			count = *b.Count
			continue
		}
		out = append(out, append([]float32(nil), b.Value...))
	}
	return out, count
}

func TestBuffersRoundTrip(t *testing.T) {
	m := bnNet()
	fill(m, 1)
	fillBuffers(m, 3)
	var file bytes.Buffer
	if err := checkpoint.Write(&file, m, nil, nil); err != nil {
		t.Fatal(err)
	}
	header, _ := splitFile(t, file.Bytes())
	for _, want := range []string{
		`"bn1.running_mean":{"dtype":"F32","shape":[4]`,
		`"bn1.running_var":{"dtype":"F32","shape":[4]`,
		`"bn1.num_batches_tracked":{"dtype":"I64","shape":[]`,
		`"conv1.weight":{"dtype":"F32","shape":[4,1,3,3]`,
	} {
		if !strings.Contains(header, want) {
			t.Errorf("header %s lacks %s", header, want)
		}
	}
	if strings.Contains(header, "conv1.bias") {
		t.Errorf("header %s has a bias for a layer without one", header)
	}

	got := bnNet()
	if _, err := checkpoint.Read(bytes.NewReader(file.Bytes()), int64(file.Len()), got, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snapshot(got), snapshot(m)) {
		t.Error("parameters differ after a round trip")
	}
	gotBuf, gotCount := bufferSnapshot(got)
	wantBuf, wantCount := bufferSnapshot(m)
	if !reflect.DeepEqual(gotBuf, wantBuf) || gotCount != wantCount || gotCount != 1003 {
		t.Errorf("buffers %v, count %d after a round trip, want %v, %d", gotBuf, gotCount, wantBuf, wantCount)
	}
}

// TestShapesHashWithoutBuffers pins the hash of a network without buffers
// to its definition before buffers existed, so that older checkpoints keep
// loading; buffers change it.
func TestShapesHashWithoutBuffers(t *testing.T) {
	old := "conv1.weight [2 1 3 3]\nconv1.bias [2]\nfc1.weight [3 8] in 2x2x2\nfc1.bias [3]\nfc2.weight [2 3] in 1x1x3\nfc2.bias [2]\n"
	sum := sha256.Sum256([]byte(old))
	want := hex.EncodeToString(sum[:])
	hashOf := func(m runtime.Model) string {
		var file bytes.Buffer
		if err := checkpoint.Write(&file, m, nil, nil); err != nil {
			t.Fatal(err)
		}
		meta, err := checkpoint.Read(bytes.NewReader(file.Bytes()), int64(file.Len()), m, nil)
		if err != nil {
			t.Fatal(err)
		}
		return meta[checkpoint.MetaShapesHash]
	}
	if got := hashOf(tinyNet(2)); got != want {
		t.Errorf("tiny's shapes hash %s, want %s", got, want)
	}
	if got := hashOf(&statefulModel{fakeModel: tinyNet(2)}); got != want {
		t.Errorf("a Stateful network without buffers hashes %s, want %s", got, want)
	}
	m := bnNet()
	withBuffers := hashOf(m)
	m.buffers = nil
	if withBuffers == hashOf(m) {
		t.Error("buffers do not change the shapes hash")
	}
}

// TestLoadTorchStateDictWithBuffers loads a state_dict laid out as PyTorch's
// safetensors.torch.save_file writes one for
//
//	nn.Conv2d(2, 4, 3, groups=2, bias=False), nn.BatchNorm2d(4), …, nn.Linear(4, 2)
//
// with the entries sorted by name and num_batches_tracked an I64 scalar.
func TestLoadTorchStateDictWithBuffers(t *testing.T) {
	conv := make([]float32, 4*1*3*3) // [F, C/g, KH, KW]
	for i := range conv {
		conv[i] = float32(i) / 4
	}
	file := rawFile([]rawTensor{
		{name: "bn1.bias", shape: "[4]", values: []float32{0.1, 0.2, 0.3, 0.4}},
		{name: "bn1.num_batches_tracked", dtype: "I64", shape: "[]", ints: []int64{42}},
		{name: "bn1.running_mean", shape: "[4]", values: []float32{-1, -2, -3, -4}},
		{name: "bn1.running_var", shape: "[4]", values: []float32{5, 6, 7, 8}},
		{name: "bn1.weight", shape: "[4]", values: []float32{1.5, 2.5, 3.5, 4.5}},
		{name: "conv1.weight", shape: "[4, 1, 3, 3]", values: conv},
		{name: "fc1.bias", shape: "[2]", values: []float32{9, 10}},
		{name: "fc1.weight", shape: "[2, 4]", values: []float32{11, 12, 13, 14, 15, 16, 17, 18}},
	})
	m := bnNet()
	if _, err := checkpoint.Read(bytes.NewReader(file), int64(len(file)), m, nil); err != nil {
		t.Fatal(err)
	}
	w := m.params[0].Value // HWIO [3, 3, 1, 4]
	for o := range 4 {
		for y := range 3 {
			for x := range 3 {
				if got, want := w[(y*3+x)*4+o], conv[(o*3+y)*3+x]; got != want {
					t.Errorf("conv1.weight filter %d at (%d, %d) = %g, want %g", o, y, x, got, want)
				}
			}
		}
	}
	if got := m.params[1].Value; !reflect.DeepEqual(got, []float32{1.5, 2.5, 3.5, 4.5}) {
		t.Errorf("bn1.weight = %v", got)
	}
	if got := m.params[3].Value; !reflect.DeepEqual(got, []float32{11, 15, 12, 16, 13, 17, 14, 18}) {
		t.Errorf("fc1.weight = %v (want [In, Units])", got)
	}
	if !reflect.DeepEqual(m.buffers[0].Value, []float32{-1, -2, -3, -4}) || !reflect.DeepEqual(m.buffers[1].Value, []float32{5, 6, 7, 8}) || *m.buffers[2].Count != 42 {
		t.Errorf("buffers %v %v %d", m.buffers[0].Value, m.buffers[1].Value, *m.buffers[2].Count)
	}
}

func TestLoadBufferErrors(t *testing.T) {
	base := func() []rawTensor {
		return []rawTensor{
			{name: "bn1.bias", shape: "[4]", values: make([]float32, 4)},
			{name: "bn1.num_batches_tracked", dtype: "I64", shape: "[]", ints: []int64{3}},
			{name: "bn1.running_mean", shape: "[4]", values: make([]float32, 4)},
			{name: "bn1.running_var", shape: "[4]", values: make([]float32, 4)},
			{name: "bn1.weight", shape: "[4]", values: make([]float32, 4)},
			{name: "conv1.weight", shape: "[4, 1, 3, 3]", values: make([]float32, 36)},
			{name: "fc1.bias", shape: "[2]", values: make([]float32, 2)},
			{name: "fc1.weight", shape: "[2, 4]", values: make([]float32, 8)},
		}
	}
	with := func(f func([]rawTensor) []rawTensor) []byte { return rawFile(f(base())) }
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"missing running_var", with(func(ts []rawTensor) []rawTensor { return append(ts[:3], ts[4:]...) }),
			"tensor bn1.running_var is missing (a buffer of layer bn1)"},
		{"missing counter", with(func(ts []rawTensor) []rawTensor { return append(ts[:1], ts[2:]...) }),
			"tensor bn1.num_batches_tracked is missing (a buffer of layer bn1)"},
		{"extra", with(func(ts []rawTensor) []rawTensor {
			return append(ts, rawTensor{name: "bn2.running_mean", shape: "[4]", values: make([]float32, 4)})
		}), "tensor bn2.running_mean is not a parameter or buffer of network bn (which has conv1.weight, bn1.weight, bn1.bias, fc1.weight, fc1.bias, bn1.running_mean, bn1.running_var, bn1.num_batches_tracked)"},
		{"counter as F32", with(func(ts []rawTensor) []rawTensor {
			ts[1] = rawTensor{name: "bn1.num_batches_tracked", shape: "[]", values: []float32{3}}
			return ts
		}), "tensor bn1.num_batches_tracked has dtype F32, want I64 (a buffer of layer bn1, as PyTorch saves it)"},
		{"counter of shape [1]", with(func(ts []rawTensor) []rawTensor { ts[1].shape = "[1]"; return ts }),
			"tensor bn1.num_batches_tracked: the checkpoint's shape is [1], the model's is [] (a buffer of layer bn1)"},
		{"negative counter", with(func(ts []rawTensor) []rawTensor { ts[1].ints = []int64{-1}; return ts }),
			"tensor bn1.num_batches_tracked holds -1: a count cannot be negative"},
		{"running mean of the wrong size", with(func(ts []rawTensor) []rawTensor {
			ts[2] = rawTensor{name: "bn1.running_mean", shape: "[3]", values: make([]float32, 3)}
			return ts
		}), "tensor bn1.running_mean: the checkpoint's shape is [3], the model's is [4] (a buffer of layer bn1)"},
		{"NaN running variance", with(func(ts []rawTensor) []rawTensor { ts[3].values[2] = float32(math.NaN()); return ts }),
			"tensor bn1.running_var holds NaN at [2]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := bnNet()
			fill(m, 1)
			fillBuffers(m, 5)
			params := snapshot(m)
			buffers, count := bufferSnapshot(m)
			_, err := checkpoint.Read(bytes.NewReader(tc.file), int64(len(tc.file)), m, nil)
			if err == nil || err.Error() != "checkpoint: "+tc.want {
				t.Fatalf("error %v, want %q", err, "checkpoint: "+tc.want)
			}
			gotBuffers, gotCount := bufferSnapshot(m)
			if !reflect.DeepEqual(snapshot(m), params) || !reflect.DeepEqual(gotBuffers, buffers) || gotCount != count {
				t.Error("a failed load changed the model")
			}
		})
	}
}

func TestSaveRefusesBadBuffers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bn.safetensors")
	m := bnNet()
	m.buffers[1].Value[3] = float32(math.Inf(1))
	if err := checkpoint.Save(path, m, nil, nil); err == nil || !strings.Contains(err.Error(), "bn1.running_var value 3 is +Inf: refusing to save non-finite values") {
		t.Errorf("infinite running variance: error %v", err)
	}
	m = bnNet()
	*m.buffers[2].Count = -2
	if err := checkpoint.Save(path, m, nil, nil); err == nil || !strings.Contains(err.Error(), "bn1.num_batches_tracked is -2") {
		t.Errorf("negative count: error %v", err)
	}
	m = bnNet()
	m.buffers[0].Name = "conv1.weight"
	if err := checkpoint.Save(path, m, nil, nil); err == nil || !strings.Contains(err.Error(), `buffer name "conv1.weight" is used twice`) {
		t.Errorf("clashing name: error %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a refused save left a file: %v", err)
	}
}

// FuzzReadBuffers feeds arbitrary bytes to the reader of a model with
// buffers: it must return an error or load, never panic, and change neither
// the parameters nor the buffers when it fails.
func FuzzReadBuffers(f *testing.F) {
	m := bnNet()
	fill(m, 2)
	fillBuffers(m, 4)
	var valid bytes.Buffer
	if err := checkpoint.Write(&valid, m, nil, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(valid.Bytes())
	f.Add(valid.Bytes()[:valid.Len()-4])
	f.Add(rawFile([]rawTensor{
		{name: "bn1.num_batches_tracked", dtype: "I64", shape: "[]", ints: []int64{7}},
		{name: "bn1.running_mean", shape: "[4]", values: make([]float32, 4)},
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := bnNet()
		fill(m, 1)
		fillBuffers(m, 5)
		params := snapshot(m)
		buffers, count := bufferSnapshot(m)
		if _, err := checkpoint.Read(bytes.NewReader(data), int64(len(data)), m, nil); err != nil {
			gotBuffers, gotCount := bufferSnapshot(m)
			if !reflect.DeepEqual(snapshot(m), params) || !reflect.DeepEqual(gotBuffers, buffers) || gotCount != count {
				t.Fatalf("a failed load (%v) changed the model", err)
			}
		}
	})
}
