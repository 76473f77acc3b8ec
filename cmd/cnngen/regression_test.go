package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
)

// regressionNet is a small regression network built by hand, as gen/ir
// would build it from a description: 3 inputs → dense 8 → tanh → dense,
// with 2 outputs against target columns, or 3 reproducing the input (an
// autoencoder).
func regressionNet(autoencoder bool) *ir.Network {
	outputs, target := 2, runtime.TargetColumns
	if autoencoder {
		outputs, target = 3, runtime.TargetInput
	}
	dense := func(name string, units int) ir.Layer {
		return ir.Layer{LayerSpec: runtime.LayerSpec{Kind: runtime.Dense, Name: name, Units: units,
			WeightInit: runtime.Init{Kind: runtime.InitNormal, Scale: 0.5}}}
	}
	return &ir.Network{
		Name:  "reg",
		Input: runtime.Shape{Height: 1, Width: 1, Channels: 3},
		Layers: []ir.Layer{
			dense("fc1", 8),
			{LayerSpec: runtime.LayerSpec{Kind: runtime.Tanh, Name: "tanh1"}},
			dense("fc2", outputs),
		},
		Classes: outputs,
		Train: runtime.TrainConfig{
			Loss: runtime.SquaredError, Target: target, Reduction: runtime.Mean,
			Optimizer: runtime.OptimizerConfig{Kind: runtime.Adam, LearningRate: 0.03, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8},
			BatchSize: 8, Steps: 300, Seed: 3, TestFraction: 0.25,
		},
	}
}

// regressionCSV writes n samples of 3 values to a CSV file, each line
// followed by the targets (x0 + x1, x1·x2) unless autoencoder, and returns
// its path.
func regressionCSV(t *testing.T, n int, autoencoder bool) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		x := []float64{math.Sin(float64(i)), math.Cos(float64(3 * i)), float64(i%7)/7 - 0.5}
		fmt.Fprintf(&b, "%.4f,%.4f,%.4f", x[0], x[1], x[2])
		if !autoencoder {
			fmt.Fprintf(&b, ",%.4f,%.4f", (x[0]+x[1])/2, x[1]*x[2])
		}
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "reg.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// trainRegression runs the train command's run on net with the generic
// engine, saving a checkpoint, and returns its output and the checkpoint.
func trainRegression(t *testing.T, net *ir.Network, csv string) (stdout, stderr, ckpt string) {
	t.Helper()
	data, name, err := loadData(net, "reg.yaml", csv, 1)
	if err != nil {
		t.Fatal(err)
	}
	ckpt = filepath.Join(t.TempDir(), "reg.safetensors")
	var out, errOut bytes.Buffer
	job := trainJob{net: net, data: data, engine: "generic", workers: 1, stderr: &errOut}
	if err := job.runOnce(net.Train, trainFlags{logEvery: 100, save: ckpt}, name, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	return out.String(), errOut.String(), ckpt
}

// loadRegression loads the checkpoint at path into a fresh generic model
// of net, as loadTrained does for a description file.
func loadRegression(t *testing.T, net *ir.Network, path string) *trained {
	t.Helper()
	m, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		t.Fatal(err)
	}
	meta, err := checkpoint.Load(path, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &trained{net: net, file: "reg.yaml", model: m, path: path, meta: meta}
}

func TestTrainRegressionLogsCostAndTestLoss(t *testing.T) {
	net := regressionNet(false)
	csv := regressionCSV(t, 64, false)
	stdout, _, ckpt := trainRegression(t, net, csv)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if want := "reg: 48 training and 16 test samples from " + csv + ", seed 3, engine generic"; lines[0] != want {
		t.Errorf("line 1 = %q, want %q", lines[0], want)
	}
	if want := "adam lr 0.03, mse, loss averaged over shuffled batches of 8, 300 steps"; lines[1] != want {
		t.Errorf("line 2 = %q, want %q", lines[1], want)
	}
	var logged []string
	for _, l := range lines[2 : len(lines)-1] {
		if strings.Contains(l, "acc") || !strings.HasPrefix(l, "step ") || len(strings.Fields(l)) != 4 {
			t.Errorf("log line %q: want the step and the cost only", l)
		}
		logged = append(logged, strings.Fields(l)[1])
	}
	if strings.Join(logged, " ") != "0 100 200 299" {
		t.Errorf("logged steps %v", logged)
	}

	// The last line is the test loss, which the checkpoint reproduces.
	tr := loadRegression(t, net, ckpt)
	data, _, err := loadData(net, "reg.yaml", csv, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, test, err := data.Split(net.Train.TestFraction, net.Train.Seed)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.EvaluateRegression(tr.model, test)
	if err != nil {
		t.Fatal(err)
	}
	if want := "test " + s.String(); lines[len(lines)-1] != want {
		t.Errorf("last line %q, want %q", lines[len(lines)-1], want)
	}
	// The targets lie in [−1, 1]: a network that learnt nothing has an mse
	// near their variance (about 0.2 here).
	if mse := s.MeanSquaredError(); !(mse < 0.02) {
		t.Errorf("test mse %g after 300 steps", mse)
	}
}

func TestEvalRegressionReport(t *testing.T) {
	net := regressionNet(false)
	csv := regressionCSV(t, 40, false)
	_, _, ckpt := trainRegression(t, net, csv)
	tr := loadRegression(t, net, ckpt)
	data, _, err := tr.heldOut(csv, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	report, err := evalReport(tr, data, "the 40 samples of reg.csv")
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.EvaluateRegression(tr.model, data)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("reg: weights %s (network reg, adam after 300 steps)\n"+
		"evaluated on the 40 samples of reg.csv\n"+
		"loss %.6g (sum of squared errors over 40 samples × 2 outputs)\n"+
		"loss per sample %.6g\n"+
		"mse %.6g (mean over samples and outputs, as PyTorch's MSELoss)\n",
		ckpt, s.Loss, s.Loss/40, s.Loss/80)
	if report != want {
		t.Errorf("report\n%s\nwant\n%s", report, want)
	}
}

func TestEvalAutoencoderErrorDistribution(t *testing.T) {
	net := regressionNet(true)
	csv := regressionCSV(t, 40, true)
	_, _, ckpt := trainRegression(t, net, csv)
	tr := loadRegression(t, net, ckpt)
	data, _, err := tr.heldOut(csv, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !data.InputTargets || data.Outputs != 3 {
		t.Fatalf("autoencoder data %+v", data)
	}
	report, err := evalReport(tr, data, "reg.csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(report, "\n"), "\n")
	if len(lines) != 9 || lines[6] != "reconstruction error per sample (mean squared error over its 3 values)" {
		t.Fatalf("report:\n%s", report)
	}
	if got := strings.Fields(lines[7]); strings.Join(got, " ") != "mean min p50 p90 p99 max" {
		t.Errorf("quantile header %q", lines[7])
	}
	// Recompute the per-sample errors from the model's outputs.
	out := make([]float32, 40*3)
	tr.model.Forward(data.X, out)
	errs := make([]float64, 40)
	lo, hi, sum := math.Inf(1), 0.0, 0.0
	for i := range errs {
		for k := range 3 {
			d := float64(out[3*i+k]) - float64(data.X[3*i+k])
			errs[i] += d * d / 3
		}
		lo, hi, sum = min(lo, errs[i]), max(hi, errs[i]), sum+errs[i]
	}
	values := strings.Fields(lines[8])
	for i, want := range map[int]float64{0: sum / 40, 1: lo, 5: hi} {
		got, err := strconv.ParseFloat(values[i], 64)
		if err != nil || math.Abs(got-want) > 1e-3*math.Abs(want)+1e-12 {
			t.Errorf("value %d of %q = %v, want %.4g", i, lines[8], values[i], want)
		}
	}
	if lo >= hi {
		t.Errorf("every sample has the same error %g: the distribution tells nothing", lo)
	}
}

func TestPredictRegression(t *testing.T) {
	net := regressionNet(false)
	_, _, ckpt := trainRegression(t, net, regressionCSV(t, 40, false))
	tr := loadRegression(t, net, ckpt)
	for _, withTargets := range []bool{false, true} {
		csv := regressionCSV(t, 5, !withTargets)
		var out, errOut bytes.Buffer
		if err := predictRegression(tr, csv, 1, false, &out, &errOut); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 6 || strings.Join(strings.Fields(lines[0]), " ") != "sample y0 y1" {
			t.Fatalf("output:\n%s", out.String())
		}
		in, err := runtime.ReadRegressionInputs(strings.NewReader(readFile(t, csv)), csv, net.Input, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		y := make([]float32, 5*2)
		tr.model.Forward(in.X, y)
		for i, line := range lines[1:] {
			if want := fmt.Sprintf("%6d  %12.6g  %12.6g", i+1, y[2*i], y[2*i+1]); line != want {
				t.Errorf("row %q, want %q", line, want)
			}
		}
		var full bytes.Buffer
		if err := predictRegression(tr, csv, 1, true, &full, io.Discard); err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSuffix(full.String(), "\n"), "\n")[1:] {
			if want := fmt.Sprintf("%6d  %14s  %14s", i+1, fullFloat(y[2*i]), fullFloat(y[2*i+1])); line != want {
				t.Errorf("full precision: row %q, want %q", line, want)
			}
		}
		if !withTargets {
			if errOut.Len() != 0 {
				t.Errorf("stderr %q without targets", errOut.String())
			}
			continue
		}
		loss := 0.0
		for k, target := range in.Targets {
			d := float64(y[k]) - float64(target)
			loss += d * d
		}
		s := runtime.RegressionScore{Samples: 5, Outputs: 2, Loss: loss}
		if want := fmt.Sprintf("cnngen: %v against the targets of %s\n", s, csv); errOut.String() != want {
			t.Errorf("stderr %q, want %q", errOut.String(), want)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRegressionDataErrors(t *testing.T) {
	net := regressionNet(false)
	if _, _, err := loadData(net, "reg.yaml", "", 1); err == nil || err.Error() !=
		"reg.yaml: network reg is a regression network (loss mse): give -data CSV, 3 values per line (1x1x3 in HWC order), then 2 targets" {
		t.Errorf("no -data: error %v", err)
	}
	csv := regressionCSV(t, 3, true) // no target columns
	if _, _, err := loadData(net, "reg.yaml", csv, 1); err == nil || err.Error() != csv+":1: 3 columns, want 5 (3 values for 1x1x3, then 2 targets)" {
		t.Errorf("missing targets: error %v", err)
	}
}

// regressionYAML describes regressionNet(false).
const regressionYAML = `name: reg
input: {height: 1, width: 1, channels: 3}
layers:
  - {kind: dense, units: 8, init: "normal(0.5)"}
  - {kind: tanh}
  - {kind: dense, units: 2, init: "normal(0.5)"}
train:
  loss: {type: mse, reduction: mean}
  optimizer: {type: adam, learning_rate: 0.03}
  batch: 8
  steps: 300
  seed: 3
  test_fraction: 0.25
`

// TestRegressionCommands runs train, eval and predict on a regression
// description with the generic engine. It needs gen/ir to accept regression
// descriptions, and skips until it does.
func TestRegressionCommands(t *testing.T) {
	dir := t.TempDir()
	desc := filepath.Join(dir, "reg.yaml")
	if err := os.WriteFile(desc, []byte(regressionYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ir.Load(desc, []byte(regressionYAML)); err != nil {
		t.Skipf("gen/ir does not accept regression descriptions yet: %v", err)
	}
	csv := regressionCSV(t, 64, false)
	ckpt := filepath.Join(dir, "reg.safetensors")
	code, stdout, stderr := cli("train", "-engine", "generic", "-data", csv, "-save", ckpt, desc)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "acc") || !strings.Contains(stdout, "\ntest loss ") {
		t.Errorf("train output:\n%s", stdout)
	}
	code, stdout, stderr = cli("eval", "-load", ckpt, "-data", csv, desc)
	if code != 0 || !strings.Contains(stdout, "\nmse ") {
		t.Errorf("eval: exit %d: %s%s", code, stdout, stderr)
	}
	code, stdout, stderr = cli("predict", "-load", ckpt, "-data", csv, desc)
	if code != 0 || len(strings.Split(stdout, "\n")) != 66 || !strings.Contains(stderr, "against the targets of") {
		t.Errorf("predict: exit %d: %s%s", code, stdout, stderr)
	}
	if code, _, stderr = cli("predict", "-load", ckpt, "-data", csv, "-probs", desc); code != 2 || !strings.Contains(stderr, "-probs applies only to a classifier") {
		t.Errorf("predict -probs: exit %d: %s", code, stderr)
	}

	// An autoencoder with a batch norm: its running statistics go through
	// the checkpoint, and eval shows the reconstruction error distribution.
	aeYAML := strings.NewReplacer(
		"name: reg", "name: ae",
		"  - {kind: tanh}\n", "  - {kind: batchnorm}\n  - {kind: tanh}\n",
		"units: 2,", "units: 3,",
		"reduction: mean}", "reduction: mean, target: input}",
	).Replace(regressionYAML)
	aeDesc := filepath.Join(dir, "ae.yaml")
	if err := os.WriteFile(aeDesc, []byte(aeYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	aeCSV := regressionCSV(t, 64, true)
	aeCkpt := filepath.Join(dir, "ae.safetensors")
	if code, stdout, stderr = cli("train", "-engine", "generic", "-data", aeCSV, "-save", aeCkpt, aeDesc); code != 0 || !strings.Contains(stdout, "\ntest loss ") {
		t.Fatalf("train the autoencoder: exit %d: %s%s", code, stdout, stderr)
	}
	code, stdout, stderr = cli("eval", "-load", aeCkpt, "-data", aeCSV, aeDesc)
	if code != 0 || !strings.Contains(stdout, "reconstruction error per sample (mean squared error over its 3 values)") {
		t.Errorf("eval the autoencoder: exit %d: %s%s", code, stdout, stderr)
	}
	code, _, stderr = cli("predict", "-load", aeCkpt, "-data", aeCSV, aeDesc)
	if code != 0 || !strings.Contains(stderr, "against the inputs of") {
		t.Errorf("predict with the autoencoder: exit %d: %s", code, stderr)
	}
}
