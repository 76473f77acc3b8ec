package runtime

import "math"

// The kernels of the layers that deployed networks add to the tutorial's:
// batch norm, global average pooling, the clipped and leaky ReLUs, dropout's
// masking and concatenation (add needs none: it is axpy). They follow the
// conventions of generic_layers.go.

// globalAvgPoolForward computes the mean of each channel over the map:
//
//	y[s, c] = (1/(H·W)) Σ_{iy, ix} x[s, iy, ix, c]
//
// summing the positions in row-major order, then dividing, as
// [avgPoolForward] does for a window covering the whole map.
func globalAvgPoolForward[T floatType](l *layerPlan, n int, x, y []T) {
	in := l.in
	C, positions := in.Channels, in.Height*in.Width
	count := T(positions)
	for s := range n {
		xs := x[s*in.Size() : (s+1)*in.Size()]
		o := y[s*C : (s+1)*C]
		clear(o)
		for p := range positions {
			axpy(1, xs[p*C:(p+1)*C], o)
		}
		for c := range o {
			o[c] /= count
		}
	}
}

// globalAvgPoolBackward spreads each gradient evenly over the map:
//
//	dx[s, iy, ix, c] = dy[s, c] / (H·W)
//
// dx may be nil (nothing to do).
func globalAvgPoolBackward[T floatType](l *layerPlan, n int, dy, dx []T) {
	if dx == nil {
		return
	}
	in := l.in
	C, positions := in.Channels, in.Height*in.Width
	share := 1 / T(positions)
	for s := range n {
		d := dy[s*C : (s+1)*C]
		dxs := dx[s*in.Size() : (s+1)*in.Size()]
		for p := range positions {
			o := dxs[p*C : (p+1)*C]
			for c, v := range d {
				o[c] = share * v
			}
		}
	}
}

// relu6Forward computes y = min(max(x, 0), 6).
func relu6Forward[T floatType](x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = min(max(v, 0), 6)
	}
}

// relu6Backward computes dx = dy where 0 < x < 6, else 0: PyTorch's
// hardtanh gradient, 0 at both kinks. dx may be nil.
func relu6Backward[T floatType](x, dy, dx []T) {
	if dx == nil {
		return
	}
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		if v > 0 && v < 6 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

// leakyReLUForward computes y = x for x > 0, alpha·x otherwise.
func leakyReLUForward[T floatType](alpha T, x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		if v > 0 {
			y[i] = v
		} else {
			y[i] = alpha * v
		}
	}
}

// leakyReLUBackward computes dx = dy for x > 0, alpha·dy otherwise (PyTorch's
// choice at 0). dx may be nil.
func leakyReLUBackward[T floatType](alpha T, x, dy, dx []T) {
	if dx == nil {
		return
	}
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = alpha * dy[i]
		}
	}
}

// multiply computes y[i] = x[i]·mask[i]: dropout forward (x the input) and
// backward (x the output gradient, y the input gradient), mask being
// [DropoutMask]'s 0 or 1/(1−rate).
func multiply[T floatType](x []T, mask []float32, y []T) {
	mask, y = mask[:len(x)], y[:len(x)]
	for i, v := range x {
		y[i] = v * T(mask[i])
	}
}

// concatForward copies, at each of the positions (samples × pixels), the c
// channels of one input x into channels offset … offset+c−1 of y, which has
// channels values per position.
func concatForward[T floatType](positions int, x []T, c, offset int, y []T, channels int) {
	for p := range positions {
		copy(y[p*channels+offset:][:c], x[p*c:(p+1)*c])
	}
}

// concatBackward is concatForward's transpose: it copies channels offset …
// offset+c−1 of dy into dx, the gradient of the input with c channels.
func concatBackward[T floatType](positions int, dy []T, channels, offset int, dx []T, c int) {
	for p := range positions {
		copy(dx[p*c:(p+1)*c], dy[p*channels+offset:][:c])
	}
}

// batchNormTrainForward normalises each channel c with the statistics of the
// batch, over its m = n·H·W values, computed in float64:
//
//	μ_c = (1/m) Σ x,   σ²_c = (1/m) Σ (x − μ_c)²   (biased)
//	y = γ_c · (x − μ_c)/sqrt(σ²_c + ε) + β_c
//
// It keeps μ_c and 1/sqrt(σ²_c + ε) for the backward, and updates the running
// statistics as PyTorch does, with the unbiased variance:
//
//	running_mean = (1 − momentum)·running_mean + momentum·μ_c
//	running_var  = (1 − momentum)·running_var  + momentum·σ²_c·m/(m − 1)
//	num_batches_tracked += 1
//
// When m = 1 the unbiased variance is undefined (PyTorch refuses to train
// then); the biased one, 0, is used.
func batchNormTrainForward[T floatType](l *layerPlan, n int, x, gamma, beta, y []T, st *normStats[T]) {
	C := l.in.Channels
	m := n * l.in.Height * l.in.Width
	mean, invStd := st.mean, st.invStd
	clear(mean)
	for p := range m {
		for c, v := range x[p*C : (p+1)*C] {
			mean[c] += float64(v)
		}
	}
	for c := range mean {
		mean[c] /= float64(m)
	}
	variance := invStd // the variances first, then their inverse square roots in place
	clear(variance)
	for p := range m {
		for c, v := range x[p*C : (p+1)*C] {
			d := float64(v) - mean[c]
			variance[c] += d * d
		}
	}
	momentum := l.Momentum
	for c := range variance {
		v := variance[c] / float64(m)
		unbiased := v
		if m > 1 {
			unbiased = variance[c] / float64(m-1)
		}
		st.runningMean[c] = T((1-momentum)*float64(st.runningMean[c]) + momentum*mean[c])
		st.runningVar[c] = T((1-momentum)*float64(st.runningVar[c]) + momentum*unbiased)
		invStd[c] = 1 / math.Sqrt(v+l.Epsilon)
	}
	st.count++
	for p := range m {
		xs, ys := x[p*C:(p+1)*C], y[p*C:(p+1)*C]
		for c, v := range xs {
			ys[c] = T(float64(gamma[c])*(float64(v)-mean[c])*invStd[c] + float64(beta[c]))
		}
	}
}

// batchNormEvalForward normalises each channel with the running statistics:
//
//	y = γ_c · (x − running_mean_c)/sqrt(running_var_c + ε) + β_c
//
// computed in float64 and rounded once.
func batchNormEvalForward[T floatType](l *layerPlan, n int, x, gamma, beta, y []T, st *normStats[T]) {
	C := l.in.Channels
	m := n * l.in.Height * l.in.Width
	for p := range m {
		xs, ys := x[p*C:(p+1)*C], y[p*C:(p+1)*C]
		for c, v := range xs {
			scale := float64(gamma[c]) / math.Sqrt(float64(st.runningVar[c])+l.Epsilon)
			ys[c] = T(scale*(float64(v)-float64(st.runningMean[c])) + float64(beta[c]))
		}
	}
}

// batchNormBackward computes, after [batchNormTrainForward] of the same
// batch, with x̂ = (x − μ_c)/sqrt(σ²_c + ε) and the sums over the m values of
// channel c,
//
//	dγ_c += Σ dy·x̂,   dβ_c += Σ dy
//	dx = γ_c/sqrt(σ²_c + ε) · (dy − (1/m) Σ dy − x̂ · (1/m) Σ dy·x̂)
//
// the full gradient through the batch statistics (μ and σ² depend on every
// x of the channel). Sums are in float64. dx may be nil.
func batchNormBackward[T floatType](l *layerPlan, n int, x, gamma, dy, dgamma, dbeta, dx []T, st *normStats[T]) {
	C := l.in.Channels
	m := n * l.in.Height * l.in.Width
	mean, invStd := st.mean, st.invStd
	sumDy, sumDyXhat := st.sumDy, st.sumDyXhat
	clear(sumDy)
	clear(sumDyXhat)
	for p := range m {
		xs, ds := x[p*C:(p+1)*C], dy[p*C:(p+1)*C]
		for c, v := range xs {
			d := float64(ds[c])
			sumDy[c] += d
			sumDyXhat[c] += d * (float64(v) - mean[c]) * invStd[c]
		}
	}
	for c := range C {
		dgamma[c] += T(sumDyXhat[c])
		dbeta[c] += T(sumDy[c])
	}
	if dx == nil {
		return
	}
	inv := 1 / float64(m)
	for p := range m {
		xs, ds, dxs := x[p*C:(p+1)*C], dy[p*C:(p+1)*C], dx[p*C:(p+1)*C]
		for c, v := range xs {
			xhat := (float64(v) - mean[c]) * invStd[c]
			dxs[c] = T(float64(gamma[c]) * invStd[c] * (float64(ds[c]) - inv*sumDy[c] - xhat*inv*sumDyXhat[c]))
		}
	}
}
