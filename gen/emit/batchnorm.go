package emit

import (
	"fmt"

	"github.com/cnngen/cnngen/runtime"
	"github.com/dave/jennifer/jen"
)

// Batch norm. In evaluation (Forward, Logits, Frozen) a batchnorm stage
// normalises with its running statistics, tile by tile like any stage. In
// training its statistics are the whole batch's, exactly as with one
// worker, so Backward of a network with batch norm runs layer-major
// (see layerMajor in workers.go): the stages are cut into segments at each
// batchnorm stage; each worker keeps the tile buffers of its whole shard
// (w.tiles, grown to the largest shard seen), and the batch runs in phases
// that the caller drives through the workers' job channels:
//
//	phase i < K    segment i forward on every tile, then each worker's
//	               per-channel Σx and Σx² (float64) of batchnorm i's input;
//	               the caller adds them in worker order: batch mean and
//	               biased variance, running statistics updated
//	phase K        segment K forward, the loss, segment K backward down to
//	               batchnorm K−1's output gradient, and each worker's Σdy
//	               and Σdy·x; the caller adds them in worker order (the
//	               gradients of γ and β)
//	phase K+1+i'   for i = K−1−i': batchnorm i's input gradient, then
//	               segment i backward, ending with the sums of batchnorm i−1
//
// so every statistic is a sum over the whole batch in a fixed order, and a
// batch, a seed and a worker count always give the same bits.

// Identifier suffixes of batch norm (none ends another suffix):
// <layer>RunningMean, <layer>RunningVar, <layer>Batches in the parameters
// struct (the buffers), <layer>Mean, <layer>InvStd, <layer>MeanDy,
// <layer>MeanDyXhat in the Model's batch statistics, <layer>Sum and
// <layer>SumSq in a worker's partial sums, and the functions
// <layer>Forward, <layer>InvStdOf, <layer>Moments, <layer>Sums,
// <layer>Backward.

// batchnorms returns the batchnorm stages in order.
func (p *plan) batchnorms() []*stage {
	var out []*stage
	for _, s := range p.stages {
		if s.layer.Kind == runtime.BatchNorm {
			out = append(out, s)
		}
	}
	return out
}

// hasBN reports whether the network has batch norm (and so trains
// layer-major).
func (p *plan) hasBN() bool { return len(p.batchnorms()) > 0 }

// bnGeometry returns a batchnorm stage's channels and pixels per sample.
func bnGeometry(s *stage) (channels, pixels int) {
	c := s.layer.In.Channels
	return c, s.layer.In.Size() / c
}

// batchNormKernels emits the Go kernels of batchnorm stage s: the
// statistics and gradient sums in float64, as the generic engine computes
// them, and the element maps in float32 on per-channel coefficients
// computed once per call in float64.
func (p *plan) batchNormKernels(f *jen.File, s *stage) {
	l := s.layer
	C, P := bnGeometry(s)
	size := l.In.Size()
	ch := func(names ...string) jen.Code { return jen.List(idList(names)...).Add(ptrFloatArr(C)) }
	ch64 := func(names ...string) jen.Code {
		return jen.List(idList(names)...).Op("*").Index(jen.Lit(C)).Float64()
	}
	perPixel := func(body ...jen.Code) jen.Code {
		return tileLoop(forN("q", P, body...))
	}
	row := func(name, buf string) jen.Code {
		return jen.Id(name).Op(":=").Add(arrView(C, buf, lin(0, term{size, "s"}, term{C, "q"})))
	}
	c := jen.Id("c")
	f64 := func(name string) *jen.Statement { return jen.Float64().Parens(jen.Id(name).Index(c.Clone())) }
	// loops is the element loop goLoop, or, when gen/asm renders the
	// batch-norm kernels for this layer (bnVector), the call vec of the
	// kernel that computes the same bits.
	loops := func(goLoop, vec jen.Code) jen.Code {
		if p.bnVector[s] {
			return vec
		}
		return goLoop
	}
	// whole is a tile buffer's first n samples.
	whole := func(buf string) jen.Code { return jen.Id(buf).Index(jen.Empty(), jen.Id("n").Op("*").Lit(size)) }

	// The element loops below run in float32 on per-channel coefficients
	// worked out once per call in float64 and rounded once: the mean m,
	// the scale a = gamma·inv and beta, y = (x − m)·a + beta. Centring
	// first keeps the rounding relative to the channel's spread rather
	// than to its mean (a few float32 ulps of the float64 result, which the
	// differential tests' batch norm tolerance, 1e-4, covers with room);
	// the statistics and the gradient sums stay in float64.
	f32 := func(names ...string) jen.Code {
		return jen.Var().List(idList(names)...).Index(jen.Lit(C)).Float32()
	}
	xc := jen.Parens(jen.Id("x").Index(c.Clone()).Op("-").Id("m").Index(c.Clone()))
	fn := s.base + "Forward"
	affine := jen.Id("y").Index(c.Clone()).Op("=").Add(xc.Clone()).Op("*").Id("a").Index(c.Clone()).Op("+").Id("beta").Index(c.Clone())
	affineVec, doc := sufAffineVec, fmt.Sprintf("%s computes %s in training for the first n samples of a tile: out = gamma·(in − mean)·inv + beta per channel, with the batch's mean and inv = 1/√(variance + ε).", fn, describe(s))
	if r := p.fusedReLU(s); r != nil {
		affine = jen.Id("y").Index(c.Clone()).Op("=").Max(xc.Clone().Op("*").Id("a").Index(c.Clone()).Op("+").Id("beta").Index(c.Clone()), jen.Lit(0))
		affineVec = sufAffineReLUVec
		doc += fmt.Sprintf(" Then it applies %s, max(·, 0), in the same pass: out is %s's output, and the training forward does not run %s apart.", r.layer.Name, r.layer.Name, r.layer.Name)
	}
	f.Comment(wrapDoc(doc))
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.List(jen.Id("in"), jen.Id("out")).Add(tileArr(size)),
		ch64("mean", "inv"),
		ch("gamma", "beta"),
	).Block(
		f32("m", "a"),
		forRange("c", jen.Op("&").Id("a"),
			jen.Id("m").Index(c.Clone()).Op("=").Float32().Parens(jen.Id("mean").Index(c.Clone())),
			jen.Id("a").Index(c.Clone()).Op("=").Float32().Parens(f64("gamma").Op("*").Id("inv").Index(c.Clone())),
		),
		loops(perPixel(
			row("x", "in"), row("y", "out"),
			forRange("c", jen.Id("y"), affine),
		), jen.Id(s.base+affineVec).Call(whole("out"), whole("in"), jen.Op("&").Id("m"), jen.Op("&").Id("a"), jen.Id("beta"))),
	)

	fn = s.base + "Eval"
	f.Comment(wrapDoc(fmt.Sprintf("%s computes %s in evaluation for the first n samples of a tile: out = gamma/√(runningVar + ε)·(in − runningMean) + beta per channel (ε = %g).", fn, describe(s), l.Epsilon)))
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.List(jen.Id("in"), jen.Id("out")).Add(tileArr(size)),
		ch("runningMean", "runningVar", "gamma", "beta"),
	).Block(
		jen.Var().Id("a").Index(jen.Lit(C)).Float32(),
		forRange("c", jen.Op("&").Id("a"),
			jen.Id("a").Index(c.Clone()).Op("=").Float32().Parens(f64("gamma").Op("/").Qual("math", "Sqrt").Call(f64("runningVar").Op("+").Lit(l.Epsilon))),
		),
		loops(perPixel(
			row("x", "in"), row("y", "out"),
			forRange("c", jen.Id("y"), jen.Id("y").Index(c.Clone()).Op("=").Parens(jen.Id("x").Index(c.Clone()).Op("-").Id("runningMean").Index(c.Clone())).Op("*").Id("a").Index(c.Clone()).Op("+").Id("beta").Index(c.Clone())),
		), jen.Id(s.base+sufAffineVec).Call(whole("out"), whole("in"), jen.Id("runningMean"), jen.Op("&").Id("a"), jen.Id("beta"))),
	)

	fn = s.base + "Moments"
	f.Comment(wrapDoc(fmt.Sprintf("%s adds to sum and sumSq the per-channel Σx and Σx² of %s's input over the first n samples of a tile, in float64.", fn, l.Name)))
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.Id("in").Add(tileArr(size)),
		ch64("sum", "sumSq"),
	).Block(loops(perPixel(
		row("x", "in"),
		forRange("c", jen.Id("x"),
			jen.Id("v").Op(":=").Add(f64("x")),
			jen.Id("sum").Index(c.Clone()).Op("+=").Id("v"),
			jen.Id("sumSq").Index(c.Clone()).Op("+=").Id("v").Op("*").Id("v"),
		),
	), jen.Id(s.base+sufMomentsVec).Call(whole("in"), jen.Id("sum"), jen.Id("sumSq"))))

	fn = s.base + "Sums"
	f.Comment(wrapDoc(fmt.Sprintf("%s adds to sumDy and sumDyX the per-channel Σdy and Σdy·x of %s over the first n samples of a tile, in float64 (each product of two float32 values exact); reduce turns them into Σdy·x̂ = (Σdy·x − mean·Σdy)·inv.", fn, l.Name)))
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.List(jen.Id("in"), jen.Id("dOut")).Add(tileArr(size)),
		ch64("sumDy", "sumDyX"),
	).Block(loops(perPixel(
		row("x", "in"), row("d", "dOut"),
		forRange("c", jen.Id("d"),
			jen.Id("dy").Op(":=").Add(f64("d")),
			jen.Id("sumDy").Index(c.Clone()).Op("+=").Id("dy"),
			jen.Id("sumDyX").Index(c.Clone()).Op("+=").Id("dy").Op("*").Add(f64("x")),
		),
	), jen.Id(s.base+sufSumsVec).Call(whole("in"), whole("dOut"), jen.Id("sumDy"), jen.Id("sumDyX"))))

	if !s.inGrad {
		return
	}
	fn = s.base + "Backward"
	f.Comment(wrapDoc(fmt.Sprintf("%s writes to dIn the gradient of %s's input in training for the first n samples of a tile: dIn = gamma·inv·(dOut − Σdy/m − x̂·Σdy·x̂/m), with the batch's sums over its m = batch·pixels values per channel (invCount = 1/m).", fn, describe(s))))
	f.Func().Id(fn).Params(
		jen.Id("n").Int(),
		jen.List(jen.Id("in"), jen.Id("dOut"), jen.Id("dIn")).Add(tileArr(size)),
		ch64("mean", "inv", "sumDy", "sumDyXhat"),
		jen.Id("invCount").Float64(),
		ch("gamma"),
	).Block(
		// dIn = k·dOut + u·(in − mean) + v per channel, in float32:
		// k = gamma·inv, u = −k·inv·Σdy·x̂/m, v = −k·Σdy/m.
		f32("m", "k", "u", "v"),
		forRange("c", jen.Op("&").Id("k"),
			jen.Id("kc").Op(":=").Add(f64("gamma")).Op("*").Id("inv").Index(c.Clone()),
			jen.Id("m").Index(c.Clone()).Op("=").Float32().Parens(jen.Id("mean").Index(c.Clone())),
			jen.Id("k").Index(c.Clone()).Op("=").Float32().Parens(jen.Id("kc")),
			jen.Id("u").Index(c.Clone()).Op("=").Float32().Parens(jen.Op("-").Id("kc").Op("*").Id("inv").Index(c.Clone()).Op("*").Id("invCount").Op("*").Id("sumDyXhat").Index(c.Clone())),
			jen.Id("v").Index(c.Clone()).Op("=").Float32().Parens(jen.Op("-").Id("kc").Op("*").Id("invCount").Op("*").Id("sumDy").Index(c.Clone())),
		),
		loops(perPixel(
			row("x", "in"), row("d", "dOut"), row("dx", "dIn"),
			forRange("c", jen.Id("dx"),
				jen.Id("dx").Index(c.Clone()).Op("=").Id("k").Index(c.Clone()).Op("*").Id("d").Index(c.Clone()).Op("+").Id("u").Index(c.Clone()).Op("*").Add(xc.Clone()).Op("+").Id("v").Index(c.Clone()),
			),
		), jen.Id(s.base+sufBNBackwardVec).Call(whole("dIn"), whole("dOut"), whole("in"), jen.Op("&").Id("k"), jen.Op("&").Id("u"), jen.Op("&").Id("v"), jen.Op("&").Id("m"))),
	)
}

// idList is the identifiers names as jen.Code.
func idList(names []string) []jen.Code {
	out := make([]jen.Code, len(names))
	for i, n := range names {
		out[i] = jen.Id(n)
	}
	return out
}

// bufferFields are the parameters struct's fields of the batch norm
// buffers (running statistics and batch counters).
func (p *plan) bufferFields() []jen.Code {
	var fields []jen.Code
	for _, s := range p.batchnorms() {
		C, _ := bnGeometry(s)
		fields = append(fields,
			jen.Comment(wrapDoc(fmt.Sprintf("%sRunningMean, %sRunningVar and %sBatches are the buffers of %s: running mean, running (unbiased) variance and the number of training batches seen; unused in gradients.", s.base, s.base, s.base, s.layer.Name))),
			jen.List(jen.Id(s.base+"RunningMean"), jen.Id(s.base+"RunningVar")).Add(floatArr(C)),
			jen.Id(s.base+"Batches").Int64())
	}
	return fields
}

// resetBuffers returns the statements that set the buffers of params (an
// expression such as m.params) to their initial values: mean 0, variance
// 1, no batches.
func (p *plan) resetBuffers(params func() *jen.Statement) []jen.Code {
	var code []jen.Code
	for _, s := range p.batchnorms() {
		C, _ := bnGeometry(s)
		code = append(code,
			params().Dot(s.base+"RunningMean").Op("=").Add(floatArr(C)).Values(),
			forRange("c", jen.Op("&").Add(params()).Dot(s.base+"RunningVar"), params().Dot(s.base+"RunningVar").Index(jen.Id("c")).Op("=").Lit(1)),
			params().Dot(s.base+"Batches").Op("=").Lit(0),
		)
	}
	return code
}

// buffersMethod emits Model.Buffers and the list it returns.
func (p *plan) buffersMethod(f *jen.File) {
	var list []jen.Code
	for _, s := range p.batchnorms() {
		C, _ := bnGeometry(s)
		name := s.layer.Name
		for _, b := range []struct{ suffix, field string }{{"running_mean", "RunningMean"}, {"running_var", "RunningVar"}} {
			list = append(list, jen.Line().Values(
				field("Name", jen.Lit(name+"."+b.suffix)), field("Layer", jen.Lit(name)),
				field("Shape", jen.Index().Int().Values(jen.Lit(C))),
				field("Value", jen.Id("m").Dot("params").Dot(s.base+b.field).Index(jen.Empty(), jen.Empty()))))
		}
		list = append(list, jen.Line().Values(
			field("Name", jen.Lit(name+".num_batches_tracked")), field("Layer", jen.Lit(name)),
			field("Count", jen.Op("&").Id("m").Dot("params").Dot(s.base+"Batches"))))
	}
	list = append(list, jen.Line())
	f.Comment(wrapDoc("Buffers lists the batch norm buffers per layer in network order (running_mean, running_var, num_batches_tracked); the values alias the model. It implements runtime.Stateful."))
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Buffers").Params().Index().Add(rt("Buffer")).Block(
		jen.Return(jen.Index().Add(rt("Buffer")).Values(list...)),
	)
	f.Var().Id("_").Add(rt("Stateful")).Op("=").Parens(jen.Op("*").Id("Model")).Parens(jen.Nil())
}

// statsType emits the Model's batch statistics (stats) and a worker's
// partial sums (sums) of the layer-major training pass.
func (p *plan) statsTypes(f *jen.File) {
	var st, sums []jen.Code
	for _, s := range p.batchnorms() {
		C, _ := bnGeometry(s)
		st = append(st,
			jen.Comment(wrapDoc(fmt.Sprintf("%sMean and %sInvStd are the batch's mean and 1/√(variance + ε) of %s's input; %sSumDy and %sSumDyXhat the batch's sums of dy and dy·x̂; %sInvCount is 1/(batch·pixels).", s.base, s.base, s.layer.Name, s.base, s.base, s.base))),
			jen.List(jen.Id(s.base+"Mean"), jen.Id(s.base+"InvStd"), jen.Id(s.base+"SumDy"), jen.Id(s.base+"SumDyXhat")).Index(jen.Lit(C)).Float64(),
			jen.Id(s.base+"InvCount").Float64())
		sums = append(sums,
			jen.Comment(wrapDoc(fmt.Sprintf("%sSum and %sSumSq are the shard's Σx and Σx² of %s's input in a forward phase, Σdy and Σdy·x in a backward one.", s.base, s.base, s.layer.Name))),
			jen.List(jen.Id(s.base+"Sum"), jen.Id(s.base+"SumSq")).Index(jen.Lit(C)).Float64())
	}
	f.Comment(wrapDoc("stats holds the batch statistics of the batch norm layers during a layer-major Backward: set by the caller between phases, read by every worker."))
	f.Type().Id("stats").Struct(st...)
	f.Comment(wrapDoc("sums holds a worker's per-channel sums of one phase of a layer-major Backward, which the caller adds in worker order."))
	f.Type().Id("sums").Struct(sums...)
}

// layerMajorPhases is the number of phases of a layer-major Backward: one
// forward phase per batchnorm, one for the last segment and the loss, one
// backward phase per batchnorm.
func (p *plan) layerMajorPhases() int { return 2*len(p.batchnorms()) + 1 }

// reduceMethod emits Model.reduce, the caller's work after each phase of a
// layer-major Backward: the worker sums added in worker order, turned into
// the batch statistics (forward phases; with the running statistics'
// update) or the batch means of dy and dy·x̂ and the gradients of γ and β
// (backward phases).
func (p *plan) reduceMethod(f *jen.File) {
	bns := p.batchnorms()
	K := len(bns)
	var cases []jen.Code
	gather := func(s *stage) []jen.Code {
		C, _ := bnGeometry(s)
		return []jen.Code{
			jen.Var().List(jen.Id("a"), jen.Id("b")).Index(jen.Lit(C)).Float64(),
			jen.For(jen.List(jen.Id("_"), jen.Id("w")).Op(":=").Range().Id("m").Dot("workers").Index(jen.Empty(), jen.Id("used"))).Block(
				forRange("c", jen.Op("&").Id("a"),
					jen.Id("a").Index(jen.Id("c")).Op("+=").Id("w").Dot("sums").Dot(s.base+"Sum").Index(jen.Id("c")),
					jen.Id("b").Index(jen.Id("c")).Op("+=").Id("w").Dot("sums").Dot(s.base+"SumSq").Index(jen.Id("c")),
				),
			),
		}
	}
	for i, s := range bns {
		_, P := bnGeometry(s)
		mom := s.layer.Momentum
		ps := func(name string) *jen.Statement {
			return jen.Id("m").Dot("params").Dot(s.base + name).Index(jen.Id("c"))
		}
		body := gather(s)
		body = append(body,
			jen.Id("count").Op(":=").Float64().Parens(jen.Id("n").Op("*").Lit(P)),
			forRange("c", jen.Op("&").Id("a"),
				jen.Id("mean").Op(":=").Id("a").Index(jen.Id("c")).Op("/").Id("count"),
				jen.Comment("The biased variance normalises; the unbiased one enters the running variance, as in PyTorch."),
				jen.Id("v").Op(":=").Max(jen.Id("b").Index(jen.Id("c")).Op("/").Id("count").Op("-").Id("mean").Op("*").Id("mean"), jen.Lit(0.0)),
				jen.Id("unbiased").Op(":=").Id("v"),
				jen.If(jen.Id("count").Op(">").Lit(1)).Block(jen.Id("unbiased").Op("=").Id("v").Op("*").Id("count").Op("/").Parens(jen.Id("count").Op("-").Lit(1))),
				jen.Id("m").Dot("stats").Dot(s.base+"Mean").Index(jen.Id("c")).Op("=").Id("mean"),
				jen.Id("m").Dot("stats").Dot(s.base+"InvStd").Index(jen.Id("c")).Op("=").Lit(1).Op("/").Qual("math", "Sqrt").Call(jen.Id("v").Op("+").Lit(s.layer.Epsilon)),
				ps("RunningMean").Op("=").Float32().Parens(jen.Lit(1-mom).Op("*").Float64().Parens(ps("RunningMean")).Op("+").Lit(mom).Op("*").Id("mean")),
				ps("RunningVar").Op("=").Float32().Parens(jen.Lit(1-mom).Op("*").Float64().Parens(ps("RunningVar")).Op("+").Lit(mom).Op("*").Id("unbiased")),
			),
			jen.Id("m").Dot("params").Dot(s.base+"Batches").Op("++"),
		)
		cases = append(cases, jen.Case(jen.Lit(i)).Block(body...))
	}
	for i, s := range bns {
		// The sums of batchnorm i are complete after phase K (i = K−1)
		// or K+1+(K−1−(i+1)) = 2K−1−i.
		phase := 2*K - 1 - i
		_, P := bnGeometry(s)
		body := gather(s)
		body = append(body,
			jen.Id("count").Op(":=").Float64().Parens(jen.Id("n").Op("*").Lit(P)),
			jen.Comment("b holds Σdy·x: Σdy·x̂ = (Σdy·x − mean·Σdy)·inv."),
			forRange("c", jen.Op("&").Id("b"),
				jen.Id("b").Index(jen.Id("c")).Op("=").Parens(jen.Id("b").Index(jen.Id("c")).Op("-").Id("m").Dot("stats").Dot(s.base+"Mean").Index(jen.Id("c")).Op("*").Id("a").Index(jen.Id("c"))).Op("*").Id("m").Dot("stats").Dot(s.base+"InvStd").Index(jen.Id("c")),
			),
			jen.List(jen.Id("m").Dot("stats").Dot(s.base+"SumDy"), jen.Id("m").Dot("stats").Dot(s.base+"SumDyXhat")).Op("=").List(jen.Id("a"), jen.Id("b")),
			jen.Id("m").Dot("stats").Dot(s.base+"InvCount").Op("=").Lit(1).Op("/").Id("count"),
			forRange("c", jen.Op("&").Id("a"),
				jen.Id("m").Dot("grads").Dot(p.params[s.weight]).Index(jen.Id("c")).Op("=").Float32().Parens(jen.Id("b").Index(jen.Id("c"))),
				jen.Id("m").Dot("grads").Dot(p.params[s.bias]).Index(jen.Id("c")).Op("=").Float32().Parens(jen.Id("a").Index(jen.Id("c"))),
			),
		)
		cases = append(cases, jen.Case(jen.Lit(phase)).Block(body...))
	}
	f.Comment(wrapDoc("reduce adds the sums of workers [0, used) in worker order after phase of a layer-major Backward on n samples, and sets the batch statistics, running statistics and batch norm gradients that depend on them."))
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("reduce").Params(jen.List(jen.Id("phase"), jen.Id("used"), jen.Id("n")).Int()).Block(
		jen.Switch(jen.Id("phase")).Block(cases...),
	)
}

// Freeze rewrites a network with batch norm or dropout for inference:
// dropout disappears (its consumers read its input), and a batchnorm fed
// only by a conv or dense stage without a fused activation is folded into
// it: with s = γ/√(running_var + ε) per channel, Freeze scales the weights
// of output channel c by s[c] and sets the bias to (b − running_mean)·s + β,
// or, for a layer without a bias, keeps that shift in Frozen.shift, which
// the frozen forward adds in place. Other batchnorms run their evaluation
// kernel.

// rewritesFrozen reports whether Frozen runs a forward of its own (see
// above) rather than the Model's.
func (p *plan) rewritesFrozen() bool { return p.hasBN() || p.hasDropout() }

// foldInto returns the conv or dense stage that Freeze folds batchnorm s
// into, or nil.
func (p *plan) foldInto(s *stage) *stage {
	prod := s.in.producer
	if s.layer.Kind != runtime.BatchNorm || prod == nil || prod.act != "" || p.singleConsumer(s.in) != s {
		return nil
	}
	if prod.layer.Kind != runtime.Conv2D && prod.layer.Kind != runtime.Dense {
		return nil
	}
	return prod
}

// frozenAlias maps the output buffer of each stage that the frozen forward
// leaves out (dropout, folded batchnorm) or applies in place (see
// frozenInPlace) to the buffer that holds its value.
func (p *plan) frozenAlias() map[*buffer]*buffer {
	alias, _ := p.frozenRewrite()
	return alias
}

// frozenInPlace returns the activation stages that the frozen forward
// applies in place, on the buffer of their input: those whose input, once
// the folded batch norms and the dropouts are left out, is read by no
// other stage and is neither the network's input nor its output. In a
// MobileNet or a DS-CNN that is every ReLU: with its batch norm folded,
// each convolution feeds its ReLU alone, which then neither copies the
// map nor takes a buffer of its own.
func (p *plan) frozenInPlace() map[*stage]bool {
	_, inPlace := p.frozenRewrite()
	return inPlace
}

// frozenRewrite computes frozenAlias and frozenInPlace.
func (p *plan) frozenRewrite() (map[*buffer]*buffer, map[*stage]bool) {
	alias := map[*buffer]*buffer{}
	resolve := func(b *buffer) *buffer {
		for alias[b] != nil {
			b = alias[b]
		}
		return b
	}
	for _, s := range p.stages {
		switch {
		case s.layer.Kind == runtime.Dropout:
			alias[s.out] = resolve(s.in)
		case p.foldInto(s) != nil:
			alias[s.out] = resolve(s.in)
		}
	}
	// readers counts the stages that read each buffer in the frozen
	// forward (a folded shift adds to its producer's output in place,
	// where the producer runs, and does not count).
	readers := map[*buffer]int{}
	for _, s := range p.stages {
		if s.layer.Kind == runtime.Dropout || p.foldInto(s) != nil {
			continue
		}
		for _, b := range s.ins {
			readers[resolve(b)]++
		}
	}
	inPlace := map[*stage]bool{}
	for _, s := range p.stages {
		if !p.rewritesFrozen() {
			// Frozen runs the Model's own forward.
			break
		}
		switch s.layer.Kind {
		case runtime.ReLU, runtime.ReLU6, runtime.LeakyReLU, runtime.Sigmoid, runtime.Tanh:
		default:
			continue
		}
		in := resolve(s.in)
		if in.input || in == p.logits || s.out == p.logits || readers[in] != 1 {
			continue
		}
		inPlace[s] = true
		alias[s.out] = in
		// The activation's output is now the input's buffer: its
		// readers read that.
		readers[in] = readers[s.out]
	}
	for b := range alias {
		alias[b] = resolve(b)
	}
	return alias, inPlace
}

// sufForwardReLU names <layer>ForwardReLU (see frozenReLUs).
const sufForwardReLU = "ForwardReLU"

// frozenReLUs maps each convolution on the vector path whose output
// Frozen's forward passes to a ReLU in place (frozenInPlace) to that
// ReLU. On the vector path the frozen forward then runs the convolution
// as <layer>ForwardReLU, which applies the ReLU to each block of output
// rows (reluBlockRows) or each sample's map right after computing it,
// while it is in cache, instead of in a pass of its own over the whole
// step's maps. A convolution whose folded batch norm adds a shift (it has
// no bias) keeps the separate pass: the shift comes first.
func (p *plan) frozenReLUs() map[*stage]*stage {
	fused := map[*stage]*stage{}
	if !p.rewritesFrozen() {
		return fused
	}
	alias, inPlace := p.frozenRewrite()
	shifted := map[*stage]bool{}
	for _, s := range p.stages {
		if prod := p.foldInto(s); prod != nil && !prod.hasBias() {
			shifted[prod] = true
		}
	}
	for _, r := range p.stages {
		if !inPlace[r] || r.layer.Kind != runtime.ReLU {
			continue
		}
		in := r.in
		if a := alias[in]; a != nil {
			in = a
		}
		s := in.producer
		if s == nil || s.vec == nil || s.layer.Kind != runtime.Conv2D || s.act != "" || shifted[s] {
			continue
		}
		if s.vec.im2col || s.vec.depthwise != "" {
			fused[s] = r
		}
	}
	return fused
}

// reluBlockRows is the number of output rows that <layer>ForwardReLU's
// GEMM computes before the ReLU runs on them: about 24 KiB of outputs of
// F floats, in the L1 cache with the GEMM's operands, and a multiple of
// 48 rows so that every register block height (4, 6, 8, 12, 16) divides
// it and no rows are computed twice.
func reluBlockRows(F int) int {
	return 48 * max(1, (24<<10)/(48*4*F))
}

// reluBlocks is the body of a GEMM <layer>ForwardReLU on the rows of y
// (F floats each) and x (K floats each): gemm, a DenseForward dispatcher,
// on blocks of reluBlockRows(F) rows, each followed by reluVec on its
// outputs.
func reluBlocks(gemm string, rows jen.Code, F, K int) []jen.Code {
	block := reluBlockRows(F)
	r, m := jen.Id("r"), jen.Id("m")
	return []jen.Code{
		jen.Id("rows").Op(":=").Add(rows),
		jen.For(r.Clone().Op(":=").Lit(0), r.Clone().Op("<").Id("rows"), r.Clone().Op("+=").Lit(block)).Block(
			m.Clone().Op(":=").Min(jen.Lit(block), jen.Id("rows").Op("-").Add(r.Clone())),
			jen.Id("yb").Op(":=").Id("y").Index(r.Clone().Op("*").Lit(F), jen.Parens(r.Clone().Op("+").Add(m.Clone())).Op("*").Lit(F)),
			jen.Id(gemm).Call(jen.Id("yb"), jen.Id("x").Index(r.Clone().Op("*").Lit(K), jen.Parens(r.Clone().Op("+").Add(m.Clone())).Op("*").Lit(K)), jen.Id("w"), jen.Id("b"), m.Clone()),
			jen.Id(reluVec).Call(jen.Id("yb"), jen.Id("yb")),
		),
	}
}

// shiftFields are Frozen's shift struct fields: the folded shift of each
// batchnorm folded into a layer without a bias.
func (p *plan) shiftFields() []jen.Code {
	var fields []jen.Code
	for _, s := range p.batchnorms() {
		if prod := p.foldInto(s); prod != nil && !prod.hasBias() {
			C, _ := bnGeometry(s)
			fields = append(fields, jen.Comment(wrapDoc(fmt.Sprintf("%sShift is β − running_mean·s of %s, folded into %s, which has no bias.", s.base, s.layer.Name, prod.layer.Name))),
				jen.Id(s.base+"Shift").Add(floatArr(C)))
		}
	}
	return fields
}

// foldCode returns Freeze's statements that fold the batchnorms into the
// parameters f.params (and f.shift).
func (p *plan) foldCode() []jen.Code {
	var code []jen.Code
	for _, s := range p.batchnorms() {
		prod := p.foldInto(s)
		if prod == nil {
			continue
		}
		C, _ := bnGeometry(s)
		par := func(field string) *jen.Statement { return jen.Id("f").Dot("params").Dot(field) }
		at := func(field, i string) *jen.Statement { return jen.Float64().Parens(par(field).Index(jen.Id(i))) }
		w, gamma, beta := p.params[prod.weight], p.params[s.weight], p.params[s.bias]
		mean, vr := s.base+"RunningMean", s.base+"RunningVar"
		block := []jen.Code{
			jen.Var().Id("scale").Index(jen.Lit(C)).Float64(),
			forRange("c", jen.Op("&").Id("scale"), jen.Id("scale").Index(jen.Id("c")).Op("=").Add(at(gamma, "c")).Op("/").Qual("math", "Sqrt").Call(at(vr, "c").Op("+").Lit(s.layer.Epsilon))),
			jen.Comment("Output channel c is the fastest index of both layouts (HWIO and [in][units])."),
			forRange("i", jen.Op("&").Add(par(w)), par(w).Index(jen.Id("i")).Op("=").Float32().Parens(at(w, "i").Op("*").Id("scale").Index(jen.Id("i").Op("%").Lit(C)))),
		}
		if prod.hasBias() {
			b := p.params[prod.bias]
			block = append(block, forRange("c", jen.Op("&").Id("scale"),
				par(b).Index(jen.Id("c")).Op("=").Float32().Parens(jen.Parens(at(b, "c").Op("-").Add(at(mean, "c"))).Op("*").Id("scale").Index(jen.Id("c")).Op("+").Add(at(beta, "c")))))
		} else {
			block = append(block, forRange("c", jen.Op("&").Id("scale"),
				jen.Id("f").Dot("shift").Dot(s.base+"Shift").Index(jen.Id("c")).Op("=").Float32().Parens(at(beta, "c").Op("-").Add(at(mean, "c")).Op("*").Id("scale").Index(jen.Id("c")))))
		}
		code = append(code, jen.Comment(fmt.Sprintf("Fold %s into %s.", s.layer.Name, prod.layer.Name)), jen.Block(block...))
	}
	return code
}

// shiftKernels emits <bn>Shift for each batchnorm folded into a layer
// without a bias: the frozen forward's in-place y += shift.
func (p *plan) shiftKernels(f *jen.File) {
	for _, s := range p.batchnorms() {
		prod := p.foldInto(s)
		if prod == nil || prod.hasBias() {
			continue
		}
		C, P := bnGeometry(s)
		size := s.layer.In.Size()
		fn := s.base + "Shift"
		f.Comment(wrapDoc(fmt.Sprintf("%s adds shift per channel to y, the output of %s, in place for the first n samples of a tile: %s folded into it by Freeze.", fn, prod.layer.Name, s.layer.Name)))
		f.Func().Id(fn).Params(jen.Id("n").Int(), jen.Id("y").Add(tileArr(size)), jen.Id("shift").Add(ptrFloatArr(C))).Block(
			forUp("q", jen.Lit(0), jen.Id("n").Op("*").Lit(P),
				jen.Id("r").Op(":=").Add(arrView(C, "y", lin(0, term{C, "q"}))),
				forRange("c", jen.Id("r"), jen.Id("r").Index(jen.Id("c")).Op("+=").Id("shift").Index(jen.Id("c"))),
			),
		)
	}
}
