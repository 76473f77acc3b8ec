package emit

import (
	"fmt"

	"github.com/cnngen/cnngen/runtime"
	"github.com/dave/jennifer/jen"
)

// runtimePath is the import path of cnngen's runtime.
const runtimePath = "github.com/cnngen/cnngen/runtime"

func rt(name string) *jen.Statement { return jen.Qual(runtimePath, name) }

// modelFile emits model.go: constants, the parameter and buffer structs, the
// Model type and its methods.
func (p *plan) modelFile(f *jen.File) {
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
		jen.Id("Tile").Op("=").Lit(Tile),
		jen.Comment(wrapDoc("ParamCount is the number of trainable values.")),
		jen.Id("ParamCount").Op("=").Lit(p.paramCount()),
	)

	// parameters: one array per trainable tensor, in the standard layout.
	var fields []jen.Code
	for i, pi := range n.Params {
		fields = append(fields, jen.Comment(wrapDoc(fmt.Sprintf("%s is %s %v.", p.params[i], pi.Name, pi.ShapeString()))), jen.Id(p.params[i]).Add(floatArr(pi.Size())))
	}
	f.Comment(wrapDoc("parameters holds one value per trainable scalar, each tensor in the standard layout of runtime.ParamInfo (conv HWIO, dense [in][units])."))
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
	for _, s := range p.stages {
		if p.gradNeeded(s.out) {
			fields = append(fields, jen.Comment(wrapDoc(fmt.Sprintf("%sGrad is the gradient of the loss with respect to %sOut.", s.base, s.base))),
				jen.Id(s.base+"Grad").Add(tileType(s.out.size)))
		}
	}
	f.Comment(wrapDoc("tileBuffers holds the activations of one tile of samples and their gradients."))
	f.Type().Id("tileBuffers").Struct(fields...)

	f.Comment(wrapDoc(fmt.Sprintf("Model is the %s network with its parameters, gradients and work buffers in fixed-size arrays. It implements runtime.Model. A Model is not safe for concurrent use: every method uses its buffers.", n.Name)))
	f.Type().Id("Model").Struct(
		jen.Id("params").Id("parameters"),
		jen.Id("grads").Id("parameters"),
		jen.Id("buf").Id("tileBuffers"),
		jen.Id("list").Index().Add(rt("Param")),
	)
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
	f.Comment(wrapDoc("New returns a model whose parameters are all zero; call Init (or load a checkpoint through Params) before training."))
	f.Func().Id("New").Params().Op("*").Id("Model").Block(
		jen.Id("m").Op(":=").New(jen.Id("Model")),
		jen.Id("m").Dot("list").Op("=").Index().Add(rt("Param")).ValuesFunc(func(g *jen.Group) {
			for _, c := range list {
				g.Add(jen.Line(), c)
			}
			if len(list) > 0 {
				g.Line()
			}
		}),
		jen.Return(jen.Id("m")),
	)

	recv := func() *jen.Statement { return jen.Func().Params(jen.Id("m").Op("*").Id("Model")) }

	f.Comment(wrapDoc("Init sets every parameter to its initial value for seed, drawn by runtime.InitParams: for a given seed every engine starts from the same weights."))
	f.Add(recv()).Id("Init").Params(jen.Id("seed").Uint64()).Block(
		rt("InitParams").Call(jen.Id("m").Dot("list"), jen.Id("seed")),
	)

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

	// forward / backward over one tile.
	var fwd []jen.Code
	inBuf := func(b *buffer) *jen.Statement {
		if b.input {
			return jen.Id("x")
		}
		return jen.Op("&").Id("m").Dot("buf").Dot(b.field + "Out")
	}
	gradBuf := func(b *buffer) *jen.Statement { return jen.Op("&").Id("m").Dot("buf").Dot(b.field + "Grad") }
	param := func(set string, i int) *jen.Statement { return jen.Op("&").Id("m").Dot(set).Dot(p.params[i]) }
	for _, s := range p.stages {
		args := []jen.Code{jen.Id("n"), inBuf(s.in), inBuf(s.out)}
		switch s.layer.Kind {
		case runtime.Conv2D, runtime.Dense:
			args = append(args, param("params", s.weight), param("params", s.bias))
		case runtime.MaxPool:
			args = append(args, jen.Op("&").Id("m").Dot("buf").Dot(s.base+"Arg"))
		}
		fwd = append(fwd, jen.Id(s.base+"Forward").Call(args...))
	}
	f.Comment(wrapDoc("forward runs the layers on the first n samples of the tile x."))
	f.Add(recv()).Id("forward").Params(jen.Id("n").Int(), jen.Id("x").Add(tileArr(p.input.size))).Block(fwd...)

	var bwd []jen.Code
	for i := len(p.stages) - 1; i >= 0; i-- {
		s := p.stages[i]
		if !s.backward {
			continue
		}
		var args []jen.Code
		switch s.layer.Kind {
		case runtime.Conv2D, runtime.Dense:
			args = []jen.Code{jen.Id("n"), inBuf(s.in), inBuf(s.out), gradBuf(s.out)}
			if s.inGrad {
				args = append(args, gradBuf(s.in))
			}
			args = append(args, param("params", s.weight), param("grads", s.weight), param("grads", s.bias))
		case runtime.MaxPool:
			args = []jen.Code{jen.Id("n"), gradBuf(s.out), jen.Op("&").Id("m").Dot("buf").Dot(s.base + "Arg"), gradBuf(s.in)}
		case runtime.AvgPool:
			args = []jen.Code{jen.Id("n"), gradBuf(s.out), gradBuf(s.in)}
		default:
			args = []jen.Code{jen.Id("n"), inBuf(s.out), gradBuf(s.out), gradBuf(s.in)}
		}
		bwd = append(bwd, jen.Id(s.base+"Backward").Call(args...))
	}
	f.Comment(wrapDoc("backward runs the layers backwards on the first n samples of the tile x, after forward and the loss gradient, accumulating the parameter gradients."))
	backwardParams := []jen.Code{jen.Id("n").Int(), jen.Id("x").Add(tileArr(p.input.size))}
	if !p.usesInput() {
		backwardParams[1] = jen.Id("_").Add(tileArr(p.input.size))
	}
	if len(bwd) == 0 {
		backwardParams[0] = jen.Id("_").Int()
	}
	f.Add(recv()).Id("backward").Params(backwardParams...).Block(bwd...)

	// load.
	f.Comment(wrapDoc("load copies the k ≤ Tile samples of x that start at sample off into the model's input tile and returns it. (The copy is small next to a tile's arithmetic, and it keeps the kernels on arrays without unsafe views.)"))
	f.Add(recv()).Id("load").Params(jen.Id("x").Index().Float32(), jen.List(jen.Id("off"), jen.Id("k")).Int()).Add(tileArr(p.input.size)).Block(
		jen.Copy(jen.Id("m").Dot("buf").Dot("x").Index(jen.Empty(), jen.Empty()),
			jen.Id("x").Index(jen.Id("off").Op("*").Id("InputSize"), jen.Parens(jen.Id("off").Op("+").Id("k")).Op("*").Id("InputSize"))),
		jen.Return(jen.Op("&").Id("m").Dot("buf").Dot("x")),
	)

	// batch size check.
	f.Comment(wrapDoc("samples returns the number of samples in x, panicking when x is not a whole number of samples."))
	f.Func().Id("samples").Params(jen.Id("x").Index().Float32()).Int().Block(
		jen.If(jen.Len(jen.Id("x")).Op("%").Id("InputSize").Op("!=").Lit(0)).Block(
			jen.Panic(jen.Qual("fmt", "Sprintf").Call(jen.Lit(n.Name+": input of %d values is not a whole number of %d-value samples"), jen.Len(jen.Id("x")), jen.Id("InputSize"))),
		),
		jen.Return(jen.Len(jen.Id("x")).Op("/").Id("InputSize")),
	)

	// Forward.
	f.Comment(wrapDoc("Forward writes to logits (n×Classes values) the logits of the n samples in x (n×InputSize values, each sample in HWC order)."))
	f.Add(recv()).Id("Forward").Params(jen.List(jen.Id("x"), jen.Id("logits")).Index().Float32()).Block(
		jen.Id("n").Op(":=").Id("samples").Call(jen.Id("x")),
		jen.If(jen.Len(jen.Id("logits")).Op("<").Id("n").Op("*").Id("Classes")).Block(
			jen.Panic(jen.Qual("fmt", "Sprintf").Call(jen.Lit(n.Name+": %d logits for %d samples, want %d"), jen.Len(jen.Id("logits")), jen.Id("n"), jen.Id("n").Op("*").Id("Classes"))),
		),
		jen.For(jen.Id("off").Op(":=").Lit(0), jen.Id("off").Op("<").Id("n"), jen.Id("off").Op("+=").Id("Tile")).Block(
			jen.Id("k").Op(":=").Min(jen.Id("Tile"), jen.Id("n").Op("-").Id("off")),
			jen.Id("t").Op(":=").Id("m").Dot("load").Call(jen.Id("x"), jen.Id("off"), jen.Id("k")),
			jen.Id("m").Dot("forward").Call(jen.Id("k"), jen.Id("t")),
			jen.Copy(jen.Id("logits").Index(jen.Id("off").Op("*").Id("Classes"), jen.Parens(jen.Id("off").Op("+").Id("k")).Op("*").Id("Classes")),
				jen.Id("m").Dot("buf").Dot(p.logits.field+"Out").Index(jen.Empty(), jen.Id("k").Op("*").Id("Classes"))),
		),
	)

	// Backward.
	f.Comment(wrapDoc("Backward runs the n = len(labels) samples of x forward and back: it overwrites every parameter gradient with scale times the gradient of the summed softmax cross-entropy against labels, and returns that sum (unscaled) and how many samples the model classifies correctly (first maximum of the logits equal to the label)."))
	f.Add(recv()).Id("Backward").Params(jen.Id("x").Index().Float32(), jen.Id("labels").Index().Int32(), jen.Id("scale").Float32()).Params(jen.Id("loss").Float64(), jen.Id("correct").Int()).Block(
		jen.Id("n").Op(":=").Len(jen.Id("labels")),
		jen.If(jen.Id("samples").Call(jen.Id("x")).Op("!=").Id("n")).Block(
			jen.Panic(jen.Qual("fmt", "Sprintf").Call(jen.Lit(n.Name+": %d input values for %d labels, want %d"), jen.Len(jen.Id("x")), jen.Id("n"), jen.Id("n").Op("*").Id("InputSize"))),
		),
		jen.Id("m").Dot("grads").Op("=").Id("parameters").Values(),
		jen.For(jen.Id("off").Op(":=").Lit(0), jen.Id("off").Op("<").Id("n"), jen.Id("off").Op("+=").Id("Tile")).Block(
			jen.Id("k").Op(":=").Min(jen.Id("Tile"), jen.Id("n").Op("-").Id("off")),
			jen.Id("t").Op(":=").Id("m").Dot("load").Call(jen.Id("x"), jen.Id("off"), jen.Id("k")),
			jen.Id("m").Dot("forward").Call(jen.Id("k"), jen.Id("t")),
			// The loss is the runtime's, so that every engine computes it
			// alike; sample by sample, so that the float64 sum adds the
			// samples' losses one at a time, as the generic engine does.
			forUp("s", jen.Lit(0), jen.Id("k"),
				jen.List(jen.Id("z"), jen.Id("dz")).Op(":=").List(
					jen.Id("m").Dot("buf").Dot(p.logits.field+"Out").Index(jen.Id("s").Op("*").Id("Classes"), jen.Parens(jen.Id("s").Op("+").Lit(1)).Op("*").Id("Classes")),
					jen.Id("m").Dot("buf").Dot(p.logits.field+"Grad").Index(jen.Id("s").Op("*").Id("Classes"), jen.Parens(jen.Id("s").Op("+").Lit(1)).Op("*").Id("Classes"))),
				jen.List(jen.Id("l"), jen.Id("c")).Op(":=").Add(rt("SoftmaxCrossEntropy")).Call(
					jen.Id("z"), jen.Id("labels").Index(jen.Id("off").Op("+").Id("s"), jen.Id("off").Op("+").Id("s").Op("+").Lit(1)),
					jen.Id("Classes"), jen.Id("scale"), jen.Id("dz")),
				jen.Id("loss").Op("+=").Id("l"),
				jen.Id("correct").Op("+=").Id("c"),
			),
			jen.Id("m").Dot("backward").Call(jen.Id("k"), jen.Id("t")),
		),
		jen.Return(jen.Id("loss"), jen.Id("correct")),
	)

	// Step.
	var sgd []jen.Code
	for _, name := range p.params {
		sgd = append(sgd, jen.For(jen.Id("i").Op(":=").Range().Op("&").Id("m").Dot("params").Dot(name)).Block(
			jen.Id("m").Dot("params").Dot(name).Index(jen.Id("i")).Op("-=").Id("lr").Op("*").Id("m").Dot("grads").Dot(name).Index(jen.Id("i")),
		))
	}
	f.Comment(wrapDoc("Step is one step of plain gradient descent on the batch: Backward(x, labels, 1) and then θ −= lr·∂loss/∂θ for every parameter. It returns the summed loss and the number of correct samples before the update."))
	f.Add(recv()).Id("Step").Params(jen.Id("x").Index().Float32(), jen.Id("labels").Index().Int32(), jen.Id("lr").Float32()).Params(jen.Id("loss").Float64(), jen.Id("correct").Int()).Block(
		append([]jen.Code{jen.List(jen.Id("loss"), jen.Id("correct")).Op("=").Id("m").Dot("Backward").Call(jen.Id("x"), jen.Id("labels"), jen.Lit(1))},
			append(sgd, jen.Return(jen.Id("loss"), jen.Id("correct")))...)...,
	)

	// Logits and Predict.
	f.Comment(wrapDoc("Logits writes the logits of one sample x (HWC order) to logits."))
	f.Add(recv()).Id("Logits").Params(jen.Id("x").Op("*").Index(jen.Id("InputSize")).Float32(), jen.Id("logits").Op("*").Index(jen.Id("Classes")).Float32()).Block(
		jen.Op("*").Parens(jen.Op("*").Index(jen.Id("InputSize")).Float32()).Parens(jen.Id("m").Dot("buf").Dot("x").Index(jen.Empty(), jen.Empty())).Op("=").Op("*").Id("x"),
		jen.Id("m").Dot("forward").Call(jen.Lit(1), jen.Op("&").Id("m").Dot("buf").Dot("x")),
		jen.Op("*").Id("logits").Op("=").Index(jen.Id("Classes")).Float32().Parens(jen.Id("m").Dot("buf").Dot(p.logits.field+"Out").Index(jen.Empty(), jen.Id("Classes"))),
	)
	f.Comment(wrapDoc("Predict writes the class probabilities (softmax of the logits) of one sample x (HWC order) to probs."))
	f.Add(recv()).Id("Predict").Params(jen.Id("x").Op("*").Index(jen.Id("InputSize")).Float32(), jen.Id("probs").Op("*").Index(jen.Id("Classes")).Float32()).Block(
		jen.Var().Id("z").Index(jen.Id("Classes")).Float32(),
		jen.Id("m").Dot("Logits").Call(jen.Id("x"), jen.Op("&").Id("z")),
		jen.Id("softmax").Call(jen.Op("&").Id("z"), jen.Id("probs")),
	)
}

// gradNeeded reports whether the gradient of buffer b is computed: it is
// when the stage that consumes b runs backward, or b holds the logits.
func (p *plan) gradNeeded(b *buffer) bool {
	if b == p.logits {
		return true
	}
	for _, s := range p.stages {
		if s.in == b {
			return s.backward
		}
	}
	return false
}

// usesInput reports whether the backward pass reads the network input.
func (p *plan) usesInput() bool {
	for _, s := range p.stages {
		if s.in.input && s.backward && (s.layer.Kind == runtime.Conv2D || s.layer.Kind == runtime.Dense) {
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
		set := func(name string, v int) {
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
		set("Units", l.Units)
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
}
