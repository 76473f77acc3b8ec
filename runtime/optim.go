package runtime

import (
	"fmt"
	"math"
)

// Optimizer updates a model's parameters from their gradients.
//
// An optimizer's state (the number of steps taken and its per-parameter
// buffers) can be read with State and restored with SetState, so that a
// checkpoint carries it and a resumed run continues exactly where it stopped.
type Optimizer interface {
	// Step applies one update to every parameter, reading Param.Grad and
	// writing Param.Value. The params must be the list the optimizer was
	// made for (same order and sizes) on every call. Step does not allocate.
	Step(params []Param)
	// LearningRate is the rate that the next Step will use, after the
	// schedule.
	LearningRate() float64
	// State returns the optimizer's kind, the number of steps taken and its
	// buffers. The buffers' Values alias the optimizer's memory: they change
	// with the next Step.
	State() OptimizerState
	// SetState replaces the step count and copies every buffer's values
	// from s. It fails, changing nothing, unless s has the optimizer's kind
	// and exactly its buffers (by parameter and slot, in any order, each of
	// the right length and finite).
	SetState(s OptimizerState) error
}

// OptimizerState is an optimizer's state: what a checkpoint must carry for a
// resumed run to continue bit for bit.
type OptimizerState struct {
	Kind OptimizerKind
	// Steps is the number of updates applied so far; it drives the
	// learning-rate schedule and Adam's bias correction.
	Steps int
	// Buffers are the per-parameter tensors, in parameter order and, within
	// a parameter, in slot order. Plain SGD has none.
	Buffers []StateBuffer
}

// StateBuffer is one per-parameter tensor of optimizer state. It has the
// parameter's size and the parameter's standard layout ([ParamInfo]).
type StateBuffer struct {
	// Param is the parameter's name, for example "conv1.weight".
	Param string
	// Slot names the buffer with PyTorch's names: [SlotMomentum],
	// [SlotExpAvg] or [SlotExpAvgSq].
	Slot   string
	Values []float32
}

// The optimizer state slots, named as in PyTorch's optimizer state_dict.
const (
	// SlotMomentum is SGD momentum's velocity buffer.
	SlotMomentum = "momentum_buffer"
	// SlotExpAvg is Adam's first-moment estimate m.
	SlotExpAvg = "exp_avg"
	// SlotExpAvgSq is Adam's second-moment estimate v.
	SlotExpAvgSq = "exp_avg_sq"
)

// NewOptimizer returns the optimizer that cfg describes, with state sized for
// params. It is [NewOptimizerForRun] without a run length, so it rejects the
// cosine schedule, which needs one.
func NewOptimizer(cfg OptimizerConfig, params []Param) (Optimizer, error) {
	return NewOptimizerForRun(cfg, params, 0)
}

// NewOptimizerForRun returns the optimizer that cfg describes, with state
// sized for params, for a run of totalSteps steps (only the cosine schedule
// uses it; 0 is fine otherwise). All the updates follow PyTorch's torch.optim
// formulations (SGD with dampening 0, Adam without amsgrad), computed in
// float32 with the scalar coefficients computed in float64:
//
//	g ← g + WeightDecay·v                          (when WeightDecay > 0)
//	sgd:       v ← v − lr·g
//	momentum:  b ← g on the first step, else b ← μ·b + g
//	           v ← v − lr·b, or v ← v − lr·(g + μ·b) with Nesterov
//	adam:      m ← β1·m + (1−β1)·g;  s ← β2·s + (1−β2)·g²   (t = step, from 1)
//	           v ← v − lr/(1−β1ᵗ) · m / (√s/√(1−β2ᵗ) + ε)
//
// where lr is the scheduled rate ([Schedule.Rate]). It returns an error
// naming the field when the configuration is out of range, or when fields
// are set that do not apply to the kind.
func NewOptimizerForRun(cfg OptimizerConfig, params []Param, totalSteps int) (Optimizer, error) {
	b, err := newOptimizerBase(cfg, params, totalSteps)
	if err != nil {
		return nil, err
	}
	switch b.kind {
	case SGD:
		return &sgd{optimizerBase: b}, nil
	case Momentum:
		o := &momentum{optimizerBase: b, mu: float32(cfg.Momentum), nesterov: cfg.Nesterov}
		o.buf = o.newSlot(SlotMomentum)
		return o, nil
	case Adam:
		o := &adam{optimizerBase: b, beta1: cfg.Beta1, beta2: cfg.Beta2, eps: float32(cfg.Epsilon)}
		o.m = o.newSlot(SlotExpAvg)
		o.s = o.newSlot(SlotExpAvgSq)
		return o, nil
	}
	return nil, fmt.Errorf("optimizer %q is not supported", b.kind) // newOptimizerBase accepts only the kinds above
}

// optimizerBase is what every optimizer shares: the rate and its schedule,
// weight decay, the step count and the buffers for State.
type optimizerBase struct {
	kind        OptimizerKind
	baseRate    float64
	schedule    Schedule
	totalSteps  int
	weightDecay float32
	steps       int
	paramNames  []string
	paramSizes  []int
	buffers     []StateBuffer
}

func newOptimizerBase(cfg OptimizerConfig, params []Param, totalSteps int) (optimizerBase, error) {
	kind := cfg.Kind
	if kind == "" {
		kind = SGD
	}
	if err := validateOptimizer(kind, cfg); err != nil {
		return optimizerBase{}, err
	}
	if totalSteps < 0 {
		return optimizerBase{}, fmt.Errorf("optimizer: total steps %d must not be negative", totalSteps)
	}
	if err := cfg.Schedule.Validate(totalSteps); err != nil {
		return optimizerBase{}, fmt.Errorf("optimizer: %w", err)
	}
	b := optimizerBase{
		kind:        kind,
		baseRate:    cfg.LearningRate,
		schedule:    cfg.Schedule,
		totalSteps:  totalSteps,
		weightDecay: float32(cfg.WeightDecay),
		paramNames:  make([]string, len(params)),
		paramSizes:  make([]int, len(params)),
	}
	seen := make(map[string]bool, len(params))
	for i, p := range params {
		if seen[p.Name] {
			return optimizerBase{}, fmt.Errorf("optimizer: parameter %q is listed twice", p.Name)
		}
		seen[p.Name] = true
		if len(p.Value) != p.Size() || len(p.Grad) != len(p.Value) {
			return optimizerBase{}, fmt.Errorf("optimizer: parameter %s %s has %d values and %d gradients, want %d of each",
				p.Name, p.ShapeString(), len(p.Value), len(p.Grad), p.Size())
		}
		b.paramNames[i] = p.Name
		b.paramSizes[i] = len(p.Value)
	}
	return b, nil
}

// validateOptimizer checks the hyper-parameters of an optimizer of the given
// kind (the zero kind already resolved to SGD).
func validateOptimizer(kind OptimizerKind, cfg OptimizerConfig) error {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	inUnit := func(x float64) bool { return x >= 0 && x < 1 }
	switch kind {
	case SGD, Momentum, Adam:
	default:
		return fmt.Errorf("optimizer %q is not supported: want %s, %s or %s", cfg.Kind, SGD, Momentum, Adam)
	}
	if !finite(cfg.LearningRate) || cfg.LearningRate < 0 {
		return fmt.Errorf("%s: learning rate %g must be a finite number ≥ 0", kind, cfg.LearningRate)
	}
	if !finite(cfg.WeightDecay) || cfg.WeightDecay < 0 {
		return fmt.Errorf("%s: weight decay %g must be a finite number ≥ 0", kind, cfg.WeightDecay)
	}
	if kind != Momentum {
		if cfg.Momentum != 0 {
			return fmt.Errorf("%s: momentum %g is set but applies only to the %s optimizer", kind, cfg.Momentum, Momentum)
		}
		if cfg.Nesterov {
			return fmt.Errorf("%s: nesterov is set but applies only to the %s optimizer", kind, Momentum)
		}
	}
	if kind != Adam && (cfg.Beta1 != 0 || cfg.Beta2 != 0 || cfg.Epsilon != 0) {
		return fmt.Errorf("%s: beta1, beta2 and epsilon apply only to the %s optimizer", kind, Adam)
	}
	switch kind {
	case Momentum:
		if !inUnit(cfg.Momentum) {
			return fmt.Errorf("%s: momentum %g must be in [0, 1)", kind, cfg.Momentum)
		}
		if cfg.Nesterov && cfg.Momentum == 0 {
			return fmt.Errorf("%s: nesterov needs a momentum > 0", kind)
		}
	case Adam:
		if !inUnit(cfg.Beta1) {
			return fmt.Errorf("%s: beta1 %g must be in [0, 1) (PyTorch's default is 0.9)", kind, cfg.Beta1)
		}
		if !inUnit(cfg.Beta2) {
			return fmt.Errorf("%s: beta2 %g must be in [0, 1) (PyTorch's default is 0.999)", kind, cfg.Beta2)
		}
		if !finite(cfg.Epsilon) || cfg.Epsilon <= 0 {
			return fmt.Errorf("%s: epsilon %g must be a finite number > 0 (PyTorch's default is 1e-8)", kind, cfg.Epsilon)
		}
	}
	return nil
}

// newSlot allocates one zeroed buffer per parameter for slot, records them
// for State and returns them in parameter order.
func (b *optimizerBase) newSlot(slot string) [][]float32 {
	bufs := make([][]float32, len(b.paramSizes))
	for i, n := range b.paramSizes {
		bufs[i] = make([]float32, n)
		b.buffers = append(b.buffers, StateBuffer{Param: b.paramNames[i], Slot: slot, Values: bufs[i]})
	}
	return bufs
}

// LearningRate is the scheduled rate of the next step.
func (b *optimizerBase) LearningRate() float64 {
	return b.schedule.Rate(b.baseRate, b.steps, b.totalSteps)
}

// State returns the kind, step count and buffers (aliased).
func (b *optimizerBase) State() OptimizerState {
	bufs := make([]StateBuffer, len(b.buffers))
	copy(bufs, b.buffers)
	return OptimizerState{Kind: b.kind, Steps: b.steps, Buffers: bufs}
}

// SetState checks s against the optimizer's own buffers, then copies it in.
func (b *optimizerBase) SetState(s OptimizerState) error {
	kind := s.Kind
	if kind == "" {
		kind = SGD
	}
	if kind != b.kind {
		return fmt.Errorf("optimizer state is for %s, this optimizer is %s", kind, b.kind)
	}
	if s.Steps < 0 {
		return fmt.Errorf("optimizer state: step count %d is negative", s.Steps)
	}
	type key struct{ param, slot string }
	index := make(map[key]int, len(b.buffers))
	for i, buf := range b.buffers {
		index[key{buf.Param, buf.Slot}] = i
	}
	source := make([][]float32, len(b.buffers))
	for _, in := range s.Buffers {
		i, ok := index[key{in.Param, in.Slot}]
		if !ok {
			return fmt.Errorf("optimizer state: %s has no buffer %s.%s", b.kind, in.Param, in.Slot)
		}
		if source[i] != nil {
			return fmt.Errorf("optimizer state: buffer %s.%s is given twice", in.Param, in.Slot)
		}
		if len(in.Values) != len(b.buffers[i].Values) {
			return fmt.Errorf("optimizer state: buffer %s.%s has %d values, want %d",
				in.Param, in.Slot, len(in.Values), len(b.buffers[i].Values))
		}
		for j, x := range in.Values {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("optimizer state: buffer %s.%s value %d is %g", in.Param, in.Slot, j, x)
			}
		}
		source[i] = in.Values
	}
	for i, src := range source {
		if src == nil {
			return fmt.Errorf("optimizer state: buffer %s.%s is missing", b.buffers[i].Param, b.buffers[i].Slot)
		}
	}
	for i, src := range source {
		copy(b.buffers[i].Values, src)
	}
	b.steps = s.Steps
	return nil
}

// sgd is plain gradient descent: v ← v − lr·(g + wd·v).
type sgd struct{ optimizerBase }

func (o *sgd) Step(params []Param) {
	lr := float32(o.LearningRate())
	wd := o.weightDecay
	for _, p := range params {
		v := p.Value
		g := p.Grad[:len(v)]
		if wd == 0 {
			// Kept apart so that plain SGD rounds exactly as v -= lr·g.
			for i := range v {
				v[i] -= lr * g[i]
			}
			continue
		}
		for i := range v {
			v[i] -= lr * (g[i] + wd*v[i])
		}
	}
	o.steps++
}

// momentum is SGD with (optionally Nesterov) momentum, PyTorch's form.
type momentum struct {
	optimizerBase
	mu       float32
	nesterov bool
	buf      [][]float32
}

func (o *momentum) Step(params []Param) {
	lr := float32(o.LearningRate())
	wd, mu := o.weightDecay, o.mu
	first := o.steps == 0
	for k, p := range params {
		v := p.Value
		g := p.Grad[:len(v)]
		b := o.buf[k][:len(v)]
		for i := range v {
			d := g[i]
			if wd != 0 {
				d += wd * v[i]
			}
			// PyTorch starts the buffer at the first gradient rather than
			// at μ·0 + g (they differ only in the sign of zero).
			if first {
				b[i] = d
			} else {
				b[i] = mu*b[i] + d
			}
			if o.nesterov {
				d += mu * b[i]
			} else {
				d = b[i]
			}
			v[i] -= lr * d
		}
	}
	o.steps++
}

// adam is Adam with bias correction, PyTorch's form (no amsgrad).
type adam struct {
	optimizerBase
	beta1, beta2 float64
	eps          float32
	m, s         [][]float32
}

func (o *adam) Step(params []Param) {
	t := float64(o.steps + 1)
	stepSize := float32(o.LearningRate() / (1 - math.Pow(o.beta1, t)))
	sqrtCorrection2 := float32(math.Sqrt(1 - math.Pow(o.beta2, t)))
	b1, b2 := float32(o.beta1), float32(o.beta2)
	c1, c2 := float32(1-o.beta1), float32(1-o.beta2)
	wd, eps := o.weightDecay, o.eps
	for k, p := range params {
		v := p.Value
		g := p.Grad[:len(v)]
		m := o.m[k][:len(v)]
		s := o.s[k][:len(v)]
		for i := range v {
			d := g[i]
			if wd != 0 {
				d += wd * v[i]
			}
			m[i] = b1*m[i] + c1*d
			s[i] = b2*s[i] + c2*d*d
			denom := float32(math.Sqrt(float64(s[i])))/sqrtCorrection2 + eps
			v[i] -= stepSize * (m[i] / denom)
		}
	}
	o.steps++
}
