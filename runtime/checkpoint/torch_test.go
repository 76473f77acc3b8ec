package checkpoint_test

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
)

// tinyArch is tinyNet as an Arch for the generic engine, with ReLUs.
var tinyArch = runtime.Arch{
	Name:  "tiny",
	Input: runtime.Shape{Height: 4, Width: 4, Channels: 1},
	Layers: []runtime.LayerSpec{
		{Kind: runtime.Conv2D, Name: "conv1", Filters: 2, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, Padding: runtime.Same},
		{Kind: runtime.ReLU, Name: "relu1"},
		{Kind: runtime.MaxPool, Name: "pool1", KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2},
		{Kind: runtime.Flatten, Name: "flatten"},
		{Kind: runtime.Dense, Name: "fc1", Units: 3},
		{Kind: runtime.ReLU, Name: "relu2"},
		{Kind: runtime.Dense, Name: "fc2", Units: 2},
		{Kind: runtime.Softmax, Name: "softmax"},
	},
}

// withInShapes is a model whose dense weights carry the input shapes of
// tinyArch, whatever the engine under it sets (the values alias it).
type withInShapes struct {
	runtime.Model
	params []runtime.Param
}

func (m *withInShapes) Params() []runtime.Param { return m.params }

func genericTiny(t *testing.T) runtime.Model {
	t.Helper()
	g, err := runtime.NewGeneric(tinyArch)
	if err != nil {
		t.Fatalf("runtime.NewGeneric: %v", err)
	}
	params := append([]runtime.Param(nil), g.Params()...)
	params[2].InShape = runtime.Shape{Height: 2, Width: 2, Channels: 2}
	params[4].InShape = runtime.Shape{Height: 1, Width: 1, Channels: 3}
	return &withInShapes{Model: g, params: params}
}

// TestAgainstPyTorch writes a checkpoint that PyTorch loads with
// load_state_dict(strict=True) and whose logits it reproduces, and loads a
// state_dict that PyTorch wrote, reproducing its logits with the generic
// engine. It skips when /usr/bin/python3 cannot import torch.
func TestAgainstPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torch, numpy").Run(); err != nil {
		t.Skip("PyTorch is not installed for /usr/bin/python3")
	}
	dir := t.TempDir()
	model := genericTiny(t)
	for i, p := range model.Params() {
		for j := range p.Value {
			p.Value[j] = float32(math.Sin(float64(7*i+j))) / 2
		}
	}
	const samples = 3
	x := make([]float32, samples*16)
	for i := range x {
		x[i] = float32(math.Cos(float64(i))) * 2
	}
	goFile := filepath.Join(dir, "go.safetensors")
	if err := checkpoint.Save(goFile, model, nil, nil); err != nil {
		t.Fatal(err)
	}
	input, _ := json.Marshal(chunk(x, 16))
	inputFile := filepath.Join(dir, "input.json")
	if err := os.WriteFile(inputFile, input, 0o644); err != nil {
		t.Fatal(err)
	}
	torchFile, outFile := filepath.Join(dir, "torch.safetensors"), filepath.Join(dir, "out.json")
	cmd := exec.Command("/usr/bin/python3", filepath.Join("testdata", "torch_roundtrip.py"), goFile, inputFile, torchFile, outFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("torch_roundtrip.py: %v\n%s", err, out)
	}
	var result struct {
		GoLogits    [][]float64 `json:"go_logits"`
		TorchLogits [][]float64 `json:"torch_logits"`
		Network     string      `json:"network"`
	}
	raw, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &result); err != nil {
		t.Fatal(err)
	}
	if result.Network != "tiny" {
		t.Errorf("PyTorch read network name %q, want tiny", result.Network)
	}
	compareLogits(t, "PyTorch running cnngen's checkpoint", model, x, result.GoLogits)

	fromTorch := genericTiny(t)
	if _, err := checkpoint.Load(torchFile, fromTorch, nil); err != nil {
		t.Fatal(err)
	}
	compareLogits(t, "cnngen running PyTorch's state_dict", fromTorch, x, result.TorchLogits)
}

func chunk(x []float32, n int) [][]float32 {
	var out [][]float32
	for len(x) > 0 {
		out, x = append(out, x[:n]), x[n:]
	}
	return out
}

// compareLogits checks m's logits for x against PyTorch's within 1e-5.
func compareLogits(t *testing.T, what string, m runtime.Model, x []float32, want [][]float64) {
	t.Helper()
	n := len(x) / 16
	got := make([]float32, n*m.Classes())
	m.Forward(x, got)
	if len(want) != n {
		t.Fatalf("%s: %d rows of logits, want %d", what, len(want), n)
	}
	for i := range n {
		for k := range m.Classes() {
			if d := math.Abs(float64(got[i*m.Classes()+k]) - want[i][k]); d > 1e-5 {
				t.Errorf("%s: sample %d logit %d: cnngen %v, PyTorch %v", what, i, k, got[i*m.Classes()+k], want[i][k])
			}
		}
	}
}
