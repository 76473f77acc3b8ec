package emit

import (
	"fmt"

	"github.com/cnngen/cnngen/runtime"
	"github.com/dave/jennifer/jen"
)

// The kernels of the graph layers (add, concat, global average pooling,
// dropout), of grouped convolutions and of the activations that are never
// fused (relu6, leaky_relu), all on the pure-Go path except add's sums
// (gen/asm's Add, whose paths give Go's bits), and the helpers for layers
// without a bias.

// biasParam is the parameter `name *[size]float32` of a conv or dense
// kernel, or nothing when the layer has no bias.
func biasParam(s *stage, name string, size int) jen.Code {
	if !s.hasBias() {
		return jen.Null()
	}
	return jen.Id(name).Add(ptrFloatArr(size))
}

// biasArg is the argument name of a bias parameter, or nothing.
func biasArg(s *stage, name string) jen.Code {
	if !s.hasBias() {
		return jen.Null()
	}
	return jen.Id(name)
}

// biasInit is `*o = *b`, or `*o = [size]float32{}` without a bias.
func biasInit(s *stage, o string, size int) jen.Code {
	if !s.hasBias() {
		return jen.Op("*").Id(o).Op("=").Add(floatArr(size)).Values()
	}
	return jen.Op("*").Id(o).Op("=").Op("*").Id("b")
}

// hasPartial reports whether some buffer's gradient is a sum of shares.
func (p *plan) hasPartial() bool {
	for _, s := range p.stages {
		if s.out.partial {
			return true
		}
	}
	return false
}

// hasDropout reports whether the network has a dropout layer.
func (p *plan) hasDropout() bool {
	for _, s := range p.stages {
		if s.layer.Kind == runtime.Dropout {
			return true
		}
	}
	return false
}

// inName is the name of the kernel parameter for input k of a stage with
// several inputs: in0, in1, ...
func inName(k int) string { return fmt.Sprintf("in%d", k) }

// groupedConvForward emits <l>Forward of a convolution with groups: filter
// f of group g = f/(F/G) sees the input channels g·C/G … (g+1)·C/G−1, and
// the weights are [KH][KW][C/G][F]:
//
//	y[oy][ox][f] = act(b[f] + Σ_{ky,kx,c<C/G} x[iy][ix][g·C/G+c] · w[ky][kx][c][f])
//
// Each output adds its terms in the order of the ungrouped convolution
// (taps, then channels), skipping the taps in the padding.
func (p *plan) groupedConvForward(f *jen.File, s *stage) {
	l := s.layer
	g := windowOf(l)
	F, G := l.Filters, s.groups()
	cg, fg := g.c/G, F/G
	wsize := g.kh * g.kw * cg * F
	fn := s.base + "Forward"
	f.Comment(wrapDoc(fmt.Sprintf("%s computes %s, in %d groups of %d input channels and %d filters, for the first n samples of a tile: in holds %v inputs in HWC order, out receives %v outputs; w is the weight [%d][%d][%d][%d].",
		fn, describe(s), G, cg, fg, l.In, l.Out, g.kh, g.kw, cg, F)))
	body := []jen.Code{perSample(l, "x", "in"), perSample(l, "y", "out")}
	body = append(body, groupedConvRows(s, jen.Lit(0), jen.Lit(g.oh)))
	convForwardFunc(f, s, fn, wsize, body)
}

// groupedConvRows is the loop of groupedConvForward over output rows
// [lo, hi) of one sample x → y, before the activation (also the body of
// <l>ForwardRows, a part of Frozen's split one-sample forward).
func groupedConvRows(s *stage, lo, hi jen.Code) jen.Code {
	g := windowOf(s.layer)
	F, G := s.layer.Filters, s.groups()
	cg, fg := g.c/G, F/G
	return forUp("oy", lo, hi, forN("ox", g.ow,
		jen.Id("o").Op(":=").Add(arrView(F, "y", lin(0, term{g.ow * F, "oy"}, term{F, "ox"}))),
		biasInit(s, "o", F),
		boundsCheckedTaps(g, forN("c", cg,
			jen.Id("r").Op(":=").Add(arrView(F, "w", lin(0, term{g.kw * cg * F, "ky"}, term{cg * F, "kx"}, term{F, "c"}))),
			forN("gr", G,
				jen.Id("v").Op(":=").Id("x").Index(lin(0, term{g.w * g.c, "iy"}, term{g.c, "ix"}, term{cg, "gr"}, term{1, "c"})),
				forN("k", fg,
					jen.Id("o").Index(lin(0, term{fg, "gr"}, term{1, "k"})).Op("+=").Id("v").Op("*").Id("r").Index(lin(0, term{fg, "gr"}, term{1, "k"})),
				),
			),
		)),
	))
}

// groupedConvBackward emits <l>Backward of a convolution with groups. With
// dz = dOut ⊙ act'(out) (in place):
//
//	db[f] += Σ dz[oy][ox][f]
//	dw[ky][kx][c][f] += Σ x[iy][ix][g·C/G+c] · dz[oy][ox][f]
//	dIn[iy][ix][g·C/G+c] = Σ w[ky][kx][c][f] · dz[oy][ox][f], f in group g   (when needed)
func (p *plan) groupedConvBackward(f *jen.File, s *stage) {
	l := s.layer
	g := windowOf(l)
	F, G := l.Filters, s.groups()
	cg, fg := g.c/G, F/G
	wsize := g.kh * g.kw * cg * F
	fn := s.base + "Backward"
	doc := fmt.Sprintf("%s runs the backward pass of %s (%d groups) for the first n samples of a tile. dOut holds ∂loss/∂out (overwritten with the gradient before the activation); the weight and bias gradients are accumulated into dw and db", fn, describe(s), G)
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
	k := lin(0, term{fg, "gr"}, term{1, "k"})
	group := []jen.Code{
		jen.Id("xi").Op(":=").Add(lin(0, term{g.w * g.c, "iy"}, term{g.c, "ix"}, term{cg, "gr"}, term{1, "c"})),
		jen.Id("v").Op(":=").Id("x").Index(jen.Id("xi")),
	}
	if s.inGrad {
		group = append(group,
			jen.Var().Id("acc").Float32(),
			forN("k", fg,
				jen.Id("gw").Index(k.Clone()).Op("+=").Id("v").Op("*").Id("d").Index(k.Clone()),
				jen.Id("acc").Op("+=").Id("r").Index(k.Clone()).Op("*").Id("d").Index(k.Clone()),
			),
			jen.Id("dx").Index(jen.Id("xi")).Op("+=").Id("acc"))
	} else {
		group = append(group, forN("k", fg, jen.Id("gw").Index(k.Clone()).Op("+=").Id("v").Op("*").Id("d").Index(k.Clone())))
	}
	tap := []jen.Code{
		jen.Id("gw").Op(":=").Add(arrView(F, "dw", lin(0, term{g.kw * cg * F, "ky"}, term{cg * F, "kx"}, term{F, "c"}))),
	}
	if s.inGrad {
		tap = append(tap, jen.Id("r").Op(":=").Add(arrView(F, "w", lin(0, term{g.kw * cg * F, "ky"}, term{cg * F, "kx"}, term{F, "c"}))))
	}
	tap = append(tap, forN("gr", G, group...))
	pixel := []jen.Code{jen.Id("d").Op(":=").Add(arrView(F, "g", lin(0, term{g.ow * F, "oy"}, term{F, "ox"})))}
	if s.hasBias() {
		pixel = append(pixel, forRange("f", jen.Id("d"), jen.Id("db").Index(jen.Id("f")).Op("+=").Id("d").Index(jen.Id("f"))))
	}
	pixel = append(pixel, boundsCheckedTaps(g, forN("c", cg, tap...)))
	body := []jen.Code{perSample(l, "x", "in"), perSample(l, "g", "dOut")}
	if s.act != "" {
		body = append(body, perSample(l, "y", "out"), scaleByActivationGrad(s.act, "g", "y"))
	}
	if s.inGrad {
		body = append(body, perSample(l, "dx", "dIn"), jen.Op("*").Id("dx").Op("=").Add(floatArr(l.In.Size())).Values())
	}
	body = append(body, forN("oy", g.oh, forN("ox", g.ow, pixel...)))
	f.Func().Id(fn).Params(params...).Block(tileLoop(body...))
}

// globalPoolForward emits <l>Forward of global average pooling:
// out[c] = Σ_pixels in[pixel][c] / (H·W).
func (p *plan) globalPoolForward(f *jen.File, s *stage) {
	l := s.layer
	C, pixels := l.In.Channels, l.In.Height*l.In.Width
	fn := s.base + "Forward"
	f.Comment(wrapDoc(fmt.Sprintf("%s computes %s for the first n samples of a tile: out receives the mean of each channel over the %d pixels.", fn, describe(s), pixels)))
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.Id("in").Add(tileArr(l.In.Size())),
		jen.Id("out").Add(tileArr(l.Out.Size())),
	).Block(tileLoop(append(append([]jen.Code{
		perSample(l, "x", "in"),
		perSample(l, "y", "out"),
	}, p.channelSums(s, C, pixels)...),
		forRange("c", jen.Id("y"), jen.Id("y").Index(jen.Id("c")).Op("/=").Lit(float32(pixels))),
	)...))
}

// channelSums is y = Σ over the pixels of x per channel, from zero, pixel
// by pixel: gen/asm's ChannelSum when planVector chose it for s, a loop
// otherwise.
func (p *plan) channelSums(s *stage, C, pixels int) []jen.Code {
	if p.sumVector[s] {
		return []jen.Code{jen.Id(s.base+sufSumVec).Call(jen.Id("x").Index(jen.Empty(), jen.Empty()), jen.Id("y"))}
	}
	return []jen.Code{
		jen.Op("*").Id("y").Op("=").Add(floatArr(C)).Values(),
		forN("q", pixels,
			jen.Id("r").Op(":=").Add(arrView(C, "x", lin(0, term{C, "q"}))),
			forRange("c", jen.Id("y"), jen.Id("y").Index(jen.Id("c")).Op("+=").Id("r").Index(jen.Id("c"))),
		),
	}
}

// globalPoolBackward emits <l>Backward of global average pooling: each
// pixel's gradient is the channel's output gradient divided by H·W.
func (p *plan) globalPoolBackward(f *jen.File, s *stage) {
	l := s.layer
	C, pixels := l.In.Channels, l.In.Height*l.In.Width
	fn := s.base + "Backward"
	f.Comment(wrapDoc(fmt.Sprintf("%s writes to dIn the gradient of %s's input for the first n samples of a tile: each channel's output gradient, divided evenly among its %d pixels.", fn, describe(s), pixels)))
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.Id("dOut").Add(tileArr(l.Out.Size())),
		jen.Id("dIn").Add(tileArr(l.In.Size())),
	).Block(tileLoop(
		perSample(l, "g", "dOut"),
		perSample(l, "dx", "dIn"),
		jen.Id("share").Op(":=").Lit(1).Op("/").Float32().Parens(jen.Lit(pixels)),
		forN("q", pixels,
			jen.Id("r").Op(":=").Add(arrView(C, "dx", lin(0, term{C, "q"}))),
			forRange("c", jen.Id("r"), jen.Id("r").Index(jen.Id("c")).Op("=").Id("share").Op("*").Id("g").Index(jen.Id("c"))),
		),
	))
}

// addForward emits <l>Forward of add: out = in0 + in1 + … (added in input
// order, on gen/asm's Add: Go's float32 sums on every path). Its backward
// needs no kernel: every input's gradient is the output's, which the
// backward pass copies.
func (p *plan) addForward(f *jen.File, s *stage) {
	l := s.layer
	size := l.Out.Size()
	fn := s.base + "Forward"
	f.Comment(wrapDoc(fmt.Sprintf("%s computes %s for the first n samples of a tile: out is the sum of the %d inputs, added in input order (%s).", fn, describe(s), len(s.ins), addVec)))
	params := []jen.Code{jen.Id("n").Int()}
	for k := range s.ins {
		params = append(params, jen.Id(inName(k)).Add(tileArr(size)))
	}
	params = append(params, jen.Id("out").Add(tileArr(size)))
	f.Func().Id(fn).Params(params...).Block(addSum(len(s.ins), func(buf string) jen.Code {
		return jen.Id(buf).Index(jen.Empty(), jen.Id("n").Op("*").Lit(size))
	})...)
}

// addSum is out = in0 + in1 + … of count inputs, added in input order on
// addVec (a copy of in0 for one input); view gives the part of a buffer.
func addSum(count int, view func(buf string) jen.Code) []jen.Code {
	if count == 1 {
		return []jen.Code{jen.Copy(view("out"), view(inName(0)))}
	}
	code := []jen.Code{jen.Id(addVec).Call(view("out"), view(inName(0)), view(inName(1)))}
	for k := 2; k < count; k++ {
		code = append(code, jen.Id(addVec).Call(view("out"), view("out"), view(inName(k))))
	}
	return code
}

// concatForward emits <l>Forward of concat: each output pixel holds the
// channels of in0, then those of in1, and so on.
func (p *plan) concatForward(f *jen.File, s *stage) {
	l := s.layer
	pixels, C := l.Out.Height*l.Out.Width, l.Out.Channels
	fn := s.base + "Forward"
	f.Comment(wrapDoc(fmt.Sprintf("%s computes %s for the first n samples of a tile: each output pixel holds the channels of the inputs one after another, in input order.", fn, describe(s))))
	params := []jen.Code{jen.Id("n").Int()}
	var copies []jen.Code
	off := 0
	for k, b := range s.ins {
		ck := b.size / pixels
		params = append(params, jen.Id(inName(k)).Add(tileArr(b.size)))
		copies = append(copies, jen.Copy(
			jen.Id("out").Index(lin(off, term{C, "q"}), lin(off+ck, term{C, "q"})),
			jen.Id(inName(k)).Index(lin(0, term{ck, "q"}), lin(ck, term{ck, "q"}))))
		off += ck
	}
	params = append(params, jen.Id("out").Add(tileArr(l.Out.Size())))
	f.Func().Id(fn).Params(params...).Block(
		forUp("q", jen.Lit(0), jen.Id("n").Op("*").Lit(pixels), copies...),
	)
}

// concatBackward emits <l>Backward of concat: the gradient of each input
// whose gradient is needed is its slice of the channels of dOut.
func (p *plan) concatBackward(f *jen.File, s *stage) {
	l := s.layer
	pixels, C := l.Out.Height*l.Out.Width, l.Out.Channels
	fn := s.base + "Backward"
	f.Comment(wrapDoc(fmt.Sprintf("%s writes to d<k> the gradient of input k of %s (for the inputs that need one) for the first n samples of a tile: its channels of dOut.", fn, describe(s))))
	params := []jen.Code{jen.Id("n").Int(), jen.Id("dOut").Add(tileArr(l.Out.Size()))}
	var copies []jen.Code
	off := 0
	for k, b := range s.ins {
		ck := b.size / pixels
		if s.inGrads[k] {
			d := fmt.Sprintf("d%d", k)
			params = append(params, jen.Id(d).Add(tileArr(b.size)))
			copies = append(copies, jen.Copy(
				jen.Id(d).Index(lin(0, term{ck, "q"}), lin(ck, term{ck, "q"})),
				jen.Id("dOut").Index(lin(off, term{C, "q"}), lin(off+ck, term{C, "q"}))))
		}
		off += ck
	}
	f.Func().Id(fn).Params(params...).Block(
		forUp("q", jen.Lit(0), jen.Id("n").Op("*").Lit(pixels), copies...),
	)
}

// dropoutForward emits <l>Forward of dropout: in training (tr not nil) it
// draws each sample's mask with runtime.DropoutMask, from the sample's
// index in the whole batch, so that the masks do not depend on how the
// batch is split, and multiplies; in evaluation it copies.
func (p *plan) dropoutForward(f *jen.File, s *stage) {
	l := s.layer
	size := l.Out.Size()
	fn := s.base + "Forward"
	f.Comment(wrapDoc(fmt.Sprintf("%s computes %s for the first n samples of a tile: the identity in evaluation (tr nil); in training, out = in ⊙ mask, with each sample's mask drawn by runtime.DropoutMask for tr's seed and step, layer %d and the sample's index tr.off+s in the batch.", fn, describe(s), s.index)))
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.Id("in").Add(tileArr(size)),
		jen.Id("out").Add(tileArr(size)),
		jen.Id("mask").Add(tileArr(size)),
		jen.Id("tr").Op("*").Id("training"),
	).Block(
		jen.If(jen.Id("tr").Op("==").Nil()).Block(
			jen.Copy(jen.Id("out").Index(jen.Empty(), jen.Id("n").Op("*").Lit(size)), jen.Id("in").Index(jen.Empty(), jen.Id("n").Op("*").Lit(size))),
			jen.Return(),
		),
		tileLoop(
			rt("DropoutMask").Call(jen.Id("tr").Dot("seed"), jen.Id("tr").Dot("step"), jen.Lit(s.index), jen.Id("tr").Dot("off").Op("+").Id("s"), jen.Lit(l.Rate),
				jen.Id("mask").Index(lin(0, term{size, "s"}), lin(size, term{size, "s"}))),
		),
		forRange("i", jen.Id("out").Index(jen.Empty(), jen.Id("n").Op("*").Lit(size)), jen.Id("out").Index(jen.Id("i")).Op("=").Id("in").Index(jen.Id("i")).Op("*").Id("mask").Index(jen.Id("i"))),
	)
}

// dropoutBackward emits <l>Backward of dropout: dIn = dOut ⊙ mask.
func (p *plan) dropoutBackward(f *jen.File, s *stage) {
	size := s.layer.Out.Size()
	fn := s.base + "Backward"
	f.Comment(wrapDoc(fmt.Sprintf("%s writes to dIn the gradient of %s's input for the first n samples of a tile: dOut times the mask of the training forward pass.", fn, describe(s))))
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.Id("mask").Add(tileArr(size)),
		jen.Id("dOut").Add(tileArr(size)),
		jen.Id("dIn").Add(tileArr(size)),
	).Block(
		forRange("i", jen.Id("dIn").Index(jen.Empty(), jen.Id("n").Op("*").Lit(size)), jen.Id("dIn").Index(jen.Id("i")).Op("=").Id("dOut").Index(jen.Id("i")).Op("*").Id("mask").Index(jen.Id("i"))),
	)
}

// training reports whether some layer behaves differently in training
// (dropout): forward then takes the training state, a *training.
func (p *plan) training() bool { return p.hasDropout() }

// trArg is the training-state argument tr of a forward call, or nothing
// when the network has no such layer.
func (p *plan) trArg(tr jen.Code) jen.Code {
	if !p.training() {
		return jen.Null()
	}
	return tr
}

// targetsField is the job's field of a regression network's targets, or
// nothing for a classifier.
func (p *plan) targetsField() jen.Code {
	if !p.regression {
		return jen.Null()
	}
	return jen.Comment("targets, when set, selects the squared error against them rather than the cross-entropy.").Line().Id("targets").Index().Float32()
}
