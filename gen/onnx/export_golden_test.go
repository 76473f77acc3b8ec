package onnx

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint/safetensors"
)

// exportGoldenDir holds, per model of exportGoldenModels, the ONNX model
// that Export writes for the example with exampleModel's weights (seed 7)
// and a safetensors file with "input" (NCHW, [N, C, H, W]),
// "output_cnngen" (the generic engine's outputs, softmax applied for a
// classifier) and "output_ort" (ONNX Runtime's, added by
// internal/onnxparity/ort/export.js). internal/onnxparity/export_goldens.sh
// rewrites them.
const exportGoldenDir = "testdata/export"

var exportGoldenModels = []string{"lenet5", "residual", "dscnn"}

const exportGoldenSamples = 4

// hwcToNCHW reorders n HWC samples of shape s to NCHW.
func hwcToNCHW(x []float32, s runtime.Shape, n int) []float32 {
	out := make([]float32, len(x))
	size := s.Size()
	for k := range n {
		for h := range s.Height {
			for w := range s.Width {
				for c := range s.Channels {
					out[k*size+(c*s.Height+h)*s.Width+w] = x[k*size+(h*s.Width+w)*s.Channels+c]
				}
			}
		}
	}
	return out
}

// softmaxRows applies softmax to each row of k values.
func softmaxRows(x []float32, k int) {
	for r := 0; r+k <= len(x); r += k {
		row := x[r : r+k]
		m := math.Inf(-1)
		for _, v := range row {
			m = max(m, float64(v))
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		for i, v := range row {
			row[i] = float32(math.Exp(float64(v)-m) / s)
		}
	}
}

// exportGolden exports a golden model and computes its inputs (NCHW) and
// cnngen's outputs (ONNX's layout).
func exportGolden(t *testing.T, model string) (data []byte, input, output []float32, eng *runtime.Generic) {
	net, eng := exampleModel(t, model+".yaml", 7)
	data, err := Export(net, eng)
	if err != nil {
		t.Fatal(err)
	}
	x := sampleInputs(eng, exportGoldenSamples, 3)
	out := make([]float32, exportGoldenSamples*eng.Classes())
	eng.Forward(x, out)
	arch := net.Arch()
	if arch.Layers[len(arch.Layers)-1].Kind == runtime.Softmax {
		softmaxRows(out, eng.Classes())
	}
	return data, hwcToNCHW(x, eng.InputShape(), exportGoldenSamples), out, eng
}

// TestExportGoldens re-exports the golden models with the same weights and
// checks the bytes match the committed ONNX files, and that cnngen's
// outputs match ONNX Runtime's committed outputs within 1e-4 relative (to max(|ORT|, 1e-6)).
// CNNGEN_WRITE_EXPORT_GOLDENS=1 rewrites the files instead (without
// output_ort; export.js adds it).
func TestExportGoldens(t *testing.T) {
	write := os.Getenv("CNNGEN_WRITE_EXPORT_GOLDENS") == "1"
	for _, model := range exportGoldenModels {
		t.Run(model, func(t *testing.T) {
			data, input, output, eng := exportGolden(t, model)
			onnxPath := filepath.Join(exportGoldenDir, model+".onnx")
			stPath := filepath.Join(exportGoldenDir, model+".safetensors")
			if write {
				if err := os.MkdirAll(exportGoldenDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(onnxPath, data, 0o644); err != nil {
					t.Fatal(err)
				}
				s := eng.InputShape()
				inShape := []int{exportGoldenSamples, s.Channels, s.Height, s.Width}
				if s.Height == 1 && s.Width == 1 {
					inShape = inShape[:2] // a flat input, [1, K] in the graph
				}
				var b bytes.Buffer
				err := safetensors.Write(&b, []safetensors.Tensor{
					{Name: "input", Shape: inShape, Values: input},
					{Name: "output_cnngen", Shape: []int{exportGoldenSamples, eng.Classes()}, Values: output},
				}, map[string]string{"model": model + ".onnx", "weights": "exampleModel seed 7", "inputs": "sampleInputs seed 3, NCHW"})
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(stPath, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			old, err := os.ReadFile(onnxPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(old, data) {
				t.Errorf("%s: Export writes %d bytes that differ from the committed %d (rewrite with internal/onnxparity/export_goldens.sh)", onnxPath, len(data), len(old))
			}
			g := readGoldens(t, stPath)
			ort, ok := g["output_ort"]
			if !ok {
				t.Fatalf("%s has no output_ort: run internal/onnxparity/export_goldens.sh", stPath)
			}
			if len(ort) != len(output) {
				t.Fatalf("output_ort has %d values, want %d", len(ort), len(output))
			}
			if !equalFloats(g["input"], input) {
				t.Errorf("%s: the committed input differs from sampleInputs'", stPath)
			}
			worst, abs := 0.0, 0.0
			for i := range output {
				d := math.Abs(float64(output[i]) - float64(ort[i]))
				abs = max(abs, d)
				worst = max(worst, d/max(math.Abs(float64(ort[i])), 1e-6))
			}
			t.Logf("%s: max |cnngen - ORT| %.3g, max relative %.3g (to max(|ORT|, 1e-6))", model, abs, worst)
			if worst > 1e-4 {
				t.Errorf("max relative difference %.3g from ONNX Runtime, want at most 1e-4", worst)
			}
		})
	}
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
