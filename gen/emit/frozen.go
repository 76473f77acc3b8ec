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
		jen.Comment(wrapDoc("idle holds up to GOMAXPROCS (at Freeze) workers whose tile buffers calls borrow; a call that finds none allocates one, and a full list drops it.")),
		id("idle").Chan().Op("*").Id("worker"),
	)
	f.Comment(wrapDoc("Frozen is a read-only copy of a Model's parameters for inference, made by Model.Freeze. On the vector paths its dense layers read their weights in a padded layout, which makes the one-sample Logits faster than Model.Logits. Changing the Model afterwards (training, loading a checkpoint) does not change a Frozen: freeze again. A Frozen is safe for concurrent use by multiple goroutines; each call borrows tile buffers from a free list of up to GOMAXPROCS, so calls make no allocations once it holds a buffer per goroutine that runs at once."))
	f.Type().Id("Frozen").Struct(fields...)

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
		jen.Return(id("f")),
	)
	f.Comment(wrapDoc("Freeze returns a Frozen copy of m's current parameters, for fast and concurrent inference. It copies every parameter (and packs the dense weights), so call it once after training or loading, not per sample."))
	f.Func().Params(id("m").Op("*").Id("Model")).Id("Freeze").Params().Op("*").Id("Frozen").Block(body...)

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
	f.Comment(wrapDoc("Logits writes the logits of one sample x (HWC order) to logits."))
	f.Add(frecv()).Id("Logits").Params(id("x").Op("*").Index(id("InputSize")).Float32(), id("logits").Op("*").Index(id("Classes")).Float32()).Block(
		id("w").Op(":=").Id("f").Dot("borrow").Call(),
		jen.Op("*").Parens(jen.Op("*").Index(id("InputSize")).Float32()).Parens(id("w").Dot("buf").Dot("x").Index(jen.Empty(), jen.Empty())).Op("=").Op("*").Id("x"),
		id("f").Dot("forward").Call(id("w"), jen.Lit(1), jen.Op("&").Id("w").Dot("buf").Dot("x")),
		jen.Op("*").Id("logits").Op("=").Index(id("Classes")).Float32().Parens(logitsOut().Index(jen.Empty(), id("Classes"))),
		id("f").Dot("giveBack").Call(id("w")),
	)
	f.Comment(wrapDoc("Predict writes the class probabilities (softmax of the logits) of one sample x (HWC order) to probs."))
	f.Add(frecv()).Id("Predict").Params(id("x").Op("*").Index(id("InputSize")).Float32(), id("probs").Op("*").Index(id("Classes")).Float32()).Block(
		jen.Var().Id("z").Index(id("Classes")).Float32(),
		id("f").Dot("Logits").Call(id("x"), jen.Op("&").Id("z")),
		id("softmax").Call(jen.Op("&").Id("z"), id("probs")),
	)

	// Forward.
	f.Comment(wrapDoc("Forward writes to logits (n×Classes values) the logits of the n samples in x (n×InputSize values, each sample in HWC order), tile by tile on the caller's goroutine. For a large batch on several cores, split it across goroutines (a Frozen is safe for that) or use Model.Forward, whose workers do it."))
	f.Add(frecv()).Id("Forward").Params(jen.List(id("x"), id("logits")).Index().Float32()).Block(
		id("n").Op(":=").Id("samples").Call(id("x")),
		jen.If(jen.Len(id("logits")).Op("<").Id("n").Op("*").Id("Classes")).Block(
			jen.Panic(jen.Qual("fmt", "Sprintf").Call(jen.Lit(p.net.Name+": %d logits for %d samples, want %d"), jen.Len(id("logits")), id("n"), id("n").Op("*").Id("Classes"))),
		),
		id("w").Op(":=").Id("f").Dot("borrow").Call(),
		jen.For(id("off").Op(":=").Lit(0), id("off").Op("<").Id("n"), id("off").Op("+=").Id("Tile")).Block(
			id("k").Op(":=").Min(id("Tile"), id("n").Op("-").Id("off")),
			id("f").Dot("forward").Call(id("w"), id("k"), id("w").Dot("load").Call(id("x"), id("off"), id("k"))),
			jen.Copy(id("logits").Index(id("off").Op("*").Id("Classes"), jen.Parens(id("off").Op("+").Id("k")).Op("*").Id("Classes")),
				logitsOut().Index(jen.Empty(), id("k").Op("*").Id("Classes"))),
		),
		id("f").Dot("giveBack").Call(id("w")),
	)
}
