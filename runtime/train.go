package runtime

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// StepLog is the state of a training run at one step: the cost and accuracy
// of that step's batch, computed by Backward before the step's update (so
// step 0 shows the initial weights).
type StepLog struct {
	// Step counts from 0; Steps is the run's total.
	Step, Steps int
	// Epoch is the pass over the training set that the batch belongs to,
	// from 0.
	Epoch int
	// Cost is the batch's summed cross-entropy divided by its size.
	Cost float64
	// Correct of Samples samples of the batch were classified correctly.
	Correct, Samples int
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
func (s StepLog) String() string {
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
	// one).
	Test Score
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
			return nil, fmt.Errorf("the run to resume has already taken %d steps of %d: nothing left to train", start, total)
		}
		b.skip(start)
	}

	res := &Result{Optimizer: optimizer}
	begin := time.Now()
	for step := start; step < total; step++ {
		epoch := b.epoch
		x, y := b.next()
		n := len(y)
		scale := float32(1)
		if cfg.Reduction == Mean {
			scale = 1 / float32(n)
		}
		loss, correct := m.Backward(x, y, scale)
		if err := checkStep(step, step == start, loss, params); err != nil {
			return nil, err
		}
		entry := StepLog{Step: step, Steps: total, Epoch: epoch, Cost: loss / float64(n), Correct: correct, Samples: n}
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
		if res.Test, err = Evaluate(m, test); err != nil {
			return nil, err
		}
	}
	return res, nil
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
		y:        make([]int32, size),
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

// next returns the next batch. A full batch aliases the data set; a
// mini-batch aliases the batcher's buffers, valid until the next call.
func (b *batcher) next() ([]float32, []int32) {
	if b.full {
		b.epoch++
		return b.data.X, b.data.Y
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
	return b.x[:k*b.data.Shape.Size()], b.y[:k]
}
