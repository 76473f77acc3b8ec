package emit_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
	"github.com/dave/jennifer/jen"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at the repository root %s: %v", root, err)
	}
	return root
}

// namedNet is a network under test and where it came from.
type namedNet struct {
	pkg string // Go package name of its generated code
	net *ir.Network
	// split generates it with Options.SplitLogitsMACs 1, so that its
	// Frozen.Logits splits the sample's forward across the workers
	// whatever the network's size.
	split bool
	// example says that net is an example network (exampleNets), whose
	// generated packages generateNet caches.
	example bool
}

// splitting returns nets with split set.
func splitting(nets []namedNet) []namedNet {
	for i := range nets {
		nets[i].split = true
	}
	return nets
}

// exampleNets loads every examples/*.yaml.
func exampleNets(t testing.TB) []namedNet {
	t.Helper()
	names, err := fs.Glob(examples.FS, "*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	var nets []namedNet
	for _, name := range names {
		data, err := examples.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		n, err := ir.Load(name, data)
		if err != nil {
			t.Fatalf("loading example: %v", err)
		}
		nets = append(nets, namedNet{pkg: "ex" + strings.ReplaceAll(strings.TrimSuffix(name, ".yaml"), "_", ""), net: n, example: true})
	}
	return nets
}

// goldenNets loads the descriptions of the golden test (testdata/golden).
func goldenNets(t testing.TB) []namedNet {
	t.Helper()
	descs, err := filepath.Glob("testdata/golden/*.yaml")
	must(t, err)
	var nets []namedNet
	for _, desc := range descs {
		src, err := os.ReadFile(desc)
		must(t, err)
		n, err := ir.Load(filepath.Base(desc), src)
		if err != nil {
			t.Fatal(err)
		}
		nets = append(nets, namedNet{pkg: "golden" + strings.TrimSuffix(filepath.Base(desc), ".yaml"), net: n})
	}
	return nets
}

// randomNet draws a small network description from r: one to three conv or
// pool layers (kernels 1..5, non-square, strides 1..3, both paddings, max
// and average pools), relu, sigmoid or tanh after some of them (fused into
// a conv, or standalone after a pool or on the input), an explicit or
// implicit flatten and one or two dense layers with awkward sizes. It
// returns the YAML text; the shapes always fit.
func randomNet(r *rand.Rand, name string) string {
	var b strings.Builder
	h, w, c := 3+r.IntN(7), 3+r.IntN(7), 1+r.IntN(3)
	fmt.Fprintf(&b, "name: %s\ninput: {height: %d, width: %d, channels: %d}\nlayers:\n", name, h, w, c)
	acts := []string{"relu", "sigmoid", "tanh"}
	init := func() string {
		return `, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}`
	}
	if r.IntN(6) == 0 {
		fmt.Fprintf(&b, "  - {kind: %s}\n", acts[r.IntN(3)])
	}
	blocks := 1 + r.IntN(3)
	for i := 0; i < blocks; i++ {
		conv := r.IntN(3) != 0
		kh, kw := 1+r.IntN(5), 1+r.IntN(5)
		if r.IntN(3) == 0 {
			kh, kw = 3, 3
		}
		sh, sw := 1+r.IntN(3), 1+r.IntN(3)
		if r.IntN(2) == 0 {
			sh, sw = 1, 1
		}
		pad := "same"
		if r.IntN(2) == 0 {
			pad = "valid"
		}
		if pad == "valid" && (kh > h || kw > w) {
			pad = "same"
		}
		var oh, ow int
		if pad == "same" {
			oh, ow = (h+sh-1)/sh, (w+sw-1)/sw
		} else {
			oh, ow = (h-kh)/sh+1, (w-kw)/sw+1
		}
		if conv {
			filters := []int{1, 2, 3, 5, 7, 8}[r.IntN(6)]
			fmt.Fprintf(&b, "  - {kind: conv2d, filters: %d, kernel: [%d, %d], stride: [%d, %d], padding: %s%s}\n", filters, kh, kw, sh, sw, pad, init())
			c = filters
			if r.IntN(4) != 0 {
				fmt.Fprintf(&b, "  - {kind: %s}\n", acts[r.IntN(3)])
			}
		} else {
			kind := "maxpool"
			if r.IntN(2) == 0 {
				kind = "avgpool"
			}
			fmt.Fprintf(&b, "  - {kind: %s, window: [%d, %d], stride: [%d, %d], padding: %s}\n", kind, kh, kw, sh, sw, pad)
			if r.IntN(4) == 0 {
				fmt.Fprintf(&b, "  - {kind: %s}\n", acts[r.IntN(3)])
			}
		}
		h, w = oh, ow
	}
	if r.IntN(2) == 0 {
		b.WriteString("  - {kind: flatten}\n")
	}
	if r.IntN(2) == 0 {
		units := []int{1, 5, 7, 13}[r.IntN(4)]
		fmt.Fprintf(&b, "  - {kind: dense, units: %d%s}\n", units, init())
		if r.IntN(3) != 0 {
			fmt.Fprintf(&b, "  - {kind: %s}\n", acts[r.IntN(3)])
		}
	}
	fmt.Fprintf(&b, "  - {kind: dense, units: %d%s}\n  - {kind: softmax}\n", 2+r.IntN(10), init())
	b.WriteString("train:\n  loss: {type: softmax_cross_entropy, reduction: sum}\n  optimizer: {type: sgd, learning_rate: 0.01}\n  batch: full\n  steps: 10\n  seed: 1\n  test_fraction: 0.1\n")
	return b.String()
}

// awkwardNet has the sizes that tiles and unrolling find hardest, on
// purpose rather than by chance: a 5×5×3 input, 7 filters of 5×5 with
// stride 2, a 1×1 conv, a 3×2 average pool with unequal strides, 13 units.
const awkwardNet = `name: awkward
input: {height: 5, width: 5, channels: 3}
layers:
  - {kind: conv2d, filters: 7, kernel: 5, stride: 2, padding: same, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu}
  - {kind: conv2d, filters: 5, kernel: 1, padding: valid, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: tanh}
  - {kind: avgpool, window: [3, 2], stride: [1, 2], padding: same}
  - {kind: dense, units: 13, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: sigmoid}
  - {kind: dense, units: 4, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: softmax}
train:
  loss: {type: softmax_cross_entropy, reduction: sum}
  optimizer: {type: sgd, learning_rate: 0.01}
  batch: full
  steps: 10
  seed: 1
  test_fraction: 0.1
`

// randomNets returns the awkward network and count random networks drawn
// from seed.
func randomNets(t testing.TB, seed uint64, count int) []namedNet {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0))
	awkward, err := ir.Load("awkward.yaml", []byte(awkwardNet))
	if err != nil {
		t.Fatal(err)
	}
	nets := []namedNet{{pkg: "awkward", net: awkward}}
	for i := 0; i < count; i++ {
		name := fmt.Sprintf("random%d", i)
		text := randomNet(r, name)
		n, err := ir.Load(name+".yaml", []byte(text))
		if err != nil {
			t.Fatalf("random network %d does not load: %v\n%s", i, err, text)
		}
		nets = append(nets, namedNet{pkg: name, net: n})
	}
	return nets
}

// writeModule writes a module "difftest" in dir that requires this module
// through a replace to the repository root, with the generated package of
// every network in a directory named after its package, and returns dir.
func writeModule(t testing.TB, dir string, nets []namedNet) {
	t.Helper()
	root := repoRoot(t)
	gomod := fmt.Sprintf("module difftest\n\ngo 1.26\n\nrequire github.com/cnngen/cnngen v0.0.0\n\nreplace github.com/cnngen/cnngen => %s\n", root)
	must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	for _, nt := range nets {
		opts := emit.Options{Package: nt.pkg}
		if nt.split {
			opts.SplitLogitsMACs = 1
		}
		files := generateNet(t, nt, opts)
		pdir := filepath.Join(dir, nt.pkg)
		must(t, os.MkdirAll(pdir, 0o755))
		for _, f := range files {
			must(t, os.WriteFile(filepath.Join(pdir, f.Name), f.Contents, 0o644))
		}
	}
}

// exampleFiles caches the packages generated for the example networks, by
// description and options: several tests (which run in parallel) check the
// packages of the same examples with the same options, and generating the
// examples takes seconds.
var exampleFiles sync.Map // exampleKey → *exampleGen

type exampleKey struct {
	file string
	opts emit.Options
}

type exampleGen struct {
	once  sync.Once
	files []emit.File
	err   error
}

// generateNet returns the package generated for nt with opts, computed once
// per test binary for an example network (the files are then shared: do not
// modify them).
func generateNet(t testing.TB, nt namedNet, opts emit.Options) []emit.File {
	t.Helper()
	if !nt.example {
		files, err := emit.Generate(nt.net, opts)
		if err != nil {
			t.Fatalf("%s: %v", nt.pkg, err)
		}
		return files
	}
	v, _ := exampleFiles.LoadOrStore(exampleKey{nt.net.File, opts}, &exampleGen{})
	e := v.(*exampleGen)
	e.once.Do(func() { e.files, e.err = emit.Generate(nt.net, opts) })
	if e.err != nil {
		t.Fatalf("%s: %v", nt.pkg, e.err)
	}
	return e.files
}

// goCmd runs the go command in dir and returns its combined output.
func goCmd(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	return goCmdEnv(t, dir, nil, args...)
}

// goCmdEnv is goCmd with env added to the environment.
func goCmdEnv(t testing.TB, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// driverMain returns main.go of the differential test program: the list of
// networks, with the package-specific code (constructor, array API).
func driverMain(nets []namedNet) ([]byte, error) {
	f := jen.NewFile("main")
	const rt = "github.com/cnngen/cnngen/runtime"
	var entries []jen.Code
	for _, nt := range nets {
		archJSON, err := json.Marshal(nt.net.Arch())
		if err != nil {
			return nil, err
		}
		paramsJSON, err := json.Marshal(nt.net.Params)
		if err != nil {
			return nil, err
		}
		path := "difftest/" + nt.pkg
		q := func(name string) *jen.Statement { return jen.Qual(path, name) }
		entries = append(entries, jen.Line().Values(
			jen.Id("name").Op(":").Lit(nt.pkg),
			jen.Id("arch").Op(":").Add(q("Arch")).Call(),
			jen.Id("archJSON").Op(":").Lit(string(archJSON)),
			jen.Id("paramsJSON").Op(":").Lit(string(paramsJSON)),
			jen.Id("tile").Op(":").Add(q("Tile")),
			jen.Id("macs").Op(":").Lit(nt.net.Totals().MACs),
			jen.Id("new").Op(":").Func().Params().Id("trainable").Block(jen.Return(q("New").Call())),
			jen.Id("one").Op(":").Func().Params(jen.Id("mod").Id("trainable"), jen.List(jen.Id("x"), jen.Id("logits"), jen.Id("probs")).Index().Float32()).Bool().Block(
				append([]jen.Code{jen.Id("m").Op(":=").Id("mod").Assert(jen.Op("*").Add(q("Model")))}, oneBody(q)...)...,
			),
			jen.Id("freeze").Op(":").Func().Params(jen.Id("mod").Id("trainable"), jen.Id("workers").Int()).Id("frozen").Block(
				jen.Id("m").Op(":=").Id("mod").Assert(jen.Op("*").Add(q("Model"))).Dot("Freeze").Call(),
				jen.Id("m").Dot("SetWorkers").Call(jen.Id("workers")),
				jen.Return(jen.Id("frozen").Values(
					jen.Id("forward").Op(":").Id("m").Dot("Forward"),
					jen.Id("one").Op(":").Func().Params(jen.List(jen.Id("x"), jen.Id("logits"), jen.Id("probs")).Index().Float32()).Bool().Block(oneBody(q)...),
				)),
			),
		))
	}
	entries = append(entries, jen.Line())
	f.Var().Id("networks").Op("=").Index().Id("network").Values(entries...)
	f.Var().Id("_").Qual(rt, "Model").Op("=").Id("trainable").Parens(jen.Nil())
	var buf bytes.Buffer
	err := f.Render(&buf)
	return buf.Bytes(), err
}

// oneBody is the body of a driver function that runs Logits and Predict of
// m (a *Model or a *Frozen of the package q names) on one sample x, with
// canaries after each array, copies the results to logits and probs, and
// reports whether the canaries survived.
func oneBody(q func(string) *jen.Statement) []jen.Code {
	return []jen.Code{
		jen.Var().Id("b").Struct(
			jen.Id("x").Index(q("InputSize")).Float32(),
			jen.Id("xGuard").Index(jen.Lit(4)).Float32(),
			jen.Id("logits").Index(q("Classes")).Float32(),
			jen.Id("logitsGuard").Index(jen.Lit(4)).Float32(),
			jen.Id("probs").Index(q("Classes")).Float32(),
			jen.Id("probsGuard").Index(jen.Lit(4)).Float32(),
		),
		jen.Copy(jen.Id("b").Dot("x").Index(jen.Empty(), jen.Empty()), jen.Id("x")),
		jen.For(jen.Id("i").Op(":=").Range().Lit(4)).Block(
			jen.List(jen.Id("b").Dot("xGuard").Index(jen.Id("i")), jen.Id("b").Dot("logitsGuard").Index(jen.Id("i")), jen.Id("b").Dot("probsGuard").Index(jen.Id("i"))).Op("=").List(jen.Id("canary"), jen.Id("canary"), jen.Id("canary")),
		),
		jen.Id("m").Dot("Logits").Call(jen.Op("&").Id("b").Dot("x"), jen.Op("&").Id("b").Dot("logits")),
		jen.Id("m").Dot("Predict").Call(jen.Op("&").Id("b").Dot("x"), jen.Op("&").Id("b").Dot("probs")),
		jen.Copy(jen.Id("logits"), jen.Id("b").Dot("logits").Index(jen.Empty(), jen.Empty())),
		jen.Copy(jen.Id("probs"), jen.Id("b").Dot("probs").Index(jen.Empty(), jen.Empty())),
		jen.Return(jen.Id("intact").Call(jen.Lit(""), jen.Id("b").Dot("xGuard").Index(jen.Empty(), jen.Empty())).Op("==").Nil().Op("&&").
			Id("intact").Call(jen.Lit(""), jen.Id("b").Dot("logitsGuard").Index(jen.Empty(), jen.Empty())).Op("==").Nil().Op("&&").
			Id("intact").Call(jen.Lit(""), jen.Id("b").Dot("probsGuard").Index(jen.Empty(), jen.Empty())).Op("==").Nil()),
	}
}

// archNet builds the IR of arch as gen/ir would, with the shapes, paddings
// and parameters that the generic engine infers: networks for which no
// description is needed (the random graphs).
func archNet(t testing.TB, pkg string, arch runtime.Arch) namedNet {
	t.Helper()
	g, err := runtime.NewGeneric(arch)
	if err != nil {
		t.Fatalf("%s: %v", pkg, err)
	}
	outs, err := g.LayerOutputs(make([]float32, arch.Input.Size()))
	if err != nil {
		t.Fatal(err)
	}
	index := map[string]int{runtime.InputName: -1}
	paramIndex := map[string]int{}
	var params []runtime.ParamInfo
	for i, p := range g.Params() {
		paramIndex[p.Name] = i
		params = append(params, p.ParamInfo)
	}
	n := &ir.Network{Name: arch.Name, Input: arch.Input, Params: params, Classes: g.Classes()}
	shape := func(j int) runtime.Shape {
		if j < 0 {
			return arch.Input
		}
		return n.Layers[j].Out
	}
	for i, spec := range arch.Layers {
		l := ir.Layer{LayerSpec: spec, Out: outs[i].Shape, Weight: -1, Bias: -1}
		if len(spec.Inputs) == 0 {
			l.Inputs = []int{i - 1}
		}
		for _, name := range spec.Inputs {
			j, ok := index[name]
			if !ok {
				t.Fatalf("%s: layer %s: no input %s", pkg, spec.Name, name)
			}
			l.Inputs = append(l.Inputs, j)
		}
		l.In = shape(l.Inputs[0])
		if spec.Kind == runtime.Conv2D || spec.Kind == runtime.MaxPool || spec.Kind == runtime.AvgPool {
			_, l.PadTop, l.PadBottom = runtime.Window(l.In.Height, spec.KernelH, spec.StrideH, spec.Padding)
			_, l.PadLeft, l.PadRight = runtime.Window(l.In.Width, spec.KernelW, spec.StrideW, spec.Padding)
		}
		switch spec.Kind {
		case runtime.Conv2D:
			l.MACs = int64(l.Out.Size() * spec.KernelH * spec.KernelW * l.In.Channels / spec.GroupCount())
		case runtime.Dense:
			l.MACs = int64(l.In.Size() * spec.Units)
		}
		if w, ok := paramIndex[spec.Name+".weight"]; ok {
			l.Weight = w
			l.ParamCount += params[w].Size()
		}
		if b, ok := paramIndex[spec.Name+".bias"]; ok {
			l.Bias = b
			l.ParamCount += params[b].Size()
		}
		index[spec.Name] = i
		n.Layers = append(n.Layers, l)
	}
	return namedNet{pkg: pkg, net: n}
}

// randomGraphArch draws a small graph from r: a stem convolution (grouped,
// depthwise with a depth multiplier, or plain; with or without a bias), a
// residual block whose add takes the stem's output both through the block
// and directly (so that its gradient is a sum), a pair of branches joined
// by concat (a strided depthwise convolution beside a 1×1 one, odd channel
// counts), relu6 and leaky_relu, global average pooling or not, dropout,
// batch norm after some layers (when batchnorm is set), and a classifier or
// a regression head.
func randomGraphArch(r *rand.Rand, name string, batchnorm bool) runtime.Arch {
	arch := runtime.Arch{Name: name, Input: runtime.Shape{Height: 3 + r.IntN(6), Width: 3 + r.IntN(6), Channels: []int{1, 2, 3, 6}[r.IntN(4)]}}
	weights := runtime.Init{Kind: runtime.InitUniform, Scale: 0.5}
	biases := runtime.Init{Kind: runtime.InitUniform, Scale: 0.2}
	// normed says that the next conv or dense layer feeds a batchnorm, so
	// that it has no bias (whose gradient is 0 up to rounding, as every
	// reference model knows).
	normed := false
	add := func(l runtime.LayerSpec) string {
		if l.Kind == runtime.Conv2D || l.Kind == runtime.Dense {
			l.WeightInit = weights
			if normed || r.IntN(3) == 0 {
				l.NoBias = true
			} else {
				l.BiasInit = biases
			}
			normed = false
		}
		if l.Kind == runtime.Conv2D || l.Kind == runtime.MaxPool || l.Kind == runtime.AvgPool {
			l.StrideH, l.StrideW = max(l.StrideH, 1), max(l.StrideW, 1)
		}
		arch.Layers = append(arch.Layers, l)
		return l.Name
	}
	// bn adds a batchnorm after the layer that layer() adds, sometimes.
	bn := func(layer func() string) string {
		if !batchnorm || r.IntN(4) == 0 {
			return layer()
		}
		normed = true
		input := layer()
		return add(runtime.LayerSpec{Kind: runtime.BatchNorm, Name: input + "bn", Inputs: []string{input}, Momentum: 0.2, Epsilon: 1e-3})
	}
	conv := func(name, input string, filters, kernel, stride, groups int) string {
		return add(runtime.LayerSpec{Kind: runtime.Conv2D, Name: name, Inputs: []string{input}, Filters: filters,
			KernelH: kernel, KernelW: kernel, StrideH: stride, StrideW: stride, Padding: runtime.Same, Groups: groups})
	}
	act := func(name, input string) string {
		switch r.IntN(3) {
		case 0:
			return add(runtime.LayerSpec{Kind: runtime.ReLU, Name: name, Inputs: []string{input}})
		case 1:
			return add(runtime.LayerSpec{Kind: runtime.ReLU6, Name: name, Inputs: []string{input}})
		}
		return add(runtime.LayerSpec{Kind: runtime.LeakyReLU, Name: name, Inputs: []string{input}, Alpha: 0.2})
	}
	c := arch.Input.Channels
	groups := []int{1, c, c}[r.IntN(3)]
	filters := groups * (1 + r.IntN(3))
	if groups == 1 {
		filters = []int{2, 3, 5, 7}[r.IntN(4)]
	}
	k := 1 + 2*r.IntN(2)
	stem := act("stemact", bn(func() string { return conv("stem", runtime.InputName, filters, k, 1, groups) }))
	c = filters
	resa := act("resaact", bn(func() string { return conv("resa", stem, c, 3, 1, 1) }))
	g := []int{1, c}[r.IntN(2)]
	resb := bn(func() string { return conv("resb", resa, c, 3, 1, g) })
	sum := add(runtime.LayerSpec{Kind: runtime.Add, Name: "sum", Inputs: []string{stem, resb}})
	sum = act("sumact", sum)
	stride := 1 + r.IntN(2)
	dw := conv("dw", sum, 2*c, 3, stride, c)
	pf := []int{1, 3, 5}[r.IntN(3)]
	pw := act("pwact", bn(func() string { return conv("pw", sum, pf, 1, stride, 1) }))
	last := add(runtime.LayerSpec{Kind: runtime.Concat, Name: "cat", Inputs: []string{dw, pw}})
	if r.IntN(2) == 0 {
		last = add(runtime.LayerSpec{Kind: runtime.GlobalAvgPool, Name: "gap", Inputs: []string{last}})
	}
	last = add(runtime.LayerSpec{Kind: runtime.Flatten, Name: "flat", Inputs: []string{last}})
	last = add(runtime.LayerSpec{Kind: runtime.Dropout, Name: "drop", Inputs: []string{last}, Rate: 0.3})
	units := 3 + r.IntN(6)
	fc := bn(func() string {
		return add(runtime.LayerSpec{Kind: runtime.Dense, Name: "fc", Inputs: []string{last}, Units: units})
	})
	fc = add(runtime.LayerSpec{Kind: runtime.Tanh, Name: "fcact", Inputs: []string{fc}})
	add(runtime.LayerSpec{Kind: runtime.Dense, Name: "out", Inputs: []string{fc}, Units: 2 + r.IntN(5)})
	if r.IntN(2) == 0 {
		add(runtime.LayerSpec{Kind: runtime.Softmax, Name: "softmax"})
	}
	return arch
}

// randomGraphNets returns count random graphs drawn from seed.
func randomGraphNets(t testing.TB, seed uint64, count int, batchnorm bool) []namedNet {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	var nets []namedNet
	for i := 0; i < count; i++ {
		name := fmt.Sprintf("graph%d", i)
		if batchnorm {
			name = fmt.Sprintf("graphbn%d", i)
		}
		nets = append(nets, archNet(t, name, randomGraphArch(r, name, batchnorm)))
	}
	return nets
}
