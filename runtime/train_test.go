package runtime

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// linearModel is a small Model for testing the training loop without the
// generic engine: softmax regression, logits = x·W + b, with hooks that
// record the batches and poison a gradient or the loss at a chosen step.
type linearModel struct {
	in      Shape
	classes int
	w, b    []float32 // W is [in, classes]
	gw, gb  []float32
	params  []Param
	logits  []float32 // scratch, one sample

	step    int         // Backward calls so far
	batches [][]float32 // first value of every sample of each batch, when recording
	scales  []float32
	record  bool

	nanGradAt   int     // step at which gb[1] becomes nanGradValue (−1: never)
	nanGradVal  float32 //
	infLossAt   int     // step at which the loss becomes +Inf (−1: never)
	infWeightAt int     // step before which w[3] becomes +Inf (−1: never)
	firstBatchX []float32
}

func newLinearModel(in Shape, classes int) *linearModel {
	n := in.Size()
	m := &linearModel{
		in: in, classes: classes,
		w: make([]float32, n*classes), b: make([]float32, classes),
		gw: make([]float32, n*classes), gb: make([]float32, classes),
		logits:    make([]float32, classes),
		nanGradAt: -1, infLossAt: -1, infWeightAt: -1,
	}
	m.params = []Param{
		{ParamInfo{Name: "dense1.weight", Layer: "dense1", Shape: []int{n, classes}, FanIn: n, Init: Init{InitNormal, 0.01}}, m.w, m.gw},
		{ParamInfo{Name: "dense1.bias", Layer: "dense1", Shape: []int{classes}, FanIn: n, Init: Init{InitZeros, 0}}, m.b, m.gb},
	}
	return m
}

func (m *linearModel) Name() string      { return "linear" }
func (m *linearModel) InputShape() Shape { return m.in }
func (m *linearModel) Classes() int      { return m.classes }
func (m *linearModel) Params() []Param   { return m.params }

func (m *linearModel) forward1(x, logits []float32) {
	copy(logits, m.b)
	for i, v := range x {
		for c := range logits {
			logits[c] += v * m.w[i*m.classes+c]
		}
	}
}

func (m *linearModel) Forward(x, logits []float32) {
	n := m.in.Size()
	for s := range len(x) / n {
		m.forward1(x[s*n:(s+1)*n], logits[s*m.classes:(s+1)*m.classes])
	}
}

func (m *linearModel) Backward(x []float32, labels []int32, scale float32) (float64, int) {
	n := m.in.Size()
	if m.step == m.infWeightAt {
		m.w[3] = float32(math.Inf(1))
	}
	clear(m.gw)
	clear(m.gb)
	if m.record {
		firsts := make([]float32, len(labels))
		for s := range labels {
			firsts[s] = x[s*n]
		}
		m.batches = append(m.batches, firsts)
		m.scales = append(m.scales, scale)
		if m.firstBatchX == nil {
			m.firstBatchX = x
		}
	}
	loss, correct := 0.0, 0
	for s, y := range labels {
		xs := x[s*n : (s+1)*n]
		m.forward1(xs, m.logits)
		if Argmax(m.logits) == int(y) {
			correct++
		}
		mx := m.logits[Argmax(m.logits)]
		sum := 0.0
		for _, l := range m.logits {
			sum += math.Exp(float64(l - mx))
		}
		loss += math.Log(sum) - float64(m.logits[y]-mx)
		for c, l := range m.logits {
			d := float32(math.Exp(float64(l-mx)) / sum)
			if c == int(y) {
				d--
			}
			d *= scale
			m.gb[c] += d
			for i, v := range xs {
				m.gw[i*m.classes+c] += v * d
			}
		}
	}
	if m.step == m.nanGradAt {
		m.gb[1] = m.nanGradVal
	}
	if m.step == m.infLossAt {
		loss = math.Inf(1)
	}
	m.step++
	return loss, correct
}

// blobs returns n samples of 2 values in 2 separable classes: class 0 near
// (−1, 0), class 1 near (1, 0); sample i's first value encodes i in its
// fraction so that tests can identify it.
func blobs(n int) *Dataset {
	d := &Dataset{Shape: Shape{1, 2, 1}, Classes: 2, X: make([]float32, 2*n), Y: make([]int32, n)}
	for i := range n {
		c := i % 2
		d.X[2*i] = float32(2*c-1) + float32(i)/float32(4*n)
		d.X[2*i+1] = float32(i%3) / 10
		d.Y[i] = int32(c)
	}
	return d
}

func sgdConfig(steps, batch int) TrainConfig {
	return TrainConfig{Optimizer: OptimizerConfig{Kind: SGD, LearningRate: 0.1}, Steps: steps, BatchSize: batch, Seed: 1}
}

func TestTrainLearns(t *testing.T) {
	data := blobs(40)
	m := newLinearModel(data.Shape, 2)
	var logs []StepLog
	res, err := Train(m, data, blobs(10), sgdConfig(50, 0), TrainOptions{LogEvery: 10, Log: func(s StepLog) { logs = append(logs, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Test.Total != 10 || res.Test.Correct != 10 {
		t.Errorf("test score %v, want 10/10", res.Test)
	}
	first, last := logs[0], logs[len(logs)-1]
	if math.Abs(first.Cost-math.Log(2)) > 0.05 || first.Samples != 40 {
		t.Errorf("step 0: cost/sample %.4f over %d samples, want ≈ ln 2 = 0.693 over 40", first.Cost, first.Samples)
	}
	if last.Step != 49 || last.Cost > 0.2 || last.TrainAccuracy() != 1 || res.Last != last {
		t.Errorf("last step %+v (result %+v): want step 49, cost < 0.2, accuracy 1", last, res.Last)
	}
}

func TestTrainLogCadence(t *testing.T) {
	for _, tc := range []struct {
		steps, every int
		want         []int
	}{
		{7, 3, []int{0, 3, 6}},
		{8, 3, []int{0, 3, 6, 7}},
		{5, 0, []int{0, 4}},
		{1, 100, []int{0}},
		{250, 100, []int{0, 100, 200, 249}},
	} {
		data := blobs(6)
		var got []int
		_, err := Train(newLinearModel(data.Shape, 2), data, nil, sgdConfig(tc.steps, 0),
			TrainOptions{LogEvery: tc.every, Log: func(s StepLog) { got = append(got, s.Step) }})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%d steps, log every %d: logged steps %v, want %v", tc.steps, tc.every, got, tc.want)
		}
	}
}

func TestStepLogString(t *testing.T) {
	s := StepLog{Step: 0, Cost: 2.31012, Correct: 178, Samples: 1617}
	if got, want := s.String(), "step    0  cost/sample 2.3101  train acc 0.110"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTrainFullBatch(t *testing.T) {
	data := blobs(10)
	m := newLinearModel(data.Shape, 2)
	m.record = true
	cfg := sgdConfig(3, 0)
	cfg.Reduction = Mean
	if _, err := Train(m, data, nil, cfg, TrainOptions{}); err != nil {
		t.Fatal(err)
	}
	// Every step sees the whole training set in its order, without a copy.
	if &m.firstBatchX[0] != &data.X[0] {
		t.Error("full batch is a copy of the training set")
	}
	for i, b := range m.batches {
		for s, v := range b {
			if v != data.X[2*s] {
				t.Fatalf("step %d: sample %d is not the training set's sample %d", i, s, s)
			}
		}
	}
	if !slices.Equal(m.scales, []float32{0.1, 0.1, 0.1}) {
		t.Errorf("mean over 10: scales %v, want 0.1", m.scales)
	}
}

func TestTrainMiniBatches(t *testing.T) {
	data := blobs(10)
	run := func(seed uint64) *linearModel {
		m := newLinearModel(data.Shape, 2)
		m.record = true
		cfg := sgdConfig(0, 4)
		cfg.Epochs = 3
		cfg.Seed = seed
		res, err := Train(m, data, nil, cfg, TrainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Steps != 9 {
			t.Errorf("3 epochs of 10 samples in batches of 4: %d steps, want 9", res.Steps)
		}
		return m
	}
	m := run(1)
	if !slices.Equal(m.scales, []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}) {
		t.Errorf("summed loss: scales %v, want all 1", m.scales)
	}
	var epochs [][]float32
	for e := range 3 {
		b := m.batches[3*e : 3*e+3]
		if len(b[0]) != 4 || len(b[1]) != 4 || len(b[2]) != 2 {
			t.Fatalf("epoch %d: batch sizes %d %d %d, want 4 4 2", e, len(b[0]), len(b[1]), len(b[2]))
		}
		epoch := slices.Concat(b...)
		sorted := slices.Sorted(slices.Values(epoch))
		want := make([]float32, 10)
		for i := range want {
			want[i] = data.X[2*i]
		}
		slices.Sort(want)
		if !slices.Equal(sorted, want) {
			t.Errorf("epoch %d does not see every sample once: %v", e, epoch)
		}
		epochs = append(epochs, epoch)
	}
	if slices.Equal(epochs[0], epochs[1]) || slices.Equal(epochs[1], epochs[2]) {
		t.Error("the order is not reshuffled every epoch")
	}
	if !reflect.DeepEqual(run(1).batches, m.batches) {
		t.Error("the same seed gave different batches")
	}
	if reflect.DeepEqual(run(2).batches, m.batches) {
		t.Error("seeds 1 and 2 gave the same batches")
	}
}

func TestTrainNonFinite(t *testing.T) {
	data := blobs(6)
	for _, tc := range []struct {
		name  string
		setup func(m *linearModel, cfg *TrainConfig)
		want  string
	}{
		{"NaN gradient", func(m *linearModel, _ *TrainConfig) {
			m.nanGradAt, m.nanGradVal = 5, float32(math.NaN())
		}, "step 5: the gradient of dense1.bias is NaN at element 1 (layer dense1)"},
		{"infinite gradient", func(m *linearModel, _ *TrainConfig) {
			m.nanGradAt, m.nanGradVal = 0, float32(math.Inf(-1))
		}, "step 0: the gradient of dense1.bias is -Inf at element 1 (layer dense1)"},
		{"infinite loss", func(m *linearModel, _ *TrainConfig) {
			m.infLossAt = 3
		}, "step 3: loss is +Inf"},
		{"diverged weights", func(m *linearModel, cfg *TrainConfig) {
			m.infWeightAt = 2
		}, "step 1: the update made dense1.weight[3] +Inf (layer dense1; the weights diverged: try a smaller learning rate)"},
		{"non-finite weights at the start", func(m *linearModel, cfg *TrainConfig) {
			m.infWeightAt = 0
		}, "step 0: loss is NaN: dense1.weight[3] is +Inf before the step (layer dense1)"},
		{"overflow in an update", func(m *linearModel, cfg *TrainConfig) {
			// The finite gradients times the largest float32 overflow.
			cfg.Optimizer.LearningRate = math.MaxFloat32
		}, "step 0: the update made dense1.weight[0] -Inf (layer dense1; the weights diverged: try a smaller learning rate)"},
		{"overflow in the last update", func(m *linearModel, cfg *TrainConfig) {
			cfg.Optimizer.LearningRate = math.MaxFloat32
			cfg.Steps = 1
		}, "step 0: the update made dense1.weight[0] -Inf (layer dense1; the weights diverged: try a smaller learning rate)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newLinearModel(data.Shape, 2)
			cfg := sgdConfig(10, 0)
			tc.setup(m, &cfg)
			_, err := Train(m, data, nil, cfg, TrainOptions{})
			if err == nil || err.Error() != tc.want {
				t.Errorf("got error %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestTrainErrors(t *testing.T) {
	data := blobs(6)
	m := newLinearModel(data.Shape, 2)
	other := &Dataset{Shape: Shape{2, 1, 1}, Classes: 2, X: make([]float32, 2), Y: make([]int32, 1)}
	for _, tc := range []struct {
		train, test *Dataset
		cfg         TrainConfig
		want        string
	}{
		{other, nil, sgdConfig(1, 0), "training data: data of shape 2x1x1 with 2 classes does not fit network linear (input 1x2x1, 2 classes)"},
		{data, other, sgdConfig(1, 0), "test data: data of shape 2x1x1 with 2 classes does not fit network linear (input 1x2x1, 2 classes)"},
		{data, nil, sgdConfig(0, 0), "the recipe sets neither steps nor epochs"},
		{data, nil, sgdConfig(1, -1), "batch size -1 is negative"},
		{&Dataset{Shape: data.Shape, Classes: 2}, nil, sgdConfig(1, 0), "training data: no samples"},
	} {
		if _, err := Train(m, tc.train, tc.test, tc.cfg, TrainOptions{}); err == nil || err.Error() != tc.want {
			t.Errorf("got error %v\nwant %s", err, tc.want)
		}
	}
}

func TestTrainResume(t *testing.T) {
	data := blobs(6)
	m := newLinearModel(data.Shape, 2)
	for i := range m.w {
		m.w[i] = 7
	}
	cfg := sgdConfig(1, 0)
	cfg.Optimizer.LearningRate = 0
	if _, err := Train(m, data, nil, cfg, TrainOptions{Resume: true}); err != nil {
		t.Fatal(err)
	}
	if m.w[0] != 7 {
		t.Errorf("resume re-initialised the weights")
	}
	if _, err := Train(m, data, nil, cfg, TrainOptions{}); err != nil {
		t.Fatal(err)
	}
	if m.w[0] == 7 {
		t.Errorf("a fresh run kept the old weights")
	}
}

// TestTrainAllocs checks that the loop allocates nothing per step: a run of
// 40 steps allocates as much as a run of 4.
func TestTrainAllocs(t *testing.T) {
	data := blobs(20)
	for _, batch := range []int{0, 8} {
		m := newLinearModel(data.Shape, 2)
		allocs := func(steps int) float64 {
			return testing.AllocsPerRun(5, func() {
				if _, err := Train(m, data, nil, sgdConfig(steps, batch), TrainOptions{LogEvery: 1, Log: func(StepLog) {}}); err != nil {
					t.Fatal(err)
				}
			})
		}
		if short, long := allocs(4), allocs(40); long != short {
			t.Errorf("batch %d: 4 steps allocate %v times, 40 steps %v times", batch, short, long)
		}
	}
}

func TestArgmax(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		row  []float32
		want int
	}{
		{[]float32{0, 3, 1}, 1},
		{[]float32{2, 5, 5, 1}, 1},
		{[]float32{-1, -1}, 0},
		{[]float32{nan, 1, 2}, 2},
		{[]float32{1, nan, 0}, 0},
		{nil, 0},
	} {
		if got := Argmax(tc.row); got != tc.want {
			t.Errorf("Argmax(%v) = %d, want %d", tc.row, got, tc.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	// 600 samples span three Forward chunks.
	data := blobs(600)
	m := newLinearModel(data.Shape, 2)
	m.w[1] = 1 // logit 1 = first value: class 1 when it is positive
	s, err := Evaluate(m, data)
	if err != nil {
		t.Fatal(err)
	}
	// Class 0 samples have first value −1 + i/2400 < 0: logits (0, negative),
	// correct; class 1 samples are positive: correct.
	if s.Correct != 600 || s.Total != 600 || s.String() != "1.0000 (600/600)" {
		t.Errorf("score %v, want 600/600", s)
	}
	m.w[1] = -1
	if s, _ = Evaluate(m, data); s.Correct != 0 || s.Accuracy() != 0 {
		t.Errorf("reversed model: score %v, want 0/600", s)
	}
	var e Evaluator
	if a := testing.AllocsPerRun(5, func() { e.Evaluate(m, data) }); a != 0 {
		t.Errorf("a reused Evaluator allocates %v times", a)
	}
	if _, err := Evaluate(m, &Dataset{Shape: Shape{3, 1, 1}, Classes: 2}); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("mismatched data: got %v", err)
	}
}

// tinyConvArch is a small network for running the training loop on the
// generic engine: 4×4×1 inputs, a conv, a pool and a dense layer, 3 classes.
func tinyConvArch() Arch {
	normal := Init{Kind: InitNormal, Scale: 0.3}
	return Arch{Name: "tiny", Input: Shape{4, 4, 1}, Layers: []LayerSpec{
		{Kind: Conv2D, Filters: 2, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, Padding: Same, WeightInit: normal, BiasInit: normal},
		{Kind: ReLU},
		{Kind: MaxPool, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, Padding: Valid},
		{Kind: Flatten},
		{Kind: Dense, Units: 3, WeightInit: normal, BiasInit: normal},
		{Kind: Softmax},
	}}
}

// randomData returns n samples for tinyConvArch, drawn from seed.
func randomData(n int, seed uint64) *Dataset {
	r := NewRand(seed, 99)
	d := &Dataset{Shape: Shape{4, 4, 1}, Classes: 3, X: make([]float32, 16*n), Y: make([]int32, n)}
	for i := range d.X {
		d.X[i] = r.Float32()
	}
	for i := range d.Y {
		d.Y[i] = int32(r.IntN(3))
	}
	return d
}

// TestTrainGeneric runs the loop on the generic engine: the same seed gives
// bit-for-bit the same weights and log, and steps allocate nothing.
func TestTrainGeneric(t *testing.T) {
	data := randomData(20, 1)
	for _, batch := range []int{0, 6} {
		cfg := sgdConfig(12, batch)
		cfg.Reduction = Mean
		run := func() ([]Param, []StepLog) {
			m, err := NewGeneric(tinyConvArch())
			if err != nil {
				t.Fatal(err)
			}
			var logs []StepLog
			if _, err := Train(m, data, randomData(7, 2), cfg, TrainOptions{LogEvery: 1, Log: func(s StepLog) { logs = append(logs, s) }}); err != nil {
				t.Fatal(err)
			}
			return m.Params(), logs
		}
		p1, log1 := run()
		p2, log2 := run()
		for i := range p1 {
			if !slices.Equal(p1[i].Value, p2[i].Value) {
				t.Errorf("batch %d: %s differs between two runs with the same seed", batch, p1[i].Name)
			}
		}
		if !slices.Equal(log1, log2) {
			t.Errorf("batch %d: two runs with the same seed logged\n%v\n%v", batch, log1, log2)
		}

		m, err := NewGeneric(tinyConvArch())
		if err != nil {
			t.Fatal(err)
		}
		allocs := func(steps int) float64 {
			cfg.Steps = steps
			return testing.AllocsPerRun(3, func() {
				if _, err := Train(m, data, nil, cfg, TrainOptions{}); err != nil {
					t.Fatal(err)
				}
			})
		}
		if short, long := allocs(3), allocs(30); long != short {
			t.Errorf("batch %d: 3 steps allocate %v times, 30 steps %v times", batch, short, long)
		}
	}
}

// countingOptimizer counts its steps and changes nothing.
type countingOptimizer struct {
	Optimizer
	steps int
}

func (o *countingOptimizer) Step([]Param) { o.steps++ }

func TestTrainOptimizer(t *testing.T) {
	data := blobs(6)
	// The cosine schedule needs the run's length: Train passes it.
	cfg := sgdConfig(0, 4)
	cfg.Epochs = 2
	cfg.Optimizer.Schedule = Schedule{Kind: Cosine}
	res, err := Train(newLinearModel(data.Shape, 2), data, nil, cfg, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lr := res.Optimizer.LearningRate(); lr != 0 {
		t.Errorf("cosine schedule over 4 steps: rate %g after the run, want 0", lr)
	}

	// A given optimizer replaces the recipe's.
	o := &countingOptimizer{}
	res, err = Train(newLinearModel(data.Shape, 2), data, nil, sgdConfig(5, 0), TrainOptions{Optimizer: o})
	if err != nil {
		t.Fatal(err)
	}
	if o.steps != 5 || res.Optimizer != o {
		t.Errorf("the given optimizer took %d steps, want 5", o.steps)
	}
}

// TestTrainStop ends a run from the Stop hook after the update of step 3.
func TestTrainStop(t *testing.T) {
	data := blobs(6)
	polls := 0
	res, err := Train(newLinearModel(data.Shape, 2), data, data, sgdConfig(10, 0), TrainOptions{
		Stop: func() bool { polls++; return polls == 4 },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stopped || res.Steps != 4 || res.Last.Step != 3 || res.Optimizer.State().Steps != 4 || res.Test.Total != 6 {
		t.Errorf("stopped run: %+v, want 4 steps taken, stopped after step 3, scored", res)
	}
	// A Stop that is never true changes nothing.
	res, err = Train(newLinearModel(data.Shape, 2), data, nil, sgdConfig(10, 0), TrainOptions{Stop: func() bool { return false }})
	if err != nil || res.Stopped || res.Steps != 10 {
		t.Errorf("unstopped run: %+v, %v", res, err)
	}
}

// TestTrainResumeExact stops runs part way, carries the weights and the
// optimizer state over (as a checkpoint does), resumes, and requires the
// weights, log and batches of the run that never stopped, bit for bit: for
// each optimizer, with full and mini-batches, by steps and by epochs, and
// with the cosine schedule, which needs the run's total.
func TestTrainResumeExact(t *testing.T) {
	data := blobs(10)
	adam := OptimizerConfig{Kind: Adam, LearningRate: 0.05, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}
	momentum := OptimizerConfig{Kind: Momentum, LearningRate: 0.1, Momentum: 0.9, Nesterov: true, Schedule: Schedule{Kind: Cosine}}
	for _, tc := range []struct {
		name      string
		cfg       TrainConfig
		stopAfter int // steps of the first part
	}{
		{"sgd full batch", sgdConfig(6, 0), 3},
		{"sgd mini-batches", sgdConfig(9, 4), 4},
		{"adam mini-batches by epochs", TrainConfig{Optimizer: adam, BatchSize: 3, Epochs: 3, Seed: 5}, 5},
		{"nesterov cosine", TrainConfig{Optimizer: momentum, BatchSize: 4, Steps: 7, Seed: 2}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var straightLog, partLog []StepLog
			straight := newLinearModel(data.Shape, 2)
			straight.record = true
			if _, err := Train(straight, data, nil, tc.cfg, TrainOptions{LogEvery: 1, Log: func(s StepLog) { straightLog = append(straightLog, s) }}); err != nil {
				t.Fatal(err)
			}

			first := newLinearModel(data.Shape, 2)
			first.record = true
			polls := 0
			res, err := Train(first, data, nil, tc.cfg, TrainOptions{LogEvery: 1, Log: func(s StepLog) { partLog = append(partLog, s) },
				Stop: func() bool { polls++; return polls == tc.stopAfter }})
			if err != nil || !res.Stopped || res.Steps != tc.stopAfter {
				t.Fatalf("first part: %+v, %v", res, err)
			}

			// The checkpoint: weights and optimizer state into fresh objects.
			second := newLinearModel(data.Shape, 2)
			second.record = true
			copy(second.w, first.w)
			copy(second.b, first.b)
			total := len(straightLog)
			o, err := NewOptimizerForRun(tc.cfg.Optimizer, second.Params(), total)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.SetState(res.Optimizer.State()); err != nil {
				t.Fatal(err)
			}
			res, err = Train(second, data, nil, tc.cfg, TrainOptions{Resume: true, Optimizer: o, LogEvery: 1, Log: func(s StepLog) { partLog = append(partLog, s) }})
			if err != nil {
				t.Fatal(err)
			}
			if res.Steps != total-tc.stopAfter || res.Last.Step != total-1 {
				t.Errorf("resumed part took %d steps ending at %d, want %d ending at %d", res.Steps, res.Last.Step, total-tc.stopAfter, total-1)
			}
			if !slices.Equal(second.w, straight.w) || !slices.Equal(second.b, straight.b) {
				t.Errorf("resumed weights %v %v, uninterrupted %v %v", second.w, second.b, straight.w, straight.b)
			}
			if !reflect.DeepEqual(partLog, straightLog) {
				t.Errorf("logs differ:\nresumed  %v\nstraight %v", partLog, straightLog)
			}
			if !reflect.DeepEqual(append(first.batches, second.batches...), straight.batches) {
				t.Errorf("batches differ")
			}
		})
	}
}

func TestTrainResumeFinished(t *testing.T) {
	data := blobs(6)
	m := newLinearModel(data.Shape, 2)
	res, err := Train(m, data, nil, sgdConfig(3, 0), TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Train(m, data, nil, sgdConfig(3, 0), TrainOptions{Resume: true, Optimizer: res.Optimizer})
	if want := "the run to resume has already taken 3 steps of 3: nothing left to train"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
