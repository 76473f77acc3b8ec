package checkpoint_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
	"github.com/cnngen/cnngen/runtime/checkpoint/safetensors"
)

func TestRoundTripIsBitExact(t *testing.T) {
	src := tinyNet(2)
	fill(src, -3)
	// Values whose bits a careless conversion would change.
	w := src.Params()[0].Value
	w[0] = float32(math.Copysign(0, -1))
	w[1] = math.Float32frombits(1) // the smallest subnormal
	w[2] = math.MaxFloat32
	srcOpt := adamFor(t, src, 3)

	path := filepath.Join(t.TempDir(), "tiny.safetensors")
	if err := checkpoint.Save(path, src, srcOpt, map[string]string{"step": "3", "note": "héllo <&>"}); err != nil {
		t.Fatal(err)
	}
	for _, via := range []string{"Load", "Read stream"} {
		t.Run(via, func(t *testing.T) {
			dst := tinyNet(2)
			dstOpt := adamFor(t, dst, 0)
			fill(dst, 100) // what the load must overwrite
			var meta map[string]string
			var err error
			if via == "Load" {
				meta, err = checkpoint.Load(path, dst, dstOpt)
			} else {
				file, _ := os.ReadFile(path)
				meta, err = checkpoint.Read(bytes.NewReader(file), -1, dst, dstOpt)
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range src.Params() {
				for j, v := range p.Value {
					if got := dst.Params()[i].Value[j]; math.Float32bits(got) != math.Float32bits(v) {
						t.Errorf("%s[%d] = %v, want %v", p.Name, j, got, v)
					}
				}
			}
			want, got := srcOpt.State(), dstOpt.State()
			if got.Kind != want.Kind || got.Steps != 3 || len(got.Buffers) != len(want.Buffers) {
				t.Fatalf("optimizer state %s after %d steps with %d buffers, want %s after 3 with %d",
					got.Kind, got.Steps, len(got.Buffers), want.Kind, len(want.Buffers))
			}
			for i, b := range want.Buffers {
				for j, v := range b.Values {
					if g := got.Buffers[i].Values[j]; math.Float32bits(g) != math.Float32bits(v) {
						t.Errorf("optimizer %s.%s[%d] = %v, want %v", b.Param, b.Slot, j, g, v)
					}
				}
			}
			for k, v := range map[string]string{
				"step": "3", "note": "héllo <&>", checkpoint.MetaNetwork: "tiny", checkpoint.MetaFormat: "pt",
				checkpoint.MetaOptimizer: "adam", checkpoint.MetaOptimizerSteps: "3",
			} {
				if meta[k] != v {
					t.Errorf("metadata %s = %q, want %q", k, meta[k], v)
				}
			}
			if len(meta[checkpoint.MetaShapesHash]) != 64 {
				t.Errorf("metadata %s = %q, want a SHA-256 in hex", checkpoint.MetaShapesHash, meta[checkpoint.MetaShapesHash])
			}
		})
	}
}

func TestSaveIsDeterministic(t *testing.T) {
	m := tinyNet(2)
	fill(m, 1)
	var a, b bytes.Buffer
	meta := map[string]string{"z": "1", "a": "2", "m": "3"}
	if err := checkpoint.Write(&a, m, nil, meta); err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.Write(&b, m, nil, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two writes of the same model differ")
	}
}

// TestPyTorchLayoutFixture loads a file laid out as PyTorch's state_dict of
// the tiny network (conv [out, in, kh, kw], linear [out, in] with fc1's
// inputs in (C, H, W) order) and checks where every value lands in the
// standard layout: conv HWIO, dense [In, Units] with inputs in HWC order.
func TestPyTorchLayoutFixture(t *testing.T) {
	const F, KH, KW, C, H, W, U1, U2 = 2, 3, 3, 1, 2, 2, 3, 2
	// The fixture's values: conv1.weight[f][c][y][x] = 1000 + 100f + 10c + y + x/10;
	// fc1.weight[u][c·H·W + h·W + w] = 5000 + 100u + 10c + h + w/10; others by index.
	convW := make([]float32, F*C*KH*KW)
	for f := range F {
		for c := range C {
			for y := range KH {
				for x := range KW {
					convW[((f*C+c)*KH+y)*KW+x] = 1000 + float32(100*f+10*c+y) + float32(x)/10
				}
			}
		}
	}
	fc1W := make([]float32, U1*F*H*W)
	for u := range U1 {
		for c := range F {
			for h := range H {
				for w := range W {
					fc1W[u*F*H*W+(c*H+h)*W+w] = 5000 + float32(100*u+10*c+h) + float32(w)/10
				}
			}
		}
	}
	fc2W := []float32{1, 2, 3, 4, 5, 6} // [out 2][in 3]
	file := rawFile([]rawTensor{
		{name: "conv1.bias", shape: "[2]", values: []float32{7, 8}},
		{name: "conv1.weight", shape: "[2, 1, 3, 3]", values: convW},
		{name: "fc1.bias", shape: "[3]", values: []float32{-1, -2, -3}},
		{name: "fc1.weight", shape: "[3, 8]", values: fc1W},
		{name: "fc2.bias", shape: "[2]", values: []float32{9, 10}},
		{name: "fc2.weight", shape: "[2, 3]", values: fc2W},
	})
	path := filepath.Join(t.TempDir(), "torch.safetensors")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	m := tinyNet(2)
	meta, err := checkpoint.Load(path, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if meta["format"] != "pt" {
		t.Errorf("metadata %v, want format pt", meta)
	}
	ps := m.Params()
	check := func(name string, got, want float32) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// conv1.weight in HWIO: [y][x][c][f].
	for y := range KH {
		for x := range KW {
			for c := range C {
				for f := range F {
					check("conv1.weight HWIO", ps[0].Value[((y*KW+x)*C+c)*F+f], 1000+float32(100*f+10*c+y)+float32(x)/10)
				}
			}
		}
	}
	check("conv1.bias[1]", ps[1].Value[1], 8)
	// fc1.weight as [In][Units] with In in HWC order: input (h, w, c) of
	// the 2x2x2 pooled map is row (h·W + w)·C + c.
	for h := range H {
		for w := range W {
			for c := range F {
				for u := range U1 {
					check("fc1.weight [HWC in][unit]", ps[2].Value[((h*W+w)*F+c)*U1+u], 5000+float32(100*u+10*c+h)+float32(w)/10)
				}
			}
		}
	}
	check("fc1.bias[2]", ps[3].Value[2], -3)
	// fc2 follows a dense layer: a plain transpose.
	for i := range 3 {
		for u := range U2 {
			check("fc2.weight [in][unit]", ps[4].Value[i*U2+u], fc2W[u*3+i])
		}
	}
	check("fc2.bias[0]", ps[5].Value[0], 9)

	// And back: saving the model writes the same tensors in PyTorch layout.
	var out bytes.Buffer
	if err := checkpoint.Write(&out, m, nil, nil); err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(out.Bytes())
	h, err := safetensors.ReadHeader(r, int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{"conv1.weight": convW, "fc1.weight": fc1W, "fc2.weight": fc2W, "conv1.bias": {7, 8}}
	for _, info := range h.Tensors {
		values := make([]float32, info.Len())
		if err := safetensors.ReadF32(r, values); err != nil {
			t.Fatal(err)
		}
		if w, ok := want[info.Name]; ok {
			for i := range w {
				if values[i] != w[i] {
					t.Errorf("saved %s[%d] = %v, want %v", info.Name, i, values[i], w[i])
				}
			}
		}
	}
}

func TestShapeMismatchNamesTensorAndShapes(t *testing.T) {
	src := tinyNet(2)
	fill(src, 0)
	var file bytes.Buffer
	if err := checkpoint.Write(&file, src, nil, nil); err != nil {
		t.Fatal(err)
	}
	dst := tinyNet(3)
	before := snapshot(dst)
	_, err := checkpoint.Read(bytes.NewReader(file.Bytes()), int64(file.Len()), dst, nil)
	want := "checkpoint: tensor conv1.weight: the checkpoint's shape is [2 1 3 3], the model's is [3 1 3 3] (PyTorch layout)"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
	assertUnchanged(t, dst, before)

	// Same tensor shapes, different flatten geometry: fc1 reading 8 inputs
	// as 1x1x8 (after a global pool, say) instead of 2x2x2.
	other := tinyNet(2)
	other.params[2].InShape = runtime.Shape{Height: 1, Width: 1, Channels: 8}
	_, err = checkpoint.Read(bytes.NewReader(file.Bytes()), int64(file.Len()), other, nil)
	if err == nil || !strings.Contains(err.Error(), "every tensor has the same shape (metadata shapes_sha256 differs)") {
		t.Fatalf("flatten geometry: error %v", err)
	}
}

func TestLoadRejectsOptimizerMismatch(t *testing.T) {
	m := tinyNet(2)
	var withAdam, without bytes.Buffer
	if err := checkpoint.Write(&withAdam, m, adamFor(t, m, 1), nil); err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.Write(&without, m, nil, nil); err != nil {
		t.Fatal(err)
	}
	momentum, err := runtime.NewOptimizer(runtime.OptimizerConfig{Kind: runtime.Momentum, LearningRate: 0.1, Momentum: 0.9}, m.Params())
	if err != nil {
		t.Fatal(err)
	}
	_, err = checkpoint.Read(bytes.NewReader(withAdam.Bytes()), -1, m, momentum)
	if err == nil || !strings.Contains(err.Error(), "the checkpoint's optimizer is adam, this run's is momentum") {
		t.Errorf("kind mismatch: error %v", err)
	}
	_, err = checkpoint.Read(bytes.NewReader(without.Bytes()), -1, m, momentum)
	if err == nil || !strings.Contains(err.Error(), "the checkpoint holds no optimizer state") {
		t.Errorf("no state: error %v", err)
	}
	// Weights only: the optimizer tensors are skipped.
	if _, err := checkpoint.Read(bytes.NewReader(withAdam.Bytes()), -1, m, nil); err != nil {
		t.Errorf("weights only: %v", err)
	}
}

func TestSaveRejects(t *testing.T) {
	m := tinyNet(2)
	m.params[2].Value[5] = float32(math.NaN())
	var out bytes.Buffer
	err := checkpoint.Write(&out, m, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "fc1.weight value 5 is NaN: refusing to save non-finite values") || out.Len() != 0 {
		t.Errorf("NaN weight: error %v, %d bytes written", err, out.Len())
	}
	m = tinyNet(2)
	err = checkpoint.Write(&out, m, nil, map[string]string{checkpoint.MetaNetwork: "x"})
	if err == nil || !strings.Contains(err.Error(), `metadata key "network" is reserved`) {
		t.Errorf("reserved key: error %v", err)
	}
	m.params[2].InShape = runtime.Shape{}
	err = checkpoint.Write(&out, m, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "dense weight fc1.weight [8 3]: its input shape 0x0x0 does not hold its 8 inputs (the engine must set ParamInfo.InShape)") {
		t.Errorf("missing InShape: error %v", err)
	}
}

// TestSaveOverExistingFailureKeepsOld saves a good checkpoint, then tries to
// save a model with a NaN over it: the old file stays, byte for byte, and no
// temporary file is left.
func TestSaveOverExistingFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	m := tinyNet(2)
	fill(m, 2)
	if err := checkpoint.Save(path, m, nil, nil); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)
	m.params[0].Value[0] = float32(math.Inf(1))
	if err := checkpoint.Save(path, m, nil, nil); err == nil {
		t.Fatal("saving an infinite weight succeeded")
	}
	assertOnlyFile(t, dir, path, old)
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("checkpoint mode %v (%v), want 0644", info.Mode(), err)
	}
}

func assertOnlyFile(t *testing.T, dir, path string, content []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("%s changed (%v)", path, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only %s", names, filepath.Base(path))
	}
}

func assertUnchanged(t *testing.T, m runtime.Model, before [][]float32) {
	t.Helper()
	for i, p := range m.Params() {
		for j, v := range p.Value {
			if math.Float32bits(v) != math.Float32bits(before[i][j]) {
				t.Fatalf("a failed load changed %s[%d] from %v to %v", p.Name, j, before[i][j], v)
			}
		}
	}
}

// TestGenericEngine saves the generic engine's own model and loads it into
// the fake one, once the engine sets ParamInfo.InShape (it skips until then).
func TestGenericEngine(t *testing.T) {
	g, err := runtime.NewGeneric(tinyArch)
	if err != nil {
		t.Skipf("runtime.NewGeneric: %v", err)
	}
	for _, p := range g.Params() {
		if len(p.Shape) == 2 && p.InShape.Size() == 0 {
			t.Skipf("runtime.NewGeneric does not set ParamInfo.InShape on %s yet", p.Name)
		}
	}
	fill(g, 1)
	var out bytes.Buffer
	if err := checkpoint.Write(&out, g, nil, nil); err != nil {
		t.Fatal(err)
	}
	// The generic engine's layout is the fake model's: the file loads there.
	fake := tinyNet(2)
	if _, err := checkpoint.Read(bytes.NewReader(out.Bytes()), -1, fake, nil); err != nil {
		t.Fatal(err)
	}
	for i, p := range g.Params() {
		for j, v := range p.Value {
			if fake.params[i].Value[j] != v {
				t.Fatalf("%s[%d]: generic %v, fake %v", p.Name, j, v, fake.params[i].Value[j])
			}
		}
	}
}

// digitsModel is the tutorial network's parameters (157,230 values).
func digitsModel() *fakeModel {
	return &fakeModel{
		name:  "digits",
		input: runtime.Shape{Height: 8, Width: 8, Channels: 1},
		params: []runtime.Param{
			param("conv1.weight", runtime.Shape{}, 3, 3, 1, 32),
			param("conv1.bias", runtime.Shape{}, 32),
			param("dense1.weight", runtime.Shape{Height: 4, Width: 4, Channels: 32}, 512, 300),
			param("dense1.bias", runtime.Shape{}, 300),
			param("dense2.weight", runtime.Shape{Height: 1, Width: 1, Channels: 300}, 300, 10),
			param("dense2.bias", runtime.Shape{}, 10),
		},
	}
}

// BenchmarkSaveLoad times an atomic save and a load of the digits network
// with Adam's state (three times the parameters).
func BenchmarkSaveLoad(b *testing.B) {
	m := digitsModel()
	fill(m, 0)
	opt := adamFor(b, m, 1)
	path := filepath.Join(b.TempDir(), "digits.safetensors")
	b.Run("save", func(b *testing.B) {
		for b.Loop() {
			if err := checkpoint.Save(path, m, opt, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			if _, err := checkpoint.Load(path, m, opt); err != nil {
				b.Fatal(err)
			}
		}
	})
}
