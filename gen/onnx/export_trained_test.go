package onnx

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint/safetensors"
)

// exportTrainedDir holds, per model of exportTrainedModels (PyTorch-exported
// fixtures of internal/onnxparity/testdata), a safetensors file with
// "input" (NCHW), "output_cnngen" (the trained generic engine's eval-mode
// outputs, softmax applied for a classifier) and "output_ort" (ONNX
// Runtime's outputs of the exported model, added by ort/export.js), and in
// its metadata "onnx_sha256", the SHA-256 of the bytes that Export writes
// for the trained model. The ONNX files themselves are not committed
// (autoencoder's is over 1 MB): internal/onnxparity/export_goldens.sh
// writes them to a temporary directory for ONNX Runtime.
// CNNGEN_EXPORT_TRAINED_DIR names another directory (the script's).
func exportTrainedDir() string {
	if d := os.Getenv("CNNGEN_EXPORT_TRAINED_DIR"); d != "" {
		return d
	}
	return filepath.Join("testdata", "export_trained")
}

var exportTrainedModels = []string{"lenet5", "resnet8_padfused", "dscnn_padfused", "autoencoder", "mobilenet_vww_padfused"}

const (
	exportTrainedSteps   = 3
	exportTrainedBatch   = 4
	exportTrainedLR      = 0.01
	exportTrainedSamples = 4
)

// trainImported imports a PyTorch fixture, trains its generic engine for
// exportTrainedSteps SGD steps (batch norm in training mode) on seeded
// random inputs and labels (random targets for a network without softmax),
// exports it and returns the ONNX bytes, the model and cnngen's eval-mode
// outputs (softmax applied for a classifier) on exportTrainedSamples seeded
// inputs, with those inputs in NCHW.
func trainImported(t *testing.T, model string) (data []byte, m *Model, input, output []float32) {
	t.Helper()
	path := filepath.Join(parityDir(), model+".onnx")
	raw, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err = Import(raw, NetworkName(path))
	if err != nil {
		t.Fatal(err)
	}
	eng := m.Engine
	before, err := Export(m.Network, eng)
	if err != nil {
		t.Fatal(err)
	}
	arch := m.Network.Arch()
	classifier := arch.Layers[len(arch.Layers)-1].Kind == runtime.Softmax
	opt, err := runtime.NewOptimizer(runtime.OptimizerConfig{Kind: runtime.SGD, LearningRate: exportTrainedLR}, eng.Params())
	if err != nil {
		t.Fatal(err)
	}
	r := runtime.NewRand(11, runtime.StreamInit)
	k := eng.Classes()
	for step := range exportTrainedSteps {
		x := sampleInputs(eng, exportTrainedBatch, uint64(100+step))
		if classifier {
			labels := make([]int32, exportTrainedBatch)
			for i := range labels {
				labels[i] = int32(r.IntN(k))
			}
			eng.Backward(x, labels, 1/float32(exportTrainedBatch))
		} else {
			targets := make([]float32, exportTrainedBatch*k)
			for i := range targets {
				targets[i] = float32(2*r.Float64() - 1)
			}
			eng.BackwardSquaredError(x, targets, 1/float32(exportTrainedBatch*k))
		}
		opt.Step(eng.Params())
	}
	data, err = Export(m.Network, eng)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(before, data) {
		t.Fatal("training left the exported model unchanged")
	}
	x := sampleInputs(eng, exportTrainedSamples, 3)
	output = make([]float32, exportTrainedSamples*k)
	eng.Forward(x, output)
	if classifier {
		softmaxRows(output, k)
	}
	return data, m, hwcToNCHW(x, eng.InputShape(), exportTrainedSamples), output
}

// TestExportTrainedGoldens closes the loop import → train → export for the
// PyTorch-exported fixtures: it trains each imported model a few steps,
// exports it, and checks that
//   - importing the exported bytes back gives the trained engine's outputs
//     (within 1e-5 relative + 1e-6 absolute);
//   - the bytes hash to the committed onnx_sha256 (on amd64 only: training
//     rounds differently where Go fuses multiply-adds);
//   - cnngen's eval-mode outputs match ONNX Runtime's committed outputs of
//     the exported file within 1e-4 relative + 1e-6 absolute.
//
// CNNGEN_WRITE_EXPORT_GOLDENS=1 rewrites the safetensors files (without
// output_ort) and writes the ONNX files beside them for export.js; the
// script does so in a temporary CNNGEN_EXPORT_TRAINED_DIR and copies the
// safetensors files back. It takes about 1 s on one core.
func TestExportTrainedGoldens(t *testing.T) {
	if _, err := os.Stat(filepath.Join(parityDir(), "lenet5.onnx")); err != nil {
		t.Skipf("no ONNX fixtures in %s", parityDir())
	}
	write := os.Getenv("CNNGEN_WRITE_EXPORT_GOLDENS") == "1"
	dir := exportTrainedDir()
	for _, model := range exportTrainedModels {
		t.Run(model, func(t *testing.T) {
			data, m, input, output := trainImported(t, model)
			sum := sha256.Sum256(data)
			hash := hex.EncodeToString(sum[:])

			// The exported model, imported back, computes what cnngen does.
			back, err := Import(data, model)
			if err != nil {
				t.Fatalf("importing the export: %v", err)
			}
			s := m.Engine.InputShape()
			again := forward(t, back, exportTrainedSamples, s.Channels, s.Height, s.Width, input)
			last := back.Network.Layers[len(back.Network.Layers)-1]
			if last.Kind == runtime.Softmax {
				softmaxRows(again, back.Engine.Classes())
			}
			if len(again) != len(output) {
				t.Fatalf("re-imported export: %d outputs, want %d", len(again), len(output))
			}
			for i := range output {
				if d := math.Abs(float64(again[i] - output[i])); d > 1e-5*math.Abs(float64(output[i]))+1e-6 {
					t.Errorf("re-imported export: output %d is %g, cnngen %g", i, again[i], output[i])
					break
				}
			}

			stPath := filepath.Join(dir, model+".safetensors")
			if write {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, model+".onnx"), data, 0o644); err != nil {
					t.Fatal(err)
				}
				inShape := []int{exportTrainedSamples, s.Channels, s.Height, s.Width}
				if s.Height == 1 && s.Width == 1 {
					inShape = inShape[:2]
				}
				var b bytes.Buffer
				err := safetensors.Write(&b, []safetensors.Tensor{
					{Name: "input", Shape: inShape, Values: input},
					{Name: "output_cnngen", Shape: []int{exportTrainedSamples, m.Engine.Classes()}, Values: output},
				}, map[string]string{
					"model":       model + ".onnx (internal/onnxparity/testdata), imported, trained and exported",
					"training":    "3 SGD steps, lr 0.01, batch 4, batch norm in training mode, generic engine (TestExportTrainedGoldens)",
					"inputs":      "sampleInputs seed 3, NCHW",
					"onnx_sha256": hash,
					"goarch":      goruntime.GOARCH,
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(stPath, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			g, meta := readGoldensMeta(t, stPath)
			if goruntime.GOARCH == "amd64" && meta["onnx_sha256"] != hash {
				t.Errorf("Export writes %d bytes of SHA-256 %s, the golden's is %s (rewrite with internal/onnxparity/export_goldens.sh)", len(data), hash, meta["onnx_sha256"])
			}
			if !equalFloats(g["input"], input) {
				t.Errorf("%s: the committed input differs from sampleInputs'", stPath)
			}
			ort, ok := g["output_ort"]
			if !ok {
				t.Fatalf("%s has no output_ort: run internal/onnxparity/export_goldens.sh", stPath)
			}
			if len(ort) != len(output) {
				t.Fatalf("output_ort has %d values, want %d", len(ort), len(output))
			}
			worst, bad := 0.0, 0
			for i := range output {
				d := math.Abs(float64(output[i]) - float64(ort[i]))
				worst = max(worst, d)
				if d > 1e-4*math.Abs(float64(ort[i]))+1e-6 {
					if bad++; bad <= 3 {
						t.Errorf("output %d: cnngen %g, ONNX Runtime %g", i, output[i], ort[i])
					}
				}
			}
			t.Logf("%s: trained %d steps, %d-byte export, max |cnngen - ORT| %.3g", model, exportTrainedSteps, len(data), worst)
		})
	}
}

// readGoldensMeta is readGoldens with the file's metadata.
func readGoldensMeta(t *testing.T, path string) (map[string][]float32, map[string]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := safetensors.ReadHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return readGoldens(t, path), h.Metadata
}
