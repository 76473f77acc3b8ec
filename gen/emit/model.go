package emit

import (
	"fmt"
	"strings"

	"github.com/cnngen/cnngen/runtime"
	"github.com/dave/jennifer/jen"
)

// runtimePath is the import path of cnngen's runtime.
const runtimePath = "github.com/cnngen/cnngen/runtime"

// runtimeVersion is the runtime constant that every generated package
// references, so that a runtime which does not support the generated code
// fails to compile it with a name that says why; see
// runtime.SupportPackageIsVersion1.
const runtimeVersion = "SupportPackageIsVersion1"

// The generator and the runtime come from the same module: the generator
// must not build against a runtime without the version it writes.
var _ = runtime.SupportPackageIsVersion1

func rt(name string) *jen.Statement { return jen.Qual(runtimePath, name) }

// modelFile emits model.go: constants, the parameter and buffer structs, the
// Model type and its methods.
func (p *plan) modelFile(f *jen.File) {
	// The Go runtime (GOMAXPROCS, AddCleanup) beside cnngen's runtime.
	f.ImportAlias("runtime", "goruntime")
	n := p.net
	in := n.Input
	f.Const().Defs(
		jen.Comment(wrapDoc("InputHeight, InputWidth and InputChannels are the shape of one input sample (HWC).")),
		jen.Id("InputHeight").Op("=").Lit(in.Height),
		jen.Id("InputWidth").Op("=").Lit(in.Width),
		jen.Id("InputChannels").Op("=").Lit(in.Channels),
		jen.Comment(wrapDoc("InputSize is the number of values in one input sample.")),
		jen.Id("InputSize").Op("=").Lit(in.Size()),
		jen.Comment(wrapDoc("Classes is the number of outputs (logits, probabilities) per sample.")),
		jen.Id("Classes").Op("=").Lit(n.Classes),
		jen.Comment(wrapDoc("Tile is the number of samples the kernels process together; batches are cut into tiles.")),
		jen.Id("Tile").Op("=").Lit(p.tile),
		jen.Comment(wrapDoc("ParamCount is the number of trainable values.")),
		jen.Id("ParamCount").Op("=").Lit(p.paramCount()),
	)
	f.Comment(wrapDoc("This package needs the runtime API version it was generated for: with a runtime that does not support it, the build fails on this line (regenerate the package with the cnngen of the runtime's module version)."))
	f.Const().Id("_").Op("=").Qual(runtimePath, runtimeVersion)

	// parameters: one array per trainable tensor, in the standard layout.
	var fields []jen.Code
	for i, pi := range n.Params {
		fields = append(fields, jen.Comment(wrapDoc(fmt.Sprintf("%s is %s %v.", p.params[i], pi.Name, pi.ShapeString()))), jen.Id(p.params[i]).Add(floatArr(pi.Size())))
	}
	pdoc := "parameters holds one value per trainable scalar, each tensor in the standard layout of runtime.ParamInfo (conv HWIO, dense [in][units])."
	if p.hasBN() {
		fields = append(fields, p.bufferFields()...)
		pdoc += " It also holds the batch norm buffers, so that a Frozen copies them with the parameters; they have no gradient."
	}
	f.Comment(wrapDoc(pdoc))
	f.Type().Id("parameters").Struct(fields...)

	// tileBuffers: activations and their gradients for one tile.
	fields = []jen.Code{
		jen.Comment(wrapDoc("x holds the input samples of the tile being processed (a copy: the kernels work on arrays).")),
		jen.Id("x").Add(tileType(p.input.size)),
	}
	for _, s := range p.stages {
		fields = append(fields, jen.Comment(wrapDoc(fmt.Sprintf("%sOut is the output of %s.", s.base, describe(s)))),
			jen.Id(s.base+"Out").Add(tileType(s.out.size)))
		if s.layer.Kind == runtime.MaxPool {
			fields = append(fields, jen.Comment(wrapDoc(fmt.Sprintf("%sArg is the input index of each window's first maximum.", s.base))),
				jen.Id(s.base+"Arg").Index(jen.Id("Tile").Op("*").Lit(s.out.size)).Int32())
		}
	}
	_, slotOf := p.gradLayout()
	declared := map[*gradSlot]bool{}
	for _, s := range p.stages {
		if slot := slotOf[s.out]; p.gradNeeded(s.out) && !declared[slot] {
			declared[slot] = true
			doc := fmt.Sprintf("%s is the gradient of the loss with respect to %sOut.", slot.field, s.base)
			if len(slot.bufs) > 1 {
				var outs []string
				for _, b := range slot.bufs {
					outs = append(outs, b.field+"Out")
				}
				doc = fmt.Sprintf("%s holds the gradient of the loss with respect to each of %s in turn: the backward pass never needs two of them at once.", slot.field, strings.Join(outs, ", "))
			}
			fields = append(fields, jen.Comment(wrapDoc(doc)), jen.Id(slot.field).Add(tileType(s.out.size)))
		}
		if s.out.partial {
			fields = append(fields, jen.Comment(wrapDoc(fmt.Sprintf("%sPartial receives one consumer's share of the gradient with respect to %sOut, which is then added to %sGrad: %s feeds several layers.", s.base, s.base, s.base, s.layer.Name))),
				jen.Id(s.base+"Partial").Add(tileType(s.out.size)))
		}
	}
	for _, s := range p.stages {
		if s.layer.Kind == runtime.Dropout {
			fields = append(fields, jen.Comment(wrapDoc(fmt.Sprintf("%sMask is the dropout mask of %s in training (0 or 1/(1−rate) per value), which the backward pass reuses.", s.base, s.layer.Name))),
				jen.Id(s.base+"Mask").Add(tileType(s.out.size)))
		}
	}
	for _, s := range p.stages {
		if usesCols(s) {
			fields = append(fields, jen.Comment(wrapDoc(fmt.Sprintf("%s%s is the im2col matrix of %s's vector path, for %d samples (and its gradient in the backward pass).", s.base, sufCols, s.layer.Name, s.vec.group))),
				jen.Id(s.base+sufCols).Add(floatArr(colsSize(s))))
		}
	}
	if w := p.noBiasWidth(); w > 0 {
		fields = append(fields, jen.Comment(wrapDoc("biasSink receives the bias gradients that the vector kernels compute for layers without a bias; nothing reads it.")),
			jen.Id("biasSink").Add(floatArr(w)))
		f.Comment(wrapDoc("zeroBias is the bias that the vector kernels add for layers without one; nothing writes it."))
		f.Var().Id("zeroBias").Add(floatArr(w))
	}
	f.Comment(wrapDoc("tileBuffers holds the activations of one tile of samples and their gradients."))
	f.Type().Id("tileBuffers").Struct(fields...)

	if p.hasTransposed() {
		var tf []jen.Code
		for _, s := range p.stages {
			if s.vec != nil && s.vec.transposedSize > 0 {
				how := "transposed"
				if s.vec.transposedConv {
					how = "flipped and transposed"
				}
				tf = append(tf, jen.Comment(wrapDoc(fmt.Sprintf("%s is %s %s for %s, rows padded to whole vectors.", p.params[s.weight], p.net.Params[s.weight].Name, how, s.vec.inputGrad))),
					jen.Id(p.params[s.weight]).Add(floatArr(s.vec.transposedSize)))
			}
		}
		f.Comment(wrapDoc("transposed holds the weights in the layouts of the vector input-gradient kernels. Backward refreshes them from the parameters at every call on a vector path, because optimizers write the parameters through Params without telling the model."))
		f.Type().Id("transposed").Struct(tf...)
	}

	f.Comment(wrapDoc(fmt.Sprintf("Model is the %s network with its parameters, gradients and work buffers in fixed-size arrays. It implements runtime.Model. Forward and Backward split a batch into even shards of samples, one per worker but no more than tiles (see SetWorkers); for a given batch and worker count the results do not depend on timing. A Model is not safe for concurrent use: every method uses its buffers; distinct Models are independent.", n.Name)))
	var modelFields []jen.Code
	if p.hasPacked() {
		modelFields = append(modelFields,
			jen.Comment(wrapDoc("pk holds the dense weights in Frozen's padded layout for the forward kernels of large batches; Forward refreshes it at every such call. It comes first: a Model is a large allocation, which starts on a page boundary, so the padded rows are 64-byte aligned.")),
			jen.Id("pk").Id("packed"))
	}
	modelFields = append(modelFields,
		jen.Id("params").Id("parameters"),
		jen.Comment(wrapDoc("grads is the gradient of the last Backward: worker 0's, plus the others' in worker order.")),
		jen.Id("grads").Id("parameters"),
	)
	if p.hasTransposed() {
		modelFields = append(modelFields, jen.Id("wt").Id("transposed"))
	}
	modelFields = append(modelFields,
		jen.Id("list").Index().Add(rt("Param")),
		jen.Comment(wrapDoc("workers[0] runs on the caller's goroutine; the others each on a goroutine of their own, fed by their jobs channel.")),
		jen.Id("workers").Index().Op("*").Id("worker"),
		jen.Comment(wrapDoc("stop closes the jobs channels of workers[1:] once the Model is unreachable.")),
		jen.Id("stop").Qual("runtime", "Cleanup"),
	)
	if p.hasBN() {
		modelFields = append(modelFields,
			jen.Comment(wrapDoc("stats holds the batch statistics of a layer-major Backward.")),
			jen.Id("stats").Id("stats"))
	}
	if p.training() {
		modelFields = append(modelFields,
			jen.Comment(wrapDoc("dropSeed and dropStep select the dropout masks of Backward (SetDropoutStep).")),
			jen.List(jen.Id("dropSeed"), jen.Id("dropStep")).Uint64())
	}
	f.Type().Id("Model").Struct(modelFields...)
	f.Var().Id("_").Add(rt("Model")).Op("=").Parens(jen.Op("*").Id("Model")).Parens(jen.Nil())

	// New.
	var list []jen.Code
	for i, pi := range n.Params {
		shape := make([]jen.Code, len(pi.Shape))
		for j, d := range pi.Shape {
			shape[j] = jen.Lit(d)
		}
		list = append(list, jen.Values(
			jen.Line().Add(field("ParamInfo", rt("ParamInfo").Values(
				field("Name", jen.Lit(pi.Name)),
				field("Layer", jen.Lit(pi.Layer)),
				field("Shape", jen.Index().Int().Values(shape...)),
				field("FanIn", jen.Lit(pi.FanIn)),
				field("Init", initLit(pi.Init)),
				inShape(pi.InShape),
			))),
			jen.Line().Add(field("Value", jen.Id("m").Dot("params").Dot(p.params[i]).Index(jen.Empty(), jen.Empty()))),
			jen.Line().Add(field("Grad", jen.Id("m").Dot("grads").Dot(p.params[i]).Index(jen.Empty(), jen.Empty()))),
			jen.Line(),
		))
	}
	f.Comment(wrapDoc("New returns a model whose parameters are all zero, with as many workers as the Go runtime's GOMAXPROCS(0); call Init (or load a checkpoint through Params) before training."))
	newBody := []jen.Code{
		jen.Id("m").Op(":=").New(jen.Id("Model")),
		jen.Id("m").Dot("list").Op("=").Index().Add(rt("Param")).ValuesFunc(func(g *jen.Group) {
			for _, c := range list {
				g.Add(jen.Line(), c)
			}
			if len(list) > 0 {
				g.Line()
			}
		}),
	}
	newBody = append(newBody, p.resetBuffers(func() *jen.Statement { return jen.Id("m").Dot("params") })...)
	newBody = append(newBody,
		jen.Id("m").Dot("SetWorkers").Call(jen.Qual("runtime", "GOMAXPROCS").Call(jen.Lit(0))),
		jen.Return(jen.Id("m")),
	)
	f.Func().Id("New").Params().Op("*").Id("Model").Block(newBody...)

	recv := func() *jen.Statement { return jen.Func().Params(jen.Id("m").Op("*").Id("Model")) }

	initDoc := "Init sets every parameter to its initial value for seed, drawn by runtime.InitParams: for a given seed every engine starts from the same weights."
	if p.hasBN() {
		initDoc += " It also resets the batch norm buffers (running mean 0, running variance 1, no batches)."
	}
	f.Comment(wrapDoc(initDoc))
	f.Add(recv()).Id("Init").Params(jen.Id("seed").Uint64()).Block(
		append([]jen.Code{rt("InitParams").Call(jen.Id("m").Dot("list"), jen.Id("seed"))}, p.resetBuffers(func() *jen.Statement { return jen.Id("m").Dot("params") })...)...,
	)
	if p.hasBN() {
		p.buffersMethod(f)
		p.statsTypes(f)
		p.reduceMethod(f)
	}

	f.Comment(wrapDoc("Name returns the network's name, " + fmt.Sprintf("%q", n.Name) + "."))
	f.Add(recv()).Id("Name").Params().String().Block(jen.Return(jen.Lit(n.Name)))

	f.Comment(wrapDoc("InputShape returns the shape of one input sample."))
	f.Add(recv()).Id("InputShape").Params().Add(rt("Shape")).Block(jen.Return(rt("Shape").Values(
		field("Height", jen.Id("InputHeight")), field("Width", jen.Id("InputWidth")), field("Channels", jen.Id("InputChannels")))))

	f.Comment(wrapDoc("Classes returns the number of outputs per sample."))
	f.Add(recv()).Id("Classes").Params().Int().Block(jen.Return(jen.Id("Classes")))

	f.Comment(wrapDoc("Params lists the trainable tensors (per layer, weight then bias) in the standard layout; Value and Grad alias the model's arrays."))
	f.Add(recv()).Id("Params").Params().Index().Add(rt("Param")).Block(jen.Return(jen.Id("m").Dot("list")))

	// Arch.
	f.Comment(wrapDoc("Arch returns the network's architecture as the runtime describes it, from which runtime.NewGeneric builds the reference engine."))
	f.Func().Id("Arch").Params().Add(rt("Arch")).Block(jen.Return(p.archLit()))

	p.runMethods(f)

	f.Comment(wrapDoc("Predict writes the class probabilities (softmax of the logits) of one sample x (HWC order) to probs."))
	f.Add(recv()).Id("Predict").Params(jen.Id("x").Op("*").Index(jen.Id("InputSize")).Float32(), jen.Id("probs").Op("*").Index(jen.Id("Classes")).Float32()).Block(
		jen.Var().Id("z").Index(jen.Id("Classes")).Float32(),
		jen.Id("m").Dot("Logits").Call(jen.Id("x"), jen.Op("&").Id("z")),
		jen.Id("softmax").Call(jen.Op("&").Id("z"), jen.Id("probs")),
	)
}

// gradNeeded reports whether the gradient of buffer b is computed: it is
// when a stage that consumes b runs backward, or b holds the logits.
func (p *plan) gradNeeded(b *buffer) bool {
	if b == p.logits {
		return true
	}
	for _, s := range b.consumers {
		if s.backward {
			return true
		}
	}
	return false
}

// usesInput reports whether the backward pass reads the network input.
func (p *plan) usesInput() bool {
	for _, s := range p.input.consumers {
		if s.backward && (s.layer.Kind == runtime.Conv2D || s.layer.Kind == runtime.Dense) {
			return true
		}
	}
	return false
}

func (p *plan) paramCount() int {
	total := 0
	for _, pi := range p.net.Params {
		total += pi.Size()
	}
	return total
}

// inShape is the InShape field of a dense weight's ParamInfo, or nothing.
func inShape(sh runtime.Shape) jen.Code {
	if sh == (runtime.Shape{}) {
		return jen.Null()
	}
	return field("InShape", rt("Shape").Values(
		field("Height", jen.Lit(sh.Height)), field("Width", jen.Lit(sh.Width)), field("Channels", jen.Lit(sh.Channels))))
}

// initLit is the runtime.Init literal of in.
func initLit(in runtime.Init) *jen.Statement {
	kind := "InitZeros"
	switch in.Kind {
	case runtime.InitNormal:
		kind = "InitNormal"
	case runtime.InitUniform:
		kind = "InitUniform"
	case runtime.InitOnes:
		kind = "InitOnes"
	}
	fields := []jen.Code{field("Kind", rt(kind))}
	if in.Scale != 0 {
		fields = append(fields, field("Scale", jen.Lit(in.Scale)))
	}
	return rt("Init").Values(fields...)
}

// archLit is the runtime.Arch literal of the network.
func (p *plan) archLit() *jen.Statement {
	n := p.net
	layers := make([]jen.Code, 0, len(n.Layers))
	for _, l := range n.Layers {
		d := []jen.Code{field("Kind", rt(kindNames[l.Kind])), field("Name", jen.Lit(l.Name))}
		if len(l.LayerSpec.Inputs) > 0 {
			names := make([]jen.Code, len(l.LayerSpec.Inputs))
			for i, name := range l.LayerSpec.Inputs {
				names[i] = jen.Lit(name)
			}
			d = append(d, field("Inputs", jen.Index().String().Values(names...)))
		}
		set := func(name string, v int) {
			if v != 0 {
				d = append(d, field(name, jen.Lit(v)))
			}
		}
		setFloat := func(name string, v float64) {
			if v != 0 {
				d = append(d, field(name, jen.Lit(v)))
			}
		}
		set("Filters", l.Filters)
		set("KernelH", l.KernelH)
		set("KernelW", l.KernelW)
		set("StrideH", l.StrideH)
		set("StrideW", l.StrideW)
		if l.Padding == runtime.Same {
			d = append(d, field("Padding", rt("Same")))
		}
		set("Groups", l.Groups)
		set("Units", l.Units)
		if l.NoBias {
			d = append(d, field("NoBias", jen.True()))
		}
		setFloat("Momentum", l.Momentum)
		setFloat("Epsilon", l.Epsilon)
		setFloat("Alpha", l.Alpha)
		setFloat("Rate", l.Rate)
		if l.WeightInit != (runtime.Init{}) {
			d = append(d, field("WeightInit", initLit(l.WeightInit)))
		}
		if l.BiasInit != (runtime.Init{}) {
			d = append(d, field("BiasInit", initLit(l.BiasInit)))
		}
		layers = append(layers, jen.Line().Values(d...))
	}
	if len(layers) > 0 {
		layers = append(layers, jen.Line())
	}
	return rt("Arch").Values(
		jen.Line().Add(field("Name", jen.Lit(n.Name))),
		jen.Line().Add(field("Input", rt("Shape").Values(
			field("Height", jen.Lit(n.Input.Height)), field("Width", jen.Lit(n.Input.Width)), field("Channels", jen.Lit(n.Input.Channels))))),
		jen.Line().Add(field("Layers", jen.Index().Add(rt("LayerSpec")).Values(layers...))),
		jen.Line(),
	)
}

// field is the keyed element `name: value` of a composite literal; unlike
// jen.Dict, a list of fields keeps the order given.
func field(name string, value jen.Code) *jen.Statement {
	return jen.Id(name).Op(":").Add(value)
}

// kindNames are the runtime's constant names of the layer kinds.
var kindNames = map[runtime.LayerKind]string{
	runtime.Conv2D:  "Conv2D",
	runtime.ReLU:    "ReLU",
	runtime.Sigmoid: "Sigmoid",
	runtime.Tanh:    "Tanh",
	runtime.MaxPool: "MaxPool",
	runtime.AvgPool: "AvgPool",
	runtime.Flatten: "Flatten",
	runtime.Dense:   "Dense",
	runtime.Softmax: "Softmax",

	runtime.BatchNorm:     "BatchNorm",
	runtime.Add:           "Add",
	runtime.Concat:        "Concat",
	runtime.GlobalAvgPool: "GlobalAvgPool",
	runtime.Dropout:       "Dropout",
	runtime.ReLU6:         "ReLU6",
	runtime.LeakyReLU:     "LeakyReLU",
}
