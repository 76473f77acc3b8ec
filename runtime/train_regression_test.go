package runtime

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// linearRegressor is linearModel trained against real-valued targets:
// outputs = x·W + b. It records each step's scale, targets and dropout step.
type linearRegressor struct {
	*linearModel
	scales    []float32
	inputs    [][]float32 // a copy of each step's inputs
	targets   [][]float32 // a copy of each step's targets
	aliased   []bool      // whether the targets were the inputs' memory
	steps     []uint64    // the dropout steps set, one per SetDropoutStep
	seed      uint64
	infLossAt int
	quiet     bool // record nothing (for counting allocations)
}

func newLinearRegressor(in Shape, outputs int) *linearRegressor {
	return &linearRegressor{linearModel: newLinearModel(in, outputs), infLossAt: -1}
}

func (m *linearRegressor) SetDropoutStep(seed, step uint64) {
	m.seed = seed
	if !m.quiet {
		m.steps = append(m.steps, step)
	}
}

func (m *linearRegressor) BackwardSquaredError(x, targets []float32, scale float32) float64 {
	n, k := m.in.Size(), m.classes
	if !m.quiet {
		m.scales = append(m.scales, scale)
		m.inputs = append(m.inputs, append([]float32(nil), x...))
		m.targets = append(m.targets, append([]float32(nil), targets...))
		m.aliased = append(m.aliased, len(x) > 0 && &x[0] == &targets[0])
	}
	clear(m.gw)
	clear(m.gb)
	loss := 0.0
	for s := range len(x) / n {
		xs := x[s*n : (s+1)*n]
		m.forward1(xs, m.logits)
		for c, y := range m.logits {
			diff := y - targets[s*k+c]
			loss += float64(diff) * float64(diff)
			g := 2 * diff * scale
			m.gb[c] += g
			for i, v := range xs {
				m.gw[i*k+c] += v * g
			}
		}
	}
	if m.step == m.infLossAt {
		loss = math.Inf(1)
	}
	m.step++
	return loss
}

// line returns n samples of 2 values with 2 targets each, an exact linear
// function of them: t = (2·x0 − x1 + 0.5, x1·10); target 1 identifies the
// sample (x1 is i/n).
func line(n int) *Dataset {
	d := &Dataset{Shape: Shape{1, 2, 1}, X: make([]float32, 2*n), Outputs: 2, Targets: make([]float32, 2*n)}
	for i := range n {
		x0, x1 := float32(i%5)/5-0.4, float32(i)/float32(n)
		d.X[2*i], d.X[2*i+1] = x0, x1
		d.Targets[2*i], d.Targets[2*i+1] = 2*x0-x1+0.5, 10*x1
	}
	return d
}

func mseConfig(steps, batch int, r Reduction) TrainConfig {
	cfg := sgdConfig(steps, batch)
	cfg.Loss, cfg.Reduction = SquaredError, r
	return cfg
}

func TestTrainRegressionLearns(t *testing.T) {
	data := line(40)
	m := newLinearRegressor(data.Shape, 2)
	var logs []StepLog
	cfg := mseConfig(300, 8, Mean)
	cfg.Optimizer.LearningRate = 0.5
	res, err := Train(m, data, data, cfg, TrainOptions{Log: func(s StepLog) { logs = append(logs, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.TestError.Samples != 40 || res.Test.Total != 0 {
		t.Fatalf("scores %+v and %+v: want the regression one only", res.TestError, res.Test)
	}
	if mse := res.TestError.MeanSquaredError(); !(mse < 1e-3) {
		t.Errorf("test mse %g after training on an exact linear function, want < 1e-3", mse)
	}
	first := logs[0]
	if !first.Regression || first.Correct != 0 || first.Samples != 8 {
		t.Errorf("first log entry %+v", first)
	}
	// Cost per sample: the batch's summed squared error over both outputs,
	// divided by its samples; the weights start near 0, so about Σt²/n.
	if first.Cost <= 0 {
		t.Errorf("first cost %g", first.Cost)
	}
	if s := first.String(); strings.Contains(s, "acc") || !strings.HasPrefix(s, "step    0  cost/sample ") {
		t.Errorf("log line %q", s)
	}
}

func TestTrainRegressionScaleAndTargets(t *testing.T) {
	data := line(8)
	for _, tc := range []struct {
		r    Reduction
		want []float32
	}{
		// Batches of 3, 3 and 2 samples with 2 outputs each.
		{Sum, []float32{1, 1, 1}},
		{Mean, []float32{1.0 / 6, 1.0 / 6, 1.0 / 4}},
	} {
		m := newLinearRegressor(data.Shape, 2)
		if _, err := Train(m, data, nil, mseConfig(3, 3, tc.r), TrainOptions{}); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.scales, tc.want) {
			t.Errorf("%v: scales %v, want %v", tc.r, m.scales, tc.want)
		}
		// Each batch's targets are its samples' own (target 1 is 10·x1 =
		// 10·i/8), and every sample comes once per epoch.
		seen := map[float32]bool{}
		for _, targets := range m.targets {
			for s := 0; s < len(targets); s += 2 {
				seen[targets[s+1]] = true
			}
		}
		if len(seen) != 8 {
			t.Errorf("%v: the epoch's batches hold the targets of %d samples, want 8", tc.r, len(seen))
		}
	}
	// The targets of each gathered sample are its own.
	m := newLinearRegressor(data.Shape, 2)
	if _, err := Train(m, data, nil, mseConfig(2, 3, Sum), TrainOptions{}); err != nil {
		t.Fatal(err)
	}
	for step, x := range m.inputs {
		for s := 0; s < len(x); s += 2 {
			x0, x1 := x[s], x[s+1]
			if got := m.targets[step][s : s+2]; got[0] != 2*x0-x1+0.5 || got[1] != 10*x1 {
				t.Errorf("step %d, sample %d: targets %v for inputs (%g, %g)", step, s/2, got, x0, x1)
			}
		}
	}
}

func TestTrainAutoencoderTargetsAreInputs(t *testing.T) {
	d, err := ReadRegressionCSV(strings.NewReader("1,2\n3,4\n5,6\n7,8\n9,10\n"), "ae.csv", Shape{1, 2, 1}, 2, TargetInput, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{0, 2} {
		m := newLinearRegressor(d.Shape, 2)
		if _, err := Train(m, d, nil, mseConfig(3, batch, Mean), TrainOptions{}); err != nil {
			t.Fatal(err)
		}
		for step := range m.inputs {
			if !m.aliased[step] || !reflect.DeepEqual(m.inputs[step], m.targets[step]) {
				t.Errorf("batch size %d, step %d: targets %v for inputs %v (same memory: %v)",
					batch, step, m.targets[step], m.inputs[step], m.aliased[step])
			}
		}
	}
}

func TestTrainSetsDropoutStep(t *testing.T) {
	data := line(10)
	cfg := mseConfig(6, 4, Sum)
	cfg.Seed = 77
	m := newLinearRegressor(data.Shape, 2)
	if _, err := Train(m, data, nil, cfg, TrainOptions{}); err != nil {
		t.Fatal(err)
	}
	if m.seed != 77 || !reflect.DeepEqual(m.steps, []uint64{0, 1, 2, 3, 4, 5}) {
		t.Errorf("seed %d, steps %v: want 77 and 0..5", m.seed, m.steps)
	}
	if len(m.steps) != len(m.scales) {
		t.Errorf("%d dropout steps for %d backward passes", len(m.steps), len(m.scales))
	}

	// A resumed run continues with the steps of the run it continues.
	first := newLinearRegressor(data.Shape, 2)
	stop := 0
	res, err := Train(first, data, nil, cfg, TrainOptions{Stop: func() bool { stop++; return stop == 4 }})
	if err != nil {
		t.Fatal(err)
	}
	resumed := newLinearRegressor(data.Shape, 2)
	copy(resumed.w, first.w)
	copy(resumed.b, first.b)
	if _, err := Train(resumed, data, nil, cfg, TrainOptions{Resume: true, Optimizer: res.Optimizer}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(resumed.steps, []uint64{4, 5}) {
		t.Errorf("resumed run's dropout steps %v, want [4 5]", resumed.steps)
	}
	if !reflect.DeepEqual(resumed.w, m.w) || !reflect.DeepEqual(resumed.b, m.b) {
		t.Errorf("resumed run's weights %v %v differ from the uninterrupted run's %v %v", resumed.w, resumed.b, m.w, m.b)
	}
}

func TestTrainRegressionErrors(t *testing.T) {
	data := line(4)
	if _, err := Train(newLinearModel(data.Shape, 2), data, nil, mseConfig(1, 0, Sum), TrainOptions{}); err == nil ||
		!strings.Contains(err.Error(), "network linear cannot be trained with the mse loss") {
		t.Errorf("a model that is no Regressor: got error %v", err)
	}
	if _, err := Train(newLinearRegressor(data.Shape, 2), blobs(4), nil, mseConfig(1, 0, Sum), TrainOptions{}); err == nil ||
		err.Error() != "training data: the mse loss needs real-valued targets, the data has class labels" {
		t.Errorf("labelled data for mse: got error %v", err)
	}
	if _, err := Train(newLinearRegressor(data.Shape, 2), data, nil, sgdConfig(1, 0), TrainOptions{}); err == nil ||
		err.Error() != "training data: the softmax_cross_entropy loss needs class labels, the data has real-valued targets" {
		t.Errorf("targets for cross-entropy: got error %v", err)
	}
	if _, err := Train(newLinearRegressor(data.Shape, 3), data, nil, mseConfig(1, 0, Sum), TrainOptions{}); err == nil ||
		!strings.Contains(err.Error(), "with 2 targets per sample does not fit network linear (input 1x2x1, 3 outputs)") {
		t.Errorf("wrong outputs: got error %v", err)
	}
	cfg := mseConfig(1, 0, Sum)
	cfg.Loss = "hinge"
	if _, err := Train(newLinearRegressor(data.Shape, 2), data, nil, cfg, TrainOptions{}); err == nil ||
		!strings.Contains(err.Error(), `unknown loss "hinge"`) {
		t.Errorf("unknown loss: got error %v", err)
	}
	m := newLinearRegressor(data.Shape, 2)
	m.infLossAt = 2
	if _, err := Train(m, data, nil, mseConfig(5, 0, Sum), TrainOptions{}); err == nil || !strings.HasPrefix(err.Error(), "step 2: loss is +Inf") {
		t.Errorf("infinite loss: got error %v", err)
	}
	if _, err := Evaluate(m, data); err == nil || !strings.Contains(err.Error(), "score it with EvaluateRegression") {
		t.Errorf("Evaluate on targets: got error %v", err)
	}
	if _, err := EvaluateRegression(m, blobs(2)); err == nil || !strings.Contains(err.Error(), "has class labels") {
		t.Errorf("EvaluateRegression on labels: got error %v", err)
	}
}

func TestEvaluateRegression(t *testing.T) {
	m := newLinearRegressor(Shape{1, 2, 1}, 2)
	// outputs = (x0, x1 + 1)
	copy(m.w, []float32{1, 0, 0, 1})
	copy(m.b, []float32{0, 1})
	d := &Dataset{Shape: Shape{1, 2, 1}, Outputs: 2,
		X:       []float32{0, 0, 1, 1, 2, -1, 3, 0},
		Targets: []float32{0, 1, 0, 2, 2, 0, 1, 1}}
	// Squared errors per sample: 0, 1, 0, 4+0 = 4.
	s, err := EvaluateRegression(m, d)
	if err != nil {
		t.Fatal(err)
	}
	if s.Samples != 4 || s.Outputs != 2 || s.Loss != 5 || !reflect.DeepEqual(s.SampleErrors, []float64{0, 0.5, 0, 2}) {
		t.Fatalf("got %+v", s)
	}
	if s.LossPerSample() != 1.25 || s.MeanSquaredError() != 0.625 {
		t.Errorf("per sample %g, mse %g", s.LossPerSample(), s.MeanSquaredError())
	}
	// Sorted errors 0, 0, 0.5, 2.
	for _, q := range []struct{ q, want float64 }{{0, 0}, {0.5, 0.25}, {1, 2}, {2.0 / 3, 0.5}, {5.0 / 6, 1.25}} {
		if got := s.SampleErrorQuantile(q.q); math.Abs(got-q.want) > 1e-12 {
			t.Errorf("quantile %g = %g, want %g", q.q, got, q.want)
		}
	}
	if got, want := s.String(), "loss 5 (1.25/sample, mse 0.625 over 4 samples)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestTrainRegressionAllocs(t *testing.T) {
	columns := line(20)
	inputs := &Dataset{Shape: columns.Shape, X: columns.X, Outputs: 2, Targets: columns.X, InputTargets: true}
	for _, data := range []*Dataset{columns, inputs} {
		for _, batch := range []int{0, 8} {
			m := newLinearRegressor(data.Shape, 2)
			m.quiet = true
			allocs := func(steps int) float64 {
				return testing.AllocsPerRun(5, func() {
					if _, err := Train(m, data, nil, mseConfig(steps, batch, Mean), TrainOptions{LogEvery: 1, Log: func(StepLog) {}}); err != nil {
						t.Fatal(err)
					}
				})
			}
			if short, long := allocs(4), allocs(40); long != short {
				t.Errorf("input targets %v, batch %d: 4 steps allocate %v times, 40 steps %v times", data.InputTargets, batch, short, long)
			}
		}
	}
}
