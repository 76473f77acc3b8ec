package emit

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"
)

// Depthwise convolutions (groups = channels = filters: filter c reads
// input channel c alone) run channel-innermost: in HWC layout a pixel's C
// channels are contiguous, and so are a tap's C weights ([KH][KW][1][C]),
// so every tap is one loop over C values of three fixed-size arrays, with
// no bounds checks and no per-channel index arithmetic. As in convForward,
// the output is split into the border (a per-pixel function that skips the
// taps in the padding) and the interior, where windows of up to nine taps
// are unrolled at constant offsets. Every sum adds its terms in the
// grouped convolution's order (the generic engine's): an output adds the
// bias and then its taps in order; a weight or bias gradient adds the
// pixels in row-major order; an input gradient adds the (pixel, tap) pairs
// that read it in that order.

// isDepthwise reports whether conv stage s is depthwise with a depth
// multiplier of 1.
func isDepthwise(s *stage) bool {
	l := s.layer
	G := s.groups()
	return G > 1 && l.In.Channels == G && l.Filters == G
}

// depthwiseForward emits <l>Forward and, when the layer has a border,
// <l>Pixel of a depthwise convolution.
func (p *plan) depthwiseForward(f *jen.File, s *stage) {
	l := s.layer
	g := windowOf(l)
	C := g.c
	wsize := g.kh * g.kw * C
	taps := g.kh * g.kw
	pixelFn := s.base + "Pixel"
	view := func(name, buf string, off jen.Code) jen.Code {
		return jen.Id(name).Op(":=").Add(arrView(C, buf, off))
	}
	outRow := view("o", "y", lin(0, term{g.ow * C, "oy"}, term{C, "ox"}))
	if hasBorder(g) {
		f.Comment(wrapDoc(fmt.Sprintf("%s computes the pre-activation output pixel (oy, ox) of %s for one sample, skipping the taps that fall into the padding: the border of the output.", pixelFn, l.Name)))
		f.Func().Id(pixelFn).Params(
			jen.Id("x").Add(ptrFloatArr(l.In.Size())),
			jen.Id("y").Add(ptrFloatArr(l.Out.Size())),
			jen.Id("w").Add(ptrFloatArr(wsize)),
			biasParam(s, "b", C),
			jen.List(jen.Id("oy"), jen.Id("ox")).Int(),
		).Block(
			outRow,
			biasInit(s, "o", C),
			boundsCheckedTaps(g,
				view("v", "x", lin(0, term{g.w * C, "iy"}, term{C, "ix"})),
				view("r", "w", lin(0, term{g.kw * C, "ky"}, term{C, "kx"})),
				forRange("c", jen.Id("o"), jen.Id("o").Index(jen.Id("c")).Op("+=").Id("v").Index(jen.Id("c")).Op("*").Id("r").Index(jen.Id("c"))),
			),
		)
	}
	pixel := func(border bool) []jen.Code {
		if border {
			return []jen.Code{jen.Id(pixelFn).Call(jen.Id("x"), jen.Id("y"), jen.Id("w"), biasArg(s, "b"), jen.Id("oy"), jen.Id("ox"))}
		}
		code := []jen.Code{
			outRow,
			// base is the offset of the window's top-left input pixel.
			jen.Id("base").Op(":=").Add(lin(-(g.pt*g.w*C + g.pl*C), term{g.sh * g.w * C, "oy"}, term{g.sw * C, "ox"})),
		}
		if taps > maxUnrolledTaps {
			return append(code, biasInit(s, "o", C), forN("ky", g.kh, forN("kx", g.kw,
				view("v", "x", lin(0, term{1, "base"}, term{g.w * C, "ky"}, term{C, "kx"})),
				view("r", "w", lin(0, term{g.kw * C, "ky"}, term{C, "kx"})),
				forRange("c", jen.Id("o"), jen.Id("o").Index(jen.Id("c")).Op("+=").Id("v").Index(jen.Id("c")).Op("*").Id("r").Index(jen.Id("c"))),
			)))
		}
		// x<k> is the input pixel under tap k = ky·kw+kx and w<k> that
		// tap's weights; each output adds the taps in order.
		for k := 0; k < taps; k++ {
			code = append(code, view(fmt.Sprintf("x%d", k), "x", lin((k/g.kw)*g.w*C+(k%g.kw)*C, term{1, "base"})))
		}
		for k := 0; k < taps; k++ {
			code = append(code, view(fmt.Sprintf("w%d", k), "w", jen.Lit(k*C)))
		}
		sum := []jen.Code{jen.Var().Id("v").Float32()}
		if s.hasBias() {
			sum = []jen.Code{jen.Id("v").Op(":=").Id("b").Index(jen.Id("c"))}
		}
		for k := 0; k < taps; k++ {
			sum = append(sum, jen.Id("v").Op("+=").Id(fmt.Sprintf("x%d", k)).Index(jen.Id("c")).Op("*").Id(fmt.Sprintf("w%d", k)).Index(jen.Id("c")))
		}
		sum = append(sum, jen.Id("o").Index(jen.Id("c")).Op("=").Id("v"))
		return append(code, forRange("c", jen.Id("o"), sum...))
	}
	fn := s.base + "Forward"
	f.Comment(wrapDoc(fmt.Sprintf("%s computes %s, depthwise (filter c reads input channel c), for the first n samples of a tile: in holds %v inputs in HWC order, out receives %v outputs; w is the weight [%d][%d][1][%d].",
		fn, describe(s), l.In, l.Out, g.kh, g.kw, C)))
	body := []jen.Code{perSample(l, "x", "in"), perSample(l, "y", "out")}
	body = append(body, regions(g, pixel)...)
	convForwardFunc(f, s, fn, wsize, body)
	if s.vec != nil && s.vec.depthwise != "" {
		p.depthwiseForwardVec(f, s)
	}
}

// depthwisePixelVec emits <l>PixelVec, the vector path's <l>Pixel: the
// taps of output pixel (oy, ox) that lie inside the input, summed by
// gen/asm's window kernel.
func (p *plan) depthwisePixelVec(f *jen.File, s *stage) {
	l := s.layer
	g := windowOf(l)
	C := g.c
	fn := s.base + "PixelVec"
	f.Comment(wrapDoc(fmt.Sprintf("%s computes the pre-activation output pixel (oy, ox) of %s for one sample on the vector path (%s), from the taps that lie inside the input: the border of the output.", fn, l.Name, s.vec.depthwiseWindow)))
	f.Func().Id(fn).Params(
		jen.Id("x").Add(ptrFloatArr(l.In.Size())),
		jen.Id("y").Add(ptrFloatArr(l.Out.Size())),
		jen.Id("w").Add(ptrFloatArr(g.kh*g.kw*C)),
		jen.Id("b").Add(ptrFloatArr(C)),
		jen.List(jen.Id("oy"), jen.Id("ox")).Int(),
	).Block(
		jen.List(jen.Id("y0"), jen.Id("x0")).Op(":=").List(lin(-g.pt, term{g.sh, "oy"}), lin(-g.pl, term{g.sw, "ox"})),
		jen.List(jen.Id("kh0"), jen.Id("kh1")).Op(":=").List(jen.Max(jen.Lit(0), jen.Op("-").Id("y0")), jen.Min(jen.Lit(g.kh), jen.Lit(g.h).Op("-").Id("y0"))),
		jen.List(jen.Id("kw0"), jen.Id("kw1")).Op(":=").List(jen.Max(jen.Lit(0), jen.Op("-").Id("x0")), jen.Min(jen.Lit(g.kw), jen.Lit(g.w).Op("-").Id("x0"))),
		jen.Id(s.vec.depthwiseWindow).Call(
			jen.Id("y").Index(lin(0, term{g.ow * C, "oy"}, term{C, "ox"}), jen.Empty()),
			jen.Id("x").Index(jen.Parens(jen.Parens(jen.Id("y0").Op("+").Id("kh0")).Op("*").Lit(g.w).Op("+").Id("x0").Op("+").Id("kw0")).Op("*").Lit(C), jen.Empty()),
			jen.Id("w"), jen.Id("b"), jen.Id("kh0"), jen.Id("kh1"), jen.Id("kw0"), jen.Id("kw1")),
	)
}

// depthwiseRowsVec emits <l>ForwardRowsVec, output rows [lo, hi) of one
// sample on the vector path, as <l>ForwardVec computes them: a part of
// Frozen's split one-sample forward, which must give the same bits as the
// whole forward.
func (p *plan) depthwiseRowsVec(f *jen.File, s *stage) {
	l := s.layer
	g := windowOf(l)
	C := g.c
	ylo, yhi := interior(g.oh, g.h, g.kh, g.sh, g.pt)
	xlo, xhi := interior(g.ow, g.w, g.kw, g.sw, g.pl)
	fn := s.base + sufForwardRows + "Vec"
	px := jen.Id(s.base+"PixelVec").Call(jen.Id("x"), jen.Id("y"), jen.Id("w"), jen.Id("b"), jen.Id("oy"), jen.Id("ox"))
	var perRow []jen.Code
	if ylo > 0 || yhi < g.oh {
		perRow = append(perRow, jen.If(jen.Id("oy").Op("<").Lit(ylo).Op("||").Id("oy").Op(">=").Lit(yhi)).Block(
			forN("ox", g.ow, px), jen.Continue()))
	}
	if xlo > 0 {
		perRow = append(perRow, forUp("ox", jen.Lit(0), jen.Lit(xlo), px.Clone()))
	}
	if xhi < g.ow {
		perRow = append(perRow, forUp("ox", jen.Lit(xhi), jen.Lit(g.ow), px.Clone()))
	}
	body := []jen.Code{jen.Id(s.vec.depthwise).Call(jen.Id("y").Index(jen.Empty(), jen.Empty()), jen.Id("x").Index(jen.Empty(), jen.Empty()), jen.Id("w"), jen.Id("b"), jen.Lit(1), jen.Id("lo"), jen.Id("hi"))}
	if len(perRow) > 0 {
		body = append(body, forUp("oy", jen.Id("lo"), jen.Id("hi"), perRow...))
	}
	if s.act != "" {
		body = append(body,
			jen.Id("part").Op(":=").Id("y").Index(lin(0, term{g.ow * C, "lo"}), lin(0, term{g.ow * C, "hi"})),
			applyActivation(s.act, "part"))
	}
	f.Comment(wrapDoc(fmt.Sprintf("%s computes output rows [lo, hi) of %s for one sample x, as %s%s does (%s, then the border in Go): a part of Frozen's split one-sample forward.", fn, describe(s), s.base, sufForwardVec, s.vec.depthwise)))
	f.Func().Id(fn).Params(
		jen.Id("x").Add(ptrFloatArr(l.In.Size())),
		jen.Id("y").Add(ptrFloatArr(l.Out.Size())),
		jen.Id("w").Add(ptrFloatArr(g.kh*g.kw*C)),
		jen.Id("b").Add(ptrFloatArr(C)),
		jen.List(jen.Id("lo"), jen.Id("hi")).Int(),
	).Block(body...)
}

// depthwiseForwardVec emits <l>ForwardVec, the vector path's forward of a
// depthwise convolution: gen/asm's kernel computes the interior of every
// sample, then Go the border pixels (the same code as <l>Forward's) and
// the fused activation. Unlike <l>Forward it always takes a bias (the
// shared zeros for a layer without one), as the kernel adds one.
func (p *plan) depthwiseForwardVec(f *jen.File, s *stage) {
	l := s.layer
	g := windowOf(l)
	C := g.c
	inSize, outSize := l.In.Size(), l.Out.Size()
	fn := s.base + sufForwardVec
	// border computes sample x's border pixels into y.
	var border []jen.Code
	if hasBorder(g) {
		p.depthwisePixelVec(f, s)
		border = regions(g, func(isBorder bool) []jen.Code {
			if !isBorder {
				return nil
			}
			return []jen.Code{jen.Id(s.base+"PixelVec").Call(jen.Id("x"), jen.Id("y"), jen.Id("w"), jen.Id("b"), jen.Id("oy"), jen.Id("ox"))}
		})
	}
	perSampleBody := border
	if s.act != "" {
		perSampleBody = append(perSampleBody, applyActivation(s.act, "y"))
	}
	body := []jen.Code{jen.Id(s.vec.depthwise).Call(
		jen.Id("out").Index(jen.Empty(), jen.Id("n").Op("*").Lit(outSize)),
		jen.Id("in").Index(jen.Empty(), jen.Id("n").Op("*").Lit(inSize)),
		jen.Id("w"), jen.Id("b"), jen.Id("n"), jen.Lit(0), jen.Lit(g.oh))}
	if len(perSampleBody) > 0 {
		var views []jen.Code
		if hasBorder(g) {
			views = append(views, perSample(l, "x", "in"))
		}
		views = append(views, perSample(l, "y", "out"))
		body = append(body, tileLoop(append(views, perSampleBody...)...))
	}
	doc := fmt.Sprintf("%s computes %s for the first n samples of a tile on the vector path: %s computes the output pixels whose windows lie inside the input, then", fn, describe(s), s.vec.depthwise)
	switch {
	case hasBorder(g) && s.act != "":
		doc += " Go the border pixels and the activation."
	case hasBorder(g):
		doc += " Go the border pixels."
	case s.act != "":
		doc += " Go the activation."
	default:
		doc = strings.TrimSuffix(doc, ", then") + "; there is no border."
	}
	params := []jen.Code{
		jen.Id("n").Int(),
		jen.Id("in").Add(tileArr(inSize)),
		jen.Id("out").Add(tileArr(outSize)),
		jen.Id("w").Add(ptrFloatArr(g.kh * g.kw * C)),
		jen.Id("b").Add(ptrFloatArr(C)),
	}
	f.Comment(wrapDoc(doc))
	f.Func().Id(fn).Params(params...).Block(body...)

	r := p.frozenReLUs()[s]
	if r == nil {
		return
	}
	// <l>ForwardReLU: sample by sample, the interior, the border and the
	// ReLU, so that the ReLU reads a map just written.
	all := func(v string) jen.Code { return jen.Id(v).Index(jen.Empty(), jen.Empty()) }
	fusedBody := append([]jen.Code{perSample(l, "x", "in"), perSample(l, "y", "out"),
		jen.Id(s.vec.depthwise).Call(all("y"), all("x"), jen.Id("w"), jen.Id("b"), jen.Lit(1), jen.Lit(0), jen.Lit(g.oh))},
		border...)
	fusedBody = append(fusedBody, jen.Id(reluVec).Call(all("y"), all("y")))
	fused := s.base + sufForwardReLU
	f.Comment(wrapDoc(fmt.Sprintf("%s is %s followed by %s in place, for Frozen's forward: sample by sample, so that the ReLU runs on a map just computed.", fused, fn, r.layer.Name)))
	f.Func().Id(fused).Params(params...).Block(tileLoop(fusedBody...))
}

// depthwiseBackward emits <l>Backward and, when the layer has a border,
// <l>PixelGrad of a depthwise convolution. With dz = dOut ⊙ act'(out)
// (in place), per output pixel and tap, over the channels c:
//
//	db[c] += dz[oy][ox][c]
//	dw[ky][kx][0][c] += x[iy][ix][c] · dz[oy][ox][c]
//	dIn[iy][ix][c] += w[ky][kx][0][c] · dz[oy][ox][c]   (when needed)
func (p *plan) depthwiseBackward(f *jen.File, s *stage) {
	l := s.layer
	g := windowOf(l)
	C := g.c
	wsize := g.kh * g.kw * C
	taps := g.kh * g.kw
	fn := s.base + "Backward"
	doc := fmt.Sprintf("%s runs the backward pass of %s (depthwise) for the first n samples of a tile. dOut holds ∂loss/∂out (overwritten with the gradient before the activation); the weight and bias gradients are accumulated into dw and db", fn, describe(s))
	if s.inGrad {
		doc += " and ∂loss/∂in is written to dIn"
	}
	view := func(name, buf string, off jen.Code) jen.Code {
		return jen.Id(name).Op(":=").Add(arrView(C, buf, off))
	}
	// tap is the work of one tap: the input pixel at xi, the tap's weights
	// at k.
	tap := func(xi, k *jen.Statement) []jen.Code {
		code := []jen.Code{view("v", "x", xi.Clone()), view("gw", "dw", k.Clone())}
		upd := []jen.Code{jen.Id("gw").Index(jen.Id("c")).Op("+=").Id("v").Index(jen.Id("c")).Op("*").Id("d").Index(jen.Id("c"))}
		if s.inGrad {
			code = append(code, view("r", "w", k.Clone()), view("dv", "dx", xi.Clone()))
			upd = append(upd, jen.Id("dv").Index(jen.Id("c")).Op("+=").Id("r").Index(jen.Id("c")).Op("*").Id("d").Index(jen.Id("c")))
		}
		return append(code, forRange("c", jen.Id("d"), upd...))
	}
	gradParams := []jen.Code{jen.Id("x").Add(ptrFloatArr(l.In.Size())), jen.Id("d").Add(ptrFloatArr(C))}
	gradArgs := []jen.Code{jen.Id("x"), jen.Id("d")}
	if s.inGrad {
		gradParams = append(gradParams, jen.Id("dx").Add(ptrFloatArr(l.In.Size())), jen.Id("w").Add(ptrFloatArr(wsize)))
		gradArgs = append(gradArgs, jen.Id("dx"), jen.Id("w"))
	}
	gradParams = append(gradParams, jen.Id("dw").Add(ptrFloatArr(wsize)), jen.List(jen.Id("oy"), jen.Id("ox")).Int())
	gradArgs = append(gradArgs, jen.Id("dw"), jen.Id("oy"), jen.Id("ox"))
	pixelFn := s.base + "PixelGrad"
	if hasBorder(g) {
		what := "dw"
		if s.inGrad {
			what = "dw and dx"
		}
		f.Comment(wrapDoc(fmt.Sprintf("%s adds to %s the gradient contributions of output pixel (oy, ox) of %s for one sample, whose pre-activation gradient is d, skipping the taps in the padding: the border of the output.", pixelFn, what, l.Name)))
		f.Func().Id(pixelFn).Params(gradParams...).Block(
			boundsCheckedTaps(g, tap(lin(0, term{g.w * C, "iy"}, term{C, "ix"}), lin(0, term{g.kw * C, "ky"}, term{C, "kx"}))...),
		)
	}
	pixel := func(border bool) []jen.Code {
		code := []jen.Code{view("d", "g", lin(0, term{g.ow * C, "oy"}, term{C, "ox"}))}
		if s.hasBias() {
			code = append(code, forRange("c", jen.Id("d"), jen.Id("db").Index(jen.Id("c")).Op("+=").Id("d").Index(jen.Id("c"))))
		}
		if border {
			return append(code, jen.Id(pixelFn).Call(gradArgs...))
		}
		code = append(code, jen.Id("base").Op(":=").Add(lin(-(g.pt*g.w*C+g.pl*C), term{g.sh * g.w * C, "oy"}, term{g.sw * C, "ox"})))
		if taps > maxUnrolledTaps {
			return append(code, forN("ky", g.kh, forN("kx", g.kw,
				tap(lin(0, term{1, "base"}, term{g.w * C, "ky"}, term{C, "kx"}), lin(0, term{g.kw * C, "ky"}, term{C, "kx"}))...)))
		}
		for k := 0; k < taps; k++ {
			code = append(code, jen.Comment(fmt.Sprintf("tap (%d, %d)", k/g.kw, k%g.kw)),
				jen.Block(tap(lin((k/g.kw)*g.w*C+(k%g.kw)*C, term{1, "base"}), jen.Lit(k*C))...))
		}
		return code
	}
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
		biasParam(s, "db", C),
	)
	body := []jen.Code{perSample(l, "x", "in"), perSample(l, "g", "dOut")}
	if s.act != "" {
		body = append(body, perSample(l, "y", "out"), scaleByActivationGrad(s.act, "g", "y"))
	}
	if s.inGrad {
		body = append(body, perSample(l, "dx", "dIn"), jen.Op("*").Id("dx").Op("=").Add(floatArr(l.In.Size())).Values())
	}
	body = append(body, regions(g, pixel)...)
	f.Comment(wrapDoc(doc + "."))
	f.Func().Id(fn).Params(params...).Block(tileLoop(body...))

	v := s.vec
	if v == nil || v.depthwiseWeightGrad == "" {
		return
	}
	// The vector path: gen/asm's kernels over the interior of every
	// sample, then the border pixels one by one (gen/asm's window
	// gradient kernel, or Go for a layer without an input gradient).
	fn = s.base + sufBackwardVec
	doc = fmt.Sprintf("%s runs the backward pass of %s (depthwise) for the first n samples of a tile on the vector path, as %s does: %s accumulates the weight and bias gradients of the pixels whose windows lie inside the input", fn, describe(s), s.base+"Backward", v.depthwiseWeightGrad)
	if s.inGrad {
		doc += fmt.Sprintf(" and %s adds their share of dIn", v.depthwiseInputGrad)
	}
	if v.depthwiseWindowGrad != "" {
		doc += fmt.Sprintf(", then %s (through %s) the border pixels' terms, db's included", v.depthwiseWindowGrad, s.base+"PixelGradVec")
	} else {
		doc += ", then Go the border pixels' terms"
	}
	doc += ". db is always given (the shared sink for a layer without a bias), as the kernels sum it."
	vparams := append(params[:len(params)-1:len(params)-1], jen.Id("db").Add(ptrFloatArr(C)))
	whole := func(buf string, size int) jen.Code {
		return jen.Id(buf).Index(jen.Empty(), jen.Id("n").Op("*").Lit(size))
	}
	var vbody []jen.Code
	if s.act != "" {
		vbody = append(vbody, tileLoop(perSample(l, "g", "dOut"), perSample(l, "y", "out"), scaleByActivationGrad(s.act, "g", "y")))
	}
	if s.inGrad {
		vbody = append(vbody, jen.Clear(whole("dIn", l.In.Size())))
	}
	vbody = append(vbody, jen.Id(v.depthwiseWeightGrad).Call(whole("dOut", l.Out.Size()), whole("in", l.In.Size()), jen.Id("dw"), jen.Id("db"), jen.Id("n")))
	if s.inGrad {
		vbody = append(vbody, jen.Id(v.depthwiseInputGrad).Call(whole("dOut", l.Out.Size()), whole("dIn", l.In.Size()), jen.Id("w"), jen.Id("n")))
	}
	if hasBorder(g) {
		views := []jen.Code{perSample(l, "x", "in"), perSample(l, "g", "dOut")}
		if s.inGrad {
			views = append(views, perSample(l, "dx", "dIn"))
		}
		if v.depthwiseWindowGrad != "" {
			p.depthwisePixelGradVec(f, s)
		}
		vbody = append(vbody, tileLoop(append(views, regions(g, func(border bool) []jen.Code {
			if !border {
				return nil
			}
			if v.depthwiseWindowGrad != "" {
				return []jen.Code{jen.Id(s.base+"PixelGradVec").Call(jen.Id("x"), jen.Id("g"), jen.Id("dx"), jen.Id("w"), jen.Id("dw"), jen.Id("db"), jen.Id("oy"), jen.Id("ox"))}
			}
			return []jen.Code{
				view("d", "g", lin(0, term{g.ow * C, "oy"}, term{C, "ox"})),
				forRange("c", jen.Id("d"), jen.Id("db").Index(jen.Id("c")).Op("+=").Id("d").Index(jen.Id("c"))),
				jen.Id(pixelFn).Call(gradArgs...),
			}
		})...)...))
	}
	f.Comment(wrapDoc(doc))
	f.Func().Id(fn).Params(vparams...).Block(vbody...)
}

// depthwisePixelGradVec emits <l>PixelGradVec, the vector path's
// <l>PixelGrad: the terms of output pixel (oy, ox) of one sample, from the
// taps that lie inside the input, and its bias gradient, added by
// gen/asm's window gradient kernel.
func (p *plan) depthwisePixelGradVec(f *jen.File, s *stage) {
	l := s.layer
	g := windowOf(l)
	C := g.c
	fn := s.base + "PixelGradVec"
	f.Comment(wrapDoc(fmt.Sprintf("%s adds to db, dw and dx the gradient contributions of output pixel (oy, ox) of %s for one sample, whose pre-activation gradients are g, on the vector path (%s), from the taps that lie inside the input: the border of the output.", fn, l.Name, s.vec.depthwiseWindowGrad)))
	f.Func().Id(fn).Params(
		jen.Id("x").Add(ptrFloatArr(l.In.Size())),
		jen.Id("g").Add(ptrFloatArr(l.Out.Size())),
		jen.Id("dx").Add(ptrFloatArr(l.In.Size())),
		jen.Id("w").Add(ptrFloatArr(g.kh*g.kw*C)),
		jen.Id("dw").Add(ptrFloatArr(g.kh*g.kw*C)),
		jen.Id("db").Add(ptrFloatArr(C)),
		jen.List(jen.Id("oy"), jen.Id("ox")).Int(),
	).Block(
		jen.List(jen.Id("y0"), jen.Id("x0")).Op(":=").List(lin(-g.pt, term{g.sh, "oy"}), lin(-g.pl, term{g.sw, "ox"})),
		jen.List(jen.Id("kh0"), jen.Id("kh1")).Op(":=").List(jen.Max(jen.Lit(0), jen.Op("-").Id("y0")), jen.Min(jen.Lit(g.kh), jen.Lit(g.h).Op("-").Id("y0"))),
		jen.List(jen.Id("kw0"), jen.Id("kw1")).Op(":=").List(jen.Max(jen.Lit(0), jen.Op("-").Id("x0")), jen.Min(jen.Lit(g.kw), jen.Lit(g.w).Op("-").Id("x0"))),
		jen.Id("at").Op(":=").Parens(jen.Parens(jen.Id("y0").Op("+").Id("kh0")).Op("*").Lit(g.w).Op("+").Id("x0").Op("+").Id("kw0")).Op("*").Lit(C),
		jen.Id(s.vec.depthwiseWindowGrad).Call(
			jen.Id("g").Index(lin(0, term{g.ow * C, "oy"}, term{C, "ox"}), jen.Empty()),
			jen.Id("x").Index(jen.Id("at"), jen.Empty()),
			jen.Id("dx").Index(jen.Id("at"), jen.Empty()),
			jen.Id("w"), jen.Id("dw"), jen.Id("db"), jen.Id("kh0"), jen.Id("kh1"), jen.Id("kw0"), jen.Id("kw1")),
	)
}

// hasBorder reports whether some output position's window reaches the
// padding.
func hasBorder(g window) bool {
	ylo, yhi := interior(g.oh, g.h, g.kh, g.sh, g.pt)
	xlo, xhi := interior(g.ow, g.w, g.kw, g.sw, g.pl)
	return !(ylo == 0 && yhi == g.oh && xlo == 0 && xhi == g.ow)
}
