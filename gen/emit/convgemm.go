package emit

import (
	"fmt"
	"slices"

	"github.com/cnngen/cnngen/gen/asm"
	"github.com/cnngen/cnngen/gen/ir"
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
	sufIm2col    = "Im2col"
	sufIm2colVec = "Im2colVec"
	// sufIm2colChunkVec is the im2col of a chunk of output rows (im2colChunk).
	sufIm2colChunkVec = "Im2colChunkVec"
	// sufIm2colTailVec is the im2col of the output's last, shorter chunk.
	sufIm2colTailVec = "Im2colTailVec"
	// sufPlaneVec is the forward kernel of a one-channel stride-1
	// convolution on its padded input (vecStage.plane).
	sufPlaneVec     = "PlaneVec"
	sufDy2colVec    = "Dy2colVec"
	sufCol2im       = "Col2im"
	sufCol2imVec    = "Col2imVec"
	sufForwardGemm  = "ForwardGemm"
	sufBackwardGemm = "BackwardGemm"
	sufDy2col       = "Dy2col"
	sufFlip         = "Flip"
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

// gemmGroup returns the number of samples per GEMM call of a convolution
// whose im2col matrix has size floats per sample.
func gemmGroup(size int) int {
	return max(1, min(maxGemmGroup, gemmGroupFloats/size))
}

// minTransposedConvChannels is the fewest input channels for which a
// stride-1 convolution computes its input gradient as a convolution of the
// output gradient with the flipped weights (transposedConv): one GEMM
// whose width is the input channels, with the producer's ReLU gate fused,
// instead of the GEMM into the im2col matrix's gradient and the scalar
// scatter-add of col2im. Measured on the scaling study's training steps
// (AVX-512, one worker, CPU time per sample): conv2 (3×3 same, 32 → 32
// channels) went from 51 to 40.5 µs; lenet (its 5×5 valid 6 → 16
// channels conv) from 61–67 to 83 µs, as the GEMM is then 6 columns wide
// and the full correlation computes twice the products.
const minTransposedConvChannels = 16

// transposedWindow is the geometry of the input gradient of stride-1 conv
// layer l as a convolution: windows of the kernel's size over the output
// gradient, padded by kernel−1−pad, one per input pixel.
func transposedWindow(l *ir.Layer) window {
	return window{
		h: l.Out.Height, w: l.Out.Width, c: l.Filters,
		oh: l.In.Height, ow: l.In.Width,
		kh: l.KernelH, kw: l.KernelW, sh: 1, sw: 1,
		pt: l.KernelH - 1 - l.PadTop, pl: l.KernelW - 1 - l.PadLeft,
	}
}

// convGemmKernels returns the gen/asm kernels of the im2col path of conv
// stage s and fills v (forward, weightGrad, inputGrad, transposedSize,
// inputReLU, im2col, transposedConv, group, plane, chunks, partRows).
// split says that the package has the split one-sample forward, whose
// parts gather rows of the im2col matrix with kernels of their heights
// (partRows).
func convGemmKernels(s *stage, v *vecStage, reluIn, split bool) []asm.Kernel {
	l := s.layer
	kkc, units := l.KernelH*l.KernelW*l.In.Channels, l.Filters
	rows := l.Out.Height * l.Out.Width
	v.im2col = true
	v.forward = s.base + sufForwardVec
	v.weightGrad = s.base + sufWeightGradVec
	ks := []asm.Kernel{
		{Op: asm.DenseForward, Name: v.forward, In: kkc, Units: units, ReLU: s.act == runtime.ReLU},
		{Op: asm.DenseBackwardWeights, Name: v.weightGrad, In: kkc, Units: units},
	}
	size := rows * kkc
	if s.inGrad {
		v.inputGrad = s.base + sufInputGradVec
		v.inputReLU = reluIn
		if pointwise(l) || (l.StrideH == 1 && l.StrideW == 1 && l.In.Channels >= minTransposedConvChannels) {
			// (A pointwise convolution's flipped weights are its transposed
			// weights, and its im2col matrices are the tensors themselves:
			// the GEMM then reads dOut and gates dIn in place.)
			// dx = im2col(dy)·flip(w): the GEMM gates on the input.
			v.transposedConv = true
			kkf := l.KernelH * l.KernelW * units
			v.transposedSize = kkf * asm.PaddedStride(l.In.Channels)
			size = max(size, l.In.Height*l.In.Width*kkf)
			ks = append(ks, asm.Kernel{Op: asm.DenseBackwardInput, Name: v.inputGrad, In: l.In.Channels, Units: kkf, ReLU: reluIn})
		} else {
			// The gate is applied by <layer>Col2im, after the scatter:
			// the GEMM's own gate would act on dcols, not on dx.
			v.transposedSize = units * asm.PaddedStride(kkc)
			ks = append(ks, asm.Kernel{Op: asm.DenseBackwardInput, Name: v.inputGrad, In: kkc, Units: units})
		}
	}
	v.group = gemmGroup(size)
	v.colsSize = v.group * size
	if pointwise(l) {
		v.group, v.colsSize = 0, 0
		return ks
	}
	// The copies of the im2col matrices run on gen/asm's Im2colInterior,
	// over the input copied into a zero-bordered buffer at the end of
	// <layer>Cols when the convolution pads.
	v.im2colKernel = s.base + sufIm2colVec
	ks = append(ks, paddedOf(windowOf(l)).kernel(v.im2colKernel))
	if pd := paddedOf(windowOf(l)); pd.size > 0 && l.In.Channels == 1 && l.StrideH == 1 && l.StrideW == 1 && units <= asm.MaxPlaneFilters {
		// A one-channel image (a first layer on grey pictures): the
		// forward reads the padded copy directly, vectorised across
		// pixels (gen/asm's PlaneConv2DForward), and needs no chunks;
		// the backward keeps the im2col matrix.
		v.plane = s.base + sufPlaneVec
		k := asm.Kernel{Op: asm.PlaneConv2DForward, Name: v.plane, ReLU: s.act == runtime.ReLU, Conv: asm.ConvShape{
			InH: pd.h, InW: pd.w, InC: 1, KernelH: l.KernelH, KernelW: l.KernelW, StrideH: 1, StrideW: 1,
			OutH: l.Out.Height, OutW: l.Out.Width, Filters: units,
		}}
		v.planeSlack = asm.PlaneSlack(k.Conv)
		// (The split one-sample forward runs it whole too.)
		ks = slices.DeleteFunc(ks, func(k asm.Kernel) bool { return k.Name == v.forward })
		ks = append(ks, k)
	}
	if v.plane == "" {
		// (A plane forward builds no im2col matrix to cut in chunks.)
		v.chunkRows = im2colChunk(windowOf(l), kkc)
	}
	if v.chunkRows > 0 {
		v.chunkKernel = s.base + sufIm2colChunkVec
		ks = append(ks, paddedOf(windowOf(l)).chunkKernel(v.chunkKernel, v.chunkRows))
		if t := im2colChunkTail(l.Out.Height, v.chunkRows); t > 0 {
			v.chunkTailKernel = s.base + sufIm2colTailVec
			ks = append(ks, paddedOf(windowOf(l)).chunkKernel(v.chunkTailKernel, t))
		}
	}
	if split && v.plane == "" {
		// The split one-sample forward's parts gather their output
		// rows of the im2col matrix with kernels of their heights
		// (those of the chunks where they match).
		v.partRows = map[int]string{}
		for _, h := range rowPartHeights(l.Out.Height) {
			switch {
			case h == v.chunkRows:
				v.partRows[h] = v.chunkKernel
			case v.chunkTailKernel != "" && h == im2colChunkTail(l.Out.Height, v.chunkRows):
				v.partRows[h] = v.chunkTailKernel
			default:
				v.partRows[h] = fmt.Sprintf("%s%s%dVec", s.base, sufIm2colRows, h)
				ks = append(ks, paddedOf(windowOf(l)).chunkKernel(v.partRows[h], h))
			}
		}
	}
	v.colsSize += paddedOf(windowOf(l)).size
	if v.transposedConv {
		v.dy2colKernel = s.base + sufDy2colVec
		ks = append(ks, paddedOf(transposedWindow(l)).kernel(v.dy2colKernel))
		v.colsSize += paddedOf(transposedWindow(l)).size
	}
	if s.inGrad && !v.transposedConv {
		// The scatter-add of col2im runs on gen/asm's Col2imInterior,
		// into a zero-bordered accumulator of its own after the im2col's
		// (whose border must stay zero), or into dx when the convolution
		// does not pad.
		v.col2imKernel = s.base + sufCol2imVec
		ks = append(ks, paddedOf(windowOf(l)).scatter(v.col2imKernel))
		v.colsSize += paddedOf(windowOf(l)).size
	}
	v.colsSize += v.planeSlack
	return ks
}

// padded is the zero-bordered copy of an im2col's input in which every
// window lies inside: h×w×c values, the input at row top, column left.
// Its border is never written, so it stays zero (Go allocates the tile
// buffers zeroed). An im2col that does not pad needs none (size 0).
type padded struct {
	g               window
	h, w, top, left int
	size            int
}

func paddedOf(g window) padded {
	h := max(g.h+g.pt, (g.oh-1)*g.sh+g.kh)
	w := max(g.w+g.pl, (g.ow-1)*g.sw+g.kw)
	p := padded{g: g, h: h, w: w, top: g.pt, left: g.pl}
	if h != g.h || w != g.w {
		p.size = h * w * g.c
	}
	return p
}

// kernel is the Im2colInterior kernel of the padded geometry (every
// output pixel interior).
func (p padded) kernel(name string) asm.Kernel {
	// Without padding the padded geometry is the input's (h, w are its
	// size and top, left are 0).
	g := p.g
	return asm.Kernel{Op: asm.Im2colInterior, Name: name, Conv: asm.ConvShape{
		InH: p.h, InW: p.w, InC: g.c, KernelH: g.kh, KernelW: g.kw, StrideH: g.sh, StrideW: g.sw,
		OutH: g.oh, OutW: g.ow, Filters: 1,
	}}
}

// scatter is the Col2imInterior kernel of the padded geometry, the
// inverse of kernel.
func (p padded) scatter(name string) asm.Kernel {
	k := p.kernel(name)
	k.Op = asm.Col2imInterior
	return k
}

// col2imBody is the body of a col2im function (dcols, dx[, h][, acc]) on
// the vector path: the scatter-add of the kernel, pixel by pixel in
// row-major order (each input adds the entries of the windows that read
// it in that order), into acc, zeroed, whose interior is then copied to
// dx (into dx itself, zeroed, when the convolution does not pad), then
// the ReLU gate on h when gate is set.
func (p padded) col2imBody(kernel string, size int, gate bool) []jen.Code {
	var body []jen.Code
	if p.size == 0 {
		body = []jen.Code{jen.Op("*").Id("dx").Op("=").Add(floatArr(size)).Values(), jen.Id(kernel).Call(jen.Id("dx"), jen.Id("dcols"))}
	} else {
		g := p.g
		row := g.w * g.c
		body = []jen.Code{
			jen.Op("*").Id("acc").Op("=").Add(floatArr(p.size)).Values(),
			jen.Id(kernel).Call(jen.Id("acc"), jen.Id("dcols")),
			forN("iy", g.h, jen.Copy(jen.Id("dx").Index(lin(0, term{row, "iy"}), lin(row, term{row, "iy"})), p.rowIn("acc"))),
		}
	}
	if gate {
		body = append(body, forRange("i", jen.Id("dx"), jen.If(jen.Op("!").Parens(jen.Id("h").Index(jen.Id("i")).Op(">").Lit(0))).Block(jen.Id("dx").Index(jen.Id("i")).Op("=").Lit(0))))
	}
	return body
}

// body is the body of an im2col function (x, cols[, pad]) on the vector
// path: the input copied into pad's interior, row by row, then the kernel.
func (p padded) body(kernel string) []jen.Code {
	if p.size == 0 {
		return []jen.Code{jen.Id(kernel).Call(jen.Id("cols"), jen.Id("x"))}
	}
	return []jen.Code{p.copyIn("x"), jen.Id(kernel).Call(jen.Id("cols"), jen.Id("pad"))}
}

// copyIn copies the input x (an array of one sample) into pad's interior,
// row by row.
func (p padded) copyIn(x string) jen.Code {
	row := p.g.w * p.g.c
	return forN("iy", p.g.h, jen.Copy(p.rowIn("pad"), jen.Id(x).Index(lin(0, term{row, "iy"}), lin(row, term{row, "iy"}))))
}

// rowIn is input row iy inside buf, a padded buffer.
func (p padded) rowIn(buf string) jen.Code {
	g := p.g
	at, stride := (p.top*p.w+p.left)*g.c, p.w*g.c
	return jen.Id(buf).Index(lin(at, term{stride, "iy"}), lin(at+g.w*g.c, term{stride, "iy"}))
}

// maxChunkBytes bounds a chunk of the forward's im2col matrix
// (im2colChunk): with the GEMM's weights, within reach of the L1 cache.
const maxChunkBytes = 64 << 10

// im2colChunk returns the output rows per chunk of the forward's im2col
// matrix of a convolution with window g and kkc values per im2col row, or
// 0 when a sample's matrix is small enough to build whole. A matrix of a
// large map (ResNet-8's first block: 590 KiB per sample) built whole
// goes out to L2 and comes back for the GEMM; built and multiplied a few
// output rows at a time, it stays in L1. The GEMM computes a block of rows
// that does not fit in whole once more on the chunk's last rows, so the
// chunk is chosen to leave the fewest rows computed twice over the
// register-block heights of both paths (chunkWaste); the output's last
// chunk may be shorter (im2colChunkTail).
func im2colChunk(g window, kkc int) int {
	rowBytes := 4 * g.ow * kkc
	if g.oh*rowBytes <= 2*maxChunkBytes {
		return 0
	}
	best, bestWaste := 0, -1
	for d := 1; d < g.oh; d++ {
		if d > 1 && d*rowBytes > maxChunkBytes {
			continue
		}
		// Ties go to the larger chunk: fewer calls.
		if w := chunkWaste(g, d); bestWaste < 0 || w <= bestWaste {
			best, bestWaste = d, w
		}
	}
	return best
}

// chunkBlockRows are the row-block heights of gen/asm's GEMMs (AVX2: 6;
// AVX-512: 6, 8, 12 or 16 by the row's width).
var chunkBlockRows = []int{6, 8, 12, 16}

// chunkWaste is the number of GEMM rows computed twice, summed over
// chunkBlockRows, when an output of g's height is cut into chunks of d
// output rows (and a shorter last one).
func chunkWaste(g window, d int) int {
	waste := 0
	for _, r := range chunkBlockRows {
		extra := func(rows int) int {
			px := rows * g.ow
			return (px+r-1)/r*r - px
		}
		waste += g.oh / d * extra(d)
		if t := g.oh % d; t > 0 {
			waste += extra(t)
		}
	}
	return waste
}

// im2colChunkTail is the rows of the last chunk of an output of height oh
// in chunks of d rows when d does not divide oh, or 0.
func im2colChunkTail(oh, d int) int { return oh % d }

// chunkKernel is the Im2colInterior kernel of rows output rows of the
// padded geometry, on the rows of the padded input that their windows
// read.
func (p padded) chunkKernel(name string, rows int) asm.Kernel {
	k := p.kernel(name)
	k.Conv.OutH = rows
	k.Conv.InH = (rows-1)*p.g.sh + p.g.kh
	return k
}

// imPadAt is the offset in an im2col stage's <layer>Cols of the padded
// copy of its input: after the group's matrices (the larger of im2col's
// and dy2col's) come im2col's padded input, then dy2col's or col2im's
// accumulator (of im2col's size), then the plane kernel's slack.
func imPadAt(s *stage) int {
	v := s.vec
	at := colsSize(s) - v.planeSlack - paddedOf(windowOf(s.layer)).size
	if v.transposedConv {
		at -= paddedOf(transposedWindow(s.layer)).size
	}
	if v.col2imKernel != "" {
		at -= paddedOf(windowOf(s.layer)).size
	}
	return at
}

// colsSize is the size in floats of an im2col stage's <layer>Cols buffer.
func colsSize(s *stage) int { return s.vec.colsSize }

// usesCols says whether stage s has a <layer>Cols buffer: an im2col stage
// that is not pointwise, whose GEMMs read the tile buffers themselves.
func usesCols(s *stage) bool {
	return s.vec != nil && s.vec.im2col && !pointwise(s.layer)
}

// colGeom is the geometry of an im2col matrix: windows g over a [h][w][c]
// input, rows the output pixels, kkc taps per row.
type colGeom struct {
	g        window
	kkc, run int // run: one kernel row's taps, contiguous in the input
}

func newColGeom(g window) colGeom {
	return colGeom{g: g, kkc: g.kh * g.kw * g.c, run: g.kw * g.c}
}

// rowView is `row := <buf>[(oy·ow+ox)·kkc:]`, the row of output pixel (oy, ox).
func (c colGeom) rowView(buf string) jen.Code {
	return jen.Id("row").Op(":=").Add(arrView(c.kkc, buf, lin(0, term{c.g.ow * c.kkc, "oy"}, term{c.kkc, "ox"})))
}

func (c colGeom) iyDef() jen.Code {
	return jen.Id("iy").Op(":=").Add(lin(-c.g.pt, term{c.g.sh, "oy"}, term{1, "kh"}))
}

func (c colGeom) iyOut() *jen.Statement {
	return jen.Id("iy").Op("<").Lit(0).Op("||").Id("iy").Op(">=").Lit(c.g.h)
}

// times is e·channels, or e for one channel.
func (c colGeom) times(e *jen.Statement) *jen.Statement {
	if c.g.c == 1 {
		return e
	}
	return e.Op("*").Lit(c.g.c)
}

// flipFunc emits <layer>Flip, which fills the flipped and transposed
// weights of conv stage s's transposed-convolution input gradient.
func (p *plan) flipFunc(f *jen.File, s *stage) {
	g, F, v := windowOf(s.layer), s.layer.Filters, s.vec
	cp := asm.PaddedStride(g.c)
	taps := g.kh * g.kw
	f.Comment(wrapDoc(fmt.Sprintf("%s fills wt[kh][kw][f][c] = w[%d−kh][%d−kw][c][f], the flipped and transposed weights that %s reads, rows padded to %d floats (zeros).", s.base+sufFlip, g.kh-1, g.kw-1, v.inputGrad, cp)))
	body := []jen.Code{forN("t", taps,
		jen.Id("src").Op(":=").Add(arrView(g.c*F, "w", jen.Lit((taps-1)*g.c*F).Op("-").Add(lin(0, term{g.c * F, "t"})))),
		forN("f", F,
			jen.Id("row").Op(":=").Add(arrView(cp, "wt", lin(0, term{F * cp, "t"}, term{cp, "f"}))),
			forN("c", g.c, jen.Id("row").Index(jen.Id("c")).Op("=").Id("src").Index(lin(0, term{F, "c"}, term{1, "f"}))),
			func() jen.Code {
				if cp == g.c {
					return jen.Null()
				}
				return jen.Clear(jen.Id("row").Index(jen.Lit(g.c), jen.Empty()))
			}(),
		),
	)}
	f.Func().Id(s.base+sufFlip).Params(
		jen.Id("wt").Add(ptrFloatArr(v.transposedSize)),
		jen.Id("w").Add(ptrFloatArr(taps*g.c*F)),
	).Block(body...)
}

// pointwiseGemm emits the functions of the im2col path of a pointwise conv
// stage s (1×1, stride 1, no padding): its im2col matrices are the tile
// buffers themselves, so <layer>ForwardGemm and <layer>BackwardGemm run
// one GEMM each over all n samples, with no copies and no cols buffer.
func (p *plan) pointwiseGemm(f *jen.File, s *stage) {
	l, v := s.layer, s.vec
	C, F := l.In.Channels, l.Filters
	inSize, outSize := l.In.Size(), l.Out.Size()
	rows := l.Out.Height * l.Out.Width
	all := func(buf string, size int) jen.Code {
		return jen.Id(buf).Index(jen.Empty(), jen.Id("n").Op("*").Lit(size))
	}
	nRows := jen.Id("n").Op("*").Lit(rows)

	fwd := s.base + sufForwardGemm
	f.Comment(wrapDoc(fmt.Sprintf("%s computes %s for the first n samples of a tile on the vector path: a pointwise convolution is one GEMM (%s) of the inputs, a [n·%d][%d] matrix, and the weights [%d][%d], plus the bias.", fwd, describe(s), v.forward, rows, C, C, F)))
	f.Func().Id(fwd).Params(
		jen.Id("n").Int(),
		jen.Id("in").Add(tileArr(inSize)),
		jen.Id("out").Add(tileArr(outSize)),
		jen.Id("w").Add(ptrFloatArr(C*F)),
		jen.Id("b").Add(ptrFloatArr(F)),
	).Block(jen.Id(v.forward).Call(all("out", outSize), all("in", inSize), jen.Id("w"), jen.Id("b"), nRows))
	if r := p.frozenReLUs()[s]; r != nil {
		fn := s.base + sufForwardReLU
		f.Comment(wrapDoc(fmt.Sprintf("%s is %s followed by %s in place, for Frozen's forward: the GEMM runs on blocks of %d rows, and the ReLU on each block while it is in cache.", fn, fwd, r.layer.Name, reluBlockRows(F))))
		f.Func().Id(fn).Params(
			jen.Id("n").Int(),
			jen.Id("in").Add(tileArr(inSize)),
			jen.Id("out").Add(tileArr(outSize)),
			jen.Id("w").Add(ptrFloatArr(C*F)),
			jen.Id("b").Add(ptrFloatArr(F)),
		).Block(append([]jen.Code{jen.List(jen.Id("y"), jen.Id("x")).Op(":=").List(all("out", outSize), all("in", inSize))},
			reluBlocks(v.forward, nRows, F, C)...)...)
	}
	if !s.backward {
		return
	}
	bwd := s.base + sufBackwardGemm
	doc := fmt.Sprintf("%s runs the backward pass of %s for the first n samples of a tile on the vector path, from dOut, the gradient before the activation: it accumulates the weight and bias gradients into dw and db (%s)", bwd, describe(s), v.weightGrad)
	params := []jen.Code{jen.Id("n").Int(), jen.Id("in").Add(tileArr(inSize)), jen.Id("dOut").Add(tileArr(outSize))}
	body := []jen.Code{jen.Id(v.weightGrad).Call(jen.Id("dw"), jen.Id("db"), all("in", inSize), all("dOut", outSize), nRows)}
	if s.inGrad {
		p.flipFunc(f, s)
		doc += fmt.Sprintf(" and computes dIn as one GEMM with the transposed weights wt (%s, filled by %s%s)", v.inputGrad, s.base, sufFlip)
		if v.inputReLU {
			doc += ", which also applies the backward of the ReLU that made the input (dIn = 0 where in ≤ 0)"
		}
		params = append(params, jen.Id("dIn").Add(tileArr(inSize)), jen.Id("wt").Add(ptrFloatArr(v.transposedSize)))
		args := []jen.Code{all("dIn", inSize), all("dOut", outSize)}
		if v.inputReLU {
			args = append(args, all("in", inSize))
		}
		body = append(body, jen.Id(v.inputGrad).Call(append(args, jen.Id("wt"), nRows)...))
	}
	params = append(params, jen.Id("dw").Add(ptrFloatArr(C*F)), jen.Id("db").Add(ptrFloatArr(F)))
	f.Comment(wrapDoc(doc + "."))
	f.Func().Id(bwd).Params(params...).Block(body...)
}

// convGemm emits the Go functions of the im2col path of conv stage s:
// <layer>Im2col, <layer>ForwardGemm and, when it runs backward,
// <layer>BackwardGemm and, with inGrad, either <layer>Col2im or (for a
// transposed-convolution input gradient) <layer>Dy2col and <layer>Flip.
func (p *plan) convGemm(f *jen.File, s *stage) {
	l := s.layer
	if pointwise(l) {
		p.pointwiseGemm(f, s)
		return
	}
	g := windowOf(l)
	F := l.Filters
	cg := newColGeom(g)
	kkc := cg.kkc
	rows := g.oh * g.ow
	colsOne := rows * kkc
	inSize, outSize := l.In.Size(), l.Out.Size()
	v := s.vec
	group := v.group
	colsType := ptrFloatArr(colsSize(s))

	// Im2col.
	im2col := s.base + sufIm2col
	f.Comment(wrapDoc(fmt.Sprintf("%s writes the im2col matrix of one sample x of %s to cols: row oy·%d+ox holds the %d inputs under the window of output pixel (oy, ox) in weight order [kh][kw][c], zeros for taps in the padding.", im2col, describe(s), g.ow, kkc)))
	imPad := paddedOf(g)
	padAt := imPadAt(s)
	var dyPad padded
	if v.transposedConv {
		dyPad = paddedOf(transposedWindow(l))
	}
	imParams := []jen.Code{jen.Id("x").Add(ptrFloatArr(inSize)), jen.Id("cols").Add(ptrFloatArr(colsOne))}
	if imPad.size > 0 {
		imParams = append(imParams, jen.Id("pad").Add(ptrFloatArr(imPad.size)))
	}
	f.Func().Id(im2col).Params(imParams...).Block(imPad.body(v.im2colKernel)...)

	// stack fills cols with the im2col matrices (fn, one per size floats)
	// of samples [s0, s0+k) of buf, through the padded buffer at off.
	stack := func(fn, buf string, size, one int, pd padded, off int) jen.Code {
		args := []jen.Code{arrView(size, buf, lin(0, term{size, "s0"}, term{size, "t"})), arrView(one, "cols", lin(0, term{one, "t"}))}
		if pd.size > 0 {
			args = append(args, arrView(pd.size, "cols", jen.Lit(off)))
		}
		return forUp("t", jen.Lit(0), jen.Id("k"), jen.Id(fn).Call(args...))
	}
	groupLoop := func(body ...jen.Code) jen.Code {
		return jen.For(jen.Id("s0").Op(":=").Lit(0), jen.Id("s0").Op("<").Id("n"), jen.Id("s0").Op("+=").Lit(group)).Block(
			append([]jen.Code{jen.Id("k").Op(":=").Min(jen.Lit(group), jen.Id("n").Op("-").Id("s0"))}, body...)...)
	}
	samples := func(buf string, size int) *jen.Statement {
		return jen.Id(buf).Index(lin(0, term{size, "s0"}), jen.Parens(jen.Id("s0").Op("+").Id("k")).Op("*").Lit(size))
	}
	colsRows := func(one int) jen.Code { return jen.Id("cols").Index(jen.Empty(), jen.Id("k").Op("*").Lit(one)) }
	nRows := func(r int) jen.Code { return jen.Id("k").Op("*").Lit(r) }

	// ForwardGemm, and ForwardReLU for Frozen's forward (frozenReLUs).
	wsize := kkc * F
	fwd := s.base + sufForwardGemm
	fwdParams := func() []jen.Code {
		return []jen.Code{
			jen.Id("n").Int(),
			jen.Id("in").Add(tileArr(inSize)),
			jen.Id("out").Add(tileArr(outSize)),
			jen.Id("cols").Add(colsType.Clone()),
			jen.Id("w").Add(ptrFloatArr(wsize)),
			jen.Id("b").Add(ptrFloatArr(F)),
		}
	}
	// fwdBody is ForwardGemm's body, with relu each GEMM's output then
	// goes through the ReLU.
	fwdBody := func(relu bool) jen.Code {
		if v.plane != "" {
			// Sample by sample: the input into the padded copy, then
			// the kernel on it (and the slack after it).
			body := []jen.Code{
				perSample(l, "x", "in"),
				jen.Id("pad").Op(":=").Add(arrView(imPad.size+v.planeSlack, "cols", jen.Lit(padAt))),
				imPad.copyIn("x"),
				jen.Id("y").Op(":=").Add(arrView(outSize, "out", lin(0, term{outSize, "s"}))),
				jen.Id(v.plane).Call(jen.Id("y"), jen.Id("pad"), jen.Id("w"), jen.Id("b")),
			}
			if relu {
				body = append(body, jen.Id(reluVec).Call(jen.Id("y").Index(jen.Empty()), jen.Id("y").Index(jen.Empty())))
			}
			return tileLoop(body...)
		}
		if d := v.chunkRows; d > 0 {
			// Sample by sample, d output rows at a time: their im2col
			// rows (from the padded copy, or the input itself), then the
			// GEMM on them.
			src, pre := "x", []jen.Code{perSample(l, "x", "in")}
			if imPad.size > 0 {
				src = "pad"
				pre = append(pre, jen.Id("pad").Op(":=").Add(arrView(imPad.size, "cols", jen.Lit(padAt))), imPad.copyIn("x"))
			}
			inW := imPad.w // the input's own width when it is not padded
			// rowsAt is the im2col and the GEMM of the rows output rows
			// from r0 + r on (r: the loop's variable, or "" for none).
			rowsAt := func(kernel string, rows, r0 int, r string) []jen.Code {
				chunkIn := ((rows-1)*g.sh + g.kh) * inW * g.c
				chunk := rows * g.ow * kkc
				rc := 1 // r's coefficient
				if r == "" {
					rc = 0
				}
				body := []jen.Code{
					jen.Id(kernel).Call(arrView(chunk, "cols", jen.Lit(0)), arrView(chunkIn, src, lin(r0*g.sh*inW*g.c, term{rc * g.sh * inW * g.c, r}))),
					jen.Id("y").Op(":=").Id("out").Index(lin(r0*g.ow*F, term{outSize, "s"}, term{rc * g.ow * F, r}), lin((r0+rows)*g.ow*F, term{outSize, "s"}, term{rc * g.ow * F, r})),
					jen.Id(v.forward).Call(jen.Id("y"), jen.Id("cols").Index(jen.Empty(), jen.Lit(chunk)), jen.Id("w"), jen.Id("b"), jen.Lit(rows*g.ow)),
				}
				if relu {
					body = append(body, jen.Id(reluVec).Call(jen.Id("y"), jen.Id("y")))
				}
				return body
			}
			t := im2colChunkTail(g.oh, d)
			body := append(pre, jen.For(jen.Id("r").Op(":=").Lit(0), jen.Id("r").Op("<").Lit(g.oh-t), jen.Id("r").Op("+=").Lit(d)).Block(rowsAt(v.chunkKernel, d, 0, "r")...))
			if t > 0 {
				body = append(body, jen.Block(rowsAt(v.chunkTailKernel, t, g.oh-t, "")...))
			}
			return tileLoop(body...)
		}
		if !relu {
			return groupLoop(
				stack(im2col, "in", inSize, colsOne, imPad, padAt),
				jen.Id(v.forward).Call(samples("out", outSize), colsRows(colsOne), jen.Id("w"), jen.Id("b"), nRows(rows)),
			)
		}
		return groupLoop(append([]jen.Code{
			stack(im2col, "in", inSize, colsOne, imPad, padAt),
			jen.List(jen.Id("y"), jen.Id("x")).Op(":=").List(samples("out", outSize), colsRows(colsOne)),
		}, reluBlocks(v.forward, nRows(rows), F, kkc)...)...)
	}
	how := fmt.Sprintf("per group of up to %d samples, their im2col matrices (%s) times the weights [%d][%d] plus the bias, as one GEMM (%s)", group, im2col, kkc, F, v.forward)
	switch {
	case v.plane != "":
		how = fmt.Sprintf("sample by sample, the input copied into its zero-bordered buffer, which %s convolves directly, 8 output pixels to a vector (no im2col matrix)", v.plane)
	case v.chunkRows > 0:
		d := v.chunkRows
		how = fmt.Sprintf("sample by sample, %d output rows at a time, their rows of the im2col matrix (%s) times the weights [%d][%d] plus the bias (%s), so that the rows stay in cache from the copy to the GEMM", d, v.chunkKernel, kkc, F, v.forward)
		if t := im2colChunkTail(g.oh, d); t > 0 {
			how += fmt.Sprintf(" (the last %d rows: %s)", t, v.chunkTailKernel)
		}
	}
	f.Comment(wrapDoc(fmt.Sprintf("%s computes %s for the first n samples of a tile on the vector path: %s. cols is the worker's scratch buffer.", fwd, describe(s), how)))
	f.Func().Id(fwd).Params(fwdParams()...).Block(fwdBody(false))
	if r := p.frozenReLUs()[s]; r != nil {
		fn := s.base + sufForwardReLU
		doc := fmt.Sprintf("%s is %s followed by %s in place, for Frozen's forward: per group, the GEMM runs on blocks of %d rows, and the ReLU on each block while it is in cache.", fn, fwd, r.layer.Name, reluBlockRows(F))
		if v.chunkRows > 0 {
			doc = fmt.Sprintf("%s is %s followed by %s in place, for Frozen's forward: the ReLU runs on each chunk's outputs right after its GEMM.", fn, fwd, r.layer.Name)
		}
		if v.plane != "" {
			doc = fmt.Sprintf("%s is %s followed by %s in place, for Frozen's forward: the ReLU runs on each sample's outputs right after %s.", fn, fwd, r.layer.Name, v.plane)
		}
		f.Comment(wrapDoc(doc))
		f.Func().Id(fn).Params(fwdParams()...).Block(fwdBody(true))
	}

	if !s.backward {
		return
	}
	col2im, dy2col, flip := s.base+sufCol2im, s.base+sufDy2col, s.base+sufFlip
	var inputDoc string
	if s.inGrad && !v.transposedConv {
		doc := fmt.Sprintf("%s writes to dx the gradient of one sample's input of %s from dcols, the gradient of its im2col matrix (%s): each input adds the entries of the windows that read it, window by window in row-major order (%s)", col2im, l.Name, im2col, v.col2imKernel)
		params := []jen.Code{jen.Id("dcols").Add(ptrFloatArr(colsOne)), jen.Id("dx").Add(ptrFloatArr(inSize))}
		if imPad.size > 0 {
			doc += ", into acc, a zero-bordered copy of dx that holds every window, whose interior is then copied to dx"
		}
		doc += "."
		if v.inputReLU {
			doc += " It then applies the backward of the ReLU that made the input h: dx = 0 where h ≤ 0."
			params = append(params, jen.Id("h").Add(ptrFloatArr(inSize)))
		}
		if imPad.size > 0 {
			params = append(params, jen.Id("acc").Add(ptrFloatArr(imPad.size)))
		}
		f.Comment(wrapDoc(doc))
		f.Func().Id(col2im).Params(params...).Block(imPad.col2imBody(v.col2imKernel, inSize, v.inputReLU)...)
		inputDoc = fmt.Sprintf(", then overwrites cols with their gradient (%s, on the transposed weights wt) and scatters it into dIn (%s)", v.inputGrad, col2im)
	}
	if s.inGrad && v.transposedConv {
		tg := transposedWindow(l)
		tc := newColGeom(tg)
		f.Comment(wrapDoc(fmt.Sprintf("%s writes the im2col matrix of one sample's output gradient x of %s (stride 1) for its input gradient, a convolution of x with the weights flipped (%s): row iy·%d+ix holds the %d gradients under the window of input pixel (iy, ix), padding %d,%d, in the order [kh][kw][f] of the flipped kernel, zeros outside.", dy2col, l.Name, flip, g.w, tc.kkc, tg.pt, tg.pl)))
		dyParams := []jen.Code{jen.Id("x").Add(ptrFloatArr(outSize)), jen.Id("cols").Add(ptrFloatArr(g.h * g.w * tc.kkc))}
		if dyPad.size > 0 {
			dyParams = append(dyParams, jen.Id("pad").Add(ptrFloatArr(dyPad.size)))
		}
		f.Func().Id(dy2col).Params(dyParams...).Block(dyPad.body(v.dy2colKernel)...)
		p.flipFunc(f, s)
		inputDoc = fmt.Sprintf(", then overwrites cols with the im2col matrices of dOut for the input gradient (%s) and computes dIn as one GEMM with the flipped weights wt (%s)", dy2col, v.inputGrad)
		if v.inputReLU {
			inputDoc += ", which also applies the backward of the ReLU that made the input (dIn = 0 where in ≤ 0)"
		}
	}

	bwd := s.base + sufBackwardGemm
	doc := fmt.Sprintf("%s runs the backward pass of %s for the first n samples of a tile on the vector path, from dOut, the gradient before the activation: per group of up to %d samples it rebuilds their im2col matrices in cols and accumulates the weight and bias gradients into dw and db (%s)", bwd, describe(s), group, v.weightGrad)
	params := []jen.Code{jen.Id("n").Int(), jen.Id("in").Add(tileArr(inSize)), jen.Id("dOut").Add(tileArr(outSize))}
	if s.inGrad {
		doc += inputDoc
		params = append(params, jen.Id("dIn").Add(tileArr(inSize)))
	}
	params = append(params, jen.Id("cols").Add(colsType.Clone()))
	if s.inGrad {
		params = append(params, jen.Id("wt").Add(ptrFloatArr(v.transposedSize)))
	}
	params = append(params, jen.Id("dw").Add(ptrFloatArr(wsize)), jen.Id("db").Add(ptrFloatArr(F)))
	body := []jen.Code{
		stack(im2col, "in", inSize, colsOne, imPad, padAt),
		jen.Id("dy").Op(":=").Add(samples("dOut", outSize)),
		jen.Id(v.weightGrad).Call(jen.Id("dw"), jen.Id("db"), colsRows(colsOne), jen.Id("dy"), nRows(rows)),
	}
	switch {
	case s.inGrad && v.transposedConv:
		one := g.h * g.w * newColGeom(transposedWindow(l)).kkc
		args := []jen.Code{samples("dIn", inSize), colsRows(one)}
		if v.inputReLU {
			args = append(args, samples("in", inSize))
		}
		args = append(args, jen.Id("wt"), nRows(g.h*g.w))
		body = append(body, stack(dy2col, "dOut", outSize, one, dyPad, padAt+imPad.size), jen.Id(v.inputGrad).Call(args...))
	case s.inGrad:
		args := []jen.Code{
			arrView(colsOne, "cols", lin(0, term{colsOne, "t"})),
			arrView(inSize, "dIn", lin(0, term{inSize, "s0"}, term{inSize, "t"})),
		}
		if v.inputReLU {
			args = append(args, arrView(inSize, "in", lin(0, term{inSize, "s0"}, term{inSize, "t"})))
		}
		if imPad.size > 0 {
			args = append(args, arrView(imPad.size, "cols", jen.Lit(padAt+imPad.size)))
		}
		body = append(body,
			jen.Id(v.inputGrad).Call(colsRows(colsOne), jen.Id("dy"), jen.Id("wt"), nRows(rows)),
			forUp("t", jen.Lit(0), jen.Id("k"), jen.Id(col2im).Call(args...)),
		)
	}
	f.Comment(wrapDoc(doc + "."))
	f.Func().Id(bwd).Params(params...).Block(groupLoop(body...))
}
