package runtime

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// StepLog is the state of a training run at one step: the cost and accuracy
// of that step's batch (the cost only, for a regression network), computed
// by Backward before the step's update (so step 0 shows the initial
// weights).
type StepLog struct {
	// Step counts from 0; Steps is the run's total.
	Step, Steps int
	// Epoch is the pass over the training set that the batch belongs to,
	// from 0.
	Epoch int
	// Cost is the batch's summed loss (cross-entropy, or squared error
	// over the outputs) divided by its size.
	Cost float64
	// Correct of Samples samples of the batch were classified correctly
	// (Correct is 0 for a regression network).
	Correct, Samples int
	// Regression marks a regression run's step, which has no accuracy.
	Regression bool
}

// TrainAccuracy is the batch's share of correct answers.
func (s StepLog) TrainAccuracy() float64 {
	if s.Samples == 0 {
		return 0
	}
	return float64(s.Correct) / float64(s.Samples)
}

// String formats the entry as the tutorial's log line:
//
//	step  100  cost/sample 0.2587  train acc 0.931
//
// and a regression step without the accuracy:
//
//	step  100  cost/sample 0.2587
func (s StepLog) String() string {
	if s.Regression {
		return fmt.Sprintf("step %4d  cost/sample %.4f", s.Step, s.Cost)
	}
	return fmt.Sprintf("step %4d  cost/sample %.4f  train acc %.3f", s.Step, s.Cost, s.TrainAccuracy())
}

// TrainOptions controls a run beyond its recipe.
type TrainOptions struct {
	// LogEvery sends every LogEvery-th step to Log, besides the first and
	// the last; 0 logs only those two.
	LogEvery int
	// Log, if set, receives the log entries.
	Log func(StepLog)
	// Resume keeps the model's current parameters; otherwise they are
	// initialised from the recipe's seed ([InitParams]). With Optimizer it
	// continues an earlier run: see [Train].
	Resume bool
	// Optimizer, if set, is used instead of a new one made from the
	// recipe, for example with its state restored from a checkpoint. It
	// must have been made for m.Params() (with [NewOptimizerForRun] and
	// the run's total steps, for a schedule that needs them).
	Optimizer Optimizer
	// Stop, if set, is called after each step's update; when it returns
	// true the run ends there (Result.Stopped), scored on the test set as
	// usual. It lets Ctrl-C finish the current step and save.
	Stop func() bool
}

// Result is the outcome of a training run.
type Result struct {
	// Steps is the number of optimizer steps taken by this call (fewer
	// than planned when Stopped; a resumed run does not count the steps of
	// the run it continues).
	Steps int
	// Stopped reports that TrainOptions.Stop ended the run early.
	Stopped bool
	// Last is the last step's log entry.
	Last StepLog
	// Test is the score on the test set after training (Total 0 without
	// one, and for a regression network).
	Test Score
	// TestError is a regression network's score on the test set after
	// training (Samples 0 without one, and for a classifier).
	TestError RegressionScore
	// Duration is the time spent in the steps, without the final
	// evaluation.
	Duration time.Duration
	// Optimizer is the optimizer after the last step, whose State a
	// checkpoint records.
	Optimizer Optimizer
}

// Train trains m on train with the recipe cfg and then scores it on test
// (which may be nil or empty). It is the one training loop for every engine.
//
// Unless opt.Resume is set the parameters are first initialised from
// cfg.Seed. Each step takes a batch — with a full batch (BatchSize 0 or at
// least the training set's size) the whole training set in its order; with
// mini-batches the next BatchSize samples of an order reshuffled at the start
// of every epoch by the seed's [StreamShuffle] generator, the last batch of an
// epoch holding the remainder —, runs Backward with scale 1 for a summed loss
// or 1/n for a mean, and lets the optimizer update the parameters. The run
// lasts cfg.Steps steps, or cfg.Epochs passes over the data when Steps is 0.
//
// With the [SquaredError] loss m must be a [Regressor] and the data sets
// regression data sets (targets, not labels); each step runs
// BackwardSquaredError with scale 1 for a summed loss or 1/(n·outputs) for
// a mean, as PyTorch's MSELoss, and the test set is scored with
// [EvaluateRegression] (Result.TestError). A [Stochastic] model is told the
// seed and the step ([Stochastic.SetDropoutStep]) before each step, so that a
// resumed run draws the dropout masks of the run it continues.
//
// With opt.Resume and opt.Optimizer the run continues one that stopped after
// the optimizer's step count k (its State().Steps, as restored from a
// checkpoint): steps k to the run's total−1 are taken, with the batches those
// steps would have had, so that stopping, saving and resuming gives the same
// weights bit for bit as a run that never stopped. Log entries and errors
// number the steps of the whole run.
//
// A loss or gradient that is NaN or infinite stops the run with an error that
// names the step and the parameter and its layer; so do weights that an
// update made non-finite. After its first step the loop allocates nothing.
func Train(m Model, train, test *Dataset, cfg TrainConfig, opt TrainOptions) (*Result, error) {
	regressor, err := lossModel(m, cfg.Loss)
	if err != nil {
		return nil, err
	}
	regression := regressor != nil
	if err := checkDataKind(train, regression); err != nil {
		return nil, fmt.Errorf("training data: %v", err)
	}
	if test != nil && test.Len() > 0 {
		if err := checkDataKind(test, regression); err != nil {
			return nil, fmt.Errorf("test data: %v", err)
		}
	}
	if err := checkData(m, train); err != nil {
		return nil, fmt.Errorf("training data: %v", err)
	}
	if train.Len() == 0 {
		return nil, errors.New("training data: no samples")
	}
	if test != nil && test.Len() > 0 {
		if err := checkData(m, test); err != nil {
			return nil, fmt.Errorf("test data: %v", err)
		}
	}
	if cfg.BatchSize < 0 {
		return nil, fmt.Errorf("batch size %d is negative", cfg.BatchSize)
	}
	if cfg.Steps < 0 || cfg.Epochs < 0 {
		return nil, fmt.Errorf("steps %d and epochs %d: want a positive number of one of them", cfg.Steps, cfg.Epochs)
	}

	b := newBatcher(train, cfg.BatchSize, cfg.Seed)
	total := cfg.Steps
	if total == 0 {
		total = cfg.Epochs * b.perEpoch
	}
	if total == 0 {
		return nil, errors.New("the recipe sets neither steps nor epochs")
	}

	params := m.Params()
	if !opt.Resume {
		InitParams(params, cfg.Seed)
	}
	optimizer := opt.Optimizer
	start := 0
	if optimizer == nil {
		var err error
		if optimizer, err = NewOptimizerForRun(cfg.Optimizer, params, total); err != nil {
			return nil, err
		}
	} else if opt.Resume {
		start = optimizer.State().Steps
		if start >= total {
			return nil, fmt.Errorf("the run to resume has already taken %d step%s of %d: nothing left to train", start, plural(start), total)
		}
		b.skip(start)
	}

	stochastic, _ := m.(Stochastic)
	size := train.Shape.Size()
	res := &Result{Optimizer: optimizer}
	begin := time.Now()
	for step := start; step < total; step++ {
		epoch := b.epoch
		x, y, targets := b.next()
		n := len(x) / size
		if stochastic != nil {
			stochastic.SetDropoutStep(cfg.Seed, uint64(step))
		}
		var loss float64
		var correct int
		if regression {
			scale := float32(1)
			if cfg.Reduction == Mean {
				scale = 1 / float32(n*train.Outputs)
			}
			loss = regressor.BackwardSquaredError(x, targets, scale)
		} else {
			scale := float32(1)
			if cfg.Reduction == Mean {
				scale = 1 / float32(n)
			}
			loss, correct = m.Backward(x, y, scale)
		}
		if err := checkStep(step, step == start, loss, params); err != nil {
			return nil, err
		}
		entry := StepLog{Step: step, Steps: total, Epoch: epoch, Cost: loss / float64(n), Correct: correct, Samples: n, Regression: regression}
		if opt.Log != nil && (step == start || step == total-1 || (opt.LogEvery > 0 && step%opt.LogEvery == 0)) {
			opt.Log(entry)
		}
		res.Last = entry
		optimizer.Step(params)
		res.Steps++
		if opt.Stop != nil && step < total-1 && opt.Stop() {
			res.Stopped = true
			break
		}
	}
	res.Duration = time.Since(begin)
	// The last update has no next step to catch its damage.
	for _, p := range params {
		if i, bad := firstNonFinite(p.Value); bad {
			return nil, fmt.Errorf("step %d: the update made %s[%d] %v (layer %s; the weights diverged: try a smaller learning rate)",
				res.Last.Step, p.Name, i, p.Value[i], p.Layer)
		}
	}

	if test != nil && test.Len() > 0 {
		var err error
		if regression {
			res.TestError, err = EvaluateRegression(m, test)
		} else {
			res.Test, err = Evaluate(m, test)
		}
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// lossModel checks that m can be trained with loss and returns it as a
// Regressor for the squared error, nil for cross-entropy.
func lossModel(m Model, loss LossKind) (Regressor, error) {
	switch loss {
	case "", CrossEntropy:
		return nil, nil
	case SquaredError:
		r, ok := m.(Regressor)
		if !ok {
			return nil, fmt.Errorf("network %s cannot be trained with the %s loss: its engine has no squared-error backward pass (runtime.Regressor)", m.Name(), loss)
		}
		return r, nil
	}
	return nil, fmt.Errorf("unknown loss %q: want %s or %s", loss, CrossEntropy, SquaredError)
}

// checkDataKind reports whether d has targets when the loss needs them
// (regression) and labels otherwise.
func checkDataKind(d *Dataset, regression bool) error {
	switch {
	case regression && !d.Regression():
		return fmt.Errorf("the %s loss needs real-valued targets, the data has class labels", SquaredError)
	case !regression && d.Regression():
		return fmt.Errorf("the %s loss needs class labels, the data has real-valued targets", CrossEntropy)
	}
	return nil
}

// checkStep returns an error naming the step and the parameter when the loss
// or a gradient is not finite. A non-finite loss usually comes from weights
// that the previous step's update broke: that step is named, unless step is
// the first of the run (first), whose weights came from elsewhere.
func checkStep(step int, first bool, loss float64, params []Param) error {
	if !math.IsNaN(loss) && !math.IsInf(loss, 0) {
		for _, p := range params {
			if i, bad := firstNonFinite(p.Grad[:len(p.Value)]); bad {
				return fmt.Errorf("step %d: the gradient of %s is %v at element %d (layer %s)",
					step, p.Name, p.Grad[i], i, p.Layer)
			}
		}
		return nil
	}
	// Say where the damage is: weights that overflowed in an earlier update,
	// or else the first gradient it reached.
	for _, p := range params {
		if i, bad := firstNonFinite(p.Value); bad {
			if first {
				return fmt.Errorf("step %d: loss is %v: %s[%d] is %v before the step (layer %s)",
					step, loss, p.Name, i, p.Value[i], p.Layer)
			}
			return fmt.Errorf("step %d: the update made %s[%d] %v (layer %s; the weights diverged: try a smaller learning rate)",
				step-1, p.Name, i, p.Value[i], p.Layer)
		}
	}
	for _, p := range params {
		if i, bad := firstNonFinite(p.Grad[:len(p.Value)]); bad {
			return fmt.Errorf("step %d: loss is %v and the gradient of %s is %v at element %d (layer %s)",
				step, loss, p.Name, p.Grad[i], i, p.Layer)
		}
	}
	return fmt.Errorf("step %d: loss is %v", step, loss)
}

// firstNonFinite returns the index of the first NaN or infinite value.
func firstNonFinite(v []float32) (int, bool) {
	for i, x := range v {
		// x−x is 0 for every finite x and NaN for ±Inf and NaN.
		if x-x != 0 {
			return i, true
		}
	}
	return 0, false
}

// batcher hands out the training batches.
type batcher struct {
	data     *Dataset
	full     bool
	size     int // samples per batch
	perEpoch int // batches per epoch
	epoch    int // of the next batch
	pos      int // index in order of the next batch's first sample
	order    []int
	rng      *rand.Rand
	x        []float32
	y        []int32
	targets  []float32 // the mini-batch's targets, unless they are its inputs
}

func newBatcher(d *Dataset, size int, seed uint64) *batcher {
	n := d.Len()
	if size == 0 || size >= n {
		return &batcher{data: d, full: true, size: n, perEpoch: 1}
	}
	b := &batcher{
		data:     d,
		size:     size,
		perEpoch: (n + size - 1) / size,
		order:    make([]int, n),
		rng:      NewRand(seed, StreamShuffle),
		x:        make([]float32, size*d.Shape.Size()),
	}
	switch {
	case d.InputTargets:
	case d.Regression():
		b.targets = make([]float32, size*d.Outputs)
	default:
		b.y = make([]int32, size)
	}
	for i := range b.order {
		b.order[i] = i
	}
	return b
}

// skip advances past k batches without gathering them: the shuffles happen
// as they would have, so the next batch is the one step k of a run takes.
func (b *batcher) skip(k int) {
	if b.full {
		b.epoch += k
		return
	}
	for range k {
		if b.pos == 0 {
			b.rng.Shuffle(len(b.order), func(i, j int) { b.order[i], b.order[j] = b.order[j], b.order[i] })
		}
		b.pos = min(b.pos+b.size, len(b.order))
		if b.pos == len(b.order) {
			b.pos = 0
			b.epoch++
		}
	}
}

// next returns the next batch: its samples and their labels, or for a
// regression data set their targets (y nil). A full batch aliases the data
// set; a mini-batch aliases the batcher's buffers, valid until the next call.
func (b *batcher) next() (x []float32, y []int32, targets []float32) {
	if b.full {
		b.epoch++
		return b.data.X, b.data.Y, b.data.Targets
	}
	if b.pos == 0 {
		b.rng.Shuffle(len(b.order), func(i, j int) { b.order[i], b.order[j] = b.order[j], b.order[i] })
	}
	end := min(b.pos+b.size, len(b.order))
	idx := b.order[b.pos:end]
	k := len(idx)
	b.data.Gather(idx, b.x, b.y)
	b.pos = end
	if b.pos == len(b.order) {
		b.pos = 0
		b.epoch++
	}
	x = b.x[:k*b.data.Shape.Size()]
	switch {
	case b.data.InputTargets:
		return x, nil, x
	case b.data.Regression():
		b.data.GatherTargets(idx, b.targets)
		return x, nil, b.targets[:k*b.data.Outputs]
	}
	return x, b.y[:k], nil
}

// plural is "s" unless n is 1: "1 step", "2 steps".
func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
