package runtime

import (
	"math"
	"slices"
	"testing"
)

func TestSoftmaxCrossEntropyValues(t *testing.T) {
	// Two samples of three classes. Sample 0: equal logits, loss log 3.
	// Sample 1: logits (0, ln 2, ln 5)... softmax (1/8, 2/8, 5/8), label 2:
	// loss −log(5/8).
	logits := []float32{1, 1, 1, 0, float32(math.Log(2)), float32(math.Log(5))}
	labels := []int32{1, 2}
	d := make([]float32, 6)
	loss, correct := SoftmaxCrossEntropy(logits, labels, 3, 2, d)
	want := math.Log(3) - math.Log(5.0/8)
	if math.Abs(loss-want) > 1e-6 {
		t.Errorf("loss %v, want %v", loss, want)
	}
	// Sample 0 ties: the first maximum (class 0) is the prediction, not the
	// label 1. Sample 1 predicts its label 2.
	if correct != 1 {
		t.Errorf("correct %d, want 1", correct)
	}
	wantD := []float64{2.0 / 3, 2 * (1.0/3 - 1), 2.0 / 3, 2.0 / 8, 2 * 2.0 / 8, 2 * (5.0/8 - 1)}
	for i := range d {
		if math.Abs(float64(d[i])-wantD[i]) > 1e-6 {
			t.Errorf("dlogits %v, want %v", d, wantD)
			break
		}
	}
}

// TestSoftmaxCrossEntropyHugeLogits checks the log-sum-exp form: logits of
// ±1e4 make the naive softmax overflow (e^1e4) or underflow to 0 (and
// log 0 = −Inf); the fused form stays finite and exact.
func TestSoftmaxCrossEntropyHugeLogits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		logits   []float32
		label    int32
		wantLoss float64
		wantD    []float32 // with scale 0.5
	}{
		{"label far below the maximum", []float32{1e4, -1e4, 0}, 1, 2e4, []float32{0.5, -0.5, 0}},
		{"label is the maximum", []float32{1e4, -1e4, 0}, 0, 0, []float32{0, 0, 0}},
		{"all huge negative", []float32{-1e4, -1e4, -1e4 - 1}, 2, 1 + math.Log(2+math.Exp(-1)), nil},
		{"float32 extremes", []float32{math.MaxFloat32, -math.MaxFloat32}, 1, 2 * math.MaxFloat32, []float32{0.5, -0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := make([]float32, len(tc.logits))
			loss, _ := SoftmaxCrossEntropy(tc.logits, []int32{tc.label}, len(tc.logits), 0.5, d)
			if math.IsNaN(loss) || math.IsInf(loss, 0) || math.Abs(loss-tc.wantLoss) > 1e-9*math.Max(1, tc.wantLoss) {
				t.Errorf("loss %v, want %v", loss, tc.wantLoss)
			}
			for i, v := range d {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("dlogits %v not finite", d)
				}
				if tc.wantD != nil && v != tc.wantD[i] {
					t.Errorf("dlogits %v, want %v", d, tc.wantD)
					break
				}
			}
		})
	}
}

// TestGenericHugeLogits drives the engine into logits of about ±1e4 (large
// last-layer weights): loss and every gradient stay finite.
func TestGenericHugeLogits(t *testing.T) {
	g, x, labels := newDigits(t, 4)
	last := g.Params()[4] // dense2.weight
	for i := range last.Value {
		last.Value[i] *= 3e4
	}
	logits := make([]float32, 40)
	g.Forward(x, logits)
	largest := float32(0)
	for _, v := range logits {
		largest = max(largest, v, -v)
	}
	if largest < 1e3 {
		t.Fatalf("largest |logit| %v: the test does not reach huge logits", largest)
	}
	loss, _ := g.Backward(x, labels, 1)
	if math.IsNaN(loss) || math.IsInf(loss, 0) || loss <= 0 {
		t.Errorf("loss %v", loss)
	}
	for _, p := range g.Params() {
		for j, v := range p.Grad {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s.Grad[%d] = %v", p.Name, j, v)
			}
		}
	}
}

func TestSoftmaxCrossEntropyWithoutGradient(t *testing.T) {
	logits := []float32{0, 2, 1, 5, 5, -1}
	loss, correct := SoftmaxCrossEntropy(logits, []int32{1, 1}, 3, 1, nil)
	withD, correctD := SoftmaxCrossEntropy(logits, []int32{1, 1}, 3, 1, make([]float32, 6))
	if loss != withD || correct != correctD || correct != 1 {
		t.Errorf("without gradient: %v, %d; with: %v, %d (want 1 correct: sample 1 ties and picks class 0)", loss, correct, withD, correctD)
	}
}

// TestSoftmaxCrossEntropyArgmaxMatchesEvaluate checks that the correct count
// uses Argmax's rule (first maximum on ties, NaNs never win), so Backward and
// Evaluate count alike.
func TestSoftmaxCrossEntropyArgmaxMatchesEvaluate(t *testing.T) {
	nan := float32(math.NaN())
	rows := [][]float32{{nan, 1, 2}, {2, nan, 2}, {1, 3, 3}, {nan, nan, nan}, {-1, -1, -2}}
	for _, row := range rows {
		want := Argmax(row)
		for label := range int32(3) {
			loss, correct := SoftmaxCrossEntropy(row, []int32{label}, 3, 1, nil)
			if (correct == 1) != (int(label) == want) {
				t.Errorf("logits %v, label %d: correct %d, Argmax %d", row, label, correct, want)
			}
			if hasNaN := slices.ContainsFunc(row, func(v float32) bool { return v != v }); hasNaN != math.IsNaN(loss) {
				t.Errorf("logits %v: loss %v", row, loss)
			}
		}
	}
}
