package emit

import (
	"fmt"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
	"github.com/dave/jennifer/jen"
)

// maxUnrolledTaps is the largest kernel window whose taps the interior of a
// convolution unrolls (3×3 = 9); larger windows run constant-bound loops.
const maxUnrolledTaps = 9

// kernelsFile emits kernels.go: one forward and one backward function per
// stage (the pure-Go path), the vector path's <layer>ActGrad where needed,
// and the softmax and scalar helpers.
func (p *plan) kernelsFile(f *jen.File) {
	for _, s := range p.stages {
		switch s.layer.Kind {
		case runtime.Conv2D:
			if isDepthwise(s) {
				p.depthwiseForward(f, s)
				if s.backward {
					p.depthwiseBackward(f, s)
				}
				break
			}
			if s.groups() > 1 {
				p.groupedConvForward(f, s)
				if s.backward {
					p.groupedConvBackward(f, s)
				}
				break
			}
			p.convForward(f, s)
			if s.backward {
				p.convBackward(f, s)
			}
		case runtime.Dense:
			p.denseForward(f, s)
			if s.backward {
				p.denseBackward(f, s)
			}
		case runtime.MaxPool, runtime.AvgPool:
			p.poolForward(f, s)
			if s.backward {
				p.poolBackward(f, s)
			}
		case runtime.GlobalAvgPool:
			p.globalPoolForward(f, s)
			if s.backward {
				p.globalPoolBackward(f, s)
			}
		case runtime.Add:
			p.addForward(f, s)
		case runtime.BatchNorm:
			p.batchNormKernels(f, s)
		case runtime.Concat:
			p.concatForward(f, s)
			if s.backward {
				p.concatBackward(f, s)
			}
		case runtime.Dropout:
			p.dropoutForward(f, s)
			if s.backward {
				p.dropoutBackward(f, s)
			}
		default:
			p.activationForward(f, s)
			if s.backward {
				p.activationBackward(f, s)
			}
		}
	}
	for _, s := range p.stages {
		if s.vec != nil && s.vec.actGrad {
			p.actGrad(f, s)
		}
	}
	for _, s := range p.stages {
		if s.vec != nil && s.vec.im2col {
			p.convGemm(f, s)
		}
	}
	p.shiftKernels(f)
	p.lossFunc(f)
	p.mathHelpers(f)
	if p.hasPartial() {
		f.Comment(wrapDoc("addInto adds src to dst, value by value (dst + src, on " + addVec + "): the gradient of a layer's output that feeds several layers is the sum of their shares."))
		f.Func().Id("addInto").Params(jen.List(jen.Id("dst"), jen.Id("src")).Index().Float32()).Block(
			jen.Id("dst").Op("=").Id("dst").Index(jen.Empty(), jen.Len(jen.Id("src"))),
			jen.Id(addVec).Call(jen.Id("dst"), jen.Id("dst"), jen.Id("src")),
		)
	}
}

// actGrad emits <l>ActGrad, the backward of a stage's fused activation on
// the vector path: the vector kernels take the gradient before the
// activation, which the Go kernels compute inside <l>Backward.
func (p *plan) actGrad(f *jen.File, s *stage) {
	l := s.layer
	fn := s.base + "ActGrad"
	f.Comment(wrapDoc(fmt.Sprintf("%s multiplies dOut, the gradient of the output of %s, by the derivative of %s at out, in place, for the first n samples of a tile (the vector path's backward of the fused activation).", fn, describe(s), s.actName)))
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.Id("out").Add(tileArr(l.Out.Size())),
		jen.Id("dOut").Add(tileArr(l.Out.Size())),
	).Block(tileLoop(
		perSample(l, "y", "out"),
		perSample(l, "g", "dOut"),
		scaleByActivationGrad(s.act, "g", "y"),
	))
}

// describe is a one-line description of a stage for doc comments, e.g.
// "conv1 (conv2d 3x3, 32 filters, stride 1x1, same padding) followed by relu1 (relu)".
func describe(s *stage) string {
	l := s.layer
	var what string
	switch l.Kind {
	case runtime.Conv2D:
		what = fmt.Sprintf("%s (conv2d %dx%d, %d filters, stride %dx%d, %s padding, %v → %v)",
			l.Name, l.KernelH, l.KernelW, l.Filters, l.StrideH, l.StrideW, l.Padding, l.In, l.Out)
	case runtime.MaxPool, runtime.AvgPool:
		what = fmt.Sprintf("%s (%s %dx%d, stride %dx%d, %s padding, %v → %v)",
			l.Name, l.Kind, l.KernelH, l.KernelW, l.StrideH, l.StrideW, l.Padding, l.In, l.Out)
	case runtime.Dense:
		what = fmt.Sprintf("%s (dense %d → %d)", l.Name, l.In.Size(), l.Units)
	default:
		what = fmt.Sprintf("%s (%s on %v)", l.Name, l.Kind, l.In)
	}
	if s.act != "" {
		what += fmt.Sprintf(" followed by %s (%s, fused)", s.actName, s.act)
	}
	return what
}

// applyActivation emits the in-place activation of a per-sample array y.
func applyActivation(act runtime.LayerKind, y string) jen.Code {
	yi := jen.Id(y).Index(jen.Id("i"))
	switch act {
	case runtime.ReLU:
		return forRange("i", jen.Id(y), yi.Clone().Op("=").Max(yi.Clone(), jen.Lit(0)))
	case runtime.Sigmoid:
		return forRange("i", jen.Id(y), yi.Clone().Op("=").Id("sigmoid").Call(yi.Clone()))
	case runtime.Tanh:
		return forRange("i", jen.Id(y), yi.Clone().Op("=").Id("tanh").Call(yi.Clone()))
	case runtime.ReLU6:
		return forRange("i", jen.Id(y), yi.Clone().Op("=").Min(jen.Max(yi.Clone(), jen.Lit(0)), jen.Lit(6)))
	}
	return jen.Null()
}

// activationGrad returns the derivative of act at output value y (the
// activations' derivatives are functions of their outputs), or nil for
// ReLU, whose derivative is a condition (y > 0). Multiplied onto a gradient
// g it reads g*y*(1-y) or g*(1-y*y): the generic engine's association, so
// that both round alike.
func activationGrad(act runtime.LayerKind, y *jen.Statement) *jen.Statement {
	switch act {
	case runtime.Sigmoid:
		return y.Clone().Op("*").Parens(jen.Lit(1).Op("-").Add(y.Clone()))
	case runtime.Tanh:
		return jen.Parens(jen.Lit(1).Op("-").Add(y.Clone()).Op("*").Add(y.Clone()))
	}
	return nil
}

// scaleByActivationGrad emits g[i] *= act'(y[i]) over a per-sample gradient
// g, in place: the backward step of a fused activation.
func scaleByActivationGrad(act runtime.LayerKind, g, y string) jen.Code {
	gi := jen.Id(g).Index(jen.Id("i"))
	yi := jen.Id(y).Index(jen.Id("i"))
	switch act {
	// g keeps its value where the gradient passes and becomes +0 elsewhere,
	// through keep's bit mask rather than a branch on y's sign, which
	// mispredicts about every other value. The conditions are the
	// gradient's (y > 0, not !(y ≤ 0)): a NaN y passes no gradient, as in
	// the generic engine and the vector kernels.
	case runtime.ReLU:
		return forRange("i", jen.Id(g), maskBits(gi, keepIf(yi.Clone().Op(">").Lit(0))))
	case runtime.ReLU6:
		return forRange("i", jen.Id(g), maskBits(gi, keepIf(yi.Clone().Op(">").Lit(0)).Op("&").Add(keepIf(yi.Clone().Op("<").Lit(6)))))
	}
	return forRange("i", jen.Id(g), gi.Clone().Op("=").Add(gi.Clone()).Op("*").Add(activationGrad(act, yi)))
}

// keepIf is keep(cond): a uint32 of ones when cond holds, else zeros.
func keepIf(cond *jen.Statement) *jen.Statement {
	return jen.Id("keep").Call(cond)
}

// maskBits emits v = math.Float32frombits(math.Float32bits(v) & mask): v
// where mask is ones, +0 where it is zeros.
func maskBits(v *jen.Statement, mask *jen.Statement) *jen.Statement {
	return v.Clone().Op("=").Qual("math", "Float32frombits").Call(jen.Qual("math", "Float32bits").Call(v.Clone()).Op("&").Add(mask))
}

// usesKeep reports whether a layer of kind, or a fused activation of that
// kind, makes the emitted code call keep.
func usesKeep(kind runtime.LayerKind) bool {
	return kind == runtime.ReLU || kind == runtime.ReLU6 || kind == runtime.LeakyReLU
}

// tileLoop is `for s := 0; s < n; s++ { body }` over the samples of a tile.
func tileLoop(body ...jen.Code) *jen.Statement {
	return forUp("s", jen.Lit(0), jen.Id("n"), body...)
}

// perSample is `name := (*[size]float32)(buf[s*size:])`: sample s of a tile
// buffer of layer l (in and dIn hold its inputs, out, dOut and arg its
// outputs).
func perSample(l *ir.Layer, name, buf string) *jen.Statement {
	size := l.Out.Size()
	if buf == "in" || buf == "dIn" {
		size = l.In.Size()
	}
	typ := ptrFloatArr(size)
	if buf == "arg" {
		typ = jen.Op("*").Index(jen.Lit(size)).Int32()
	}
	return jen.Id(name).Op(":=").Parens(typ).Parens(jen.Id(buf).Index(lin(0, term{size, "s"}), jen.Empty()))
}

// window describes the spatial geometry of a conv or pool layer.
type window struct {
	h, w, c        int // input
	oh, ow         int // output
	kh, kw, sh, sw int
	pt, pl         int
}

func windowOf(l *ir.Layer) window {
	return window{
		h: l.In.Height, w: l.In.Width, c: l.In.Channels,
		oh: l.Out.Height, ow: l.Out.Width,
		kh: l.KernelH, kw: l.KernelW, sh: l.StrideH, sw: l.StrideW,
		pt: l.PadTop, pl: l.PadLeft,
	}
}

// interior returns the range [lo, hi) of output positions along one
// dimension whose whole window lies inside the input.
func interior(out, in, k, stride, pad int) (lo, hi int) {
	lo, hi = out, out
	for o := 0; o < out; o++ {
		if first := o*stride - pad; first >= 0 && first+k <= in {
			if lo == out {
				lo = o
			}
			hi = o + 1
		}
	}
	if lo == out {
		return 0, 0
	}
	return lo, hi
}

// needsRowCheck reports whether some window position along one dimension
// falls into the padding.
func needsCheck(out, in, k, stride, pad int) bool {
	lo, hi := interior(out, in, k, stride, pad)
	return lo != 0 || hi != out
}

// boundsCheckedTaps emits the loops over the taps (ky, kx) of the window at
// output position (oy, ox) with the padding skipped, running body with iy and
// ix set; checks are emitted only along dimensions that have padding.
func boundsCheckedTaps(g window, body ...jen.Code) jen.Code {
	rowCheck := needsCheck(g.oh, g.h, g.kh, g.sh, g.pt)
	colCheck := needsCheck(g.ow, g.w, g.kw, g.sw, g.pl)
	inner := []jen.Code{jen.Id("ix").Op(":=").Add(lin(-g.pl, term{g.sw, "ox"}, term{1, "kx"}))}
	if colCheck {
		inner = append(inner, jen.If(jen.Id("ix").Op("<").Lit(0).Op("||").Id("ix").Op(">=").Lit(g.w)).Block(jen.Continue()))
	}
	inner = append(inner, body...)
	outer := []jen.Code{jen.Id("iy").Op(":=").Add(lin(-g.pt, term{g.sh, "oy"}, term{1, "ky"}))}
	if rowCheck {
		outer = append(outer, jen.If(jen.Id("iy").Op("<").Lit(0).Op("||").Id("iy").Op(">=").Lit(g.h)).Block(jen.Continue()))
	}
	outer = append(outer, forN("kx", g.kw, inner...))
	return forN("ky", g.kh, outer...)
}

// windowCount is the number of non-padded elements in the window at output
// position (oy, ox): a constant when the window never reaches the padding,
// else min(end, in) − max(start, 0) along each padded dimension.
func windowCount(g window) *jen.Statement {
	span := func(o string, out, in, k, stride, pad int) *jen.Statement {
		if !needsCheck(out, in, k, stride, pad) {
			return jen.Lit(k)
		}
		return jen.Parens(jen.Min(jen.Lit(in), lin(k-pad, term{stride, o})).Op("-").Max(jen.Lit(0), lin(-pad, term{stride, o})))
	}
	rows := span("oy", g.oh, g.h, g.kh, g.sh, g.pt)
	cols := span("ox", g.ow, g.w, g.kw, g.sw, g.pl)
	return rows.Op("*").Add(cols)
}

// channels emits body once per input channel c: a loop over c, or, for a
// single channel, the body alone. body gets the coefficient of c in its
// index expressions: 1 in the loop, 0 without it.
func channels(count int, body func(c int) []jen.Code) []jen.Code {
	if count == 1 {
		return body(0)
	}
	return []jen.Code{forN("c", count, body(1)...)}
}

// regions calls emit for each rectangle of output positions: the border
// rectangles (whose windows touch the padding) with border=true and the
// interior with border=false, as loops over oy and ox.
//
// A pixel function that returns nil for the interior leaves it out.
func regions(g window, pixel func(border bool) []jen.Code) []jen.Code {
	ylo, yhi := interior(g.oh, g.h, g.kh, g.sh, g.pt)
	xlo, xhi := interior(g.ow, g.w, g.kw, g.sw, g.pl)
	var code []jen.Code
	span := func(v string, lo, hi int, body ...jen.Code) {
		if lo < hi && len(body) > 0 {
			code = append(code, forUp(v, jen.Lit(lo), jen.Lit(hi), body...))
		}
	}
	rowsBorder := func(lo, hi int) {
		if lo < hi {
			code = append(code, forUp("oy", jen.Lit(lo), jen.Lit(hi), forN("ox", g.ow, pixel(true)...)))
		}
	}
	if ylo >= yhi || xlo >= xhi {
		rowsBorder(0, g.oh)
		return code
	}
	rowsBorder(0, ylo)
	var mid []jen.Code
	if xlo > 0 {
		mid = append(mid, forUp("ox", jen.Lit(0), jen.Lit(xlo), pixel(true)...))
	}
	if inner := pixel(false); inner != nil {
		mid = append(mid, forUp("ox", jen.Lit(xlo), jen.Lit(xhi), inner...))
	}
	if xhi < g.ow {
		mid = append(mid, forUp("ox", jen.Lit(xhi), jen.Lit(g.ow), pixel(true)...))
	}
	span("oy", ylo, yhi, mid...)
	rowsBorder(yhi, g.oh)
	return code
}

// convForward emits <l>Forward and, when the layer has a border, <l>Pixel.
//
// Reference loop (standard HWIO weights, TensorFlow padding):
//
//	y[oy][ox][f] = act(b[f] + Σ_{ky,kx,c} x[oy·sh+ky−pt][ox·sw+kx−pl][c] · w[ky][kx][c][f])
//
// The interior, where no tap reaches the padding, has no branches; windows
// of up to nine taps (3×3) are unrolled there, with the taps at constant
// offsets from the window's corner.
func (p *plan) convForward(f *jen.File, s *stage) {
	l := s.layer
	g := windowOf(l)
	F := l.Filters
	wsize := g.kh * g.kw * g.c * F
	pixelFn := s.base + "Pixel"
	ylo, yhi := interior(g.oh, g.h, g.kh, g.sh, g.pt)
	xlo, xhi := interior(g.ow, g.w, g.kw, g.sw, g.pl)
	hasBorder := !(ylo == 0 && yhi == g.oh && xlo == 0 && xhi == g.ow)

	if hasBorder {
		f.Comment(wrapDoc(fmt.Sprintf("%s computes the pre-activation output pixel (oy, ox) of %s for one sample, skipping the taps that fall into the padding: the border of the output.", pixelFn, l.Name)))
		f.Func().Id(pixelFn).Params(
			jen.Id("x").Add(ptrFloatArr(l.In.Size())),
			jen.Id("y").Add(ptrFloatArr(l.Out.Size())),
			jen.Id("w").Add(ptrFloatArr(wsize)),
			biasParam(s, "b", F),
			jen.List(jen.Id("oy"), jen.Id("ox")).Int(),
		).Block(
			jen.Id("o").Op(":=").Add(arrView(F, "y", lin(0, term{g.ow * F, "oy"}, term{F, "ox"}))),
			biasInit(s, "o", F),
			boundsCheckedTaps(g, channels(g.c, func(c int) []jen.Code {
				return []jen.Code{
					jen.Id("v").Op(":=").Id("x").Index(lin(0, term{g.w * g.c, "iy"}, term{g.c, "ix"}, term{c, "c"})),
					jen.Id("r").Op(":=").Add(arrView(F, "w", lin(0, term{g.kw * g.c * F, "ky"}, term{g.c * F, "kx"}, term{c * F, "c"}))),
					forRange("f", jen.Id("o"), jen.Id("o").Index(jen.Id("f")).Op("+=").Id("v").Op("*").Id("r").Index(jen.Id("f"))),
				}
			})...),
		)
	}

	pixel := func(border bool) []jen.Code {
		if border {
			return []jen.Code{jen.Id(pixelFn).Call(jen.Id("x"), jen.Id("y"), jen.Id("w"), biasArg(s, "b"), jen.Id("oy"), jen.Id("ox"))}
		}
		code := []jen.Code{
			jen.Id("o").Op(":=").Add(arrView(F, "y", lin(0, term{g.ow * F, "oy"}, term{F, "ox"}))),
			biasInit(s, "o", F),
			// base is the offset of the window's top-left input value.
			jen.Id("base").Op(":=").Add(lin(-(g.pt*g.w*g.c + g.pl*g.c), term{g.sh * g.w * g.c, "oy"}, term{g.sw * g.c, "ox"})),
		}
		taps := g.kh * g.kw
		if taps > maxUnrolledTaps {
			code = append(code, forN("ky", g.kh, forN("kx", g.kw, channels(g.c, func(c int) []jen.Code {
				return []jen.Code{
					jen.Id("v").Op(":=").Id("x").Index(lin(0, term{1, "base"}, term{g.w * g.c, "ky"}, term{g.c, "kx"}, term{c, "c"})),
					jen.Id("r").Op(":=").Add(arrView(F, "w", lin(0, term{g.kw * g.c * F, "ky"}, term{g.c * F, "kx"}, term{c * F, "c"}))),
					forRange("f", jen.Id("o"), jen.Id("o").Index(jen.Id("f")).Op("+=").Id("v").Op("*").Id("r").Index(jen.Id("f"))),
				}
			})...)))
			return code
		}
		if g.c == 1 {
			// One channel: x<k> is the input value under tap k = ky·kw+kx
			// and w<k> that tap's weight row; each output adds the taps
			// in order, as the reference loop does.
			for k := 0; k < taps; k++ {
				ky, kx := k/g.kw, k%g.kw
				code = append(code, jen.Id(fmt.Sprintf("x%d", k)).Op(":=").Id("x").Index(lin(ky*g.w+kx, term{1, "base"})))
			}
			for k := 0; k < taps; k++ {
				code = append(code, jen.Id(fmt.Sprintf("w%d", k)).Op(":=").Add(arrView(F, "w", jen.Lit(k*F))))
			}
			sum := []jen.Code{jen.Id("v").Op(":=").Id("o").Index(jen.Id("f"))}
			for k := 0; k < taps; k++ {
				sum = append(sum, jen.Id("v").Op("+=").Id(fmt.Sprintf("x%d", k)).Op("*").Id(fmt.Sprintf("w%d", k)).Index(jen.Id("f")))
			}
			sum = append(sum, jen.Id("o").Index(jen.Id("f")).Op("=").Id("v"))
			return append(code, forRange("f", jen.Id("o"), sum...))
		}
		// Several channels: per tap (unrolled, at a constant offset), a
		// loop over the channels, in the reference loop's order.
		for k := 0; k < taps; k++ {
			ky, kx := k/g.kw, k%g.kw
			code = append(code, jen.Comment(wrapDoc(fmt.Sprintf("tap (%d, %d)", ky, kx))), forN("c", g.c,
				jen.Id("v").Op(":=").Id("x").Index(lin(ky*g.w*g.c+kx*g.c, term{1, "base"}, term{1, "c"})),
				jen.Id("r").Op(":=").Add(arrView(F, "w", lin(k*g.c*F, term{F, "c"}))),
				forRange("f", jen.Id("o"), jen.Id("o").Index(jen.Id("f")).Op("+=").Id("v").Op("*").Id("r").Index(jen.Id("f"))),
			))
		}
		return code
	}

	fn := s.base + "Forward"
	f.Comment(wrapDoc(fmt.Sprintf("%s computes %s for the first n samples of a tile: in holds %v inputs in HWC order, out receives %v outputs; w is the weight in HWIO layout [%d][%d][%d][%d], b the bias [%d].",
		fn, describe(s), l.In, l.Out, g.kh, g.kw, g.c, F, F)))
	body := []jen.Code{perSample(l, "x", "in"), perSample(l, "y", "out")}
	body = append(body, regions(g, pixel)...)
	convForwardFunc(f, s, fn, wsize, body)
}

// convBackward emits <l>Backward and, when the layer has a border,
// <l>PixelGrad. With dz = dOut ⊙ act'(out) (in place):
//
//	db[f] += Σ dz[oy][ox][f]
//	dw[ky][kx][c][f] += Σ x[iy][ix][c] · dz[oy][ox][f]
//	dIn[iy][ix][c] = Σ w[ky][kx][c][f] · dz[oy][ox][f]   (when needed)
//
// As in the forward pass, the interior has no branches and unrolls windows
// of up to nine taps. Every sum adds its terms in the generic engine's order
// (pixels in row-major order, then taps, then channels).
func (p *plan) convBackward(f *jen.File, s *stage) {
	l := s.layer
	g := windowOf(l)
	F := l.Filters
	wsize := g.kh * g.kw * g.c * F
	fn := s.base + "Backward"
	doc := fmt.Sprintf("%s runs the backward pass of %s for the first n samples of a tile. dOut holds ∂loss/∂out (overwritten with the gradient before the activation); the weight and bias gradients are accumulated into dw and db", fn, describe(s))
	if s.inGrad {
		doc += " and ∂loss/∂in is written to dIn"
	}
	f.Comment(wrapDoc(doc + "."))
	params := []jen.Code{
		jen.Id("n").Int(),
		jen.Id("in").Add(tileArr(l.In.Size())),
		jen.Id("out").Add(tileArr(l.Out.Size())),
		jen.Id("dOut").Add(tileArr(l.Out.Size())),
	}
	if s.inGrad {
		params = append(params, jen.Id("dIn").Add(tileArr(l.In.Size())))
	}
	params = append(params,
		jen.Id("w").Add(ptrFloatArr(wsize)),
		jen.Id("dw").Add(ptrFloatArr(wsize)),
		biasParam(s, "db", F),
	)
	// tapGrad is the work of one tap (ky, kx) and channel c, the input
	// value at index xi and the weight row at k:
	//	dw[k+f] += x[xi]·d[f];  dx[xi] += Σ_f w[k+f]·d[f]
	tapGrad := func(xi, k *jen.Statement) []jen.Code {
		code := []jen.Code{
			jen.Id("v").Op(":=").Id("x").Index(xi.Clone()),
			jen.Id("gw").Op(":=").Add(arrView(F, "dw", k.Clone())),
			forRange("f", jen.Id("d"), jen.Id("gw").Index(jen.Id("f")).Op("+=").Id("v").Op("*").Id("d").Index(jen.Id("f"))),
		}
		if s.inGrad {
			code = append(code, jen.Id("r").Op(":=").Add(arrView(F, "w", k.Clone())))
			code = append(code, dot("acc", "r", "d", F)...)
			code = append(code, jen.Id("dx").Index(xi.Clone()).Op("+=").Id("acc"))
		}
		return code
	}
	gradParams := func() []jen.Code {
		ps := []jen.Code{jen.Id("x").Add(ptrFloatArr(l.In.Size())), jen.Id("d").Add(ptrFloatArr(F))}
		if s.inGrad {
			ps = append(ps, jen.Id("dx").Add(ptrFloatArr(l.In.Size())), jen.Id("w").Add(ptrFloatArr(wsize)))
		}
		return append(ps, jen.Id("dw").Add(ptrFloatArr(wsize)), jen.List(jen.Id("oy"), jen.Id("ox")).Int())
	}
	gradArgs := func() []jen.Code {
		as := []jen.Code{jen.Id("x"), jen.Id("d")}
		if s.inGrad {
			as = append(as, jen.Id("dx"), jen.Id("w"))
		}
		return append(as, jen.Id("dw"), jen.Id("oy"), jen.Id("ox"))
	}
	pixelFn := s.base + "PixelGrad"
	ylo, yhi := interior(g.oh, g.h, g.kh, g.sh, g.pt)
	xlo, xhi := interior(g.ow, g.w, g.kw, g.sw, g.pl)
	if !(ylo == 0 && yhi == g.oh && xlo == 0 && xhi == g.ow) {
		what := "dw"
		if s.inGrad {
			what = "dw and dx"
		}
		f.Comment(wrapDoc(fmt.Sprintf("%s adds to %s the gradient contributions of output pixel (oy, ox) of %s for one sample, whose pre-activation gradient is d, skipping the taps in the padding: the border of the output.", pixelFn, what, l.Name)))
		f.Func().Id(pixelFn).Params(gradParams()...).Block(
			boundsCheckedTaps(g, channels(g.c, func(c int) []jen.Code {
				return tapGrad(
					lin(0, term{g.w * g.c, "iy"}, term{g.c, "ix"}, term{c, "c"}),
					lin(0, term{g.kw * g.c * F, "ky"}, term{g.c * F, "kx"}, term{c * F, "c"}))
			})...),
		)
	}
	pixel := func(border bool) []jen.Code {
		code := []jen.Code{
			jen.Id("d").Op(":=").Add(arrView(F, "g", lin(0, term{g.ow * F, "oy"}, term{F, "ox"}))),
		}
		if s.hasBias() {
			code = append(code, forRange("f", jen.Id("d"), jen.Id("db").Index(jen.Id("f")).Op("+=").Id("d").Index(jen.Id("f"))))
		}
		if border {
			return append(code, jen.Id(pixelFn).Call(gradArgs()...))
		}
		code = append(code, jen.Id("base").Op(":=").Add(lin(-(g.pt*g.w*g.c+g.pl*g.c), term{g.sh * g.w * g.c, "oy"}, term{g.sw * g.c, "ox"})))
		taps := g.kh * g.kw
		if taps > maxUnrolledTaps {
			return append(code, forN("ky", g.kh, forN("kx", g.kw, channels(g.c, func(c int) []jen.Code {
				return tapGrad(
					lin(0, term{1, "base"}, term{g.w * g.c, "ky"}, term{g.c, "kx"}, term{c, "c"}),
					lin(0, term{g.kw * g.c * F, "ky"}, term{g.c * F, "kx"}, term{c * F, "c"}))
			})...)))
		}
		off := func(k int) int { return (k/g.kw)*g.w*g.c + (k%g.kw)*g.c }
		if g.c == 1 {
			// One channel: the taps' input values x<k> and weight
			// gradient rows gw<k>, updated together in one pass over the
			// filters.
			for k := 0; k < taps; k++ {
				code = append(code, jen.Id(fmt.Sprintf("x%d", k)).Op(":=").Id("x").Index(lin(off(k), term{1, "base"})))
			}
			for k := 0; k < taps; k++ {
				code = append(code, jen.Id(fmt.Sprintf("gw%d", k)).Op(":=").Add(arrView(F, "dw", jen.Lit(k*F))))
			}
			upd := []jen.Code{jen.Id("df").Op(":=").Id("d").Index(jen.Id("f"))}
			for k := 0; k < taps; k++ {
				upd = append(upd, jen.Id(fmt.Sprintf("gw%d", k)).Index(jen.Id("f")).Op("+=").Id(fmt.Sprintf("x%d", k)).Op("*").Id("df"))
			}
			code = append(code, forRange("f", jen.Id("d"), upd...))
			if s.inGrad {
				for k := 0; k < taps; k++ {
					blk := append([]jen.Code{jen.Id("r").Op(":=").Add(arrView(F, "w", jen.Lit(k*F)))}, dot("acc", "r", "d", F)...)
					blk = append(blk, jen.Id("dx").Index(lin(off(k), term{1, "base"})).Op("+=").Id("acc"))
					code = append(code, jen.Block(blk...))
				}
			}
			return code
		}
		// Several channels: per tap (unrolled, at a constant offset), a
		// loop over the channels.
		for k := 0; k < taps; k++ {
			code = append(code, jen.Comment(wrapDoc(fmt.Sprintf("tap (%d, %d)", k/g.kw, k%g.kw))), forN("c", g.c, tapGrad(
				lin(off(k), term{1, "base"}, term{1, "c"}),
				lin(k*g.c*F, term{F, "c"}))...))
		}
		return code
	}
	body := []jen.Code{perSample(l, "x", "in"), perSample(l, "g", "dOut")}
	if s.act != "" {
		body = append(body, perSample(l, "y", "out"), scaleByActivationGrad(s.act, "g", "y"))
	}
	if s.inGrad {
		body = append(body, perSample(l, "dx", "dIn"), jen.Op("*").Id("dx").Op("=").Add(floatArr(l.In.Size())).Values())
	}
	body = append(body, regions(g, pixel)...)
	f.Func().Id(fn).Params(params...).Block(tileLoop(body...))
}

// dot emits `result := Σ_j a[j]·b[j]` over arrays of constant length n
// with four partial sums (j ≡ 0, 1, 2, 3 mod 4, the tail added to the
// first) combined as (s0+s1)+(s2+s3): independent additions run twice as
// fast as one running sum, and the generic engine's dot sums in this order,
// so both round alike.
func dot(result, a, b string, n int) []jen.Code {
	ab := func(j jen.Code) *jen.Statement {
		return jen.Id(a).Index(j).Op("*").Id(b).Index(j)
	}
	code := []jen.Code{jen.Var().List(jen.Id("s0"), jen.Id("s1"), jen.Id("s2"), jen.Id("s3")).Float32()}
	full := n / 4 * 4
	if full > 0 {
		code = append(code, jen.For(jen.Id("j").Op(":=").Lit(0), jen.Id("j").Op("<").Lit(full), jen.Id("j").Op("+=").Lit(4)).Block(
			jen.Id("s0").Op("+=").Add(ab(jen.Id("j"))),
			jen.Id("s1").Op("+=").Add(ab(jen.Id("j").Op("+").Lit(1))),
			jen.Id("s2").Op("+=").Add(ab(jen.Id("j").Op("+").Lit(2))),
			jen.Id("s3").Op("+=").Add(ab(jen.Id("j").Op("+").Lit(3))),
		))
	}
	for j := full; j < n; j++ {
		code = append(code, jen.Id("s0").Op("+=").Add(ab(jen.Lit(j))))
	}
	return append(code, jen.Id(result).Op(":=").Parens(jen.Id("s0").Op("+").Id("s1")).Op("+").Parens(jen.Id("s2").Op("+").Id("s3")))
}

// dot2 is [dot] for two vectors b1, b2 against the same a, sharing its
// loads: acca = Σ a·b1 and accb = Σ a·b2, each summed exactly as dot sums.
func dot2(a, b1, b2 string, n int) []jen.Code {
	prod := func(b string, j jen.Code) *jen.Statement {
		return jen.Id(a).Index(j).Op("*").Id(b).Index(j)
	}
	code := []jen.Code{jen.Var().List(jen.Id("a0"), jen.Id("a1"), jen.Id("a2"), jen.Id("a3"), jen.Id("b0"), jen.Id("b1"), jen.Id("b2"), jen.Id("b3")).Float32()}
	full := n / 4 * 4
	if full > 0 {
		var body []jen.Code
		for _, acc := range []struct{ prefix, vec string }{{"a", b1}, {"b", b2}} {
			for k := 0; k < 4; k++ {
				j := jen.Id("j")
				if k > 0 {
					j = jen.Id("j").Op("+").Lit(k)
				}
				body = append(body, jen.Id(fmt.Sprintf("%s%d", acc.prefix, k)).Op("+=").Add(prod(acc.vec, j)))
			}
		}
		code = append(code, jen.For(jen.Id("j").Op(":=").Lit(0), jen.Id("j").Op("<").Lit(full), jen.Id("j").Op("+=").Lit(4)).Block(body...))
	}
	for j := full; j < n; j++ {
		code = append(code, jen.Id("a0").Op("+=").Add(prod(b1, jen.Lit(j))), jen.Id("b0").Op("+=").Add(prod(b2, jen.Lit(j))))
	}
	return append(code,
		jen.Id("acca").Op(":=").Parens(jen.Id("a0").Op("+").Id("a1")).Op("+").Parens(jen.Id("a2").Op("+").Id("a3")),
		jen.Id("accb").Op(":=").Parens(jen.Id("b0").Op("+").Id("b1")).Op("+").Parens(jen.Id("b2").Op("+").Id("b3")),
	)
}

// denseBlock is the number of weight rows that a dense kernel streams
// together: each output is loaded and stored once per block rather than
// once per row, while the additions keep the row order of the reference.
const denseBlock = 4

// denseForward emits <l>Forward:
//
//	out[s][j] = act(b[j] + Σ_i in[s][i] · w[i][j])
//
// Each weight row (block) is reused across the samples of the tile.
func (p *plan) denseForward(f *jen.File, s *stage) {
	l := s.layer
	in, units := l.In.Size(), l.Units
	fn := s.base + "Forward"
	f.Comment(wrapDoc(fmt.Sprintf("%s computes %s for the first n samples of a tile: in holds %d inputs per sample (HWC flatten order), out receives %d outputs; w is the weight [%d][%d] (inputs × units), b the bias [%d].",
		fn, describe(s), in, units, in, units, units)))
	body := []jen.Code{tileLoop(perSample(l, "o", "out"), biasInit(s, "o", units))}
	rows := func(lo, count int) *jen.Statement {
		var code []jen.Code
		for r := 0; r < count; r++ {
			code = append(code, jen.Id(fmt.Sprintf("r%d", r)).Op(":=").Add(arrView(units, "w", lin((lo+r)*units, term{units, "i"}))))
		}
		sample := []jen.Code{perSample(l, "x", "in"), perSample(l, "o", "out")}
		for r := 0; r < count; r++ {
			sample = append(sample, jen.Id(fmt.Sprintf("x%d", r)).Op(":=").Id("x").Index(lin(lo+r, term{1, "i"})))
		}
		sum := []jen.Code{jen.Id("v").Op(":=").Id("o").Index(jen.Id("j"))}
		for r := 0; r < count; r++ {
			sum = append(sum, jen.Id("v").Op("+=").Id(fmt.Sprintf("x%d", r)).Op("*").Id(fmt.Sprintf("r%d", r)).Index(jen.Id("j")))
		}
		sum = append(sum, jen.Id("o").Index(jen.Id("j")).Op("=").Id("v"))
		sample = append(sample, forRange("j", jen.Id("o"), sum...))
		code = append(code, tileLoop(sample...))
		return jen.Block(code...)
	}
	full := in / denseBlock * denseBlock
	if full > 0 {
		body = append(body, jen.For(jen.Id("i").Op(":=").Lit(0), jen.Id("i").Op("<").Lit(full), jen.Id("i").Op("+=").Lit(denseBlock)).Add(rows(0, denseBlock)))
	}
	if rest := in - full; rest > 0 {
		body = append(body, jen.Id("i").Op(":=").Lit(full), rows(0, rest))
	}
	if s.act != "" {
		body = append(body, tileLoop(perSample(l, "y", "out"), applyActivation(s.act, "y")))
	}
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.Id("in").Add(tileArr(in)),
		jen.Id("out").Add(tileArr(units)),
		jen.Id("w").Add(ptrFloatArr(in*units)),
		biasParam(s, "b", units),
	).Block(body...)
}

// denseBackward emits <l>Backward. With dz = dOut ⊙ act'(out) (in place):
//
//	db[j] += Σ_s dz[s][j]
//	dw[i][j] += Σ_s in[s][i] · dz[s][j]
//	dIn[s][i] = Σ_j w[i][j] · dz[s][j]   (when needed)
func (p *plan) denseBackward(f *jen.File, s *stage) {
	l := s.layer
	in, units := l.In.Size(), l.Units
	fn := s.base + "Backward"
	doc := fmt.Sprintf("%s runs the backward pass of %s for the first n samples of a tile. dOut holds ∂loss/∂out (overwritten with the gradient before the activation); the weight and bias gradients are accumulated into dw [%d][%d] and db [%d]", fn, describe(s), in, units, units)
	if s.inGrad {
		doc += " and ∂loss/∂in is written to dIn"
	}
	f.Comment(wrapDoc(doc + "."))
	params := []jen.Code{
		jen.Id("n").Int(),
		jen.Id("in").Add(tileArr(in)),
		jen.Id("out").Add(tileArr(units)),
		jen.Id("dOut").Add(tileArr(units)),
	}
	if s.inGrad {
		params = append(params, jen.Id("dIn").Add(tileArr(in)))
	}
	params = append(params,
		jen.Id("w").Add(ptrFloatArr(in*units)),
		jen.Id("dw").Add(ptrFloatArr(in*units)),
		biasParam(s, "db", units),
	)
	var body []jen.Code
	perS := []jen.Code{perSample(l, "g", "dOut")}
	if s.act != "" {
		perS = append(perS, perSample(l, "y", "out"), scaleByActivationGrad(s.act, "g", "y"))
	}
	if s.hasBias() {
		perS = append(perS, forRange("j", jen.Id("g"), jen.Id("db").Index(jen.Id("j")).Op("+=").Id("g").Index(jen.Id("j"))))
	}
	if len(perS) > 1 {
		body = append(body, tileLoop(perS...))
	}
	// dw: row i of dw gathers in[s][i]·dz[s] over the tile, four samples
	// at a time (each gw[j] loaded and stored once per four), in sample
	// order. Samples whose input i is 0 add nothing and are left out:
	// inputs after a ReLU often are. Unless their gradient dz[s] is not
	// finite: 0·NaN and 0·Inf are NaN, as on the vector paths and in the
	// generic engine.
	body = append(body,
		jen.Var().Id("finite").Index(jen.Id("Tile")).Bool(),
		tileLoop(
			jen.Id("finite").Index(jen.Id("s")).Op("=").True(),
			jen.For(jen.List(jen.Id("_"), jen.Id("v")).Op(":=").Range().Add(arrView(units, "dOut", lin(0, term{units, "s"})))).Block(
				jen.If(jen.Id("v").Op("-").Id("v").Op("!=").Lit(0)).Block(
					jen.Id("finite").Index(jen.Id("s")).Op("=").False(),
					jen.Break(),
				),
			),
		),
	)
	xd := func(k int) []jen.Code {
		q := jen.Id("nz").Index(lin(k, term{1, "q"}))
		return []jen.Code{
			jen.Id(fmt.Sprintf("x%d", k)).Op(":=").Id("in").Index(q.Clone().Op("*").Lit(in).Op("+").Id("i")),
			jen.Id(fmt.Sprintf("d%d", k)).Op(":=").Add(arrView(units, "dOut", q.Clone().Op("*").Lit(units))),
		}
	}
	var block4 []jen.Code
	sum := []jen.Code{jen.Id("v").Op(":=").Id("gw").Index(jen.Id("j"))}
	for k := 0; k < 4; k++ {
		block4 = append(block4, xd(k)...)
		sum = append(sum, jen.Id("v").Op("+=").Id(fmt.Sprintf("x%d", k)).Op("*").Id(fmt.Sprintf("d%d", k)).Index(jen.Id("j")))
	}
	sum = append(sum, jen.Id("gw").Index(jen.Id("j")).Op("=").Id("v"))
	block4 = append(block4, forRange("j", jen.Id("gw"), sum...))
	block1 := append(xd(0), forRange("j", jen.Id("gw"), jen.Id("gw").Index(jen.Id("j")).Op("+=").Id("x0").Op("*").Id("d0").Index(jen.Id("j"))))
	body = append(body, forN("i", in,
		jen.Id("gw").Op(":=").Add(arrView(units, "dw", lin(0, term{units, "i"}))),
		jen.Var().Id("nz").Index(jen.Id("Tile")).Int(),
		jen.Id("k").Op(":=").Lit(0),
		tileLoop(jen.If(jen.Id("in").Index(lin(0, term{in, "s"}, term{1, "i"})).Op("!=").Lit(0).Op("||").Op("!").Id("finite").Index(jen.Id("s"))).Block(
			jen.Id("nz").Index(jen.Id("k")).Op("=").Id("s"),
			jen.Id("k").Op("++"),
		)),
		jen.Id("q").Op(":=").Lit(0),
		jen.For(jen.Empty(), jen.Id("q").Op("+").Lit(4).Op("<=").Id("k"), jen.Id("q").Op("+=").Lit(4)).Block(block4...),
		jen.For(jen.Empty(), jen.Id("q").Op("<").Id("k"), jen.Id("q").Op("++")).Block(block1...),
	))
	if s.inGrad {
		// dIn[s][i] is row i of w dotted with dz[s]; two samples at a time
		// share the loads of the row.
		body = append(body, forN("i", in,
			jen.Id("r").Op(":=").Add(arrView(units, "w", lin(0, term{units, "i"}))),
			jen.Id("s").Op(":=").Lit(0),
			jen.For(jen.Empty(), jen.Id("s").Op("+").Lit(2).Op("<=").Id("n"), jen.Id("s").Op("+=").Lit(2)).Block(
				append(append([]jen.Code{
					jen.Id("ga").Op(":=").Add(arrView(units, "dOut", lin(0, term{units, "s"}))),
					jen.Id("gb").Op(":=").Add(arrView(units, "dOut", lin(units, term{units, "s"}))),
				}, dot2("r", "ga", "gb", units)...),
					jen.Id("dIn").Index(lin(0, term{in, "s"}, term{1, "i"})).Op("=").Id("acca"),
					jen.Id("dIn").Index(lin(in, term{in, "s"}, term{1, "i"})).Op("=").Id("accb"),
				)...,
			),
			jen.If(jen.Id("s").Op("<").Id("n")).Block(
				append(append([]jen.Code{perSample(l, "d", "dOut")}, dot("acc", "r", "d", units)...),
					jen.Id("dIn").Index(lin(0, term{in, "s"}, term{1, "i"})).Op("=").Id("acc"))...,
			),
		))
	}
	f.Func().Id(fn).Params(params...).Block(body...)
}

// poolForward emits <l>Forward for max and average pooling.
//
//	max: out[oy][ox][c] = max over the window (padding is −∞), arg = the
//	     input index of the first maximum in row-major window order
//	avg: out[oy][ox][c] = Σ window / (number of non-padded elements)
func (p *plan) poolForward(f *jen.File, s *stage) {
	l := s.layer
	g := windowOf(l)
	C := g.c
	fn := s.base + "Forward"
	isMax := l.Kind == runtime.MaxPool
	params := []jen.Code{
		jen.Id("n").Int(),
		jen.Id("in").Add(tileArr(l.In.Size())),
		jen.Id("out").Add(tileArr(l.Out.Size())),
	}
	pix := lin(0, term{g.ow * C, "oy"}, term{C, "ox"})
	var pixel []jen.Code
	if isMax {
		f.Comment(wrapDoc(fmt.Sprintf("%s computes %s for the first n samples of a tile: out receives each window's maximum (the padding counts as −∞) and arg the index in the sample's input of the window's first maximum in row-major order, where the backward pass sends the gradient.", fn, describe(s))))
		params = append(params, jen.Id("arg").Add(tileArg(l.Out.Size())))
		pixel = []jen.Code{
			jen.Id("o").Op(":=").Add(arrView(C, "y", pix.Clone())),
			jen.Id("a").Op(":=").Parens(jen.Op("*").Index(jen.Lit(C)).Int32()).Parens(jen.Id("ai").Index(pix.Clone(), jen.Empty())),
			forRange("c", jen.Id("o"),
				jen.Id("o").Index(jen.Id("c")).Op("=").Id("negInf"),
				jen.Id("a").Index(jen.Id("c")).Op("=").Lit(-1),
			),
			boundsCheckedTaps(g,
				jen.Id("at").Op(":=").Add(lin(0, term{g.w * C, "iy"}, term{C, "ix"})),
				jen.Id("r").Op(":=").Add(arrView(C, "x", jen.Id("at"))),
				forRange("c", jen.Id("o"),
					// Strictly greater keeps the first maximum; the
					// first tap always wins so that arg is valid even
					// for −∞ inputs. A NaN tap replaces a number and
					// nothing replaces a NaN, so a window with a NaN
					// has a NaN maximum, as on every other path.
					jen.If(jen.Id("r").Index(jen.Id("c")).Op(">").Id("o").Index(jen.Id("c")).Op("||").Id("a").Index(jen.Id("c")).Op("<").Lit(0).Op("||").
						Id("r").Index(jen.Id("c")).Op("!=").Id("r").Index(jen.Id("c")).Op("&&").Id("o").Index(jen.Id("c")).Op("==").Id("o").Index(jen.Id("c"))).Block(
						jen.Id("o").Index(jen.Id("c")).Op("=").Id("r").Index(jen.Id("c")),
						jen.Id("a").Index(jen.Id("c")).Op("=").Int32().Parens(jen.Id("at").Op("+").Id("c")),
					),
				),
			),
			// A NaN maximum has no gradient (arg −1), as in the vector
			// kernels and the generic engine.
			forRange("c", jen.Id("o"),
				jen.If(jen.Id("o").Index(jen.Id("c")).Op("!=").Id("o").Index(jen.Id("c"))).Block(
					jen.Id("a").Index(jen.Id("c")).Op("=").Lit(-1),
				),
			),
		}
	} else {
		f.Comment(wrapDoc(fmt.Sprintf("%s computes %s for the first n samples of a tile: out receives the mean of each window's non-padded elements.", fn, describe(s))))
		sum := []jen.Code{
			jen.Op("*").Id("o").Op("=").Add(floatArr(C)).Values(),
			boundsCheckedTaps(g,
				jen.Id("r").Op(":=").Add(arrView(C, "x", lin(0, term{g.w * C, "iy"}, term{C, "ix"}))),
				forRange("c", jen.Id("o"), jen.Id("o").Index(jen.Id("c")).Op("+=").Id("r").Index(jen.Id("c"))),
			),
		}
		if p.sumVector[s] {
			// One window, the whole map: gen/asm's sum, in the same order.
			sum = []jen.Code{jen.Id(s.base+sufSumVec).Call(jen.Id("x").Index(jen.Empty(), jen.Empty()), jen.Id("o"))}
		}
		pixel = append(append([]jen.Code{jen.Id("o").Op(":=").Add(arrView(C, "y", pix.Clone()))}, sum...),
			jen.Id("count").Op(":=").Float32().Parens(windowCount(g)),
			forRange("c", jen.Id("o"), jen.Id("o").Index(jen.Id("c")).Op("/=").Id("count")),
		)
	}
	body := []jen.Code{perSample(l, "x", "in"), perSample(l, "y", "out")}
	if isMax {
		body = append(body, perSample(l, "ai", "arg"))
	}
	body = append(body, forN("oy", g.oh, forN("ox", g.ow, pixel...)))
	f.Func().Id(fn).Params(params...).Block(tileLoop(body...))
}

// poolBackward emits <l>Backward: max pooling sends each output's gradient
// to the recorded first maximum; average pooling spreads it evenly over the
// window's non-padded elements.
func (p *plan) poolBackward(f *jen.File, s *stage) {
	l := s.layer
	g := windowOf(l)
	C := g.c
	fn := s.base + "Backward"
	params := []jen.Code{jen.Id("n").Int(), jen.Id("dOut").Add(tileArr(l.Out.Size()))}
	body := []jen.Code{perSample(l, "g", "dOut"), perSample(l, "dx", "dIn"), jen.Op("*").Id("dx").Op("=").Add(floatArr(l.In.Size())).Values()}
	if l.Kind == runtime.MaxPool {
		f.Comment(wrapDoc(fmt.Sprintf("%s writes to dIn the gradient of %s's input for the first n samples of a tile: each output's gradient dOut goes to the input element recorded in arg (none for a NaN maximum, whose arg is −1).", fn, describe(s))))
		params = append(params, jen.Id("arg").Add(tileArg(l.Out.Size())))
		body = append(body, perSample(l, "a", "arg"),
			forRange("j", jen.Id("g"), jen.If(jen.Id("i").Op(":=").Id("a").Index(jen.Id("j")), jen.Id("i").Op(">=").Lit(0)).Block(
				jen.Id("dx").Index(jen.Id("i")).Op("+=").Id("g").Index(jen.Id("j")))))
	} else {
		f.Comment(wrapDoc(fmt.Sprintf("%s writes to dIn the gradient of %s's input for the first n samples of a tile: each output's gradient is divided evenly among its window's non-padded elements.", fn, describe(s))))
		body = append(body, forN("oy", g.oh, forN("ox", g.ow,
			jen.Id("d").Op(":=").Add(arrView(C, "g", lin(0, term{g.ow * C, "oy"}, term{C, "ox"}))),
			jen.Id("share").Op(":=").Lit(1).Op("/").Float32().Parens(windowCount(g)),
			boundsCheckedTaps(g,
				jen.Id("r").Op(":=").Add(arrView(C, "dx", lin(0, term{g.w * C, "iy"}, term{C, "ix"}))),
				forRange("c", jen.Id("r"), jen.Id("r").Index(jen.Id("c")).Op("+=").Id("share").Op("*").Id("d").Index(jen.Id("c"))),
			),
		)))
	}
	params = append(params, jen.Id("dIn").Add(tileArr(l.In.Size())))
	f.Func().Id(fn).Params(params...).Block(tileLoop(body...))
}

// activationForward emits <l>Forward for an activation that could not be
// fused into a conv or dense layer.
func (p *plan) activationForward(f *jen.File, s *stage) {
	l := s.layer
	fn := s.base + "Forward"
	f.Comment(wrapDoc(fmt.Sprintf("%s computes %s elementwise for the first n samples of a tile.", fn, describe(s))))
	body := tileLoop(
		perSample(l, "x", "in"),
		perSample(l, "y", "out"),
		jen.Op("*").Id("y").Op("=").Op("*").Id("x"),
		p.standaloneActivation(s, "y"),
	)
	if l.Kind == runtime.ReLU {
		// gen/asm's ReLU, on the tile at once.
		all := func(buf string) *jen.Statement {
			return jen.Id(buf).Index(jen.Empty(), jen.Id("n").Op("*").Lit(l.Out.Size()))
		}
		body = jen.Id(reluVec).Call(all("out"), all("in"))
	}
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.Id("in").Add(tileArr(l.In.Size())),
		jen.Id("out").Add(tileArr(l.Out.Size())),
	).Block(body)
}

// standaloneActivation is applyActivation, and leaky_relu's
// y = x for x > 0, alpha·x otherwise (PyTorch's), in place on y.
func (p *plan) standaloneActivation(s *stage, y string) jen.Code {
	if s.layer.Kind != runtime.LeakyReLU {
		return applyActivation(s.layer.Kind, y)
	}
	// alpha·y where y ≤ 0, y elsewhere (NaN included), blended by keep's
	// mask instead of a branch on y's sign.
	yi := jen.Id(y).Index(jen.Id("i"))
	return forRange("i", jen.Id(y),
		jen.Id("v").Op(":=").Add(yi.Clone()),
		jen.Id("m").Op(":=").Add(keepIf(jen.Id("v").Op("<=").Lit(0))),
		yi.Clone().Op("=").Qual("math", "Float32frombits").Call(
			jen.Qual("math", "Float32bits").Call(jen.Lit(float32(s.layer.Alpha)).Op("*").Id("v")).Op("&").Id("m").Op("|").
				Qual("math", "Float32bits").Call(jen.Id("v")).Op("&^").Id("m")))
}

// activationBackward emits <l>Backward: dIn = dOut ⊙ act'(out) (act'(in)
// for leaky_relu, whose output's sign need not tell its input's).
func (p *plan) activationBackward(f *jen.File, s *stage) {
	l := s.layer
	fn := s.base + "Backward"
	if l.Kind == runtime.LeakyReLU {
		xi := jen.Id("x").Index(jen.Id("i"))
		gi := jen.Id("g").Index(jen.Id("i"))
		f.Comment(wrapDoc(fmt.Sprintf("%s writes to dIn the gradient of %s's input, dOut where in > 0 and %g·dOut elsewhere, for the first n samples of a tile.", fn, describe(s), l.Alpha)))
		f.Func().Id(fn).Params(
			jen.Id("n").Int(),
			jen.Id("in").Add(tileArr(l.In.Size())),
			jen.Id("dOut").Add(tileArr(l.Out.Size())),
			jen.Id("dIn").Add(tileArr(l.In.Size())),
		).Block(tileLoop(
			perSample(l, "x", "in"),
			perSample(l, "d", "dOut"),
			perSample(l, "g", "dIn"),
			// dOut where in > 0, alpha·dOut elsewhere, blended by keep's
			// mask instead of a branch on the input's sign.
			forRange("i", jen.Id("g"),
				jen.Id("m").Op(":=").Add(keepIf(xi.Clone().Op(">").Lit(0))),
				jen.Id("v").Op(":=").Id("d").Index(jen.Id("i")),
				gi.Clone().Op("=").Qual("math", "Float32frombits").Call(
					jen.Qual("math", "Float32bits").Call(jen.Id("v")).Op("&").Id("m").Op("|").
						Qual("math", "Float32bits").Call(jen.Lit(float32(l.Alpha)).Op("*").Id("v")).Op("&^").Id("m"))),
		))
		return
	}
	f.Comment(wrapDoc(fmt.Sprintf("%s writes to dIn the gradient of %s's input, dOut times the derivative at out, for the first n samples of a tile.", fn, describe(s))))
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.Id("out").Add(tileArr(l.Out.Size())),
		jen.Id("dOut").Add(tileArr(l.Out.Size())),
		jen.Id("dIn").Add(tileArr(l.In.Size())),
	).Block(func() jen.Code {
		if l.Kind == runtime.ReLU {
			// gen/asm's ReLU gradient, on the tile at once.
			all := func(buf string) *jen.Statement {
				return jen.Id(buf).Index(jen.Empty(), jen.Id("n").Op("*").Lit(l.Out.Size()))
			}
			return jen.Id(reluGradVec).Call(all("dIn"), all("dOut"), all("out"))
		}
		return tileLoop(
			perSample(l, "y", "out"),
			perSample(l, "d", "dOut"),
			perSample(l, "g", "dIn"),
			activationGradInto(l.Kind, "g", "d", "y"),
		)
	}())
}

// activationGradInto emits g = d ⊙ act'(y) over per-sample arrays: one pass
// for ReLU and ReLU6 (d's bits masked), a copy and scaleByActivationGrad
// for the others.
func activationGradInto(act runtime.LayerKind, g, d, y string) jen.Code {
	gi, di, yi := jen.Id(g).Index(jen.Id("i")), jen.Id(d).Index(jen.Id("i")), jen.Id(y).Index(jen.Id("i"))
	bits := jen.Qual("math", "Float32bits").Call(di)
	switch act {
	case runtime.ReLU:
		return forRange("i", jen.Id(g), gi.Op("=").Qual("math", "Float32frombits").Call(bits.Op("&").Add(keepIf(yi.Clone().Op(">").Lit(0)))))
	case runtime.ReLU6:
		return forRange("i", jen.Id(g), gi.Op("=").Qual("math", "Float32frombits").Call(
			bits.Op("&").Add(keepIf(yi.Clone().Op(">").Lit(0))).Op("&").Add(keepIf(yi.Clone().Op("<").Lit(6)))))
	}
	return jen.Op("*").Id(g).Op("=").Op("*").Id(d).Line().Add(scaleByActivationGrad(act, g, y))
}

// lossFunc emits the softmax of Predict. (The loss itself is
// runtime.SoftmaxCrossEntropy, shared by every engine.)
func (p *plan) lossFunc(f *jen.File) {
	K := p.net.Classes
	f.Comment(wrapDoc("softmax writes the softmax of z to probs, computed stably in float64."))
	f.Func().Id("softmax").Params(jen.Id("z").Add(ptrFloatArr(K)), jen.Id("probs").Add(ptrFloatArr(K))).Block(
		jen.Id("m").Op(":=").Id("z").Index(jen.Lit(0)),
		forRange("k", jen.Id("z"), jen.If(jen.Id("z").Index(jen.Id("k")).Op(">").Id("m")).Block(jen.Id("m").Op("=").Id("z").Index(jen.Id("k")))),
		jen.Var().Id("e").Index(jen.Lit(K)).Float64(),
		jen.Id("sum").Op(":=").Lit(0.0),
		forRange("k", jen.Id("z"),
			jen.Id("e").Index(jen.Id("k")).Op("=").Qual("math", "Exp").Call(jen.Float64().Parens(jen.Id("z").Index(jen.Id("k")).Op("-").Id("m"))),
			jen.Id("sum").Op("+=").Id("e").Index(jen.Id("k")),
		),
		forRange("k", jen.Id("e"), jen.Id("probs").Index(jen.Id("k")).Op("=").Float32().Parens(jen.Id("e").Index(jen.Id("k")).Op("/").Id("sum"))),
	)
}

// mathHelpers emits the scalar activation functions the kernels use and
// the −∞ constant of max pooling.
func (p *plan) mathHelpers(f *jen.File) {
	for _, s := range p.stages {
		if s.layer.Kind == runtime.MaxPool {
			f.Comment(wrapDoc("negInf is the value of max pooling's padding."))
			f.Var().Id("negInf").Op("=").Float32().Parens(jen.Qual("math", "Inf").Call(jen.Lit(-1)))
			break
		}
	}
	if p.usesKeep {
		f.Comment(wrapDoc("keep returns a mask of ones when c holds and of zeros otherwise. ANDed onto a float32's bits it keeps the value or makes it +0 without a branch: the activations' conditions depend on the data's signs, on which a branch mispredicts about every other value."))
		f.Func().Id("keep").Params(jen.Id("c").Bool()).Uint32().Block(
			jen.Var().Id("m").Uint32(),
			jen.If(jen.Id("c")).Block(jen.Id("m").Op("=").Op("^").Uint32().Parens(jen.Lit(0))),
			jen.Return(jen.Id("m")),
		)
	}
	if p.usesSigmoid {
		f.Comment(wrapDoc("sigmoid is 1/(1+e^−v), computed in float64."))
		f.Func().Id("sigmoid").Params(jen.Id("v").Float32()).Float32().Block(
			jen.Return(jen.Float32().Parens(jen.Lit(1).Op("/").Parens(jen.Lit(1).Op("+").Qual("math", "Exp").Call(jen.Op("-").Float64().Parens(jen.Id("v")))))),
		)
	}
	if p.usesTanh {
		f.Comment(wrapDoc("tanh is the hyperbolic tangent, computed in float64."))
		f.Func().Id("tanh").Params(jen.Id("v").Float32()).Float32().Block(
			jen.Return(jen.Float32().Parens(jen.Qual("math", "Tanh").Call(jen.Float64().Parens(jen.Id("v"))))),
		)
	}
}

// convForwardFunc emits the function fn of a convolution stage's forward
// pass: body, run per sample of the tile, then the fused activation on y.
func convForwardFunc(f *jen.File, s *stage, fn string, wsize int, body []jen.Code) {
	l := s.layer
	if s.act != "" {
		body = append(body, applyActivation(s.act, "y"))
	}
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.Id("in").Add(tileArr(l.In.Size())),
		jen.Id("out").Add(tileArr(l.Out.Size())),
		jen.Id("w").Add(ptrFloatArr(wsize)),
		biasParam(s, "b", l.Filters),
	).Block(tileLoop(body...))
}
