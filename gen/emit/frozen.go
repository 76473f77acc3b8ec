package emit

import (
	"fmt"

	"github.com/cnngen/cnngen/gen/asm"
	"github.com/dave/jennifer/jen"
)

// frozenFile emits frozen.go: Frozen, an immutable copy of a Model's
// parameters for inference, and Model.Freeze.
//
// Why a separate type rather than a faster Model.Logits: the one-sample
// GEMV of a dense layer streams its whole weight matrix, and it runs
// ≈1.5× faster on rows padded to 64-byte multiples (gen/asm measured
// 7.3 → 4.8 µs on digits' 512×300). A Model cannot keep such a copy
// current, because optimizers and checkpoint loaders write its
// parameters through Params without telling it. A Frozen copies the
// parameters once, at Freeze, so its padded copy can never go stale;
// and since nothing in it changes afterwards, any number of goroutines
// can use it at once. Each call takes a worker's buffers from a free
// list, a channel of up to GOMAXPROCS idle workers: a sync.Pool would drop
// them at every other GC and then allocate the large tile buffers anew.
func (p *plan) frozenFile(f *jen.File) {
	// The Go runtime (GOMAXPROCS) beside cnngen's runtime.
	f.ImportAlias("runtime", "goruntime")
	id := jen.Id
	in := p.input.size
	packed := p.hasPacked()
	split := p.splitsOne()
	frecv := func() *jen.Statement { return jen.Func().Params(id("f").Op("*").Id("Frozen")) }

	var fields []jen.Code
	if packed {
		var pf []jen.Code
		for _, s := range p.packedStages() {
			l := s.layer
			pf = append(pf,
				jen.Comment(wrapDoc(fmt.Sprintf("%s is %s's weight [%d][%d] with rows padded to %d floats (zeros after the weights), as %s reads it.",
					p.params[s.weight], l.Name, l.In.Size(), l.Units, asm.PaddedStride(l.Units), s.vec.packedOne))),
				id(p.params[s.weight]).Add(floatArr(l.In.Size()*asm.PaddedStride(l.Units))))
		}
		f.Comment(wrapDoc("packed holds the dense layers' weights in the padded layout of the packed vector kernels (Frozen, and Model.Forward on large batches). Every field's size is a multiple of 64 bytes, so that the rows of each start on a 64-byte boundary when the struct does."))
		f.Type().Id("packed").Struct(pf...)
		fields = append(fields,
			jen.Comment(wrapDoc("packed comes first: a Frozen is one large allocation, which Go starts on a page boundary, so every padded row is 64-byte aligned (which only speed depends on).")),
			id("packed").Id("packed"))
	}
	hasShift := len(p.shiftFields()) > 0
	if hasShift {
		f.Comment(wrapDoc("shifts holds the shifts of the batch norms that Freeze folded into layers without a bias."))
		f.Type().Id("shifts").Struct(p.shiftFields()...)
		fields = append(fields, jen.Comment("shift holds the folded batch norms' shifts."), id("shift").Id("shifts"))
	}
	fields = append(fields,
		jen.Comment(wrapDoc("params is the copy of the Model's parameters, in the standard layout.")),
		id("params").Id("parameters"),
		jen.Comment(wrapDoc("idle holds up to max(GOMAXPROCS at Freeze, workers) workers whose tile buffers calls borrow; a call that finds none allocates one, and a full list drops it.")),
		id("idle").Chan().Op("*").Id("worker"),
		jen.Comment(wrapDoc("workers is the number of goroutines Forward splits a batch across: the caller's and the workers−1 helpers of crew (nil with one worker).")),
		id("workers").Int(),
		id("crew").Op("*").Add(rt("Crew")).Types(id("shard")),
		jen.Comment(wrapDoc("stop closes the crew's queue once the Frozen is unreachable, which ends the helpers.")),
		id("stop").Qual("runtime", "Cleanup"),
	)
	if split {
		fields = append(fields,
			jen.Comment(wrapDoc("alone and split are moving averages of Logits' time in nanoseconds (0 before the first), without and with the split of the sample's forward; calls counts the calls that could split (see splits).")),
			jen.List(id("alone"), id("split")).Qual("sync/atomic", "Int64"),
			id("calls").Qual("sync/atomic", "Uint64"),
		)
	}
	f.Comment(wrapDoc("Frozen is a read-only copy of a Model's parameters for inference, made by Model.Freeze. On the vector paths its dense layers read their weights in a padded layout, which makes the one-sample Logits faster than Model.Logits. Changing the Model afterwards (training, loading a checkpoint) does not change a Frozen: freeze again. A Frozen is safe for concurrent use by multiple goroutines; each call borrows tile buffers from a free list of up to GOMAXPROCS, so calls make no allocations once it holds a buffer per goroutine that runs at once. Forward splits a batch of several tiles across its workers (see SetWorkers)."))
	f.Type().Id("Frozen").Struct(fields...)
	shardDoc := "shard is the part of a Frozen.Forward batch that a helper goroutine runs: samples [lo, hi) of x, whose logits it writes to logits before calling done.Done."
	shardFields := []jen.Code{
		id("f").Op("*").Id("Frozen"),
		id("x").Op(",").Id("logits").Index().Float32(),
		id("lo").Op(",").Id("hi").Int(),
		id("done").Op("*").Qual("sync", "WaitGroup"),
	}
	if split {
		shardDoc = "shard is the part of a Frozen call that a helper goroutine runs, before calling done.Done: samples [lo, hi) of x, whose logits it writes to logits, or, when one is set, its share of the split one-sample forward on one's buffers (see Frozen.forwardOne)."
		shardFields = append(shardFields,
			jen.Comment("one holds the sample of a split Logits; vec selects the vector kernels."),
			id("one").Op("*").Id("worker"),
			id("vec").Bool())
	}
	f.Comment(wrapDoc(shardDoc))
	f.Type().Id("shard").Struct(shardFields...)

	// Freeze.
	body := []jen.Code{
		id("f").Op(":=").Op("&").Id("Frozen").Values(jen.Id("params").Op(":").Id("m").Dot("params")),
	}
	body = append(body, p.foldCode()...)
	body = append(body, p.packCalls(
		func() *jen.Statement { return id("f").Dot("packed") },
		func() *jen.Statement { return id("f").Dot("params") })...)
	body = append(body,
		id("f").Dot("idle").Op("=").Make(jen.Chan().Op("*").Id("worker"), jen.Qual("runtime", "GOMAXPROCS").Call(jen.Lit(0))),
		id("f").Dot("SetWorkers").Call(jen.Qual("runtime", "GOMAXPROCS").Call(jen.Lit(0))),
		jen.Return(id("f")),
	)
	f.Comment(wrapDoc("Freeze returns a Frozen copy of m's current parameters, for fast and concurrent inference. It copies every parameter (and packs the dense weights), so call it once after training or loading, not per sample."))
	f.Func().Params(id("m").Op("*").Id("Model")).Id("Freeze").Params().Op("*").Id("Frozen").Block(body...)

	// SetWorkers, Workers and the helpers' goroutines.
	f.Comment(wrapDoc("SetWorkers sets the number of goroutines that Forward splits a batch of several tiles across (values below 1 mean 1); Freeze uses the Go runtime's GOMAXPROCS(0). Each sample's logits do not depend on the split. The helpers beyond the caller's goroutine end when the Frozen is no longer reachable. It returns once the helpers wait for work. SetWorkers must not run concurrently with other methods."))
	f.Add(frecv()).Id("SetWorkers").Params(id("count").Int()).Block(
		id("count").Op("=").Max(id("count"), jen.Lit(1)),
		jen.Comment("A batch's shards hold count workers at once: keep them all."),
		jen.If(jen.Cap(id("f").Dot("idle")).Op("<").Id("count")).Block(
			id("idle").Op(":=").Make(jen.Chan().Op("*").Id("worker"), id("count")),
			jen.For(jen.Len(id("f").Dot("idle")).Op(">").Lit(0)).Block(id("idle").Op("<-").Op("<-").Id("f").Dot("idle")),
			id("f").Dot("idle").Op("=").Id("idle"),
		),
		id("f").Dot("stop").Dot("Stop").Call(),
		jen.If(id("f").Dot("crew").Op("!=").Nil()).Block(id("f").Dot("crew").Dot("Close").Call()),
		jen.List(id("f").Dot("workers"), id("f").Dot("crew")).Op("=").List(id("count"), jen.Nil()),
		jen.If(id("count").Op(">").Lit(1)).Block(
			jen.Comment("NewCrew returns once every helper waits for work: the first call finds them so."),
			id("f").Dot("crew").Op("=").Add(rt("NewCrew")).Types(id("shard")).Call(id("count").Op("-").Lit(1)),
			jen.Comment("The cleanup holds the crew only, never the Frozen, so that it can run."),
			id("f").Dot("stop").Op("=").Qual("runtime", "AddCleanup").Call(id("f"), jen.Parens(jen.Op("*").Add(rt("Crew")).Types(id("shard"))).Dot("Close"), id("f").Dot("crew")),
		),
	)
	f.Comment(wrapDoc("Workers returns the number of goroutines Forward splits a batch across (see SetWorkers)."))
	f.Add(frecv()).Id("Workers").Params().Int().Block(jen.Return(id("f").Dot("workers")))
	p.shardRun(f)

	// forward.
	var run jen.Code
	switch {
	case p.rewritesFrozen():
		args := []jen.Code{jen.Op("&").Id("f").Dot("params")}
		if packed {
			args = append(args, jen.Op("&").Id("f").Dot("packed"))
		}
		if hasShift {
			args = append(args, jen.Op("&").Id("f").Dot("shift"))
		}
		run = id("w").Dot("forwardFrozen").Call(append(args, id("vector").Call(), id("n"), id("x"))...)
	case packed:
		run = jen.If(id("vector").Call()).Block(
			id("w").Dot("forwardPacked").Call(jen.Op("&").Id("f").Dot("params"), jen.Op("&").Id("f").Dot("packed"), id("n"), id("x")),
		).Else().Block(
			id("w").Dot("forward").Call(jen.Op("&").Id("f").Dot("params"), jen.False(), id("n"), id("x"), p.trArg(jen.Nil())),
		)
	default:
		run = id("w").Dot("forward").Call(jen.Op("&").Id("f").Dot("params"), id("vector").Call(), id("n"), id("x"), p.trArg(jen.Nil()))
	}
	f.Comment(wrapDoc("forward runs the first n samples of the tile x through the network on w's buffers."))
	f.Add(frecv()).Id("forward").Params(id("w").Op("*").Id("worker"), id("n").Int(), id("x").Add(tileArr(in))).Block(run)

	// borrow and giveBack.
	f.Comment(wrapDoc("borrow returns an idle worker, or a new one when every worker is in use."))
	f.Add(frecv()).Id("borrow").Params().Op("*").Id("worker").Block(
		jen.Select().Block(
			jen.Case(id("w").Op(":=").Op("<-").Id("f").Dot("idle")).Block(jen.Return(id("w"))),
			jen.Default().Block(jen.Return(jen.New(id("worker")))),
		),
	)
	f.Comment(wrapDoc("giveBack returns w to the idle list, or drops it when the list is full."))
	f.Add(frecv()).Id("giveBack").Params(id("w").Op("*").Id("worker")).Block(
		jen.Select().Block(
			jen.Case(id("f").Dot("idle").Op("<-").Id("w")),
			jen.Default(),
		),
	)

	out := p.logits
	if a := p.frozenAlias()[out]; a != nil {
		out = a
	}
	logitsOut := func() *jen.Statement { return id("w").Dot("buf").Dot(out.field + "Out") }

	// Logits and Predict.
	logitsDoc := "Logits writes the logits of one sample x (HWC order) to logits."
	oneForward := jen.Code(id("f").Dot("forward").Call(id("w"), jen.Lit(1), jen.Op("&").Id("w").Dot("buf").Dot("x")))
	if split {
		logitsDoc += " With several workers (see SetWorkers), the caller and the helpers that are idle share the sample's forward, each stage cut into parts (see forwardOne), when that has been the faster way (see splits); the logits are the same bits either way."
		oneForward = jen.Null().Add(
			id("start").Op(":=").Qual("time", "Now").Call(),
		).Line().Add(jen.Switch().Block(
			jen.Case(id("f").Dot("splits").Call().Op("&&").Id("f").Dot("forwardOne").Call(id("w"), id("vector").Call())).Block(
				id("record").Call(jen.Op("&").Id("f").Dot("split"), id("start")),
			),
			jen.Default().Block(
				oneForward,
				jen.If(id("f").Dot("workers").Op(">").Lit(1)).Block(id("record").Call(jen.Op("&").Id("f").Dot("alone"), id("start"))),
			),
		))
		p.splitMethods(f)
	}
	f.Comment(wrapDoc(logitsDoc))
	f.Add(frecv()).Id("Logits").Params(id("x").Op("*").Index(id("InputSize")).Float32(), id("logits").Op("*").Index(id("Classes")).Float32()).Block(
		id("w").Op(":=").Id("f").Dot("borrow").Call(),
		jen.Op("*").Parens(jen.Op("*").Index(id("InputSize")).Float32()).Parens(id("w").Dot("buf").Dot("x").Index(jen.Empty(), jen.Empty())).Op("=").Op("*").Id("x"),
		oneForward,
		jen.Op("*").Id("logits").Op("=").Index(id("Classes")).Float32().Parens(logitsOut().Index(jen.Empty(), id("Classes"))),
		id("f").Dot("giveBack").Call(id("w")),
	)
	f.Comment(wrapDoc("Predict writes the class probabilities (softmax of the logits) of one sample x (HWC order) to probs."))
	f.Add(frecv()).Id("Predict").Params(id("x").Op("*").Index(id("InputSize")).Float32(), id("probs").Op("*").Index(id("Classes")).Float32()).Block(
		jen.Var().Id("z").Index(id("Classes")).Float32(),
		id("f").Dot("Logits").Call(id("x"), jen.Op("&").Id("z")),
		id("softmax").Call(jen.Op("&").Id("z"), id("probs")),
	)

	// forwardRange and Forward.
	f.Comment(wrapDoc(fmt.Sprintf("frozenStep is the number of samples that Frozen's forward runs through the network together, at most a tile: with %d, the input and output of the layer that reads and writes the most take %d KiB, which stays in a core's L2 cache from one layer to the next.", p.frozenStep, (int64(p.frozenStep)*p.stageBytes()+1023)>>10)))
	f.Const().Id("frozenStep").Op("=").Lit(p.frozenStep)
	f.Comment(wrapDoc("forwardRange writes to logits the logits of samples [lo, hi) of x, frozenStep samples at a time on w's tile buffers."))
	f.Add(frecv()).Id("forwardRange").Params(id("w").Op("*").Id("worker"), jen.List(id("x"), id("logits")).Index().Float32(), jen.List(id("lo"), id("hi")).Int()).Block(
		jen.For(id("off").Op(":=").Id("lo"), id("off").Op("<").Id("hi"), id("off").Op("+=").Id("frozenStep")).Block(
			id("k").Op(":=").Min(id("frozenStep"), id("hi").Op("-").Id("off")),
			id("f").Dot("forward").Call(id("w"), id("k"), id("w").Dot("load").Call(id("x"), id("off"), id("k"))),
			jen.Copy(id("logits").Index(id("off").Op("*").Id("Classes"), jen.Parens(id("off").Op("+").Id("k")).Op("*").Id("Classes")),
				logitsOut().Index(jen.Empty(), id("k").Op("*").Id("Classes"))),
		),
	)
	f.Comment(wrapDoc("Forward writes to logits (n×Classes values) the logits of the n samples in x (n×InputSize values, each sample in HWC order). A batch of several steps (frozenStep samples) is split in whole steps across the workers (see SetWorkers): the caller's goroutine runs the first shard and the helpers the others, or the caller too when every helper is busy with other calls."))
	f.Add(frecv()).Id("Forward").Params(jen.List(id("x"), id("logits")).Index().Float32()).Block(
		id("n").Op(":=").Id("samples").Call(id("x")),
		jen.If(jen.Len(id("logits")).Op("<").Id("n").Op("*").Id("Classes")).Block(
			jen.Panic(jen.Qual("fmt", "Sprintf").Call(jen.Lit(p.net.Name+": %d logits for %d samples, want %d"), jen.Len(id("logits")), id("n"), id("n").Op("*").Id("Classes"))),
		),
		id("w").Op(":=").Id("f").Dot("borrow").Call(),
		id("steps").Op(":=").Parens(id("n").Op("+").Id("frozenStep").Op("-").Lit(1)).Op("/").Id("frozenStep"),
		id("used").Op(":=").Max(jen.Lit(1), jen.Min(id("f").Dot("workers"), id("steps"))),
		jen.Comment("Shard i takes steps [i·steps/used, (i+1)·steps/used): whole steps, so that the steps, and the logits, are the same for every worker count (a step of one sample runs the one-row GEMMs, which order their sums otherwise)."),
		id("bound").Op(":=").Func().Params(id("i").Int()).Int().Block(
			jen.Return(jen.Min(id("n"), id("i").Op("*").Id("steps").Op("/").Id("used").Op("*").Id("frozenStep"))),
		),
		jen.For(id("i").Op(":=").Lit(1), id("i").Op("<").Id("used"), id("i").Op("++")).Block(
			id("s").Op(":=").Id("shard").Values(field("f", id("f")), field("x", id("x")), field("logits", id("logits")), field("lo", id("bound").Call(id("i"))), field("hi", id("bound").Call(id("i").Op("+").Lit(1))), field("done", jen.Op("&").Id("w").Dot("shards"))),
			id("w").Dot("shards").Dot("Add").Call(jen.Lit(1)),
			jen.If(jen.Op("!").Id("f").Dot("crew").Dot("Post").Call(id("s"))).Block(
				jen.Comment("Every helper is busy with other calls: run the shard here."),
				id("s").Dot("Run").Call(),
			),
		),
		id("f").Dot("forwardRange").Call(id("w"), id("x"), id("logits"), jen.Lit(0), id("bound").Call(jen.Lit(1))),
		jen.If(id("used").Op(">").Lit(1)).Block(id("f").Dot("crew").Dot("Reclaim").Call()),
		id("w").Dot("shards").Dot("Wait").Call(),
		id("f").Dot("giveBack").Call(id("w")),
	)
}

// shardRun emits shard.Run, which the Frozen's crew (runtime.Crew: its
// helpers, or a call that reclaims the shards no helper has taken) runs.
func (p *plan) shardRun(f *jen.File) {
	id := jen.Id
	run := []jen.Code{
		id("w").Op(":=").Id("s").Dot("f").Dot("borrow").Call(),
		id("s").Dot("f").Dot("forwardRange").Call(id("w"), id("s").Dot("x"), id("s").Dot("logits"), id("s").Dot("lo"), id("s").Dot("hi")),
		id("s").Dot("f").Dot("giveBack").Call(id("w")),
	}
	if p.splitsOne() {
		run = []jen.Code{jen.If(id("s").Dot("one").Op("!=").Nil()).Block(
			id("s").Dot("f").Dot("runParts").Call(id("s").Dot("one"), id("s").Dot("vec"), jen.True()),
		).Else().Block(run...)}
	}
	run = append(run, id("s").Dot("done").Dot("Done").Call())
	f.Comment(wrapDoc("Run runs shard s, on a helper or on the caller's goroutine, and marks it done (runtime.Shard)."))
	f.Func().Params(id("s").Id("shard")).Id("Run").Params().Block(run...)
}
