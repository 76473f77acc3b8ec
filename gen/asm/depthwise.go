package asm

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// The interior of a depthwise convolution (DepthwiseConv2DInterior) is one
// loop nest whose shape is entirely in its arguments: samples, then
// channel vectors (the window's KernelH·KernelW weight vectors and the
// bias stay in registers for the whole vector), then output rows, then
// output pixels, each a chain of one FMA per tap with the input as the
// memory operand. Every depthwise layer with the same kernel size then
// renders the same instructions, and Render emits them once per ISA: a
// network of thirteen such layers carries ≈1 KB of them, where kernels
// unrolled on constant offsets would carry tens of kilobytes.
//
// The taps' addresses come from three row pointers (kernel rows 0–2) and
// the channel stride as an index register scaled by 1 and 2 (kernel
// columns 1 and 2), which is what bounds the kernel to 3×3 windows.

// maxDepthwiseKernel bounds DepthwiseConv2DInterior's kernel height and
// width (see above).
const maxDepthwiseKernel = 3

// depthwiseLanes is the multiple of channels DepthwiseConv2DInterior
// needs: whole AVX2 vectors, and on AVX-512 whole vectors or a last half
// vector (masked).
const depthwiseLanes = 8

// depthwiseArgs are the TEXT symbol's arguments: the four arrays, then the
// geometry in bytes and counts (see depthwiseConsts).
var depthwiseArgs = []string{"y", "x", "w", "b", "n", "c4", "inStep", "outStep", "xOrigin", "yOrigin", "rowCount", "colCount", "colStep", "rowStride", "xAdvance", "yAdvance"}

// interiorRange is the range [lo, hi) of output positions along one axis
// whose windows lie wholly inside the input.
func interiorRange(in, kernel, stride, pad, out int) (lo, hi int) {
	lo, hi = out, out
	for o := range out {
		first := o*stride - pad
		if first >= 0 && first+kernel <= in {
			if lo == out {
				lo = o
			}
			hi = o + 1
		}
	}
	return lo, hi
}

// depthwiseInterior returns the interior's output rows and columns.
func (c ConvShape) depthwiseInterior() (ylo, yhi, xlo, xhi int) {
	ylo, yhi = interiorRange(c.InH, c.KernelH, c.StrideH, c.PadTop, c.OutH)
	xlo, xhi = interiorRange(c.InW, c.KernelW, c.StrideW, c.PadLeft, c.OutW)
	return ylo, yhi, xlo, xhi
}

func (c ConvShape) validateDepthwise() error {
	// As ConvShape.validate, without its bound on unrolled terms: this
	// kernel loops over everything.
	if err := c.validateGeometry(); err != nil {
		return err
	}
	if c.Filters != c.InC {
		return fmt.Errorf("a depthwise convolution has as many filters as channels, got %d and %d", c.Filters, c.InC)
	}
	if c.KernelH > maxDepthwiseKernel || c.KernelW > maxDepthwiseKernel {
		return fmt.Errorf("kernels up to %dx%d, got %dx%d", maxDepthwiseKernel, maxDepthwiseKernel, c.KernelH, c.KernelW)
	}
	if c.InC%depthwiseLanes != 0 {
		return fmt.Errorf("channels must be a multiple of %d, got %d", depthwiseLanes, c.InC)
	}
	if ylo, yhi, xlo, xhi := c.depthwiseInterior(); ylo >= yhi || xlo >= xhi {
		return fmt.Errorf("no output pixel has its whole window inside the input")
	}
	if int64(c.InH)*int64(c.InW)*int64(c.InC) > 1<<28 {
		return fmt.Errorf("%dx%dx%d inputs are too large", c.InH, c.InW, c.InC)
	}
	return nil
}

// depthwiseValues are the expressions the dispatcher passes for the
// geometry arguments, for output rows [lo, hi) (its lo and hi, already
// clipped to the interior).
func (c ConvShape) depthwiseValues() map[string]jen.Code {
	C := 4 * c.InC
	_, _, xlo, xhi := c.depthwiseInterior()
	cols := xhi - xlo
	lit := func(v int) jen.Code { return jen.Lit(v) }
	// at is base + lo·step: the offset of row lo's first interior pixel.
	at := func(base, step int) jen.Code {
		e := jen.Id("lo").Op("*").Lit(step)
		if base != 0 {
			e = jen.Lit(base).Op("+").Add(e)
		}
		return e
	}
	return map[string]jen.Code{
		"c4":        lit(C),
		"inStep":    lit(c.InH * c.InW * C),
		"outStep":   lit(c.OutH * c.OutW * C),
		"xOrigin":   at((xlo*c.StrideW-c.PadLeft-c.PadTop*c.InW)*C, c.StrideH*c.InW*C),
		"yOrigin":   at(xlo*C, c.OutW*C),
		"rowCount":  jen.Id("hi").Op("-").Id("lo"),
		"colCount":  lit(cols),
		"colStep":   lit(c.StrideW * C),
		"rowStride": lit(c.InW * C),
		"xAdvance":  lit(c.StrideH*c.InW*C - cols*c.StrideW*C),
		"yAdvance":  lit(c.OutW*C - cols*C),
	}
}

// depthwiseMode is what a depthwise interior kernel computes.
type depthwiseMode int

const (
	dwForward    depthwiseMode = iota // y = b + Σ x·w
	dwWeightGrad                      // dw += Σ x·dy, db += Σ dy (slots y, x, w, b: dy, x, dw, db)
	dwInputGrad                       // dx += Σ w·dy (slots y, x, w: dy, dx, w)
)

// depthwiseSpec is one depthwise interior kernel.
type depthwiseSpec struct {
	symbol           string
	mode             depthwiseMode
	kernelH, kernelW int
	values           map[string]jen.Code
	what             []string
	reference        string
}

func (d depthwiseSpec) asm() asmFunc {
	return asmFunc{symbol: d.symbol, args: depthwiseArgs, counts: depthwiseArgs[4:], values: d.values}
}

// planDepthwise plans the loop nest for one ISA: per channel vector (the
// window's weights, or its weight-gradient accumulators, in registers),
// the samples, rows and pixels of the interior.
func planDepthwise(d depthwiseSpec, isa isaParams) *flatCtx {
	z := isa.suffix == "AVX512"
	arg := func(name string) string { return argAt(depthwiseArgs, name) }
	ctx := sharedCtx(d.asm(), isa, d.reference, d.what, []define{
		{"dw_y", "AX", "y (dy): current sample"}, {"dw_x", "BX", "x (dx): current sample"},
		{"dw_n", "CX", "samples left"}, {"dw_cv", "DX", "byte offset of the channel vector"},
		{"dw_r0", "SI", "x (dx): kernel row 0 of the current window"}, {"dw_r1", "DI", "kernel row 1"}, {"dw_r2", "R8", "kernel row 2"},
		{"dw_yp", "R9", "y (dy): current output pixel"}, {"dw_c4", "R10", "bytes per pixel (channels·4)"},
		{"dw_step", "R11", "bytes between the windows of neighbouring output pixels"},
		{"dw_cols", "R12", "output pixels left in the row"}, {"dw_rows", "R13", "output rows left"},
	})
	taps := d.kernelH * d.kernelW
	// Registers: the taps' weights (or weight-gradient accumulators) from
	// 0, then the bias (or its gradient), the accumulator or dy, a
	// temporary.
	wReg := func(t int) string { return isa.reg(t) }
	bReg, acc, tmp := isa.reg(taps), isa.reg(taps+1), isa.reg(taps+2)
	// On AVX-512, K1 selects the lanes of the channel vector: all 16, or 8
	// for a last half vector; AVX2 vectors are always whole.
	mask := func(args ...string) string {
		if !z {
			return joinArgs(args...)
		}
		return joinArgs(append(args[:len(args)-1:len(args)-1], "K1", args[len(args)-1])...)
	}
	io := k1IO{z}
	load, store := io.load, io.store
	vecBytes := 4 * isa.lanes
	rowReg := []string{"dw_r0", "dw_r1", "dw_r2"}
	colAddr := []string{"(%s)", "(%s)(dw_c4*1)", "(%s)(dw_c4*2)"}
	tapAddr := func(kh, kw int) string { return fmt.Sprintf(colAddr[kw], rowReg[kh]) }

	chanL, sample, rowL, pixL := d.symbol+"_chan", d.symbol+"_sample", d.symbol+"_row", d.symbol+"_pixel"
	b := []poolWindow{{Insns: []insn{
		in("MOVQ", arg("c4"), "dw_c4"), in("MOVQ", arg("colStep"), "dw_step"), in("XORQ", "dw_cv", "dw_cv"),
	}}}
	head := poolWindow{Label: chanL}
	if z {
		head.Comment = "K1: the vector's lanes"
		head.Insns = append(head.Insns, laneMask("dw_c4", "dw_cv", "dw_r0", "dw_r1", "dw_r2", vecBytes)...)
	}
	what := map[depthwiseMode]string{dwForward: "the window's weights and the bias, for every pixel", dwWeightGrad: "the weight and bias gradients so far", dwInputGrad: "the window's weights, for every pixel"}[d.mode]
	head.Insns = append(head.Insns, insn{Op: "MOVQ", Args: joinArgs(arg("w"), "dw_r0"), Comment: what}, in("ADDQ", "dw_cv", "dw_r0"))
	for t := range taps {
		head.Insns = append(head.Insns, load("(dw_r0)", wReg(t)))
		if t < taps-1 {
			head.Insns = append(head.Insns, in("ADDQ", "dw_c4", "dw_r0"))
		}
	}
	if d.mode != dwInputGrad {
		head.Insns = append(head.Insns, in("MOVQ", arg("b"), "dw_r0"), load("(dw_r0)(dw_cv*1)", bReg))
	}
	head.Insns = append(head.Insns, in("MOVQ", arg("y"), "dw_y"), in("MOVQ", arg("x"), "dw_x"), in("MOVQ", arg("n"), "dw_n"))
	b = append(b, head, poolWindow{Label: sample, Insns: []insn{
		insn{Op: "MOVQ", Args: joinArgs(arg("xOrigin"), "dw_r0"), Comment: "the first interior window"}, in("ADDQ", "dw_x", "dw_r0"), in("ADDQ", "dw_cv", "dw_r0"),
		in("MOVQ", arg("yOrigin"), "dw_yp"), in("ADDQ", "dw_y", "dw_yp"), in("ADDQ", "dw_cv", "dw_yp"),
		in("MOVQ", arg("rowCount"), "dw_rows"),
	}})
	row := poolWindow{Label: rowL}
	for kh := 1; kh < d.kernelH; kh++ {
		row.Insns = append(row.Insns, in("MOVQ", rowReg[kh-1], rowReg[kh]), in("ADDQ", arg("rowStride"), rowReg[kh]))
	}
	row.Insns = append(row.Insns, in("MOVQ", arg("colCount"), "dw_cols"))
	b = append(b, row)
	pix := poolWindow{Label: pixL}
	switch d.mode {
	case dwForward:
		pix.Insns = append(pix.Insns, in("VMOVAPS", bReg, acc))
		for kh := range d.kernelH {
			for kw := range d.kernelW {
				pix.Insns = append(pix.Insns, insn{Op: "VFMADD231PS", Args: mask(tapAddr(kh, kw), wReg(kh*d.kernelW+kw), acc)})
			}
		}
		pix.Insns = append(pix.Insns, store(acc, "(dw_yp)"))
	case dwWeightGrad:
		pix.Insns = append(pix.Insns, load("(dw_yp)", acc), in("VADDPS", acc, bReg, bReg))
		for kh := range d.kernelH {
			for kw := range d.kernelW {
				pix.Insns = append(pix.Insns, insn{Op: "VFMADD231PS", Args: mask(tapAddr(kh, kw), acc, wReg(kh*d.kernelW+kw))})
			}
		}
	case dwInputGrad:
		pix.Insns = append(pix.Insns, load("(dw_yp)", acc))
		for kh := range d.kernelH {
			for kw := range d.kernelW {
				pix.Insns = append(pix.Insns, load(tapAddr(kh, kw), tmp),
					in("VFMADD231PS", wReg(kh*d.kernelW+kw), acc, tmp), store(tmp, tapAddr(kh, kw)))
			}
		}
	}
	for kh := range d.kernelH {
		pix.Insns = append(pix.Insns, in("ADDQ", "dw_step", rowReg[kh]))
	}
	pix.Insns = append(pix.Insns, in("ADDQ", "dw_c4", "dw_yp"), in("DECQ", "dw_cols"), in("JNZ", pixL))
	end := poolWindow{Insns: []insn{
		in("ADDQ", arg("xAdvance"), "dw_r0"), in("ADDQ", arg("yAdvance"), "dw_yp"),
		in("DECQ", "dw_rows"), in("JNZ", rowL),
		in("ADDQ", arg("inStep"), "dw_x"), in("ADDQ", arg("outStep"), "dw_y"),
		in("DECQ", "dw_n"), in("JNZ", sample),
	}}
	if d.mode == dwWeightGrad {
		end.Insns = append(end.Insns, insn{Op: "MOVQ", Args: joinArgs(arg("w"), "dw_r0"), Comment: "store the gradients"}, in("ADDQ", "dw_cv", "dw_r0"))
		for t := range taps {
			end.Insns = append(end.Insns, store(wReg(t), "(dw_r0)"))
			if t < taps-1 {
				end.Insns = append(end.Insns, in("ADDQ", "dw_c4", "dw_r0"))
			}
		}
		end.Insns = append(end.Insns, in("MOVQ", arg("b"), "dw_r0"), store(bReg, "(dw_r0)(dw_cv*1)"))
	}
	end.Insns = append(end.Insns, in("ADDQ", fmt.Sprintf("$%d", vecBytes), "dw_cv"), in("CMPQ", "dw_cv", "dw_c4"), in("JLT", chanL))
	b = append(b, pix, end)
	ctx.Blocks = b
	return ctx
}

// joinArgs joins operands with ", ".
func joinArgs(args ...string) string {
	s := ""
	for i, a := range args {
		if i > 0 {
			s += ", "
		}
		s += a
	}
	return s
}

// depthwiseRefBody is the reference loop nest over the interior of each
// depthwise op: per sample, pixel and tap, as the assembly orders each
// channel's terms (the forward: the bias, then the taps in row-major order).
func (k Kernel) depthwiseRefBody() []jen.Code {
	c := k.Conv
	C := c.InC
	ylo, yhi, xlo, xhi := c.depthwiseInterior()
	inSize, outSize := c.InH*c.InW*C, c.OutH*c.OutW*C
	view := func(name, src string, index jen.Code) jen.Code {
		return jen.Id(name).Op(":=").Parens(jen.Op("*").Index(jen.Lit(C)).Float32()).Call(jen.Id(src).Index(jen.Add(index).Op(":")))
	}
	sample := func(name, src string, size int) jen.Code {
		return jen.Id(name).Op(":=").Id(src).Index(jen.Id("s").Op("*").Lit(size).Op(":").Parens(jen.Id("s").Op("+").Lit(1)).Op("*").Lit(size))
	}
	cc := func(name string) *jen.Statement { return jen.Id(name).Index(jen.Id("c")) }
	var samples, perPixel, perTap []jen.Code
	outRow := jen.Parens(jen.Id("oh").Op("*").Lit(c.OutW).Op("+").Id("ow")).Op("*").Lit(C)
	inRow := jen.Parens(jen.Id("ih").Op("*").Lit(c.InW).Op("+").Id("iw")).Op("*").Lit(C)
	tapW := jen.Parens(jen.Id("kh").Op("*").Lit(c.KernelW).Op("+").Id("kw")).Op("*").Lit(C)
	switch k.Op {
	case DepthwiseConv2DInterior:
		samples = []jen.Code{sample("xs", "x", inSize), sample("ys", "y", outSize)}
		perPixel = []jen.Code{view("o", "ys", outRow), jen.Op("*").Id("o").Op("=").Op("*").Id("b")}
		perTap = []jen.Code{view("v", "xs", inRow), view("r", "w", tapW),
			jen.For(jen.Id("c").Op(":=").Range().Id("o")).Block(cc("o").Op("+=").Add(cc("v")).Op("*").Add(cc("r")))}
	case DepthwiseConv2DWeightGradInterior:
		samples = []jen.Code{sample("xs", "x", inSize), sample("ds", "dy", outSize)}
		perPixel = []jen.Code{view("d", "ds", outRow), jen.For(jen.Id("c").Op(":=").Range().Id("d")).Block(cc("db").Op("+=").Add(cc("d")))}
		perTap = []jen.Code{view("v", "xs", inRow), view("g", "dw", tapW),
			jen.For(jen.Id("c").Op(":=").Range().Id("d")).Block(cc("g").Op("+=").Add(cc("v")).Op("*").Add(cc("d")))}
	case DepthwiseConv2DInputGradInterior:
		samples = []jen.Code{sample("dxs", "dx", inSize), sample("ds", "dy", outSize)}
		perPixel = []jen.Code{view("d", "ds", outRow)}
		perTap = []jen.Code{view("v", "dxs", inRow), view("r", "w", tapW),
			jen.For(jen.Id("c").Op(":=").Range().Id("d")).Block(cc("v").Op("+=").Add(cc("r")).Op("*").Add(cc("d")))}
	}
	taps := append([]jen.Code{
		jen.Id("ih").Op(":=").Id("oh").Op("*").Lit(c.StrideH).Op("-").Lit(c.PadTop).Op("+").Id("kh"),
		jen.Id("iw").Op(":=").Id("ow").Op("*").Lit(c.StrideW).Op("-").Lit(c.PadLeft).Op("+").Id("kw"),
	}, perTap...)
	var head []jen.Code
	if k.Op != DepthwiseConv2DInterior {
		// Every interior row (the forward takes a range of rows).
		head = append(head, jen.List(jen.Id("lo"), jen.Id("hi")).Op(":=").List(jen.Lit(ylo), jen.Lit(yhi)))
	}
	return append(head,
		jen.For(jen.Id("s").Op(":=").Range().Id("n")).Block(append(samples,
			jen.For(jen.Id("oh").Op(":=").Max(jen.Id("lo"), jen.Lit(ylo)), jen.Id("oh").Op("<").Min(jen.Id("hi"), jen.Lit(yhi)), jen.Id("oh").Op("++")).Block(
				jen.For(jen.Id("ow").Op(":=").Lit(xlo), jen.Id("ow").Op("<").Lit(xhi), jen.Id("ow").Op("++")).Block(append(perPixel,
					jen.For(jen.Id("kh").Op(":=").Range().Lit(c.KernelH)).Block(
						jen.For(jen.Id("kw").Op(":=").Range().Lit(c.KernelW)).Block(taps...),
					),
				)...),
			),
		)...),
	)
}

// DepthwiseConv2DWindow computes one output pixel whose window reaches the
// padding: a loop over the taps inside the input, whose ranges come as
// arguments, per channel vector. It serves the border of the pixels
// that DepthwiseConv2DInterior leaves, with the same sums (the bias, then
// the taps in row-major order) and no shape of its own but the kernel
// width: every depthwise layer of a kernel width shares one TEXT per ISA.

// windowArgs are the TEXT symbol's arguments: the output pixel, the
// input at the first tap inside it, the weights of that tap, the bias;
// then bytes per pixel, the taps' rows and columns, and the bytes between
// rows of the input and of the weights.
var windowArgs = []string{"y", "x", "w", "b", "c4", "taprows", "tapcols", "xRow", "wRow"}

// windowSpec is one DepthwiseConv2DWindow kernel.
type windowSpec struct {
	symbol    string
	values    map[string]jen.Code
	what      []string
	reference string
}

func (d windowSpec) asm() asmFunc {
	return asmFunc{symbol: d.symbol, args: windowArgs, counts: windowArgs[4:], values: d.values}
}

// windowValues are the dispatcher's expressions for the arguments it
// derives from its own (the tap ranges kh0..kh1, kw0..kw1).
func (c ConvShape) windowValues() map[string]jen.Code {
	C := c.InC
	return map[string]jen.Code{
		"w":       jen.Op("&").Id("w").Index(jen.Parens(jen.Id("kh0").Op("*").Lit(c.KernelW).Op("+").Id("kw0")).Op("*").Lit(C)),
		"c4":      jen.Lit(4 * C),
		"taprows": jen.Id("kh1").Op("-").Id("kh0"),
		"tapcols": jen.Id("kw1").Op("-").Id("kw0"),
		"xRow":    jen.Lit(4 * C * c.InW),
		"wRow":    jen.Lit(4 * C * c.KernelW),
	}
}

// planWindow plans the loop nest for one ISA.
func planWindow(d windowSpec, isa isaParams) *flatCtx {
	z := isa.suffix == "AVX512"
	arg := func(name string) string { return argAt(windowArgs, name) }
	ctx := sharedCtx(d.asm(), isa, d.reference, d.what, []define{
		{"win_y", "AX", "y"}, {"win_x", "BX", "x at the first tap"}, {"win_w", "CX", "w at the first tap"},
		{"win_cv", "DX", "byte offset of the channel vector"}, {"win_c4", "SI", "bytes per pixel"},
		{"win_xr", "DI", "x: first tap of the current row"}, {"win_wr", "R8", "w: first tap of the current row"},
		{"win_xq", "R9", "x: current tap"}, {"win_wq", "R10", "w: current tap"},
		{"win_rows", "R11", "tap rows left"}, {"win_cols", "R12", "taps left in the row"},
	})
	b := []poolWindow{{Insns: []insn{
		in("MOVQ", arg("y"), "win_y"), in("MOVQ", arg("x"), "win_x"), in("MOVQ", arg("w"), "win_w"),
		in("MOVQ", arg("c4"), "win_c4"), in("XORQ", "win_cv", "win_cv"),
	}}}
	chanL, vb := d.symbol+"_chan", 4*isa.lanes
	if !z {
		// Groups of windowGroup whole vectors, then one vector at a time
		// for the rest (or the end, when none are left).
		groupL, restL := d.symbol+"_group", d.symbol+"_rest"
		b = append(b, windowPass(isa, arg, windowGroup, windowLabels{groupL, d.symbol + "_grow", d.symbol + "_gtap"},
			poolWindow{Comment: fmt.Sprintf("%d channel vectors at a time", windowGroup), Insns: []insn{
				in("MOVQ", "win_c4", "win_xq"), in("SUBQ", "win_cv", "win_xq"), in("CMPQ", "win_xq", fmt.Sprintf("$%d", windowGroup*vb)), in("JLT", restL),
			}},
			[]insn{in("JMP", groupL)})...)
		b = append(b, poolWindow{Label: restL, Insns: []insn{in("CMPQ", "win_cv", "win_c4"), in("JGE", d.symbol+"_done")}})
	}
	var head poolWindow
	if z {
		head.Comment = "K1: the vector's lanes"
		head.Insns = laneMask("win_c4", "win_cv", "win_xr", "win_wr", "win_xq", vb)
	}
	b = append(b, windowPass(isa, arg, 1, windowLabels{chanL, d.symbol + "_row", d.symbol + "_tap"}, head,
		[]insn{in("CMPQ", "win_cv", "win_c4"), in("JLT", chanL)})...)
	if !z {
		b = append(b, poolWindow{Label: d.symbol + "_done"})
	}
	ctx.Blocks = b
	return ctx
}

// windowGroup is how many channel vectors an AVX2 window kernel sums at
// once: one accumulator chain per vector, so that the FMAs' latency
// (5 cycles on Zen 2) overlaps instead of bounding each tap.
const windowGroup = 4

// windowLabels are a window pass's labels: its channel vectors, its rows
// of taps, its taps.
type windowLabels struct{ vectors, row, tap string }

// windowPass is one pass of a window kernel over n channel vectors from
// win_cv (n > 1: whole AVX2 vectors; on AVX-512 K1 masks the one vector):
// after head's instructions, the sums start at the bias, the taps are
// looped row by row in row-major order (the same order for every lane, so
// every n gives the same bits), the sums are stored, win_cv steps past
// them, and next loops back.
func windowPass(isa isaParams, arg func(string) string, n int, l windowLabels, head poolWindow, next []insn) []poolWindow {
	z := isa.suffix == "AVX512"
	vb := 4 * isa.lanes
	io := k1IO{z}
	// at is base+off (the first vector without a displacement).
	at := func(g int, base string) string {
		if g == 0 {
			return base
		}
		return fmt.Sprintf("%d%s", g*vb, base)
	}
	head.Label = l.vectors
	head.Insns = append(head.Insns, in("MOVQ", arg("b"), "win_xr"))
	tap := poolWindow{Label: l.tap}
	var stores []insn
	for g := range n {
		acc, t := isa.reg(g), isa.reg(n+g)
		head.Insns = append(head.Insns, io.load(at(g, "(win_xr)(win_cv*1)"), acc))
		fma := in("VFMADD231PS", at(g, "(win_wq)"), t, acc)
		if z {
			fma = in("VFMADD231PS", at(g, "(win_wq)"), t, "K1", acc)
		}
		tap.Insns = append(tap.Insns, io.load(at(g, "(win_xq)"), t), fma)
		stores = append(stores, io.store(acc, at(g, "(win_y)(win_cv*1)")))
	}
	head.Insns = append(head.Insns, in("LEAQ", "(win_x)(win_cv*1)", "win_xr"), in("LEAQ", "(win_w)(win_cv*1)", "win_wr"), in("MOVQ", arg("taprows"), "win_rows"))
	row := poolWindow{Label: l.row, Insns: []insn{in("MOVQ", "win_xr", "win_xq"), in("MOVQ", "win_wr", "win_wq"), in("MOVQ", arg("tapcols"), "win_cols")}}
	tap.Insns = append(tap.Insns, in("ADDQ", "win_c4", "win_xq"), in("ADDQ", "win_c4", "win_wq"), in("DECQ", "win_cols"), in("JNZ", l.tap))
	tail := []insn{in("ADDQ", arg("xRow"), "win_xr"), in("ADDQ", arg("wRow"), "win_wr"), in("DECQ", "win_rows"), in("JNZ", l.row)}
	tail = append(append(tail, stores...), in("ADDQ", fmt.Sprintf("$%d", n*vb), "win_cv"))
	return []poolWindow{head, row, tap, {Insns: append(tail, next...)}}
}

// windows lists the window kernels that implement k.
func (k Kernel) windows() []windowSpec {
	if k.Op != DepthwiseConv2DWindow {
		return nil
	}
	c := k.Conv
	return []windowSpec{{
		symbol: k.Name, values: c.windowValues(), reference: k.Name + "Go",
		what: []string{
			"y[c] = b[c] + Σ_{kh0≤kh<kh1, kw0≤kw<kw1} x[kh−kh0][kw−kw0][c]·w[kh][kw][c]",
			"over one output pixel of a depthwise convolution: a loop over the taps",
			"inside the input (x points at the first of them), per channel vector. The",
			"shape comes in the arguments: every such kernel of the package runs this TEXT.",
		},
	}}
}

// windowRefBody is the reference of DepthwiseConv2DWindow.
func (k Kernel) windowRefBody() []jen.Code {
	c := k.Conv
	C := c.InC
	view := func(name, src string, index jen.Code) jen.Code {
		return jen.Id(name).Op(":=").Parens(jen.Op("*").Index(jen.Lit(C)).Float32()).Call(jen.Id(src).Index(jen.Add(index).Op(":")))
	}
	return []jen.Code{
		view("o", "y", jen.Lit(0)),
		jen.Op("*").Id("o").Op("=").Op("*").Id("b"),
		jen.For(jen.Id("kh").Op(":=").Id("kh0"), jen.Id("kh").Op("<").Id("kh1"), jen.Id("kh").Op("++")).Block(
			jen.For(jen.Id("kw").Op(":=").Id("kw0"), jen.Id("kw").Op("<").Id("kw1"), jen.Id("kw").Op("++")).Block(
				view("v", "x", jen.Parens(jen.Parens(jen.Id("kh").Op("-").Id("kh0")).Op("*").Lit(c.InW).Op("+").Id("kw").Op("-").Id("kw0")).Op("*").Lit(C)),
				view("r", "w", jen.Parens(jen.Id("kh").Op("*").Lit(c.KernelW).Op("+").Id("kw")).Op("*").Lit(C)),
				jen.For(jen.Id("c").Op(":=").Range().Id("o")).Block(
					jen.Id("o").Index(jen.Id("c")).Op("+=").Id("v").Index(jen.Id("c")).Op("*").Id("r").Index(jen.Id("c")),
				),
			),
		),
	}
}

// DepthwiseConv2DWindowGrad is the backward of DepthwiseConv2DWindow: for
// one output pixel whose window reaches the padding, with the gradient d
// of its pre-activation output, it adds d to db and, over the taps inside
// the input in row-major order, x·d to the tap's weight gradient and w·d
// to the tap's input gradient, per channel vector. Like the forward it has
// no shape of its own: every such kernel of a package runs one TEXT per
// ISA.

// windowGradArgs are the TEXT symbol's arguments: the output pixel's
// gradient, the input and its gradient at the first tap inside the
// window, the weights and their gradient at that tap, the bias gradient;
// then bytes per pixel, the taps' rows and columns, and the bytes from the
// end of a row of taps to the start of the next in the input and in the
// weights.
var windowGradArgs = []string{"d", "x", "dx", "w", "dw", "db", "c4", "taprows", "tapcols", "xSkip", "wSkip"}

// windowGradSpec is one DepthwiseConv2DWindowGrad kernel.
type windowGradSpec struct {
	symbol    string
	values    map[string]jen.Code
	what      []string
	reference string
}

// asm is the kernel's TEXT symbol: its arguments, which of them are
// counts, and the dispatcher's expressions for the derived ones.
func (d windowGradSpec) asm() asmFunc {
	return asmFunc{symbol: d.symbol, args: windowGradArgs, counts: windowGradArgs[6:], values: d.values}
}

// windowGradValues are the dispatcher's expressions for the arguments it
// derives from its own (the tap ranges kh0..kh1, kw0..kw1).
func (c ConvShape) windowGradValues() map[string]jen.Code {
	C := c.InC
	tap := func(name string) jen.Code {
		return jen.Op("&").Id(name).Index(jen.Parens(jen.Id("kh0").Op("*").Lit(c.KernelW).Op("+").Id("kw0")).Op("*").Lit(C))
	}
	skip := func(row int) jen.Code {
		return jen.Parens(jen.Lit(row).Op("-").Id("kw1").Op("+").Id("kw0")).Op("*").Lit(4 * C)
	}
	return map[string]jen.Code{
		"w":       tap("w"),
		"dw":      tap("dw"),
		"c4":      jen.Lit(4 * C),
		"taprows": jen.Id("kh1").Op("-").Id("kh0"),
		"tapcols": jen.Id("kw1").Op("-").Id("kw0"),
		"xSkip":   skip(c.InW),
		"wSkip":   skip(c.KernelW),
	}
}

// planWindowGrad plans the loop nest for one ISA: per channel vector, d
// stays in a register while the taps' rows and columns are looped; the
// input and its gradient share one offset register, and so do the
// weights and theirs.
func planWindowGrad(d windowGradSpec, isa isaParams) *flatCtx {
	z := isa.suffix == "AVX512"
	arg := func(name string) string { return argAt(windowGradArgs, name) }
	ctx := sharedCtx(d.asm(), isa, d.reference, d.what, []define{
		{"wg_d", "AX", "d"}, {"wg_x", "BX", "x at the first tap"}, {"wg_dx", "CX", "dx at the first tap"},
		{"wg_w", "DX", "w at the first tap"}, {"wg_dw", "SI", "dw at the first tap"},
		{"wg_cv", "DI", "byte offset of the channel vector"}, {"wg_c4", "R8", "bytes per pixel"},
		{"wg_xq", "R9", "x, dx: offset of the current tap"}, {"wg_wq", "R10", "w, dw: offset of the current tap"},
		{"wg_rows", "R11", "tap rows left"}, {"wg_cols", "R12", "taps left in the row"},
	})
	dv, t := isa.reg(0), isa.reg(1)
	io := k1IO{z}
	load, store := io.load, io.store
	// fma is dst += a·b with a in memory, on K1's lanes on AVX-512
	// (213: dst = dst·b + a).
	fma := func(op, mem, b, dst string) insn {
		if z {
			return in(op, mem, b, "K1", dst)
		}
		return in(op, mem, b, dst)
	}
	note := func(i insn, comment string) insn { i.Comment = comment; return i }
	chanL, rowL, tapL := d.symbol+"_chan", d.symbol+"_row", d.symbol+"_tap"
	b := []poolWindow{{Insns: []insn{
		in("MOVQ", arg("d"), "wg_d"), in("MOVQ", arg("x"), "wg_x"), in("MOVQ", arg("dx"), "wg_dx"),
		in("MOVQ", arg("w"), "wg_w"), in("MOVQ", arg("dw"), "wg_dw"),
		in("MOVQ", arg("c4"), "wg_c4"), in("XORQ", "wg_cv", "wg_cv"),
	}}}
	head := poolWindow{Label: chanL}
	if z {
		head.Comment = "K1: the vector's lanes"
		head.Insns = append(head.Insns, laneMask("wg_c4", "wg_cv", "wg_xq", "wg_wq", "wg_rows", 4*isa.lanes)...)
	}
	head.Insns = append(head.Insns,
		load("(wg_d)(wg_cv*1)", dv),
		note(in("MOVQ", arg("db"), "wg_xq"), "db += d"), load("(wg_xq)(wg_cv*1)", t),
		in("VADDPS", dv, t, t), store(t, "(wg_xq)(wg_cv*1)"),
		in("MOVQ", "wg_cv", "wg_xq"), in("MOVQ", "wg_cv", "wg_wq"), in("MOVQ", arg("taprows"), "wg_rows"))
	row := poolWindow{Label: rowL, Insns: []insn{in("MOVQ", arg("tapcols"), "wg_cols")}}
	tap := poolWindow{Label: tapL, Insns: []insn{
		note(load("(wg_x)(wg_xq*1)", t), "dw += x·d"), fma("VFMADD213PS", "(wg_dw)(wg_wq*1)", dv, t), store(t, "(wg_dw)(wg_wq*1)"),
		note(load("(wg_dx)(wg_xq*1)", t), "dx += w·d"), fma("VFMADD231PS", "(wg_w)(wg_wq*1)", dv, t), store(t, "(wg_dx)(wg_xq*1)"),
		in("ADDQ", "wg_c4", "wg_xq"), in("ADDQ", "wg_c4", "wg_wq"), in("DECQ", "wg_cols"), in("JNZ", tapL),
	}}
	tail := poolWindow{Insns: []insn{
		in("ADDQ", arg("xSkip"), "wg_xq"), in("ADDQ", arg("wSkip"), "wg_wq"), in("DECQ", "wg_rows"), in("JNZ", rowL),
		in("ADDQ", fmt.Sprintf("$%d", 4*isa.lanes), "wg_cv"), in("CMPQ", "wg_cv", "wg_c4"), in("JLT", chanL),
	}}
	ctx.Blocks = append(b, head, row, tap, tail)
	return ctx
}

// windowGrads lists the window gradient kernels that implement k.
func (k Kernel) windowGrads() []windowGradSpec {
	if k.Op != DepthwiseConv2DWindowGrad {
		return nil
	}
	return []windowGradSpec{{
		symbol: k.Name, values: k.Conv.windowGradValues(), reference: k.Name + "Go",
		what: []string{
			"db[c] += d[c]; dw[kh][kw][c] += x[kh−kh0][kw−kw0][c]·d[c]; dx[kh−kh0][kw−kw0][c] += w[kh][kw][c]·d[c]",
			"for kh0≤kh<kh1, kw0≤kw<kw1: the backward of one output pixel of a",
			"depthwise convolution, over the taps inside the input (x and dx point at",
			"the first of them), per channel vector. The shape comes in the",
			"arguments: every such kernel of the package runs this TEXT.",
		},
	}}
}

// windowGradRefBody is the reference of DepthwiseConv2DWindowGrad: the
// taps in row-major order, as the assembly takes them.
func (k Kernel) windowGradRefBody() []jen.Code {
	c := k.Conv
	C := c.InC
	view := func(name, src string, index jen.Code) jen.Code {
		return jen.Id(name).Op(":=").Parens(jen.Op("*").Index(jen.Lit(C)).Float32()).Call(jen.Id(src).Index(jen.Add(index).Op(":")))
	}
	cc := func(name string) *jen.Statement { return jen.Id(name).Index(jen.Id("c")) }
	return []jen.Code{
		view("g", "d", jen.Lit(0)),
		jen.For(jen.Id("c").Op(":=").Range().Id("g")).Block(cc("db").Op("+=").Add(cc("g"))),
		jen.For(jen.Id("kh").Op(":=").Id("kh0"), jen.Id("kh").Op("<").Id("kh1"), jen.Id("kh").Op("++")).Block(
			jen.For(jen.Id("kw").Op(":=").Id("kw0"), jen.Id("kw").Op("<").Id("kw1"), jen.Id("kw").Op("++")).Block(
				jen.Id("i").Op(":=").Parens(jen.Parens(jen.Id("kh").Op("-").Id("kh0")).Op("*").Lit(c.InW).Op("+").Id("kw").Op("-").Id("kw0")).Op("*").Lit(C),
				jen.Id("j").Op(":=").Parens(jen.Id("kh").Op("*").Lit(c.KernelW).Op("+").Id("kw")).Op("*").Lit(C),
				view("v", "x", jen.Id("i")), view("dv", "dx", jen.Id("i")),
				view("r", "w", jen.Id("j")), view("gw", "dw", jen.Id("j")),
				jen.For(jen.Id("c").Op(":=").Range().Id("g")).Block(
					cc("gw").Op("+=").Add(cc("v")).Op("*").Add(cc("g")),
					cc("dv").Op("+=").Add(cc("r")).Op("*").Add(cc("g")),
				),
			),
		),
	}
}
