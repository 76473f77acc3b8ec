package emit

import (
	"fmt"

	"github.com/cnngen/cnngen/runtime"
	"github.com/dave/jennifer/jen"
)

// packedForwardTiles is, in tiles, the smallest batch for which Model.Forward
// copies the dense weights into the padded layout first (see the generated
// packedForwardMin).
const packedForwardTiles = 4

// runMethods emits the parts of model.go that run the network: the
// workers, the per-tile forward and backward passes with their ISA switch,
// and the batch API (Forward, Backward, Step, Logits).
//
// Parallelism: a batch is cut into tiles, the tiles into one contiguous
// shard per worker (worker i gets tiles [i·T/W, (i+1)·T/W)). Each worker
// has its own tile buffers and gradient; worker 0 runs on the caller's
// goroutine and accumulates straight into Model.grads, the others on
// long-lived goroutines fed by unbuffered channels (no allocation per
// call). After the shards, the caller adds the other workers' gradients,
// losses and counts in worker order, so that a batch and a worker count
// always give the same bits.
//
// ISA: each call reads runtime.ActiveISA once. On PureGo every stage runs
// the emitter's Go kernels, which add in the generic engine's order; on
// AVX2 or AVX-512 the stages with a vector path call gen/asm's
// dispatchers (whose own pure-Go reference is then never reached from
// the model) and the others their Go kernels.
func (p *plan) runMethods(f *jen.File) {
	n := p.net
	in := p.input.size
	vec := p.hasVector()
	trans := p.hasTransposed()
	recv := func() *jen.Statement { return jen.Func().Params(jen.Id("m").Op("*").Id("Model")) }
	wrecv := func() *jen.Statement { return jen.Func().Params(jen.Id("w").Op("*").Id("worker")) }
	id := jen.Id

	// worker and job.
	f.Comment(wrapDoc("worker holds the buffers of one shard of a batch: the activations of one tile and a gradient."))
	f.Type().Id("worker").Struct(
		id("buf").Id("tileBuffers"),
		jen.Comment(wrapDoc("grads receives the shard's gradient (Model.grads for worker 0).")),
		id("grads").Op("*").Id("parameters"),
		jen.Comment(wrapDoc("loss and correct are the shard's results of a backward job.")),
		id("loss").Float64(),
		id("correct").Int(),
		jen.Comment(wrapDoc("jobs and done connect the worker's goroutine with the caller (nil for worker 0).")),
		id("jobs").Chan().Id("job"),
		id("done").Chan().Struct(),
		jen.Comment(wrapDoc("shards counts the shards that Frozen.Forward's helper goroutines run for the call that borrowed this worker.")),
		id("shards").Qual("sync", "WaitGroup"),
		p.layerMajorWorkerFields(),
		p.splitWorkerField(),
	)
	jobFields := []jen.Code{
		id("m").Op("*").Id("Model"),
		jen.Comment("vec selects the vector kernels; packed their dense weights in m.pk; backward a backward job."),
		id("vec").Op(",").Id("packed").Op(",").Id("backward").Bool(),
		id("x").Op(",").Id("logits").Index().Float32(),
		id("labels").Index().Int32(),
		p.targetsField(),
		p.phaseField(),
		id("scale").Float32(),
		jen.Comment("lo and hi delimit the worker's samples."),
		id("lo").Op(",").Id("hi").Int(),
	}
	f.Comment(wrapDoc("job is one shard of a Forward or Backward call, sent to a worker's goroutine."))
	f.Type().Id("job").Struct(jobFields...)

	// SetWorkers.
	f.Comment(wrapDoc("SetWorkers sets the number of workers that Forward and Backward split a batch across (values below 1 mean 1); New uses the Go runtime's GOMAXPROCS(0). Gradients are summed per worker and then across workers in a fixed order, so a given worker count always gives the same results, and different counts differ only by rounding. Each worker beyond the first keeps a goroutine, a gradient and tile buffers; they end when the Model is no longer reachable. SetWorkers must not run concurrently with other methods."))
	f.Add(recv()).Id("SetWorkers").Params(id("count").Int()).Block(
		id("count").Op("=").Max(id("count"), jen.Lit(1)),
		id("m").Dot("stop").Dot("Stop").Call(),
		jen.For(jen.List(id("_"), id("w")).Op(":=").Range().Id("m").Dot("workers")).Block(
			jen.If(id("w").Dot("jobs").Op("!=").Nil()).Block(jen.Close(id("w").Dot("jobs"))),
		),
		id("m").Dot("workers").Op("=").Make(jen.Index().Op("*").Id("worker"), id("count")),
		id("m").Dot("workers").Index(jen.Lit(0)).Op("=").Op("&").Id("worker").Values(jen.Id("grads").Op(":").Op("&").Id("m").Dot("grads")),
		id("jobs").Op(":=").Make(jen.Index().Chan().Id("job"), jen.Lit(0), id("count").Op("-").Lit(1)),
		forUp("i", jen.Lit(1), id("count"),
			id("w").Op(":=").Op("&").Id("worker").Values(
				jen.Id("grads").Op(":").New(id("parameters")),
				jen.Id("jobs").Op(":").Make(jen.Chan().Id("job")),
				jen.Id("done").Op(":").Make(jen.Chan().Struct()),
			),
			jen.Go().Id("w").Dot("serve").Call(),
			id("m").Dot("workers").Index(id("i")).Op("=").Id("w"),
			id("jobs").Op("=").Append(id("jobs"), id("w").Dot("jobs")),
		),
		jen.Comment("The cleanup holds the channels only, never the Model, so that it can run."),
		id("m").Dot("stop").Op("=").Qual("runtime", "AddCleanup").Call(id("m"), id("stopWorkers"), id("jobs")),
	)
	f.Comment(wrapDoc("Workers returns the number of workers (see SetWorkers)."))
	f.Add(recv()).Id("Workers").Params().Int().Block(jen.Return(jen.Len(id("m").Dot("workers"))))

	f.Comment(wrapDoc("stopWorkers ends the goroutines of the workers whose channels jobs are."))
	f.Func().Id("stopWorkers").Params(id("jobs").Index().Chan().Id("job")).Block(
		jen.For(jen.List(id("_"), id("c")).Op(":=").Range().Id("jobs")).Block(jen.Close(id("c"))),
	)

	// serve.
	f.Comment(wrapDoc("serve runs the jobs sent to w until its channel is closed. A job's Model is referenced only while the job runs, so an idle worker does not keep its Model alive."))
	f.Add(wrecv()).Id("serve").Params().Block(
		jen.For(id("j").Op(":=").Range().Id("w").Dot("jobs")).Block(
			jen.If(id("j").Dot("backward")).Block(
				jen.List(id("w").Dot("loss"), id("w").Dot("correct")).Op("=").Id("w").Dot("backwardTiles").Call(id("j")),
			).Else().Block(
				id("w").Dot("forwardTiles").Call(id("j")),
			),
			id("w").Dot("done").Op("<-").Struct().Values(),
		),
	)

	// forward / backward over one tile.
	// bufRoot is the tile buffers that the stage code reads: the worker's
	// own (w.buf) in the tile-major passes, b in the layer-major phases of
	// a network with batch norm (see layerMajor).
	bufRoot := id("w").Dot("buf")
	root := func() *jen.Statement { return bufRoot.Clone() }
	// alias maps the buffers of the stages that the frozen forward leaves
	// out to those that hold their values (see frozenAlias); nil elsewhere.
	var alias map[*buffer]*buffer
	resolve := func(b *buffer) *buffer {
		if a := alias[b]; a != nil {
			return a
		}
		return b
	}
	// bnTrain says that batchnorm stages normalise with the batch's
	// statistics (the layer-major phases) rather than the running ones.
	bnTrain := false
	inArr := func(b *buffer) *jen.Statement {
		b = resolve(b)
		if b.input {
			return id("x")
		}
		return jen.Op("&").Add(root()).Dot(b.field + "Out")
	}
	inSlice := func(b *buffer) *jen.Statement {
		b = resolve(b)
		if b.input {
			return id("x").Index(jen.Empty(), id("n").Op("*").Lit(b.size))
		}
		return root().Dot(b.field+"Out").Index(jen.Empty(), id("n").Op("*").Lit(b.size))
	}
	oneArr := func(b *buffer) *jen.Statement {
		b = resolve(b)
		src := id("x")
		if !b.input {
			src = root().Dot(b.field + "Out")
		}
		return jen.Parens(ptrFloatArr(b.size)).Parens(src.Index(jen.Empty(), jen.Lit(b.size)))
	}
	gradArr := func(b *buffer) *jen.Statement { return jen.Op("&").Add(root()).Dot(p.gradField(b)) }
	gradSlice := func(b *buffer) *jen.Statement {
		return root().Dot(p.gradField(b)).Index(jen.Empty(), id("n").Op("*").Lit(b.size))
	}
	param := func(set string, i int) *jen.Statement { return jen.Op("&").Id(set).Dot(p.params[i]) }
	// vecBias is the bias argument of a vector kernel (set "p") or its
	// gradient (set "g"): for a layer without a bias, the shared zeros or
	// the tile buffers' sink, which nothing reads.
	vecBias := func(s *stage, set string) *jen.Statement {
		if s.hasBias() {
			return param(set, s.bias)
		}
		size := s.out.size / (s.layer.Out.Height * s.layer.Out.Width)
		if set == "g" {
			return jen.Parens(ptrFloatArr(size)).Parens(root().Dot("biasSink").Index(jen.Empty(), jen.Lit(size)))
		}
		return jen.Parens(ptrFloatArr(size)).Parens(id("zeroBias").Index(jen.Empty(), jen.Lit(size)))
	}

	// goForward calls s's Go forward kernel; tr is the training state
	// (the forward method's tr, or nil in inference).
	goForward := func(s *stage, tr jen.Code) jen.Code {
		args := []jen.Code{id("n")}
		for _, b := range s.ins {
			args = append(args, inArr(b))
		}
		args = append(args, inArr(s.out))
		switch s.layer.Kind {
		case runtime.Conv2D, runtime.Dense:
			args = append(args, param("p", s.weight))
			if s.hasBias() {
				args = append(args, param("p", s.bias))
			}
		case runtime.MaxPool:
			args = append(args, jen.Op("&").Add(root()).Dot(s.base+"Arg"))
		case runtime.Dropout:
			args = append(args, jen.Op("&").Add(root()).Dot(s.base+"Mask"), tr)
		case runtime.BatchNorm:
			if bnTrain {
				if r := p.fusedReLU(s); r != nil {
					// It writes the ReLU's output.
					args[len(args)-1] = inArr(r.out)
				}
				args = append(args, jen.Op("&").Id("st").Dot(s.base+"Mean"), jen.Op("&").Id("st").Dot(s.base+"InvStd"), param("p", s.weight), param("p", s.bias))
				break
			}
			args = append(args, jen.Op("&").Id("p").Dot(s.base+"RunningMean"), jen.Op("&").Id("p").Dot(s.base+"RunningVar"), param("p", s.weight), param("p", s.bias))
			return id(s.base + "Eval").Call(args...)
		}
		return id(s.base + "Forward").Call(args...)
	}
	// vecForward calls s's vector forward kernel; with packed, a dense
	// stage reads its weights from pk, in the padded layout (forwardPacked).
	vecForward := func(s *stage, packed bool) jen.Code {
		v := s.vec
		if v.depthwise != "" {
			return id(s.base+sufForwardVec).Call(id("n"), inArr(s.in), inArr(s.out), param("p", s.weight), vecBias(s, "p"))
		}
		if v.im2col {
			args := []jen.Code{id("n"), inArr(s.in), inArr(s.out)}
			if usesCols(s) {
				args = append(args, jen.Op("&").Add(root()).Dot(s.base+sufCols))
			}
			return id(s.base + sufForwardGemm).Call(append(args, param("p", s.weight), vecBias(s, "p"))...)
		}
		switch s.layer.Kind {
		case runtime.MaxPool:
			return id(v.forward).Call(inSlice(s.out), inSlice(s.in), id("n"))
		case runtime.Dense:
			one, batch, weight := v.forwardOne, v.forward, param("p", s.weight)
			if packed {
				one, batch, weight = v.packedOne, v.packed, param("pk", s.weight)
			}
			return jen.If(id("n").Op("==").Lit(1)).Block(
				id(one).Call(oneArr(s.out), oneArr(s.in), weight, vecBias(s, "p")),
			).Else().Block(
				id(batch).Call(inSlice(s.out), inSlice(s.in), weight.Clone(), vecBias(s, "p"), id("n")),
			)
		}
		return id(v.forward).Call(inSlice(s.out), inSlice(s.in), param("p", s.weight), vecBias(s, "p"), id("n"))
	}
	var goFwd, vecFwd, packedFwd []jen.Code
	for _, s := range p.stages {
		goFwd = append(goFwd, goForward(s, id("tr")))
		if s.vec != nil {
			vecFwd = append(vecFwd, vecForward(s, false))
			packedFwd = append(packedFwd, vecForward(s, true))
		} else {
			vecFwd = append(vecFwd, goForward(s, id("tr")))
			packedFwd = append(packedFwd, goForward(s, jen.Nil()))
		}
	}
	xParam := id("x").Add(tileArr(in))
	// trParam is forward's training state, for the layers that behave
	// differently in training (dropout).
	trParam := jen.Null()
	if p.training() {
		trParam = id("tr").Op("*").Id("training")
	}
	fwdBody := goFwd
	vecParam := id("_").Bool()
	if vec {
		vecParam = id("vec").Bool()
		fwdBody = append([]jen.Code{jen.If(id("vec")).Block(append(vecFwd, jen.Return())...)}, goFwd...)
	}
	fwdDoc := "forward runs the layers with parameters p on the first n samples of the tile x, on the vector kernels when vec is set. For one sample, the dense layers run as GEMVs on the standard weight layout, so that Logits never reads a stale copy of the weights."
	if p.training() {
		fwdDoc += " tr is nil in evaluation and inference; in training it says which dropout masks to draw."
	}
	f.Comment(wrapDoc(fwdDoc))
	f.Add(wrecv()).Id("forward").Params(id("p").Op("*").Id("parameters"), vecParam, id("n").Int(), xParam.Clone(), trParam).Block(fwdBody...)
	if p.hasPacked() {
		f.Comment(wrapDoc("forwardPacked is forward on the vector kernels, with the dense layers' weights read from pk (Frozen's padded layout) instead of p."))
		f.Add(wrecv()).Id("forwardPacked").Params(id("p").Op("*").Id("parameters"), id("pk").Op("*").Id("packed"), id("n").Int(), xParam.Clone()).Block(packedFwd...)
	}

	// inGradArr is where s writes the gradient of its input k: the
	// input's Grad, or its Partial when another consumer writes the Grad.
	inGradArr := func(s *stage, k int) *jen.Statement {
		if s.partial[k] {
			return jen.Op("&").Add(root()).Dot(s.ins[k].field + "Partial")
		}
		return gradArr(s.ins[k])
	}
	inGradSlice := func(s *stage, k int) *jen.Statement {
		b := s.ins[k]
		field := p.gradField(b)
		if s.partial[k] {
			field = b.field + "Partial"
		}
		return root().Dot(field).Index(jen.Empty(), id("n").Op("*").Lit(b.size))
	}
	// addPartials adds the shares that s wrote to Partial buffers.
	addPartials := func(s *stage) []jen.Code {
		var code []jen.Code
		for k, b := range s.ins {
			if s.inGrads[k] && s.partial[k] {
				code = append(code, id("addInto").Call(
					root().Dot(p.gradField(b)).Index(jen.Empty(), id("n").Op("*").Lit(b.size)),
					inGradSlice(s, k)))
			}
		}
		return code
	}
	goBackward := func(s *stage) []jen.Code {
		var args []jen.Code
		switch s.layer.Kind {
		case runtime.Conv2D, runtime.Dense:
			args = []jen.Code{id("n"), inArr(s.in), inArr(s.out), gradArr(s.out)}
			if s.inGrad {
				args = append(args, inGradArr(s, 0))
			}
			args = append(args, param("p", s.weight), param("g", s.weight))
			if s.hasBias() {
				args = append(args, param("g", s.bias))
			}
		case runtime.MaxPool:
			args = []jen.Code{id("n"), gradArr(s.out), jen.Op("&").Add(root()).Dot(s.base + "Arg"), inGradArr(s, 0)}
		case runtime.AvgPool, runtime.GlobalAvgPool:
			args = []jen.Code{id("n"), gradArr(s.out), inGradArr(s, 0)}
		case runtime.LeakyReLU:
			args = []jen.Code{id("n"), inArr(s.in), gradArr(s.out), inGradArr(s, 0)}
		case runtime.Dropout:
			args = []jen.Code{id("n"), jen.Op("&").Add(root()).Dot(s.base + "Mask"), gradArr(s.out), inGradArr(s, 0)}
		case runtime.Concat:
			args = []jen.Code{id("n"), gradArr(s.out)}
			for k := range s.ins {
				if s.inGrads[k] {
					args = append(args, inGradArr(s, k))
				}
			}
		case runtime.Add:
			// Every input's gradient is the output's.
			var code []jen.Code
			for k := range s.ins {
				if s.inGrads[k] {
					code = append(code, jen.Copy(inGradSlice(s, k), root().Dot(p.gradField(s.out)).Index(jen.Empty(), id("n").Op("*").Lit(s.out.size))))
				}
			}
			return append(code, addPartials(s)...)
		default:
			args = []jen.Code{id("n"), inArr(s.out), gradArr(s.out), inGradArr(s, 0)}
		}
		return append([]jen.Code{id(s.base + "Backward").Call(args...)}, addPartials(s)...)
	}
	vecBackward := func(s *stage) []jen.Code {
		v := s.vec
		if v.depthwise != "" && v.depthwiseWeightGrad == "" {
			return goBackward(s)
		}
		if v.depthwise != "" {
			args := []jen.Code{id("n"), inArr(s.in), inArr(s.out), gradArr(s.out)}
			if s.inGrad {
				args = append(args, inGradArr(s, 0))
			}
			args = append(args, param("p", s.weight), param("g", s.weight), vecBias(s, "g"))
			return append([]jen.Code{id(s.base + sufBackwardVec).Call(args...)}, addPartials(s)...)
		}
		var code []jen.Code
		if s.layer.Kind == runtime.MaxPool {
			return append([]jen.Code{id(v.inputGrad).Call(inGradSlice(s, 0), gradSlice(s.out), inSlice(s.in), inSlice(s.out), id("n"))}, addPartials(s)...)
		}
		if v.actGrad {
			code = append(code, id(s.base+"ActGrad").Call(id("n"), inArr(s.out), gradArr(s.out)))
		}
		if v.im2col {
			args := []jen.Code{id("n"), inArr(s.in), gradArr(s.out)}
			if s.inGrad {
				args = append(args, inGradArr(s, 0))
			}
			if usesCols(s) {
				args = append(args, jen.Op("&").Add(root()).Dot(s.base+sufCols))
			}
			if s.inGrad {
				args = append(args, param("t", s.weight))
			}
			code = append(code, id(s.base+sufBackwardGemm).Call(append(args, param("g", s.weight), vecBias(s, "g"))...))
			return append(code, addPartials(s)...)
		}
		code = append(code, id(v.weightGrad).Call(param("g", s.weight), vecBias(s, "g"), inSlice(s.in), gradSlice(s.out), id("n")))
		if v.inputGrad != "" {
			args := []jen.Code{inGradSlice(s, 0), gradSlice(s.out)}
			if v.inputReLU {
				args = append(args, inSlice(s.in))
			}
			args = append(args, param("t", s.weight), id("n"))
			code = append(code, id(v.inputGrad).Call(args...))
		}
		return append(code, addPartials(s)...)
	}
	var goBwd, vecBwd []jen.Code
	usesP, usesG, usesX, usesT := false, false, false, false
	for i := len(p.stages) - 1; i >= 0; i-- {
		s := p.stages[i]
		if !s.backward {
			continue
		}
		goBwd = append(goBwd, goBackward(s)...)
		if s.weight >= 0 {
			usesP, usesG = true, true
			usesX = usesX || s.in.input
		}
		if s.vec != nil {
			vecBwd = append(vecBwd, vecBackward(s)...)
			usesT = usesT || s.vec.transposedSize > 0
		} else {
			vecBwd = append(vecBwd, goBackward(s)...)
		}
	}
	bwdBody := goBwd
	if vec {
		bwdBody = append([]jen.Code{jen.If(id("vec")).Block(append(vecBwd, jen.Return())...)}, goBwd...)
	}
	if usesG {
		bwdBody = append([]jen.Code{id("g").Op(":=").Id("w").Dot("grads")}, bwdBody...)
	}
	named := func(use bool, name string) string {
		if use {
			return name
		}
		return "_"
	}
	bwdParams := []jen.Code{id(named(usesP, "p")).Op("*").Id("parameters")}
	if trans {
		bwdParams = append(bwdParams, id(named(usesT, "t")).Op("*").Id("transposed"))
	}
	bwdParams = append(bwdParams, vecParam.Clone(), id(named(len(goBwd) > 0, "n")).Int(), id(named(usesX, "x")).Add(tileArr(in)))
	if !p.hasBN() {
		f.Comment(wrapDoc("backward runs the layers backwards on the first n samples of the tile x, after forward and the loss gradient, adding the parameter gradients to w.grads; t holds the transposed weights of the vector input-gradient kernels."))
		f.Add(wrecv()).Id("backward").Params(bwdParams...).Block(bwdBody...)
	}

	// load.
	f.Comment(wrapDoc("load copies the k ≤ Tile samples of x that start at sample off into the worker's input tile and returns it. (The copy is small next to a tile's arithmetic, and it keeps the kernels on arrays without unsafe views.)"))
	f.Add(wrecv()).Id("load").Params(id("x").Index().Float32(), jen.List(id("off"), id("k")).Int()).Add(tileArr(in)).Block(
		jen.Copy(id("w").Dot("buf").Dot("x").Index(jen.Empty(), jen.Empty()),
			id("x").Index(id("off").Op("*").Id("InputSize"), jen.Parens(id("off").Op("+").Id("k")).Op("*").Id("InputSize"))),
		jen.Return(jen.Op("&").Id("w").Dot("buf").Dot("x")),
	)

	logitsOut := id("w").Dot("buf").Dot(p.logits.field + "Out")
	logitsGrad := id("w").Dot("buf").Dot(p.gradField(p.logits))
	// forwardCall runs the tile t of k samples forward on the parameters.
	forwardCall := func(tr jen.Code) *jen.Statement {
		return id("w").Dot("forward").Call(jen.Op("&").Id("j").Dot("m").Dot("params"), id("j").Dot("vec"), id("k"), id("t"), p.trArg(tr))
	}
	// tileFor loops over the tiles of job j's samples, loading each and
	// running forward (a forwardCall or a choice of calls) on it, then body.
	tileFor := func(forward jen.Code, body ...jen.Code) jen.Code {
		return jen.For(id("off").Op(":=").Id("j").Dot("lo"), id("off").Op("<").Id("j").Dot("hi"), id("off").Op("+=").Id("Tile")).Block(
			append([]jen.Code{
				id("k").Op(":=").Min(id("Tile"), id("j").Dot("hi").Op("-").Id("off")),
				id("t").Op(":=").Id("w").Dot("load").Call(id("j").Dot("x"), id("off"), id("k")),
				forward,
			}, body...)...)
	}
	// A forward job reads the packed weights when Forward packed them.
	inference := jen.Code(forwardCall(jen.Nil()))
	if p.hasPacked() {
		inference = jen.If(id("j").Dot("packed")).Block(
			id("w").Dot("forwardPacked").Call(jen.Op("&").Id("j").Dot("m").Dot("params"), jen.Op("&").Id("j").Dot("m").Dot("pk"), id("k"), id("t")),
		).Else().Block(forwardCall(jen.Nil()))
	}
	f.Comment(wrapDoc("forwardTiles writes the logits of samples [j.lo, j.hi) of j.x to j.logits, tile by tile."))
	f.Add(wrecv()).Id("forwardTiles").Params(id("j").Id("job")).Block(tileFor(inference,
		jen.Copy(id("j").Dot("logits").Index(id("off").Op("*").Id("Classes"), jen.Parens(id("off").Op("+").Id("k")).Op("*").Id("Classes")),
			logitsOut.Clone().Index(jen.Empty(), id("k").Op("*").Id("Classes"))),
	))

	bwdArgs := []jen.Code{jen.Op("&").Id("j").Dot("m").Dot("params")}
	if trans {
		bwdArgs = append(bwdArgs, jen.Op("&").Id("j").Dot("m").Dot("wt"))
	}
	bwdArgs = append(bwdArgs, id("j").Dot("vec"), id("k"), id("t"))
	// The loss is the runtime's, so that every engine computes it
	// alike; sample by sample, so that the float64 sum adds the
	// samples' losses one at a time, as the generic engine does.
	// lossFor is the loss of the count samples of the tile whose logits
	// are out, writing their gradient to grad.
	lossFor := func(out, grad *jen.Statement, count string) jen.Code {
		zdz := jen.List(id("z"), id("dz")).Op(":=").List(
			out.Clone().Index(id("s").Op("*").Id("Classes"), jen.Parens(id("s").Op("+").Lit(1)).Op("*").Id("Classes")),
			grad.Clone().Index(id("s").Op("*").Id("Classes"), jen.Parens(id("s").Op("+").Lit(1)).Op("*").Id("Classes")))
		var loss jen.Code = forUp("s", jen.Lit(0), id(count),
			zdz.Clone(),
			jen.List(id("l"), id("c")).Op(":=").Add(rt("SoftmaxCrossEntropy")).Call(
				id("z"), id("j").Dot("labels").Index(id("off").Op("+").Id("s"), id("off").Op("+").Id("s").Op("+").Lit(1)),
				id("Classes"), id("j").Dot("scale"), id("dz")),
			id("loss").Op("+=").Id("l"),
			id("correct").Op("+=").Id("c"),
		)
		if p.regression {
			loss = jen.If(id("j").Dot("targets").Op("!=").Nil()).Block(
				forUp("s", jen.Lit(0), id(count),
					zdz.Clone(),
					id("tgt").Op(":=").Id("j").Dot("targets").Index(jen.Parens(id("off").Op("+").Id("s")).Op("*").Id("Classes"), jen.Parens(id("off").Op("+").Id("s").Op("+").Lit(1)).Op("*").Id("Classes")),
					id("loss").Op("+=").Add(rt("SumSquaredError")).Call(id("z"), id("tgt"), id("j").Dot("scale"), id("dz")),
				),
			).Else().Block(loss)
		}
		return loss
	}
	loss := lossFor(logitsOut, logitsGrad, "k")
	bwdDoc := "backwardTiles runs samples [j.lo, j.hi) of j.x forward and back, overwriting w.grads with their gradient (times j.scale), and returns their summed loss and the number classified correctly."
	if p.regression {
		bwdDoc = "backwardTiles runs samples [j.lo, j.hi) of j.x forward and back, overwriting w.grads with their gradient (times j.scale), and returns their summed loss and the number classified correctly: the squared error against j.targets when set (correct is then 0), else the softmax cross-entropy against j.labels."
	}
	var trainState []jen.Code
	if p.training() {
		trainState = []jen.Code{
			jen.Comment("The dropout masks depend on the sample's index in the whole batch, not on the worker."),
			id("tr").Op(":=").Id("training").Values(jen.Id("seed").Op(":").Id("j").Dot("m").Dot("dropSeed"), jen.Id("step").Op(":").Id("j").Dot("m").Dot("dropStep")),
		}
	}
	trCall := jen.Null()
	if p.training() {
		trCall = id("tr").Dot("off").Op("=").Id("off")
	}
	var tile jen.Code
	if p.training() {
		tile = jen.For(id("off").Op(":=").Id("j").Dot("lo"), id("off").Op("<").Id("j").Dot("hi"), id("off").Op("+=").Id("Tile")).Block(
			id("k").Op(":=").Min(id("Tile"), id("j").Dot("hi").Op("-").Id("off")),
			id("t").Op(":=").Id("w").Dot("load").Call(id("j").Dot("x"), id("off"), id("k")),
			trCall,
			forwardCall(jen.Op("&").Id("tr")),
			loss,
			id("w").Dot("backward").Call(bwdArgs...),
		)
	} else {
		tile = tileFor(forwardCall(jen.Null()), loss, id("w").Dot("backward").Call(bwdArgs...))
	}
	if p.rewritesFrozen() {
		alias = p.frozenAlias()
		inPlace := p.frozenInPlace()
		for _, s := range p.stages {
			if inPlace[s] {
				fn := s.base + sufInPlace
				f.Comment(wrapDoc(fmt.Sprintf("%s applies %s in place to y, values of its input: Frozen's forward, where nothing else reads the input.", fn, describe(s))))
				body := p.standaloneActivation(s, "y")
				if s.layer.Kind == runtime.ReLU {
					// (gen/asm's kernel, which is the same loop in Go
					// without assembly.)
					body = id(reluVec).Call(id("y"), id("y"))
				}
				f.Func().Id(fn).Params(id("y").Index().Float32()).Block(body)
			}
		}
		fusedReLU := p.frozenReLUs()
		appliedBy := map[*stage]bool{}
		for _, r := range fusedReLU {
			appliedBy[r] = true
		}
		var body []jen.Code
		for _, s := range p.stages {
			switch {
			case appliedBy[s]:
				// Its convolution applies it (see below).
			case fusedReLU[s] != nil:
				args := []jen.Code{id("n"), inArr(s.in), inArr(s.out)}
				if s.vec.depthwise == "" && usesCols(s) {
					args = append(args, jen.Op("&").Add(root()).Dot(s.base+sufCols))
				}
				r := fusedReLU[s]
				body = append(body, jen.If(id("vec")).Block(
					id(s.base+sufForwardReLU).Call(append(args, param("p", s.weight), vecBias(s, "p"))...),
				).Else().Block(
					goForward(s, jen.Nil()),
					id(r.base+sufInPlace).Call(inSlice(r.in)),
				))
			case inPlace[s]:
				body = append(body, id(s.base+sufInPlace).Call(inSlice(s.in)))
			case s.layer.Kind == runtime.Dropout:
			case p.foldInto(s) != nil:
				if prod := p.foldInto(s); !prod.hasBias() {
					body = append(body, id(s.base+"Shift").Call(id("n"), inArr(prod.out), jen.Op("&").Id("shift").Dot(s.base+"Shift")))
				}
			case s.vec != nil:
				body = append(body, jen.If(id("vec")).Block(vecForward(s, p.hasPacked())).Else().Block(goForward(s, jen.Nil())))
			default:
				body = append(body, goForward(s, jen.Nil()))
			}
		}
		params := []jen.Code{id("p").Op("*").Id("parameters")}
		if p.hasPacked() {
			params = append(params, id("pk").Op("*").Id("packed"))
		}
		if len(p.shiftFields()) > 0 {
			params = append(params, id("shift").Op("*").Id("shifts"))
		}
		params = append(params, id(named(vec, "vec")).Bool(), id("n").Int(), id("x").Add(tileArr(in)))
		f.Comment(wrapDoc("forwardFrozen is Frozen's forward on the first n samples of the tile x: forward in evaluation mode without the dropout layers, with the batch norms that Freeze folded into the weights p left out (their shifts, for layers without a bias, added in place)."))
		f.Add(wrecv()).Id("forwardFrozen").Params(params...).Block(body...)
		alias = nil
	}
	if p.splitsOne() {
		alias = p.frozenAlias()
		inPlace := p.frozenInPlace()
		p.forwardPartMethod(f, partCode{
			stage: func(s *stage) jen.Code {
				switch {
				case inPlace[s]:
					return id(s.base + sufInPlace).Call(inSlice(s.in))
				case p.foldInto(s) != nil:
					return id(s.base+"Shift").Call(id("n"), inArr(p.foldInto(s).out), jen.Op("&").Id("shift").Dot(s.base+"Shift"))
				case s.vec != nil:
					return jen.If(id("vec")).Block(vecForward(s, p.hasPacked())).Else().Block(goForward(s, jen.Nil()))
				}
				return goForward(s, jen.Nil())
			},
			goStage: func(s *stage) jen.Code { return goForward(s, jen.Nil()) },
			oneArr:  oneArr,
			slice: func(b *buffer) *jen.Statement {
				if b = resolve(b); b.input {
					return id("x")
				}
				return root().Dot(b.field + "Out")
			},
			param:   param,
			vecBias: vecBias,
			cols: func(s *stage) *jen.Statement {
				return root().Dot(s.base+sufCols).Index(jen.Empty(), jen.Empty())
			},
		})
		alias = nil
	}
	if p.hasBN() {
		bufRoot, bnTrain = id("b"), true
		p.layerMajor(f, layerMajorCode{
			forward: func(s *stage) jen.Code {
				tr := p.trArg(jen.Op("&").Id("tr"))
				if p.reluFused(s) {
					// The batch norm before it has applied it.
					return jen.Null()
				}
				if s.vec == nil {
					return goForward(s, tr)
				}
				return jen.If(id("vec")).Block(vecForward(s, false)).Else().Block(goForward(s, tr))
			},
			backward: func(s *stage) []jen.Code {
				if s.vec == nil {
					return goBackward(s)
				}
				return []jen.Code{jen.If(id("vec")).Block(vecBackward(s)...).Else().Block(goBackward(s)...)}
			},
			inArr: inArr, gradArr: gradArr, inGradArr: inGradArr, addPartials: addPartials,
			loss: lossFor(id("b").Dot(p.logits.field+"Out"), id("b").Dot(p.gradField(p.logits)), "n"),
		})
		bufRoot, bnTrain = id("w").Dot("buf"), false
	} else {
		f.Comment(wrapDoc(bwdDoc))
		f.Add(wrecv()).Id("backwardTiles").Params(id("j").Id("job")).Params(id("loss").Float64(), id("correct").Int()).Block(
			append(append([]jen.Code{jen.Op("*").Id("w").Dot("grads").Op("=").Id("parameters").Values()}, trainState...),
				tile,
				jen.Return(id("loss"), id("correct")))...,
		)
	}

	// add.
	var adds []jen.Code
	for _, name := range p.params {
		adds = append(adds, forRange("i", jen.Op("&").Id("g").Dot(name), id("g").Dot(name).Index(id("i")).Op("+=").Id("o").Dot(name).Index(id("i"))))
	}
	f.Comment(wrapDoc("add adds o to g, value by value."))
	f.Func().Params(id("g").Op("*").Id("parameters")).Id("add").Params(id("o").Op("*").Id("parameters")).Block(adds...)

	// run.
	if p.hasBN() {
		p.layerMajorRun(f)
	} else {
		p.tileMajorRun(f)
	}

	// transpose.
	if trans {
		var ts []jen.Code
		for _, s := range p.stages {
			if s.vec != nil && s.vec.transposedSize > 0 {
				fill := s.vec.inputGrad + "Transpose"
				if s.vec.transposedConv {
					fill = s.base + sufFlip
				}
				ts = append(ts, id(fill).Call(jen.Op("&").Id("m").Dot("wt").Dot(p.params[s.weight]), jen.Op("&").Id("m").Dot("params").Dot(p.params[s.weight])))
			}
		}
		f.Comment(wrapDoc("transpose refreshes the transposed weights from the parameters."))
		f.Add(recv()).Id("transpose").Params().Block(ts...)
	}

	// isVector.
	f.Comment(wrapDoc("vector reports whether the active ISA (runtime.ActiveISA, CNNGEN_ISA, runtime.ForceISA) selects the vector kernels; it is read once per call."))
	vecExpr := jen.Lit(false)
	if vec {
		vecExpr = rt("ActiveISA").Call().Op("!=").Add(rt("PureGo"))
	}
	f.Func().Id("vector").Params().Bool().Block(jen.Return(vecExpr))

	// samples.
	f.Comment(wrapDoc("samples returns the number of samples in x, panicking when x is not a whole number of samples."))
	f.Func().Id("samples").Params(id("x").Index().Float32()).Int().Block(
		jen.If(jen.Len(id("x")).Op("%").Id("InputSize").Op("!=").Lit(0)).Block(
			jen.Panic(jen.Qual("fmt", "Sprintf").Call(jen.Lit(n.Name+": input of %d values is not a whole number of %d-value samples"), jen.Len(id("x")), id("InputSize"))),
		),
		jen.Return(jen.Len(id("x")).Op("/").Id("InputSize")),
	)

	// Forward.
	fwdCode := []jen.Code{
		id("n").Op(":=").Id("samples").Call(id("x")),
		jen.If(jen.Len(id("logits")).Op("<").Id("n").Op("*").Id("Classes")).Block(
			jen.Panic(jen.Qual("fmt", "Sprintf").Call(jen.Lit(n.Name+": %d logits for %d samples, want %d"), jen.Len(id("logits")), id("n"), id("n").Op("*").Id("Classes"))),
		),
		id("j").Op(":=").Id("job").Values(jen.Id("m").Op(":").Id("m"), jen.Id("vec").Op(":").Id("vector").Call(), jen.Id("x").Op(":").Id("x"), jen.Id("logits").Op(":").Id("logits")),
	}
	fwdDoc = "Forward writes to logits (n×Classes values) the logits of the n samples in x (n×InputSize values, each sample in HWC order), split across the workers."
	if p.hasPacked() {
		packs := p.packCalls(
			func() *jen.Statement { return id("m").Dot("pk") },
			func() *jen.Statement { return id("m").Dot("params") })
		fwdCode = append(fwdCode, jen.If(id("j").Dot("vec").Op("&&").Id("n").Op(">=").Id("packedForwardMin")).Block(
			append(packs, id("j").Dot("packed").Op("=").True())...,
		))
		fwdDoc += " A batch of at least packedForwardMin samples on a vector path first copies the dense weights into the padded layout (m.pk), whose GEMMs run ≈10 % faster; the copy is fresh at every call, so it never goes stale."
		f.Comment(wrapDoc(fmt.Sprintf("packedForwardMin is the smallest batch for which Forward packs the dense weights: the copy costs about what a %d-sample tile's forward saves on the padded layout, so it pays from a few tiles on.", p.tile)))
		f.Const().Id("packedForwardMin").Op("=").Lit(packedForwardTiles).Op("*").Id("Tile")
	}
	fwdCode = append(fwdCode, id("m").Dot("run").Call(id("j"), id("n")))
	f.Comment(wrapDoc(fwdDoc))
	f.Add(recv()).Id("Forward").Params(jen.List(id("x"), id("logits")).Index().Float32()).Block(fwdCode...)

	// Backward.
	bwdCall := []jen.Code{
		id("n").Op(":=").Len(id("labels")),
		jen.If(id("samples").Call(id("x")).Op("!=").Id("n")).Block(
			jen.Panic(jen.Qual("fmt", "Sprintf").Call(jen.Lit(n.Name+": %d input values for %d labels, want %d"), jen.Len(id("x")), id("n"), id("n").Op("*").Id("InputSize"))),
		),
		// Checked here, so that a bad label panics on the caller's
		// goroutine rather than crashing a worker's.
		jen.For(jen.List(id("s"), id("label")).Op(":=").Range().Id("labels")).Block(
			jen.If(id("label").Op("<").Lit(0).Op("||").Id("label").Op(">=").Id("Classes")).Block(
				jen.Panic(jen.Qual("fmt", "Sprintf").Call(jen.Lit(n.Name+": sample %d has label %d, want 0 ≤ label < %d"), id("s"), id("label"), id("Classes"))),
			),
		),
		id("vec").Op(":=").Id("vector").Call(),
	}
	if trans {
		bwdCall = append(bwdCall, jen.If(id("vec")).Block(id("m").Dot("transpose").Call()))
	}
	bwdCall = append(bwdCall, jen.Return(id("m").Dot("run").Call(id("job").Values(
		jen.Id("m").Op(":").Id("m"), jen.Id("vec").Op(":").Id("vec"), jen.Id("backward").Op(":").True(),
		jen.Id("x").Op(":").Id("x"), jen.Id("labels").Op(":").Id("labels"), jen.Id("scale").Op(":").Id("scale")), id("n"))))
	f.Comment(wrapDoc("Backward runs the n = len(labels) samples of x forward and back, split across the workers: it overwrites every parameter gradient with scale times the gradient of the summed softmax cross-entropy against labels, and returns that sum (unscaled) and how many samples the model classifies correctly (first maximum of the logits equal to the label)."))
	f.Add(recv()).Id("Backward").Params(id("x").Index().Float32(), id("labels").Index().Int32(), id("scale").Float32()).Params(id("loss").Float64(), id("correct").Int()).Block(bwdCall...)

	// Step.
	var sgd []jen.Code
	for _, name := range p.params {
		sgd = append(sgd, jen.For(id("i").Op(":=").Range().Op("&").Id("m").Dot("params").Dot(name)).Block(
			id("m").Dot("params").Dot(name).Index(id("i")).Op("-=").Id("lr").Op("*").Id("m").Dot("grads").Dot(name).Index(id("i")),
		))
	}
	if p.regression {
		f.Comment(wrapDoc("BackwardSquaredError runs the n samples of x forward and back, split across the workers: it overwrites every parameter gradient with scale times the gradient of Σ (y−t)², summed over the samples and the outputs, where targets holds n×Classes values, and returns that sum (unscaled). It implements runtime.Regressor."))
		sqCall := []jen.Code{
			id("n").Op(":=").Id("samples").Call(id("x")),
			jen.If(jen.Len(id("targets")).Op("!=").Id("n").Op("*").Id("Classes")).Block(
				jen.Panic(jen.Qual("fmt", "Sprintf").Call(jen.Lit(n.Name+": %d targets for %d samples, want %d"), jen.Len(id("targets")), id("n"), id("n").Op("*").Id("Classes"))),
			),
			id("vec").Op(":=").Id("vector").Call(),
		}
		if trans {
			sqCall = append(sqCall, jen.If(id("vec")).Block(id("m").Dot("transpose").Call()))
		}
		sqCall = append(sqCall,
			jen.List(id("loss"), id("_")).Op("=").Id("m").Dot("run").Call(id("job").Values(
				jen.Id("m").Op(":").Id("m"), jen.Id("vec").Op(":").Id("vec"), jen.Id("backward").Op(":").True(),
				jen.Id("x").Op(":").Id("x"), jen.Id("targets").Op(":").Id("targets"), jen.Id("scale").Op(":").Id("scale")), id("n")),
			jen.Return(id("loss")))
		f.Add(recv()).Id("BackwardSquaredError").Params(jen.List(id("x"), id("targets")).Index().Float32(), id("scale").Float32()).Params(id("loss").Float64()).Block(sqCall...)
		f.Var().Id("_").Add(rt("Regressor")).Op("=").Parens(jen.Op("*").Id("Model")).Parens(jen.Nil())
	}
	if p.training() {
		f.Comment(wrapDoc("SetDropoutStep sets the seed and step from which the next Backward calls draw their dropout masks (runtime.DropoutMask); before any call, both are 0. It implements runtime.Stochastic."))
		f.Add(recv()).Id("SetDropoutStep").Params(jen.List(id("seed"), id("step")).Uint64()).Block(
			jen.List(id("m").Dot("dropSeed"), id("m").Dot("dropStep")).Op("=").List(id("seed"), id("step")),
		)
		f.Var().Id("_").Add(rt("Stochastic")).Op("=").Parens(jen.Op("*").Id("Model")).Parens(jen.Nil())
		f.Comment(wrapDoc("training is the state of a training forward pass: the seed and step of the dropout masks, and the index in the batch of the tile's first sample."))
		f.Type().Id("training").Struct(
			jen.List(id("seed"), id("step")).Uint64(),
			id("off").Int(),
		)
	}

	f.Comment(wrapDoc("Step is one step of plain gradient descent on the batch: Backward(x, labels, 1) and then θ −= lr·∂loss/∂θ for every parameter. It returns the summed loss and the number of correct samples before the update."))
	f.Add(recv()).Id("Step").Params(id("x").Index().Float32(), id("labels").Index().Int32(), id("lr").Float32()).Params(id("loss").Float64(), id("correct").Int()).Block(
		append([]jen.Code{jen.List(id("loss"), id("correct")).Op("=").Id("m").Dot("Backward").Call(id("x"), id("labels"), jen.Lit(1))},
			append(sgd, jen.Return(id("loss"), id("correct")))...)...,
	)

	// Logits.
	f.Comment(wrapDoc("Logits writes the logits of one sample x (HWC order) to logits, on the caller's goroutine (worker 0's buffers)."))
	f.Add(recv()).Id("Logits").Params(id("x").Op("*").Index(id("InputSize")).Float32(), id("logits").Op("*").Index(id("Classes")).Float32()).Block(
		id("w").Op(":=").Id("m").Dot("workers").Index(jen.Lit(0)),
		jen.Op("*").Parens(jen.Op("*").Index(id("InputSize")).Float32()).Parens(id("w").Dot("buf").Dot("x").Index(jen.Empty(), jen.Empty())).Op("=").Op("*").Id("x"),
		id("w").Dot("forward").Call(jen.Op("&").Id("m").Dot("params"), id("vector").Call(), jen.Lit(1), jen.Op("&").Id("w").Dot("buf").Dot("x"), p.trArg(jen.Nil())),
		jen.Op("*").Id("logits").Op("=").Index(id("Classes")).Float32().Parens(logitsOut.Clone().Index(jen.Empty(), id("Classes"))),
	)
}
