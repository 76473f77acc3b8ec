package emit

import (
	"fmt"
	"slices"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
	"github.com/dave/jennifer/jen"
)

// The split one-sample forward: Frozen.Logits of a network above
// Options.SplitLogitsMACs cuts each stage of its forward into parts, which the caller
// and the idle helpers it recruits claim one at a time from an atomic
// counter, with a barrier (a count of finished parts) after each stage,
// whose output the next one reads. The caller claims from the first part
// on and the helpers from the last one back, so that with two goroutines
// each computes about the same rows from stage to stage, in its own
// cache. Every part writes its own rows or
// values of the caller's tile buffers, and is computed alike whoever
// claims it.
//
// The stages that can be cut, and how:
//
//   - a convolution on the im2col path, on the vector ISAs: by output
//     rows, each part gathering its rows of the im2col matrix with the
//     Im2colInterior kernel of its height (<layer>Im2colRows<h>Vec, from
//     the padded copy of the input, which a step of its own fills by rows
//     before: splitStep) and running the GEMM on them; a pointwise one by
//     pixels, at multiples of the GEMM's row block (gemmRowBlock);
//   - a grouped (depthwise) convolution, on every path: by output rows
//     (<layer>ForwardRows, the loop of <layer>Forward over a range of rows);
//   - a standalone activation or an add: by values (<layer>ForwardPart), cut at
//     multiples of 16 so that no two parts share a cache line.
//
// A convolution whose Frozen forward applies the ReLU after it
// (frozenReLUs) applies it in each part, to the values the part has just
// computed: the ReLU is then no stage of its own (splitStages). Every
// other stage (pools, dense layers, unrolled convolutions, a one-channel
// first layer on the plane kernel, concat, batch norm shifts) is one part,
// which the first goroutine to get there runs while the others wait at
// the barrier.
//
// The helpers are the Frozen's crew (runtime.Crew), which polls for shards
// for a moment after each: the stages take microseconds, and waking a
// blocked helper for each call would take longer than several of them.

// The suffixes of the parts' kernels (see doc.go on identifiers).
const (
	sufForwardRows = "ForwardRows"
	// sufInPlace is an activation applied in place (frozenInPlace).
	sufInPlace     = "InPlace"
	sufForwardPart = "ForwardPart"
	sufIm2colRows  = "Im2colRows"
)

// maxParts is the number of parts a stage that can be cut is cut into (or
// its output rows, if fewer): enough for three workers to balance, few
// enough that each part's GEMM keeps its rows.
const maxParts = 8

// minPartValues is the fewest values an elementwise stage must have to be
// cut.
const minPartValues = 2048

// gemmRowBlock is the multiple of pixels at which a pointwise
// convolution's parts are cut: the rows of gen/asm's AVX2 GEMM block over
// two column vectors (and of AVX-512's over four, 64 filters), which
// computes a block that a part's rows do not fill once more on its last
// rows.
const gemmRowBlock = 6

// splitsOne reports whether Frozen.Logits splits one sample's forward: the
// network has more than Options.SplitLogitsMACs multiply-accumulates per
// sample (DefaultSplitLogitsMACs says why there is a floor).
func (p *plan) splitsOne() bool { return p.splitMACs > 0 && p.net.Totals().MACs > p.splitMACs }

// splitStages returns the stages of the split forward: those that
// Frozen's forward runs, without dropout, without the batch norms folded
// into their producer (except those that add a shift), and without the
// ReLUs that their convolution's parts apply to the rows they compute
// (frozenReLUs), which would each cost a barrier and a pass of their own.
func (p *plan) splitStages() []*stage {
	applied := map[*stage]bool{}
	for _, r := range p.frozenReLUs() {
		applied[r] = true
	}
	var out []*stage
	for _, s := range p.stages {
		if s.layer.Kind == runtime.Dropout || applied[s] {
			continue
		}
		if prod := p.foldInto(s); prod != nil && prod.hasBias() {
			continue
		}
		out = append(out, s)
	}
	return out
}

// partKind says how a stage of the split forward is cut.
type partKind int

const (
	whole       partKind = iota // one part
	im2colRows                  // output rows, on the vector path only
	groupedRows                 // output rows
	values                      // values of an elementwise stage
	// padCopy is a step with pad set (splitStep): input rows.
	padCopy
)

// partKindOf returns how stage s is cut.
func (p *plan) partKindOf(s *stage) partKind {
	if p.foldInto(s) != nil {
		return whole
	}
	switch s.layer.Kind {
	case runtime.Conv2D:
		switch {
		case s.groups() > 1:
			return groupedRows
		case s.vec != nil && s.vec.plane != "":
			// (Its one-channel first layer is small, and its kernel
			// reads the whole padded copy of the input.)
			return whole
		case s.vec != nil && s.vec.im2col:
			return im2colRows
		}
	case runtime.Add, runtime.ReLU, runtime.ReLU6, runtime.LeakyReLU, runtime.Sigmoid, runtime.Tanh:
		if s.out.size >= minPartValues {
			return values
		}
	}
	return whole
}

// partsOf returns the number of parts of stage s on the vector path (vec)
// or the pure-Go one.
func (p *plan) partsOf(s *stage, vec bool) int {
	switch p.partKindOf(s) {
	case im2colRows:
		switch {
		case vec && pointwise(s.layer):
			// Cut at multiples of gemmRowBlock pixels, every part
			// holding some.
			return max(1, min(s.layer.Out.Height*s.layer.Out.Width/gemmRowBlock, maxParts))
		case vec:
			return min(s.layer.Out.Height, maxParts)
		}
	case groupedRows:
		return min(s.layer.Out.Height, maxParts)
	case values:
		return maxParts
	}
	return 1
}

// rowPartHeights returns the heights, in increasing order, of the parts
// that a stage of oh output rows is cut into on the vector path
// (partsOf): one height, or two consecutive ones.
func rowPartHeights(oh int) []int {
	parts := min(oh, maxParts)
	var hs []int
	for part := range parts {
		h := (part+1)*oh/parts - part*oh/parts
		if !slices.Contains(hs, h) {
			hs = append(hs, h)
		}
	}
	slices.Sort(hs)
	return hs
}

// splitStep is one step of the split forward: stage s, or, with pad set,
// the copy of the input of s, a padded convolution on the im2col path,
// into the zero-bordered buffer from which its parts gather their rows of
// the im2col matrix (on the vector path; nothing on the pure-Go one).
type splitStep struct {
	s   *stage
	pad bool
}

// splitSteps returns the steps of the split forward, in order.
func (p *plan) splitSteps() []splitStep {
	var out []splitStep
	for _, s := range p.splitStages() {
		if p.partKindOf(s) == im2colRows && !pointwise(s.layer) && paddedOf(windowOf(s.layer)).size > 0 {
			out = append(out, splitStep{s: s, pad: true})
		}
		out = append(out, splitStep{s: s})
	}
	return out
}

// stepParts returns the number of parts of step st on the vector path
// (vec) or the pure-Go one.
func (p *plan) stepParts(st splitStep, vec bool) int {
	switch {
	case !st.pad:
		return p.partsOf(st.s, vec)
	case vec:
		return min(st.s.layer.In.Height, maxParts)
	}
	return 0
}

// partKernels emits the kernels of the stages' parts: <layer>ForwardRows,
// <layer>ForwardPart, and partSpan.
func (p *plan) partKernels(f *jen.File) {
	id := jen.Id
	hasSpans := false
	inPlace := p.frozenInPlace()
	for _, s := range p.splitStages() {
		l := s.layer
		if inPlace[s] {
			// frozenForward's <layer>InPlace serves.
			hasSpans = true
			continue
		}
		switch p.partKindOf(s) {
		case groupedRows:
			g := windowOf(l)
			F := l.Filters
			wsize := g.kh * g.kw * (g.c / s.groups()) * F
			fn := s.base + sufForwardRows
			f.Comment(wrapDoc(fmt.Sprintf("%s computes output rows [lo, hi) of %s for one sample x, as %sForward does: a part of Frozen's split one-sample forward.", fn, describe(s), s.base)))
			body := []jen.Code{groupedConvRows(s, id("lo"), id("hi"))}
			if s.act != "" {
				body = append(body,
					id("part").Op(":=").Id("y").Index(lin(0, term{g.ow * F, "lo"}), lin(0, term{g.ow * F, "hi"})),
					applyActivation(s.act, "part"))
			}
			f.Func().Id(fn).Params(
				id("x").Add(ptrFloatArr(l.In.Size())),
				id("y").Add(ptrFloatArr(l.Out.Size())),
				id("w").Add(ptrFloatArr(wsize)),
				biasParam(s, "b", F),
				jen.List(id("lo"), id("hi")).Int(),
			).Block(body...)
			if s.vec != nil && s.vec.depthwise != "" {
				p.depthwiseRowsVec(f, s)
			}
		case im2colRows:
			if pointwise(l) {
				hasSpans = true
			}
		case values:
			hasSpans = true
			fn := s.base + sufForwardPart
			if s.layer.Kind == runtime.Add {
				f.Comment(wrapDoc(fmt.Sprintf("%s computes the values out of %s from the same values of its inputs, as %sForward does: a part of Frozen's split one-sample forward.", fn, describe(s), s.base)))
				var params []jen.Code
				for k := range s.ins {
					params = append(params, id(inName(k)))
				}
				params = append(params, id("out"))
				f.Func().Id(fn).Params(jen.List(params...).Index().Float32()).Block(
					addSum(len(s.ins), func(buf string) jen.Code { return id(buf) })...,
				)
				break
			}
			f.Comment(wrapDoc(fmt.Sprintf("%s computes the values y of %s from the same values x of its input, as %sForward does: a part of Frozen's split one-sample forward.", fn, describe(s), s.base)))
			f.Func().Id(fn).Params(jen.List(id("x"), id("y")).Index().Float32()).Block(
				jen.Copy(id("y"), id("x")),
				p.standaloneActivation(s, "y"),
			)
		}
	}
	if hasSpans {
		f.Comment(wrapDoc("partSpan returns part's share [lo, hi) of size items cut into parts, at multiples of unit items: 16 values (64 bytes) for an elementwise stage, so that no two parts write the same cache line; a GEMM's row block of pixels for a pointwise convolution."))
		f.Func().Id("partSpan").Params(jen.List(id("size"), id("part"), id("parts"), id("unit")).Int()).Params(jen.List(id("lo"), id("hi")).Int()).Block(
			id("lo").Op("=").Id("part").Op("*").Id("size").Op("/").Id("parts").Op("/").Id("unit").Op("*").Id("unit"),
			id("hi").Op("=").Id("size"),
			jen.If(id("part").Op("+").Lit(1).Op("<").Id("parts")).Block(
				id("hi").Op("=").Parens(id("part").Op("+").Lit(1)).Op("*").Id("size").Op("/").Id("parts").Op("/").Id("unit").Op("*").Id("unit"),
			),
			jen.Return(id("lo"), id("hi")),
		)
	}
}

// partCode is what forwardPartMethod needs of runMethods' stage code: the
// calls that run a whole stage (as forwardFrozen does), and the buffer
// expressions on the caller's tile buffers.
type partCode struct {
	// stage returns the code that runs stage s whole on one sample, and
	// goStage that of its pure-Go path.
	stage, goStage func(s *stage) jen.Code
	// oneArr is (*[size]float32)(buf[:size]), the one sample of buffer b;
	// slice is buf, whose first size values are the sample.
	oneArr, slice func(b *buffer) *jen.Statement
	param         func(set string, i int) *jen.Statement
	vecBias       func(s *stage, set string) *jen.Statement
	// cols is s's <layer>Cols buffer, whole, as a slice.
	cols func(s *stage) *jen.Statement
}

// forwardPartMethod emits worker.forwardPart, which runs one part of one
// stage of the split forward (see oneParts) on the worker's buffers.
func (p *plan) forwardPartMethod(f *jen.File, c partCode) {
	id := jen.Id
	var cases []jen.Code
	// rows is `lo, hi :=` the part's share of h rows cut into parts.
	rows := func(h, parts int) jen.Code {
		return jen.List(id("lo"), id("hi")).Op(":=").List(
			id("part").Op("*").Lit(h).Op("/").Lit(parts),
			jen.Parens(id("part").Op("+").Lit(1)).Op("*").Lit(h).Op("/").Lit(parts))
	}
	inPlace := p.frozenInPlace()
	fusedReLU := p.frozenReLUs()
	// fused applies the ReLU that conv stage s's parts apply (splitStages),
	// if any, to its output's values [lo, hi).
	fused := func(s *stage, lo, hi jen.Code) jen.Code {
		r := fusedReLU[s]
		if r == nil {
			return jen.Null()
		}
		return id(r.base + sufInPlace).Call(c.slice(s.out).Clone().Index(lo, hi))
	}
	// fusedPart is fused on the part's items [lo, hi) of size values each.
	fusedPart := func(s *stage, size int) jen.Code {
		return fused(s, lin(0, term{size, "lo"}), lin(0, term{size, "hi"}))
	}
	for i, st := range p.splitSteps() {
		s, l := st.s, st.s.layer
		var body []jen.Code
		kind := p.partKindOf(s)
		if st.pad {
			kind = padCopy
		}
		switch kind {
		case padCopy:
			// Input rows [lo, hi) into the padded copy's interior.
			pd := paddedOf(windowOf(l))
			row := l.In.Width * l.In.Channels
			parts := p.stepParts(st, true)
			body = []jen.Code{jen.If(id("vec")).Block(
				rows(l.In.Height, parts),
				id("cols").Op(":=").Add(c.cols(s)),
				id("pad").Op(":=").Add(arrView(pd.size, "cols", jen.Lit(imPadAt(s)))),
				id("in").Op(":=").Add(c.oneArr(s.in)),
				forUp("iy", id("lo"), id("hi"), jen.Copy(pd.rowIn("pad"), id("in").Index(lin(0, term{row, "iy"}), lin(row, term{row, "iy"})))),
			)}
		case whole:
			body = []jen.Code{c.stage(s)}
		case im2colRows:
			ow, F, kkc := l.Out.Width, l.Filters, newColGeom(windowOf(l)).kkc
			// lo and hi count output rows of ow pixels, or pixels for a
			// pointwise convolution.
			span, px := rows(l.Out.Height, p.partsOf(s, true)), ow
			var gather []jen.Code
			if pointwise(l) {
				// A 1×1 convolution with stride 1 and no padding: the
				// im2col matrix is the input itself.
				span = jen.List(id("lo"), id("hi")).Op(":=").Id("partSpan").Call(jen.Lit(l.Out.Height*ow), id("part"), jen.Lit(p.partsOf(s, true)), jen.Lit(gemmRowBlock))
				px = 1
				gather = []jen.Code{id("cols").Op(":=").Add(c.slice(s.in)).Index(jen.Empty(), jen.Lit(s.in.size))}
			} else {
				// The part's rows of the im2col matrix, from the padded
				// copy (or the input itself), by a kernel of its height.
				g, pd := windowOf(l), paddedOf(windowOf(l))
				src := c.slice(s.in).Clone().Index(jen.Empty(), jen.Lit(s.in.size))
				if pd.size > 0 {
					src = id("cols").Index(jen.Lit(imPadAt(s)), jen.Lit(imPadAt(s)+pd.size))
				}
				inRow := pd.w * g.c // an input row (of the padded copy)
				call := func(h int) jen.Code {
					return id(s.vec.partRows[h]).Call(
						arrView(h*ow*kkc, "cols", lin(0, term{ow * kkc, "lo"})),
						arrView(((h-1)*g.sh+g.kh)*inRow, "src", lin(0, term{g.sh * inRow, "lo"})))
				}
				gather = []jen.Code{id("cols").Op(":=").Add(c.cols(s)), id("src").Op(":=").Add(src)}
				if hs := rowPartHeights(l.Out.Height); len(hs) == 1 {
					gather = append(gather, call(hs[0]))
				} else {
					var cases []jen.Code
					for _, h := range hs {
						cases = append(cases, jen.Case(jen.Lit(h)).Block(call(h)))
					}
					gather = append(gather, jen.Switch(id("hi").Op("-").Id("lo")).Block(cases...))
				}
			}
			pixels := id("hi").Op("-").Id("lo")
			if px > 1 {
				pixels = jen.Parens(pixels).Op("*").Lit(px)
			}
			vec := append(append([]jen.Code{span}, gather...),
				id(s.vec.forward).Call(
					c.slice(s.out).Clone().Index(lin(0, term{px * F, "lo"}), lin(0, term{px * F, "hi"})),
					id("cols").Index(lin(0, term{px * kkc, "lo"}), lin(0, term{px * kkc, "hi"})),
					c.param("p", s.weight), c.vecBias(s, "p"),
					pixels),
				fusedPart(s, px*F))
			body = []jen.Code{jen.If(id("vec")).Block(vec...).Else().Block(c.goStage(s), fused(s, jen.Empty(), jen.Lit(s.out.size)))}
		case groupedRows:
			body = []jen.Code{
				rows(l.Out.Height, p.partsOf(s, true)),
				id(s.base+sufForwardRows).Call(c.oneArr(s.in), c.oneArr(s.out), c.param("p", s.weight), biasParamArg(s, c), id("lo"), id("hi")),
			}
			if s.vec != nil && s.vec.depthwise != "" {
				body = []jen.Code{
					rows(l.Out.Height, p.partsOf(s, true)),
					jen.If(id("vec")).Block(
						id(s.base+sufForwardRows+"Vec").Call(c.oneArr(s.in), c.oneArr(s.out), c.param("p", s.weight), c.vecBias(s, "p"), id("lo"), id("hi")),
					).Else().Block(
						id(s.base+sufForwardRows).Call(c.oneArr(s.in), c.oneArr(s.out), c.param("p", s.weight), biasParamArg(s, c), id("lo"), id("hi")),
					),
				}
			}
			body = append(body, fusedPart(s, l.Out.Width*l.Filters))
		case values:
			if inPlace[s] {
				body = []jen.Code{
					jen.List(id("lo"), id("hi")).Op(":=").Id("partSpan").Call(jen.Lit(s.out.size), id("part"), jen.Lit(maxParts), jen.Lit(16)),
					id(s.base + sufInPlace).Call(c.slice(s.in).Clone().Index(id("lo"), id("hi"))),
				}
				break
			}
			args := []jen.Code{}
			for _, b := range s.ins {
				args = append(args, c.slice(b).Clone().Index(id("lo"), id("hi")))
			}
			args = append(args, c.slice(s.out).Clone().Index(id("lo"), id("hi")))
			body = []jen.Code{
				jen.List(id("lo"), id("hi")).Op(":=").Id("partSpan").Call(jen.Lit(s.out.size), id("part"), jen.Lit(maxParts), jen.Lit(16)),
				id(s.base + sufForwardPart).Call(args...),
			}
		}
		cases = append(cases, jen.Case(jen.Lit(i)).Block(body...))
	}
	params := []jen.Code{id("p").Op("*").Id("parameters")}
	if p.hasPacked() {
		params = append(params, id("pk").Op("*").Id("packed"))
	}
	if len(p.shiftFields()) > 0 {
		params = append(params, id("shift").Op("*").Id("shifts"))
	}
	params = append(params, id("vec").Bool(), jen.List(id("stage"), id("part")).Int())
	f.Comment(wrapDoc("forwardPart runs part part of step stage of Frozen's split one-sample forward on the sample in w's input tile (see oneParts for the steps' part counts). Each part writes its own rows or values of w's buffers, as the whole step would."))
	f.Func().Params(id("w").Op("*").Id("worker")).Id("forwardPart").Params(params...).Block(
		jen.Const().Id("n").Op("=").Lit(1),
		id("x").Op(":=").Op("&").Id("w").Dot("buf").Dot("x"),
		jen.Switch(id("stage")).Block(cases...),
	)
}

// biasParamArg is the bias argument of a grouped convolution's Rows call.
func biasParamArg(s *stage, c partCode) jen.Code {
	if !s.hasBias() {
		return jen.Null()
	}
	return c.param("p", s.bias)
}

// splitTypes emits oneParts and the oneSplit type that worker holds.
func (p *plan) splitTypes(f *jen.File) {
	stages := p.splitSteps()
	var goParts, vecParts []jen.Code
	for _, st := range stages {
		goParts = append(goParts, jen.Lit(p.stepParts(st, false)))
		vecParts = append(vecParts, jen.Lit(p.stepParts(st, true)))
	}
	f.Comment(wrapDoc(fmt.Sprintf("oneParts is the number of parts of each of the %d steps of Frozen's split one-sample forward (its stages, and the copies of inputs into the padded buffers of the convolutions that read them), on the pure-Go path ([0]) and on the vector paths ([1]).", len(stages))))
	f.Var().Id("oneParts").Op("=").Index(jen.Lit(2)).Index(jen.Lit(len(stages))).Int32().Values(
		jen.Line().Values(goParts...), jen.Line().Values(vecParts...), jen.Line())
	f.Comment(wrapDoc("oneSplit is the progress of a split one-sample forward on the buffers of the worker that holds it: per step, the number of parts claimed (from either end, see runParts) and of parts finished."))
	f.Type().Id("oneSplit").Struct(
		jen.List(jen.Id("claimed"), jen.Id("finished")).Index(jen.Lit(len(stages))).Qual("sync/atomic", "Int32"),
	)
}

// splitWorkerField is worker's field split, for a network whose
// Frozen.Logits splits.
func (p *plan) splitWorkerField() jen.Code {
	if !p.splitsOne() {
		return jen.Null()
	}
	return jen.Comment(wrapDoc("split is the progress of Frozen's split one-sample forward on these buffers (see Frozen.forwardOne).")).Line().Id("split").Id("oneSplit")
}

// splitMethods emits, into frozen.go, Frozen's split one-sample forward:
// oneParts, oneSplit, Frozen.forwardOne, Frozen.runParts
// and the parts' kernels.
func (p *plan) splitMethods(f *jen.File) {
	id := jen.Id
	frecv := func() *jen.Statement { return jen.Func().Params(id("f").Op("*").Id("Frozen")) }
	p.splitTypes(f)

	f.Comment(wrapDoc("forwardOne runs the sample in w's input tile through the network with the help of the idle helpers, up to Workers()−1 of them: the caller and the helpers claim the parts of each stage (oneParts) one at a time, and wait for the stage's last part before they start on the next one. It reports false, having run nothing, when no helper is idle."))
	f.Add(frecv()).Id("forwardOne").Params(id("w").Op("*").Id("worker"), id("vec").Bool()).Bool().Block(
		id("idle").Op(":=").Min(id("f").Dot("crew").Dot("Idle").Call(), id("f").Dot("workers").Op("-").Lit(1)),
		jen.If(id("idle").Op("==").Lit(0)).Block(jen.Return(jen.False())),
		id("sp").Op(":=").Op("&").Id("w").Dot("split"),
		jen.For(id("i").Op(":=").Range().Id("sp").Dot("claimed")).Block(
			id("sp").Dot("claimed").Index(id("i")).Dot("Store").Call(jen.Lit(0)),
			id("sp").Dot("finished").Index(id("i")).Dot("Store").Call(jen.Lit(0)),
		),
		id("s").Op(":=").Id("shard").Values(field("f", id("f")), field("one", id("w")), field("vec", id("vec")), field("done", jen.Op("&").Id("w").Dot("shards"))),
		id("posted").Op(":=").Lit(0),
		jen.For(jen.Range().Id("idle")).Block(
			id("w").Dot("shards").Dot("Add").Call(jen.Lit(1)),
			jen.If(jen.Op("!").Id("f").Dot("crew").Dot("Post").Call(id("s"))).Block(
				id("w").Dot("shards").Dot("Done").Call(),
				jen.Break(),
			),
			id("posted").Op("++"),
		),
		jen.If(id("posted").Op("==").Lit(0)).Block(jen.Return(jen.False())),
		id("f").Dot("runParts").Call(id("w"), id("vec"), jen.False()),
		jen.Comment("A shard that no helper took finds every part done."),
		id("f").Dot("crew").Dot("Reclaim").Call(),
		id("w").Dot("shards").Dot("Wait").Call(),
		jen.Return(jen.True()),
	)

	args := []jen.Code{jen.Op("&").Id("f").Dot("params")}
	if p.hasPacked() {
		args = append(args, jen.Op("&").Id("f").Dot("packed"))
	}
	if len(p.shiftFields()) > 0 {
		args = append(args, jen.Op("&").Id("f").Dot("shift"))
	}
	args = append(args, id("vec"), id("stage"), jen.Int().Call(id("part")))
	f.Comment(wrapDoc("runParts is one goroutine's share of a split one-sample forward on w's buffers: step by step, it claims parts and runs them until none is left, then waits until the others have finished theirs, since the next step reads the step's whole output. The caller claims parts from the first on, the helpers (back) from the last one back, so that each goroutine computes about the same rows from one step to the next, which its cache holds, rather than rows another core has just written. The low and high 16 bits of claimed count the parts claimed from either end."))
	f.Add(frecv()).Id("runParts").Params(id("w").Op("*").Id("worker"), jen.List(id("vec"), id("back")).Bool()).Block(
		id("parts").Op(":=").Op("&").Id("oneParts").Index(jen.Lit(0)),
		jen.If(id("vec")).Block(id("parts").Op("=").Op("&").Id("oneParts").Index(jen.Lit(1))),
		id("sp").Op(":=").Op("&").Id("w").Dot("split"),
		id("claim").Op(":=").Int32().Call(jen.Lit(1)),
		jen.If(id("back")).Block(id("claim").Op("=").Lit(1).Op("<<").Lit(16)),
		jen.For(jen.List(id("stage"), id("count")).Op(":=").Range().Id("parts")).Block(
			jen.For().Block(
				id("c").Op(":=").Id("sp").Dot("claimed").Index(id("stage")).Dot("Add").Call(id("claim")),
				jen.List(id("front"), id("fromBack")).Op(":=").List(id("c").Op("&").Id("0xffff"), id("c").Op(">>").Lit(16)),
				jen.If(id("front").Op("+").Id("fromBack").Op(">").Id("count")).Block(jen.Break()),
				id("part").Op(":=").Id("front").Op("-").Lit(1),
				jen.If(id("back")).Block(id("part").Op("=").Id("count").Op("-").Id("fromBack")),
				id("w").Dot("forwardPart").Call(args...),
				id("sp").Dot("finished").Index(id("stage")).Dot("Add").Call(jen.Lit(1)),
			),
			jen.Comment("A stage's parts take microseconds: spin rather than sleep, yielding now and then to the other goroutines."),
			jen.For(id("spin").Op(":=").Lit(1), id("sp").Dot("finished").Index(id("stage")).Dot("Load").Call().Op("<").Id("count"), id("spin").Op("++")).Block(
				jen.If(id("spin").Op("%").Lit(256).Op("==").Lit(0)).Block(jen.Qual("runtime", "Gosched").Call()),
			),
		),
	)
	f.Comment(wrapDoc("splits reports whether Logits splits the sample's forward: when that has been faster than running it alone (the averages of both follow the machine's load: on a machine busy with other work, a barrier waits for a worker that the OS has not scheduled), and, every 16th call, the other way, so that both averages stay current."))
	f.Add(frecv()).Id("splits").Params().Bool().Block(
		jen.If(id("f").Dot("workers").Op("==").Lit(1)).Block(jen.Return(jen.False())),
		jen.List(id("a"), id("s")).Op(":=").List(id("f").Dot("alone").Dot("Load").Call(), id("f").Dot("split").Dot("Load").Call()),
		id("faster").Op(":=").Id("s").Op("==").Lit(0).Op("||").Id("a").Op("!=").Lit(0).Op("&&").Id("s").Op("<").Id("a"),
		jen.Return(id("faster").Op("!=").Parens(id("f").Dot("calls").Dot("Add").Call(jen.Lit(1)).Op("%").Lit(16).Op("==").Lit(0))),
	)
	f.Comment(wrapDoc("record adds the time since start to the moving average avg (weight 1/8), counting at most twice the average: a call that the OS delayed (a helper descheduled while the others wait at a barrier) must not swing the choice for the many calls until the other way is timed again."))
	f.Func().Id("record").Params(id("avg").Op("*").Qual("sync/atomic", "Int64"), id("start").Qual("time", "Time")).Block(
		id("ns").Op(":=").Int64().Call(jen.Qual("time", "Since").Call(id("start"))),
		jen.If(id("old").Op(":=").Id("avg").Dot("Load").Call(), id("old").Op("!=").Lit(0)).Block(
			id("ns").Op("=").Id("old").Op("+").Parens(jen.Min(id("ns"), jen.Lit(2).Op("*").Id("old")).Op("-").Id("old")).Op("/").Lit(8),
		),
		id("avg").Dot("Store").Call(jen.Max(id("ns"), jen.Lit(1))),
	)
	p.partKernels(f)
}

// pointwise reports whether conv layer l is 1×1 with stride 1 and no
// padding, so that its im2col matrix is its input.
func pointwise(l *ir.Layer) bool {
	return l.KernelH == 1 && l.KernelW == 1 && l.StrideH == 1 && l.StrideW == 1 && l.PadTop == 0 && l.PadLeft == 0
}
