package ir

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cnngen/cnngen/gen/spec"
	"github.com/cnngen/cnngen/runtime"
)

// Load parses and checks the description data read from filename: [spec.Parse]
// then [Build]. Errors are a [spec.ErrorList].
func Load(filename string, data []byte) (*Network, error) {
	s, err := spec.Parse(filename, data)
	if err != nil {
		return nil, err
	}
	return Build(s)
}

// LoadFile reads, parses and checks the description at path.
func LoadFile(path string) (*Network, error) {
	s, err := spec.ParseFile(path)
	if err != nil {
		return nil, err
	}
	return Build(s)
}

// Build checks that the layers of a parsed description fit together and
// infers every shape, following TensorFlow's padding rules ([runtime.Window]):
//
//   - every input name is a layer of the network or "input"; a layer without
//     one takes the previous layer as written (the network's input for the
//     first layer);
//   - the layers are kept in the written order when every layer comes after
//     its inputs, and otherwise sorted into such an order (stably: a layer
//     moves only as far as its inputs require); a cycle is an error;
//   - the network's output is its last layer, and every other layer feeds at
//     least one layer;
//   - conv and pool layers take HxWxC maps, not the flat vectors of flatten
//     and dense, and a VALID window fits its input; a conv's groups divide
//     its input channels and its filters;
//   - a flatten layer is inserted before a dense layer whose input has not
//     been flattened (by flatten or dense) or globally pooled (named
//     flatten1, or the first free flattenN; its Pos is zero);
//   - add's inputs have one shape, concat's one height and width;
//   - a classifier ends with its only softmax layer, after a dense layer of at
//     least two units, and trains with softmax_cross_entropy; a regression
//     network ends with any other layer and trains with mse, and with target
//     input its output has the input's size;
//   - each layer and the whole network stay within [spec.MaxParams] and
//     [spec.MaxActivation].
//
// It reports every problem it can: after a shape error the shapes that
// depend on it are unknown, so only the layers' kinds and order are still
// checked there. Errors are a [spec.ErrorList] sorted by position.
func Build(s *spec.Network) (*Network, error) {
	if s == nil {
		return nil, fmt.Errorf("ir.Build: nil description")
	}
	b := &builder{
		spec: s,
		net: &Network{
			Name:  s.Name,
			File:  s.File,
			Input: s.Input.Shape(),
			Train: s.Train.TrainConfig,
		},
		names: map[string]bool{},
	}
	for _, l := range s.Layers {
		b.names[strings.ToLower(l.Name)] = true
	}
	// A description from spec.Parse passes these checks; one built by hand
	// might not, and the IR's promises (valid names, positive sizes) must
	// hold either way.
	if b.checkSpec(); len(b.errs) == 0 {
		b.build()
	}
	if err := b.errs.Err(); err != nil {
		return nil, err
	}
	return b.net, nil
}

type builder struct {
	spec  *spec.Network
	net   *Network
	errs  spec.ErrorList
	names map[string]bool // lower-cased layer names in use
	total int64           // parameters so far

	// Per written layer: the written layers it takes as inputs (-1 for
	// the network's input), the layers that take it, and its output.
	inputs    [][]int
	consumers [][]int
	vals      []value
}

// form says what an activation is, for the layers that care.
type form int

const (
	// spatial is an HxWxC map: the network's input, a conv's or a pool's
	// output.
	spatial form = iota
	// pooled is globalavgpool's 1x1xC output: still a map, but a dense layer
	// takes it without a flatten.
	pooled
	// flat is a vector, from flatten or dense on: no conv or pool layer
	// takes it.
	flat
)

// value is an activation: the network's input or a layer's output.
type value struct {
	shape runtime.Shape
	known bool // false after a shape error upstream
	form  form
	// from is the layer that produced it, or runtime.InputName.
	from string
	// index is from's index in Network.Layers, -1 for the network's input.
	index int
	// flatFrom is the layer from which a flat value is flat, for errors.
	flatFrom string
	// unflat is the shape a flatten layer flattened, while no dense layer
	// has consumed the value: a dense weight's [runtime.ParamInfo.InShape].
	unflat runtime.Shape
}

// checkSpec checks what spec.Parse guarantees: names, kinds, sizes and input
// counts.
func (b *builder) checkSpec() {
	s := b.spec
	if err := spec.CheckNetworkName(s.Name); err != nil {
		b.errs.Add(s.NamePos, "name", "network %v", err)
	}
	if in := s.Input; min(in.Height, in.Width, in.Channels) < 1 || max(in.Height, in.Width, in.Channels) > spec.MaxDim {
		b.errs.Add(in.Pos, "input", "input %s: want sizes from 1 to %d", in.Shape(), spec.MaxDim)
	}
	if len(s.Layers) == 0 || len(s.Layers) > spec.MaxLayers {
		b.errs.Add(s.LayersPos, "layers", "the network has %d layers: want 1 to %d", len(s.Layers), spec.MaxLayers)
	}
	seen := map[string]bool{}
	for i, l := range s.Layers {
		where := fmt.Sprintf("layer %d", i+1)
		switch err := spec.CheckIdent(l.Name); {
		case err != nil:
			b.errs.Add(l.Pos, where, "layer %v", err)
		case seen[strings.ToLower(l.Name)]:
			b.errs.Add(l.Pos, where, "duplicate layer name %s", spec.Quote(l.Name))
		case strings.EqualFold(l.Name, runtime.InputName):
			b.errs.Add(l.Pos, where, "a layer cannot be called %s: the name stands for the network's input", spec.Quote(l.Name))
		}
		seen[strings.ToLower(l.Name)] = true
		var sizes []int
		switch l.Kind {
		case runtime.Conv2D:
			sizes = []int{l.Filters, l.KernelH, l.KernelW, l.StrideH, l.StrideW, max(l.Groups, 1)}
		case runtime.MaxPool, runtime.AvgPool:
			sizes = []int{l.KernelH, l.KernelW, l.StrideH, l.StrideW}
		case runtime.Dense:
			sizes = []int{l.Units}
		case runtime.BatchNorm:
			if !(l.Momentum >= 0 && l.Momentum <= 1) || !(l.Epsilon > 0) || math.IsInf(l.Epsilon, 0) {
				b.errs.Add(l.Pos, where, "a batchnorm layer with momentum %g and epsilon %g: want momentum from 0 to 1 and a finite epsilon above 0", l.Momentum, l.Epsilon)
			}
		case runtime.Dropout:
			if !(l.Rate >= 0 && l.Rate < 1) {
				b.errs.Add(l.Pos, where, "a dropout layer with rate %g: want a rate from 0 up to (not including) 1", l.Rate)
			}
		case runtime.LeakyReLU:
			if math.IsNaN(l.Alpha) || math.IsInf(l.Alpha, 0) {
				b.errs.Add(l.Pos, where, "a leaky_relu layer with alpha %g: want a finite alpha", l.Alpha)
			}
		case runtime.ReLU, runtime.Sigmoid, runtime.Tanh, runtime.Flatten, runtime.Softmax,
			runtime.Add, runtime.Concat, runtime.GlobalAvgPool, runtime.ReLU6:
		default:
			b.errs.Add(l.Pos, where, "unknown layer kind %s", spec.Quote(string(l.Kind)))
		}
		if len(sizes) > 0 && (slices.Min(sizes) < 1 || slices.Max(sizes) > spec.MaxUnits ||
			max(l.KernelH, l.KernelW, l.StrideH, l.StrideW) > spec.MaxDim) {
			b.errs.Add(l.Pos, where, "a %s layer with sizes %v: want 1 to %d (%d for filters, groups and units)", l.Kind, sizes, spec.MaxDim, spec.MaxUnits)
		}
		switch n := len(l.Inputs); {
		case spec.MultiInput(l.Kind) && n < 2:
			b.errs.Add(l.Pos, where, "%s takes two or more inputs, got %d", l.Kind, max(n, 1))
		case !spec.MultiInput(l.Kind) && n > 1:
			b.errs.Add(l.Pos, where, "a %s layer takes one input, got %d", l.Kind, n)
		}
	}
}

func (b *builder) build() {
	if !b.resolve() {
		return
	}
	order := b.order()
	if order == nil {
		return
	}
	out := b.outputLayer()
	b.checkUnused(out)
	input := value{shape: b.net.Input, known: true, form: spatial, from: runtime.InputName, index: -1}
	b.vals = make([]value, len(b.spec.Layers))
	for _, i := range order {
		ins := make([]value, len(b.inputs[i]))
		for j, k := range b.inputs[i] {
			if k < 0 {
				ins[j] = input
			} else {
				ins[j] = b.vals[k]
			}
		}
		b.vals[i] = b.infer(i, ins)
	}
	b.checkOutput(out)
	if b.total > spec.MaxParams {
		b.errs.Add(b.spec.LayersPos, "", "the network has %d parameters: want at most %d", b.total, spec.MaxParams)
	}
}

// inputPos is the position of the j-th input name of l, or of l when the
// name has none (the layer takes the previous one, or was built by hand).
func inputPos(l *spec.Layer, j int) spec.Pos {
	if j < len(l.InputPos) && l.InputPos[j].IsValid() {
		return l.InputPos[j]
	}
	return l.Pos
}

// resolve finds every layer's inputs by name.
func (b *builder) resolve() bool {
	layers := b.spec.Layers
	byName := make(map[string]int, len(layers))
	for i, l := range layers {
		byName[l.Name] = i
	}
	ok := true
	b.inputs = make([][]int, len(layers))
	b.consumers = make([][]int, len(layers))
	for i := range layers {
		l := &layers[i]
		if len(l.Inputs) == 0 {
			b.inputs[i] = []int{i - 1}
			continue
		}
		for j, name := range l.Inputs {
			k, found := byName[name]
			switch {
			case name == runtime.InputName:
				k = -1
			case !found:
				b.errs.Add(inputPos(l, j), l.Name, "unknown input %s: %s", spec.Quote(name), b.suggest(name))
				ok = false
				continue
			}
			b.inputs[i] = append(b.inputs[i], k)
		}
	}
	for i, ins := range b.inputs {
		for _, k := range ins {
			if k >= 0 {
				b.consumers[k] = append(b.consumers[k], i)
			}
		}
	}
	return ok
}

// suggest proposes the layer name (or "input") closest to an unknown input
// name.
func (b *builder) suggest(name string) string {
	best, dist := "", math.MaxInt
	for _, cand := range append([]string{runtime.InputName}, layerNames(b.spec.Layers)...) {
		if d := editDistance(strings.ToLower(name), strings.ToLower(cand)); d < dist {
			best, dist = cand, d
		}
	}
	if dist <= max(2, len(name)/3) {
		return fmt.Sprintf("did you mean %s?", spec.Quote(best))
	}
	return "want the name of a layer, or input for the network's input"
}

func layerNames(layers []spec.Layer) []string {
	names := make([]string, len(layers))
	for i, l := range layers {
		names[i] = l.Name
	}
	return names
}

// editDistance is the Levenshtein distance between a and b, in bytes (names
// are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// order returns the written layers' indexes in a topological order: each
// step takes the first layer as written whose inputs are all placed, so a
// written order that is already topological is kept. It reports a cycle
// and returns nil when there is one.
func (b *builder) order() []int {
	n := len(b.spec.Layers)
	pending := make([]int, n) // inputs not yet placed, per layer
	for i, ins := range b.inputs {
		for _, k := range ins {
			if k >= 0 {
				pending[i]++
			}
		}
	}
	placed := make([]bool, n)
	order := make([]int, 0, n)
	for len(order) < n {
		next := -1
		for i := range n {
			if !placed[i] && pending[i] == 0 {
				next = i
				break
			}
		}
		if next < 0 {
			b.reportCycle(placed)
			return nil
		}
		placed[next] = true
		order = append(order, next)
		for _, c := range b.consumers[next] {
			pending[c]--
		}
	}
	return order
}

// reportCycle finds a cycle among the layers not placed (each of which has
// an input not placed) and reports it at the input of its first layer as
// written that closes it.
func (b *builder) reportCycle(placed []bool) {
	layers := b.spec.Layers
	start := 0
	for placed[start] {
		start++
	}
	// Walk from layer to unplaced input until a layer repeats.
	step := map[int]int{} // layer → its position in walk
	var walk []int
	for x := start; ; {
		if at, seen := step[x]; seen {
			walk = walk[at:]
			break
		}
		step[x] = len(walk)
		walk = append(walk, x)
		for _, k := range b.inputs[x] {
			if k >= 0 && !placed[k] {
				x = k
				break
			}
		}
	}
	// walk[m+1] feeds walk[m]: reverse it into the data's direction, and
	// start at the layer written first.
	first := 0
	for m, x := range walk {
		if x < walk[first] {
			first = m
		}
	}
	feeder := walk[(first+1)%len(walk)]
	l := &layers[walk[first]]
	pos := l.Pos
	for j, k := range b.inputs[walk[first]] {
		if k == feeder {
			pos = inputPos(l, j)
			break
		}
	}
	if len(walk) == 1 {
		b.errs.Add(pos, l.Name, "%s takes its own output as input", l.Name)
		return
	}
	names := make([]string, 0, len(walk)+1)
	for m := range len(walk) + 1 {
		names = append(names, layers[walk[(first-m+len(walk))%len(walk)]].Name)
	}
	b.errs.Add(pos, l.Name, "the layers form a cycle, each feeding the next: %s", strings.Join(names, " → "))
}

// outputLayer returns the written index of the network's output: the last
// layer as written when no layer takes it, and otherwise the last layer no
// layer takes (the last of a topological order).
func (b *builder) outputLayer() int {
	for i := len(b.spec.Layers) - 1; i > 0; i-- {
		if len(b.consumers[i]) == 0 {
			return i
		}
	}
	return 0
}

// checkUnused reports the layers other than the output whose output no
// layer takes.
func (b *builder) checkUnused(out int) {
	layers := b.spec.Layers
	for i := range layers {
		if i != out && len(b.consumers[i]) == 0 && layers[i].Kind != runtime.Softmax {
			b.errs.Add(layers[i].Pos, layers[i].Name, "the output of %s is not used: only the network's output, %s, may feed no layer (take it as an input, or delete the layer)",
				layers[i].Name, layers[out].Name)
		}
	}
}

// freeName returns the first of family1, family2, ... that no layer uses.
func (b *builder) freeName(family string) string {
	for i := 1; ; i++ {
		name := family + strconv.Itoa(i)
		if !b.names[name] {
			b.names[name] = true
			return name
		}
	}
}

// newLayer starts the layer sl fed by ins, with the input's shape as its
// output shape.
func (b *builder) newLayer(sl *spec.Layer, ins []value) Layer {
	l := Layer{
		LayerSpec: runtime.LayerSpec{
			Kind: sl.Kind, Name: sl.Name,
			Filters: sl.Filters, Units: sl.Units,
			KernelH: sl.KernelH, KernelW: sl.KernelW,
			StrideH: sl.StrideH, StrideW: sl.StrideW,
			Padding: sl.Padding,
			NoBias:  sl.NoBias,
		},
		Pos:    sl.Pos,
		In:     ins[0].shape,
		Out:    ins[0].shape,
		Weight: -1,
		Bias:   -1,
	}
	switch sl.Kind {
	case runtime.Conv2D:
		// One group is written as none, as before groups existed.
		if sl.Groups > 1 {
			l.Groups = sl.Groups
		}
	case runtime.BatchNorm:
		l.Momentum, l.Epsilon = sl.Momentum, sl.Epsilon
	case runtime.LeakyReLU:
		l.Alpha = sl.Alpha
	case runtime.Dropout:
		l.Rate = sl.Rate
	}
	// LayerSpec.Inputs stays empty for a layer fed by the layer just
	// before it, which is what empty means to the runtime: a chain's Arch
	// is the same as before graphs.
	chained := len(ins) == 1 && ins[0].index == len(b.net.Layers)-1
	for _, in := range ins {
		l.Inputs = append(l.Inputs, in.index)
		if !chained {
			l.LayerSpec.Inputs = append(l.LayerSpec.Inputs, in.from)
		}
	}
	return l
}

// combine merges the forms and flatten records of several inputs.
func combine(ins []value) value {
	v := ins[0]
	for _, in := range ins[1:] {
		v.known = v.known && in.known
		if in.form > v.form {
			v.form, v.flatFrom = in.form, in.flatFrom
		}
		if in.unflat != v.unflat {
			v.unflat = runtime.Shape{}
		}
	}
	return v
}

// infer adds the written layer i, fed by ins, to the network (after a
// flatten layer when it needs one) and returns its output.
func (b *builder) infer(i int, ins []value) value {
	sl := &b.spec.Layers[i]
	if sl.Kind == runtime.Dense && ins[0].form == spatial {
		fl := spec.Layer{Kind: runtime.Flatten, Name: b.freeName("flatten")}
		ins = []value{b.add(b.flatten(&fl, ins))}
		// Errors name the layer the user wrote, not the inserted one.
		ins[0].flatFrom = sl.Name
	}
	var l Layer
	var out value
	switch sl.Kind {
	case runtime.Conv2D, runtime.MaxPool, runtime.AvgPool, runtime.GlobalAvgPool:
		l, out = b.window(sl, ins)
	case runtime.Flatten:
		l, out = b.flatten(sl, ins)
	case runtime.Dense:
		l, out = b.dense(sl, ins)
	case runtime.BatchNorm:
		l, out = b.batchNorm(sl, ins)
	case runtime.Add, runtime.Concat:
		l, out = b.join(sl, ins)
	default: // activations, dropout, softmax
		l, out = b.newLayer(sl, ins), ins[0]
	}
	return b.add(l, out)
}

// add appends l, whose output is out, and returns out as produced by it.
func (b *builder) add(l Layer, out value) value {
	if out.known {
		l.ActivationBytes = 4 * int64(l.Out.Size())
	}
	b.net.Layers = append(b.net.Layers, l)
	out.shape, out.from, out.index = l.Out, l.Name, len(b.net.Layers)-1
	return out
}

// window infers a conv, pool or global pool layer.
func (b *builder) window(sl *spec.Layer, ins []value) (Layer, value) {
	l, in := b.newLayer(sl, ins), ins[0]
	out := in
	if in.form == flat {
		b.errs.Add(sl.Pos, sl.Name, "a %s layer needs an HxWxC input, but activations are flat from %s on: put conv and pool layers before flatten and dense", sl.Kind, in.flatFrom)
		out.known = false
		return l, out
	}
	if !in.known {
		return l, out
	}
	if sl.Kind == runtime.GlobalAvgPool {
		l.Out = runtime.Shape{Height: 1, Width: 1, Channels: in.shape.Channels}
		out.form = pooled
		return l, out
	}
	what := "window"
	if sl.Kind == runtime.Conv2D {
		what = "kernel"
	}
	if sl.Padding == runtime.Valid && (sl.KernelH > in.shape.Height || sl.KernelW > in.shape.Width) {
		b.errs.Add(sl.KernelPos, sl.Name, "%s %dx%d is larger than its %dx%d input (from %s)", what, sl.KernelH, sl.KernelW, in.shape.Height, in.shape.Width, in.from)
		out.known = false
		return l, out
	}
	var oh, ow int
	oh, l.PadTop, l.PadBottom = runtime.Window(in.shape.Height, sl.KernelH, sl.StrideH, sl.Padding)
	ow, l.PadLeft, l.PadRight = runtime.Window(in.shape.Width, sl.KernelW, sl.StrideW, sl.Padding)
	l.Out = runtime.Shape{Height: oh, Width: ow, Channels: in.shape.Channels}
	out.form = spatial
	if sl.Kind != runtime.Conv2D {
		return l, out
	}
	l.Out.Channels = sl.Filters
	c, g := in.shape.Channels, l.GroupCount()
	if c%g != 0 || sl.Filters%g != 0 {
		pos := sl.GroupsPos
		if !pos.IsValid() {
			pos = sl.Pos
		}
		b.errs.Add(pos, sl.Name, "%d groups must divide both the %d input channels (from %s) and the %d filters", g, c, in.from, sl.Filters)
		out.known = false
		return l, out
	}
	if !b.activationFits(&l, sl.FiltersPos) {
		out.known = false
		return l, out
	}
	fanIn := sl.KernelH * sl.KernelW * c / g
	if !b.params(&l, sl, fanIn, []int{sl.KernelH, sl.KernelW, c / g, sl.Filters}, sl.Filters, sl.FiltersPos) {
		out.known = false
		return l, out
	}
	l.MACs = int64(oh) * int64(ow) * int64(sl.Filters) * int64(fanIn)
	return l, out
}

// activationFits checks the size of l's output.
func (b *builder) activationFits(l *Layer, pos spec.Pos) bool {
	size := int64(l.Out.Height) * int64(l.Out.Width) * int64(l.Out.Channels)
	if size > spec.MaxActivation {
		b.errs.Add(pos, l.Name, "the output %s has %d values: want at most %d", l.Out, size, spec.MaxActivation)
		return false
	}
	return true
}

// params adds the weight of l, fed by fanIn inputs each, and its bias of
// outputs values unless the layer has none.
func (b *builder) params(l *Layer, sl *spec.Layer, fanIn int, weightShape []int, outputs int, pos spec.Pos) bool {
	count := int64(1)
	for _, d := range weightShape {
		count *= int64(d)
	}
	if !sl.NoBias {
		count += int64(outputs)
	}
	if !b.countParams(l, count, pos) {
		return false
	}
	l.WeightInit = sl.WeightInit.Resolve(fanIn)
	l.Weight = len(b.net.Params)
	b.net.Params = append(b.net.Params,
		runtime.ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: weightShape, FanIn: fanIn, Init: l.WeightInit})
	if !sl.NoBias {
		l.BiasInit = sl.BiasInit.Resolve(fanIn)
		l.Bias = l.Weight + 1
		b.net.Params = append(b.net.Params,
			runtime.ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: []int{outputs}, FanIn: fanIn, Init: l.BiasInit})
	}
	return true
}

// countParams checks and records a layer's count of trainable values.
func (b *builder) countParams(l *Layer, count int64, pos spec.Pos) bool {
	if count > spec.MaxParams {
		b.errs.Add(pos, l.Name, "the layer has %d parameters: want at most %d", count, spec.MaxParams)
		return false
	}
	b.total += count
	l.ParamCount = int(count)
	return true
}

// flatten infers a flatten layer (as written, or inserted).
func (b *builder) flatten(sl *spec.Layer, ins []value) (Layer, value) {
	l, in := b.newLayer(sl, ins), ins[0]
	out := in
	if in.form == flat {
		b.errs.Add(sl.Pos, sl.Name, "activations are already flat from %s on: flatten once, before the first dense layer", in.flatFrom)
		return l, out
	}
	out.form, out.flatFrom, out.unflat = flat, sl.Name, in.shape
	l.Out = runtime.Shape{Height: 1, Width: 1, Channels: in.shape.Size()}
	return l, out
}

// dense infers a dense layer; its input is flat or globally pooled.
func (b *builder) dense(sl *spec.Layer, ins []value) (Layer, value) {
	l, in := b.newLayer(sl, ins), ins[0]
	out := in
	out.unflat = runtime.Shape{}
	if in.form != flat {
		out.form, out.flatFrom = flat, sl.Name
	}
	l.Out = runtime.Shape{Height: 1, Width: 1, Channels: sl.Units}
	if !in.known {
		return l, out
	}
	n := in.shape.Size()
	if !b.params(&l, sl, n, []int{n, sl.Units}, sl.Units, sl.UnitsPos) {
		out.known = false
		return l, out
	}
	l.MACs = int64(n) * int64(sl.Units)
	inShape := runtime.Shape{Height: 1, Width: 1, Channels: n}
	if in.unflat.Size() == n {
		inShape = in.unflat
	}
	b.net.Params[l.Weight].InShape = inShape
	return l, out
}

// batchNorm infers a batchnorm layer: a scale and a shift per channel, and
// the running mean and variance.
func (b *builder) batchNorm(sl *spec.Layer, ins []value) (Layer, value) {
	l, out := b.newLayer(sl, ins), ins[0]
	if !out.known {
		return l, out
	}
	c := out.shape.Channels
	if !b.countParams(&l, 2*int64(c), sl.Pos) {
		out.known = false
		return l, out
	}
	l.WeightInit = runtime.Init{Kind: runtime.InitOnes}
	l.BiasInit = runtime.Init{Kind: runtime.InitZeros}
	l.Weight, l.Bias = len(b.net.Params), len(b.net.Params)+1
	b.net.Params = append(b.net.Params,
		runtime.ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: []int{c}, FanIn: 1, Init: l.WeightInit},
		runtime.ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: []int{c}, FanIn: 1, Init: l.BiasInit})
	l.RunningStats = 2 * c
	return l, out
}

// join infers an add or concat layer.
func (b *builder) join(sl *spec.Layer, ins []value) (Layer, value) {
	l, out := b.newLayer(sl, ins), combine(ins)
	if !out.known {
		return l, out
	}
	first := ins[0]
	for j, in := range ins[1:] {
		s, f := in.shape, first.shape
		switch {
		case sl.Kind == runtime.Add && s != f:
			b.errs.Add(inputPos(sl, j+1), sl.Name, "add sums inputs of one shape, but %s gives %s and %s gives %s", in.from, s, first.from, f)
		case sl.Kind == runtime.Concat && (s.Height != f.Height || s.Width != f.Width):
			b.errs.Add(inputPos(sl, j+1), sl.Name, "concat joins inputs of one height and width, but %s gives %s and %s gives %s", in.from, s, first.from, f)
		default:
			continue
		}
		out.known = false
		return l, out
	}
	if sl.Kind == runtime.Concat {
		out.unflat = runtime.Shape{}
		channels := int64(0)
		for _, in := range ins {
			channels += int64(in.shape.Channels)
		}
		l.Out.Channels = int(min(channels, math.MaxInt32))
		if !b.activationFits(&l, sl.Pos) {
			out.known = false
		}
	}
	return l, out
}

// checkOutput checks the network's end against its loss, and sets Classes.
func (b *builder) checkOutput(out int) {
	layers := b.spec.Layers
	train := b.spec.Train
	for i := range layers {
		if l := &layers[i]; l.Kind == runtime.Softmax && i != out {
			next := layers[out].Name
			if c := b.consumers[i]; len(c) > 0 {
				next = layers[c[0]].Name
			}
			b.errs.Add(l.Pos, l.Name, "softmax must be the last layer, but %s follows it", next)
		}
	}
	last := &layers[out]
	v := b.vals[out]
	ol := &b.net.Layers[v.index]
	if last.Kind != runtime.Softmax {
		if train.Loss != runtime.SquaredError {
			b.errs.Add(last.Pos, last.Name, "the network must end with a softmax layer (it ends with this %s layer), or train with loss type mse to regress its outputs", last.Kind)
		}
		if !v.known {
			return
		}
		b.net.Classes = ol.Out.Size()
		if train.Target == runtime.TargetInput && ol.Out.Size() != b.net.Input.Size() {
			pos := train.TargetPos
			if !pos.IsValid() {
				pos = train.Pos
			}
			b.errs.Add(pos, "train.loss", "target input needs an output of the input's size: %s gives %d values (%s), the input has %d (%s)",
				last.Name, ol.Out.Size(), ol.Out, b.net.Input.Size(), b.net.Input)
		}
		return
	}
	if train.Loss == runtime.SquaredError {
		pos := train.LossPos
		if !pos.IsValid() {
			pos = train.Pos
		}
		b.errs.Add(pos, "train.loss", "loss mse regresses a network's outputs, but this network ends with softmax (%s): use softmax_cross_entropy, or end without softmax", last.Name)
	}
	// The class scores come from a dense layer, through layers that keep
	// their shape.
	d := b.vals[out].index
	for d >= 0 {
		switch l := &b.net.Layers[d]; l.Kind {
		case runtime.Softmax, runtime.ReLU, runtime.Sigmoid, runtime.Tanh, runtime.ReLU6, runtime.LeakyReLU,
			runtime.Dropout, runtime.BatchNorm:
			d = l.Inputs[0]
			continue
		}
		break
	}
	if d < 0 || b.net.Layers[d].Kind != runtime.Dense {
		b.errs.Add(last.Pos, last.Name, "softmax needs a dense layer before it to compute the class scores")
		return
	}
	dl := &b.net.Layers[d]
	b.net.Classes = dl.Units
	if dl.Units < 2 {
		b.errs.Add(b.unitsPos(dl), dl.Name, "the last dense layer gives the class scores: want at least 2 units, got %d", dl.Units)
	}
}

// unitsPos finds the position of the units value of a dense layer.
func (b *builder) unitsPos(d *Layer) spec.Pos {
	for _, l := range b.spec.Layers {
		if l.Name == d.Name {
			return l.UnitsPos
		}
	}
	return d.Pos
}
