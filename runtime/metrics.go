package runtime

import (
	"fmt"
	"math"
	"slices"
)

// Argmax returns the index of the largest value in row, the first one on ties
// (the convention of [Model.Backward]'s correct count, NumPy and PyTorch).
// NaNs never win. It returns 0 for an empty row.
func Argmax(row []float32) int {
	best := 0
	for i := 1; i < len(row); i++ {
		// A number also replaces a NaN that came first.
		if row[i] > row[best] || (row[best] != row[best] && row[i] == row[i]) {
			best = i
		}
	}
	return best
}

// Score counts a model's correct answers on a data set.
type Score struct {
	Correct, Total int
}

// Accuracy is Correct/Total, or 0 for an empty set.
func (s Score) Accuracy() float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.Correct) / float64(s.Total)
}

// String formats the score as "0.9833 (177/180)".
func (s Score) String() string {
	return fmt.Sprintf("%.4f (%d/%d)", s.Accuracy(), s.Correct, s.Total)
}

// evalChunk is the number of samples [Evaluate] passes to Forward at a time:
// large enough to amortise the call, small enough to keep the logits small.
const evalChunk = 256

// Evaluator scores a model on data sets with Forward in chunks, reusing its
// logits buffer, so that repeated evaluations during training do not allocate.
type Evaluator struct {
	logits []float32
}

// Evaluate returns how many samples of d the model classifies correctly (the
// first maximum of the logits equal to the label). It checks that d matches
// the model's input shape and classes.
func (e *Evaluator) Evaluate(m Model, d *Dataset) (Score, error) {
	if d.Regression() {
		return Score{}, fmt.Errorf("data for network %s has targets, not class labels: score it with EvaluateRegression", m.Name())
	}
	if err := checkData(m, d); err != nil {
		return Score{}, err
	}
	classes := m.Classes()
	if need := min(evalChunk, d.Len()) * classes; len(e.logits) < need {
		e.logits = make([]float32, need)
	}
	size := d.Shape.Size()
	s := Score{Total: d.Len()}
	for lo := 0; lo < d.Len(); lo += evalChunk {
		hi := min(lo+evalChunk, d.Len())
		logits := e.logits[:(hi-lo)*classes]
		m.Forward(d.X[lo*size:hi*size], logits)
		for i := lo; i < hi; i++ {
			k := i - lo
			if Argmax(logits[k*classes:(k+1)*classes]) == int(d.Y[i]) {
				s.Correct++
			}
		}
	}
	return s, nil
}

// Evaluate scores m on d; see [Evaluator.Evaluate].
func Evaluate(m Model, d *Dataset) (Score, error) {
	var e Evaluator
	return e.Evaluate(m, d)
}

// checkData reports whether d's samples and labels (or targets) fit m.
func checkData(m Model, d *Dataset) error {
	if d.Regression() {
		if d.Shape != m.InputShape() || d.Outputs != m.Classes() {
			return fmt.Errorf("data of shape %v with %d targets per sample does not fit network %s (input %v, %d outputs)",
				d.Shape, d.Outputs, m.Name(), m.InputShape(), m.Classes())
		}
		if len(d.Targets)%d.Outputs != 0 {
			return fmt.Errorf("data set holds %d targets, not a multiple of its %d outputs", len(d.Targets), d.Outputs)
		}
	} else if d.Shape != m.InputShape() || d.Classes != m.Classes() {
		return fmt.Errorf("data of shape %v with %d classes does not fit network %s (input %v, %d classes)",
			d.Shape, d.Classes, m.Name(), m.InputShape(), m.Classes())
	}
	if len(d.X) != d.Len()*d.Shape.Size() {
		return fmt.Errorf("data set holds %d values for %d samples of %v", len(d.X), d.Len(), d.Shape)
	}
	return nil
}

// RegressionScore is a regression network's squared error on a data set.
type RegressionScore struct {
	// Samples is the number of samples scored, Outputs the number of
	// outputs (targets) per sample.
	Samples, Outputs int
	// Loss is Σ (y−t)² over the samples and their outputs: the loss that
	// the sum reduction trains.
	Loss float64
	// SampleErrors holds each sample's mean squared error, Σ (y−t)² over
	// its outputs divided by Outputs, in data order: an autoencoder's
	// reconstruction error per sample (its anomaly score).
	SampleErrors []float64
}

// LossPerSample is Loss divided by the number of samples (0 for none): the
// cost per sample of the training log.
func (s RegressionScore) LossPerSample() float64 {
	if s.Samples == 0 {
		return 0
	}
	return s.Loss / float64(s.Samples)
}

// MeanSquaredError is Loss divided by the number of samples times the
// outputs (0 for none): PyTorch's MSELoss(reduction="mean").
func (s RegressionScore) MeanSquaredError() float64 {
	if s.Samples == 0 || s.Outputs == 0 {
		return 0
	}
	return s.Loss / float64(s.Samples*s.Outputs)
}

// SampleErrorQuantile returns the q-quantile (q in [0, 1]) of the
// per-sample errors, interpolating linearly between the two nearest ranks
// (NumPy's default): 0 is the smallest error, 0.5 the median, 1 the
// largest. It returns 0 when there are no samples.
func (s RegressionScore) SampleErrorQuantile(q float64) float64 {
	if len(s.SampleErrors) == 0 {
		return 0
	}
	sorted := slices.Clone(s.SampleErrors)
	slices.Sort(sorted)
	q = min(max(q, 0), 1)
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

// String formats the score as "loss 12.5 (0.125/sample, mse 0.0312 over 100 samples)".
func (s RegressionScore) String() string {
	return fmt.Sprintf("loss %.6g (%.4g/sample, mse %.4g over %d samples)",
		s.Loss, s.LossPerSample(), s.MeanSquaredError(), s.Samples)
}

// EvaluateRegression returns m's squared error on the targets of d, a
// regression data set, running Forward in chunks. It checks that d matches
// the model's input shape and outputs. Only the per-sample errors are
// allocated anew on each call.
func (e *Evaluator) EvaluateRegression(m Model, d *Dataset) (RegressionScore, error) {
	if !d.Regression() {
		return RegressionScore{}, fmt.Errorf("data for network %s has class labels, not targets to score its outputs against", m.Name())
	}
	if err := checkData(m, d); err != nil {
		return RegressionScore{}, err
	}
	outputs := m.Classes()
	if need := min(evalChunk, d.Len()) * outputs; len(e.logits) < need {
		e.logits = make([]float32, need)
	}
	size := d.Shape.Size()
	s := RegressionScore{Samples: d.Len(), Outputs: outputs, SampleErrors: make([]float64, d.Len())}
	for lo := 0; lo < d.Len(); lo += evalChunk {
		hi := min(lo+evalChunk, d.Len())
		out := e.logits[:(hi-lo)*outputs]
		m.Forward(d.X[lo*size:hi*size], out)
		for i := lo; i < hi; i++ {
			y := out[(i-lo)*outputs : (i-lo+1)*outputs]
			sum := 0.0
			for j, t := range d.Target(i) {
				diff := float64(y[j]) - float64(t)
				sum += diff * diff
			}
			s.Loss += sum
			s.SampleErrors[i] = sum / float64(outputs)
		}
	}
	return s, nil
}

// EvaluateRegression scores m on d; see [Evaluator.EvaluateRegression].
func EvaluateRegression(m Model, d *Dataset) (RegressionScore, error) {
	var e Evaluator
	return e.EvaluateRegression(m, d)
}
