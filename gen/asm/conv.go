package asm

import (
	"fmt"
	"math"
	"strings"

	"github.com/dave/jennifer/jen"
)

// ConvShape is the constant geometry of a 2-D convolution over HWC samples
// with HWIO weights ([KernelH][KernelW][InC][Filters]); gen/emit copies it
// from the IR layer (input shape, kernel, stride, TensorFlow padding, output
// shape).
type ConvShape struct {
	InH, InW, InC    int
	KernelH, KernelW int
	StrideH, StrideW int
	PadTop, PadLeft  int
	OutH, OutW       int
	Filters          int
}

// taps is the number of weights per filter.
func (c ConvShape) taps() int { return c.KernelH * c.KernelW * c.InC }

// maxConvTerms bounds the convolutions Render accepts: output pixels ×
// valid taps × input channels per sample (and, for Conv2DBackwardInput,
// which is still unrolled over the input pixels, its own count). The
// forward and weight-gradient kernels loop and stay small beyond it, but
// the bound keeps the emitter's choice between them and im2col (it sends
// a convolution that Render refuses to im2col) where it was measured.
const maxConvTerms = 8192

// maxConvFilters bounds Conv2DForward: one output pixel's accumulators (12
// YMM registers on AVX2) must fit beside the broadcast, mask and zero.
const maxConvFilters = 96

func (c ConvShape) validate() error {
	if err := c.validateGeometry(); err != nil {
		return err
	}
	if terms := c.forwardTerms(); terms > maxConvTerms {
		return fmt.Errorf("%d unrolled terms per sample exceed the limit of %d", terms, maxConvTerms)
	}
	return nil
}

// validateGeometry checks the sizes, strides and padding of c.
func (c ConvShape) validateGeometry() error {
	for _, v := range []int{c.InH, c.InW, c.InC, c.KernelH, c.KernelW, c.StrideH, c.StrideW, c.OutH, c.OutW, c.Filters} {
		if v < 1 {
			return fmt.Errorf("sizes and strides must be ≥ 1: %+v", c)
		}
	}
	if c.PadTop < 0 || c.PadLeft < 0 || c.PadTop >= c.KernelH || c.PadLeft >= c.KernelW {
		return fmt.Errorf("padding %d,%d does not fit a %dx%d kernel", c.PadTop, c.PadLeft, c.KernelH, c.KernelW)
	}
	if (c.OutH-1)*c.StrideH-c.PadTop >= c.InH || (c.OutW-1)*c.StrideW-c.PadLeft >= c.InW {
		return fmt.Errorf("output %dx%d does not fit input %dx%d", c.OutH, c.OutW, c.InH, c.InW)
	}
	return nil
}

// validTaps is the number of (output position, kernel offset) pairs along
// one axis whose input position o·stride − pad + k falls inside [0, in):
// the taps of that axis that the padding does not swallow, summed over the
// outputs. It takes O(out) time, not O(out·kernel).
func validTaps(in, kernel, stride, pad, out int) int {
	n := 0
	for o := range out {
		first := o*stride - pad // input position of k = 0
		lo := max(0, -first)
		hi := min(kernel, in-first)
		if hi > lo {
			n += hi - lo
		}
	}
	return n
}

// forwardTerms is the unrolled size of Conv2DForward and
// Conv2DBackwardWeights per sample: Σ over output pixels of their valid
// taps, len(pixelTaps) summed, computed without listing them (the rows and
// columns are independent). It saturates at math.MaxInt rather than
// overflow.
func (c ConvShape) forwardTerms() int {
	return saturatingProduct(validTaps(c.InH, c.KernelH, c.StrideH, c.PadTop, c.OutH), validTaps(c.InW, c.KernelW, c.StrideW, c.PadLeft, c.OutW), c.InC)
}

// saturatingProduct is the product of non-negative factors, or
// math.MaxInt when it would overflow.
func saturatingProduct(factors ...int) int {
	p := 1
	for _, f := range factors {
		if f == 0 {
			return 0
		}
		if p > math.MaxInt/f {
			p = math.MaxInt
		} else {
			p *= f
		}
	}
	return p
}

// convTap is one input value that feeds an output pixel: weight row
// (kh·KernelW+kw)·InC+c and the input's float index within a sample.
type convTap struct{ row, in int }

// pixelTaps lists the taps of output pixel (oh, ow) that fall inside the
// input (the padding contributes nothing), in weight-row order.
func (c ConvShape) pixelTaps(oh, ow int) []convTap {
	var taps []convTap
	for kh := range c.KernelH {
		ih := oh*c.StrideH - c.PadTop + kh
		if ih < 0 || ih >= c.InH {
			continue
		}
		for kw := range c.KernelW {
			iw := ow*c.StrideW - c.PadLeft + kw
			if iw < 0 || iw >= c.InW {
				continue
			}
			for ch := range c.InC {
				taps = append(taps, convTap{row: (kh*c.KernelW+kw)*c.InC + ch, in: (ih*c.InW+iw)*c.InC + ch})
			}
		}
	}
	return taps
}

// convSpec is a direct convolution kernel: the forward pass and the weight
// gradient loop over the output pixels (planConvForward, planConvWeights),
// the input gradient is unrolled over the input pixels of one sample
// (planConvInput); all loop over the samples.
type convSpec struct {
	symbol    string
	args      []string
	counts    []string
	shape     ConvShape
	backward  bool // dw, db += (else forward y = act(b + conv))
	input     bool // the input gradient (planConvInput)
	relu      bool // forward: ReLU; input gradient: gate on h
	what      []string
	reference string
}

// convCtx is the context of the "conv" template (the input gradient).
type convCtx struct {
	// Serves lists the symbols that call this one instead (same kernel).
	Serves                              []string
	Symbol, GoDecl, Requires, Reference string
	What                                []string
	ArgSize                             int
	Loads                               []argLoad
	Defines                             []define
	Bcast, MaskReg, MaskSrc             string
	KMask                               string
	Setup                               []vecOp
	Count                               string
	Advance                             []advance // per-sample pointer steps
	Passes                              []convPass
	Prefix                              string
}

type define struct{ Name, Reg, Comment string }

// convPass is one loop over the samples with a set of accumulators.
type convPass struct {
	Label   string
	Comment string
	Inits   []vecOp
	Groups  []convGroup
	Stores  []vecOp
	Reset   []argLoad // rewinds the sample pointers for the next pass
}

// convGroup is a few output pixels computed together.
type convGroup struct {
	Comment string
	Inits   []vecOp
	Loads   []vecOp
	Steps   []convStep
	Gate    []insn // zeroes lanes where the gate ≤ 0 (backward input)
	Zero    string
	Stores  []vecOp
}

// convStep optionally loads (Pre) and broadcasts (Addr) one input value, then
// applies Ops.
type convStep struct {
	Pre  []vecOp
	Addr string
	Ops  []vec3
}

// vec3 is a three-operand vector instruction: Op Src, Mid, [Mask,] Dst.
type vec3 struct{ Op, Src, Mid, Mask, Dst string }

func (g gemmSpec) asm() asmFunc {
	return asmFunc{symbol: g.symbol, args: g.args, counts: g.counts, kChunk: g.kChunk,
		vals: func(isa isaParams) map[string]int { return planGemm(g, isa).ArgVals }}
}
func (c convSpec) asm() asmFunc { return asmFunc{symbol: c.symbol, args: c.args, counts: c.counts} }

// asmFunc is one TEXT symbol (per ISA) as the Go stubs see it.
type asmFunc struct {
	symbol       string
	args, counts []string
	// vals gives the constant arguments (a GEMM's shape) per ISA.
	vals func(isaParams) map[string]int
	// values are arguments that the dispatcher computes rather than
	// passes on (a shape given to a kernel that takes it at run time), as
	// Go expressions, the same on every ISA.
	values map[string]jen.Code
	// f64 are the pointer arguments to float64 arrays (after the float32
	// ones).
	f64 []string
	// kChunk: see gemmSpec.kChunk.
	kChunk int
}

func (f asmFunc) goDecl(isa isaParams) string {
	if len(f.f64) == 0 {
		return gemmSpec{symbol: f.symbol, args: f.args, counts: f.counts}.goDecl(isa)
	}
	var ptrs, ptrs64, ints []string
	for _, a := range f.args {
		switch {
		case contains(f.counts, a):
			ints = append(ints, a)
		case contains(f.f64, a):
			ptrs64 = append(ptrs64, a)
		default:
			ptrs = append(ptrs, a)
		}
	}
	decl := "func " + f.symbol + isa.suffix + "(" + strings.Join(ptrs, ", ") + " *float32, " + strings.Join(ptrs64, ", ") + " *float64"
	if len(ints) > 0 {
		decl += ", " + strings.Join(ints, ", ") + " int"
	}
	return decl + ")"
}
