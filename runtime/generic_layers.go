package runtime

import "math"

// The layer kernels of the generic engine. Each works on a batch of n
// samples in batch-major HWC layout (see [engine]) and states the loop it
// computes. Backward kernels accumulate parameter gradients (the engine
// clears them once per batch) and overwrite the input gradient din; a nil
// din means the input gradient is not needed (the first layer).
//
// Index conventions, for a layer with input shape (H, W, C) and output shape
// (OH, OW, F):
//
//	x[s, y, x, c]      = x[((s·H + y)·W + x)·C + c]
//	w[ky, kx, c, f]    = w[((ky·KW + kx)·C + c)·F + f]   (conv, HWIO)
//	w[i, u]            = w[i·U + u]                      (dense)
//
// Conv and pool windows start at (oy·SH − padTop, ox·SW − padLeft); window
// positions outside the input are padding and are skipped (see windowRange).

// convForward computes, for every sample s and output position (oy, ox, f),
//
//	y[s, oy, ox, f] = b[f] + Σ_{ky, kx, c in f's group} x[s, oy·SH − padTop + ky, ox·SW − padLeft + kx, c] · w[ky, kx, c − g·Cg, f]
//
// over the window positions inside the input (zero padding contributes
// nothing), where filter f is in group g = f/Fg, which sees the Cg = C/G
// input channels g·Cg … (g+1)·Cg−1 (Fg = F/G filters per group; one group
// sees every channel). b is nil without a bias. The inner loop runs over
// the group's filters, contiguous in w and y.
func convForward[T floatType](l *layerPlan, n int, x, w, b, y []T) {
	in, out := l.in, l.out
	C, F, KW := in.Channels, out.Channels, l.KernelW
	Cg, Fg := C/l.GroupCount(), F/l.GroupCount()
	for s := range n {
		xs := x[s*in.Size() : (s+1)*in.Size()]
		ys := y[s*out.Size() : (s+1)*out.Size()]
		for oy := range out.Height {
			iy0, ky0, ky1 := windowRange(oy, l.StrideH, l.padTop, l.KernelH, in.Height)
			for ox := range out.Width {
				ix0, kx0, kx1 := windowRange(ox, l.StrideW, l.padLeft, KW, in.Width)
				o := ys[(oy*out.Width+ox)*F:][:F]
				if b != nil {
					copy(o, b)
				} else {
					clear(o)
				}
				for ky := ky0; ky < ky1; ky++ {
					for kx := kx0; kx < kx1; kx++ {
						xin := xs[((iy0+ky)*in.Width+ix0+kx)*C:][:C]
						wk := w[(ky*KW+kx)*Cg*F:][:Cg*F]
						for g := range l.GroupCount() {
							og := o[g*Fg : (g+1)*Fg]
							for cg, a := range xin[g*Cg : (g+1)*Cg] {
								axpy(a, wk[cg*F+g*Fg:][:Fg], og)
							}
						}
					}
				}
			}
		}
	}
}

// convBackward computes, from dy (the gradient w.r.t. y of [convForward]),
// with g the group of filter f and c in it,
//
//	db[f]                 += Σ_{s, oy, ox} dy[s, oy, ox, f]
//	dw[ky, kx, c−g·Cg, f] += Σ_{s, oy, ox} x[s, iy, ix, c] · dy[s, oy, ox, f]
//	dx[s, iy, ix, c]       = Σ_{oy, ox, ky, kx, f in c's group : iy, ix inside that window} w[ky, kx, c−g·Cg, f] · dy[s, oy, ox, f]
//
// with iy = oy·SH − padTop + ky, ix = ox·SW − padLeft + kx. db (no bias) and
// dx may be nil.
func convBackward[T floatType](l *layerPlan, n int, x, w, dy, dw, db, dx []T) {
	in, out := l.in, l.out
	C, F, KW := in.Channels, out.Channels, l.KernelW
	Cg, Fg := C/l.GroupCount(), F/l.GroupCount()
	clear(dx)
	for s := range n {
		xs := x[s*in.Size() : (s+1)*in.Size()]
		dys := dy[s*out.Size() : (s+1)*out.Size()]
		var dxs []T
		if dx != nil {
			dxs = dx[s*in.Size() : (s+1)*in.Size()]
		}
		for oy := range out.Height {
			iy0, ky0, ky1 := windowRange(oy, l.StrideH, l.padTop, l.KernelH, in.Height)
			for ox := range out.Width {
				ix0, kx0, kx1 := windowRange(ox, l.StrideW, l.padLeft, KW, in.Width)
				d := dys[(oy*out.Width+ox)*F:][:F]
				if db != nil {
					axpy(1, d, db)
				}
				for ky := ky0; ky < ky1; ky++ {
					for kx := kx0; kx < kx1; kx++ {
						at := ((iy0+ky)*in.Width + ix0 + kx) * C
						xin := xs[at:][:C]
						wk := w[(ky*KW+kx)*Cg*F:][:Cg*F]
						dwk := dw[(ky*KW+kx)*Cg*F:][:Cg*F]
						for g := range l.GroupCount() {
							dg := d[g*Fg : (g+1)*Fg]
							for cg, a := range xin[g*Cg : (g+1)*Cg] {
								axpy(a, dg, dwk[cg*F+g*Fg:][:Fg])
							}
							if dxs != nil {
								dxin := dxs[at+g*Cg:][:Cg]
								for cg := range dxin {
									dxin[cg] += dot(wk[cg*F+g*Fg:][:Fg], dg)
								}
							}
						}
					}
				}
			}
		}
	}
}

// maxPoolForward computes
//
//	y[s, oy, ox, c] = max_{ky, kx} x[s, oy·SH − padTop + ky, ox·SW − padLeft + kx, c]
//
// with −∞ padding: padded positions never win, and since every window holds
// at least one input value (TensorFlow's padding guarantees it), they are
// simply skipped. Among equal values the first in row-major window order is
// kept (only a strictly greater value replaces it). A window holding a NaN
// has a NaN maximum, on every path (maxPoolBackward gives it no gradient).
func maxPoolForward[T floatType](l *layerPlan, n int, x, y []T) {
	in, out := l.in, l.out
	C := in.Channels
	for s := range n {
		xs := x[s*in.Size() : (s+1)*in.Size()]
		ys := y[s*out.Size() : (s+1)*out.Size()]
		for oy := range out.Height {
			iy0, ky0, ky1 := windowRange(oy, l.StrideH, l.padTop, l.KernelH, in.Height)
			for ox := range out.Width {
				ix0, kx0, kx1 := windowRange(ox, l.StrideW, l.padLeft, l.KernelW, in.Width)
				o := ys[(oy*out.Width+ox)*C:][:C]
				first := true
				for ky := ky0; ky < ky1; ky++ {
					for kx := kx0; kx < kx1; kx++ {
						xin := xs[((iy0+ky)*in.Width+ix0+kx)*C:][:C]
						if first {
							copy(o, xin)
							first = false
							continue
						}
						for c, v := range xin {
							// A NaN tap makes the maximum NaN (Go's max,
							// PyTorch), and nothing replaces a NaN.
							if v > o[c] || v != v {
								o[c] = v
							}
						}
					}
				}
			}
		}
	}
}

// maxPoolBackward routes each output gradient to one input: the first
// maximum of its window in row-major order (as TensorFlow and PyTorch do;
// digits has exact ties, e.g. windows of zeros after ReLU):
//
//	dx[s, iy, ix, c] = Σ_{windows whose first maximum is (iy, ix)} dy[s, oy, ox, c]
//
// y is the forward output: y[s, oy, ox, c] is a copy of that first maximum,
// so the first window value equal to it is the one. arg is scratch of at
// least C entries. dx may be nil (nothing to do).
func maxPoolBackward[T floatType](l *layerPlan, n int, x, y, dy, dx []T, arg []int) {
	if dx == nil {
		return
	}
	in, out := l.in, l.out
	C := in.Channels
	arg = arg[:C]
	clear(dx)
	for s := range n {
		xs := x[s*in.Size() : (s+1)*in.Size()]
		dxs := dx[s*in.Size() : (s+1)*in.Size()]
		for oy := range out.Height {
			iy0, ky0, ky1 := windowRange(oy, l.StrideH, l.padTop, l.KernelH, in.Height)
			for ox := range out.Width {
				ix0, kx0, kx1 := windowRange(ox, l.StrideW, l.padLeft, l.KernelW, in.Width)
				at := (s*out.Size() + (oy*out.Width+ox)*C)
				o, d := y[at:][:C], dy[at:][:C]
				for c := range arg {
					arg[c] = -1
				}
				for ky := ky0; ky < ky1; ky++ {
					for kx := kx0; kx < kx1; kx++ {
						base := ((iy0+ky)*in.Width + ix0 + kx) * C
						xin := xs[base:][:C]
						for c, v := range xin {
							if arg[c] < 0 && v == o[c] {
								arg[c] = base + c
							}
						}
					}
				}
				// arg stays −1 only for a NaN maximum, which has no gradient.
				for c, a := range arg {
					if a >= 0 {
						dxs[a] += d[c]
					}
				}
			}
		}
	}
}

// avgPoolForward computes the mean over the window positions inside the
// input:
//
//	y[s, oy, ox, c] = (1/count) Σ_{ky, kx inside} x[s, oy·SH − padTop + ky, ox·SW − padLeft + kx, c]
//
// As TensorFlow does with SAME padding, count is the number of non-padded
// positions of the window, not KH·KW: padding neither adds zeros to the sum
// nor to the divisor.
func avgPoolForward[T floatType](l *layerPlan, n int, x, y []T) {
	in, out := l.in, l.out
	C := in.Channels
	for s := range n {
		xs := x[s*in.Size() : (s+1)*in.Size()]
		ys := y[s*out.Size() : (s+1)*out.Size()]
		for oy := range out.Height {
			iy0, ky0, ky1 := windowRange(oy, l.StrideH, l.padTop, l.KernelH, in.Height)
			for ox := range out.Width {
				ix0, kx0, kx1 := windowRange(ox, l.StrideW, l.padLeft, l.KernelW, in.Width)
				o := ys[(oy*out.Width+ox)*C:][:C]
				clear(o)
				for ky := ky0; ky < ky1; ky++ {
					for kx := kx0; kx < kx1; kx++ {
						axpy(1, xs[((iy0+ky)*in.Width+ix0+kx)*C:][:C], o)
					}
				}
				count := T((ky1 - ky0) * (kx1 - kx0))
				for c := range o {
					o[c] /= count
				}
			}
		}
	}
}

// avgPoolBackward spreads each output gradient evenly over the non-padded
// positions of its window:
//
//	dx[s, iy, ix, c] = Σ_{windows containing (iy, ix)} dy[s, oy, ox, c] / count(oy, ox)
//
// dx may be nil (nothing to do).
func avgPoolBackward[T floatType](l *layerPlan, n int, dy, dx []T) {
	if dx == nil {
		return
	}
	in, out := l.in, l.out
	C := in.Channels
	clear(dx)
	for s := range n {
		dys := dy[s*out.Size() : (s+1)*out.Size()]
		dxs := dx[s*in.Size() : (s+1)*in.Size()]
		for oy := range out.Height {
			iy0, ky0, ky1 := windowRange(oy, l.StrideH, l.padTop, l.KernelH, in.Height)
			for ox := range out.Width {
				ix0, kx0, kx1 := windowRange(ox, l.StrideW, l.padLeft, l.KernelW, in.Width)
				d := dys[(oy*out.Width+ox)*C:][:C]
				share := 1 / T((ky1-ky0)*(kx1-kx0))
				for ky := ky0; ky < ky1; ky++ {
					for kx := kx0; kx < kx1; kx++ {
						axpy(share, d, dxs[((iy0+ky)*in.Width+ix0+kx)*C:][:C])
					}
				}
			}
		}
	}
}

// denseForward computes
//
//	y[s, u] = b[u] + Σ_i x[s, i] · w[i, u]
//
// with the inner loop over the units, contiguous in w and y. b is nil
// without a bias.
func denseForward[T floatType](l *layerPlan, n int, x, w, b, y []T) {
	In, U := l.in.Size(), l.out.Channels
	for s := range n {
		o := y[s*U : (s+1)*U]
		if b != nil {
			copy(o, b)
		} else {
			clear(o)
		}
		for i, a := range x[s*In : (s+1)*In] {
			axpy(a, w[i*U:(i+1)*U], o)
		}
	}
}

// denseBackward computes, from dy (the gradient w.r.t. y of [denseForward]),
//
//	db[u]    += Σ_s dy[s, u]
//	dw[i, u] += Σ_s x[s, i] · dy[s, u]
//	dx[s, i]  = Σ_u w[i, u] · dy[s, u]
//
// db (no bias) and dx may be nil.
func denseBackward[T floatType](l *layerPlan, n int, x, w, dy, dw, db, dx []T) {
	In, U := l.in.Size(), l.out.Channels
	for s := range n {
		d := dy[s*U : (s+1)*U]
		if db != nil {
			axpy(1, d, db)
		}
		for i, a := range x[s*In : (s+1)*In] {
			axpy(a, d, dw[i*U:(i+1)*U])
		}
		if dx != nil {
			dxs := dx[s*In : (s+1)*In]
			for i := range dxs {
				dxs[i] = dot(w[i*U:(i+1)*U], d)
			}
		}
	}
}

// reluForward computes y = max(x, 0).
func reluForward[T floatType](x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

// reluBackward computes dx = dy where x > 0, else 0 (the derivative at 0 is
// taken as 0). dx may be nil.
func reluBackward[T floatType](x, dy, dx []T) {
	if dx == nil {
		return
	}
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

// sigmoidForward computes y = 1/(1+e^−x), in float64 and rounded once. For
// very negative x, e^−x overflows to +Inf and y is 0, not NaN.
func sigmoidForward[T floatType](x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = T(1 / (1 + math.Exp(-float64(v))))
	}
}

// sigmoidBackward computes dx = dy·y·(1−y) from the forward output y. dx may
// be nil.
func sigmoidBackward[T floatType](y, dy, dx []T) {
	if dx == nil {
		return
	}
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		dx[i] = dy[i] * v * (1 - v)
	}
}

// tanhForward computes y = tanh(x), in float64 and rounded once.
func tanhForward[T floatType](x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = T(math.Tanh(float64(v)))
	}
}

// tanhBackward computes dx = dy·(1−y²) from the forward output y. dx may be
// nil.
func tanhBackward[T floatType](y, dy, dx []T) {
	if dx == nil {
		return
	}
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		dx[i] = dy[i] * (1 - v*v)
	}
}

// axpy computes y[i] += a·x[i] for i < len(y); x must be at least as long.
// Unrolled by four: about 1.5× faster than the plain loop with Go's scalar
// code, and each y[i] is still computed exactly as y[i] + a·x[i].
func axpy[T floatType](a T, x, y []T) {
	x = x[:len(y):len(y)] // panics when x is shorter
	i := 0
	for ; i+4 <= len(y); i += 4 {
		// Four-element views let the compiler drop the bounds checks.
		yy, xx := y[i:i+4:i+4], x[i:i+4:i+4]
		yy[0] += a * xx[0]
		yy[1] += a * xx[1]
		yy[2] += a * xx[2]
		yy[3] += a * xx[3]
	}
	for ; i < len(y); i++ {
		y[i] += a * x[i]
	}
}

// dot returns Σ x[i]·y[i] for i < len(x); y must be at least as long. It
// keeps four partial sums (elements i ≡ 0, 1, 2, 3 mod 4), added as
// (s0+s1)+(s2+s3) at the end: about twice as fast as one running sum, whose
// every addition waits for the previous one.
func dot[T floatType](x, y []T) T {
	y = y[:len(x):len(x)] // panics when y is shorter
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(x); i += 4 {
		xx, yy := x[i:i+4:i+4], y[i:i+4:i+4]
		s0 += xx[0] * yy[0]
		s1 += xx[1] * yy[1]
		s2 += xx[2] * yy[2]
		s3 += xx[3] * yy[3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}
