package onnx

import (
	"io/fs"
	"math"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
)

// exampleModel loads an example description and gives it initialised
// weights and, for its batch norms, non-trivial running statistics.
func exampleModel(t testing.TB, file string, seed uint64) (*ir.Network, *runtime.Generic) {
	t.Helper()
	data, err := fs.ReadFile(examples.FS, file)
	if err != nil {
		t.Fatal(err)
	}
	net, err := ir.Load(file, data)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		t.Fatal(err)
	}
	runtime.InitParams(eng.Params(), seed)
	r := runtime.NewRand(seed+1, runtime.StreamInit)
	for _, p := range eng.Params() {
		if strings.HasSuffix(p.Name, ".bias") {
			for i := range p.Value {
				p.Value[i] = float32(r.Float64()-0.5) * 0.2
			}
		}
	}
	for _, b := range eng.Buffers() {
		for i := range b.Value {
			if strings.HasSuffix(b.Name, ".running_var") {
				b.Value[i] = 0.5 + float32(r.Float64())
			} else {
				b.Value[i] = float32(r.Float64()-0.5) * 0.4
			}
		}
	}
	return net, eng
}

// sampleInputs gives n deterministic inputs in [-1, 1).
func sampleInputs(eng *runtime.Generic, n int, seed uint64) []float32 {
	r := runtime.NewRand(seed, runtime.StreamInit)
	x := make([]float32, n*eng.InputShape().Size())
	for i := range x {
		x[i] = float32(2*r.Float64() - 1)
	}
	return x
}

// maxRel is max |a−b| / max(|b|, 1e-3).
func maxRel(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		m = max(m, d/max(math.Abs(float64(b[i])), 1e-3))
	}
	return m
}

// TestExportRoundTrip exports every example network with initialised
// weights, imports the ONNX bytes back and compares the generic engine's
// outputs of the two.
func TestExportRoundTrip(t *testing.T) {
	files, err := fs.Glob(examples.FS, "*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(file, ".yaml"), func(t *testing.T) {
			net, eng := exampleModel(t, file, 7)
			data, err := Export(net, eng)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Import(data, "back")
			if err != nil {
				t.Fatalf("import of the export: %v", err)
			}
			const n = 4
			x := sampleInputs(eng, n, 3)
			want := make([]float32, n*eng.Classes())
			got := make([]float32, n*m.Engine.Classes())
			if len(got) != len(want) {
				t.Fatalf("%d outputs back, want %d", m.Engine.Classes(), eng.Classes())
			}
			eng.Forward(x, want)
			m.Engine.Forward(x, got)
			rel := maxRel(got, want)
			t.Logf("%s: %d bytes, %d layers imported back, max relative difference %.3g", file, len(data), len(m.Network.Layers), rel)
			if rel > 1e-5 {
				t.Errorf("max relative difference %.3g, want at most 1e-5", rel)
			}
		})
	}
}

// TestExportRefuses checks that a flattened H×W×C map that reaches the
// output, a batchnorm or a concat (which would see its values in another
// order in ONNX) is refused, naming the layer, and that a flattened map
// reaching a dense layer, or a flattened map of one channel or of 1×1, is
// exported and imported back.
func TestExportRefuses(t *testing.T) {
	for _, tc := range []struct {
		layers string
		want   string // "" when the export must succeed
	}{
		{"  - {kind: conv2d, filters: 2, kernel: 3, padding: same}\n  - {kind: flatten}\n  - {kind: relu}\n",
			"the output is a flattened map"},
		{"  - {kind: conv2d, filters: 2, kernel: 3, padding: same}\n  - {kind: flatten}\n  - {kind: batchnorm, name: bn}\n  - {kind: dense, units: 3}\n",
			"layer bn (batchnorm): its input is a flattened map"},
		{"  - {kind: conv2d, filters: 2, kernel: 3, padding: same, name: c}\n  - {kind: flatten, name: f1}\n  - {kind: flatten, name: f2, input: c}\n" +
			"  - {kind: concat, name: cat, inputs: [f1, f2]}\n  - {kind: dense, units: 3}\n",
			"layer cat (concat): input 1 is a flattened map"},
		{"  - {kind: conv2d, filters: 2, kernel: 3, padding: same}\n  - {kind: flatten}\n  - {kind: relu}\n  - {kind: dense, units: 3}\n  - {kind: softmax}\n", ""},
		{"  - {kind: conv2d, filters: 1, kernel: 3, padding: same}\n  - {kind: flatten}\n", ""},
		{"  - {kind: conv2d, filters: 3, kernel: 4, padding: valid}\n  - {kind: flatten}\n", ""},
		{"  - {kind: conv2d, filters: 3, kernel: 1, padding: valid, name: c1x1}\n  - {kind: dense, units: 2}\n", ""},
	} {
		input := "{height: 4, width: 4, channels: 1}"
		if strings.Contains(tc.layers, "c1x1") {
			input = "{height: 1, width: 1, channels: 5}" // [1, 5, 1, 1] for the conv
		}
		text := "name: t\ninput: " + input + "\nlayers:\n" + tc.layers +
			"train:\n  loss: {type: mse}\n  optimizer: {type: sgd, learning_rate: 0.01}\n  epochs: 1\n"
		if strings.Contains(tc.layers, "softmax") {
			text = strings.Replace(text, "  loss: {type: mse}\n", "", 1)
		}
		net, err := ir.Load("t.yaml", []byte(text))
		if err != nil {
			t.Fatalf("%s: %v", tc.layers, err)
		}
		eng, err := runtime.NewGeneric(net.Arch())
		if err != nil {
			t.Fatal(err)
		}
		runtime.InitParams(eng.Params(), 1)
		data, err := Export(net, eng)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.layers, err)
		case tc.want == "":
			if _, err := Import(data, "back"); err != nil {
				t.Errorf("%s: import of the export: %v", tc.layers, err)
			}
		case err == nil || !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: error %v, want %q", tc.layers, err, tc.want)
		}
	}
}
