package onnx

import (
	"bytes"
	"container/heap"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/gen/onnx/onnxpb"
	"github.com/cnngen/cnngen/gen/spec"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
)

// MaxFileSize is the largest ONNX file Import accepts, 256 MiB.
const MaxFileSize = 256 << 20

// Limits on a graph's counts, checked before any per-item work.
const (
	maxNodes        = 1 << 16
	maxInitializers = 1 << 16
	maxLayers       = 256
	maxDim          = 4096
)

// Model is an imported ONNX model: a cnngen description and the engine that
// holds the weights.
type Model struct {
	// Name is the network's name.
	Name string
	// YAML is the description's text, which ir.Load reads.
	YAML []byte
	// Network is the description, loaded.
	Network *ir.Network
	// Engine is the generic engine of the network with the imported weights
	// (and batch norm statistics) in place.
	Engine *runtime.Generic
}

// WriteWeights writes the model's weights to w as a cnngen checkpoint
// (safetensors, PyTorch's layouts, tensors named after the description's
// layers), which checkpoint.Load reads into a model of the description.
func (m *Model) WriteWeights(w io.Writer) error {
	return checkpoint.Write(w, m.Engine, nil, nil)
}

// ReadFile reads the ONNX file at path, refusing one larger than
// [MaxFileSize] before reading it whole.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: ONNX file larger than %d MiB", path, MaxFileSize>>20)
	}
	return data, nil
}

// Import turns the ONNX model in data into a cnngen network named name (a
// valid description name). Unsupported operators, attributes and shapes are
// errors naming the node.
func Import(data []byte, name string) (*Model, error) {
	if err := spec.CheckNetworkName(name); err != nil {
		return nil, fmt.Errorf("onnx: network %v", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("onnx: model larger than %d MiB", MaxFileSize>>20)
	}
	var mp onnxpb.ModelProto
	if err := (proto.UnmarshalOptions{RecursionLimit: 64}).Unmarshal(data, &mp); err != nil {
		return nil, fmt.Errorf("onnx: not an ONNX model: %v", err)
	}
	g := mp.GetGraph()
	if g == nil {
		return nil, fmt.Errorf("onnx: the model has no graph")
	}
	opset := int64(-1)
	for _, o := range mp.GetOpsetImport() {
		if d := o.GetDomain(); d == "" || d == "ai.onnx" {
			opset = o.GetVersion()
		}
	}
	if opset < 1 {
		return nil, fmt.Errorf("onnx: the model imports no version of the default operator set")
	}
	if len(g.GetNode()) > maxNodes || len(g.GetInitializer()) > maxInitializers {
		return nil, fmt.Errorf("onnx: graph with %d nodes and %d initializers: want at most %d of each", len(g.GetNode()), len(g.GetInitializer()), maxNodes)
	}
	im := &importer{
		opset:   opset,
		consts:  map[string]*constant{},
		tensors: map[string]*tensor{},
		names:   newNamer(),
	}
	if err := im.run(g); err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return im.finish(name)
}

// tensor is a value of the graph that a cnngen layer computes.
type tensor struct {
	layer string        // the cnngen layer that computes it, or "input"
	shape runtime.Shape // one sample's shape, HWC
	flat  bool          // ONNX rank 2 [N, F]; else rank 4 [N, C, H, W]
	// hwc is set on a flat tensor made from an H×W×C map with H·W > 1 and C > 1:
	// cnngen holds its values in HWC order where ONNX has CHW. Only
	// elementwise layers and dense layers (whose weights are reordered)
	// take it.
	hwc bool
	// from is the map's shape when hwc is set.
	from runtime.Shape
	// pad is the zero padding (top, left, bottom, right) of a Pad node
	// still to apply: only a Conv takes such a tensor, adding it to its own.
	pad [4]int64
	// pending is the conv or dense layer without bias that computes the
	// tensor, when an Add of a constant may still become its bias.
	pending *layer
}

// layer is one layer of the description with its weights in the standard
// layout (HWIO convs, [in, units] dense, in HWC order).
type layer struct {
	spec         runtime.LayerSpec
	input        []string // the layers it takes
	weight, bias []float32
	mean, vari   []float32
	node         *onnxpb.NodeProto // the node it imports
}

type importer struct {
	opset   int64
	consts  map[string]*constant
	tensors map[string]*tensor
	layers  []*layer
	names   *namer
	uses    map[string]int
	output  string
	batch   int64 // the input's batch dimension, 0 when symbolic
	in      *tensor
	folded  int // values computed by folding constants
}

// nodeError makes the error of node n.
func (im *importer) nodeError(n *onnxpb.NodeProto, format string, args ...any) error {
	name := n.GetName()
	if name == "" && len(n.GetOutput()) > 0 {
		name = n.GetOutput()[0]
	}
	return fmt.Errorf("node %s (%s, opset %d): %s", strconv.Quote(trunc(name)), trunc(n.GetOpType()), im.opset, fmt.Sprintf(format, args...))
}

// trunc shortens a string from the model for an error message.
func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func (im *importer) run(g *onnxpb.GraphProto) error {
	for _, t := range g.GetInitializer() {
		c, err := decodeTensor(t)
		if err != nil {
			return fmt.Errorf("initializer: %v", err)
		}
		im.consts[t.GetName()] = c
	}
	for _, st := range g.GetSparseInitializer() {
		return fmt.Errorf("sparse initializer %q is not supported", trunc(st.GetValues().GetName()))
	}
	// The one real input.
	var inputs []*onnxpb.ValueInfoProto
	for _, in := range g.GetInput() {
		if _, ok := im.consts[in.GetName()]; !ok {
			inputs = append(inputs, in)
		}
	}
	if len(inputs) != 1 {
		return fmt.Errorf("graph has %d inputs besides initializers: want 1", len(inputs))
	}
	if err := im.input(inputs[0]); err != nil {
		return err
	}
	if len(g.GetOutput()) != 1 {
		return fmt.Errorf("graph has %d outputs: want 1", len(g.GetOutput()))
	}
	im.output = g.GetOutput()[0].GetName()

	// Liveness: the nodes the output depends on, in a topological order.
	nodes := g.GetNode()
	producer := map[string]int{}
	for k, n := range nodes {
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if _, dup := producer[o]; dup || im.tensors[o] != nil || im.consts[o] != nil {
				return im.nodeError(n, "output %q is defined twice", trunc(o))
			}
			producer[o] = k
		}
	}
	live := make([]bool, len(nodes))
	stack := []string{im.output}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		k, ok := producer[t]
		if !ok || live[k] {
			continue
		}
		live[k] = true
		stack = append(stack, nodes[k].GetInput()...)
	}
	im.uses = map[string]int{im.output: 1}
	for k, n := range nodes {
		if live[k] {
			for _, in := range n.GetInput() {
				im.uses[in]++
			}
		}
	}
	order, err := im.sortNodes(nodes, live, producer)
	if err != nil {
		return err
	}
	for _, k := range order {
		if err := im.node(nodes[k]); err != nil {
			return err
		}
		if len(im.layers) > maxLayers {
			return fmt.Errorf("more than %d layers", maxLayers)
		}
	}
	out, ok := im.tensors[im.output]
	if !ok {
		if im.consts[im.output] != nil {
			return fmt.Errorf("graph output %q is a constant", trunc(im.output))
		}
		return fmt.Errorf("graph output %q is computed by no node", trunc(im.output))
	}
	if out.layer == runtime.InputName {
		return fmt.Errorf("graph output %q is the input: the graph has no layers", trunc(im.output))
	}
	if out.pad != ([4]int64{}) {
		return fmt.Errorf("graph output %q comes from a Pad node: padding is supported only before a Conv", trunc(im.output))
	}
	if out.hwc {
		return fmt.Errorf("graph output %q is a flattened H×W×C map: cnngen flattens in HWC order, ONNX in CHW order", trunc(im.output))
	}
	if last := im.layers[len(im.layers)-1]; last.spec.Name != out.layer {
		return fmt.Errorf("graph output %q is not computed by the last layer", trunc(im.output))
	}
	return nil
}

// sortNodes orders the live nodes so that each comes after the producers of
// its inputs (stably: the first ready node in the file's order first).
func (im *importer) sortNodes(nodes []*onnxpb.NodeProto, live []bool, producer map[string]int) ([]int, error) {
	waiting := make([]int, len(nodes))
	users := map[int][]int{}
	ready := []int{}
	for k, n := range nodes {
		if !live[k] {
			continue
		}
		for _, in := range n.GetInput() {
			if in == "" {
				continue
			}
			if p, ok := producer[in]; ok {
				waiting[k]++
				users[p] = append(users[p], k)
			} else if im.tensors[in] == nil && im.consts[in] == nil {
				return nil, im.nodeError(n, "input %q is neither the graph's input, an initializer nor a node's output", trunc(in))
			}
		}
		if waiting[k] == 0 {
			ready = append(ready, k)
		}
	}
	var order []int
	h := intHeap(ready)
	heap.Init(&h)
	for h.Len() > 0 {
		k := heap.Pop(&h).(int)
		order = append(order, k)
		for _, u := range users[k] {
			waiting[u]--
			if waiting[u] == 0 {
				heap.Push(&h, u)
			}
		}
	}
	for k := range nodes {
		if live[k] && waiting[k] > 0 {
			return nil, im.nodeError(nodes[k], "the graph has a cycle through this node")
		}
	}
	return order, nil
}

// input registers the graph's input.
func (im *importer) input(v *onnxpb.ValueInfoProto) error {
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return fmt.Errorf("input %q is not a tensor", trunc(v.GetName()))
	}
	if tt.GetElemType() != int32(onnxpb.TensorProto_FLOAT) {
		return fmt.Errorf("input %q has element type %v: want FLOAT", trunc(v.GetName()), onnxpb.TensorProto_DataType(tt.GetElemType()))
	}
	dims := tt.GetShape().GetDim()
	if len(dims) != 4 && len(dims) != 2 {
		return fmt.Errorf("input %q has rank %d: want 4 (N, C, H, W) or 2 (N, F)", trunc(v.GetName()), len(dims))
	}
	vals := make([]int, len(dims))
	for k, d := range dims {
		if k == 0 {
			if d.GetDimValue() > 0 {
				im.batch = d.GetDimValue()
			}
			continue
		}
		x := d.GetDimValue()
		if x < 1 || x > maxDim {
			return fmt.Errorf("input %q: dimension %d is %d: want a fixed size from 1 to %d", trunc(v.GetName()), k, x, maxDim)
		}
		vals[k] = int(x)
	}
	t := &tensor{layer: runtime.InputName}
	if len(dims) == 4 {
		t.shape = runtime.Shape{Height: vals[2], Width: vals[3], Channels: vals[1]}
	} else {
		t.shape = runtime.Shape{Height: 1, Width: 1, Channels: vals[1]}
		t.flat = true
	}
	im.tensors[v.GetName()] = t
	im.in = t
	return nil
}

// finish writes the description, loads it and puts the weights into a
// generic engine.
func (im *importer) finish(name string) (*Model, error) {
	for _, l := range im.layers {
		for _, p := range []struct {
			what string
			v    []float32
		}{{"weight", l.weight}, {"bias", l.bias}, {"mean", l.mean}, {"var", l.vari}} {
			for _, x := range p.v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return nil, fmt.Errorf("onnx: %w", im.nodeError(l.node, "the %s holds %v: want finite values", p.what, x))
				}
			}
		}
	}
	text := im.yaml(name)
	net, err := ir.Load(name+".yaml", text)
	if err != nil {
		return nil, fmt.Errorf("onnx: the imported description does not load: %w", err)
	}
	eng, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	byName := map[string]*layer{}
	for _, l := range im.layers {
		byName[l.spec.Name] = l
	}
	set := func(what string, dst, src []float32) error {
		if len(dst) != len(src) {
			return fmt.Errorf("onnx: %s has %d values, the network wants %d", what, len(src), len(dst))
		}
		copy(dst, src)
		return nil
	}
	for _, p := range eng.Params() {
		l := byName[p.Layer]
		if l == nil {
			return nil, fmt.Errorf("onnx: parameter %s of no imported layer", p.Name)
		}
		src := l.weight
		if strings.HasSuffix(p.Name, ".bias") {
			src = l.bias
		}
		if err := set(p.Name, p.Value, src); err != nil {
			return nil, err
		}
	}
	for _, b := range eng.Buffers() {
		l := byName[b.Layer]
		if l == nil || b.Value == nil {
			continue
		}
		src := l.mean
		if strings.HasSuffix(b.Name, ".running_var") {
			src = l.vari
		}
		if err := set(b.Name, b.Value, src); err != nil {
			return nil, err
		}
	}
	return &Model{Name: name, YAML: text, Network: net, Engine: eng}, nil
}

// yaml writes the description.
func (im *importer) yaml(name string) []byte {
	var b bytes.Buffer
	in := im.in
	fmt.Fprintf(&b, "# Imported from ONNX (opset %d) by cnngen import.\n", im.opset)
	fmt.Fprintf(&b, "name: %s\n", name)
	fmt.Fprintf(&b, "input: {height: %d, width: %d, channels: %d}\n", in.shape.Height, in.shape.Width, in.shape.Channels)
	b.WriteString("layers:\n")
	prev := runtime.InputName
	classifier := false
	for k, l := range im.layers {
		s := l.spec
		fields := []string{"kind: " + string(s.Kind), "name: " + s.Name}
		switch {
		case len(l.input) > 1:
			fields = append(fields, "inputs: ["+strings.Join(l.input, ", ")+"]")
		case l.input[0] != prev:
			fields = append(fields, "input: "+l.input[0])
		}
		pair := func(a, b int) string {
			if a == b {
				return strconv.Itoa(a)
			}
			return fmt.Sprintf("[%d, %d]", a, b)
		}
		num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 32) }
		switch s.Kind {
		case runtime.Conv2D:
			fields = append(fields, "filters: "+strconv.Itoa(s.Filters), "kernel: "+pair(s.KernelH, s.KernelW),
				"stride: "+pair(s.StrideH, s.StrideW), "padding: "+s.Padding.String())
			if s.Groups > 1 {
				fields = append(fields, "groups: "+strconv.Itoa(s.Groups))
			}
		case runtime.MaxPool, runtime.AvgPool:
			fields = append(fields, "window: "+pair(s.KernelH, s.KernelW),
				"stride: "+pair(s.StrideH, s.StrideW), "padding: "+s.Padding.String())
		case runtime.Dense:
			fields = append(fields, "units: "+strconv.Itoa(s.Units))
		case runtime.BatchNorm:
			fields = append(fields, "momentum: "+num(s.Momentum), "epsilon: "+num(s.Epsilon))
		case runtime.LeakyReLU:
			fields = append(fields, "alpha: "+num(s.Alpha))
		case runtime.Dropout:
			fields = append(fields, "rate: "+num(s.Rate))
		}
		if s.NoBias {
			fields = append(fields, "bias: false")
		}
		fmt.Fprintf(&b, "  - {%s}\n", strings.Join(fields, ", "))
		prev = s.Name
		classifier = k == len(im.layers)-1 && s.Kind == runtime.Softmax
	}
	b.WriteString("# A placeholder recipe: ONNX models carry none.\ntrain:\n")
	if !classifier {
		b.WriteString("  loss: {type: mse}\n")
	}
	b.WriteString("  optimizer: {type: sgd, learning_rate: 0.01}\n  epochs: 1\n")
	return b.Bytes()
}

// intHeap is a min-heap of node indices: the first ready node in the
// file's order comes first.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
