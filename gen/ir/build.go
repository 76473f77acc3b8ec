package ir

import (
	"fmt"
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
//   - conv and pool layers come before any flatten or dense layer, and a VALID
//     window fits its input;
//   - a flatten layer is inserted before the first dense layer when the
//     description leaves it implicit (named flatten1, or the first free
//     flattenN; its Pos is zero);
//   - the last layer, and only it, is softmax, and the last dense layer before
//     it gives at least two classes;
//   - each layer and the whole network stay within [spec.MaxParams] and
//     [spec.MaxActivation].
//
// It reports every problem it can: after a shape error the later layers'
// shapes are unknown, so only their order is still checked. Errors are a
// [spec.ErrorList] sorted by position.
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

	cur   runtime.Shape // the current activation shape
	known bool          // whether cur is known (no shape error so far)
	flat  string        // the flatten layer that made activations flat, if any
	// unflat is the input shape of the last flatten layer until a dense
	// layer consumes it: a dense weight's [runtime.ParamInfo.InShape].
	unflat runtime.Shape
	from   string // the layer that produced cur, or "input"
	dense  int    // index in net.Layers of the last dense layer so far, or -1
	total  int64  // parameters so far
}

// checkSpec checks what spec.Parse guarantees: names, kinds and sizes.
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
		if err := spec.CheckIdent(l.Name); err != nil {
			b.errs.Add(l.Pos, where, "layer %v", err)
		} else if seen[strings.ToLower(l.Name)] {
			b.errs.Add(l.Pos, where, "duplicate layer name %s", spec.Quote(l.Name))
		}
		seen[strings.ToLower(l.Name)] = true
		sizes := []int{}
		switch l.Kind {
		case runtime.Conv2D:
			sizes = []int{l.Filters, l.KernelH, l.KernelW, l.StrideH, l.StrideW}
		case runtime.MaxPool, runtime.AvgPool:
			sizes = []int{l.KernelH, l.KernelW, l.StrideH, l.StrideW}
		case runtime.Dense:
			sizes = []int{l.Units}
		case runtime.ReLU, runtime.Sigmoid, runtime.Tanh, runtime.Flatten, runtime.Softmax:
		default:
			b.errs.Add(l.Pos, where, "unknown layer kind %s", spec.Quote(string(l.Kind)))
		}
		if len(sizes) > 0 && (slices.Min(sizes) < 1 || slices.Max(sizes) > spec.MaxUnits ||
			max(l.KernelH, l.KernelW, l.StrideH, l.StrideW) > spec.MaxDim) {
			b.errs.Add(l.Pos, where, "a %s layer with sizes %v: want 1 to %d (%d for filters and units)", l.Kind, sizes, spec.MaxDim, spec.MaxUnits)
		}
	}
}

func (b *builder) build() {
	b.cur, b.known, b.from, b.dense = b.net.Input, true, "input", -1
	layers := b.spec.Layers
	for i := range layers {
		sl := &layers[i]
		if sl.Kind == runtime.Dense && b.flat == "" {
			b.add(b.flatten(spec.Layer{Kind: runtime.Flatten, Name: b.freeName("flatten")}))
			// Errors name the layer the user wrote, not the inserted one.
			b.flat = sl.Name
		}
		var l Layer
		switch sl.Kind {
		case runtime.Conv2D, runtime.MaxPool, runtime.AvgPool:
			l = b.window(sl)
		case runtime.Flatten:
			l = b.flatten(*sl)
		case runtime.Dense:
			l = b.denseLayer(sl)
		case runtime.Softmax:
			l = b.layer(sl)
			if i != len(layers)-1 {
				b.errs.Add(sl.Pos, sl.Name, "softmax must be the last layer, but %s follows it", layers[i+1].Name)
			}
			if b.dense < 0 {
				b.errs.Add(sl.Pos, sl.Name, "softmax needs a dense layer before it to compute the class scores")
			}
		default: // activations
			l = b.layer(sl)
		}
		b.add(l)
	}
	if n := len(layers); n > 0 && layers[n-1].Kind != runtime.Softmax {
		last := layers[n-1]
		b.errs.Add(last.Pos, last.Name, "the network must end with a softmax layer (it ends with this %s layer)", last.Kind)
	}
	if b.total > spec.MaxParams {
		b.errs.Add(b.spec.LayersPos, "", "the network has %d parameters: want at most %d", b.total, spec.MaxParams)
	}
	if b.dense >= 0 {
		d := &b.net.Layers[b.dense]
		b.net.Classes = d.Units
		if d.Units < 2 && layers[len(layers)-1].Kind == runtime.Softmax {
			b.errs.Add(b.unitsPos(d), d.Name, "the last dense layer gives the class scores: want at least 2 units, got %d", d.Units)
		}
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

// layer starts a layer whose output shape equals its input shape.
func (b *builder) layer(sl *spec.Layer) Layer {
	return Layer{
		LayerSpec: runtime.LayerSpec{
			Kind: sl.Kind, Name: sl.Name,
			Filters: sl.Filters, Units: sl.Units,
			KernelH: sl.KernelH, KernelW: sl.KernelW,
			StrideH: sl.StrideH, StrideW: sl.StrideW,
			Padding: sl.Padding,
		},
		Pos:    sl.Pos,
		In:     b.cur,
		Out:    b.cur,
		Weight: -1,
		Bias:   -1,
	}
}

// add appends l and makes its output the current shape.
func (b *builder) add(l Layer) {
	if b.known {
		l.ActivationBytes = 4 * int64(l.Out.Size())
	}
	b.net.Layers = append(b.net.Layers, l)
	b.cur, b.from = l.Out, l.Name
	if l.Kind == runtime.Dense {
		b.dense = len(b.net.Layers) - 1
	}
}

// window infers a conv or pool layer.
func (b *builder) window(sl *spec.Layer) Layer {
	l := b.layer(sl)
	what := "window"
	if sl.Kind == runtime.Conv2D {
		what = "kernel"
	}
	if b.flat != "" {
		b.errs.Add(sl.Pos, sl.Name, "a %s layer needs an HxWxC input, but activations are flat from %s on: put conv and pool layers before flatten and dense", sl.Kind, b.flat)
		b.known = false
		return l
	}
	if !b.known {
		return l
	}
	in := b.cur
	if sl.Padding == runtime.Valid && (sl.KernelH > in.Height || sl.KernelW > in.Width) {
		b.errs.Add(sl.KernelPos, sl.Name, "%s %dx%d is larger than its %dx%d input (from %s)", what, sl.KernelH, sl.KernelW, in.Height, in.Width, b.from)
		b.known = false
		return l
	}
	var oh, ow int
	oh, l.PadTop, l.PadBottom = runtime.Window(in.Height, sl.KernelH, sl.StrideH, sl.Padding)
	ow, l.PadLeft, l.PadRight = runtime.Window(in.Width, sl.KernelW, sl.StrideW, sl.Padding)
	l.Out = runtime.Shape{Height: oh, Width: ow, Channels: in.Channels}
	if sl.Kind != runtime.Conv2D {
		return l
	}
	l.Out.Channels = sl.Filters
	if !b.activationFits(&l, sl.FiltersPos) {
		return l
	}
	fanIn := sl.KernelH * sl.KernelW * in.Channels
	if !b.params(&l, sl, fanIn, []int{sl.KernelH, sl.KernelW, in.Channels, sl.Filters}, sl.Filters, sl.FiltersPos) {
		return l
	}
	l.MACs = int64(oh) * int64(ow) * int64(sl.Filters) * int64(fanIn)
	return l
}

// activationFits checks the size of l's output.
func (b *builder) activationFits(l *Layer, pos spec.Pos) bool {
	size := int64(l.Out.Height) * int64(l.Out.Width) * int64(l.Out.Channels)
	if size > spec.MaxActivation {
		b.errs.Add(pos, l.Name, "the output %s has %d values: want at most %d", l.Out, size, spec.MaxActivation)
		b.known = false
		return false
	}
	return true
}

// params adds the weight and bias of l, fed by fanIn inputs each.
func (b *builder) params(l *Layer, sl *spec.Layer, fanIn int, weightShape []int, outputs int, pos spec.Pos) bool {
	count := int64(1)
	for _, d := range weightShape {
		count *= int64(d)
	}
	count += int64(outputs)
	if count > spec.MaxParams {
		b.errs.Add(pos, l.Name, "the layer has %d parameters: want at most %d", count, spec.MaxParams)
		b.known = false
		return false
	}
	b.total += count
	l.ParamCount = int(count)
	l.WeightInit = sl.WeightInit.Resolve(fanIn)
	l.BiasInit = sl.BiasInit.Resolve(fanIn)
	l.Weight = len(b.net.Params)
	l.Bias = l.Weight + 1
	b.net.Params = append(b.net.Params,
		runtime.ParamInfo{Name: l.Name + ".weight", Layer: l.Name, Shape: weightShape, FanIn: fanIn, Init: l.WeightInit},
		runtime.ParamInfo{Name: l.Name + ".bias", Layer: l.Name, Shape: []int{outputs}, FanIn: fanIn, Init: l.BiasInit},
	)
	return true
}

// flatten infers a flatten layer (as written, or inserted).
func (b *builder) flatten(sl spec.Layer) Layer {
	l := b.layer(&sl)
	if b.flat != "" {
		b.errs.Add(sl.Pos, sl.Name, "activations are already flat from %s on: flatten once, before the first dense layer", b.flat)
		return l
	}
	b.flat = sl.Name
	b.unflat = b.cur
	l.Out = runtime.Shape{Height: 1, Width: 1, Channels: b.cur.Size()}
	return l
}

// denseLayer infers a dense layer; the input is flat.
func (b *builder) denseLayer(sl *spec.Layer) Layer {
	l := b.layer(sl)
	l.Out = runtime.Shape{Height: 1, Width: 1, Channels: sl.Units}
	if !b.known {
		return l
	}
	in := b.cur.Size()
	if b.params(&l, sl, in, []int{in, sl.Units}, sl.Units, sl.UnitsPos) {
		l.MACs = int64(in) * int64(sl.Units)
		inShape := runtime.Shape{Height: 1, Width: 1, Channels: in}
		if b.unflat.Size() == in {
			inShape = b.unflat
		}
		b.net.Params[l.Weight].InShape = inShape
	}
	b.unflat = runtime.Shape{}
	return l
}
