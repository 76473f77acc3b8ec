package onnx

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint/safetensors"
)

// parityDir is where internal/onnxparity keeps its fixtures: ONNX models
// exported from PyTorch with ONNX Runtime's outputs (see its README).
// CNNGEN_ONNXPARITY_DIR names another copy.
func parityDir() string {
	if d := os.Getenv("CNNGEN_ONNXPARITY_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "internal", "onnxparity", "testdata")
}

// readGoldens reads the F32 tensors of a fixture's .safetensors file.
func readGoldens(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(data)
	h, err := safetensors.ReadHeader(r, int64(len(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string][]float32{}
	for _, ti := range h.Tensors {
		if ti.DType != safetensors.F32 {
			continue
		}
		v := make([]float32, ti.Len())
		sec := bytes.NewReader(data[h.Size+ti.Begin : h.Size+ti.End])
		if err := safetensors.ReadF32(sec, v); err != nil {
			t.Fatalf("%s: %s: %v", path, ti.Name, err)
		}
		out[ti.Name] = v
	}
	return out
}

// TestParity imports each fixture model and compares the generic engine's
// outputs on the fixture's inputs with ONNX Runtime's, within 1e-4
// relative (1e-6 absolute for values near 0): the models as exported
// (with Pad nodes and their constant sub-graphs) and the _padfused
// variants.
func TestParity(t *testing.T) {
	models, _ := filepath.Glob(filepath.Join(parityDir(), "*.onnx"))
	if len(models) == 0 {
		t.Skipf("no ONNX fixtures in %s", parityDir())
	}
	for _, path := range models {
		base := strings.TrimSuffix(filepath.Base(path), ".onnx")
		t.Run(base, func(t *testing.T) {
			data, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Import(data, NetworkName(path))
			if err != nil {
				t.Fatal(err)
			}
			model, key := base, "output_ort"
			if strings.HasSuffix(base, "_padfused") {
				model, key = strings.TrimSuffix(base, "_padfused"), "output_ort_padfused"
			}
			g := readGoldens(t, filepath.Join(filepath.Dir(path), model+".safetensors"))
			x, want := g["input"], g[key]
			if x == nil || want == nil {
				t.Fatalf("%s.safetensors lacks input or %s", model, key)
			}
			in := m.Engine.InputShape()
			n := len(x) / in.Size()
			out := forward(t, m, n, in.Channels, in.Height, in.Width, x)
			last := m.Network.Layers[len(m.Network.Layers)-1]
			if last.Kind == runtime.Softmax {
				k := len(out) / n
				for s := 0; s < n; s++ {
					softmax(out[s*k : (s+1)*k])
				}
			}
			if len(out) != len(want) {
				t.Fatalf("%d outputs, want %d", len(out), len(want))
			}
			worst := 0.0
			for k := range out {
				d := math.Abs(float64(out[k] - want[k]))
				worst = max(worst, d)
				if d > 1e-4*math.Abs(float64(want[k]))+1e-6 {
					t.Errorf("output %d: cnngen %g, ONNX Runtime %g", k, out[k], want[k])
				}
			}
			t.Logf("%d layers, max |cnngen - ORT| = %.3g", len(m.Network.Layers), worst)
		})
	}
}

// softmax replaces v with its softmax.
func softmax(v []float32) {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = max(mx, float64(x))
	}
	var s float64
	for k, x := range v {
		e := math.Exp(float64(x) - mx)
		v[k] = float32(e)
		s += e
	}
	for k := range v {
		v[k] = float32(float64(v[k]) / s)
	}
}
