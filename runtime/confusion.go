package runtime

import "fmt"

// Confusion is a confusion matrix: how many samples of each true class a
// classifier assigned to each class. From it come the accuracy and, per
// class, the precision, recall and F1 score that scikit-learn's
// classification_report prints.
type Confusion struct {
	// Classes is the number of classes.
	Classes int
	// Counts holds Classes×Classes counts, row-major: Counts[t*Classes+p]
	// samples of true class t were predicted as class p.
	Counts []int
}

// NewConfusion returns an empty confusion matrix for the given number of
// classes (at least 1).
func NewConfusion(classes int) *Confusion {
	return &Confusion{Classes: classes, Counts: make([]int, classes*classes)}
}

// Add counts one sample of true class truth predicted as predicted. Both
// must lie in 0..Classes-1.
func (c *Confusion) Add(truth, predicted int) { c.Counts[truth*c.Classes+predicted]++ }

// At is the number of samples of true class truth predicted as predicted.
func (c *Confusion) At(truth, predicted int) int { return c.Counts[truth*c.Classes+predicted] }

// Total is the number of samples counted.
func (c *Confusion) Total() int {
	n := 0
	for _, v := range c.Counts {
		n += v
	}
	return n
}

// Correct is the number of samples predicted as their true class (the
// diagonal).
func (c *Confusion) Correct() int {
	n := 0
	for k := range c.Classes {
		n += c.At(k, k)
	}
	return n
}

// Score returns the correct answers out of the total.
func (c *Confusion) Score() Score { return Score{Correct: c.Correct(), Total: c.Total()} }

// Accuracy is Correct/Total, or 0 when nothing was counted.
func (c *Confusion) Accuracy() float64 { return c.Score().Accuracy() }

// Support is the number of samples whose true class is k (row k's sum).
func (c *Confusion) Support(k int) int {
	n := 0
	for p := range c.Classes {
		n += c.At(k, p)
	}
	return n
}

// Predicted is the number of samples predicted as class k (column k's sum).
func (c *Confusion) Predicted(k int) int {
	n := 0
	for t := range c.Classes {
		n += c.At(t, k)
	}
	return n
}

// Precision is the share of the samples predicted as k that are of class k:
// At(k, k)/Predicted(k). It is 0 when nothing was predicted as k (as
// scikit-learn reports with zero_division=0).
func (c *Confusion) Precision(k int) float64 { return ratio(c.At(k, k), c.Predicted(k)) }

// Recall is the share of the samples of class k predicted as k:
// At(k, k)/Support(k), or 0 when there are none.
func (c *Confusion) Recall(k int) float64 { return ratio(c.At(k, k), c.Support(k)) }

// F1 is the harmonic mean of the precision and recall of class k, or 0 when
// both are 0.
func (c *Confusion) F1(k int) float64 {
	p, r := c.Precision(k), c.Recall(k)
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// MacroAverage returns the unweighted means over the classes of the
// precision, recall and F1 score (scikit-learn's "macro avg").
func (c *Confusion) MacroAverage() (precision, recall, f1 float64) {
	for k := range c.Classes {
		precision += c.Precision(k)
		recall += c.Recall(k)
		f1 += c.F1(k)
	}
	n := float64(c.Classes)
	return precision / n, recall / n, f1 / n
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// ConfusionOf runs m on every sample of d (with Forward, in chunks) and
// counts its answers (the first maximum of the logits) against the labels.
// It checks that d matches the model's input shape and classes.
func ConfusionOf(m Model, d *Dataset) (*Confusion, error) {
	if err := checkData(m, d); err != nil {
		return nil, err
	}
	classes := m.Classes()
	c := NewConfusion(classes)
	size := d.Shape.Size()
	logits := make([]float32, min(evalChunk, d.Len())*classes)
	for lo := 0; lo < d.Len(); lo += evalChunk {
		hi := min(lo+evalChunk, d.Len())
		out := logits[:(hi-lo)*classes]
		m.Forward(d.X[lo*size:hi*size], out)
		for i := lo; i < hi; i++ {
			k := i - lo
			label := int(d.Y[i])
			if label < 0 || label >= classes {
				return nil, fmt.Errorf("sample %d: label %d is out of range: want 0..%d", i, label, classes-1)
			}
			c.Add(label, Argmax(out[k*classes:(k+1)*classes]))
		}
	}
	return c, nil
}
