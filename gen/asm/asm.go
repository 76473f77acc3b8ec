package asm

import (
	"bytes"
	"fmt"
	"go/token"
	"text/template"

	"github.com/cnngen/cnngen/templates"
)

// Op is the operation of a [Kernel]. Each constant's comment gives the Go
// signature of the dispatching function <Name> that [Render] generates and
// the loop it computes; "n" is the number of samples (n ≥ 0; the slices
// must hold n samples), In and Units are [Kernel.In] and [Kernel.Units].
// Every array is row-major in the runtime's standard layout.
type Op int

const (
	// DenseForward is a dense layer over n samples, a register-blocked GEMM
	// with the bias and (when Kernel.ReLU) the ReLU fused:
	//
	//	func Name(y, x []float32, w *[In * Units]float32, b *[Units]float32, n int)
	//	y[s][j] = act(b[j] + Σ_i x[s][i]·w[i][j])
	DenseForward Op = iota + 1
	// DenseForwardOne is DenseForward for one sample (a GEMV that streams w
	// once):
	//
	//	func Name(y *[Units]float32, x *[In]float32, w *[In * Units]float32, b *[Units]float32)
	DenseForwardOne
	// DenseBackwardInput is the input gradient of a dense layer. It reads the
	// transposed weights with rows padded to whole vectors, which
	// NameTranspose fills from w (with gathers on AVX2 and AVX-512, the
	// pure-Go NameTransposeGo otherwise); call it once per weight update,
	// not per batch. InP is PaddedStride(In):
	//
	//	func Name(dx, dy []float32, wt *[Units * InP]float32, n int)
	//	dx[s][i] = Σ_j dy[s][j]·wt[j][i]      (= dy·wᵀ)
	//	func NameTranspose(wt *[Units * InP]float32, w *[In * Units]float32)
	//
	// With Kernel.ReLU it also applies the backward of the ReLU that made
	// this layer's input h (dx = 0 where h ≤ 0), and takes h:
	//
	//	func Name(dx, dy, h []float32, wt *[Units * InP]float32, n int)
	DenseBackwardInput
	// DenseBackwardWeights accumulates the weight and bias gradients of a
	// dense layer over n samples (it adds to dw and db; zero them first):
	//
	//	func Name(dw *[In * Units]float32, db *[Units]float32, x, dy []float32, n int)
	//	dw[i][j] += Σ_s x[s][i]·dy[s][j];  db[j] += Σ_s dy[s][j]
	DenseBackwardWeights
	// Conv2DForward is a convolution over n HWC samples with HWIO weights
	// (shapes from Kernel.Conv), vectorised across filters, looping over the
	// output pixels, the bias and (when Kernel.ReLU) the ReLU fused;
	// padding taps are skipped at generation time:
	//
	//	func Name(y, x []float32, w *[KernelH * KernelW * InC * Filters]float32, b *[Filters]float32, n int)
	//	y[s][oh][ow][f] = act(b[f] + Σ_{kh,kw,c} x[s][oh·StrideH−PadTop+kh][ow·StrideW−PadLeft+kw][c]·w[kh][kw][c][f])
	Conv2DForward
	// Conv2DBackwardWeights accumulates a convolution's weight and bias
	// gradients over n samples (it adds to dw and db):
	//
	//	func Name(dw *[KernelH * KernelW * InC * Filters]float32, db *[Filters]float32, x, dy []float32, n int)
	//	dw[kh][kw][c][f] += Σ_{s,oh,ow} x[s][ih][iw][c]·dy[s][oh][ow][f];  db[f] += Σ_{s,oh,ow} dy[s][oh][ow][f]
	Conv2DBackwardWeights
	// Conv2DBackwardInput is a convolution's input gradient over n samples,
	// vectorised across input channels and unrolled over the input pixels
	// (each gathers the output pixels and taps that read it). It reads the
	// weights transposed to [KernelH][KernelW][Filters][InCP], InCP =
	// PaddedStride(InC), which NameTranspose fills from w; refresh it after
	// every weight update:
	//
	//	func Name(dx, dy []float32, wt *[KernelH * KernelW * Filters * InCP]float32, n int)
	//	dx[s][ih][iw][c] = Σ_{kh,kw,f} dy[s][oh][ow][f]·w[kh][kw][c][f]   over oh·StrideH−PadTop+kh = ih, ow·StrideW−PadLeft+kw = iw
	//	func NameTranspose(wt *[KernelH * KernelW * Filters * InCP]float32, w *[KernelH * KernelW * InC * Filters]float32)
	//
	// With Kernel.ReLU it also applies the backward of the ReLU that made
	// the convolution's input h (dx = 0 where h ≤ 0), and takes h:
	//
	//	func Name(dx, dy, h []float32, wt *[KernelH * KernelW * Filters * InCP]float32, n int)
	Conv2DBackwardInput
	// MaxPool2DForward is a max pooling over n HWC samples (shapes from
	// Kernel.Pool), vectorised across channels, looping over the windows,
	// padding taps left out (−∞):
	//
	//	func Name(y, x []float32, n int)
	//	y[s][oh][ow][c] = max_{kh,kw} x[s][oh·StrideH−PadTop+kh][ow·StrideW−PadLeft+kw][c]
	MaxPool2DForward
	// MaxPool2DBackward routes each window's gradient to its first maximum
	// in row-major order (TensorFlow's and PyTorch's rule; digits has exact
	// ties), reading the pooling's input x and output y. It overwrites dx
	// (zero where no window takes an input). With Kernel.ReLU it also
	// applies the backward of a ReLU that produced x: windows with y ≤ 0
	// pass nothing.
	//
	//	func Name(dx, dy, x, y []float32, n int)
	//	dx[s][i][c] = Σ_{windows w whose first max is i} dy[s][w][c]   (· [y[s][w][c] > 0])
	MaxPool2DBackward
	// DepthwiseConv2DInterior is the interior of a depthwise convolution
	// over n HWC samples (Conv.Filters = Conv.InC: filter c reads channel
	// c alone; weights [KernelH][KernelW][1][InC]): the output pixels whose
	// windows lie wholly inside the input, vectorised across channels. It
	// leaves the border pixels, whose windows reach the padding, as they
	// are: the caller computes them. Kernels up to 3×3, channels a multiple
	// of 8; the shape is passed to the assembly as arguments, so every
	// layer of a kernel size shares one TEXT per ISA:
	//
	//	func Name(y, x []float32, w *[KernelH * KernelW * InC]float32, b *[InC]float32, n, lo, hi int)
	//	y[s][oh][ow][c] = b[c] + Σ_{kh,kw} x[s][oh·StrideH−PadTop+kh][ow·StrideW−PadLeft+kw][c]·w[kh][kw][c]
	//
	// for the interior pixels of output rows lo ≤ oh < hi (all rows: 0,
	// OutH; a part of them for a forward split across goroutines).
	DepthwiseConv2DInterior
	// DepthwiseConv2DWeightGradInterior and DepthwiseConv2DInputGradInterior
	// are the backward of DepthwiseConv2DInterior over the same interior
	// pixels (the caller adds the border's terms): the weight and bias
	// gradients accumulated over n samples, and the input gradient added
	// into dx (zero it first):
	//
	//	func Name(dy, x []float32, dw *[KernelH * KernelW * InC]float32, db *[InC]float32, n int)
	//	dw[kh][kw][c] += Σ_{s,oh,ow} x[s][ih][iw][c]·dy[s][oh][ow][c];  db[c] += Σ dy[s][oh][ow][c]
	//	func Name(dy, dx []float32, w *[KernelH * KernelW * InC]float32, n int)
	//	dx[s][ih][iw][c] += w[kh][kw][c]·dy[s][oh][ow][c], pixel by pixel in row-major order
	DepthwiseConv2DWeightGradInterior
	DepthwiseConv2DInputGradInterior
	// ReLUForward is a ReLU over slices of any length (y may be x: in
	// place), with Go's max(v, 0) semantics (NaN kept, −0 made +0). It has
	// no shape, so every kernel of the op renders one TEXT per ISA:
	//
	//	func Name(y, x []float32)
	//	y[i] = max(x[i], 0)
	ReLUForward
	// DepthwiseConv2DWindow is one output pixel of a depthwise
	// convolution (Conv as for DepthwiseConv2DInterior), over the taps
	// kh0 ≤ kh < kh1, kw0 ≤ kw < kw1 that lie inside the input, x starting
	// at the first of them: the border pixels, whose windows reach the
	// padding. Channels a multiple of 8; the shape is passed as arguments.
	//
	//	func Name(y, x []float32, w *[KernelH * KernelW * InC]float32, b *[InC]float32, kh0, kh1, kw0, kw1 int)
	//	y[c] = b[c] + Σ_{kh,kw} x[(kh−kh0)·InW + kw−kw0][c]·w[kh][kw][c]
	DepthwiseConv2DWindow
	// Im2colInterior writes the im2col rows of one HWC sample's output
	// pixels whose windows lie inside the input (Conv's geometry; Filters
	// is not used): row oh·OutW+ow holds the window's inputs in weight
	// order [kh][kw][c]. It leaves the other rows as they are: the caller
	// writes them (with zeros for the padding taps). The geometry is passed
	// to the assembly as arguments, so every kernel of the op shares one
	// TEXT per ISA:
	//
	//	func Name(cols *[OutH * OutW * KernelH * KernelW * InC]float32, x *[InH * InW * InC]float32)
	Im2colInterior
	// BatchNormMoments, BatchNormSums, ChannelAffine and BatchNormBackward
	// are the element loops of a batch norm over whole pixels of
	// Kernel.Units channels (a multiple of 8), per-channel arrays beside
	// them; p is len(x)/Units. The float64 sums and the float32 maps use
	// the operations of the Go reference in its order (no FMA), so every
	// path gives the same bits:
	//
	//	func Name(x []float32, sum, sumSq *[Units]float64)            sum[c] += x[p][c], sumSq[c] += x[p][c]²
	//	func Name(x, dy []float32, sumDy, sumDyX *[Units]float64)     sumDy[c] += dy[p][c], sumDyX[c] += dy[p][c]·x[p][c]
	//	func Name(y, x []float32, m, a, beta *[Units]float32)         y[p][c] = (x[p][c] − m[c])·a[c] + beta[c]
	//	func Name(dx, dy, x []float32, k, u, v, m *[Units]float32)    dx[p][c] = k[c]·dy[p][c] + u[c]·(x[p][c] − m[c]) + v[c]
	BatchNormMoments
	BatchNormSums
	ChannelAffine
	BatchNormBackward
	// ChannelSum is the per-channel sum over whole pixels of Units
	// channels, as average pooling over a whole map needs it, in float32
	// from +0, pixel by pixel:
	//
	//	func Name(x []float32, sum *[Units]float32)    sum[c] = Σ_p x[p][c]
	ChannelSum
	// ReLUBackward is the gradient of a ReLU from its output y: dy where
	// y > 0, +0 elsewhere (NaN included), over slices of any length:
	//
	//	func Name(dx, dy, y []float32)
	ReLUBackward
	// ChannelAffineReLU is ChannelAffine followed by a ReLU with Go's
	// max(v, 0) (NaN kept, −0 made +0), in one pass: a training batch
	// norm whose output only a ReLU reads.
	//
	//	func Name(y, x []float32, m, a, beta *[Units]float32)    y[p][c] = max((x[p][c] − m[c])·a[c] + beta[c], 0)
	ChannelAffineReLU
	// DepthwiseConv2DWindowGrad is the backward of DepthwiseConv2DWindow
	// (Conv as for it): one output pixel's gradient d added to db, and
	// over the taps kh0 ≤ kh < kh1, kw0 ≤ kw < kw1 that lie inside the
	// input (x and dx starting at the first of them), in row-major order,
	// x·d added to dw and w·d to dx: the border pixels' terms of the
	// backward, which DepthwiseConv2DWeightGradInterior and
	// DepthwiseConv2DInputGradInterior leave. Channels a multiple of 8;
	// the shape is passed as arguments.
	//
	//	func Name(d, x, dx []float32, w, dw *[KernelH * KernelW * InC]float32, db *[InC]float32, kh0, kh1, kw0, kw1 int)
	//	db[c] += d[c];  dw[kh][kw][c] += x[(kh−kh0)·InW + kw−kw0][c]·d[c];  dx[(kh−kh0)·InW + kw−kw0][c] += w[kh][kw][c]·d[c]
	DepthwiseConv2DWindowGrad
	// Col2imInterior is the inverse of Im2colInterior, for the input
	// gradient of a convolution run as a GEMM: it adds the im2col rows of
	// the output pixels whose windows lie inside the input into x (zero it
	// first), pixel by pixel in row-major order, each pixel's kernel rows
	// in order. Every path adds in that order, so they give the same bits.
	// The geometry is passed as arguments (Im2colInterior's), so every
	// kernel of the op shares one TEXT per ISA:
	//
	//	func Name(x *[InH * InW * InC]float32, cols *[OutH * OutW * KernelH * KernelW * InC]float32)
	//	x[oh·StrideH−PadTop+kh][ow·StrideW−PadLeft+kw][c] += cols[oh·OutW+ow][kh][kw][c]
	Col2imInterior
	// Add is the element-wise sum of two slices of any length (y may be a
	// or b: in place), Go's float32 a + b on every path (the same bits,
	// NaN and infinities included). It has no shape, so every kernel of
	// the op renders one TEXT per ISA:
	//
	//	func Name(y, a, b []float32)
	//	y[i] = a[i] + b[i]
	Add
	// PlaneConv2DForward is a stride-1 convolution of a one-channel plane
	// already padded (Conv: InC 1, strides 1, no padding; at most 8
	// filters), vectorised across the pixels of each output row (see
	// plane.go); x holds PlaneSlack(Conv) floats after the plane, which it
	// may read but never stores:
	//
	//	func Name(y *[OutH * OutW * Filters]float32, x *[InH*InW + PlaneSlack]float32, w *[KernelH * KernelW * Filters]float32, b *[Filters]float32)
	//	y[oh][ow][f] = b[f] + Σ_{kh,kw} x[oh+kh][ow+kw]·w[kh][kw][f]
	PlaneConv2DForward
)

var opNames = map[Op]string{
	DenseForward:                      "DenseForward",
	DenseForwardOne:                   "DenseForwardOne",
	DenseBackwardInput:                "DenseBackwardInput",
	DenseBackwardWeights:              "DenseBackwardWeights",
	Conv2DForward:                     "Conv2DForward",
	Conv2DBackwardWeights:             "Conv2DBackwardWeights",
	Conv2DBackwardInput:               "Conv2DBackwardInput",
	MaxPool2DForward:                  "MaxPool2DForward",
	MaxPool2DBackward:                 "MaxPool2DBackward",
	DepthwiseConv2DInterior:           "DepthwiseConv2DInterior",
	DepthwiseConv2DWeightGradInterior: "DepthwiseConv2DWeightGradInterior",
	DepthwiseConv2DInputGradInterior:  "DepthwiseConv2DInputGradInterior",
	ReLUForward:                       "ReLUForward",
	DepthwiseConv2DWindow:             "DepthwiseConv2DWindow",
	Im2colInterior:                    "Im2colInterior",
	BatchNormMoments:                  "BatchNormMoments",
	BatchNormSums:                     "BatchNormSums",
	ChannelAffine:                     "ChannelAffine",
	BatchNormBackward:                 "BatchNormBackward",
	ChannelSum:                        "ChannelSum",
	ReLUBackward:                      "ReLUBackward",
	ChannelAffineReLU:                 "ChannelAffineReLU",
	DepthwiseConv2DWindowGrad:         "DepthwiseConv2DWindowGrad",
	Col2imInterior:                    "Col2imInterior",
	Add:                               "Add",
	PlaneConv2DForward:                "PlaneConv2DForward",
}

// String returns the constant's name.
func (op Op) String() string {
	if s, ok := opNames[op]; ok {
		return s
	}
	return fmt.Sprintf("Op(%d)", int(op))
}

// PaddedStride is the row length, in floats, of the padded weight layouts
// (Kernel.Padded, DenseBackwardInput, Conv2DBackwardInput): n rounded up to
// a multiple of 16 (64 bytes, one AVX-512 vector), plus 16 more when that
// is a multiple of 256 (1 KiB): rows a power-of-two number of KiB apart map
// to the same few cache sets, and the kernels read one panel from every
// row. (Measured on the digits network's 512-input DenseBackwardInput, a
// 2 KiB row stride cost ≈30 % more time than 2112 bytes.)
func PaddedStride(n int) int {
	p := (n + 15) &^ 15
	if p%256 == 0 {
		p += 16
	}
	return p
}

// Kernel is one kernel to generate: an operation specialised to constant
// shapes, under a Go name chosen by the caller.
type Kernel struct {
	// Op is the operation.
	Op Op
	// Name is the Go identifier of the dispatching function (unexported
	// names are usual, e.g. "dense1Forward"); the ISA variants and the
	// reference append AVX2, AVX512 and Go to it.
	Name string
	// In and Units are a dense layer's input and output sizes.
	In, Units int
	// ReLU fuses max(·, 0) into a forward kernel, and the ReLU's backward
	// into DenseBackwardInput and MaxPool2DBackward (see each Op).
	ReLU bool
	// Padded makes DenseForward and DenseForwardOne read the weights in a
	// padded copy wp [In][PaddedStride(Units)] (zeros in the padding) that
	// NamePack fills from w: every weight row then starts on a 64-byte
	// boundary when wp does, which speeds up the streaming loads (the
	// one-sample forward of 512→300 goes from ≈7.3 to ≈4.8 µs here).
	// Results do not depend on wp's alignment, only speed does.
	Padded bool
	// Conv is a convolution's geometry.
	Conv ConvShape
	// Pool is a max pooling's geometry.
	Pool PoolShape
}

// File is one rendered source file.
type File struct {
	// Name is the file name, without directory.
	Name string
	// Data is the file's contents.
	Data []byte
}

// The names of the files that Render returns, in this order.
const (
	AsmFile    = "simd_amd64.s"
	StubFile   = "simd_amd64.go"
	PureGoFile = "simd_purego.go"
	RefFile    = "simd_ref.go"
)

// Render generates the kernels into package pkg: the assembly, the stubs and
// dispatchers, the portable dispatchers and the pure-Go references (see the
// package comment). The output is gofmt-clean and depends only on its
// arguments. It returns an error for invalid kernels (bad shapes, duplicate
// or invalid names).
func Render(pkg string, kernels []Kernel) ([]File, error) {
	if !token.IsIdentifier(pkg) {
		return nil, fmt.Errorf("asm: package name %q is not a Go identifier", pkg)
	}
	seen := map[string]bool{}
	var fc fileCtx
	// Kernels of the same shapes (layers repeated in a network, or a
	// padded layout that equals the standard one) render the same
	// instructions: each is emitted once, under the first symbol, and the
	// later ones' dispatchers call it (alias).
	d := dedup{first: map[string]textCtx{}, alias: map[string]string{}}
	for _, k := range kernels {
		if err := k.validate(); err != nil {
			return nil, err
		}
		for _, name := range k.goNames() {
			if seen[name] {
				return nil, fmt.Errorf("asm: kernel %s: name %s is used twice", k.Name, name)
			}
			seen[name] = true
		}
	}
	for _, k := range kernels {
		neutralK := k
		neutralK.Name = "K"
		for gi, g := range k.gemms() {
			ng := neutralK.gemms()[gi]
			ng.reference, ng.what = "", nil
			for _, isa := range k.textISAs() {
				ctx := planGemm(g, isa)
				if err := d.add(&fc, textCtx{Gemm: ctx}, textCtx{Gemm: planGemm(ng, isa)}); err != nil {
					return nil, err
				}
				if ctx.MaskReg != "" {
					fc.needTailMask = true
				}
				if g.aArg == "" {
					fc.One = true
				}
			}
		}
		if k.Op == DenseBackwardInput {
			for _, isa := range isas {
				n := planTranspose(neutralK, isa)
				n.Reference, n.What = "", nil
				if err := d.add(&fc, textCtx{Transpose: planTranspose(k, isa)}, textCtx{Transpose: n}); err != nil {
					return nil, err
				}
				if isa.maskInReg && k.In%isa.lanes != 0 {
					fc.needTailMask = true
				}
			}
			fc.needIota = true
		}
		for pi, p := range k.pools() {
			np := neutralK.pools()[pi]
			np.reference, np.what = "", nil
			for _, isa := range k.textISAs() {
				if err := d.add(&fc, textCtx{Pool: planPool(p, isa)}, textCtx{Pool: planPool(np, isa)}); err != nil {
					return nil, err
				}
				if isa.maskInReg && p.shape.Channels%isa.lanes != 0 {
					fc.needTailMask = true
				}
			}
		}
		for _, cs := range k.channels() {
			for _, isa := range k.textISAs() {
				// The plan depends on the kind alone: the neutral plan is
				// the plan under a neutral name.
				nc := cs
				nc.symbol, nc.reference = "K", ""
				if err := d.add(&fc, textCtx{Flat: planChannel(cs, isa)}, textCtx{Flat: planChannel(nc, isa)}); err != nil {
					return nil, err
				}
			}
		}
		for mi, ms := range k.im2cols() {
			nm := neutralK.im2cols()[mi]
			nm.reference, nm.what = "", nil
			for _, isa := range k.textISAs() {
				if err := d.add(&fc, textCtx{Flat: planIm2col(ms, isa)}, textCtx{Flat: planIm2col(nm, isa)}); err != nil {
					return nil, err
				}
				fc.needTailMask = fc.needTailMask || isa.maskInReg
			}
		}
		for _, ps := range k.planes() {
			for _, isa := range k.textISAs() {
				// The shape is constant: the neutral plan is the plan
				// under a neutral name, without comments.
				np := ps
				np.symbol, np.reference, np.what = "K", "", nil
				if err := d.add(&fc, textCtx{Flat: planPlane(ps, isa)}, textCtx{Flat: planPlane(np, isa)}); err != nil {
					return nil, err
				}
			}
		}
		for wi, ws := range k.windows() {
			nw := neutralK.windows()[wi]
			nw.reference, nw.what = "", nil
			for _, isa := range k.textISAs() {
				if err := d.add(&fc, textCtx{Flat: planWindow(ws, isa)}, textCtx{Flat: planWindow(nw, isa)}); err != nil {
					return nil, err
				}
			}
		}
		for wi, ws := range k.windowGrads() {
			nw := neutralK.windowGrads()[wi]
			nw.reference, nw.what = "", nil
			for _, isa := range k.textISAs() {
				if err := d.add(&fc, textCtx{Flat: planWindowGrad(ws, isa)}, textCtx{Flat: planWindowGrad(nw, isa)}); err != nil {
					return nil, err
				}
			}
		}
		for range k.reluBacks() {
			for _, isa := range k.textISAs() {
				rs := reluBackSpec{symbol: k.Name, reference: k.Name + "Go"}
				if err := d.add(&fc, textCtx{Flat: planReLUBack(rs, isa)}, textCtx{Flat: planReLUBack(reluBackSpec{symbol: "K"}, isa)}); err != nil {
					return nil, err
				}
			}
		}
		for range k.relus() {
			for _, isa := range k.textISAs() {
				// No shape and no comment of the kernel's own: the
				// neutral plan is the plan.
				rs := reluSpec{symbol: k.Name, reference: k.Name + "Go"}
				nr := reluSpec{symbol: "K"}
				if err := d.add(&fc, textCtx{Flat: planReLU(rs, isa)}, textCtx{Flat: planReLU(nr, isa)}); err != nil {
					return nil, err
				}
			}
		}
		for _, as := range k.adds() {
			for _, isa := range k.textISAs() {
				// No shape and no comment of the kernel's own: the
				// neutral plan is the plan under a neutral name.
				if err := d.add(&fc, textCtx{Flat: planAdd(as, isa)}, textCtx{Flat: planAdd(addSpec{symbol: "K"}, isa)}); err != nil {
					return nil, err
				}
			}
		}
		for di, dw := range k.depthwises() {
			nd := neutralK.depthwises()[di]
			nd.reference, nd.what = "", nil
			for _, isa := range k.textISAs() {
				if err := d.add(&fc, textCtx{Flat: planDepthwise(dw, isa)}, textCtx{Flat: planDepthwise(nd, isa)}); err != nil {
					return nil, err
				}
			}
		}
		for ci, c := range k.convs() {
			nc := neutralK.convs()[ci]
			nc.reference, nc.what = "", nil
			for _, isa := range k.textISAs() {
				if !c.input {
					plan := planConvForward
					if c.backward {
						plan = planConvWeights
					}
					if err := d.add(&fc, textCtx{Flat: plan(c, isa)}, textCtx{Flat: plan(nc, isa)}); err != nil {
						return nil, err
					}
					if isa.maskInReg && c.shape.Filters%isa.lanes != 0 {
						fc.needTailMask = true
					}
					continue
				}
				ctx := planConvInput(c, isa)
				if err := d.add(&fc, textCtx{Conv: ctx}, textCtx{Conv: planConvInput(nc, isa)}); err != nil {
					return nil, err
				}
				if ctx.MaskReg != "" {
					fc.needTailMask = true
				}
			}
		}
	}
	if fc.needIota {
		for i := range 16 {
			fc.Iota = append(fc.Iota, dataWord{Off: 4 * i, Val: fmt.Sprint(i)})
		}
	}
	if fc.needTailMask {
		for i := range 16 {
			val := "0"
			if i < 8 {
				val = "0xffffffff"
			}
			fc.TailMask = append(fc.TailMask, dataWord{Off: 4 * i, Val: val})
		}
	}
	fc.trimDocs()
	var s bytes.Buffer
	if err := fileTemplate.ExecuteTemplate(&s, "file.s.tmpl", &fc); err != nil {
		return nil, fmt.Errorf("asm: %v", err)
	}
	files := []File{{Name: AsmFile, Data: s.Bytes()}}
	goFiles, err := renderGo(pkg, kernels, d.alias)
	if err != nil {
		return nil, err
	}
	return append(files, goFiles...), nil
}

// trimDocs keeps the assembly small (issue 12 bounds a network's at 200
// KB, comments included): each TEXT's header keeps its Go declaration,
// its requirements, the first line of its description (what it computes)
// and its reference, while the rest of the description lives in this
// package's source; and the register names of the kernels that take
// their shape as arguments are defined once per file, at the first
// kernel of their family, which all use the same registers (their
// prefixes are the family's), rather than defined and undefined around
// every one. Which TEXT a kernel runs is in its dispatcher.
func (fc *fileCtx) trimDocs() {
	first := func(what []string) []string {
		if len(what) > 1 {
			return what[:1]
		}
		return what
	}
	defined := map[string]bool{}
	for _, t := range fc.Texts {
		switch {
		case t.Gemm != nil:
			t.Gemm.What = first(t.Gemm.What)
		case t.Conv != nil:
			t.Conv.What = first(t.Conv.What)
		case t.Pool != nil:
			t.Pool.What = first(t.Pool.What)
		case t.Transpose != nil:
			t.Transpose.What = first(t.Transpose.What)
		case t.Flat != nil && t.Flat.shared:
			t.Flat.What = first(t.Flat.What)
			var fresh []define
			for _, d := range t.Flat.Defines {
				if !defined[d.Name] {
					defined[d.Name] = true
					fresh = append(fresh, d)
				}
			}
			t.Flat.Defines = fresh
		case t.Flat != nil:
			t.Flat.What = first(t.Flat.What)
			t.Flat.Undefines = t.Flat.Defines
		}
	}
}

// fileCtx is the context of file.s.tmpl.
type fileCtx struct {
	TailMask     []dataWord
	One          bool
	Iota         []dataWord
	Texts        []textCtx
	needTailMask bool
	needIota     bool
}

type dataWord struct {
	Off int
	Val string
}

// textCtx is one TEXT symbol; exactly one field is set.
type textCtx struct {
	Gemm      *gemmCtx
	Conv      *convCtx
	Pool      *poolCtx
	Transpose *transposeCtx
	Flat      *flatCtx
}

// symbol is the TEXT symbol's name.
func (t textCtx) symbol() string {
	switch {
	case t.Gemm != nil:
		return t.Gemm.Symbol
	case t.Conv != nil:
		return t.Conv.Symbol
	case t.Pool != nil:
		return t.Pool.Symbol
	case t.Flat != nil:
		return t.Flat.Symbol
	}
	return t.Transpose.Symbol
}

// addServes notes that the TEXT symbol also serves kernel symbol name.
func (t textCtx) addServes(name string) {
	switch {
	case t.Gemm != nil:
		t.Gemm.Serves = append(t.Gemm.Serves, name)
	case t.Conv != nil:
		t.Conv.Serves = append(t.Conv.Serves, name)
	case t.Pool != nil:
		t.Pool.Serves = append(t.Pool.Serves, name)
	case t.Flat != nil && t.Flat.shared:
	case t.Flat != nil:
		t.Flat.Serves = append(t.Flat.Serves, name)
	default:
		t.Transpose.Serves = append(t.Transpose.Serves, name)
	}
}

// dedup finds TEXT symbols whose instructions repeat an earlier one's.
type dedup struct {
	// first maps the rendering of a TEXT under neutral names to the
	// symbol that emits it.
	first map[string]textCtx
	// alias maps a symbol that is not emitted to the one it calls instead.
	alias map[string]string
}

// add appends t to fc, unless neutral (t planned under neutral names,
// without comments) renders like an earlier symbol's: then t's symbol
// becomes an alias of that one.
func (d *dedup) add(fc *fileCtx, t, neutral textCtx) error {
	var key bytes.Buffer
	if err := fileTemplate.ExecuteTemplate(&key, "text", &neutral); err != nil {
		return fmt.Errorf("asm: %v", err)
	}
	if first, ok := d.first[key.String()]; ok {
		d.alias[t.symbol()] = first.symbol()
		first.addServes(t.symbol())
		return nil
	}
	d.first[key.String()] = t
	fc.Texts = append(fc.Texts, t)
	return nil
}

// fileTemplate holds every assembly template.
var fileTemplate = template.Must(template.ParseFS(templates.FS, "*.s.tmpl"))

func (k Kernel) validate() error {
	if !token.IsIdentifier(k.Name) || token.Lookup(k.Name).IsKeyword() {
		return fmt.Errorf("asm: kernel name %q is not a Go identifier", k.Name)
	}
	switch k.Op {
	case DenseForward, DenseForwardOne, DenseBackwardInput, DenseBackwardWeights:
		if k.In < 1 || k.Units < 1 {
			return fmt.Errorf("asm: kernel %s: %v needs In ≥ 1 and Units ≥ 1, got %d and %d", k.Name, k.Op, k.In, k.Units)
		}
		// Byte offsets must fit the 32-bit displacements and immediates.
		if int64(k.In)*int64(k.Units) > 1<<26 {
			return fmt.Errorf("asm: kernel %s: %d×%d weights are too large", k.Name, k.In, k.Units)
		}
	case Conv2DForward, Conv2DBackwardWeights, Conv2DBackwardInput:
		if err := k.Conv.validate(); err != nil {
			return fmt.Errorf("asm: kernel %s: %v: %v", k.Name, k.Op, err)
		}
		if n := k.Conv.inputGradTerms(); k.Op == Conv2DBackwardInput && n > maxConvTerms {
			return fmt.Errorf("asm: kernel %s: %v: %d unrolled terms per sample exceed the limit of %d", k.Name, k.Op, n, maxConvTerms)
		}
		if k.Op == Conv2DForward && k.Conv.Filters > maxConvFilters {
			return fmt.Errorf("asm: kernel %s: %v supports at most %d filters, got %d", k.Name, k.Op, maxConvFilters, k.Conv.Filters)
		}
	case MaxPool2DForward, MaxPool2DBackward:
		if err := k.Pool.validate(); err != nil {
			return fmt.Errorf("asm: kernel %s: %v: %v", k.Name, k.Op, err)
		}
	case DepthwiseConv2DInterior, DepthwiseConv2DWeightGradInterior, DepthwiseConv2DInputGradInterior:
		if err := k.Conv.validateDepthwise(); err != nil {
			return fmt.Errorf("asm: kernel %s: %v: %v", k.Name, k.Op, err)
		}
	case ReLUForward, ReLUBackward, Add:
	case BatchNormMoments, BatchNormSums, ChannelAffine, BatchNormBackward, ChannelSum, ChannelAffineReLU:
		if k.Units < depthwiseLanes || k.Units%depthwiseLanes != 0 || k.Units > 1<<20 {
			return fmt.Errorf("asm: kernel %s: %v needs a positive multiple of %d channels, got %d", k.Name, k.Op, depthwiseLanes, k.Units)
		}
	case Im2colInterior, Col2imInterior:
		if err := k.Conv.validateIm2col(); err != nil {
			return fmt.Errorf("asm: kernel %s: %v: %v", k.Name, k.Op, err)
		}
	case PlaneConv2DForward:
		if err := k.Conv.validatePlane(); err != nil {
			return fmt.Errorf("asm: kernel %s: %v: %v", k.Name, k.Op, err)
		}
	case DepthwiseConv2DWindow, DepthwiseConv2DWindowGrad:
		// The interior's checks, but for the interior itself.
		c := k.Conv
		if c.InC%depthwiseLanes != 0 || c.Filters != c.InC || c.KernelH < 1 || c.KernelW < 1 || c.InW < 1 || c.InH < 1 {
			return fmt.Errorf("asm: kernel %s: %v needs a depthwise shape with channels a multiple of %d: %+v", k.Name, k.Op, depthwiseLanes, c)
		}
	default:
		return fmt.Errorf("asm: kernel %s: unknown op %v", k.Name, k.Op)
	}
	if k.Padded && k.Op != DenseForward && k.Op != DenseForwardOne {
		return fmt.Errorf("asm: kernel %s: Padded applies only to dense forward kernels", k.Name)
	}
	if k.ReLU && (k.Op == DenseBackwardWeights || k.Op == Conv2DBackwardWeights || k.Op == MaxPool2DForward || k.Op == DepthwiseConv2DInterior || k.Op == DepthwiseConv2DWeightGradInterior || k.Op == DepthwiseConv2DInputGradInterior || k.Op == ReLUForward || k.Op == DepthwiseConv2DWindow || k.Op == DepthwiseConv2DWindowGrad || k.Op == Im2colInterior || isChannelOp(k.Op) || k.Op == ReLUBackward || k.Op == Col2imInterior || k.Op == Add) {
		return fmt.Errorf("asm: kernel %s: ReLU does not apply to %v", k.Name, k.Op)
	}
	return nil
}

// goNames lists every Go identifier the kernel defines.
func (k Kernel) goNames() []string {
	names := []string{k.Name, k.Name + "Go"}
	if k.Op == DenseBackwardInput || k.Op == Conv2DBackwardInput {
		names = append(names, k.Name+"Transpose")
	}
	if k.Op == DenseBackwardInput {
		names = append(names, k.Name+"TransposeGo")
		for _, isa := range isas {
			names = append(names, k.transposeSymbol()+isa.suffix)
		}
	}
	if k.Padded {
		names = append(names, k.Name+"Pack")
	}
	for _, f := range k.funcs() {
		for _, isa := range isas {
			names = append(names, f.symbol+isa.suffix)
		}
	}
	return names
}
