package onnx

import (
	"github.com/cnngen/cnngen/gen/onnx/onnxpb"
	"github.com/cnngen/cnngen/runtime"
)

// window is a conv's or pool's 2-D geometry from its attributes.
type window struct {
	kh, kw, sh, sw int
	pad            runtime.Padding
	oh, ow         int
}

// geometry reads strides, dilations, pads and auto_pad for a window of
// kh×kw on an h×w map and finds the cnngen padding (same or valid) that
// gives the same windows, or refuses.
func (im *importer) geometry(n *onnxpb.NodeProto, h, w int, kh, kw int64, ceil bool, extra [4]int64) (window, error) {
	var g window
	if kh < 1 || kw < 1 || kh > maxDim || kw > maxDim {
		return g, im.nodeError(n, "kernel %dx%d: want sizes from 1 to %d", kh, kw, maxDim)
	}
	g.kh, g.kw = int(kh), int(kw)
	strides, err := im.attrInts(n, "strides", 2)
	if err != nil {
		return g, err
	}
	g.sh, g.sw = 1, 1
	if strides != nil {
		if strides[0] < 1 || strides[1] < 1 || strides[0] > maxDim || strides[1] > maxDim {
			return g, im.nodeError(n, "strides %v: want sizes from 1 to %d", strides, maxDim)
		}
		g.sh, g.sw = int(strides[0]), int(strides[1])
	}
	dil, err := im.attrInts(n, "dilations", 2)
	if err != nil {
		return g, err
	}
	if dil != nil && (dil[0] != 1 || dil[1] != 1) {
		return g, im.nodeError(n, "dilations %v are not supported", dil)
	}
	auto, err := im.attrString(n, "auto_pad", "NOTSET")
	if err != nil {
		return g, err
	}
	pads, err := im.attrInts(n, "pads", 4)
	if err != nil {
		return g, err
	}
	if extra != ([4]int64{}) {
		if auto != "NOTSET" && auto != "" {
			return g, im.nodeError(n, "a Pad before a Conv with auto_pad %s is not supported", trunc(auto))
		}
		if pads == nil {
			pads = []int64{0, 0, 0, 0}
		}
		sum := make([]int64, 4)
		for k := range sum {
			sum[k] = pads[k] + extra[k]
		}
		pads = sum
	}
	switch auto {
	case "VALID":
		g.pad = runtime.Valid
	case "SAME_UPPER":
		g.pad = runtime.Same
	case "SAME_LOWER":
		g.pad = runtime.Same
		for _, d := range [][3]int{{h, g.kh, g.sh}, {w, g.kw, g.sw}} {
			_, before, after := runtime.Window(d[0], d[1], d[2], runtime.Same)
			if before != after {
				return g, im.nodeError(n, "auto_pad SAME_LOWER puts the odd padding element at the top/left here; cnngen's same padding puts it at the bottom/right")
			}
		}
	case "NOTSET", "":
		if pads == nil {
			pads = []int64{0, 0, 0, 0}
		}
		for _, p := range pads {
			if p < 0 || p > maxDim {
				return g, im.nodeError(n, "pads %v: want sizes from 0 to %d", pads, maxDim)
			}
		}
		if int64(h)+pads[0]+pads[2] < kh || int64(w)+pads[1]+pads[3] < kw {
			return g, im.nodeError(n, "kernel %dx%d does not fit its %dx%d input padded by %v", kh, kw, h, w, pads)
		}
		found := false
		for _, mode := range []runtime.Padding{runtime.Valid, runtime.Same} {
			if matches(h, g.kh, g.sh, int(pads[0]), int(pads[2]), ceil, mode) && matches(w, g.kw, g.sw, int(pads[1]), int(pads[3]), ceil, mode) {
				g.pad, found = mode, true
				break
			}
		}
		if !found {
			return g, im.nodeError(n, "pads %v (top, left, bottom, right) on a %dx%d map with kernel %dx%d, stride %dx%d are neither valid nor same padding, the two that cnngen has",
				pads, h, w, g.kh, g.kw, g.sh, g.sw)
		}
	default:
		return g, im.nodeError(n, "auto_pad %q is not supported", trunc(auto))
	}
	var bh, ah, bw, aw int
	g.oh, bh, ah = runtime.Window(h, g.kh, g.sh, g.pad)
	g.ow, bw, aw = runtime.Window(w, g.kw, g.sw, g.pad)
	if g.oh < 1 || g.ow < 1 {
		return g, im.nodeError(n, "kernel %dx%d does not fit its %dx%d input", g.kh, g.kw, h, w)
	}
	_ = bh + ah + bw + aw
	return g, nil
}

// matches tells whether ONNX's explicit padding before/after on a dimension
// of size in computes the same windows as cnngen's padding mode: the same
// output size and the same padding before (padding after that no window
// reaches does not matter).
func matches(in, f, s, before, after int, ceil bool, mode runtime.Padding) bool {
	span := in + before + after - f
	if span < 0 {
		return false
	}
	o := span/s + 1
	if ceil {
		o = (span+s-1)/s + 1
		// ONNX drops a last window that starts in the padding after.
		if (o-1)*s >= in+before {
			o--
		}
	}
	mo, mb, _ := runtime.Window(in, f, s, mode)
	return mo > 0 && mo == o && mb == before
}

// padded tells whether a window geometry pads at all.
func padded(h, w int, g window) bool {
	_, bh, ah := runtime.Window(h, g.kh, g.sh, g.pad)
	_, bw, aw := runtime.Window(w, g.kw, g.sw, g.pad)
	return bh+ah+bw+aw > 0
}

// conv imports Conv.
func (im *importer) conv(n *onnxpb.NodeProto) error {
	x := im.tensors[in(n, 0)]
	if x == nil {
		return im.nodeError(n, "input 1 (%q) must be computed from the graph's input, not a constant", trunc(in(n, 0)))
	}
	if x.flat {
		return im.nodeError(n, "input is not an N×C×H×W map")
	}
	wt, err := im.constIn(n, 1)
	if err != nil {
		return err
	}
	if wt == nil || len(wt.dims) != 4 {
		return im.nodeError(n, "the weight must be a constant of rank 4 (only 2-D convolutions are supported)")
	}
	groups, err := im.attrInt(n, "group", 1)
	if err != nil {
		return err
	}
	c := int64(x.shape.Channels)
	m, cg, kh, kw := wt.dims[0], wt.dims[1], wt.dims[2], wt.dims[3]
	if groups < 1 || groups > c || c%groups != 0 || m%groups != 0 || cg != c/groups || m < 1 || m > 65536 {
		return im.nodeError(n, "weight dims %v and group %d do not fit %d input channels", wt.dims, groups, c)
	}
	if ks, err := im.attrInts(n, "kernel_shape", 2); err != nil {
		return err
	} else if ks != nil && (ks[0] != kh || ks[1] != kw) {
		return im.nodeError(n, "kernel_shape %v differs from the weight's %dx%d", ks, kh, kw)
	}
	g, err := im.geometry(n, x.shape.Height, x.shape.Width, kh, kw, false, x.pad)
	if err != nil {
		return err
	}
	M, CG, KH, KW := int(m), int(cg), g.kh, g.kw
	// ONNX [M, C/g, kh, kw] → HWIO [kh, kw, C/g, M].
	src := wt.floats()
	std := make([]float32, len(src))
	for o := 0; o < M; o++ {
		for i := 0; i < CG; i++ {
			for y := 0; y < KH; y++ {
				for xx := 0; xx < KW; xx++ {
					std[((y*KW+xx)*CG+i)*M+o] = src[((o*CG+i)*KH+y)*KW+xx]
				}
			}
		}
	}
	l := &layer{spec: runtime.LayerSpec{Kind: runtime.Conv2D, Filters: M, KernelH: KH, KernelW: KW, StrideH: g.sh, StrideW: g.sw,
		Padding: g.pad, Groups: int(groups)}, input: []string{x.layer}, weight: std}
	out := &tensor{shape: runtime.Shape{Height: g.oh, Width: g.ow, Channels: M}}
	b, err := im.constIn(n, 2)
	if err != nil {
		return err
	}
	if b != nil {
		if b.size() != M {
			return im.nodeError(n, "bias has %d values: want %d", b.size(), M)
		}
		l.bias = b.floats()
	} else {
		l.spec.NoBias = true
		out.pending = l
	}
	im.emit(n, l, out)
	return nil
}

// pool imports MaxPool and AveragePool.
func (im *importer) pool(n *onnxpb.NodeProto) error {
	x, err := im.data(n, 0)
	if err != nil {
		return err
	}
	if x.flat {
		return im.nodeError(n, "input is not an N×C×H×W map")
	}
	ks, err := im.attrInts(n, "kernel_shape", 2)
	if err != nil {
		return err
	}
	if ks == nil {
		return im.nodeError(n, "kernel_shape is missing")
	}
	ceil, err := im.attrInt(n, "ceil_mode", 0)
	if err != nil {
		return err
	}
	g, err := im.geometry(n, x.shape.Height, x.shape.Width, ks[0], ks[1], ceil != 0, [4]int64{})
	if err != nil {
		return err
	}
	kind := runtime.MaxPool
	if n.GetOpType() == "AveragePool" {
		kind = runtime.AvgPool
		inc, err := im.attrInt(n, "count_include_pad", 0)
		if err != nil {
			return err
		}
		if inc != 0 && padded(x.shape.Height, x.shape.Width, g) {
			return im.nodeError(n, "count_include_pad 1 with padding is not supported: cnngen's avgpool divides by the window elements inside the input")
		}
	}
	im.emit(n, &layer{spec: runtime.LayerSpec{Kind: kind, KernelH: g.kh, KernelW: g.kw, StrideH: g.sh, StrideW: g.sw, Padding: g.pad},
		input: []string{x.layer}}, &tensor{shape: runtime.Shape{Height: g.oh, Width: g.ow, Channels: x.shape.Channels}})
	return nil
}

// dense imports Gemm and MatMul as a dense layer.
func (im *importer) dense(n *onnxpb.NodeProto) error {
	x, err := im.data(n, 0)
	if err != nil {
		return err
	}
	if !x.flat {
		return im.nodeError(n, "input must be N×F (flatten the map first)")
	}
	b, err := im.constIn(n, 1)
	if err != nil {
		return err
	}
	if b == nil || len(b.dims) != 2 {
		return im.nodeError(n, "B must be a constant matrix")
	}
	transB, alpha, beta := int64(0), 1.0, 1.0
	if n.GetOpType() == "Gemm" {
		transA, err := im.attrInt(n, "transA", 0)
		if err != nil {
			return err
		}
		if transA != 0 {
			return im.nodeError(n, "transA 1 is not supported")
		}
		if transB, err = im.attrInt(n, "transB", 0); err != nil {
			return err
		}
		if alpha, err = im.attrFloat(n, "alpha", 1); err != nil {
			return err
		}
		if beta, err = im.attrFloat(n, "beta", 1); err != nil {
			return err
		}
	}
	in, units := b.dims[0], b.dims[1]
	if transB != 0 {
		in, units = units, in
	}
	if in != int64(x.shape.Channels) || units < 1 || units > 65536 {
		return im.nodeError(n, "B of dims %v (transB %d) does not fit %d input features", b.dims, transB, x.shape.Channels)
	}
	I, U := int(in), int(units)
	src := b.floats()
	std := make([]float32, len(src))
	for i := 0; i < I; i++ {
		p := i // the ONNX feature of cnngen's feature i
		if x.hwc {
			// i = (h·W + w)·C + c in cnngen; ONNX has (c·H + h)·W + w.
			s := x.from
			c, hw := i%s.Channels, i/s.Channels
			p = c*s.Height*s.Width + hw
		}
		for u := 0; u < U; u++ {
			v := src[p*U+u]
			if transB != 0 {
				v = src[u*I+p]
			}
			std[i*U+u] = float32(alpha) * v
		}
	}
	l := &layer{spec: runtime.LayerSpec{Kind: runtime.Dense, Units: U}, input: []string{x.layer}, weight: std}
	out := &tensor{shape: runtime.Shape{Height: 1, Width: 1, Channels: U}, flat: true}
	c, err := im.constIn(n, 2)
	if err != nil {
		return err
	}
	switch {
	case c != nil:
		if c.size() != U && c.size() != 1 || len(c.dims) == 2 && c.dims[0] != 1 {
			return im.nodeError(n, "C of dims %v is not a bias of %d values", c.dims, U)
		}
		l.bias = make([]float32, U)
		for u := range l.bias {
			l.bias[u] = float32(beta) * c.floats()[u%c.size()]
		}
	default:
		l.spec.NoBias = true
		out.pending = l
	}
	im.emit(n, l, out)
	return nil
}
