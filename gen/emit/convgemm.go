package emit

import (
	"fmt"

	"github.com/cnngen/cnngen/gen/asm"
	"github.com/cnngen/cnngen/runtime"
	"github.com/dave/jennifer/jen"
)

// The im2col path of a convolution (vecStage.im2col): gen/asm refuses to
// unroll a convolution whose body is too large (asm's maxConvTerms) or whose
// filters do not fit the registers (more than 96), so such a stage runs as
// GEMMs on gen/asm's dense kernels instead. With KKC = KernelH·KernelW·InC
// and R = OutH·OutW output pixels per sample, HWIO weights are a [KKC][F]
// matrix, and for each sample
//
//	cols[R][KKC]  = im2col(x)      (row r: the window of output pixel r, zeros for padding taps)
//	y[R][F]       = act(cols·w + b)  (DenseForward, In = KKC, Units = F: y is already HWC)
//	dw, db       += colsᵀ·dy, Σ dy  (DenseBackwardWeights)
//	dcols[R][KKC] = dy·wᵀ          (DenseBackwardInput, on the transposed weights)
//	dx            = col2im(dcols)   (scatter-add, then the producer's ReLU gate)
//
// Several samples share one GEMM call (gemmGroup): their im2col matrices
// are stacked, and their outputs are consecutive in the tile buffers. The
// backward pass rebuilds cols (a copy, cheap next to the GEMMs) rather than
// keep a tile's worth, and writes dcols over it once the weight gradient has
// read it. The buffer, <layer>Cols, belongs to each worker's tileBuffers.

// Function suffixes of the im2col path (see vecStage): none ends another
// suffix of the emitter or of gen/asm.
const (
	sufIm2col       = "Im2col"
	sufCol2im       = "Col2im"
	sufForwardGemm  = "ForwardGemm"
	sufBackwardGemm = "BackwardGemm"
	// sufCols is the tile buffer field of the im2col matrix.
	sufCols = "Cols"
)

// gemmGroupFloats bounds the im2col buffer of one GEMM call, in floats
// (256 KiB, in L2 beside the weights): as many samples as fit are stacked
// into one call, at most maxGemmGroup. Measured on the scaling study's
// lenet training step (AVX-512, one worker), one sample per call took ≈7 %
// more CPU time than this; up to 8 samples in 512 KiB was no faster, and
// conv2 did not change.
const (
	gemmGroupFloats = 64 << 10
	maxGemmGroup    = 4
)

// maxUnrolledIm2col is the largest window (KernelH·KernelW·InC taps)
// whose im2col rows are unrolled tap by tap in the interior; larger ones
// copy one kernel row (KernelW·InC contiguous inputs) at a time.
const maxUnrolledIm2col = 64

// gemmGroup returns the number of samples per GEMM call of a convolution
// whose im2col matrix has size floats per sample.
func gemmGroup(size int) int {
	return max(1, min(maxGemmGroup, gemmGroupFloats/size))
}

// convGemmKernels returns the gen/asm kernels of the im2col path of conv
// stage s and fills v (forward, weightGrad, inputGrad, transposedSize,
// inputReLU, im2col, group).
func convGemmKernels(s *stage, v *vecStage, reluIn bool) []asm.Kernel {
	l := s.layer
	kkc, units := l.KernelH*l.KernelW*l.In.Channels, l.Filters
	rows := l.Out.Height * l.Out.Width
	v.im2col = true
	v.group = gemmGroup(rows * kkc)
	v.forward = s.base + sufForwardVec
	v.weightGrad = s.base + sufWeightGradVec
	ks := []asm.Kernel{
		{Op: asm.DenseForward, Name: v.forward, In: kkc, Units: units, ReLU: s.act == runtime.ReLU},
		{Op: asm.DenseBackwardWeights, Name: v.weightGrad, In: kkc, Units: units},
	}
	if s.inGrad {
		v.inputGrad = s.base + sufInputGradVec
		// The gate is applied by <layer>Col2im, after the scatter: the
		// GEMM's own gate would act on dcols, not on dx.
		v.inputReLU = reluIn
		v.transposedSize = units * asm.PaddedStride(kkc)
		ks = append(ks, asm.Kernel{Op: asm.DenseBackwardInput, Name: v.inputGrad, In: kkc, Units: units})
	}
	return ks
}

// colsSize is the size in floats of an im2col stage's <layer>Cols buffer.
func colsSize(s *stage) int {
	l := s.layer
	return s.vec.group * l.Out.Height * l.Out.Width * l.KernelH * l.KernelW * l.In.Channels
}

// convGemm emits the Go functions of the im2col path of conv stage s:
// <layer>Im2col, <layer>ForwardGemm and, when it runs backward,
// <layer>BackwardGemm and (with inGrad) <layer>Col2im.
func (p *plan) convGemm(f *jen.File, s *stage) {
	l := s.layer
	g := windowOf(l)
	F := l.Filters
	kkc := g.kh * g.kw * g.c
	rows := g.oh * g.ow
	colsOne := rows * kkc
	run := g.kw * g.c // one kernel row's taps: contiguous in the input
	inSize, outSize := l.In.Size(), l.Out.Size()
	v := s.vec
	group := v.group
	colsType := ptrFloatArr(group * colsOne)

	// row is the im2col row of output pixel (oy, ox); base the input
	// offset of its window's top-left tap (negative in the padding).
	rowView := func(buf string) jen.Code {
		return jen.Id("row").Op(":=").Add(arrView(kkc, buf, lin(0, term{g.ow * kkc, "oy"}, term{kkc, "ox"})))
	}
	baseOff := jen.Id("base").Op(":=").Add(lin(-(g.pt*g.w*g.c + g.pl*g.c), term{g.sh * g.w * g.c, "oy"}, term{g.sw * g.c, "ox"}))
	// border pixels: kw runs over [lo, hi), the taps inside the input, and
	// rows iy outside the input are skipped.
	borderHead := []jen.Code{
		jen.Id("x0").Op(":=").Add(lin(-g.pl, term{g.sw, "ox"})),
		jen.List(jen.Id("lo"), jen.Id("hi")).Op(":=").List(jen.Max(jen.Lit(0), jen.Op("-").Id("x0")), jen.Min(jen.Lit(g.kw), jen.Lit(g.w).Op("-").Id("x0"))),
	}
	iyOut := jen.Id("iy").Op("<").Lit(0).Op("||").Id("iy").Op(">=").Lit(g.h)
	iyDef := jen.Id("iy").Op(":=").Add(lin(-g.pt, term{g.sh, "oy"}, term{1, "kh"}))
	// at is the input offset of tap (kh, lo).
	atDef := jen.Id("at").Op(":=").Parens(jen.Id("iy").Op("*").Lit(g.w).Op("+").Id("x0").Op("+").Id("lo")).Op("*").Lit(g.c)
	tapRange := func(name, buf string) jen.Code {
		return jen.Id(name).Op(":=").Id(buf).Index(lin(0, term{run, "kh"}).Op("+").Id("lo").Op("*").Lit(g.c), lin(0, term{run, "kh"}).Op("+").Id("hi").Op("*").Lit(g.c))
	}

	// Im2col.
	im2col := s.base + sufIm2col
	f.Comment(wrapDoc(fmt.Sprintf("%s writes the im2col matrix of one sample x of %s to cols: row oy·%d+ox holds the %d inputs under the window of output pixel (oy, ox) in weight order [kh][kw][c], zeros for taps in the padding.", im2col, describe(s), g.ow, kkc)))
	f.Func().Id(im2col).Params(
		jen.Id("x").Add(ptrFloatArr(inSize)),
		jen.Id("cols").Add(ptrFloatArr(colsOne)),
	).Block(regions(g, func(border bool) []jen.Code {
		if !border && kkc <= maxUnrolledIm2col {
			// A small window: one load and store per tap, from a view
			// of the window's span of the input.
			span := (g.kh-1)*g.w*g.c + run
			code := []jen.Code{rowView("cols"), baseOff.Clone(), jen.Id("xw").Op(":=").Add(arrView(span, "x", jen.Id("base")))}
			for kh := range g.kh {
				for i := range run {
					code = append(code, jen.Id("row").Index(jen.Lit(kh*run+i)).Op("=").Id("xw").Index(jen.Lit(kh*g.w*g.c+i)))
				}
			}
			return code
		}
		if !border {
			return []jen.Code{rowView("cols"), baseOff.Clone(), forN("kh", g.kh,
				jen.Op("*").Add(arrView(run, "row", lin(0, term{run, "kh"}))).Op("=").Op("*").Add(arrView(run, "x", lin(0, term{1, "base"}, term{g.w * g.c, "kh"})))),
			}
		}
		if g.c == 1 {
			// One channel: runs are too short for copy; tap by tap.
			return []jen.Code{rowView("cols"), jen.Id("x0").Op(":=").Add(lin(-g.pl, term{g.sw, "ox"})), forN("kh", g.kh,
				jen.Id("r").Op(":=").Add(arrView(run, "row", lin(0, term{run, "kh"}))),
				iyDef.Clone(),
				jen.If(iyOut.Clone()).Block(jen.Op("*").Id("r").Op("=").Add(floatArr(run)).Values(), jen.Continue()),
				forN("kw", g.kw,
					jen.Id("ix").Op(":=").Id("x0").Op("+").Id("kw"),
					jen.If(jen.Id("ix").Op("<").Lit(0).Op("||").Id("ix").Op(">=").Lit(g.w)).Block(
						jen.Id("r").Index(jen.Id("kw")).Op("=").Lit(0),
					).Else().Block(
						jen.Id("r").Index(jen.Id("kw")).Op("=").Id("x").Index(lin(0, term{g.w, "iy"}, term{1, "ix"})),
					),
				),
			)}
		}
		return append(append([]jen.Code{rowView("cols")}, borderHead...), forN("kh", g.kh,
			jen.Id("r").Op(":=").Id("row").Index(lin(0, term{run, "kh"}), lin(run, term{run, "kh"})),
			iyDef.Clone(),
			jen.If(iyOut.Clone()).Block(jen.Clear(jen.Id("r")), jen.Continue()),
			atDef.Clone(),
			jen.Clear(jen.Id("r").Index(jen.Empty(), jen.Id("lo").Op("*").Lit(g.c))),
			jen.Copy(jen.Id("r").Index(jen.Id("lo").Op("*").Lit(g.c), jen.Id("hi").Op("*").Lit(g.c)),
				jen.Id("x").Index(jen.Id("at"), jen.Id("at").Op("+").Parens(jen.Id("hi").Op("-").Id("lo")).Op("*").Lit(g.c))),
			jen.Clear(jen.Id("r").Index(jen.Id("hi").Op("*").Lit(g.c), jen.Empty())),
		))
	})...)

	// stack fills cols with the im2col matrices of samples [s0, s0+k).
	stack := func(in string) jen.Code {
		return forUp("t", jen.Lit(0), jen.Id("k"),
			jen.Id(im2col).Call(arrView(inSize, in, lin(0, term{inSize, "s0"}, term{inSize, "t"})), arrView(colsOne, "cols", lin(0, term{colsOne, "t"}))))
	}
	groupLoop := func(body ...jen.Code) jen.Code {
		return jen.For(jen.Id("s0").Op(":=").Lit(0), jen.Id("s0").Op("<").Id("n"), jen.Id("s0").Op("+=").Lit(group)).Block(
			append([]jen.Code{jen.Id("k").Op(":=").Min(jen.Lit(group), jen.Id("n").Op("-").Id("s0"))}, body...)...)
	}
	samples := func(buf string, size int) jen.Code {
		return jen.Id(buf).Index(lin(0, term{size, "s0"}), jen.Parens(jen.Id("s0").Op("+").Id("k")).Op("*").Lit(size))
	}
	colsRows := jen.Id("cols").Index(jen.Empty(), jen.Id("k").Op("*").Lit(colsOne))
	nRows := jen.Id("k").Op("*").Lit(rows)

	// ForwardGemm.
	wsize := kkc * F
	fwd := s.base + sufForwardGemm
	f.Comment(wrapDoc(fmt.Sprintf("%s computes %s for the first n samples of a tile on the vector path: per group of up to %d samples, their im2col matrices (%s) times the weights [%d][%d] plus the bias, as one GEMM (%s). cols is the worker's scratch buffer.", fwd, describe(s), group, im2col, kkc, F, v.forward)))
	f.Func().Id(fwd).Params(
		jen.Id("n").Int(),
		jen.Id("in").Add(tileArr(inSize)),
		jen.Id("out").Add(tileArr(outSize)),
		jen.Id("cols").Add(colsType.Clone()),
		jen.Id("w").Add(ptrFloatArr(wsize)),
		jen.Id("b").Add(ptrFloatArr(F)),
	).Block(groupLoop(
		stack("in"),
		jen.Id(v.forward).Call(samples("out", outSize), colsRows.Clone(), jen.Id("w"), jen.Id("b"), nRows.Clone()),
	))

	if !s.backward {
		return
	}
	col2im := s.base + sufCol2im
	if s.inGrad {
		doc := fmt.Sprintf("%s writes to dx the gradient of one sample's input of %s from dcols, the gradient of its im2col matrix (%s): each input adds the entries of the windows that read it.", col2im, l.Name, im2col)
		params := []jen.Code{jen.Id("dcols").Add(ptrFloatArr(colsOne)), jen.Id("dx").Add(ptrFloatArr(inSize))}
		var gate []jen.Code
		if v.inputReLU {
			doc += " It then applies the backward of the ReLU that made the input h: dx = 0 where h ≤ 0."
			params = append(params, jen.Id("h").Add(ptrFloatArr(inSize)))
			gate = []jen.Code{forRange("i", jen.Id("dx"), jen.If(jen.Id("h").Index(jen.Id("i")).Op("<=").Lit(0)).Block(jen.Id("dx").Index(jen.Id("i")).Op("=").Lit(0)))}
		}
		addRun := func(d, r string) jen.Code {
			return forRange("i", jen.Id(d), jen.Id(d).Index(jen.Id("i")).Op("+=").Id(r).Index(jen.Id("i")))
		}
		body := []jen.Code{jen.Op("*").Id("dx").Op("=").Add(floatArr(inSize)).Values()}
		body = append(body, regions(g, func(border bool) []jen.Code {
			if !border {
				return []jen.Code{rowView("dcols"), baseOff.Clone(), forN("kh", g.kh,
					jen.Id("d").Op(":=").Add(arrView(run, "dx", lin(0, term{1, "base"}, term{g.w * g.c, "kh"}))),
					jen.Id("r").Op(":=").Add(arrView(run, "row", lin(0, term{run, "kh"}))),
					addRun("d", "r"),
				)}
			}
			return append(append([]jen.Code{rowView("dcols")}, borderHead...), forN("kh", g.kh,
				iyDef.Clone(),
				jen.If(iyOut.Clone()).Block(jen.Continue()),
				atDef.Clone(),
				tapRange("r", "row"),
				jen.Id("d").Op(":=").Id("dx").Index(jen.Id("at"), jen.Id("at").Op("+").Len(jen.Id("r"))),
				addRun("d", "r"),
			))
		})...)
		body = append(body, gate...)
		f.Comment(wrapDoc(doc))
		f.Func().Id(col2im).Params(params...).Block(body...)
	}

	bwd := s.base + sufBackwardGemm
	doc := fmt.Sprintf("%s runs the backward pass of %s for the first n samples of a tile on the vector path, from dOut, the gradient before the activation: per group of up to %d samples it rebuilds their im2col matrices in cols and accumulates the weight and bias gradients into dw and db (%s)", bwd, describe(s), group, v.weightGrad)
	params := []jen.Code{jen.Id("n").Int(), jen.Id("in").Add(tileArr(inSize)), jen.Id("dOut").Add(tileArr(outSize))}
	if s.inGrad {
		doc += fmt.Sprintf(", then overwrites cols with their gradient (%s, on the transposed weights wt) and scatters it into dIn (%s)", v.inputGrad, col2im)
		params = append(params, jen.Id("dIn").Add(tileArr(inSize)))
	}
	params = append(params, jen.Id("cols").Add(colsType.Clone()))
	if s.inGrad {
		params = append(params, jen.Id("wt").Add(ptrFloatArr(v.transposedSize)))
	}
	params = append(params, jen.Id("dw").Add(ptrFloatArr(wsize)), jen.Id("db").Add(ptrFloatArr(F)))
	body := []jen.Code{
		stack("in"),
		jen.Id("dy").Op(":=").Add(samples("dOut", outSize)),
		jen.Id(v.weightGrad).Call(jen.Id("dw"), jen.Id("db"), colsRows.Clone(), jen.Id("dy"), nRows.Clone()),
	}
	if s.inGrad {
		args := []jen.Code{
			arrView(colsOne, "cols", lin(0, term{colsOne, "t"})),
			arrView(inSize, "dIn", lin(0, term{inSize, "s0"}, term{inSize, "t"})),
		}
		if v.inputReLU {
			args = append(args, arrView(inSize, "in", lin(0, term{inSize, "s0"}, term{inSize, "t"})))
		}
		body = append(body,
			jen.Id(v.inputGrad).Call(colsRows.Clone(), jen.Id("dy"), jen.Id("wt"), nRows.Clone()),
			forUp("t", jen.Lit(0), jen.Id("k"), jen.Id(col2im).Call(args...)),
		)
	}
	f.Comment(wrapDoc(doc + "."))
	f.Func().Id(bwd).Params(params...).Block(groupLoop(body...))
}
