package emit

import (
	"fmt"
	"regexp"

	"github.com/dave/jennifer/jen"
)

// tileMajorRun emits Model.run for a network without batch norm: every
// job runs tile by tile through all the layers.
func (p *plan) tileMajorRun(f *jen.File) {
	id := jen.Id
	recv := func() *jen.Statement { return jen.Func().Params(jen.Id("m").Op("*").Id("Model")) }
	f.Comment(wrapDoc("run splits the n samples of job j into even shards, one per worker but at most one per tile, runs shard 0 on worker 0 and the others on their workers' goroutines, and then, for a backward job, adds the workers' gradients, losses and counts in worker order."))
	f.Add(recv()).Id("run").Params(id("j").Id("job"), id("n").Int()).Params(id("loss").Float64(), id("correct").Int()).Block(
		id("tiles").Op(":=").Parens(id("n").Op("+").Id("Tile").Op("-").Lit(1)).Op("/").Id("Tile"),
		id("used").Op(":=").Max(jen.Lit(1), jen.Min(jen.Len(id("m").Dot("workers")), id("tiles"))),
		jen.Comment("Worker i takes samples [i·n/used, (i+1)·n/used): shards of whole tiles would leave a worker idle for up to a tile (64 samples in tiles of 24: 24 and 40)."),
		id("bound").Op(":=").Func().Params(id("i").Int()).Int().Block(jen.Return(id("i").Op("*").Id("n").Op("/").Id("used"))),
		forUp("i", jen.Lit(1), id("used"),
			jen.List(id("j").Dot("lo"), id("j").Dot("hi")).Op("=").List(id("bound").Call(id("i")), id("bound").Call(id("i").Op("+").Lit(1))),
			id("m").Dot("workers").Index(id("i")).Dot("jobs").Op("<-").Id("j"),
		),
		jen.List(id("j").Dot("lo"), id("j").Dot("hi")).Op("=").List(jen.Lit(0), id("bound").Call(jen.Lit(1))),
		id("w0").Op(":=").Id("m").Dot("workers").Index(jen.Lit(0)),
		jen.If(id("j").Dot("backward")).Block(
			jen.List(id("loss"), id("correct")).Op("=").Id("w0").Dot("backwardTiles").Call(id("j")),
		).Else().Block(
			id("w0").Dot("forwardTiles").Call(id("j")),
		),
		forUp("i", jen.Lit(1), id("used"),
			id("w").Op(":=").Id("m").Dot("workers").Index(id("i")),
			jen.Op("<-").Id("w").Dot("done"),
			jen.If(id("j").Dot("backward")).Block(
				id("m").Dot("grads").Dot("add").Call(id("w").Dot("grads")),
				id("loss").Op("+=").Id("w").Dot("loss"),
				id("correct").Op("+=").Id("w").Dot("correct"),
			),
		),
		jen.Return(id("loss"), id("correct")),
	)
}

// layerMajorRun emits Model.run for a network with batch norm: forward jobs
// run tile-major (evaluation mode), backward jobs in the phases of
// layerMajor, with the caller's reduce between them.
func (p *plan) layerMajorRun(f *jen.File) {
	id := jen.Id
	f.Comment(wrapDoc(fmt.Sprintf("layerMajorPhases is the number of phases of a training pass (see run): %d batch norm layers, each a forward and a backward phase, and one for the last segment and the loss.", len(p.batchnorms()))))
	f.Const().Id("layerMajorPhases").Op("=").Lit(p.layerMajorPhases())
	f.Comment(wrapDoc("run splits the n samples of job j into even shards, one per worker but at most one per tile, and runs shard 0 on worker 0 and the others on their workers' goroutines. A backward job runs in layerMajorPhases phases: after each, the caller adds the workers' batch norm sums in worker order (reduce), so that every worker normalises with the statistics of the whole batch; at the end it adds the workers' gradients, losses and counts in worker order."))
	f.Func().Params(id("m").Op("*").Id("Model")).Id("run").Params(id("j").Id("job"), id("n").Int()).Params(id("loss").Float64(), id("correct").Int()).Block(
		id("tiles").Op(":=").Parens(id("n").Op("+").Id("Tile").Op("-").Lit(1)).Op("/").Id("Tile"),
		id("used").Op(":=").Max(jen.Lit(1), jen.Min(jen.Len(id("m").Dot("workers")), id("tiles"))),
		jen.Comment("Worker i takes samples [i·n/used, (i+1)·n/used): shards of whole tiles would leave a worker idle for up to a tile (64 samples in tiles of 24: 24 and 40)."),
		id("bound").Op(":=").Func().Params(id("i").Int()).Int().Block(jen.Return(id("i").Op("*").Id("n").Op("/").Id("used"))),
		id("phases").Op(":=").Lit(1),
		jen.If(id("j").Dot("backward")).Block(id("phases").Op("=").Id("layerMajorPhases")),
		forUp("phase", jen.Lit(0), id("phases"),
			id("j").Dot("phase").Op("=").Id("phase"),
			forUp("i", jen.Lit(1), id("used"),
				jen.List(id("j").Dot("lo"), id("j").Dot("hi")).Op("=").List(id("bound").Call(id("i")), id("bound").Call(id("i").Op("+").Lit(1))),
				id("m").Dot("workers").Index(id("i")).Dot("jobs").Op("<-").Id("j"),
			),
			jen.List(id("j").Dot("lo"), id("j").Dot("hi")).Op("=").List(jen.Lit(0), id("bound").Call(jen.Lit(1))),
			id("w0").Op(":=").Id("m").Dot("workers").Index(jen.Lit(0)),
			jen.If(id("j").Dot("backward")).Block(
				jen.List(id("l"), id("c")).Op(":=").Id("w0").Dot("backwardTiles").Call(id("j")),
				id("loss").Op("+=").Id("l"),
				id("correct").Op("+=").Id("c"),
			).Else().Block(
				id("w0").Dot("forwardTiles").Call(id("j")),
			),
			forUp("i", jen.Lit(1), id("used"),
				id("w").Op(":=").Id("m").Dot("workers").Index(id("i")),
				jen.Op("<-").Id("w").Dot("done"),
				jen.If(id("j").Dot("backward")).Block(
					id("loss").Op("+=").Id("w").Dot("loss"),
					id("correct").Op("+=").Id("w").Dot("correct"),
				),
			),
			jen.If(id("j").Dot("backward")).Block(id("m").Dot("reduce").Call(id("phase"), id("used"), id("n"))),
		),
		jen.If(id("j").Dot("backward")).Block(
			forUp("i", jen.Lit(1), id("used"), id("m").Dot("grads").Dot("add").Call(id("m").Dot("workers").Index(id("i")).Dot("grads"))),
		),
		jen.Return(id("loss"), id("correct")),
	)
}

// layerMajorWorkerFields are a worker's fields for the layer-major phases
// (its shard's tile buffers and its partial sums), or nothing.
func (p *plan) layerMajorWorkerFields() jen.Code {
	if !p.hasBN() {
		return jen.Null()
	}
	return jen.Comment(wrapDoc("tiles holds the tile buffers of the worker's whole shard in a training pass, grown to the largest shard seen; sums its partial sums of one phase.")).Line().
		Id("tiles").Index().Op("*").Id("tileBuffers").Line().
		Id("sums").Id("sums")
}

// phaseField is the job's phase field of a network with batch norm.
func (p *plan) phaseField() jen.Code {
	if !p.hasBN() {
		return jen.Null()
	}
	return jen.Comment("phase is the phase of a layer-major backward job.").Line().Id("phase").Int()
}

// layerMajorCode is the stage code that runMethods builds, on the tile
// buffers b of the layer-major phases.
type layerMajorCode struct {
	// forward and backward are a stage's calls, with the choice between
	// the vector and the Go kernels.
	forward  func(*stage) jen.Code
	backward func(*stage) []jen.Code
	inArr    func(*buffer) *jen.Statement
	gradArr  func(*buffer) *jen.Statement
	// inGradArr is where a stage writes the gradient of its input k;
	// addPartials adds the shares written to Partial buffers.
	inGradArr   func(*stage, int) *jen.Statement
	addPartials func(*stage) []jen.Code
	// loss is the loss of the n samples of tile b.
	loss jen.Code
}

// layerMajor emits the backwardTiles of a network with batch norm: the work
// of one phase (job.phase) on the worker's shard, tile by tile on the
// buffers w.tiles (see the comment at the top of batchnorm.go).
func (p *plan) layerMajor(f *jen.File, c layerMajorCode) {
	id := jen.Id
	bns := p.batchnorms()
	K := len(bns)
	// Segment i runs stages [start[i], start[i+1]); segment i ≥ 1 starts
	// with batchnorm i−1.
	start := []int{0}
	for _, bn := range bns {
		for i, s := range p.stages {
			if s == bn {
				start = append(start, i)
			}
		}
	}
	start = append(start, len(p.stages))
	segment := func(i int) []*stage { return p.stages[start[i]:start[i+1]] }
	st := func(name string) *jen.Statement { return jen.Op("&").Id("st").Dot(name) }
	moments := func(bn *stage) jen.Code {
		return id(bn.base+"Moments").Call(id("n"), c.inArr(bn.in), jen.Op("&").Id("w").Dot("sums").Dot(bn.base+"Sum"), jen.Op("&").Id("w").Dot("sums").Dot(bn.base+"SumSq"))
	}
	sums := func(bn *stage) jen.Code {
		return id(bn.base+"Sums").Call(id("n"), c.inArr(bn.in), c.gradArr(bn.out),
			jen.Op("&").Id("w").Dot("sums").Dot(bn.base+"Sum"), jen.Op("&").Id("w").Dot("sums").Dot(bn.base+"SumSq"))
	}
	inputGrad := func(bn *stage) []jen.Code {
		if !bn.inGrad {
			return nil
		}
		return append([]jen.Code{id(bn.base+"Backward").Call(id("n"), c.inArr(bn.in), c.gradArr(bn.out), c.inGradArr(bn, 0),
			st(bn.base+"Mean"), st(bn.base+"InvStd"), st(bn.base+"SumDy"), st(bn.base+"SumDyXhat"), id("st").Dot(bn.base+"InvCount"), jen.Op("&").Id("p").Dot(p.params[bn.weight]))},
			c.addPartials(bn)...)
	}
	forwardSeg := func(i int) []jen.Code {
		var code []jen.Code
		for _, s := range segment(i) {
			code = append(code, c.forward(s))
		}
		return code
	}
	// backwardSeg runs segment i backward; its batchnorm (i ≥ 1) only sums.
	backwardSeg := func(i int) []jen.Code {
		var code []jen.Code
		seg := segment(i)
		for k := len(seg) - 1; k >= 0; k-- {
			s := seg[k]
			if i >= 1 && k == 0 {
				code = append(code, sums(s))
				continue
			}
			if s.backward {
				code = append(code, c.backward(s)...)
			}
		}
		return code
	}
	load := jen.Copy(id("b").Dot("x").Index(jen.Empty(), id("n").Op("*").Id("InputSize")),
		id("j").Dot("x").Index(id("off").Op("*").Id("InputSize"), jen.Parens(id("off").Op("+").Id("n")).Op("*").Id("InputSize")))
	var phases [][]jen.Code
	for i := 0; i < K; i++ {
		var body []jen.Code
		if i == 0 {
			body = append(body, load)
		}
		body = append(body, forwardSeg(i)...)
		phases = append(phases, append(body, moments(bns[i])))
	}
	{
		body := forwardSeg(K)
		body = append(body, c.loss)
		phases = append(phases, append(body, backwardSeg(K)...))
	}
	for i := K - 1; i >= 0; i-- {
		phases = append(phases, append(inputGrad(bns[i]), backwardSeg(i)...))
	}
	var cases []jen.Code
	var all []jen.Code
	for ph, body := range phases {
		if len(body) == 0 {
			continue
		}
		pre := []jen.Code{
			id("off").Op(":=").Id("j").Dot("lo").Op("+").Id("i").Op("*").Id("Tile"),
			id("n").Op(":=").Min(id("Tile"), id("j").Dot("hi").Op("-").Id("off")),
			id("b").Op(":=").Id("w").Dot("tiles").Index(id("i")),
		}
		if mentions(body, "x") {
			pre = append(pre, id("x").Op(":=").Op("&").Id("b").Dot("x"))
		}
		if mentions(body, "tr") {
			pre = append(pre, id("tr").Dot("off").Op("=").Id("off"))
		}
		loop := jen.For(id("i").Op(":=").Range().Id("count")).Block(append(pre, body...)...)
		cases = append(cases, jen.Case(jen.Lit(ph)).Block(loop))
		all = append(all, loop)
	}
	head := []jen.Code{
		id("count").Op(":=").Parens(id("j").Dot("hi").Op("-").Id("j").Dot("lo").Op("+").Id("Tile").Op("-").Lit(1)).Op("/").Id("Tile"),
		jen.For(jen.Len(id("w").Dot("tiles")).Op("<").Id("count")).Block(
			id("w").Dot("tiles").Op("=").Append(id("w").Dot("tiles"), jen.New(id("tileBuffers"))),
		),
		jen.If(id("j").Dot("phase").Op("==").Lit(0)).Block(jen.Op("*").Id("w").Dot("grads").Op("=").Id("parameters").Values()),
		id("w").Dot("sums").Op("=").Id("sums").Values(),
	}
	for _, v := range []struct {
		name string
		def  jen.Code
	}{
		{"p", id("p").Op(":=").Op("&").Id("j").Dot("m").Dot("params")},
		{"g", id("g").Op(":=").Id("w").Dot("grads")},
		{"st", id("st").Op(":=").Op("&").Id("j").Dot("m").Dot("stats")},
		{"t", id("t").Op(":=").Op("&").Id("j").Dot("m").Dot("wt")},
		{"vec", id("vec").Op(":=").Id("j").Dot("vec")},
		{"tr", id("tr").Op(":=").Id("training").Values(jen.Id("seed").Op(":").Id("j").Dot("m").Dot("dropSeed"), jen.Id("step").Op(":").Id("j").Dot("m").Dot("dropStep"))},
	} {
		if mentions(all, v.name) {
			head = append(head, v.def)
		}
	}
	body := append(head, jen.Switch(id("j").Dot("phase")).Block(cases...), jen.Return())
	f.Comment(wrapDoc(fmt.Sprintf("backwardTiles runs phase j.phase of a layer-major training pass (%d phases; see run) on samples [j.lo, j.hi) of j.x, tile by tile on the buffers of w.tiles, which keep the shard's activations from phase to phase. Phase 0 overwrites w.grads; the loss (times j.scale) and the number classified correctly come from the phase that computes the loss.", p.layerMajorPhases())))
	f.Func().Params(id("w").Op("*").Id("worker")).Id("backwardTiles").Params(id("j").Id("job")).Params(id("loss").Float64(), id("correct").Int()).Block(body...)
}

// mentions reports whether the rendered code uses the identifier name
// (not as a field or method selector).
func mentions(code []jen.Code, name string) bool {
	src := fmt.Sprintf("%#v", jen.Block(code...))
	return regexp.MustCompile(`(^|[^.\w])` + regexp.QuoteMeta(name) + `\b`).MatchString(src)
}
