package runtime

import "fmt"

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

// checkData reports whether d's samples and labels fit m.
func checkData(m Model, d *Dataset) error {
	if d.Shape != m.InputShape() || d.Classes != m.Classes() {
		return fmt.Errorf("data of shape %v with %d classes does not fit network %s (input %v, %d classes)",
			d.Shape, d.Classes, m.Name(), m.InputShape(), m.Classes())
	}
	if len(d.X) != d.Len()*d.Shape.Size() {
		return fmt.Errorf("data set holds %d values for %d samples of %v", len(d.X), d.Len(), d.Shape)
	}
	return nil
}
