package runtime_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/runtime"
)

// scalarParam is a one-value parameter starting at v.
func scalarParam(name string, v float32) runtime.Param {
	return runtime.Param{
		ParamInfo: runtime.ParamInfo{Name: name, Layer: strings.TrimSuffix(name, ".weight"), Shape: []int{1}},
		Value:     []float32{v},
		Grad:      []float32{0},
	}
}

func newOpt(t *testing.T, cfg runtime.OptimizerConfig, params []runtime.Param, total int) runtime.Optimizer {
	t.Helper()
	o, err := runtime.NewOptimizerForRun(cfg, params, total)
	if err != nil {
		t.Fatalf("NewOptimizerForRun(%+v): %v", cfg, err)
	}
	return o
}

// near reports whether got is within a relative 1e-6 of want (float32
// rounding of a few operations).
func near(got float32, want float64) bool {
	return math.Abs(float64(got)-want) <= 1e-6*math.Max(1, math.Abs(want))
}

// runScalar applies one step per gradient to a single parameter starting at
// 1 and returns the value after each step and the optimizer.
func runScalar(t *testing.T, cfg runtime.OptimizerConfig, total int, grads ...float32) ([]float32, runtime.Optimizer) {
	t.Helper()
	params := []runtime.Param{scalarParam("w.weight", 1)}
	o := newOpt(t, cfg, params, total)
	var values []float32
	for _, g := range grads {
		params[0].Grad[0] = g
		o.Step(params)
		values = append(values, params[0].Value[0])
	}
	return values, o
}

func TestSGDIsBitIdenticalToPlainUpdate(t *testing.T) {
	lr := 0.0001
	params := []runtime.Param{{
		ParamInfo: runtime.ParamInfo{Name: "d.weight", Shape: []int{3}},
		Value:     []float32{1, -2, 0.3},
		Grad:      []float32{0.5, 0.25, -7},
	}}
	want := make([]float32, 3)
	for i := range want {
		want[i] = params[0].Value[i] - float32(lr)*params[0].Grad[i]
	}
	o := newOpt(t, runtime.OptimizerConfig{Kind: runtime.SGD, LearningRate: lr}, params, 0)
	o.Step(params)
	for i, got := range params[0].Value {
		if math.Float32bits(got) != math.Float32bits(want[i]) {
			t.Errorf("value %d = %v, want exactly %v", i, got, want[i])
		}
	}
	if s := o.State(); s.Kind != runtime.SGD || s.Steps != 1 || len(s.Buffers) != 0 {
		t.Errorf("State() = %+v, want sgd, 1 step, no buffers", s)
	}
}

func TestOptimizerStepsByHand(t *testing.T) {
	tests := []struct {
		name  string
		cfg   runtime.OptimizerConfig
		grads []float32
		want  []float64
	}{{
		// v ← v − lr·(g + wd·v): 1 − 0.1·(0.5 + 0.01·1) = 0.949;
		// 0.949 − 0.1·(0.5 + 0.00949) = 0.898051.
		name:  "sgd weight decay",
		cfg:   runtime.OptimizerConfig{Kind: runtime.SGD, LearningRate: 0.1, WeightDecay: 0.01},
		grads: []float32{0.5, 0.5},
		want:  []float64{0.949, 0.898051},
	}, {
		// b = 1 → v = 0.9; b = 0.9·1 + 1 = 1.9 → v = 0.71;
		// b = 0.9·1.9 − 1 = 0.71 → v = 0.639.
		name:  "momentum",
		cfg:   runtime.OptimizerConfig{Kind: runtime.Momentum, LearningRate: 0.1, Momentum: 0.9},
		grads: []float32{1, 1, -1},
		want:  []float64{0.9, 0.71, 0.639},
	}, {
		// With wd = 0.1 (PyTorch's torch.optim.SGD gives the same values):
		// d = 1.1, b = 1.1, d = 1.1 + 0.9·1.1 = 2.09 → v = 0.791;
		// d = −2 + 0.0791 = −1.9209, b = 0.99 − 1.9209 = −0.9309,
		//   d = −1.9209 − 0.83781 = −2.75871 → v = 1.066871;
		// d = 0.5 + 0.1066871 = 0.6066871, b = −0.83781 + 0.6066871 = −0.2311229,
		//   d = 0.6066871 − 0.20801061 = 0.39867649 → v = 1.0270034.
		name:  "nesterov weight decay",
		cfg:   runtime.OptimizerConfig{Kind: runtime.Momentum, LearningRate: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.1},
		grads: []float32{1, -2, 0.5},
		want:  []float64{0.791, 1.066871, 1.0270034},
	}, {
		// t = 1: m = 0.1, s = 0.001, m̂ = 1, ŝ = 1 → v = 1 − 0.1·1/(1+1e-8) = 0.9
		//   (without bias correction the step would be 0.1·0.1/√0.001 ≈ 0.316);
		// t = 2: m = 0.09 − 0.2 = −0.11, s = 0.000999 + 0.004 = 0.004999,
		//   m̂ = −0.11/0.19 = −0.5789474, ŝ = 0.004999/0.001999 = 2.5007504,
		//   √ŝ = 1.5813761 → v = 0.9 + 0.1·0.5789474/1.5813761 = 0.93661035.
		name:  "adam bias correction",
		cfg:   runtime.OptimizerConfig{Kind: runtime.Adam, LearningRate: 0.1, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8},
		grads: []float32{1, -2},
		want:  []float64{0.9, 0.93661035},
	}, {
		// As above with d = g + 0.5·v (PyTorch's torch.optim.Adam agrees):
		// t = 1: d = 1.5 → v = 0.9;
		// t = 2: d = −1.55, m = 0.135 − 0.155 = −0.02, s = 0.00224775 + 0.0024025
		//   = 0.00465025 → v = 0.9 + 0.1·(0.02/0.19)/√(0.00465025/0.001999) = 0.90690152;
		// t = 3: d = 0.95345076, m = 0.07734508, s = 0.00555467,
		//   m̂ = 0.07734508/0.271 = 0.28540620, ŝ = 0.00555467/0.002997001 = 1.8534088
		//   → v = 0.90690152 − 0.1·0.28540620/1.3614        = 0.88593734.
		name:  "adam weight decay",
		cfg:   runtime.OptimizerConfig{Kind: runtime.Adam, LearningRate: 0.1, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.5},
		grads: []float32{1, -2, 0.5},
		want:  []float64{0.9, 0.90690152, 0.88593734},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := runScalar(t, tt.cfg, 0, tt.grads...)
			for i := range got {
				if !near(got[i], tt.want[i]) {
					t.Errorf("after step %d: value %.9g, want %.9g", i+1, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestOptimizerStateHoldsPyTorchBuffers(t *testing.T) {
	// The Adam weight-decay case above: after 3 steps PyTorch holds
	// exp_avg = 0.07734508 and exp_avg_sq = 0.00555467.
	cfg := runtime.OptimizerConfig{Kind: runtime.Adam, LearningRate: 0.1, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.5}
	_, o := runScalar(t, cfg, 0, 1, -2, 0.5)
	s := o.State()
	if s.Kind != runtime.Adam || s.Steps != 3 || len(s.Buffers) != 2 {
		t.Fatalf("State() = %+v, want adam, 3 steps, 2 buffers", s)
	}
	want := map[string]float64{runtime.SlotExpAvg: 0.07734508, runtime.SlotExpAvgSq: 0.005554668}
	for _, b := range s.Buffers {
		if b.Param != "w.weight" || !near(b.Values[0], want[b.Slot]) {
			t.Errorf("buffer %s.%s = %v, want %v", b.Param, b.Slot, b.Values, want[b.Slot])
		}
	}
	// The momentum case: b = 0.71 after 1, 1, −1.
	_, o = runScalar(t, runtime.OptimizerConfig{Kind: runtime.Momentum, LearningRate: 0.1, Momentum: 0.9}, 0, 1, 1, -1)
	s = o.State()
	if len(s.Buffers) != 1 || s.Buffers[0].Slot != runtime.SlotMomentum || !near(s.Buffers[0].Values[0], 0.71) {
		t.Errorf("momentum State() = %+v, want one momentum_buffer of 0.71", s)
	}
}

func TestSchedules(t *testing.T) {
	tests := []struct {
		name  string
		sched runtime.Schedule
		total int
		want  []float64 // rate of steps 0, 1, …
	}{
		{"zero value is constant", runtime.Schedule{}, 0, []float64{0.5, 0.5, 0.5}},
		{"constant", runtime.Schedule{Kind: runtime.Constant}, 0, []float64{0.5, 0.5}},
		// 0.5·0.1^⌊t/2⌋
		{"step", runtime.Schedule{Kind: runtime.StepDecay, StepSize: 2, Gamma: 0.1}, 0, []float64{0.5, 0.5, 0.05, 0.05, 0.005}},
		// 0.5·(1+cos(πt/4))/2: cos(π/4) = 0.70710678, cos(3π/4) = −0.70710678;
		// past the end it stays at 0.
		{"cosine", runtime.Schedule{Kind: runtime.Cosine}, 4, []float64{0.5, 0.42677670, 0.25, 0.07322330, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := runtime.OptimizerConfig{Kind: runtime.SGD, LearningRate: 0.5, Schedule: tt.sched}
			params := []runtime.Param{scalarParam("w.weight", 1)}
			o := newOpt(t, cfg, params, tt.total)
			value := 1.0
			for step, want := range tt.want {
				if got := o.LearningRate(); math.Abs(got-want) > 1e-8 {
					t.Errorf("step %d: LearningRate() = %.9g, want %.9g", step, got, want)
				}
				// The update uses the scheduled rate: g = 1 moves v by −lr.
				params[0].Grad[0] = 1
				o.Step(params)
				value -= want
				if !near(params[0].Value[0], value) {
					t.Errorf("step %d: value %.9g, want %.9g", step, params[0].Value[0], value)
				}
			}
		})
	}
}

// TestSetStateContinuesBitForBit runs Adam for 5 steps, and beside it an
// optimizer restored from the first one's state after 2 steps: the two end
// bit-identical.
func TestSetStateContinuesBitForBit(t *testing.T) {
	cfgs := []runtime.OptimizerConfig{
		{Kind: runtime.Adam, LearningRate: 0.01, Beta1: 0.9, Beta2: 0.99, Epsilon: 1e-7, WeightDecay: 0.01, Schedule: runtime.Schedule{Kind: runtime.Cosine}},
		{Kind: runtime.Momentum, LearningRate: 0.01, Momentum: 0.8, Nesterov: true, Schedule: runtime.Schedule{Kind: runtime.StepDecay, StepSize: 2, Gamma: 0.5}},
		{Kind: runtime.SGD, LearningRate: 0.01, Schedule: runtime.Schedule{Kind: runtime.Cosine}},
	}
	grad := func(step, i int) float32 { return float32(math.Sin(float64(3*step + i))) }
	for _, cfg := range cfgs {
		t.Run(string(cfg.Kind), func(t *testing.T) {
			mk := func() []runtime.Param {
				return []runtime.Param{
					{ParamInfo: runtime.ParamInfo{Name: "a.weight", Shape: []int{2, 2}}, Value: []float32{1, 2, 3, 4}, Grad: make([]float32, 4)},
					{ParamInfo: runtime.ParamInfo{Name: "a.bias", Shape: []int{2}}, Value: []float32{-1, 1}, Grad: make([]float32, 2)},
				}
			}
			step := func(o runtime.Optimizer, ps []runtime.Param, n int) {
				for i, p := range ps {
					for j := range p.Grad {
						p.Grad[j] = grad(n, 10*i+j)
					}
				}
				o.Step(ps)
			}
			fullParams := mk()
			full := newOpt(t, cfg, fullParams, 5)
			for n := range 2 {
				step(full, fullParams, n)
			}
			// Copy the state and the values, as a checkpoint would.
			saved := full.State()
			for i, b := range saved.Buffers {
				saved.Buffers[i].Values = append([]float32(nil), b.Values...)
			}
			resumedParams := mk()
			for i, p := range fullParams {
				copy(resumedParams[i].Value, p.Value)
			}
			resumed := newOpt(t, cfg, resumedParams, 5)
			if err := resumed.SetState(saved); err != nil {
				t.Fatal(err)
			}
			for n := 2; n < 5; n++ {
				step(full, fullParams, n)
				step(resumed, resumedParams, n)
			}
			for i, p := range fullParams {
				for j, v := range p.Value {
					if math.Float32bits(v) != math.Float32bits(resumedParams[i].Value[j]) {
						t.Errorf("%s[%d]: uninterrupted %v, resumed %v", p.Name, j, v, resumedParams[i].Value[j])
					}
				}
			}
		})
	}
}

func TestSetStateRejects(t *testing.T) {
	cfg := runtime.OptimizerConfig{Kind: runtime.Adam, LearningRate: 0.1, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}
	good := func() runtime.OptimizerState {
		return runtime.OptimizerState{Kind: runtime.Adam, Steps: 3, Buffers: []runtime.StateBuffer{
			{Param: "w.weight", Slot: runtime.SlotExpAvgSq, Values: []float32{2}},
			{Param: "w.weight", Slot: runtime.SlotExpAvg, Values: []float32{1}},
		}}
	}
	tests := []struct {
		name   string
		change func(*runtime.OptimizerState)
		want   string
	}{
		{"kind", func(s *runtime.OptimizerState) { s.Kind = runtime.Momentum }, "optimizer state is for momentum, this optimizer is adam"},
		{"negative steps", func(s *runtime.OptimizerState) { s.Steps = -1 }, "step count -1 is negative"},
		{"missing", func(s *runtime.OptimizerState) { s.Buffers = s.Buffers[:1] }, "buffer w.weight.exp_avg is missing"},
		{"unknown", func(s *runtime.OptimizerState) { s.Buffers[0].Slot = runtime.SlotMomentum }, "adam has no buffer w.weight.momentum_buffer"},
		{"twice", func(s *runtime.OptimizerState) { s.Buffers[1].Slot = runtime.SlotExpAvgSq }, "buffer w.weight.exp_avg_sq is given twice"},
		{"length", func(s *runtime.OptimizerState) { s.Buffers[1].Values = []float32{1, 2} }, "buffer w.weight.exp_avg has 2 values, want 1"},
		{"nan", func(s *runtime.OptimizerState) { s.Buffers[1].Values[0] = float32(math.NaN()) }, "buffer w.weight.exp_avg value 0 is NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := []runtime.Param{scalarParam("w.weight", 1)}
			o := newOpt(t, cfg, params, 0)
			s := good()
			tt.change(&s)
			err := o.SetState(s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SetState: error %v, want one containing %q", err, tt.want)
			}
			// Nothing changed.
			if st := o.State(); st.Steps != 0 || st.Buffers[0].Values[0] != 0 || st.Buffers[1].Values[0] != 0 {
				t.Errorf("a rejected SetState changed the state: %+v", st)
			}
		})
	}
	params := []runtime.Param{scalarParam("w.weight", 1)}
	o := newOpt(t, cfg, params, 0)
	if err := o.SetState(good()); err != nil {
		t.Fatalf("SetState(good): %v", err)
	}
	if st := o.State(); st.Steps != 3 || st.Buffers[0].Values[0] != 1 || st.Buffers[1].Values[0] != 2 {
		t.Errorf("after SetState: %+v, want 3 steps, exp_avg 1, exp_avg_sq 2", st)
	}
}

func TestNewOptimizerRejects(t *testing.T) {
	adam := func(c runtime.OptimizerConfig) runtime.OptimizerConfig {
		c.Kind = runtime.Adam
		if c.LearningRate == 0 {
			c.LearningRate = 0.001
		}
		return c
	}
	nan := math.NaN()
	tests := []struct {
		name  string
		cfg   runtime.OptimizerConfig
		total int
		want  string
	}{
		{"unknown kind", runtime.OptimizerConfig{Kind: "adagrad", LearningRate: 1}, 0, `optimizer "adagrad" is not supported: want sgd, momentum or adam`},
		{"negative lr", runtime.OptimizerConfig{LearningRate: -0.1}, 0, "sgd: learning rate -0.1 must be a finite number ≥ 0"},
		{"nan lr", runtime.OptimizerConfig{LearningRate: nan}, 0, "sgd: learning rate NaN must be"},
		{"negative decay", runtime.OptimizerConfig{LearningRate: 1, WeightDecay: -1}, 0, "sgd: weight decay -1 must be"},
		{"momentum on sgd", runtime.OptimizerConfig{LearningRate: 1, Momentum: 0.9}, 0, "sgd: momentum 0.9 is set but applies only to the momentum optimizer"},
		{"nesterov on adam", adam(runtime.OptimizerConfig{Nesterov: true, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}), 0, "adam: nesterov is set but applies only"},
		{"betas on momentum", runtime.OptimizerConfig{Kind: runtime.Momentum, LearningRate: 1, Momentum: 0.9, Beta1: 0.9}, 0, "momentum: beta1, beta2 and epsilon apply only to the adam optimizer"},
		{"momentum 1", runtime.OptimizerConfig{Kind: runtime.Momentum, LearningRate: 1, Momentum: 1}, 0, "momentum: momentum 1 must be in [0, 1)"},
		{"nesterov without momentum", runtime.OptimizerConfig{Kind: runtime.Momentum, LearningRate: 1, Nesterov: true}, 0, "momentum: nesterov needs a momentum > 0"},
		{"beta1 1", adam(runtime.OptimizerConfig{Beta1: 1, Beta2: 0.999, Epsilon: 1e-8}), 0, "adam: beta1 1 must be in [0, 1)"},
		{"beta2 negative", adam(runtime.OptimizerConfig{Beta1: 0.9, Beta2: -0.5, Epsilon: 1e-8}), 0, "adam: beta2 -0.5 must be in [0, 1)"},
		{"epsilon 0", adam(runtime.OptimizerConfig{Beta1: 0.9, Beta2: 0.999}), 0, "adam: epsilon 0 must be a finite number > 0 (PyTorch's default is 1e-8)"},
		{"unknown schedule", runtime.OptimizerConfig{LearningRate: 1, Schedule: runtime.Schedule{Kind: "linear"}}, 0, `learning-rate schedule "linear" is not supported: want constant, step or cosine`},
		{"step size 0", runtime.OptimizerConfig{LearningRate: 1, Schedule: runtime.Schedule{Kind: runtime.StepDecay, Gamma: 0.5}}, 0, "step schedule: step size 0 must be at least 1"},
		{"gamma 0", runtime.OptimizerConfig{LearningRate: 1, Schedule: runtime.Schedule{Kind: runtime.StepDecay, StepSize: 3}}, 0, "step schedule: gamma 0 must be a finite number > 0"},
		{"cosine without steps", runtime.OptimizerConfig{LearningRate: 1, Schedule: runtime.Schedule{Kind: runtime.Cosine}}, 0, "cosine schedule: the run's total steps (0) must be at least 1"},
		{"negative total", runtime.OptimizerConfig{LearningRate: 1}, -1, "total steps -1 must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runtime.NewOptimizerForRun(tt.cfg, []runtime.Param{scalarParam("w.weight", 1)}, tt.total)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// Parameter lists the optimizer cannot serve.
	twice := []runtime.Param{scalarParam("w.weight", 1), scalarParam("w.weight", 2)}
	if _, err := runtime.NewOptimizer(runtime.OptimizerConfig{LearningRate: 1}, twice); err == nil || !strings.Contains(err.Error(), `parameter "w.weight" is listed twice`) {
		t.Errorf("duplicate parameter: error %v", err)
	}
	short := scalarParam("w.weight", 1)
	short.Grad = nil
	if _, err := runtime.NewOptimizer(runtime.OptimizerConfig{LearningRate: 1}, []runtime.Param{short}); err == nil || !strings.Contains(err.Error(), "w.weight [1] has 1 values and 0 gradients, want 1 of each") {
		t.Errorf("missing gradient: error %v", err)
	}
}

func TestOptimizerStepDoesNotAllocate(t *testing.T) {
	cfgs := []runtime.OptimizerConfig{
		{Kind: runtime.SGD, LearningRate: 0.1, WeightDecay: 0.1, Schedule: runtime.Schedule{Kind: runtime.Cosine}},
		{Kind: runtime.Momentum, LearningRate: 0.1, Momentum: 0.9, Nesterov: true},
		{Kind: runtime.Adam, LearningRate: 0.1, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, Schedule: runtime.Schedule{Kind: runtime.StepDecay, StepSize: 10, Gamma: 0.5}},
	}
	for _, cfg := range cfgs {
		params := []runtime.Param{
			{ParamInfo: runtime.ParamInfo{Name: "a.weight", Shape: []int{64}}, Value: make([]float32, 64), Grad: make([]float32, 64)},
			{ParamInfo: runtime.ParamInfo{Name: "a.bias", Shape: []int{8}}, Value: make([]float32, 8), Grad: make([]float32, 8)},
		}
		o := newOpt(t, cfg, params, 1000)
		if n := testing.AllocsPerRun(20, func() { o.Step(params) }); n != 0 {
			t.Errorf("%s: Step allocates %v times", cfg.Kind, n)
		}
	}
}

// torchOptimizerScript replays with torch.optim and its LR schedulers each
// run that TestOptimizersMatchPyTorch describes on stdin, and prints the
// final values and optimizer buffers of each as JSON.
const torchOptimizerScript = `
import json, sys, torch

def replay(run):
    params = [torch.nn.Parameter(torch.tensor(v, dtype=torch.float32)) for v in run["values"]]
    c = run["config"]
    if c["kind"] == "adam":
        opt = torch.optim.Adam(params, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"], weight_decay=c["wd"])
    elif c["kind"] == "momentum":
        opt = torch.optim.SGD(params, lr=c["lr"], momentum=c["momentum"], nesterov=c["nesterov"], weight_decay=c["wd"])
    else:
        opt = torch.optim.SGD(params, lr=c["lr"], weight_decay=c["wd"])
    sched = None
    if c["schedule"] == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=c["step_size"], gamma=c["gamma"])
    elif c["schedule"] == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=len(run["grads"]), eta_min=0)
    for grads in run["grads"]:
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        if sched:
            sched.step()
    state = {}
    for i, p in enumerate(params):
        for slot, t in opt.state[p].items():
            if slot != "step" and t is not None:
                state["%d.%s" % (i, slot)] = t.flatten().tolist()
    return {"values": [p.detach().flatten().tolist() for p in params], "state": state}

print(json.dumps([replay(run) for run in json.load(sys.stdin)]))
`

// torchRun is one optimizer run for torchOptimizerScript.
type torchRun struct {
	Values [][]float32   `json:"values"`
	Grads  [][][]float32 `json:"grads"`
	Config struct {
		Kind     string  `json:"kind"`
		LR       float64 `json:"lr"`
		Momentum float64 `json:"momentum"`
		Nesterov bool    `json:"nesterov"`
		Beta1    float64 `json:"beta1"`
		Beta2    float64 `json:"beta2"`
		Eps      float64 `json:"eps"`
		WD       float64 `json:"wd"`
		Schedule string  `json:"schedule"`
		StepSize int     `json:"step_size"`
		Gamma    float64 `json:"gamma"`
	} `json:"config"`
}

// TestOptimizersMatchPyTorch runs each optimizer and schedule for a few
// steps beside torch.optim (and its StepLR and CosineAnnealingLR) and
// compares the values and buffers. It skips when /usr/bin/python3 cannot
// import torch.
func TestOptimizersMatchPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torch").Run(); err != nil {
		t.Skip("PyTorch is not installed for /usr/bin/python3")
	}
	cfgs := []runtime.OptimizerConfig{
		{Kind: runtime.SGD, LearningRate: 0.1, WeightDecay: 0.05, Schedule: runtime.Schedule{Kind: runtime.StepDecay, StepSize: 2, Gamma: 0.5}},
		{Kind: runtime.Momentum, LearningRate: 0.05, Momentum: 0.9},
		{Kind: runtime.Momentum, LearningRate: 0.05, Momentum: 0.8, Nesterov: true, WeightDecay: 0.01, Schedule: runtime.Schedule{Kind: runtime.Cosine}},
		{Kind: runtime.Adam, LearningRate: 0.01, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.1, Schedule: runtime.Schedule{Kind: runtime.Cosine}},
		{Kind: runtime.Adam, LearningRate: 0.02, Beta1: 0.5, Beta2: 0.9, Epsilon: 1e-6, Schedule: runtime.Schedule{Kind: runtime.StepDecay, StepSize: 3, Gamma: 0.1}},
	}
	const steps = 7
	var runs []torchRun
	var params [][]runtime.Param
	var opts []runtime.Optimizer
	for _, cfg := range cfgs {
		ps := []runtime.Param{
			{ParamInfo: runtime.ParamInfo{Name: "a.weight", Shape: []int{4}}, Value: []float32{1, -0.5, 0.25, 2}, Grad: make([]float32, 4)},
			{ParamInfo: runtime.ParamInfo{Name: "a.bias", Shape: []int{2}}, Value: []float32{0.1, -3}, Grad: make([]float32, 2)},
		}
		var run torchRun
		c := &run.Config
		c.Kind, c.LR, c.Momentum, c.Nesterov = string(cfg.Kind), cfg.LearningRate, cfg.Momentum, cfg.Nesterov
		c.Beta1, c.Beta2, c.Eps, c.WD = cfg.Beta1, cfg.Beta2, cfg.Epsilon, cfg.WeightDecay
		c.Schedule, c.StepSize, c.Gamma = string(cfg.Schedule.Kind), cfg.Schedule.StepSize, cfg.Schedule.Gamma
		for _, p := range ps {
			run.Values = append(run.Values, append([]float32(nil), p.Value...))
		}
		o := newOpt(t, cfg, ps, steps)
		for s := range steps {
			var grads [][]float32
			for i, p := range ps {
				for j := range p.Grad {
					p.Grad[j] = float32(math.Sin(float64(5*s+3*i+j))) * 2
				}
				grads = append(grads, append([]float32(nil), p.Grad...))
			}
			run.Grads = append(run.Grads, grads)
			o.Step(ps)
		}
		runs, params, opts = append(runs, run), append(params, ps), append(opts, o)
	}

	in, _ := json.Marshal(runs)
	cmd := exec.Command("/usr/bin/python3", "-c", torchOptimizerScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.Bytes())
	}
	var torch []struct {
		Values [][]float64          `json:"values"`
		State  map[string][]float64 `json:"state"`
	}
	if err := json.Unmarshal(out, &torch); err != nil || len(torch) != len(cfgs) {
		t.Fatalf("python output %q: %v", out, err)
	}

	const tol = 2e-6
	for k, cfg := range cfgs {
		name := fmt.Sprintf("%s nesterov=%v wd=%g %s", cfg.Kind, cfg.Nesterov, cfg.WeightDecay, cfg.Schedule.Kind)
		t.Run(name, func(t *testing.T) {
			for i, p := range params[k] {
				for j, v := range p.Value {
					if d := math.Abs(float64(v) - torch[k].Values[i][j]); d > tol {
						t.Errorf("%s[%d]: cnngen %.9g, PyTorch %.9g", p.Name, j, v, torch[k].Values[i][j])
					}
				}
			}
			bufs := opts[k].State().Buffers
			if len(bufs) != len(torch[k].State) {
				t.Errorf("%d buffers, PyTorch has %d: %v", len(bufs), len(torch[k].State), torch[k].State)
			}
			for _, b := range bufs {
				i := 0
				if b.Param == "a.bias" {
					i = 1
				}
				want, ok := torch[k].State[fmt.Sprintf("%d.%s", i, b.Slot)]
				if !ok {
					t.Errorf("PyTorch has no buffer %s for parameter %d", b.Slot, i)
					continue
				}
				for j, v := range b.Values {
					if d := math.Abs(float64(v) - want[j]); d > tol {
						t.Errorf("%s.%s[%d]: cnngen %.9g, PyTorch %.9g", b.Param, b.Slot, j, v, want[j])
					}
				}
			}
		})
	}
}

// digitsParams are the tutorial network's parameter tensors (157,230
// values) with gradients.
func digitsParams() []runtime.Param {
	shapes := map[string][]int{
		"conv1.weight": {3, 3, 1, 32}, "conv1.bias": {32},
		"dense1.weight": {512, 300}, "dense1.bias": {300},
		"dense2.weight": {300, 10}, "dense2.bias": {10},
	}
	var params []runtime.Param
	for _, name := range []string{"conv1.weight", "conv1.bias", "dense1.weight", "dense1.bias", "dense2.weight", "dense2.bias"} {
		p := runtime.Param{ParamInfo: runtime.ParamInfo{Name: name, Shape: shapes[name]}}
		p.Value, p.Grad = make([]float32, p.Size()), make([]float32, p.Size())
		for i := range p.Grad {
			p.Grad[i] = float32(i%7) * 0.01
		}
		params = append(params, p)
	}
	return params
}

// BenchmarkOptimizerStep times one update of the digits network's
// parameters by each optimizer.
func BenchmarkOptimizerStep(b *testing.B) {
	cfgs := []runtime.OptimizerConfig{
		{Kind: runtime.SGD, LearningRate: 1e-4},
		{Kind: runtime.Momentum, LearningRate: 1e-4, Momentum: 0.9, Nesterov: true},
		{Kind: runtime.Adam, LearningRate: 1e-3, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 1e-4},
	}
	for _, cfg := range cfgs {
		b.Run(string(cfg.Kind), func(b *testing.B) {
			params := digitsParams()
			o, err := runtime.NewOptimizerForRun(cfg, params, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(4 * 157230))
			for b.Loop() {
				o.Step(params)
			}
		})
	}
}
