package onnxparity_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/onnx"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint/safetensors"
)

// tolerance is the relative tolerance of the generated code against ONNX
// Runtime: |got − want| ≤ tolerance·|want| + floor (floor for values near
// 0), as gen/onnx's TestParity allows the generic engine.
const (
	tolerance = 1e-4
	floor     = 1e-6
)

// fixture is an imported ONNX model, its inputs (HWC) and ONNX Runtime's
// outputs.
type fixture struct {
	Name    string    // the fixture's base name: resnet8, dscnn_padfused
	Pkg     string    // the Go package of its generated code
	Weights string    // the checkpoint gen/onnx wrote
	N       int       // samples
	X       []float32 // N inputs, HWC
	want    []float32
	softmax bool
}

// TestGeneratedParity imports every ONNX fixture, generates its package,
// compiles one program with all of them in a temporary module (with a
// replace to this repository) and runs it: for each ISA that
// runtime.AvailableISAs lists (forced with runtime.ForceISA), it loads the
// imported weights (gen/onnx's checkpoint, through runtime/checkpoint) into
// the generated Model and computes the fixture's inputs with Model.Forward
// and Model.Logits (evaluation mode: batch norm with the running
// statistics) and with Frozen.Forward and Frozen.Logits (batch norm folded
// by Freeze; padded dense weights). Each output, after a softmax for the
// classifiers, must be within 1e-4 relative (1e-6 absolute near 0) of ONNX
// Runtime's; run with -v for the worst differences per fixture, path and
// ISA. CNNGEN_TEST_REQUIRE=avx2|avx512 fails the test when that path is
// not available.
func TestGeneratedParity(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles generated code")
	}
	start := time.Now()
	models, _ := filepath.Glob(filepath.Join("testdata", "*.onnx"))
	if len(models) == 0 {
		t.Fatal("no ONNX fixtures in testdata")
	}
	dir := t.TempDir()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	must(t, err)
	gomod := fmt.Sprintf("module onnxgen\n\ngo 1.26\n\nrequire github.com/cnngen/cnngen v0.0.0\n\nreplace github.com/cnngen/cnngen => %s\n", root)
	must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))

	var fixtures []*fixture
	for _, path := range models {
		base := strings.TrimSuffix(filepath.Base(path), ".onnx")
		data, err := onnx.ReadFile(path)
		must(t, err)
		m, err := onnx.Import(data, onnx.NetworkName(path))
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		model, key := base, "output_ort"
		if strings.HasSuffix(base, "_padfused") {
			model, key = strings.TrimSuffix(base, "_padfused"), "output_ort_padfused"
		}
		g := readGoldens(t, filepath.Join("testdata", model+".safetensors"))
		x, want := g["input"], g[key]
		if x == nil || want == nil {
			t.Fatalf("%s.safetensors lacks input or %s", model, key)
		}
		in := m.Network.Input
		f := &fixture{Name: base, Pkg: "p" + strings.ReplaceAll(base, "_", ""), N: len(x) / in.Size(), want: want,
			softmax: m.Network.Layers[len(m.Network.Layers)-1].Kind == runtime.Softmax}
		f.X = toHWC(x, f.N, in.Channels, in.Height, in.Width)
		var w bytes.Buffer
		must(t, m.WriteWeights(&w))
		f.Weights = filepath.Join(dir, f.Pkg+".safetensors")
		must(t, os.WriteFile(f.Weights, w.Bytes(), 0o644))
		files, err := emit.Generate(m.Network, emit.Options{Package: f.Pkg})
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		pdir := filepath.Join(dir, f.Pkg)
		must(t, os.MkdirAll(pdir, 0o755))
		for _, gf := range files {
			must(t, os.WriteFile(filepath.Join(pdir, gf.Name), gf.Contents, 0o644))
		}
		fixtures = append(fixtures, f)
	}
	var mainGo bytes.Buffer
	must(t, driver.Execute(&mainGo, fixtures))
	must(t, os.WriteFile(filepath.Join(dir, "main.go"), mainGo.Bytes(), 0o644))
	cases, err := json.Marshal(fixtures)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "cases.json"), cases, 0o644))
	generated := time.Since(start)

	// -trimpath: the build's actions do not depend on the temporary
	// directory, so that with a warm build cache the generated packages
	// that have not changed are not compiled again.
	bin := filepath.Join(dir, "onnxgen.exe")
	if out, err := goCmd(dir, "build", "-trimpath", "-o", bin, "."); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	built := time.Since(start)
	cmd := exec.Command(bin, filepath.Join(dir, "cases.json"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("test program: %v\n%s", err, stderr.String())
	}
	// results[fixture][isa][path] holds the outputs.
	var results map[string]map[string]map[string][]float32
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		t.Fatalf("test program output: %v\n%s", err, stdout.String())
	}
	isas := runtime.AvailableISAs()
	if req := os.Getenv("CNNGEN_TEST_REQUIRE"); req != "" && !slices.ContainsFunc(isas, func(i runtime.ISA) bool { return i.String() == req }) {
		t.Errorf("CNNGEN_TEST_REQUIRE=%s, but the available ISAs are %v", req, isas)
	}
	var table strings.Builder
	fmt.Fprintf(&table, "max |generated − ORT| (in parentheses: the largest |generated − ORT| / (%g·|ORT| + %g), the fraction of the tolerance used)\n%-24s %-15s", tolerance, floor, "fixture", "path")
	for _, isa := range isas {
		fmt.Fprintf(&table, " %-18s", isa)
	}
	table.WriteString("\n")
	for _, f := range fixtures {
		for _, path := range paths {
			fmt.Fprintf(&table, "%-24s %-15s", f.Name, path)
			for _, isa := range isas {
				got, ok := results[f.Name][isa.String()][path]
				if !ok {
					t.Errorf("%s %s %s: no result", f.Name, isa, path)
					continue
				}
				worst, used := compare(t, f, isa.String()+" "+path, got)
				fmt.Fprintf(&table, " %-18s", fmt.Sprintf("%.3g (%.3f)", worst, used))
			}
			table.WriteString("\n")
		}
	}
	t.Logf("%s", table.String())
	t.Logf("%d fixtures × %d ISAs (%v): generated in %v, built in %v, total %v", len(fixtures), len(isas), isas,
		generated.Round(time.Millisecond), (built - generated).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// paths are the generated code's paths the test program runs: the batch
// Forward and the one-sample Logits of the Model (evaluation mode) and of
// its Frozen copy.
var paths = []string{"Model.Forward", "Model.Logits", "Frozen.Forward", "Frozen.Logits"}

// compare checks the outputs got of fixture f (logits before the softmax of
// a classifier) against ONNX Runtime's and returns the largest absolute
// difference and the largest fraction of the tolerance used.
func compare(t *testing.T, f *fixture, what string, got []float32) (worst, used float64) {
	t.Helper()
	if len(got) != len(f.want) {
		t.Errorf("%s %s: %d outputs, want %d", f.Name, what, len(got), len(f.want))
		return math.NaN(), math.NaN()
	}
	out := make([]float64, len(got))
	for k, v := range got {
		out[k] = float64(v)
	}
	if f.softmax {
		k := len(out) / f.N
		for s := 0; s < f.N; s++ {
			softmax(out[s*k : (s+1)*k])
		}
	}
	bad := 0
	for k := range out {
		want := float64(f.want[k])
		d := math.Abs(out[k] - want)
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		worst = max(worst, d)
		used = max(used, d/(tolerance*math.Abs(want)+floor))
		if d > tolerance*math.Abs(want)+floor {
			if bad++; bad <= 3 {
				t.Errorf("%s %s: output %d: generated %g, ONNX Runtime %g", f.Name, what, k, out[k], want)
			}
		}
	}
	if bad > 3 {
		t.Errorf("%s %s: %d of %d outputs out of tolerance", f.Name, what, bad, len(out))
	}
	return worst, used
}

// softmax replaces v with its softmax.
func softmax(v []float64) {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = max(mx, x)
	}
	var s float64
	for k, x := range v {
		v[k] = math.Exp(x - mx)
		s += v[k]
	}
	for k := range v {
		v[k] /= s
	}
}

// toHWC converts n samples of x from NCHW (PyTorch's layout) to HWC
// (cnngen's), as gen/onnx's parity test does for the generic engine; a
// rank-2 input ([N, F]) is 1×1×F either way.
func toHWC(x []float32, n, c, h, w int) []float32 {
	hwc := make([]float32, len(x))
	for s := 0; s < n; s++ {
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				for xx := 0; xx < w; xx++ {
					hwc[s*c*h*w+(y*w+xx)*c+ch] = x[s*c*h*w+(ch*h+y)*w+xx]
				}
			}
		}
	}
	return hwc
}

// readGoldens reads the F32 tensors of a fixture's .safetensors file.
func readGoldens(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	h, err := safetensors.ReadHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string][]float32{}
	for _, ti := range h.Tensors {
		if ti.DType != safetensors.F32 {
			continue
		}
		v := make([]float32, ti.Len())
		if err := safetensors.ReadF32(bytes.NewReader(data[h.Size+ti.Begin:h.Size+ti.End]), v); err != nil {
			t.Fatalf("%s: %s: %v", path, ti.Name, err)
		}
		out[ti.Name] = v
	}
	return out
}

// goCmd runs the go command in dir and returns its combined output.
func goCmd(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// driver is main.go of the test program. It reads the fixtures (JSON: the
// checkpoint, the number of samples and the HWC inputs of each) from the
// file its argument names and writes to stdout, as JSON, the outputs of
// every path (see paths) per fixture and ISA.
var driver = template.Must(template.New("main.go").Parse(`// Code generated by internal/onnxparity's TestGeneratedParity. DO NOT EDIT.

package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
{{range .}}
	"onnxgen/{{.Pkg}}"{{end}}
)

type forwarder interface{ Forward(x, logits []float32) }

type network struct {
	new    func() runtime.Model
	freeze func(runtime.Model) forwarder
	// logits runs the one-sample Logits of a *Model or a *Frozen.
	logits func(m any, x, logits []float32)
}

var networks = map[string]network{ {{range .}}
	{{printf "%q" .Name}}: {
		new:    func() runtime.Model { return {{.Pkg}}.New() },
		freeze: func(m runtime.Model) forwarder { return m.(*{{.Pkg}}.Model).Freeze() },
		logits: func(m any, x, logits []float32) {
			in, out := (*[{{.Pkg}}.InputSize]float32)(x), (*[{{.Pkg}}.Classes]float32)(logits)
			switch m := m.(type) {
			case *{{.Pkg}}.Model:
				m.Logits(in, out)
			case *{{.Pkg}}.Frozen:
				m.Logits(in, out)
			}
		},
	},{{end}}
}

type fixture struct {
	Name    string
	Weights string
	N       int
	X       []float32
}

func main() {
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	var fixtures []fixture
	if err := json.Unmarshal(data, &fixtures); err != nil {
		fail(err)
	}
	results := map[string]map[string]map[string][]float32{}
	for _, f := range fixtures {
		nw, ok := networks[f.Name]
		if !ok {
			fail(fmt.Errorf("no network %s", f.Name))
		}
		results[f.Name] = map[string]map[string][]float32{}
		for _, isa := range runtime.AvailableISAs() {
			restore, err := runtime.ForceISA(isa)
			if err != nil {
				fail(err)
			}
			m := nw.new()
			if _, err := checkpoint.Load(f.Weights, m, nil); err != nil {
				fail(fmt.Errorf("%s: %v", f.Name, err))
			}
			if m.InputShape().Size()*f.N != len(f.X) {
				fail(fmt.Errorf("%s: %d inputs for %d samples of %v", f.Name, len(f.X), f.N, m.InputShape()))
			}
			in, k := m.InputShape().Size(), m.Classes()
			paths := map[string][]float32{}
			for _, p := range []string{"Model.Forward", "Model.Logits", "Frozen.Forward", "Frozen.Logits"} {
				paths[p] = make([]float32, f.N*k)
			}
			m.Forward(f.X, paths["Model.Forward"])
			fz := nw.freeze(m)
			fz.Forward(f.X, paths["Frozen.Forward"])
			for s := 0; s < f.N; s++ {
				nw.logits(m, f.X[s*in:(s+1)*in], paths["Model.Logits"][s*k:(s+1)*k])
				nw.logits(fz, f.X[s*in:(s+1)*in], paths["Frozen.Logits"][s*k:(s+1)*k])
			}
			if a := runtime.ActiveISA(); a != isa {
				fail(fmt.Errorf("%s: ran on %v, not %v", f.Name, a, isa))
			}
			results[f.Name][isa.String()] = paths
			restore()
		}
	}
	out, err := json.Marshal(results)
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
`))
