package asm

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var kernelBench = flag.String("kernelbench", "", "also run the generated kernels' benchmarks matching this regexp (e.g. '512x300') and log the results")

// testShapes are the dense shapes every op is rendered for: the digits
// layers, and awkward sizes that leave tails in every vector width and
// register block.
var testShapes = []struct {
	in, units int
	relu      bool
}{
	{512, 300, true}, {300, 10, false}, {7, 13, true}, {13, 7, false},
	{7, 1, true}, {16, 16, false}, {5, 37, true}, {1, 24, false}, {3, 700, true},
}

func testKernels() []Kernel {
	var ks []Kernel
	for _, s := range testShapes {
		base := fmt.Sprintf("d%dx%d", s.in, s.units)
		ks = append(ks,
			Kernel{Op: DenseForward, Name: base + "Forward", In: s.in, Units: s.units, ReLU: s.relu},
			Kernel{Op: DenseForwardOne, Name: base + "ForwardOne", In: s.in, Units: s.units, ReLU: !s.relu},
			Kernel{Op: DenseBackwardInput, Name: base + "BackwardInput", In: s.in, Units: s.units, ReLU: s.relu},
			Kernel{Op: DenseBackwardWeights, Name: base + "BackwardWeights", In: s.in, Units: s.units},
		)
	}
	for _, s := range testShapes[:4] {
		base := fmt.Sprintf("d%dx%d", s.in, s.units)
		ks = append(ks,
			Kernel{Op: DenseForward, Name: base + "ForwardPadded", In: s.in, Units: s.units, ReLU: s.relu, Padded: true},
			Kernel{Op: DenseForwardOne, Name: base + "ForwardOnePadded", In: s.in, Units: s.units, Padded: true},
		)
	}
	for _, c := range testConvs {
		ks = append(ks,
			Kernel{Op: Conv2DForward, Name: c.name + "Forward", Conv: c.shape, ReLU: c.relu},
			Kernel{Op: Conv2DBackwardWeights, Name: c.name + "BackwardWeights", Conv: c.shape},
		)
		if c.shape.inputGradTerms() <= maxConvTerms {
			ks = append(ks, Kernel{Op: Conv2DBackwardInput, Name: c.name + "BackwardInput", Conv: c.shape, ReLU: c.relu})
		}
	}
	// The golden set is compiled and checked too.
	ks = append(ks, goldenKernels...)
	ks = append(ks, Kernel{Op: ReLUForward, Name: "reluInPlace"}, Kernel{Op: ReLUForward, Name: "reluInPlaceAgain"}, Kernel{Op: ReLUBackward, Name: "reluBackward"})
	for _, c := range testConvs {
		ks = append(ks, Kernel{Op: Im2colInterior, Name: c.name + "Im2col", Conv: c.shape},
			Kernel{Op: Col2imInterior, Name: c.name + "Col2im", Conv: c.shape})
	}
	// Runs of 3·c floats for c = 1…17 leave every tail of both vector
	// widths; the windows overlap (stride 1 across a kernel 3 wide). With
	// a padded border, the copies must also leave the border rows alone.
	for c := 1; c <= 17; c++ {
		ks = append(ks, Kernel{Op: Col2imInterior, Name: fmt.Sprintf("tailsC%dCol2im", c), Conv: ConvShape{
			InH: 5, InW: 6, InC: c, KernelH: 2, KernelW: 3, StrideH: 1, StrideW: 1, OutH: 4, OutW: 4, Filters: 1}},
			Kernel{Op: Im2colInterior, Name: fmt.Sprintf("tailsC%dIm2col", c), Conv: ConvShape{
				InH: 5, InW: 6, InC: c, KernelH: 2, KernelW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadLeft: 1, OutH: 6, OutW: 6, Filters: 1}})
	}
	// One kernel row of 2·c floats: AVX2 stores a short run whole only
	// when the next window's run takes what it writes past itself (c ≥ 2).
	for c := 1; c <= 3; c++ {
		ks = append(ks, Kernel{Op: Im2colInterior, Name: fmt.Sprintf("narrowC%dIm2col", c), Conv: ConvShape{
			InH: 4, InW: 6, InC: c, KernelH: 1, KernelW: 2, StrideH: 1, StrideW: 1, PadLeft: 1, OutH: 4, OutW: 7, Filters: 1}})
	}
	ks = append(ks, Kernel{Op: Add, Name: "addVec"}, Kernel{Op: Add, Name: "addVecAgain"})
	for _, units := range []int{8, 16, 24, 40, 64} {
		for _, op := range []Op{BatchNormMoments, BatchNormSums, ChannelAffine, BatchNormBackward, ChannelSum, ChannelAffineReLU} {
			ks = append(ks, Kernel{Op: op, Name: fmt.Sprintf("bn%d%v", units, op), Units: units})
		}
	}
	for _, d := range testDepthwise {
		ks = append(ks, Kernel{Op: DepthwiseConv2DInterior, Name: d.name + "Interior", Conv: d.shape},
			Kernel{Op: DepthwiseConv2DWeightGradInterior, Name: d.name + "WeightGrad", Conv: d.shape},
			Kernel{Op: DepthwiseConv2DInputGradInterior, Name: d.name + "InputGrad", Conv: d.shape},
			Kernel{Op: DepthwiseConv2DWindow, Name: d.name + "Window", Conv: d.shape},
			Kernel{Op: DepthwiseConv2DWindowGrad, Name: d.name + "WindowGrad", Conv: d.shape})
	}
	for _, p := range testPlanes {
		ks = append(ks, Kernel{Op: PlaneConv2DForward, Name: p.name, Conv: p.shape, ReLU: p.relu})
	}
	for _, p := range testPools {
		ks = append(ks,
			Kernel{Op: MaxPool2DForward, Name: p.name + "Forward", Pool: p.shape},
			Kernel{Op: MaxPool2DBackward, Name: p.name + "Backward", Pool: p.shape, ReLU: p.relu},
		)
	}
	return ks
}

// testPlanes are PlaneConv2DForward shapes (padded planes): LeNet-5's first
// layer, then every filter count up to 8 (transposes of 4, 2 and 1 rows and
// their sums), rows narrower than a vector, ending inside one, of one or
// several vectors, and kernels wider than tall.
var testPlanes = []struct {
	name  string
	shape ConvShape
	relu  bool
}{
	{"planeLeNet", ConvShape{InH: 32, InW: 32, InC: 1, KernelH: 5, KernelW: 5, StrideH: 1, StrideW: 1, OutH: 28, OutW: 28, Filters: 6}, true},
	{"planeF1", ConvShape{InH: 7, InW: 12, InC: 1, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, OutH: 5, OutW: 10, Filters: 1}, false},
	{"planeF2", ConvShape{InH: 6, InW: 21, InC: 1, KernelH: 2, KernelW: 4, StrideH: 1, StrideW: 1, OutH: 5, OutW: 17, Filters: 2}, true},
	{"planeF3", ConvShape{InH: 5, InW: 5, InC: 1, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, OutH: 3, OutW: 3, Filters: 3}, false},
	{"planeF4", ConvShape{InH: 10, InW: 10, InC: 1, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, OutH: 8, OutW: 8, Filters: 4}, true},
	{"planeF5", ConvShape{InH: 9, InW: 14, InC: 1, KernelH: 1, KernelW: 1, StrideH: 1, StrideW: 1, OutH: 9, OutW: 13, Filters: 5}, false},
	{"planeF7", ConvShape{InH: 8, InW: 30, InC: 1, KernelH: 3, KernelW: 5, StrideH: 1, StrideW: 1, OutH: 6, OutW: 25, Filters: 7}, true},
	{"planeF8", ConvShape{InH: 4, InW: 18, InC: 1, KernelH: 2, KernelW: 2, StrideH: 1, StrideW: 1, OutH: 3, OutW: 15, Filters: 8}, false},
}

// testPools are the max-pooling shapes: digits (tiled windows), uneven SAME
// padding, overlapping windows, channel tails on both vector widths.
var testPools = []struct {
	name  string
	shape PoolShape
	relu  bool
}{
	{"digitsPool", PoolShape{InH: 8, InW: 8, Channels: 32, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, OutH: 4, OutW: 4}, true},
	{"poolSame5x5c7", PoolShape{InH: 5, InW: 5, Channels: 7, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, OutH: 3, OutW: 3}, false},
	{"poolValid3s2c20", PoolShape{InH: 5, InW: 5, Channels: 20, KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, OutH: 2, OutW: 2}, true},
	{"poolSame3s1c16", PoolShape{InH: 6, InW: 6, Channels: 16, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadLeft: 1, OutH: 6, OutW: 6}, true},
	{"poolTiled4x4c1", PoolShape{InH: 4, InW: 4, Channels: 1, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, OutH: 2, OutW: 2}, false},
	// LeNet-5's first pool, smaller: AVX2 stores whole vectors but in
	// the last row (6 and 3 channels leave 2 and 5 lanes past a window).
	{"poolTiled6x8c6", PoolShape{InH: 6, InW: 8, Channels: 6, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, OutH: 3, OutW: 4}, false},
	{"poolTiled6x8c3", PoolShape{InH: 6, InW: 8, Channels: 3, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, OutH: 3, OutW: 4}, true},
}

// testDepthwise are depthwise shapes (Filters = InC): MobileNet's strided
// layer, a half AVX-512 vector (8 channels) alone and after whole ones,
// VALID and uneven padding, kernels smaller than 3×3 and wider than tall.
var testDepthwise = []struct {
	name  string
	shape ConvShape
}{
	{"dwMobile2", ConvShape{InH: 48, InW: 48, InC: 16, KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, OutH: 24, OutW: 24, Filters: 16}},
	{"dwSame7c8", ConvShape{InH: 7, InW: 7, InC: 8, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadLeft: 1, OutH: 7, OutW: 7, Filters: 8}},
	{"dwValid5x6c24", ConvShape{InH: 5, InW: 6, InC: 24, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, OutH: 3, OutW: 4, Filters: 24}},
	{"dwSame9x5s2c40", ConvShape{InH: 9, InW: 5, InC: 40, KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 1, PadTop: 1, PadLeft: 1, OutH: 5, OutW: 5, Filters: 40}},
	{"dwK2x3c64", ConvShape{InH: 6, InW: 6, InC: 64, KernelH: 2, KernelW: 3, StrideH: 1, StrideW: 2, PadLeft: 1, OutH: 5, OutW: 3, Filters: 64}},
	{"dwK1x1c8", ConvShape{InH: 3, InW: 4, InC: 8, KernelH: 1, KernelW: 1, StrideH: 1, StrideW: 1, OutH: 3, OutW: 4, Filters: 8}},
}

// testConvs are the convolution shapes: the digits layer, and awkward ones
// (channels, strides, VALID and uneven SAME padding, filter tails on both
// vector widths, a 1×1 kernel).
var testConvs = []struct {
	name  string
	shape ConvShape
	relu  bool
}{
	{"digitsConv", ConvShape{InH: 8, InW: 8, InC: 1, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadLeft: 1, OutH: 8, OutW: 8, Filters: 32}, true},
	{"valid5x5x3f7", ConvShape{InH: 5, InW: 5, InC: 3, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, OutH: 3, OutW: 3, Filters: 7}, false},
	{"same5x5x2s2f13", ConvShape{InH: 5, InW: 5, InC: 2, KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, OutH: 3, OutW: 3, Filters: 13}, true},
	{"same6x7k4x5f20", ConvShape{InH: 6, InW: 7, InC: 1, KernelH: 4, KernelW: 5, StrideH: 1, StrideW: 1, PadTop: 1, PadLeft: 2, OutH: 6, OutW: 7, Filters: 20}, true},
	{"point4x4x4f40", ConvShape{InH: 4, InW: 4, InC: 4, KernelH: 1, KernelW: 1, StrideH: 1, StrideW: 1, OutH: 4, OutW: 4, Filters: 40}, false},
	{"twoconv2", ConvShape{InH: 7, InW: 7, InC: 16, KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, OutH: 4, OutW: 4, Filters: 32}, true},
	{"wide3x3x2f96", ConvShape{InH: 3, InW: 3, InC: 2, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadLeft: 1, OutH: 3, OutW: 3, Filters: 96}, false},
	// No kernel row reads the input for every output row (explicit
	// padding, as an ONNX import can give): db has a loop of its own.
	{"edge4x4s2f9", ConvShape{InH: 4, InW: 4, InC: 1, KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, OutH: 3, OutW: 3, Filters: 9}, true},
}

func TestRenderIsDeterministicAndFormatted(t *testing.T) {
	a, err := Render("kernels", testKernels())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render("kernels", testKernels())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{AsmFile, StubFile, PureGoFile, RefFile}
	if len(a) != len(want) {
		t.Fatalf("Render returned %d files, want %v", len(a), want)
	}
	for i, f := range a {
		if f.Name != want[i] {
			t.Errorf("file %d is %s, want %s", i, f.Name, want[i])
		}
		if !bytes.Equal(f.Data, b[i].Data) {
			t.Errorf("%s differs between two renderings", f.Name)
		}
		if !bytes.HasPrefix(f.Data, []byte("// Code generated by cnngen. DO NOT EDIT.\n")) {
			t.Errorf("%s lacks the generated-code header", f.Name)
		}
		if strings.HasSuffix(f.Name, ".go") {
			src, err := format.Source(f.Data)
			if err != nil {
				t.Errorf("%s: %v", f.Name, err)
			} else if !bytes.Equal(src, f.Data) {
				t.Errorf("%s is not gofmt-clean", f.Name)
			}
		}
	}
}

func TestRenderErrors(t *testing.T) {
	for _, c := range []struct {
		pkg  string
		k    []Kernel
		want string
	}{
		{"1x", nil, `asm: package name "1x" is not a Go identifier`},
		{"p", []Kernel{{Op: DenseForward, Name: "func", In: 1, Units: 1}}, `asm: kernel name "func" is not a Go identifier`},
		{"p", []Kernel{{Op: DenseForward, Name: "f", In: 0, Units: 3}}, `asm: kernel f: DenseForward needs In ≥ 1 and Units ≥ 1, got 0 and 3`},
		{"p", []Kernel{{Op: Op(99), Name: "f", In: 1, Units: 1}}, `asm: kernel f: unknown op Op(99)`},
		{"p", []Kernel{{Op: DenseBackwardWeights, Name: "f", In: 1, Units: 1, ReLU: true}}, `asm: kernel f: ReLU does not apply to DenseBackwardWeights`},
		{"p", []Kernel{{Op: DenseBackwardInput, Name: "f", In: 1, Units: 1, Padded: true}}, `asm: kernel f: Padded applies only to dense forward kernels`},
		{"p", []Kernel{{Op: Conv2DForward, Name: "f", Conv: ConvShape{InH: 4, InW: 4, InC: 1, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, PadTop: 3, OutH: 4, OutW: 4, Filters: 8}}}, `asm: kernel f: Conv2DForward: padding 3,0 does not fit a 3x3 kernel`},
		{"p", []Kernel{{Op: Conv2DForward, Name: "f", Conv: ConvShape{InH: 4, InW: 4, InC: 1, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, OutH: 5, OutW: 4, Filters: 8}}}, `asm: kernel f: Conv2DForward: output 5x4 does not fit input 4x4`},
		{"p", []Kernel{{Op: Conv2DForward, Name: "f", Conv: ConvShape{InH: 4, InW: 4, InC: 1, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, OutH: 2, OutW: 2, Filters: 97}}}, `asm: kernel f: Conv2DForward supports at most 96 filters, got 97`},
		{"p", []Kernel{{Op: Conv2DBackwardInput, Name: "f", Conv: testConvs[0].shape}}, `asm: kernel f: Conv2DBackwardInput: 15488 unrolled terms per sample exceed the limit of 8192`},
		{"p", []Kernel{{Op: MaxPool2DForward, Name: "f", Pool: PoolShape{InH: 4, InW: 4, Channels: 0, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, OutH: 2, OutW: 2}}}, `asm: kernel f: MaxPool2DForward: sizes and strides must be ≥ 1: {InH:4 InW:4 Channels:0 KernelH:2 KernelW:2 StrideH:2 StrideW:2 PadTop:0 PadLeft:0 OutH:2 OutW:2}`},
		{"p", []Kernel{{Op: DenseForward, Name: "f", In: 1, Units: 1}, {Op: DenseForwardOne, Name: "fGo", In: 1, Units: 1}}, `asm: kernel fGo: name fGo is used twice`},
	} {
		_, err := Render(c.pkg, c.k)
		if err == nil || err.Error() != c.want {
			t.Errorf("Render(%q, %v) error = %v\nwant %s", c.pkg, c.k, err, c.want)
		}
	}
}

// moduleRoot finds the cnngen module's root above the working directory.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module github.com/cnngen/cnngen\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no cnngen go.mod above the working directory")
		}
		dir = parent
	}
}

// casesSource writes the table of cases_test.go: each kernel and its
// reference adapted to slices.
func casesSource(ks []Kernel) []byte {
	var b bytes.Buffer
	b.WriteString("// Code generated by cnngen's gen/asm tests. DO NOT EDIT.\n\npackage kernels\n\nvar cases = []denseCase{\n")
	for _, k := range ks {
		in, u := k.In, k.Units
		w := fmt.Sprintf("(*[%d * %d]float32)(w)", in, k.wStride())
		bb := fmt.Sprintf("(*[%d]float32)(b)", u)
		wSize, bSize, flops := in*u, u, 2*in*u
		if c := k.Conv; k.Op == Conv2DForward || k.Op == Conv2DBackwardWeights || k.Op == Conv2DBackwardInput {
			in, u = c.InH*c.InW*c.InC, c.OutH*c.OutW*c.Filters
			wSize, bSize, flops = c.taps()*c.Filters, c.Filters, 0
			for oh := range c.OutH {
				for ow := range c.OutW {
					flops += 2 * len(c.pixelTaps(oh, ow)) * c.Filters
				}
			}
			w = fmt.Sprintf("(*[%d]float32)(w)", wSize)
			bb = fmt.Sprintf("(*[%d]float32)(b)", bSize)
		}
		if p := k.Pool; k.Op == MaxPool2DForward || k.Op == MaxPool2DBackward {
			in, u = p.InH*p.InW*p.Channels, p.OutH*p.OutW*p.Channels
			wSize, bSize, flops = 0, 0, 0
		}
		if k.Op == ReLUForward || k.Op == ReLUBackward || k.Op == Add {
			in, u, wSize, bSize, flops = 1024, 1024, 0, 0, 0 // the benchmark's values per "sample"
		}
		if isChannelOp(k.Op) {
			in, u, wSize, bSize, flops = k.Units, k.Units, 0, 0, 0
		}
		if c := k.Conv; k.Op == Im2colInterior {
			in, u = c.InH*c.InW*c.InC, c.OutH*c.OutW*c.KernelH*c.KernelW*c.InC
			wSize, bSize, flops = 0, 0, 0
		}
		if c := k.Conv; k.Op == Col2imInterior {
			// fwd form: y is x (the image), x is cols.
			in, u = c.OutH*c.OutW*c.KernelH*c.KernelW*c.InC, c.InH*c.InW*c.InC
			wSize, bSize, flops = 0, 0, 0
		}
		if c := k.Conv; k.Op == DepthwiseConv2DWindow {
			in, u = c.InH*c.InW*c.InC, c.OutH*c.OutW*c.InC
			wSize, bSize, flops = c.KernelH*c.KernelW*c.InC, c.InC, 0
			w = fmt.Sprintf("(*[%d]float32)(w)", wSize)
			bb = fmt.Sprintf("(*[%d]float32)(b)", bSize)
		}
		if c := k.Conv; k.Op == DepthwiseConv2DWindowGrad {
			in, u = c.InH*c.InW*c.InC, c.OutH*c.OutW*c.InC
			wSize, bSize, flops = c.KernelH*c.KernelW*c.InC, c.InC, 0
			w = fmt.Sprintf("(*[%d]float32)(w)", wSize)
		}
		if c := k.Conv; k.Op == DepthwiseConv2DWeightGradInterior {
			in, u = c.InH*c.InW*c.InC, c.OutH*c.OutW*c.InC
			wSize, bSize, flops = c.KernelH*c.KernelW*c.InC, c.InC, 0
		}
		if c := k.Conv; k.Op == DepthwiseConv2DInputGradInterior {
			// fwd form: y is dx (the input's size), x is dy.
			in, u = c.OutH*c.OutW*c.InC, c.InH*c.InW*c.InC
			wSize, bSize, flops = c.KernelH*c.KernelW*c.InC, 0, 0
			w = fmt.Sprintf("(*[%d]float32)(w)", wSize)
		}
		if c := k.Conv; k.Op == PlaneConv2DForward {
			in, u = c.InH*c.InW+PlaneSlack(c), c.OutH*c.OutW*c.Filters
			wSize, bSize, flops = c.KernelH*c.KernelW*c.Filters, c.Filters, 2*c.OutH*c.OutW*c.KernelH*c.KernelW*c.Filters
			w = fmt.Sprintf("(*[%d]float32)(w)", wSize)
			bb = fmt.Sprintf("(*[%d]float32)(b)", bSize)
		}
		if c := k.Conv; k.Op == DepthwiseConv2DInterior {
			ylo, yhi, xlo, xhi := c.depthwiseInterior()
			in, u = c.InH*c.InW*c.InC, c.OutH*c.OutW*c.InC
			wSize, bSize, flops = c.KernelH*c.KernelW*c.InC, c.InC, 2*(yhi-ylo)*(xhi-xlo)*c.KernelH*c.KernelW*c.InC
			w = fmt.Sprintf("(*[%d]float32)(w)", wSize)
			bb = fmt.Sprintf("(*[%d]float32)(b)", bSize)
		}
		fmt.Fprintf(&b, "\t{name: %q, in: %d, units: %d, wSize: %d, bSize: %d, flopsPerSample: %d,\n", k.Name, in, u, wSize, bSize, flops)
		if k.Padded {
			fmt.Fprintf(&b, "\t\tpackSize: %d, pack: func(wp, w []float32) { %sPack((*[%d * %d]float32)(wp), (*[%d * %d]float32)(w)) },\n",
				in*k.wStride(), k.Name, in, k.wStride(), in, u)
		}
		switch k.Op {
		case DenseForward, Conv2DForward:
			for _, f := range []string{"fwd", "fwdRef"} {
				fn := k.Name
				if f == "fwdRef" {
					fn += "Go"
				}
				fmt.Fprintf(&b, "\t\t%s: func(y, x, w, b []float32, n int) { %s(y, x, %s, %s, n) },\n", f, fn, w, bb)
			}
		case DenseForwardOne:
			for _, f := range []string{"one", "oneRef"} {
				fn := k.Name
				if f == "oneRef" {
					fn += "Go"
				}
				fmt.Fprintf(&b, "\t\t%s: func(y, x, w, b []float32) { %s((*[%d]float32)(y), (*[%d]float32)(x), %s, %s) },\n", f, fn, u, in, w, bb)
			}
		case DenseBackwardInput, Conv2DBackwardInput:
			wt := fmt.Sprintf("(*[%d * %d]float32)(wt)", u, PaddedStride(in))
			wStd := fmt.Sprintf("(*[%d * %d]float32)(w)", in, u)
			if c := k.Conv; k.Op == Conv2DBackwardInput {
				cp := PaddedStride(c.InC)
				wt = fmt.Sprintf("(*[%d * %d * %d]float32)(wt)", c.KernelH*c.KernelW, c.Filters, cp)
				wStd = fmt.Sprintf("(*[%d]float32)(w)", wSize)
				fmt.Fprintf(&b, "\t\twtStride: %d, convTaps: %d, convC: %d, convF: %d,\n", cp, c.KernelH*c.KernelW, c.InC, c.Filters)
			} else {
				fmt.Fprintf(&b, "\t\twtStride: %d,\n", PaddedStride(in))
			}
			fmt.Fprintf(&b, "\t\tgated: %v,\n", k.ReLU)
			for _, f := range []string{"bwdIn", "bwdInRef"} {
				fn := k.Name
				if f == "bwdInRef" {
					fn += "Go"
				}
				if k.ReLU {
					fmt.Fprintf(&b, "\t\t%s: func(dx, dy, h, wt []float32, n int) { %s(dx, dy, h, %s, n) },\n", f, fn, wt)
				} else {
					fmt.Fprintf(&b, "\t\t%s: func(dx, dy, h, wt []float32, n int) { %s(dx, dy, %s, n) },\n", f, fn, wt)
				}
			}
			fmt.Fprintf(&b, "\t\ttranspose: func(wt, w []float32) { %sTranspose(%s, %s) },\n", k.Name, wt, wStd)
		case ReLUForward:
			fmt.Fprintf(&b, "\t\trelu: %s, reluRef: %sGo,\n", k.Name, k.Name)
		case DepthwiseConv2DWeightGradInterior:
			for _, f := range []string{"bwdW", "bwdWRef"} {
				fn := k.Name
				if f == "bwdWRef" {
					fn += "Go"
				}
				fmt.Fprintf(&b, "\t\t%s: func(dw, db, x, dy []float32, n int) { %s(dy, x, (*[%d]float32)(dw), (*[%d]float32)(db), n) },\n", f, fn, wSize, bSize)
			}
		case DepthwiseConv2DInputGradInterior:
			for _, f := range []string{"fwd", "fwdRef"} {
				fn := k.Name
				if f == "fwdRef" {
					fn += "Go"
				}
				fmt.Fprintf(&b, "\t\t%s: func(y, x, w, b []float32, n int) { clear(y); %s(x, y, %s, n) },\n", f, fn, w)
			}
		case ReLUBackward:
			fmt.Fprintf(&b, "\t\treluBack: %s, reluBackRef: %sGo,\n", k.Name, k.Name)
		case Add:
			fmt.Fprintf(&b, "\t\tadd: %s, addRef: %sGo,\n", k.Name, k.Name)
		case Col2imInterior:
			// Both paths add in the same order: the same bits. Both
			// start from zeros, into which the windows overlap.
			b.WriteString("\t\texact: true,\n")
			for _, f := range []string{"fwd", "fwdRef"} {
				fn := k.Name
				if f == "fwdRef" {
					fn += "Go"
				}
				fmt.Fprintf(&b, "\t\t%s: func(y, x, w, b []float32, n int) {\n\t\t\tclear(y)\n\t\t\tfor s := range n {\n\t\t\t\t%s((*[%d]float32)(y[s*%d:]), (*[%d]float32)(x[s*%d:]))\n\t\t\t}\n\t\t},\n", f, fn, u, u, in, in)
			}
		case BatchNormMoments, BatchNormSums, ChannelAffine, BatchNormBackward, ChannelSum, ChannelAffineReLU:
			tensors, coefs, sums := channelRoles(channelOps[k.Op])
			var per32, per64, args []string
			for i := range tensors {
				per32 = append(per32, fmt.Sprint(k.Units))
				args = append(args, fmt.Sprintf("f32[%d]", i))
			}
			for i := range coefs {
				per32 = append(per32, "0")
				args = append(args, fmt.Sprintf("(*[%d]float32)(f32[%d])", k.Units, len(tensors)+i))
			}
			for i := range sums {
				per64 = append(per64, "0")
				args = append(args, fmt.Sprintf("(*[%d]float64)(f64[%d])", k.Units, i))
			}
			fmt.Fprintf(&b, "\t\tchanF32: []int{%s}, chanF64: []int{%s},\n", strings.Join(per32, ", "), strings.Join(per64, ", "))
			for _, f := range []string{"chanOp", "chanRef"} {
				fn := k.Name
				if f == "chanRef" {
					fn += "Go"
				}
				fmt.Fprintf(&b, "\t\t%s: func(f32 [][]float32, f64 [][]float64) { %s(%s) },\n", f, fn, strings.Join(args, ", "))
			}
		case Im2colInterior:
			// The kernel leaves the border rows as they are: both paths
			// start from zeros.
			for _, f := range []string{"fwd", "fwdRef"} {
				fn := k.Name
				if f == "fwdRef" {
					fn += "Go"
				}
				fmt.Fprintf(&b, "\t\t%s: func(y, x, w, b []float32, n int) {\n\t\t\tclear(y)\n\t\t\tfor s := range n {\n\t\t\t\t%s((*[%d]float32)(y[s*%d:]), (*[%d]float32)(x[s*%d:]))\n\t\t\t}\n\t\t},\n", f, fn, u, u, in, in)
			}
		case PlaneConv2DForward:
			// Every sample's plane is followed by its slack, which the
			// kernel reads (random values, NaN among them in the special
			// values' test) and must not store.
			for _, f := range []string{"fwd", "fwdRef"} {
				fn := k.Name
				if f == "fwdRef" {
					fn += "Go"
				}
				fmt.Fprintf(&b, "\t\t%s: func(y, x, w, b []float32, n int) {\n\t\t\tfor s := range n {\n\t\t\t\t%s((*[%d]float32)(y[s*%d:]), (*[%d]float32)(x[s*%d:]), %s, %s)\n\t\t\t}\n\t\t},\n", f, fn, u, u, in, in, w, bb)
			}
		case DepthwiseConv2DWindow:
			c := k.Conv
			for _, f := range []string{"fwd", "fwdRef"} {
				fn := k.Name
				if f == "fwdRef" {
					fn += "Go"
				}
				fmt.Fprintf(&b, "\t\t%s: func(y, x, w, b []float32, n int) {\n\t\t\twindowAll(y, x, n, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, func(y, x []float32, kh0, kh1, kw0, kw1 int) { %s(y, x, %s, %s, kh0, kh1, kw0, kw1) })\n\t\t},\n",
					f, c.InH, c.InW, c.InC, c.KernelH, c.KernelW, c.StrideH, c.StrideW, c.PadTop, c.PadLeft, c.OutH, c.OutW, fn, w, bb)
			}
		case DepthwiseConv2DWindowGrad:
			c := k.Conv
			for _, f := range []string{"winGrad", "winGradRef"} {
				fn := k.Name
				if f == "winGradRef" {
					fn += "Go"
				}
				fmt.Fprintf(&b, "\t\t%s: func(dx, dw, db, x, dy, w []float32, n int) {\n\t\t\twindowGradAll(dx, x, dy, n, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, func(d, x, dx []float32, kh0, kh1, kw0, kw1 int) { %s(d, x, dx, %s, (*[%d]float32)(dw), (*[%d]float32)(db), kh0, kh1, kw0, kw1) })\n\t\t},\n",
					f, c.InH, c.InW, c.InC, c.KernelH, c.KernelW, c.StrideH, c.StrideW, c.PadTop, c.PadLeft, c.OutH, c.OutW, fn, w, wSize, bSize)
			}
		case DepthwiseConv2DInterior:
			// The kernel leaves the border as it is: both paths start
			// from zeros.
			for _, f := range []string{"fwd", "fwdRef"} {
				fn := k.Name
				if f == "fwdRef" {
					fn += "Go"
				}
				fmt.Fprintf(&b, "\t\t%s: func(y, x, w, b []float32, n int) { clear(y); %s(y, x, %s, %s, n, 0, %d) },\n", f, fn, w, bb, k.Conv.OutH)
			}
		case MaxPool2DForward:
			fmt.Fprintf(&b, "\t\tpoolFwd: %s, poolFwdRef: %sGo,\n", k.Name, k.Name)
		case MaxPool2DBackward:
			fwd := strings.TrimSuffix(k.Name, "Backward") + "ForwardGo"
			fmt.Fprintf(&b, "\t\tpoolBwd: %s, poolBwdRef: %sGo, poolFwdRef: %s,\n", k.Name, k.Name, fwd)
		case DenseBackwardWeights, Conv2DBackwardWeights:
			for _, f := range []string{"bwdW", "bwdWRef"} {
				fn := k.Name
				if f == "bwdWRef" {
					fn += "Go"
				}
				fmt.Fprintf(&b, "\t\t%s: func(dw, db, x, dy []float32, n int) { %s((*[%d]float32)(dw), (*[%d]float32)(db), x, dy, n) },\n", f, fn, wSize, bSize)
			}
		}
		b.WriteString("\t},\n")
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		panic(err)
	}
	return src
}

// TestGeneratedKernels renders every test kernel into one package of a
// temporary module (replace → this module), vets it in the four build
// configurations (asmdecl checks every TEXT against its stub), and runs the
// differential tests of testdata/harness_test.go.txt there: each path the
// CPU has, forced with runtime.ForceISA, against the pure-Go reference.
func TestGeneratedKernels(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a temporary module")
	}
	root := moduleRoot(t)
	dir := t.TempDir()
	// CNNGEN_ASM_KEEP=DIR builds the module in DIR (empty or absent) and
	// leaves it there, to read the output or run its benchmarks by hand.
	if d := os.Getenv("CNNGEN_ASM_KEEP"); d != "" {
		dir = d
	}
	pkgDir := filepath.Join(dir, "kernels")
	if err := os.MkdirAll(pkgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ks := testKernels()
	files, err := Render("kernels", ks)
	if err != nil {
		t.Fatal(err)
	}
	harness, err := os.ReadFile(filepath.Join("testdata", "harness_test.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, File{"harness_test.go", harness}, File{"cases_test.go", casesSource(ks)})
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(pkgDir, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gomod := fmt.Sprintf("module cnngentest\n\ngo 1.26\n\nrequire github.com/cnngen/cnngen v0.0.0\n\nreplace github.com/cnngen/cnngen => %s\n", root)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	goCmd := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		// -mod=mod completes the temporary go.mod from the module cache;
		// GOPROXY=off keeps the test offline.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s go %s: %v\n%s", strings.Join(env, " "), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	for _, cfg := range [][]string{{"GOARCH=amd64"}, {"GOARCH=arm64"}} {
		goCmd(cfg, "vet", "./...")
		goCmd(cfg, "vet", "-tags", "purego", "./...")
	}
	// -trimpath: the build's actions do not depend on the temporary
	// directory, so that with a warm build cache an unchanged kernels
	// package is not compiled again.
	t.Log(goCmd(nil, "test", "-trimpath", "-count=1", "./..."))
	// The purego build has only the reference path: CNNGEN_TEST_REQUIRE
	// applies to the default build above.
	t.Log(goCmd([]string{"CNNGEN_TEST_REQUIRE="}, "test", "-trimpath", "-count=1", "-tags", "purego", "./..."))
	if *kernelBench != "" {
		t.Log(goCmd(nil, "test", "-run", "^$", "-bench", "Kernels/("+*kernelBench+")", "./kernels"))
	}
}

// TestNarrowKernelsRunAVX2 checks that a kernel whose vectors hold at most
// 8 floats has no AVX512 TEXT and that its dispatcher runs the AVX2 TEXT
// on AVX-512, that a GEMM up to 16 floats wide chooses by
// runtime.HalfRateZMM, and that a wider one keeps its AVX512 TEXT alone.
func TestNarrowKernelsRunAVX2(t *testing.T) {
	files, err := Render("kernels", []Kernel{
		{Op: DenseForward, Name: "narrow", In: 10, Units: 8},
		{Op: DenseForward, Name: "wide", In: 10, Units: 9},
		{Op: DenseForward, Name: "wider", In: 10, Units: 17},
		{Op: MaxPool2DForward, Name: "pool6", Pool: PoolShape{InH: 4, InW: 4, Channels: 6, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, OutH: 2, OutW: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	asmText, stubs := string(files[0].Data), string(files[1].Data)
	for _, sym := range []string{"narrowAVX512", "pool6AVX512"} {
		if strings.Contains(asmText, "TEXT ·"+sym+"(SB)") || strings.Contains(stubs, "func "+sym+"(") {
			t.Errorf("%s is emitted, want the AVX2 TEXT only", sym)
		}
	}
	for _, sym := range []string{"narrowAVX2", "wideAVX2", "wideAVX512"} {
		if !strings.Contains(asmText, "TEXT ·"+sym+"(SB)") {
			t.Errorf("TEXT %s is missing", sym)
		}
	}
	// The narrow dispatcher runs the AVX2 TEXT on both ISAs; the wide one
	// keeps a case each, its AVX-512 case choosing by runtime.HalfRateZMM
	// up to 16 floats.
	for name, want := range map[string]string{
		"narrow": "case runtime.AVX512, runtime.AVX2:\n\t\tnarrowAVX2(",
		"wide":   "case runtime.AVX512:\n\t\tif runtime.HalfRateZMM() {\n\t\t\twideAVX2(&y[0], &x[0], &w[0], &b[0], n, 10, 40, 36, 36, 0, 28, 0)\n\t\t} else {\n\t\t\twideAVX512(",
		"wider":  "case runtime.AVX512:\n\t\twiderAVX512(",
	} {
		i := strings.Index(stubs, "func "+name+"(")
		if i < 0 {
			t.Fatalf("no dispatcher %s", name)
		}
		body := stubs[i:]
		body = body[:strings.Index(body, "\n}\n")]
		if !strings.Contains(body, want) {
			t.Errorf("dispatcher %s lacks %q:\n%s", name, want, body)
		}
	}
}
