package runtime

import (
	"math"
	"strings"
	"testing"
)

// echoModel is a Model whose logits are its inputs (shape 1×1×classes), so
// that a test chooses every prediction through the data.
type echoModel struct{ classes int }

func (m echoModel) Name() string      { return "echo" }
func (m echoModel) InputShape() Shape { return Shape{Height: 1, Width: 1, Channels: m.classes} }
func (m echoModel) Classes() int      { return m.classes }
func (m echoModel) Params() []Param   { return nil }
func (m echoModel) Forward(x, logits []float32) {
	copy(logits, x)
}
func (m echoModel) Backward([]float32, []int32, float32) (float64, int) { return 0, 0 }

// oneHot returns a data set for echoModel whose sample i is predicted as
// predicted[i] and labelled truth[i].
func oneHot(classes int, truth, predicted []int) *Dataset {
	d := &Dataset{Shape: Shape{Height: 1, Width: 1, Channels: classes}, Classes: classes}
	for i := range truth {
		row := make([]float32, classes)
		row[predicted[i]] = 1
		d.X = append(d.X, row...)
		d.Y = append(d.Y, int32(truth[i]))
	}
	return d
}

// TestConfusion checks the matrix and every figure against values computed
// by hand for ten samples in four classes, class 3 never occurring:
//
//	true\pred  0  1  2  3     predicted: 2 5 3 0
//	   0       2  1  0  0     support 3
//	   1       0  3  1  0     support 4
//	   2       0  1  2  0     support 3
//	   3       0  0  0  0     support 0
//
// precision 2/2, 3/5, 2/3, 0; recall 2/3, 3/4, 2/3, 0;
// F1 = 2pr/(p+r) = 0.8, 2/3, 2/3, 0.
func TestConfusion(t *testing.T) {
	truth := []int{0, 0, 0, 1, 1, 1, 1, 2, 2, 2}
	predicted := []int{0, 0, 1, 1, 1, 1, 2, 1, 2, 2}
	c, err := ConfusionOf(echoModel{4}, oneHot(4, truth, predicted))
	if err != nil {
		t.Fatal(err)
	}
	want := []int{
		2, 1, 0, 0,
		0, 3, 1, 0,
		0, 1, 2, 0,
		0, 0, 0, 0,
	}
	for i, w := range want {
		if c.Counts[i] != w {
			t.Fatalf("Counts = %v, want %v", c.Counts, want)
		}
	}
	if c.Total() != 10 || c.Correct() != 7 || c.Accuracy() != 0.7 {
		t.Errorf("total %d correct %d accuracy %g, want 10, 7, 0.7", c.Total(), c.Correct(), c.Accuracy())
	}
	if s := c.Score().String(); s != "0.7000 (7/10)" {
		t.Errorf("Score = %s", s)
	}
	near := func(what string, k int, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("%s(%d) = %.15g, want %.15g", what, k, got, want)
		}
	}
	precision := []float64{1, 0.6, 2.0 / 3, 0}
	recall := []float64{2.0 / 3, 0.75, 2.0 / 3, 0}
	f1 := []float64{0.8, 2.0 / 3, 2.0 / 3, 0}
	support := []int{3, 4, 3, 0}
	predictedCount := []int{2, 5, 3, 0}
	for k := range 4 {
		near("Precision", k, c.Precision(k), precision[k])
		near("Recall", k, c.Recall(k), recall[k])
		near("F1", k, c.F1(k), f1[k])
		if c.Support(k) != support[k] || c.Predicted(k) != predictedCount[k] {
			t.Errorf("class %d: support %d predicted %d, want %d and %d", k, c.Support(k), c.Predicted(k), support[k], predictedCount[k])
		}
	}
	p, r, f := c.MacroAverage()
	near("macro precision", -1, p, (1+0.6+2.0/3)/4)
	near("macro recall", -1, r, (2.0/3+0.75+2.0/3)/4)
	near("macro F1", -1, f, (0.8+2.0/3+2.0/3)/4)
}

// TestConfusionTies checks that a tie goes to the first maximum, as Evaluate
// counts it.
func TestConfusionTies(t *testing.T) {
	d := &Dataset{Shape: Shape{Height: 1, Width: 1, Channels: 3}, Classes: 3,
		X: []float32{1, 1, 0, 0, 2, 2}, Y: []int32{0, 2}}
	c, err := ConfusionOf(echoModel{3}, d)
	if err != nil {
		t.Fatal(err)
	}
	if c.At(0, 0) != 1 || c.At(2, 1) != 1 || c.Total() != 2 {
		t.Errorf("Counts = %v, want a tie to go to the first maximum", c.Counts)
	}
	s, err := Evaluate(echoModel{3}, d)
	if err != nil || s != c.Score() {
		t.Errorf("Evaluate = %v, %v; confusion says %v", s, err, c.Score())
	}
}

// TestConfusionChunks crosses the evaluation chunk size, so that every chunk
// is counted once.
func TestConfusionChunks(t *testing.T) {
	n := 2*evalChunk + 3
	truth, predicted := make([]int, n), make([]int, n)
	for i := range n {
		truth[i], predicted[i] = i%2, i%3%2
	}
	c, err := ConfusionOf(echoModel{2}, oneHot(2, truth, predicted))
	if err != nil {
		t.Fatal(err)
	}
	want := NewConfusion(2)
	for i := range n {
		want.Add(truth[i], predicted[i])
	}
	for i := range want.Counts {
		if c.Counts[i] != want.Counts[i] {
			t.Fatalf("Counts = %v, want %v", c.Counts, want.Counts)
		}
	}
}

func TestConfusionWrongData(t *testing.T) {
	d := oneHot(3, []int{0}, []int{0})
	_, err := ConfusionOf(echoModel{4}, d)
	if err == nil || !strings.Contains(err.Error(), "does not fit network echo") {
		t.Errorf("err = %v, want a shape mismatch", err)
	}
}
