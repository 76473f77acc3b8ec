package checkpoint_test

import (
	"bytes"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
)

// bnArch is a graph with grouped and depthwise convs without bias, batch
// norms, a residual add and dropout: the layers whose state a checkpoint
// must carry beyond the parameters.
var bnArch = runtime.Arch{
	Name:  "bngraph",
	Input: runtime.Shape{Height: 6, Width: 6, Channels: 2},
	Layers: []runtime.LayerSpec{
		{Kind: runtime.Conv2D, Name: "conv1", Filters: 4, Groups: 2, NoBias: true, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, Padding: runtime.Same,
			WeightInit: runtime.Init{Kind: runtime.InitNormal, Scale: 0.4}},
		{Kind: runtime.BatchNorm, Name: "bn1", Momentum: 0.1, Epsilon: 1e-5},
		{Kind: runtime.ReLU6, Name: "relu6_1"},
		{Kind: runtime.Conv2D, Name: "conv2", Filters: 4, Groups: 4, NoBias: true, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, Padding: runtime.Same,
			WeightInit: runtime.Init{Kind: runtime.InitNormal, Scale: 0.4}},
		{Kind: runtime.BatchNorm, Name: "bn2", Momentum: 0.1, Epsilon: 1e-5},
		{Kind: runtime.Add, Name: "add1", Inputs: []string{"relu6_1", "bn2"}},
		{Kind: runtime.GlobalAvgPool, Name: "gap1"},
		{Kind: runtime.Dropout, Name: "dropout1", Rate: 0.25},
		{Kind: runtime.Dense, Name: "fc1", Units: 3, WeightInit: runtime.Init{Kind: runtime.InitNormal, Scale: 0.5}},
		{Kind: runtime.Softmax, Name: "softmax"},
	},
}

func newBNGraph(t *testing.T) *runtime.Generic {
	t.Helper()
	g, err := runtime.NewGeneric(bnArch)
	if err != nil {
		t.Fatalf("runtime.NewGeneric: %v", err)
	}
	return g
}

// bnData is n samples of bnArch's input in 3 classes.
func bnData(n int) *runtime.Dataset {
	d := &runtime.Dataset{Shape: bnArch.Input, Classes: 3, X: make([]float32, n*72), Y: make([]int32, n)}
	for i := range d.X {
		d.X[i] = float32(math.Sin(float64(i) * 0.37))
	}
	for i := range d.Y {
		d.Y[i] = int32(i % 3)
	}
	return d
}

func TestGenericCheckpointLayout(t *testing.T) {
	g := newBNGraph(t)
	var file bytes.Buffer
	if err := checkpoint.Write(&file, g, nil, nil); err != nil {
		t.Fatal(err)
	}
	header, _ := splitFile(t, file.Bytes())
	for _, want := range []string{
		`"conv1.weight":{"dtype":"F32","shape":[4,1,3,3]`,
		`"conv2.weight":{"dtype":"F32","shape":[4,1,3,3]`,
		`"bn1.weight":{"dtype":"F32","shape":[4]`,
		`"bn1.bias":{"dtype":"F32","shape":[4]`,
		`"bn2.running_var":{"dtype":"F32","shape":[4]`,
		`"bn2.num_batches_tracked":{"dtype":"I64","shape":[]`,
		`"fc1.weight":{"dtype":"F32","shape":[3,4]`,
	} {
		if !strings.Contains(header, want) {
			t.Errorf("header lacks %s:\n%s", want, header)
		}
	}
	if strings.Contains(header, "conv1.bias") || strings.Contains(header, "conv2.bias") {
		t.Errorf("header has a bias for a conv without one:\n%s", header)
	}
}

// TestResumeWithBuffersAndDropout stops a run of a network with batch norm
// and dropout, saves it, loads it into a fresh model and resumes: the
// weights and running statistics end bit for bit as those of the run that
// never stopped, which needs the buffers in the checkpoint and the dropout
// masks of the steps resumed.
func TestResumeWithBuffersAndDropout(t *testing.T) {
	data := bnData(20)
	cfg := runtime.TrainConfig{
		Optimizer: runtime.OptimizerConfig{Kind: runtime.Adam, LearningRate: 0.01, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8},
		Reduction: runtime.Mean, BatchSize: 6, Steps: 8, Seed: 11,
	}
	whole := newBNGraph(t)
	if _, err := runtime.Train(whole, data, nil, cfg, runtime.TrainOptions{}); err != nil {
		t.Fatal(err)
	}

	first := newBNGraph(t)
	calls := 0
	res, err := runtime.Train(first, data, nil, cfg, runtime.TrainOptions{Stop: func() bool { calls++; return calls == 3 }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stopped || res.Steps != 3 {
		t.Fatalf("the first run took %d steps (stopped: %v), want 3", res.Steps, res.Stopped)
	}
	path := filepath.Join(t.TempDir(), "bn.safetensors")
	if err := checkpoint.Save(path, first, res.Optimizer, nil); err != nil {
		t.Fatal(err)
	}

	resumed := newBNGraph(t)
	opt, err := runtime.NewOptimizerForRun(cfg.Optimizer, resumed.Params(), cfg.Steps)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.Load(path, resumed, opt); err != nil {
		t.Fatal(err)
	}
	if got := *resumed.Buffers()[2].Count; got != 3 {
		t.Fatalf("bn1.num_batches_tracked loaded as %d, want 3", got)
	}
	if _, err := runtime.Train(resumed, data, nil, cfg, runtime.TrainOptions{Resume: true, Optimizer: opt}); err != nil {
		t.Fatal(err)
	}
	for i, p := range whole.Params() {
		if !reflect.DeepEqual(p.Value, resumed.Params()[i].Value) {
			t.Errorf("%s differs between the resumed run and the whole run", p.Name)
		}
	}
	for i, b := range whole.Buffers() {
		r := resumed.Buffers()[i]
		if b.Count != nil {
			if *b.Count != 8 || *r.Count != 8 {
				t.Errorf("%s: %d and %d, want 8", b.Name, *b.Count, *r.Count)
			}
			continue
		}
		if !reflect.DeepEqual(b.Value, r.Value) {
			t.Errorf("%s differs between the resumed run and the whole run: %v and %v", b.Name, r.Value, b.Value)
		}
	}
	// The running statistics moved, so the comparison above means something.
	if mean := whole.Buffers()[0].Value; reflect.DeepEqual(mean, make([]float32, len(mean))) {
		t.Error("bn1.running_mean is still zero after training")
	}
}
