package torchparity

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint/safetensors"
)

// Tolerances, each relative to the largest magnitude of the golden tensor
// compared (see closeTo). The golden values are computed in float64, so these
// bound cnngen's float32 rounding. make_golden.py writes a golden file only
// when PyTorch's own float32 run keeps within half of each (it records how
// far it came in the metadata, torch_float32_deviation_*): keep the two in
// step.
const (
	// outputTol is for outputs, in evaluation mode, before and after the
	// steps. Tight enough to see a batch norm epsilon of 1e-5 for 1e-3.
	outputTol = 1e-5
	// lossTol is for the loss of each step, relative to the loss.
	lossTol = 1e-5
	// gradTol is for the gradients of the first step.
	gradTol = 5e-4
	// updateTol is for what the steps changed: final − initial parameters
	// and running statistics. Each step's gradient depends on the previous
	// steps' rounding, and batch norm amplifies it.
	updateTol = 1e-2
	// floorShare sets a floor under a tensor's scale: that share of the
	// largest magnitude among the tensors of its kind (all gradients, all
	// updates). A conv bias right before batch norm has a gradient of
	// exactly zero, which float32 only approximates, and a running mean
	// can move by nearly nothing.
	floorShare = 0.01
)

// golden is one golden file: its tensors by name and its metadata.
type golden struct {
	file    string
	meta    map[string]string
	tensors map[string]safetensors.TensorInfo
	data    []byte // the data section
}

// readGolden reads a golden file whole (they are small) and checks its
// header.
func readGolden(t *testing.T, file string) *golden {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := safetensors.ReadHeader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	g := &golden{file: file, meta: h.Metadata, tensors: map[string]safetensors.TensorInfo{}, data: raw[h.Size:]}
	for _, ti := range h.Tensors {
		g.tensors[ti.Name] = ti
	}
	return g
}

// has reports whether the golden holds the named tensor.
func (g *golden) has(name string) bool {
	_, ok := g.tensors[name]
	return ok
}

// floats returns a F32 or F16 tensor's values as float32, and its shape.
func (g *golden) floats(t *testing.T, name string) ([]float32, []int) {
	t.Helper()
	ti, ok := g.tensors[name]
	if !ok {
		t.Fatalf("%s: no tensor %s", g.file, name)
	}
	raw := g.data[ti.Begin:ti.End]
	v := make([]float32, ti.Len())
	switch ti.DType {
	case safetensors.F32:
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case "F16":
		for i := range v {
			v[i] = halfToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	default:
		t.Fatalf("%s: tensor %s is %s, want F32 or F16", g.file, name, ti.DType)
	}
	return v, ti.Shape
}

// ints returns an I64 tensor's values.
func (g *golden) ints(t *testing.T, name string) []int64 {
	t.Helper()
	ti, ok := g.tensors[name]
	if !ok || ti.DType != "I64" {
		t.Fatalf("%s: no I64 tensor %s", g.file, name)
	}
	raw := g.data[ti.Begin:ti.End]
	v := make([]int64, ti.Len())
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return v
}

// metaInt returns an integer from the golden's metadata.
func (g *golden) metaInt(t *testing.T, key string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(g.meta[key], 10, 64)
	if err != nil {
		t.Fatalf("%s: metadata %s = %q is not an integer", g.file, key, g.meta[key])
	}
	return v
}

// halfToFloat32 widens an IEEE 754 half-precision value, exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h & 0x3ff)
	switch exp {
	case 0: // zero or subnormal: frac·2⁻²⁴
		v := float32(frac) / (1 << 24)
		return math.Float32frombits(math.Float32bits(v) | sign)
	case 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// torchLayout returns the PyTorch shape of a parameter and, for each value
// in that layout, its index in cnngen's standard layout, as
// runtime/checkpoint converts them:
//
//	conv weight   [KH, KW, C/groups, F]  ↔  [F, C/groups, KH, KW]
//	dense weight  [In, Units]            ↔  [Units, In], In in CHW order
//	bias, batch norm weight and bias [N] ↔  [N]
func torchLayout(p runtime.ParamInfo) (shape []int, stdIndex []int, err error) {
	s := p.Shape
	stdIndex = make([]int, p.Size())
	switch len(s) {
	case 1:
		for k := range stdIndex {
			stdIndex[k] = k
		}
		return []int{s[0]}, stdIndex, nil
	case 2:
		in, units, hw := s[0], s[1], p.InShape
		if hw.Size() != in {
			return nil, nil, fmt.Errorf("dense weight %s %s: input shape %v does not hold its %d inputs", p.Name, p.ShapeString(), hw, in)
		}
		for u := range units {
			for c := range hw.Channels {
				for y := range hw.Height {
					for x := range hw.Width {
						chw := (c*hw.Height+y)*hw.Width + x
						hwc := (y*hw.Width+x)*hw.Channels + c
						stdIndex[u*in+chw] = hwc*units + u
					}
				}
			}
		}
		return []int{units, in}, stdIndex, nil
	case 4:
		kh, kw, cin, f := s[0], s[1], s[2], s[3]
		for o := range f {
			for c := range cin {
				for y := range kh {
					for x := range kw {
						stdIndex[((o*cin+c)*kh+y)*kw+x] = ((y*kw+x)*cin+c)*f + o
					}
				}
			}
		}
		return []int{f, cin, kh, kw}, stdIndex, nil
	}
	return nil, nil, fmt.Errorf("parameter %s has shape %s: want rank 1, 2 or 4", p.Name, p.ShapeString())
}

// toTorch returns standard-layout values in PyTorch's layout.
func toTorch(stdIndex []int, std []float32) []float32 {
	out := make([]float32, len(stdIndex))
	for k, at := range stdIndex {
		out[k] = std[at]
	}
	return out
}

// maxAbs is the largest magnitude in v.
func maxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}

// closeTo reports where got differs from want by more than tol·scale +
// slack, with scale the larger of want's largest magnitude and floor, or ""
// when it does not.
func closeTo(got, want []float32, tol, floor, slack float64) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d values, want %d", len(got), len(want))
	}
	scale := math.Max(maxAbs(want), floor)
	worst, at := 0.0, 0
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		if d > worst {
			worst, at = d, i
		}
	}
	if worst > tol*scale+slack {
		return fmt.Sprintf("differs by %.3g (%.3g of the scale %.3g, tolerance %g) at %d: got %g, want %g",
			worst, worst/scale, scale, tol, at, got[at], want[at])
	}
	return ""
}

// sub returns a − b element by element.
func sub(a, b []float32) []float32 {
	d := make([]float32, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
	}
	return d
}

// loadNetwork builds the network of the golden's description: an embedded
// example (examples/NAME) or a file of testdata.
func loadNetwork(t *testing.T, g *golden) *ir.Network {
	t.Helper()
	desc := g.meta["description"]
	var src []byte
	var err error
	if name, ok := strings.CutPrefix(desc, "examples/"); ok {
		src, err = examples.FS.ReadFile(name)
	} else {
		src, err = os.ReadFile(filepath.Join("testdata", path.Base(desc)))
	}
	if err != nil {
		t.Fatal(err)
	}
	n, err := ir.Load(desc, src)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestParity(t *testing.T) {
	files, err := filepath.Glob("testdata/*.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Fatalf("%d golden files in testdata, want 6 (run make_golden.py)", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".safetensors"), func(t *testing.T) {
			g := readGolden(t, file)
			if work := g.metaInt(t, "macs") * g.metaInt(t, "batch"); testing.Short() && work > shortMACs {
				t.Skipf("-short: %d MACs per pass is over %d", work, shortMACs)
			}
			checkParity(t, g)
		})
	}
}

// shortMACs bounds the forward pass (MACs per sample times the batch) of the
// models that -short runs: ResNet-8 takes about two seconds.
const shortMACs = 20_000_000

// checkParity builds the golden's network with the generic engine, gives it
// PyTorch's initial parameters and replays the golden run, comparing every
// recorded value.
func checkParity(t *testing.T, g *golden) {
	n := loadNetwork(t, g)

	// The description's counts against PyTorch's.
	totals := n.Totals()
	if want := g.metaInt(t, "params"); int64(totals.Params) != want {
		t.Errorf("%s: %d trainable parameters, PyTorch has %d", n.Name, totals.Params, want)
	}
	if want := g.metaInt(t, "macs"); totals.MACs != want {
		t.Errorf("%s: %d MACs per sample, PyTorch counts %d", n.Name, totals.MACs, want)
	}

	// Dropout draws other masks than PyTorch's: the golden runs it as the
	// identity.
	arch := n.Arch()
	for i := range arch.Layers {
		if arch.Layers[i].Kind == runtime.Dropout {
			arch.Layers[i].Rate = 0
		}
	}
	m, err := runtime.NewGeneric(arch)
	if err != nil {
		t.Fatalf("NewGeneric(%s): %v", n.Name, err)
	}

	// Parameters: the same names, PyTorch's shapes once converted; load the
	// initial values.
	params := m.Params()
	layouts := make([][]int, len(params))
	var goldenParams []string
	for name := range g.tensors {
		if rest, ok := strings.CutPrefix(name, "init/"); ok && !isBufferName(rest) {
			goldenParams = append(goldenParams, rest)
		}
	}
	if len(goldenParams) != len(params) {
		slices.Sort(goldenParams)
		t.Fatalf("%s has %d parameters, PyTorch %d: %s", n.Name, len(params), len(goldenParams), strings.Join(goldenParams, " "))
	}
	for i, p := range params {
		shape, index, err := torchLayout(p.ParamInfo)
		if err != nil {
			t.Fatal(err)
		}
		init, gotShape := g.floats(t, "init/"+p.Name)
		if !slices.Equal(shape, gotShape) {
			t.Fatalf("%s: PyTorch shape %v, cnngen's %s converts to %v", p.Name, gotShape, p.ShapeString(), shape)
		}
		for k, at := range index {
			p.Value[at] = init[k]
		}
		layouts[i] = index
	}

	// Buffers: the same names and sizes, initialised as PyTorch does.
	var buffers []runtime.Buffer
	if s, ok := runtime.Model(m).(runtime.Stateful); ok {
		buffers = s.Buffers()
	}
	checkBuffers(t, g, buffers, "init", nil, 0)
	values := int64(0)
	for _, b := range buffers {
		values += int64(len(b.Value))
	}
	if want := g.metaInt(t, "buffer_values"); values != want {
		t.Errorf("%s: %d running-statistic values, PyTorch has %d", n.Name, values, want)
	}
	initBuffers := make([][]float32, len(buffers))
	for i, b := range buffers {
		initBuffers[i] = slices.Clone(b.Value)
	}

	x, xShape := g.floats(t, "input")
	if len(xShape) != 4 || (runtime.Shape{Height: xShape[1], Width: xShape[2], Channels: xShape[3]}) != m.InputShape() {
		t.Fatalf("golden input %v, the network takes %v", xShape, m.InputShape())
	}
	batch := xShape[0]
	outputs := m.Classes()

	// Evaluation mode with the initial parameters and running statistics.
	out := make([]float32, batch*outputs)
	m.Forward(x, out)
	want, _ := g.floats(t, "eval_init")
	if msg := closeTo(out, want, outputTol, 0, 0); msg != "" {
		t.Errorf("eval-mode outputs before training: %s", msg)
	}

	// The steps: a training-mode Backward (batch statistics, running
	// statistics updated) and plain SGD.
	backward, scale := stepFunc(t, g, n, m, x, batch, outputs)
	opt, err := runtime.NewOptimizer(runtime.OptimizerConfig{Kind: runtime.SGD, LearningRate: parseFloat(t, g, "learning_rate")}, params)
	if err != nil {
		t.Fatal(err)
	}
	wantLoss, _ := g.floats(t, "loss")
	if int64(len(wantLoss)) != g.metaInt(t, "steps") {
		t.Fatalf("%d losses for %s steps", len(wantLoss), g.meta["steps"])
	}
	initParams := make([][]float32, len(params))
	for i, p := range params {
		initParams[i] = slices.Clone(p.Value)
	}
	for step, wl := range wantLoss {
		loss := backward() * scale
		if d := math.Abs(loss - float64(wl)); d > lossTol*math.Abs(float64(wl)) || math.IsNaN(loss) {
			t.Errorf("step %d: loss %.7g, PyTorch %.7g", step, loss, wl)
		}
		if step == 0 {
			checkGrads(t, g, params, layouts)
		}
		opt.Step(params)
	}

	// After the steps: what the parameters and running statistics moved by.
	steps := len(wantLoss)
	var changes []change
	for i, p := range params {
		if !g.has("final/" + p.Name) {
			continue // a large tensor, left to the outputs and losses
		}
		final, _ := g.floats(t, "final/"+p.Name)
		init, _ := g.floats(t, "init/"+p.Name)
		changes = append(changes, newChange(p.Name, p.Value, initParams[i], final, init, layouts[i], steps))
	}
	if len(changes) == 0 {
		t.Errorf("%s: no final parameters to compare", g.file)
	}
	checkChanges(t, changes)
	checkBuffers(t, g, buffers, "final", initBuffers, steps)

	m.Forward(x, out)
	want, _ = g.floats(t, "eval_final")
	if msg := closeTo(out, want, outputTol, 0, 0); msg != "" {
		t.Errorf("eval-mode outputs after the steps: %s", msg)
	}
}

// isBufferName reports whether a PyTorch state_dict name is a batch norm
// buffer rather than a parameter.
func isBufferName(name string) bool {
	for _, suffix := range []string{".running_mean", ".running_var", ".num_batches_tracked"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// parseFloat returns a number from the golden's metadata.
func parseFloat(t *testing.T, g *golden, key string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(g.meta[key], 64)
	if err != nil {
		t.Fatalf("%s: metadata %s = %q is not a number", g.file, key, g.meta[key])
	}
	return v
}

// stepFunc returns a function that runs one training-mode Backward on the
// golden batch, returning the summed loss, and the factor that turns that
// sum into the golden's loss (the reduction). The gradients it leaves are
// those of the golden's loss.
func stepFunc(t *testing.T, g *golden, n *ir.Network, m runtime.Model, x []float32, batch, outputs int) (func() float64, float64) {
	t.Helper()
	var scale float64
	switch g.meta["reduction"] {
	case "sum":
		scale = 1
	case "mean":
		scale = 1 / float64(batch)
		if g.meta["loss"] == "mse" {
			scale /= float64(outputs)
		}
	default:
		t.Fatalf("%s: unknown reduction %q", g.file, g.meta["reduction"])
	}
	switch g.meta["loss"] {
	case "cross_entropy":
		if n.Train.Loss != "" && n.Train.Loss != runtime.CrossEntropy {
			t.Fatalf("%s trains with %s, the golden with cross-entropy", n.Name, n.Train.Loss)
		}
		labels64 := g.ints(t, "labels")
		labels := make([]int32, len(labels64))
		for i, l := range labels64 {
			labels[i] = int32(l)
		}
		// The training-mode logits stay inside the engine; the number of
		// samples they classify correctly is the part Backward reports.
		logits, shape := g.floats(t, "logits")
		if !slices.Equal(shape, []int{batch, outputs}) {
			t.Fatalf("golden logits %v, want [%d %d]", shape, batch, outputs)
		}
		wantCorrect, clear := countCorrect(logits, labels, outputs)
		first := true
		return func() float64 {
			loss, correct := m.Backward(x, labels, float32(scale))
			if first && clear && correct != wantCorrect {
				t.Errorf("step 0: %d samples classified correctly in training mode, PyTorch's logits classify %d", correct, wantCorrect)
			}
			first = false
			return loss
		}, scale
	case "mse":
		if n.Train.Loss != runtime.SquaredError {
			t.Fatalf("%s trains with %q, the golden with the squared error", n.Name, n.Train.Loss)
		}
		r, ok := m.(runtime.Regressor)
		if !ok {
			t.Fatalf("%s ends without softmax but its engine is no runtime.Regressor", n.Name)
		}
		targets, _ := g.floats(t, "targets")
		if n.Train.Target == runtime.TargetInput && !slices.Equal(targets, x) {
			t.Fatalf("%s trains against its input, the golden's targets differ from it", n.Name)
		}
		return func() float64 { return r.BackwardSquaredError(x, targets, float32(scale)) }, scale
	}
	t.Fatalf("%s: unknown loss %q", g.file, g.meta["loss"])
	return nil, 0
}

// countCorrect returns how many rows of logits have their largest value at
// the label, and whether every row's largest value leads the next by enough
// (1e-4 of the largest magnitude) for float32 rounding not to change that.
func countCorrect(logits []float32, labels []int32, classes int) (correct int, clear bool) {
	margin := 1e-4 * maxAbs(logits)
	clear = true
	for i, label := range labels {
		row := logits[i*classes : (i+1)*classes]
		best := 0
		for k := range row {
			if row[k] > row[best] {
				best = k
			}
		}
		for k := range row {
			if k != best && float64(row[best]-row[k]) < margin {
				clear = false
			}
		}
		if best == int(label) {
			correct++
		}
	}
	return correct, clear
}

// checkGrads compares the gradients of the first step.
func checkGrads(t *testing.T, g *golden, params []runtime.Param, layouts [][]int) {
	t.Helper()
	wants := make([][]float32, len(params))
	largest := 0.0
	for i, p := range params {
		wants[i], _ = g.floats(t, "grad/"+p.Name)
		largest = math.Max(largest, maxAbs(wants[i]))
	}
	for i, p := range params {
		if msg := closeTo(toTorch(layouts[i], p.Grad), wants[i], gradTol, floorShare*largest, 0); msg != "" {
			t.Errorf("gradient of %s: %s", p.Name, msg)
		}
	}
}

// change is what the steps did to one tensor: the model's and the golden's
// final − initial values, in PyTorch's layout.
type change struct {
	name      string
	got, want []float32
	// slack is what storing the tensor in float32 after each step may
	// round away: a change far below a value's magnitude (a batch norm
	// scale near 1 moving by 1e-4) keeps only a few significant digits.
	slack float64
}

// newChange builds the change of a tensor from its model values (standard
// layout, index maps them to PyTorch's; nil when they already are) and the
// golden's.
func newChange(name string, final, init, wantFinal, wantInit []float32, index []int, steps int) change {
	if index != nil {
		final, init = toTorch(index, final), toTorch(index, init)
	}
	return change{
		name:  name,
		got:   sub(final, init),
		want:  sub(wantFinal, wantInit),
		slack: float64(steps) * 0x1p-23 * maxAbs(final),
	}
}

// checkChanges compares changes, each relative to its largest magnitude with
// a floor at floorShare of the largest among them.
func checkChanges(t *testing.T, changes []change) {
	t.Helper()
	largest := 0.0
	for _, c := range changes {
		largest = math.Max(largest, maxAbs(c.want))
	}
	for _, c := range changes {
		if msg := closeTo(c.got, c.want, updateTol, floorShare*largest, c.slack); msg != "" {
			t.Errorf("%s after the steps: its change %s", c.name, msg)
		}
	}
}

// checkBuffers compares the model's batch norm buffers with the golden's
// under prefix: the values themselves, or when init is given, what they
// moved by since then in steps steps.
func checkBuffers(t *testing.T, g *golden, buffers []runtime.Buffer, prefix string, init [][]float32, steps int) {
	t.Helper()
	var want []string
	for name := range g.tensors {
		if rest, ok := strings.CutPrefix(name, prefix+"/"); ok && isBufferName(rest) {
			want = append(want, rest)
		}
	}
	if len(want) != len(buffers) {
		slices.Sort(want)
		t.Fatalf("%d buffers, PyTorch has %d: %s", len(buffers), len(want), strings.Join(want, " "))
	}
	var changes []change
	for i, b := range buffers {
		name := prefix + "/" + b.Name
		if b.Count != nil {
			if w := g.ints(t, name); len(w) != 1 || *b.Count != w[0] {
				t.Errorf("%s is %d, PyTorch's %v", name, *b.Count, w)
			}
			continue
		}
		w, _ := g.floats(t, name)
		if init == nil {
			if msg := closeTo(b.Value, w, 0, 0, 0); msg != "" {
				t.Errorf("%s: %s", name, msg)
			}
			continue
		}
		w0, _ := g.floats(t, "init/"+b.Name)
		changes = append(changes, newChange(b.Name, b.Value, init[i], w, w0, nil, steps))
	}
	checkChanges(t, changes)
}

func TestHalfToFloat32(t *testing.T) {
	for _, tt := range []struct {
		bits uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x3555, 0.333251953125},
		{0x7bff, 65504},
		{0x0001, 1.0 / (1 << 24)},
		{0x8200, -1.0 / (1 << 15)},
		{0x0400, 1.0 / (1 << 14)},
		{0x7c00, float32(math.Inf(1))},
	} {
		if got := halfToFloat32(tt.bits); got != tt.want {
			t.Errorf("halfToFloat32(%#04x) = %g, want %g", tt.bits, got, tt.want)
		}
	}
}

func TestTorchLayout(t *testing.T) {
	// A dense weight after a 1x2x3 map: PyTorch's input k = c·2 + x is
	// cnngen's x·3 + c.
	p := runtime.ParamInfo{Name: "fc.weight", Shape: []int{6, 2}, InShape: runtime.Shape{Height: 1, Width: 2, Channels: 3}}
	shape, index, err := torchLayout(p)
	if err != nil {
		t.Fatal(err)
	}
	std := make([]float32, 12)
	for in := range 6 {
		for u := range 2 {
			std[in*2+u] = float32(100*u + in) // unit u, cnngen input in
		}
	}
	got := toTorch(index, std)
	want := []float32{0, 3, 1, 4, 2, 5, 100, 103, 101, 104, 102, 105}
	if !slices.Equal(shape, []int{2, 6}) || !slices.Equal(got, want) {
		t.Errorf("dense: shape %v values %v, want [2 6] %v", shape, got, want)
	}

	// A grouped conv weight [KH=1, KW=2, C/g=1, F=2] → [F, C/g, KH, KW].
	p = runtime.ParamInfo{Name: "dw.weight", Shape: []int{1, 2, 1, 2}}
	shape, index, err = torchLayout(p)
	if err != nil {
		t.Fatal(err)
	}
	got = toTorch(index, []float32{10, 11, 20, 21}) // (x, f): x=0 f=0, x=0 f=1, x=1 f=0, x=1 f=1
	if want := []float32{10, 20, 11, 21}; !slices.Equal(shape, []int{2, 1, 1, 2}) || !slices.Equal(got, want) {
		t.Errorf("conv: shape %v values %v, want [2 1 1 2] %v", shape, got, want)
	}
}
