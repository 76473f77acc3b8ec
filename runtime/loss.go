package runtime

import (
	"fmt"
	"math"
)

// SoftmaxCrossEntropy is softmax fused with cross-entropy, the last layer of
// every network. For the n = len(labels) samples whose logits z are laid out
// one after another (classes values each), it returns the summed loss
//
//	Σ_s −log softmax(z_s)[label_s] = Σ_s (logsumexp(z_s) − z_s[label_s])
//
// and the number of samples whose [Argmax] (the first maximum on ties; NaNs
// never win) equals the label. When dlogits is not nil it also writes the gradient of scale
// times that sum:
//
//	dlogits[s, k] = scale · (softmax(z_s)[k] − [k = label_s])
//
// The log-sum-exp is computed as m + log Σ_k e^(z_k − m) with m = max_k z_k,
// in float64, so no exponential overflows and a probability that underflows
// to 0 gives a finite loss (the naive log(softmax) would give −log 0 = +Inf,
// then NaN gradients). Only a non-finite logit gives a non-finite loss.
//
// Generated models call it too, so that every engine computes the loss
// identically. It panics if len(logits) ≠ n·classes, dlogits has another
// length, or a label is outside [0, classes): the data loaders validate
// labels, so that is a programming error.
func SoftmaxCrossEntropy(logits []float32, labels []int32, classes int, scale float32, dlogits []float32) (loss float64, correct int) {
	return softmaxCrossEntropy(logits, labels, classes, scale, dlogits)
}

// softmaxCrossEntropy is [SoftmaxCrossEntropy] for either precision.
func softmaxCrossEntropy[T floatType](logits []T, labels []int32, classes int, scale T, dlogits []T) (loss float64, correct int) {
	n := len(labels)
	if len(logits) != n*classes {
		panic(fmt.Sprintf("runtime: softmax cross-entropy: %d logits for %d samples × %d classes", len(logits), n, classes))
	}
	if dlogits != nil && len(dlogits) != len(logits) {
		panic(fmt.Sprintf("runtime: softmax cross-entropy: %d gradient values for %d logits", len(dlogits), len(logits)))
	}
	for s, label := range labels {
		if label < 0 || int(label) >= classes {
			panic(fmt.Sprintf("runtime: softmax cross-entropy: sample %d has label %d, want 0 ≤ label < %d", s, label, classes))
		}
		z := logits[s*classes : (s+1)*classes]
		best := argmax(z)
		if best == int(label) {
			correct++
		}
		m := float64(z[best])
		sum := 0.0
		for _, v := range z {
			sum += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(sum)
		loss += lse - float64(z[label])
		if dlogits == nil {
			continue
		}
		d := dlogits[s*classes : (s+1)*classes]
		for k, v := range z {
			p := math.Exp(float64(v) - lse)
			if k == int(label) {
				p--
			}
			d[k] = T(float64(scale) * p)
		}
	}
	return loss, correct
}

// argmax is [Argmax] for either precision: the first maximum on ties, and
// NaNs never win (so correct counts agree with [Evaluate]'s).
func argmax[T floatType](row []T) int {
	best := 0
	for i := 1; i < len(row); i++ {
		if row[i] > row[best] || (row[best] != row[best] && row[i] == row[i]) {
			best = i
		}
	}
	return best
}

// SumSquaredError is the squared-error loss of a regression network
// (the [SquaredError] loss kind). For the
// outputs y and targets t of a batch (of the same length: samples × outputs,
// one sample after another) it returns
//
//	Σ_i (y_i − t_i)²
//
// summed in float64, and when dout is not nil writes the gradient of scale
// times that sum: dout_i = 2·scale·(y_i − t_i). Scale 1 trains on the sum,
// 1/(samples·outputs) on PyTorch's MSELoss mean. Generated models call it
// too, so that every engine computes the loss identically. It panics if the
// lengths differ (the loaders check the targets, so that is a programming
// error).
func SumSquaredError(outputs, targets []float32, scale float32, dout []float32) float64 {
	return squaredError(outputs, targets, scale, dout)
}

// squaredError is [SumSquaredError] for either precision.
func squaredError[T floatType](outputs, targets []T, scale T, dout []T) (loss float64) {
	if len(targets) != len(outputs) {
		panic(fmt.Sprintf("runtime: squared error: %d targets for %d outputs", len(targets), len(outputs)))
	}
	if dout != nil && len(dout) != len(outputs) {
		panic(fmt.Sprintf("runtime: squared error: %d gradient values for %d outputs", len(dout), len(outputs)))
	}
	for i, y := range outputs {
		d := float64(y) - float64(targets[i])
		loss += d * d
		if dout != nil {
			dout[i] = T(2 * float64(scale) * d)
		}
	}
	return loss
}
