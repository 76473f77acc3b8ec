package asm

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// gemms lists the GEMM kernels (TEXT symbols, per ISA) that implement k,
// with their shape arguments.
func (k Kernel) gemms() []gemmSpec {
	gs := k.gemmSpecs()
	for i := range gs {
		gs[i] = gs[i].withShape()
	}
	return gs
}

// gemmSpecs lists the GEMM kernels that implement k, with their own
// arguments only.
func (k Kernel) gemmSpecs() []gemmSpec {
	in, units := k.In, k.Units
	ref := k.Name + "Go"
	switch k.Op {
	case DenseForward:
		act, end := "", ""
		if k.ReLU {
			act, end = "max(0, ", ")"
		}
		wStride, layout := units, "w in [In][Units] layout."
		if k.Padded {
			wStride, layout = PaddedStride(units), fmt.Sprintf("w padded to [In][%d].", PaddedStride(units))
		}
		return []gemmSpec{{
			symbol: k.Name, args: []string{"y", "x", "w", "b", "n"}, counts: []string{"n"},
			aArg: "x", bArg: "w", cArg: "y", biasArg: "b", rowsArg: "n", kImm: in, width: units,
			aRowStride: 4 * in, aKStride: 4, bKStride: 4 * wStride, cRowStride: 4 * units,
			init: initBias, relu: k.ReLU, reference: ref,
			what: []string{
				fmt.Sprintf("y[s][j] = %sb[j] + Σ_i x[s][i]·w[i][j]%s   s < n, i < %d, j < %d", act, end, in, units),
				"Rows (samples) in register blocks, a loop then remainders; the",
				"columns of each block unrolled; " + layout,
			},
		}}
	case DenseForwardOne:
		act, end := "", ""
		if k.ReLU {
			act, end = "max(0, ", ")"
		}
		wStride := units
		if k.Padded {
			wStride = PaddedStride(units)
		}
		return []gemmSpec{{
			symbol: k.Name, args: []string{"y", "x", "w", "b"},
			aArg: "x", bArg: "w", cArg: "y", biasArg: "b", rowsImm: 1, kImm: in, width: units,
			aKStride: 4, bKStride: 4 * wStride, cRowStride: 4 * units,
			init: initBias, relu: k.ReLU, streamB: true, reference: ref,
			what: []string{
				fmt.Sprintf("y[j] = %sb[j] + Σ_i x[i]·w[i][j]%s   i < %d, j < %d", act, end, in, units),
				"One sample: w streamed once as FMA memory operands, a row at a time.",
			},
		}}
	case DenseBackwardInput:
		args, gate, what := []string{"dx", "dy", "wt", "n"}, "", []string(nil)
		if k.ReLU {
			args, gate = []string{"dx", "dy", "h", "wt", "n"}, "h"
			what = []string{"Fused ReLU backward: dx[s][i] = 0 where h[s][i] ≤ 0 (h: this layer's input,", "the output of the ReLU before it)."}
		}
		return []gemmSpec{{
			symbol: k.Name, args: args, counts: []string{"n"}, gateArg: gate,
			aArg: "dy", bArg: "wt", cArg: "dx", rowsArg: "n", kImm: units, width: in,
			aRowStride: 4 * units, aKStride: 4, bKStride: 4 * PaddedStride(in), cRowStride: 4 * in,
			init: initZero, reference: ref,
			what: append([]string{
				fmt.Sprintf("dx[s][i] = Σ_j dy[s][j]·wt[j][i]   s < n, j < %d, i < %d", units, in),
				fmt.Sprintf("wt is the weight matrix transposed and padded ([Units][%d]), so this is the", PaddedStride(in)),
				"forward GEMM's loop with the roles of In and Units swapped.",
			}, what...),
		}}
	case DenseBackwardWeights:
		args := []string{"dw", "db", "x", "dy", "n"}
		// weightGradChunk samples per call (gemmSpec.kChunk); how the
		// chunk was chosen is in benchmarks/RESULTS.md, "The weight
		// gradient's GEMM in chunks of 64 samples".
		const weightGradChunk = 64
		return []gemmSpec{{
			symbol: k.Name + "Weights", args: args, counts: []string{"n"},
			aArg: "x", bArg: "dy", cArg: "dw", rowsImm: in, kArg: "n", width: units,
			aRowStride: 4, aKStride: 4 * in, bKStride: 4 * units, cRowStride: 4 * units,
			kStrided: true, kChunk: weightGradChunk, init: initLoad, reference: ref,
			what: []string{
				fmt.Sprintf("dw[i][j] += Σ_s x[s][i]·dy[s][j]   i < %d, j < %d, s < n", in, units),
				"A GEMM whose rows are the inputs i (A = xᵀ) and whose reduction",
				"runs over the samples; dw is loaded, accumulated and stored once.",
			},
		}, {
			symbol: k.Name + "Bias", args: args, counts: []string{"n"},
			bArg: "dy", cArg: "db", rowsImm: 1, kArg: "n", width: units,
			bKStride: 4 * units, init: initLoad, streamB: true, reference: ref,
			what: []string{
				fmt.Sprintf("db[j] += Σ_s dy[s][j]   j < %d, s < n", units),
				"A one-row GEMM with A = 1.0 (exact: 1·dy rounds like dy).",
			},
		}}
	}
	return nil
}

// convs lists the convolution kernels that implement k.
func (k Kernel) convs() []convSpec {
	c := k.Conv
	geom := fmt.Sprintf("%dx%dx%d input, %dx%d kernel, stride %d,%d, padding %d,%d, %dx%dx%d output",
		c.InH, c.InW, c.InC, c.KernelH, c.KernelW, c.StrideH, c.StrideW, c.PadTop, c.PadLeft, c.OutH, c.OutW, c.Filters)
	switch k.Op {
	case Conv2DForward:
		act, end := "", ""
		if k.ReLU {
			act, end = "max(0, ", ")"
		}
		return []convSpec{{
			symbol: k.Name, args: []string{"y", "x", "w", "b", "n"}, counts: []string{"n"},
			shape: c, relu: k.ReLU, reference: k.Name + "Go",
			what: []string{
				fmt.Sprintf("y[s][oh][ow][f] = %sb[f] + Σ_{kh,kw,c} x[s][ih][iw][c]·w[kh][kw][c][f]%s   s < n", act, end),
				geom + ".",
				"Vectorised across filters: per output row, groups of pixels along it",
				"accumulate over a loop on the kernel rows inside the input, kernel",
				"columns and channels unrolled (padding taps left out), so that each",
				"weight vector serves the group's pixels.",
			},
		}}
	case Conv2DBackwardInput:
		args := []string{"dx", "dy", "wt", "n"}
		what := []string{
			"dx[s][ih][iw][c] = Σ_{kh,kw,f} dy[s][oh][ow][f]·wt[kh][kw][f][c]   s < n,",
			"over the output pixels and taps whose window reads (ih, iw).",
			geom + ".",
			fmt.Sprintf("wt is w transposed to [%d][%d][%d][%d] (channels padded). Vectorised across", c.KernelH, c.KernelW, c.Filters, PaddedStride(c.InC)),
			"channels; every input pixel unrolled, a few at a time, their terms interleaved.",
		}
		if k.ReLU {
			args = []string{"dx", "dy", "h", "wt", "n"}
			what = append(what, "Fused ReLU backward: dx = 0 where h ≤ 0 (h: this layer's input).")
		}
		return []convSpec{{
			symbol: k.Name, args: args, counts: []string{"n"},
			shape: c, input: true, relu: k.ReLU, reference: k.Name + "Go", what: what,
		}}
	case Conv2DBackwardWeights:
		return []convSpec{{
			symbol: k.Name, args: []string{"dw", "db", "x", "dy", "n"}, counts: []string{"n"},
			shape: c, backward: true, reference: k.Name + "Go",
			what: []string{
				"dw[kh][kw][c][f] += Σ_{s,oh,ow} x[s][ih][iw][c]·dy[s][oh][ow][f]   s < n",
				"db[f] += Σ_{s,oh,ow} dy[s][oh][ow][f]",
				geom + ".",
				"dw and db stay in registers across the samples (in passes when they",
				"do not fit); loops over the output pixels in runs with the same taps",
				"inside the input (the interior, each padded border).",
			},
		}}
	}
	return nil
}

// funcs lists every TEXT symbol (without ISA suffix) of k, in file order.
func (k Kernel) funcs() []asmFunc {
	var fs []asmFunc
	for _, g := range k.gemms() {
		fs = append(fs, g.asm())
	}
	for _, c := range k.convs() {
		fs = append(fs, c.asm())
	}
	for _, p := range k.pools() {
		fs = append(fs, p.asm())
	}
	for _, d := range k.depthwises() {
		fs = append(fs, d.asm())
	}
	for _, r := range k.relus() {
		fs = append(fs, r.asm())
	}
	for _, w := range k.windows() {
		fs = append(fs, w.asm())
	}
	for _, w := range k.windowGrads() {
		fs = append(fs, w.asm())
	}
	for _, m := range k.im2cols() {
		fs = append(fs, m.asm())
	}
	for _, c := range k.channels() {
		fs = append(fs, c.asm())
	}
	for _, r := range k.reluBacks() {
		fs = append(fs, r.asm())
	}
	for _, a := range k.adds() {
		fs = append(fs, a.asm())
	}
	for _, p := range k.planes() {
		fs = append(fs, p.asm())
	}
	return fs
}

// pools lists the pooling kernels that implement k.
func (k Kernel) pools() []poolSpec {
	p := k.Pool
	geom := fmt.Sprintf("%dx%dx%d input, %dx%d window, stride %d,%d, padding %d,%d, %dx%d output",
		p.InH, p.InW, p.Channels, p.KernelH, p.KernelW, p.StrideH, p.StrideW, p.PadTop, p.PadLeft, p.OutH, p.OutW)
	switch k.Op {
	case MaxPool2DForward:
		return []poolSpec{{
			symbol: k.Name, args: []string{"y", "x", "n"}, counts: []string{"n"},
			shape: p, reference: k.Name + "Go",
			what: []string{
				"y[s][oh][ow][c] = max over the window's taps of x[s][ih][iw][c]   s < n",
				geom + ".",
				"Vectorised across channels; a loop over each run of windows with the",
				"same taps inside the input (the interior, each padded border).",
			},
		}}
	case MaxPool2DBackward:
		what := []string{
			"dx[s][i][c] = Σ dy[s][w][c] over the windows w whose first maximum",
			"(row-major) is input i   s < n",
			geom + ".",
		}
		if k.ReLU {
			what = append(what, "Fused ReLU backward: windows with y ≤ 0 pass nothing.")
		}
		if p.tiled() {
			what = append(what, "The windows tile the input: each dx vector is stored once.")
		} else {
			what = append(what, "dx is zeroed, then each window adds to its first maximum.")
		}
		what = append(what, "Per window and channel vector: free lanes start all set; each tap in",
			"order takes dy where x == y among free lanes, then clears them.")
		return []poolSpec{{
			symbol: k.Name, args: []string{"dx", "dy", "x", "y", "n"}, counts: []string{"n"},
			shape: p, backward: true, relu: k.ReLU, reference: k.Name + "Go", what: what,
		}}
	}
	return nil
}

// depthwises lists the depthwise kernels that implement k.
func (k Kernel) depthwises() []depthwiseSpec {
	c := k.Conv
	values := c.depthwiseValues()
	shared := []string{
		"depthwise convolution, s < n; the shape comes in the arguments (bytes and",
		"counts), so every such kernel of the package runs this TEXT.",
	}
	spec := depthwiseSpec{symbol: k.Name, kernelH: c.KernelH, kernelW: c.KernelW, values: values, reference: k.Name + "Go"}
	switch k.Op {
	case DepthwiseConv2DInterior:
		spec.what = append([]string{fmt.Sprintf("y[s][oh][ow][c] = b[c] + Σ_{kh,kw} x[s][ih][iw][c]·w[kh][kw][c] over the interior of a %dx%d", c.KernelH, c.KernelW)}, shared...)
		spec.what = append(spec.what, "Per channel vector, the weights and bias in registers; per output pixel,",
			"one FMA per tap with the input as the memory operand.")
	case DepthwiseConv2DWeightGradInterior:
		spec.mode = dwWeightGrad
		values["y"], values["w"], values["b"] = jen.Op("&").Id("dy").Index(jen.Lit(0)), jen.Op("&").Id("dw").Index(jen.Lit(0)), jen.Op("&").Id("db").Index(jen.Lit(0))
		spec.what = append([]string{fmt.Sprintf("dw[kh][kw][c] += Σ x[s][ih][iw][c]·dy[s][oh][ow][c], db[c] += Σ dy over the interior of a %dx%d", c.KernelH, c.KernelW)}, shared...)
		spec.what = append(spec.what, "Per channel vector, the gradients in registers; per output pixel, one FMA",
			"per tap with the input as the memory operand. Slots y, x, w, b: dy, x, dw, db.")
	case DepthwiseConv2DInputGradInterior:
		spec.mode = dwInputGrad
		values["y"], values["x"], values["b"] = jen.Op("&").Id("dy").Index(jen.Lit(0)), jen.Op("&").Id("dx").Index(jen.Lit(0)), jen.Op("&").Id("w").Index(jen.Lit(0))
		spec.what = append([]string{fmt.Sprintf("dx[s][ih][iw][c] += w[kh][kw][c]·dy[s][oh][ow][c] over the interior of a %dx%d", c.KernelH, c.KernelW)}, shared...)
		spec.what = append(spec.what, "Per channel vector, the weights in registers; per output pixel and tap, dx",
			"loaded, one FMA, stored. Slots y, x, w: dy, dx, w (b unused).")
	default:
		return nil
	}
	return []depthwiseSpec{spec}
}

// vectorWidth is the number of floats along the dimension that k's vector
// kernels put in vector lanes (0 when unbounded: elementwise kernels).
func (k Kernel) vectorWidth() int {
	switch k.Op {
	case DenseForward, DenseForwardOne, DenseBackwardWeights:
		return k.Units
	case DenseBackwardInput:
		return k.In
	case Conv2DForward, Conv2DBackwardWeights:
		return k.Conv.Filters
	case Conv2DBackwardInput:
		return k.Conv.InC
	case MaxPool2DForward, MaxPool2DBackward:
		return k.Pool.Channels
	case DepthwiseConv2DInterior, DepthwiseConv2DWeightGradInterior, DepthwiseConv2DInputGradInterior, DepthwiseConv2DWindow, DepthwiseConv2DWindowGrad:
		return k.Conv.InC
	case BatchNormMoments, BatchNormSums, ChannelAffine, BatchNormBackward, ChannelSum, ChannelAffineReLU:
		return k.Units
	case Im2colInterior, Col2imInterior:
		return k.Conv.KernelW * k.Conv.InC
	case PlaneConv2DForward:
		// Its vectors hold pixels, but it is written for AVX2 alone:
		// the filters (at most 8) bound it.
		return k.Conv.Filters
	}
	return 0
}

// runsOn is the ISA whose TEXT runs k when runtime.ActiveISA is isa: isa
// itself, but the AVX2 TEXT on AVX-512 when k's vectors are at most 8
// floats wide. A zmm vector would then carry as many floats as a ymm one
// in twice the register: no faster on a CPU with 512-bit units, and on one
// that splits each zmm instruction in two 256-bit halves (AMD Zen 4) about
// twice as slow (benchmarks/RESULTS.md, LeNet-5's 6-filter first layer).
func (k Kernel) runsOn(isa isaParams) isaParams {
	if w := k.vectorWidth(); isa.suffix == "AVX512" && w > 0 && w <= isas[0].lanes {
		return isas[0]
	}
	return isa
}

// halfRateAVX2 says that k's dispatcher runs its AVX2 TEXT on AVX-512 when
// runtime.HalfRateZMM reports a CPU that splits zmm instructions in two:
// a GEMM whose rows are 9 to 16 floats wide, one zmm vector (blocks of 16
// rows, a broadcast per FMA) or two ymm ones (6×2 blocks), the same
// arithmetic on such a CPU.
func (k Kernel) halfRateAVX2() bool {
	w := k.vectorWidth()
	return len(k.gemms()) > 0 && w > isas[0].lanes && w <= 2*isas[0].lanes
}

// textISAs lists the ISAs whose TEXTs k has: those its dispatcher runs
// (runsOn).
func (k Kernel) textISAs() []isaParams {
	var out []isaParams
	for _, isa := range isas {
		if k.runsOn(isa).suffix == isa.suffix {
			out = append(out, isa)
		}
	}
	return out
}
